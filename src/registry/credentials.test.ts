import { describe, expect, it } from 'vitest';
import { parseChallenges } from './auth.ts';
import {
  findCredential,
  InvalidCredentialsError,
  normalisePattern,
  parseDockerConfig,
  parsePullSecretData,
} from './credentials.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('docker config credentials', () => {
  it('reads auth, username/password, identitytoken and registrytoken entries', () => {
    const store = parseDockerConfig(
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hub:pw:with:colons') },
          'ghcr.example': { username: 'u', password: 'p' },
          'refresh.example': { identitytoken: 'rt' },
          'token.example': { registrytoken: 'bt' },
        },
      }),
    );
    expect(store.map((s) => s.pattern)).toEqual([
      'docker.io',
      'ghcr.example',
      'refresh.example',
      'token.example',
    ]);
    expect(store[0]!.credential).toEqual({ username: 'hub', password: 'pw:with:colons' });
    expect(store[2]!.credential).toEqual({ identityToken: 'rt' });
    expect(store[3]!.credential).toEqual({ registryToken: 'bt' });
  });

  it('treats a config without auths as empty and rejects malformed ones', () => {
    expect(parseDockerConfig('{"credsStore":"desktop"}')).toEqual([]);
    expect(() => parseDockerConfig('{')).toThrow(InvalidCredentialsError);
    expect(() =>
      parseDockerConfig(JSON.stringify({ auths: { h: { auth: b64('nocolon') } } })),
    ).toThrow(/user:password/);
  });

  it('reads .dockerconfigjson and legacy .dockercfg pull secret data', () => {
    const json = parsePullSecretData({
      '.dockerconfigjson': b64(
        JSON.stringify({ auths: { 'r.example:5000': { auth: b64('a:b') } } }),
      ),
    });
    expect(json).toEqual([
      { pattern: 'r.example:5000', credential: { username: 'a', password: 'b' } },
    ]);
    const cfg = parsePullSecretData({
      '.dockercfg': b64(JSON.stringify({ 'https://old.example': { auth: b64('c:d') } })),
    });
    expect(cfg).toEqual([{ pattern: 'old.example', credential: { username: 'c', password: 'd' } }]);
    expect(() => parsePullSecretData({ token: 'x' })).toThrow(/neither/);
  });

  it.each([
    ['https://index.docker.io/v1/', 'docker.io'],
    ['http://127.0.0.1:5000/v2/', '127.0.0.1:5000'],
    ['Registry.Example/Team', 'registry.example/team'],
  ])('normalises the key %s to %s', (key, want) => {
    expect(normalisePattern(key)).toBe(want);
  });
});

describe('findCredential', () => {
  const stores = [
    parseDockerConfig(
      JSON.stringify({
        auths: {
          'r.example': { auth: b64('host:1') },
          'r.example/team': { auth: b64('team:2') },
          '*.wild.example': { auth: b64('wild:3') },
        },
      }),
    ),
    parseDockerConfig(JSON.stringify({ auths: { 'r.example': { auth: b64('second:4') } } })),
  ];

  it('prefers the longest matching path and the first store on ties', () => {
    expect(findCredential(stores, 'r.example', 'team/app')?.username).toBe('team');
    expect(findCredential(stores, 'r.example', 'teams/app')?.username).toBe('host');
    expect(findCredential(stores, 'r.example', 'other')?.username).toBe('host');
  });

  it('matches a wildcard against exactly one leading label', () => {
    expect(findCredential(stores, 'a.wild.example', 'x')?.username).toBe('wild');
    expect(findCredential(stores, 'a.b.wild.example', 'x')).toBeUndefined();
    expect(findCredential(stores, 'wild.example', 'x')).toBeUndefined();
  });

  it('finds nothing for an unknown host or a different port', () => {
    expect(findCredential(stores, 'r.example:5000', 'team/app')).toBeUndefined();
  });
});

describe('parseChallenges', () => {
  it('reads a bearer challenge with a scope containing commas', () => {
    const [c] = parseChallenges(
      'Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull,push"',
    );
    expect(c).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example/token',
        service: 'registry',
        scope: 'repository:a/b:pull,push',
      },
    });
  });

  it('reads several challenges and unquoted values', () => {
    const cs = parseChallenges('Basic realm="x", Bearer realm=https://t.example/token, service=s');
    expect(cs.map((c) => c.scheme)).toEqual(['basic', 'bearer']);
    expect(cs[1]!.params).toEqual({ realm: 'https://t.example/token', service: 's' });
  });
});
