/**
 * The secret rules: well-known credential formats as data. Each rule names the part of a
 * match that is the secret (`group`), the words that must occur in a file before its regular
 * expression runs (`keywords`, lower case), and checks that reject documentation placeholders
 * and other look-alikes. docs/code-scanning.md lists the same rules for people.
 */

export type RuleSeverity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW';

export interface SecretRule {
  /** Stable id, used by suppression rules and in finding names: never reuse one. */
  id: string;
  title: string;
  severity: RuleSeverity;
  /** Lower-case words of which at least one must occur (case-insensitively) for the rule to run. */
  keywords: readonly string[];
  /** Global (`g`) expression; `group` is the capture holding the secret itself. */
  regex: RegExp;
  group: number;
  /** A second capture tried when `group` did not take part in the match (alternatives). */
  altGroup?: number;
  /** Leading characters of the secret that are a public format prefix (`AKIA`, `ghp_`), shown unredacted. */
  publicPrefix: number;
  /** Extra check on the secret (and the whole match): false drops the match. */
  accept?: (secret: string, match: string) => boolean;
  /** Report the match's first line (a PEM block's BEGIN line) rather than the secret's. */
  locateAtMatch?: boolean;
  /** Skip lines longer than this (minified code): only for rules that would misfire there. */
  maxLineLength?: number;
  remediation: string;
  cwes: readonly string[];
}

const HARDCODED = ['CWE-798'];

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/**
 * Values that documentation, templates and tests use in place of a secret. Matching is on the
 * secret's lower-case form; a secret containing one of these words is not reported.
 */
const PLACEHOLDER_WORDS = [
  'example',
  'sample',
  'dummy',
  'placeholder',
  'changeme',
  'change_me',
  'your_',
  'your-',
  'yourpassword',
  'xxxxxx',
  '******',
  'redacted',
  'insert',
  'replace',
  'fake',
  'notreal',
  'not_real',
  '<',
  '${',
  '{{',
  '$(',
  '%s',
  '%(',
];

export function isPlaceholder(secret: string): boolean {
  const lower = secret.toLowerCase();
  if (PLACEHOLDER_WORDS.some((w) => lower.includes(w))) return true;
  // One repeated character or a run of the alphabet: `aaaaaaaa`, `abcdefgh…`, `12345678…`.
  if (/^(.)\1*$/.test(secret)) return true;
  if ('abcdefghijklmnopqrstuvwxyz'.includes(lower) || '0123456789'.includes(lower)) return true;
  return false;
}

/** Well-known values published in vendor documentation and emulators: never real secrets. */
const PUBLISHED = new Set([
  'AKIAIOSFODNN7EXAMPLE',
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  // The Azure storage emulator's fixed account key.
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
  // The JWT on jwt.io.
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
]);

function notPublished(secret: string): boolean {
  return !PUBLISHED.has(secret) && !isPlaceholder(secret);
}

/** A JWT whose header decodes to JSON with a signing algorithm other than `none`. */
function signedJwt(token: string): boolean {
  if (!notPublished(token)) return false;
  try {
    const header = JSON.parse(
      Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8'),
    ) as unknown;
    if (typeof header !== 'object' || header === null) return false;
    const alg = (header as { alg?: unknown }).alg;
    return typeof alg === 'string' && alg.toLowerCase() !== 'none';
  } catch {
    return false;
  }
}

/**
 * A PEM block's body that is a key, not a placeholder: once its header lines (`Proc-Type: …`),
 * line breaks (real or escaped) and padding are taken out, only base64 is left, and not one
 * repeated character. Placeholder words are not looked for here: a key body is random base64
 * with fixed DER fragments, and `FAkEA` (the bytes 14 02 41 00) opens an RSA key's prime in
 * many 1024-bit keys. Templates put `...`, `<...>` or `${...}` in the body, which fail the
 * alphabet test.
 */
