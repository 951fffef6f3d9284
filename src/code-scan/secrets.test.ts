import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { entropy, isPlaceholder, SECRET_RULES } from './rules.ts';
import { findSecrets, fingerprint, redact } from './secrets.ts';
import { fakeChars, fakePrivateKey, fakeSecrets, plantedFiles } from './testing.ts';

const secrets = fakeSecrets();

/** No run of 8 characters of the secret outside its public prefix appears in `out`. */
function leaks(out: string, secret: string, publicPrefix: number): string | undefined {
  for (let i = publicPrefix; i + 8 <= secret.length; i++) {
    const piece = secret.slice(i, i + 8);
    if (out.includes(piece)) return piece;
  }
  return undefined;
}

describe('secret rules', () => {
  it('every rule has an id, a title, a remediation, a CWE and a global expression', () => {
    const ids = new Set<string>();
    for (const r of SECRET_RULES) {
      expect(r.id).toMatch(/^[a-z0-9-]+$/);
      expect(ids.has(r.id)).toBe(false);
      ids.add(r.id);
      expect(r.title.length).toBeGreaterThan(5);
      expect(r.remediation.length).toBeGreaterThan(40);
      expect(r.cwes.length).toBeGreaterThan(0);
      expect(r.regex.flags).toContain('g');
      expect(r.keywords.length).toBeGreaterThan(0);
      for (const k of r.keywords) expect(k).toBe(k.toLowerCase());
    }
  });

  it('docs/code-scanning.md lists every rule with its title and severity', () => {
    const page = readFileSync(new URL('../../docs/code-scanning.md', import.meta.url), 'utf8');
    for (const r of SECRET_RULES) {
      const escaped = r.title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      expect(page, r.id).toMatch(
        new RegExp(`\\| \`${r.id}\` +\\| ${escaped} +\\| ${r.severity} +\\|`),
      );
    }
  });

  it('entropy is 0 for one repeated character and 4 bits for 16 distinct ones', () => {
    expect(entropy('aaaa')).toBe(0);
    expect(entropy('0123456789abcdef')).toBeCloseTo(4);
  });

  it('placeholders are recognised', () => {
    for (const p of [
      '${DB_PASSWORD}',
      '<your-token>',
      'changeme123',
      'xxxxxxxxxxxxxxxx',
      '{{ .Values.key }}',
    ])
      expect(isPlaceholder(p), p).toBe(true);
    expect(isPlaceholder(fakeChars('p', 20, 'abcdef0123456789'))).toBe(false);
  });
});

describe('planted secrets are found', () => {
  for (const file of plantedFiles()) {
    it(`${file.path}: ${file.ruleIds.join(', ')}`, () => {
      const found = findSecrets(file.text);
      expect(found.map((f) => f.ruleId).sort()).toEqual([...file.ruleIds].sort());
    });
  }

  it('a match names the line and column of the secret', () => {
    const text = `# config\n\nkey: x\n  token = "${secrets['github-token']}"\n`;
    const [m] = findSecrets(text);
    expect(m).toMatchObject({ ruleId: 'github-token', line: 4, column: 12, endLine: 4 });
  });

  it('a private key spans its lines', () => {
    const key = fakePrivateKey();
    const [m] = findSecrets(`x = 1\n${key}`);
    expect(m?.ruleId).toBe('private-key');
    // The BEGIN line, where a reader looks for the key.
    expect(m?.line).toBe(2);
    expect(m!.endLine).toBeGreaterThan(m!.line + 5);
  });

  it('Windows line endings and a key in a JSON string are read', () => {
    const key = fakePrivateKey();
    expect(findSecrets(key.replace(/\n/g, '\r\n')).map((m) => m.ruleId)).toEqual(['private-key']);
    expect(findSecrets(JSON.stringify({ k: key })).map((m) => m.ruleId)).toEqual(['private-key']);
  });

  it('a key body is read as base64, whatever words its characters happen to spell', () => {
    // An RSA key's prime opens with the DER bytes 02 41 00, which base64 often writes as
    // `FAkEA`: 4% of generated 1024-bit keys. A placeholder word there is not a placeholder.
    const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const body = `${fakeChars('pk1', 60, b64)}FAkEA${fakeChars('pk2', 59, b64)}`;
    const pemOf = (lines: string[], eol = '\n'): string =>
      ['-----BEGIN RSA PRIVATE KEY-----', ...lines, '-----END RSA PRIVATE KEY-----', ''].join(eol);
    const key = pemOf([body.slice(0, 64), `${body.slice(64)}=`]);
    expect(findSecrets(key).map((m) => m.ruleId)).toEqual(['private-key']);
    expect(
      findSecrets(JSON.stringify({ k: key.replace(/\n/g, '\r\n') })).map((m) => m.ruleId),
    ).toEqual(['private-key']);
    // Encrypted PEM headers are not part of the body.
    const encrypted = pemOf([
      'Proc-Type: 4,ENCRYPTED',
      `DEK-Info: AES-128-CBC,${fakeChars('iv', 32, '0123456789ABCDEF')}`,
      '',
      body.slice(0, 64),
      body.slice(64),
    ]);
    expect(findSecrets(encrypted).map((m) => m.ruleId)).toEqual(['private-key']);
    // Bodies that are not base64 are templates and truncated examples.
    for (const lines of [
      [body.slice(0, 64), '...', body.slice(64)],
      ['<paste-your-private-key-here-it-begins-with-MII-and-ends-with-two-equals>'],
      ['A'.repeat(64), 'A'.repeat(64)],
      [`\${PRIVATE_KEY_FROM_THE_ENVIRONMENT_OF_THE_DEPLOYMENT_PIPELINE_AT_RUN_TIME}`],
    ])
      expect(findSecrets(pemOf(lines)), lines.join('|')).toEqual([]);
  });

  it('unquoted .env, YAML, JSON and code assignments are generic matches', () => {
    const v = secrets['generic-secret-assignment']!;
    for (const line of [
      `API_KEY=${v}`,
      `export CLIENT_SECRET=${v}`,
      `password: "${v}"`,
      `{"apiToken": "${v}"}`,
      `const authKey = '${v}';`,
      `$config['db_password'] => '${v}',`,
    ]) {
      expect(
        findSecrets(line).map((m) => m.ruleId),
        line,
      ).toEqual(['generic-secret-assignment']);
    }
  });
});

