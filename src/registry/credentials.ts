/**
 * Registry credentials from a docker `config.json` and from the data of Kubernetes
 * `kubernetes.io/dockerconfigjson` and `kubernetes.io/dockercfg` secrets, passed in as data.
 * Nothing here reads files or talks to a cluster.
 */
import { DEFAULT_DOMAIN } from './reference.ts';

export interface RegistryCredential {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (`identitytoken`), exchanged at the token endpoint. */
  identityToken?: string;
  /** A bearer token used as-is (`registrytoken`). */
  registryToken?: string;
}

/** Credentials keyed by a registry pattern: a host, `host:port`, `host/path` or `*.domain`. */
export type CredentialStore = ReadonlyArray<{ pattern: string; credential: RegistryCredential }>;

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
  registrytoken?: unknown;
}

export class InvalidCredentialsError extends Error {
  override name = 'InvalidCredentialsError';
}

function entryToCredential(key: string, entry: AuthEntry): RegistryCredential {
  const cred: RegistryCredential = {};
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      throw new InvalidCredentialsError(
        `credentials for "${key}": "auth" is not base64 user:password`,
      );
    }
    cred.username = decoded.slice(0, colon);
    cred.password = decoded.slice(colon + 1);
  }
  if (typeof entry.username === 'string' && entry.username !== '') cred.username = entry.username;
  if (typeof entry.password === 'string' && entry.password !== '') cred.password = entry.password;
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') {
    cred.identityToken = entry.identitytoken;
  }
  if (typeof entry.registrytoken === 'string' && entry.registrytoken !== '') {
    cred.registryToken = entry.registrytoken;
  }
  return cred;
}

/** Normalises a config key: strips the scheme and Docker Hub's legacy `/v1/` URL. */
export function normalisePattern(key: string): string {
  let k = key.trim().toLowerCase();
  k = k.replace(/^[a-z]+:\/\//, '');
  k = k.replace(/\/+$/, '');
  k = k.replace(/\/v[12]$/, '');
  if (k === 'index.docker.io' || k === 'registry-1.docker.io') k = DEFAULT_DOMAIN;
  return k;
}

function storeFromAuths(auths: unknown, what: string): CredentialStore {
  if (auths === null || typeof auths !== 'object' || Array.isArray(auths)) {
    throw new InvalidCredentialsError(`${what}: expected an object of registries`);
  }
  const out: { pattern: string; credential: RegistryCredential }[] = [];
  for (const [key, value] of Object.entries(auths as Record<string, unknown>)) {
    if (value === null || typeof value !== 'object') continue;
    out.push({
      pattern: normalisePattern(key),
      credential: entryToCredential(key, value),
    });
  }
  return out;
}

/** Reads the text of a docker `config.json` (or `.dockerconfigjson`): `{ "auths": {…} }`. */
export function parseDockerConfig(text: string): CredentialStore {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InvalidCredentialsError('docker config: not valid JSON', { cause: err });
  }
  if (doc === null || typeof doc !== 'object') {
    throw new InvalidCredentialsError('docker config: expected an object');
  }
  const auths = (doc as { auths?: unknown }).auths;
  if (auths === undefined) return [];
  return storeFromAuths(auths, 'docker config');
}

/**
 * Reads the `data` of a Kubernetes image pull secret (values base64 as in the API):
 * `.dockerconfigjson` (type kubernetes.io/dockerconfigjson) or the legacy `.dockercfg`.
 */
export function parsePullSecretData(data: Readonly<Record<string, string>>): CredentialStore {
  const json = data['.dockerconfigjson'];
  if (json !== undefined) {
    return parseDockerConfig(Buffer.from(json, 'base64').toString('utf8'));
  }
  const cfg = data['.dockercfg'];
  if (cfg !== undefined) {
    let doc: unknown;
    try {
      doc = JSON.parse(Buffer.from(cfg, 'base64').toString('utf8'));
    } catch (err) {
      throw new InvalidCredentialsError('.dockercfg: not valid JSON', { cause: err });
    }
    return storeFromAuths(doc, '.dockercfg');
  }
  throw new InvalidCredentialsError('pull secret has neither .dockerconfigjson nor .dockercfg');
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (pattern.startsWith('*.')) {
    // kubelet's rule: a wildcard matches exactly one leading label, ports must agree.
    const suffix = pattern.slice(1);
    if (!host.endsWith(suffix)) return false;
    const label = host.slice(0, host.length - suffix.length);
    return label !== '' && !label.includes('.');
  }
  return false;
}

/**
 * The credential for an image: the most specific pattern that matches
 * `registry/repository` (a pattern with a path must be a prefix of the repository).
 */
export function findCredential(
  stores: readonly CredentialStore[],
  registry: string,
  repository: string,
): RegistryCredential | undefined {
  const host = registry.toLowerCase();
  let best: { score: number; credential: RegistryCredential } | undefined;
  for (const store of stores) {
    for (const { pattern, credential } of store) {
      const slash = pattern.indexOf('/');
      const patternHost = slash < 0 ? pattern : pattern.slice(0, slash);
      const patternPath = slash < 0 ? '' : pattern.slice(slash + 1);
      if (!hostMatches(patternHost, host)) continue;
      if (
        patternPath !== '' &&
        repository !== patternPath &&
        !repository.startsWith(`${patternPath}/`)
      ) {
        continue;
      }
      const score = pattern.length + (patternHost.startsWith('*.') ? 0 : 1000);
      // Earlier stores win ties: the caller lists the most specific source first.
      if (best === undefined || score > best.score) best = { score, credential };
    }
  }
  return best?.credential;
}
