/**
 * Format-valid fake secrets for tests and the accuracy corpus. They are built from parts at
 * run time so this repository's own sources never hold a string that looks like a credential.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';

/** Deterministic pseudo-random characters from `alphabet`, seeded by `seed`. */
export function fakeChars(seed: string, length: number, alphabet: string): string {
  let out = '';
  let block = 0;
  while (out.length < length) {
    const bytes = createHash('sha256').update(`${seed}:${block++}`).digest();
    for (const b of bytes) {
      if (out.length === length) break;
      out += alphabet[b % alphabet.length];
    }
  }
  return out;
}

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;
const B64 = `${ALNUM}+/`;
const HEX = '0123456789abcdef';

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** One fake secret per rule id (the value a rule must find), seeded for variety. */
export function fakeSecrets(seed = 'a'): Record<string, string> {
  const c = (n: number, alphabet = ALNUM, tag = ''): string =>
    fakeChars(`${seed}${tag}`, n, alphabet);
  return {
    'aws-access-key-id': `AK${'IA'}${c(16, `${UPPER}234567`, 'aki')}`,
    'aws-secret-access-key': c(40, B64, 'aws'),
    'gcp-service-account-key': c(40, HEX, 'gcp'),
    'gcp-api-key': `AI${'za'}${c(35, `${ALNUM}_-`, 'gak')}`,
    'azure-storage-account-key': `${c(86, B64, 'az')}==`,
    'github-token': `gh${'p_'}${c(36, ALNUM, 'gh')}`,
    'gitlab-token': `gl${'pat-'}${c(20, ALNUM, 'gl')}`,
    'slack-token': `xo${'xb-'}${c(12, DIGITS, 's1')}-${c(13, DIGITS, 's2')}-${c(24, ALNUM, 's3')}`,
    'slack-webhook': `T${c(9, UPPER + DIGITS, 'w1')}/B${c(9, UPPER + DIGITS, 'w2')}/${c(24, ALNUM, 'w3')}`,
    'stripe-secret-key': `sk${'_live_'}${c(24, ALNUM, 'st')}`,
    'npm-token': `np${'m_'}${c(36, ALNUM, 'npm')}`,
    'npmrc-auth': c(32, ALNUM, 'npmrc'),
    jwt: [
      b64url({ alg: 'HS256', typ: 'JWT' }),
      b64url({ sub: c(8, DIGITS, 'sub'), iat: 1700000000 }),
      c(43, `${ALNUM}_-`, 'sig'),
    ].join('.'),
    'connection-string-password': `${c(10, ALNUM, 'pw1')}9${c(6, ALNUM, 'pw2')}`,
    'generic-secret-assignment': `${c(20, LOWER + DIGITS, 'gen')}7Q`,
  };
}

let pem: string | undefined;
/** A real (throwaway) RSA private key in PKCS#8 PEM, generated once per process. */
export function fakePrivateKey(): string {
  pem ??= generateKeyPairSync('rsa', { modulusLength: 1024 })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  return pem;
}

/** Files that plant each fake secret the way it appears in real images. */
export function plantedFiles(seed = 'a'): { path: string; text: string; ruleIds: string[] }[] {
  const s = fakeSecrets(seed);
  const key = fakePrivateKey();
  return [
    {
      path: 'app/config/aws.ini',
      text: `[default]\naws_access_key_id = ${s['aws-access-key-id']}\naws_secret_access_key = ${s['aws-secret-access-key']}\n`,
      ruleIds: ['aws-access-key-id', 'aws-secret-access-key'],
    },
    {
      path: 'app/gcp-sa.json',
      text: `${JSON.stringify(
        {
          type: 'service_account',
          project_id: 'shop-prod',
          private_key_id: s['gcp-service-account-key'],
          private_key: key,
          client_email: 'deployer@shop-prod.iam.gserviceaccount.com',
        },
        null,
        2,
      )}\n`,
      ruleIds: ['gcp-service-account-key', 'private-key'],
    },
    {
      path: 'app/static/maps.js',
      text: `const mapsKey = "${s['gcp-api-key']}";\nloadMaps(mapsKey);\n`,
      ruleIds: ['gcp-api-key'],
    },
    {
      path: 'app/settings.py',
      text: [
        'import os',
        `AZURE_STORAGE = "DefaultEndpointsProtocol=https;AccountName=shopdata;AccountKey=${s['azure-storage-account-key']};EndpointSuffix=core.windows.net"`,
        `DATABASE_URL = "postgres://shop:${s['connection-string-password']}@db.internal:5432/shop"`,
        `SLACK_TOKEN = "${s['slack-token']}"`,
        '',
      ].join('\n'),
      ruleIds: ['azure-storage-connection-string', 'connection-string-password', 'slack-token'],
    },
    {
      path: 'app/.env',
      text: [
        `GITHUB_TOKEN=${s['github-token']}`,
        `GITLAB_TOKEN=${s['gitlab-token']}`,
        `STRIPE_KEY=${s['stripe-secret-key']}`,
        `SESSION_SECRET=${s['generic-secret-assignment']}`,
        '',
      ].join('\n'),
      ruleIds: ['github-token', 'gitlab-token', 'stripe-secret-key', 'generic-secret-assignment'],
    },
    {
      path: 'app/.npmrc',
      text: `//npm.pkg.example.internal/:_authToken=${s['npmrc-auth']}\nalways-auth=true\n`,
      ruleIds: ['npmrc-auth'],
    },
    {
      path: 'app/publish.sh',
      text: `#!/bin/sh\nexport NODE_AUTH=${s['npm-token']}\ncurl -X POST https://hooks.slack.com/services/${s['slack-webhook']} -d '{"text":"published"}'\n`,
      ruleIds: ['npm-token', 'slack-webhook'],
    },
    {
      path: 'app/sessions/last.txt',
      text: `Authorization: Bearer ${s.jwt}\n`,
      ruleIds: ['jwt'],
    },
    {
      path: 'app/deploy/id_rsa',
      text: key,
      ruleIds: ['private-key'],
    },
  ];
}