describe('the secret never leaves the detector', () => {
  it('results hold only a redacted form and a fingerprint', () => {
    for (const file of plantedFiles('leak')) {
      const found = findSecrets(file.text);
      const out = JSON.stringify(found);
      for (const [id, secret] of Object.entries(fakeSecrets('leak'))) {
        const prefix = SECRET_RULES.find((r) => r.id === id)?.publicPrefix ?? 0;
        expect(leaks(out, secret, prefix), `${file.path} ${id}`).toBeUndefined();
      }
      expect(leaks(out, fakePrivateKey().replace(/-----[A-Z ]+-----|\s/g, ''), 0)).toBeUndefined();
    }
  });

  it('redaction keeps only the public prefix', () => {
    expect(redact(secrets['aws-access-key-id']!, 4)).toBe('AKIA****************');
    expect(redact('short', 4)).toBe('*****');
    expect(redact(secrets['aws-secret-access-key']!, 0)).toBe('*'.repeat(16));
  });

  it('the fingerprint is stable, short and differs between secrets', () => {
    const a = fingerprint(secrets['github-token']!);
    expect(a).toMatch(/^[0-9a-f]{20}$/);
    expect(fingerprint(secrets['github-token']!)).toBe(a);
    expect(fingerprint(fakeSecrets('b')['github-token']!)).not.toBe(a);
    const [m] = findSecrets(`t=${secrets['github-token']}`);
    expect(m?.fingerprint).toBe(a);
  });
});

describe('false-positive traps are not reported', () => {
  const integrity = `sha512-${fakeChars('lock', 86, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')}==`;
  const traps: [string, string][] = [
    ['AWS documentation key id', 'aws_access_key_id = AKIAIOSFODNN7EXAMPLE'],
    [
      'AWS documentation secret',
      'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    ],
    ['package-lock integrity', `"integrity": "${integrity}",`],
    [
      'package-lock token-named package',
      `"node_modules/js-tokens": { "integrity": "${integrity}" },`,
    ],
    [
      'yarn.lock resolved hash',
      `  resolved "https://registry.example/js-tokens/-/js-tokens-4.0.0.tgz#${fakeChars('y', 40, '0123456789abcdef')}"`,
    ],
    ['environment reference', 'password: "${DB_PASSWORD_FROM_ENVIRONMENT}"'],
    ['template placeholder', 'api_key: "<your-api-key-goes-here-1>"'],
    ['Helm value reference', 'token: "{{ .Values.slackToken1234 }}"'],
    ['masked value', 'secret = "****************"'],
    ['documentation connection string', 'postgres://user:password@localhost:5432/db'],
    ['connection string from the environment', 'mongodb://app:${MONGO_PASSWORD}@mongo:27017'],
    [
      'unsigned JWT',
      `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"1234567890"}').toString('base64url')}.`,
    ],
    [
      'the jwt.io example',
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
    ],
    ['a word, not a secret', 'token_type: "refresh_token_rotation"'],
    ['a secret name pointing at a path', 'secret_file: "/var/run/secrets/app/token1"'],
    ['a URL', 'token_url: "https://auth.example.com/oauth2/token/v1"'],
    ['a value naming itself', 'const authPassword = "e2e-registry-password";'],
    ['code after a secret-named key', '  secret: __vite_ssr_import_0__.z.object({'],
    [
      'Go checksum',
      `golang.org/x/crypto v0.31.0 h1:${fakeChars('go', 43, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')}=`,
    ],
    [
      'public key',
      `-----BEGIN PUBLIC KEY-----\n${fakeChars('pub', 64, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/')}\n-----END PUBLIC KEY-----`,
    ],
    [
      'private key header in docs',
      'The file starts with -----BEGIN RSA PRIVATE KEY----- and ends with -----END RSA PRIVATE KEY-----.',
    ],
    [
      'Azure storage emulator key',
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
    ],
    ['Stripe test key', `sk_${'test'}_${fakeChars('stt', 24, 'ABCDEFGHabcdefgh0123456789')}`],
    [
      'minified vendor code',
      `!function(e){var t={token:"${fakeChars('min', 24, 'abcdef0123456789')}",secret:e.secret};${'e.a=t;'.repeat(120)}}(this);`,
    ],
  ];
  for (const [name, text] of traps) {
    it(name, () => {
      expect(findSecrets(text)).toEqual([]);
    });
  }
});