function keyBody(secret: string): boolean {
  if (PUBLISHED.has(secret)) return false;
  const body = secret
    .split(/(?:\\r)?\\n|\r?\n/)
    .filter((line) => !line.includes(':'))
    .join('')
    .replace(/[\s=]/g, '');
  return body.length >= 40 && /^[A-Za-z0-9+/]+$/.test(body) && !/^(.)\1*$/.test(body);
}

/** Generic assignments: long enough, random enough, and not a word, path or reference. */
export const GENERIC_MIN_ENTROPY = 3.5;
function randomLooking(secret: string): boolean {
  if (!notPublished(secret)) return false;
  if (!/[0-9]/.test(secret) || !/[A-Za-z]/.test(secret)) return false;
  if (/^(?:https?|file|s3|gs):\/\//i.test(secret)) return false;
  // Package integrity and content hashes (`sha512-…`, `sha256:…`) are not secrets.
  if (/^(?:sha(?:1|256|384|512)|md5)[-:]/i.test(secret)) return false;
  // Environment and configuration references.
  if (/^(?:env|secret|vault|arn|ref|process\.env)[:.]/i.test(secret)) return false;
  // A value that names what it is (`e2e-registry-password`, `refresh_token_v2`) is a label.
  if (/password|passwd|secret|token/i.test(secret)) return false;
  return entropy(secret) >= GENERIC_MIN_ENTROPY;
}

const ROTATE =
  'Pass it to the workload at run time (a Kubernetes Secret, a mounted file or workload identity) instead of baking it into the image or manifest; the old value stays readable in every pushed copy of the image.';

export const SECRET_RULES: readonly SecretRule[] = [
  {
    id: 'private-key',
    title: 'Private key',
    severity: 'HIGH',
    keywords: ['private key'],
    regex:
      /-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:(?:\\r)?\\n|\r?\n|\s)+([A-Za-z0-9+/=\s:\\,.-]{64,}?)(?:(?:\\r)?\\n|\r?\n|\s)*-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----/g,
    group: 1,
    locateAtMatch: true,
    publicPrefix: 0,
    accept: keyBody,
    remediation: `Treat the key as compromised: revoke or replace it and re-issue anything it signed. ${ROTATE}`,
    cwes: ['CWE-798', 'CWE-321'],
  },
  {
    id: 'gcp-service-account-key',
    title: 'Google Cloud service account key',
    severity: 'CRITICAL',
    keywords: ['private_key_id'],
    regex: /"private_key_id"\s*:\s*"([a-f0-9]{40})"/g,
    group: 1,
    publicPrefix: 0,
    accept: notPublished,
    remediation: `Delete the key in IAM (Service accounts, Keys) and create a new one only if it is still needed. ${ROTATE}`,
    cwes: HARDCODED,
  },
  {
    id: 'gcp-api-key',
    title: 'Google Cloud API key',
    severity: 'HIGH',
    keywords: ['aiza'],
    regex: /\b(AIza[0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])/g,
    group: 1,
    publicPrefix: 4,
    accept: notPublished,
    remediation: `Delete or regenerate the key in the Google Cloud console (APIs and Services, Credentials) and restrict the new one. ${ROTATE}`,
    cwes: HARDCODED,
  },
  {
    id: 'aws-access-key-id',
    title: 'AWS access key ID',
    severity: 'HIGH',
    keywords: ['akia', 'asia', 'abia', 'acca'],
    regex: /\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b/g,
    group: 1,
    publicPrefix: 4,
    accept: notPublished,
    remediation: `Deactivate and delete the access key in IAM, check CloudTrail for its use, and use roles (IRSA, instance profiles) instead of long-lived keys. ${ROTATE}`,
    cwes: HARDCODED,
  },
  {
    id: 'aws-secret-access-key',
    title: 'AWS secret access key',
    severity: 'CRITICAL',
    keywords: ['aws'],
    regex:
      /aws_?(?:secret)?_?(?:access)?_?key["']?\s*(?:=|:|:=|=>)\s*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/gi,
    group: 1,
    publicPrefix: 0,
    accept: (s) => notPublished(s) && entropy(s) >= 4,
    remediation: `Deactivate and delete the access key in IAM, check CloudTrail for its use, and use roles instead of long-lived keys. ${ROTATE}`,
    cwes: HARDCODED,
  },
  {
    id: 'azure-storage-connection-string',
    title: 'Azure Storage connection string with an account key',
    severity: 'CRITICAL',
    keywords: ['accountkey='],
    regex:
      /DefaultEndpointsProtocol=https?;AccountName=[A-Za-z0-9]{3,24};AccountKey=([A-Za-z0-9+/]{86}==)/g,
    group: 1,
    publicPrefix: 0,
    accept: notPublished,
    remediation: `Rotate the storage account key (Access keys, Rotate key) and move to Microsoft Entra ID or shared access signatures with an expiry. ${ROTATE}`,
    cwes: HARDCODED,
  },
  {
    id: 'azure-storage-account-key',
    title: 'Azure Storage account key',
    severity: 'CRITICAL',
    keywords: ['accountkey', 'storage_key', 'storagekey', 'storage_account_key'],
    regex:
      /(?:AccountKey|storage_?(?:account_?)?key)["']?\s*(?:=|:|:=|=>)\s*["']?([A-Za-z0-9+/]{86}==)/gi,
    group: 1,
    publicPrefix: 0,
    accept: notPublished,
    remediation: `Rotate the storage account key (Access keys, Rotate key) and move to Microsoft Entra ID or shared access signatures with an expiry. ${ROTATE}`,
    cwes: HARDCODED,
  },
  {
    id: 'github-token',
    title: 'GitHub token',
    severity: 'CRITICAL',
    keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'],
    regex: /\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\b/g,
    group: 1,
    publicPrefix: 4,
    accept: notPublished,
    remediation: `Revoke the token (GitHub settings, Developer settings, or the app's installation) and review the audit log. ${ROTATE}`,
    cwes: HARDCODED,
  },
  {
    id: 'gitlab-token',
    title: 'GitLab token',
    severity: 'CRITICAL',
    keywords: ['glpat-', 'gldt-', 'glrt-', 'gr1348941'],
    regex:
      /\b((?:glpat|gldt|glrt)-[A-Za-z0-9_-]{20,}|GR1348941[A-Za-z0-9_-]{20})(?![A-Za-z0-9_-])/g,
    group: 1,
    publicPrefix: 6,
    accept: notPublished,
    remediation: `Revoke the token in GitLab (access tokens, deploy tokens or runners) and review the audit events. ${ROTATE}`,
    cwes: HARDCODED,
  },
  {
    id: 'slack-token',
    title: 'Slack token',
    severity: 'HIGH',
    keywords: ['xoxb-', 'xoxp-', 'xoxa-', 'xoxr-', 'xoxs-', 'xoxe-'],
    regex: /\b(xox[abprse]-[0-9]{10,13}-[0-9A-Za-z-]{10,})\b/g,
    group: 1,
    publicPrefix: 5,
    accept: notPublished,
    remediation: `Revoke the token (the app's OAuth settings, or auth.revoke) and reinstall the app if needed. ${ROTATE}`,
    cwes: HARDCODED,
  },
  {
    id: 'slack-webhook',
    title: 'Slack incoming webhook URL',
    severity: 'MEDIUM',
    keywords: ['hooks.slack.com'],
    regex:
      /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/(T[A-Z0-9]{8,12}\/B[A-Z0-9]{8,12}\/[A-Za-z0-9]{24})\b/g,
    group: 1,
    publicPrefix: 0,
    accept: notPublished,
    remediation: `Remove the webhook in the Slack app's settings and create a new one. ${ROTATE}`,
    cwes: HARDCODED,
  },
  {
    id: 'stripe-secret-key',
    title: 'Stripe live secret or restricted key',
    severity: 'CRITICAL',
    keywords: ['sk_live_', 'rk_live_'],
    regex: /\b((?:sk|rk)_live_[0-9A-Za-z]{24,99})\b/g,
    group: 1,
    publicPrefix: 8,
    accept: notPublished,
    remediation: `Roll the key in the Stripe dashboard (Developers, API keys). ${ROTATE}`,
    cwes: HARDCODED,
  },
  {
    id: 'npm-token',
    title: 'npm access token',
    severity: 'HIGH',
    keywords: ['npm_'],
    regex: /\b(npm_[A-Za-z0-9]{36})\b/g,
    group: 1,
    publicPrefix: 4,
    accept: notPublished,
    remediation: `Revoke the token (npm token revoke, or the registry's access tokens page). Use a build secret for .npmrc instead of copying it into a layer. ${ROTATE}`,
    cwes: HARDCODED,
  },
  {
    id: 'npmrc-auth',
    title: 'Registry credentials in .npmrc',
    severity: 'HIGH',
    keywords: ['_authtoken', '_auth=', '_password'],
    regex:
      /^\s*(?:\/\/[^\s=]+:)?(?:_authToken|_auth|_password)\s*=\s*"?([^\s"$][^\s"]{15,})"?\s*$/gm,
    group: 1,
    publicPrefix: 0,
    accept: notPublished,
    remediation: `Revoke the token at the registry. Use a build secret for .npmrc (and delete it in the same RUN step) instead of copying it into a layer. ${ROTATE}`,
    cwes: HARDCODED,
  },
  {
    id: 'jwt',
    title: 'JSON Web Token',
    severity: 'MEDIUM',
    keywords: ['eyj'],
    regex:
      /\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,})(?![A-Za-z0-9_.-])/g,
    group: 1,
    publicPrefix: 3,
    accept: signedJwt,
    remediation: `If the token does not expire, revoke the key that signed it or the session it stands for. ${ROTATE}`,
    cwes: HARDCODED,
  },
  {
    id: 'connection-string-password',
    title: 'Connection string with a password',
    severity: 'HIGH',
    keywords: [
      'postgres',
      'mysql',
      'mariadb',
      'mongodb',
      'redis',
      'amqp',
      'mssql',
      'sqlserver',
      'jdbc:',
      'ldap',
      'ftp',
      'smtp',
    ],
    regex:
      /\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|jdbc:[a-z]+|ldaps?|ftps?|smtps?):\/\/[^\s:@/'"`]{1,100}:([^\s@/'"`]{3,200})@[A-Za-z0-9.[\]_-]+/g,
    group: 1,
    publicPrefix: 0,
    accept: (secret) => {
      if (!notPublished(secret)) return false;
      const lower = secret.toLowerCase();
      return !['password', 'passwd', 'pass', 'pwd', 'secret', 'user', 'root', 'admin'].includes(
        lower,
      );
    },
    remediation: `Change the password of that database user and read the connection string from a Secret at run time. ${ROTATE}`,
    cwes: HARDCODED,
  },
  {
    id: 'generic-secret-assignment',
    title: 'Secret assigned in code or configuration',
    severity: 'MEDIUM',
    keywords: [
      'secret',
      'token',
      'password',
      'passwd',
      'api_key',
      'apikey',
      'api-key',
      'access_key',
      'accesskey',
      'auth_key',
      'authkey',
      'privatekey',
      'private_key',
      'client_secret',
      'credential',
    ],
    // Starts at the keyword (a literal V8 can scan for) rather than at the name's start: the
    // name before it does not matter, only that the keyword ends it.
    regex:
      /(?:secret|token|password|passwd|api_?key|api-key|access_?key|auth_?key|private_?key|credential)s?["']?\]?[ \t]*(?:=|:|:=|=>)[ \t]*(?:["']([^"'\s]{16,128})["']|([^"'\s,;#(){}[\]<>]{16,128})[ \t]*$)/gim,
    group: 1,
    altGroup: 2,
    publicPrefix: 0,
    accept: randomLooking,
    maxLineLength: 500,
    remediation: `Change the credential at the service that issued it. ${ROTATE}`,
    cwes: HARDCODED,
  },
];

/** Looks up a rule by id. */
export function secretRule(id: string): SecretRule | undefined {
  return SECRET_RULES.find((r) => r.id === id);
}
