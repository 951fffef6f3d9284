import { readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildImage,
  pushBlob,
  pushImage,
  pushIndex,
  pushManifest,
  sha256,
  startRegistry,
  startTokenFront,
  type TestRegistry,
  type TokenFront,
} from '../../test/support/registry.ts';
import { RegistryClient } from './client.ts';
import { retryDelayMs } from './transport.ts';
import { parseDockerConfig, parsePullSecretData } from './credentials.ts';
import { RegistryError } from './errors.ts';
import { parseReference } from './reference.ts';

const files = [{ path: 'etc/hello', content: 'hello\n' }];

async function errorOf(p: Promise<unknown>): Promise<RegistryError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RegistryError) return err;
    throw err;
  }
  throw new Error('expected a RegistryError');
}

describe('RegistryClient against a real registry', { timeout: 30_000 }, () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  const amd64 = buildImage({ layers: [files], platform: 'linux/amd64' });
  const arm64 = buildImage({
    layers: [[{ path: 'etc/arm', content: 'arm' }]],
    platform: 'linux/arm64/v8',
  });
  let indexDigest = '';

  beforeAll(async () => {
    registry = await startRegistry();
    client = new RegistryClient({
      insecureRegistries: [registry.host],
      retries: 1,
      backoffBaseMs: 10,
    });
    await pushImage(registry.url, 'app', 'v1', amd64);
    await pushImage(
      registry.url,
      'docker-app',
      'v1',
      buildImage({ layers: [files], format: 'docker' }),
    );
    indexDigest = await pushIndex(registry.url, 'multi', 'v1', [arm64, amd64]);
  }, 30_000);
  afterAll(async () => {
    await client?.close();
    await registry?.stop();
  });

  it('resolves an OCI image by tag to its manifest digest and config', async () => {
    const image = await client.resolve(parseReference(`${registry.host}/app:v1`));
    expect(image.digest).toBe(amd64.manifestDigest);
    expect(image.configDigest).toBe(amd64.configDigest);
    expect(image.config.rootfs?.diff_ids).toEqual([amd64.layers[0]!.diffId]);
    expect(image.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(image.compressedSize).toBe(amd64.layers[0]!.blob.length);
  });

  it('resolves a Docker v2 schema 2 image', async () => {
    const image = await client.resolve(parseReference(`${registry.host}/docker-app:v1`));
    expect(image.manifestMediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(image.manifest.layers[0]!.mediaType).toBe(
      'application/vnd.docker.image.rootfs.diff.tar.gzip',
    );
  });

  it('resolves an image by digest', async () => {
    const image = await client.resolve(
      parseReference(`${registry.host}/app@${amd64.manifestDigest}`),
    );
    expect(image.digest).toBe(amd64.manifestDigest);
  });

  it('picks linux/amd64 from an index by default and another platform when asked', async () => {
    const ref = parseReference(`${registry.host}/multi:v1`);
    const def = await client.resolve(ref);
    expect(def.digest).toBe(amd64.manifestDigest);
    expect(def.indexDigest).toBe(indexDigest);
    const arm = await client.resolve(ref, { platform: { os: 'linux', architecture: 'arm64' } });
    expect(arm.digest).toBe(arm64.manifestDigest);
    expect(arm.platform).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
  });

  it('reads the digest a tag points at with a HEAD request', async () => {
    expect(await client.currentDigest(parseReference(`${registry.host}/app:v1`))).toBe(
      amd64.manifestDigest,
    );
    expect(await client.currentDigest(parseReference(`${registry.host}/multi:v1`))).toBe(
      indexDigest,
    );
    const err = await errorOf(client.currentDigest(parseReference(`${registry.host}/app:gone`)));
    expect(err.code).toBe('NOT_FOUND');
  });

  it('names the platforms an index has when the wanted one is missing', async () => {
    const err = await errorOf(
      client.resolve(parseReference(`${registry.host}/multi:v1`), {
        platform: { os: 'linux', architecture: 's390x' },
      }),
    );
    expect(err.code).toBe('PLATFORM_NOT_FOUND');
    expect(err.message).toContain('linux/arm64/v8');
  });

  it('reports a missing tag as NOT_FOUND', async () => {
    const err = await errorOf(client.resolve(parseReference(`${registry.host}/app:nope`)));
    expect(err.code).toBe('NOT_FOUND');
  });

  it('reports a Helm chart as UNSUPPORTED_MEDIA_TYPE', async () => {
    const chart = Buffer.from('not really a chart');
    const config = Buffer.from('{}');
    await pushBlob(registry.url, 'chart', chart);
    await pushBlob(registry.url, 'chart', config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.cncf.helm.config.v1+json',
          digest: sha256(config),
          size: 2,
        },
        layers: [
          {
            mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
            digest: sha256(chart),
            size: chart.length,
          },
        ],
      }),
    );
    await pushManifest(
      registry.url,
      'chart',
      '1.0.0',
      manifest,
      'application/vnd.oci.image.manifest.v1+json',
    );
    const err = await errorOf(client.resolve(parseReference(`${registry.host}/chart:1.0.0`)));
    expect(err.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(err.message).toContain('application/vnd.cncf.helm.config.v1+json');
  });

  it('streams a blob and fails with DIGEST_MISMATCH when the stored bytes were altered', async () => {
    const img = buildImage({ layers: [[{ path: 'etc/tampered', content: 'original content' }]] });
    await pushImage(registry.url, 'tamper', 'v1', img);
    const target = { registry: registry.host, repository: 'tamper' };
    const desc = {
      mediaType: img.layers[0]!.mediaType,
      digest: img.layers[0]!.digest,
      size: img.layers[0]!.blob.length,
    };
    const good = await client.getBlobBytes(target, desc);
    expect(good.equals(img.layers[0]!.blob)).toBe(true);
    const hex = desc.digest.slice(7);
    const data = join(
      registry.storageDir,
      'docker/registry/v2/blobs/sha256',
      hex.slice(0, 2),
      hex,
      'data',
    );
    const altered = Buffer.from(img.layers[0]!.blob);
    altered.writeUInt8(altered.readUInt8(altered.length - 1) ^ 0xff, altered.length - 1);
    writeFileSync(data, altered);
    const err = await errorOf(client.getBlobBytes(target, desc));
    expect(err.code).toBe('DIGEST_MISMATCH');
    expect(
      readdirSync(join(registry.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2))),
    ).toContain(hex);
  });

  it('fails over plain HTTP unless the registry is configured as insecure', async () => {
    const strict = new RegistryClient({ retries: 0, requestTimeoutMs: 5000 });
    try {
      const err = await errorOf(strict.resolve(parseReference(`${registry.host}/app:v1`)));
      expect(err.code).toBe('UNAVAILABLE');
    } finally {
      await strict.close();
    }
  });
});

describe('RegistryClient authentication', { timeout: 30_000 }, () => {
  const user = { username: 'reader', password: 's3cret-pass' };
  let basic: TestRegistry;
  let open: TestRegistry;
  let front: TokenFront;
  const image = buildImage({ layers: [files] });

  beforeAll(async () => {
    basic = await startRegistry({ basicAuth: user });
    await pushImage(basic.url, 'private/app', 'v1', image, { auth: user });
    open = await startRegistry();
    await pushImage(open.url, 'team/app', 'v1', image);
    front = await startTokenFront(open, {
      username: user.username,
      password: user.password,
      refreshToken: 'refresh-me',
    });
  }, 30_000);
  afterAll(async () => {
    await front?.stop();
    await basic?.stop();
    await open?.stop();
  });

  const dockerConfig = (host: string, u = user.username, p = user.password): string =>
    JSON.stringify({
      auths: { [`http://${host}/v1/`]: { auth: Buffer.from(`${u}:${p}`).toString('base64') } },
    });

  it('uses basic auth from a docker config.json against an htpasswd registry', async () => {
    const client = new RegistryClient({
      insecureRegistries: [basic.host],
      credentials: [parseDockerConfig(dockerConfig(basic.host))],
    });
    try {
      const resolved = await client.resolve(parseReference(`${basic.host}/private/app:v1`));
      expect(resolved.digest).toBe(image.manifestDigest);
    } finally {
      await client.close();
    }
  });

  it('reports ACCESS_DENIED without credentials and with a wrong password', async () => {
    for (const credentials of [
      [],
      [parseDockerConfig(dockerConfig(basic.host, user.username, 'wrong'))],
    ]) {
      const client = new RegistryClient({
        insecureRegistries: [basic.host],
        credentials,
        retries: 0,
      });
      try {
        const err = await errorOf(client.resolve(parseReference(`${basic.host}/private/app:v1`)));
        expect(err.code).toBe('ACCESS_DENIED');
      } finally {
        await client.close();
      }
    }
  });

  it('gets a bearer token from the challenge with pull-secret credentials and reuses it', async () => {
    const secretData = {
      '.dockerconfigjson': Buffer.from(dockerConfig(front.host)).toString('base64'),
    };
    const client = new RegistryClient({
      insecureRegistries: [front.host],
      credentials: [parsePullSecretData(secretData)],
    });
    const before = front.stats.tokens;
    try {
      const resolved = await client.resolve(parseReference(`${front.host}/team/app:v1`));
      expect(resolved.digest).toBe(image.manifestDigest);
      const layerDesc = resolved.manifest.layers[0]!;
      const bytes = await client.getBlobBytes(
        { registry: front.host, repository: 'team/app' },
        layerDesc,
      );
      expect(sha256(bytes)).toBe(layerDesc.digest);
      expect(front.stats.tokens - before).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('exchanges an identitytoken as an OAuth2 refresh token', async () => {
    const config = JSON.stringify({ auths: { [front.host]: { identitytoken: 'refresh-me' } } });
    const client = new RegistryClient({
      insecureRegistries: [front.host],
      credentials: [parseDockerConfig(config)],
    });
    try {
      const resolved = await client.resolve(parseReference(`${front.host}/team/app:v1`));
      expect(resolved.digest).toBe(image.manifestDigest);
    } finally {
      await client.close();
    }
    const wrong = new RegistryClient({
      insecureRegistries: [front.host],
      credentials: [parseDockerConfig(config.replace('refresh-me', 'stale'))],
      retries: 0,
    });
    try {
      const err = await errorOf(wrong.resolve(parseReference(`${front.host}/team/app:v1`)));
      expect(err.code).toBe('ACCESS_DENIED');
    } finally {
      await wrong.close();
    }
  });

  it('reports ACCESS_DENIED when the token endpoint refuses the credentials', async () => {
    const client = new RegistryClient({
      insecureRegistries: [front.host],
      credentials: [parseDockerConfig(dockerConfig(front.host, 'reader', 'nope'))],
      retries: 0,
    });
    try {
      const err = await errorOf(client.resolve(parseReference(`${front.host}/team/app:v1`)));
      expect(err.code).toBe('ACCESS_DENIED');
      expect(err.message).toContain('token endpoint');
    } finally {
      await client.close();
    }
  });

  it('retries 503 answers and succeeds once the registry recovers', async () => {
    const client = new RegistryClient({
      insecureRegistries: [front.host],
      credentials: [parseDockerConfig(dockerConfig(front.host))],
      backoffBaseMs: 10,
      retries: 3,
    });
    try {
      front.failNext(2, 503);
      const resolved = await client.resolve(parseReference(`${front.host}/team/app:v1`));
      expect(resolved.digest).toBe(image.manifestDigest);
    } finally {
      await client.close();
    }
  });

  it('waits as long as Retry-After says on 429', async () => {
    const client = new RegistryClient({
      insecureRegistries: [front.host],
      credentials: [parseDockerConfig(dockerConfig(front.host))],
      backoffBaseMs: 1,
      retries: 2,
    });
    try {
      front.failNext(1, 429, 1);
      const started = performance.now();
      await client.resolve(parseReference(`${front.host}/team/app:v1`));
      expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    } finally {
      await client.close();
    }
  });

  it('gives up with UNAVAILABLE after the configured retries', async () => {
    const client = new RegistryClient({
      insecureRegistries: [front.host],
      credentials: [parseDockerConfig(dockerConfig(front.host))],
      backoffBaseMs: 1,
      retries: 2,
    });
    try {
      front.failNext(10, 502);
      const err = await errorOf(client.resolve(parseReference(`${front.host}/team/app:v1`)));
      expect(err.code).toBe('UNAVAILABLE');
      expect(err.message).toContain('after 3 attempts');
    } finally {
      front.failNext(0, 200);
      await client.close();
    }
  });

  it('times out a registry that does not answer in time', async () => {
    const client = new RegistryClient({
      insecureRegistries: [front.host],
      credentials: [parseDockerConfig(dockerConfig(front.host))],
      requestTimeoutMs: 200,
      retries: 0,
    });
    front.setDelay(1500);
    try {
      const started = performance.now();
      const err = await errorOf(client.resolve(parseReference(`${front.host}/team/app:v1`)));
      expect(['UNAVAILABLE', 'TIMEOUT']).toContain(err.code);
      expect(performance.now() - started).toBeLessThan(1400);
    } finally {
      front.setDelay(0);
      await client.close();
    }
  });
});

describe('RegistryClient over HTTPS', { timeout: 30_000 }, () => {
  let registry: TestRegistry;
  const image = buildImage({ layers: [files] });

  beforeAll(async () => {
    registry = await startRegistry({ tls: true });
    await pushImage(registry.url, 'secure/app', 'v1', image, { ca: registry.caCertificate! });
  }, 30_000);
  afterAll(async () => registry?.stop());

  it('trusts a registry whose certificate is in the configured CA bundle', async () => {
    const client = new RegistryClient({ caBundle: registry.caCertificate! });
    try {
      const resolved = await client.resolve(parseReference(`${registry.host}/secure/app:v1`));
      expect(resolved.digest).toBe(image.manifestDigest);
    } finally {
      await client.close();
    }
  });

  it('refuses the same registry without the CA bundle', async () => {
    const client = new RegistryClient({ retries: 0 });
    try {
      const err = await errorOf(client.resolve(parseReference(`${registry.host}/secure/app:v1`)));
      expect(err.code).toBe('UNAVAILABLE');
      expect(err.message).toMatch(/certificate/i);
    } finally {
      await client.close();
    }
  });
});

describe('RegistryClient against registries that break the protocol', { timeout: 15_000 }, () => {
  let server: Server;
  let host = '';
  const schema1 = JSON.stringify({
    schemaVersion: 1,
    name: 'old',
    tag: 'v1',
    fsLayers: [],
    history: [],
  });

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/v2/old/manifests/v1') {
        res.writeHead(200, {
          'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws',
        });
        res.end(schema1);
      } else if (req.url === '/v2/liar/manifests/v1') {
        res.writeHead(200, {
          'content-type': 'application/vnd.oci.image.manifest.v1+json',
          'docker-content-digest': `sha256:${'0'.repeat(64)}`,
        });
        res.end('{"schemaVersion":2,"config":{},"layers":[]}');
      } else if (req.url?.startsWith('/v2/liar/manifests/sha512:') === true) {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
        res.end('{"schemaVersion":2,"config":{},"layers":[]}');
      } else if (req.url === '/v2/huge/manifests/v1') {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
        res.end(Buffer.alloc(5 * 1024 * 1024, 0x20));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    host = `127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it.each([
    ['old', 'UNSUPPORTED_MEDIA_TYPE', /schema 1/],
    ['liar', 'DIGEST_MISMATCH', /expected sha256:0000/],
    ['huge', 'TOO_LARGE', /limit/],
    [`liar@sha512:${'ab'.repeat(64)}`, 'DIGEST_MISMATCH', /has digest sha512:/],
  ])('reports the %s manifest as %s', async (name, code, message) => {
    const client = new RegistryClient({ insecureRegistries: [host], retries: 0 });
    try {
      const ref = name.includes('@') ? `${host}/${name}` : `${host}/${name}:v1`;
      const err = await errorOf(client.resolve(parseReference(ref)));
      expect(err.code).toBe(code);
      expect(err.message).toMatch(message);
    } finally {
      await client.close();
    }
  });
});

describe('retryDelayMs', () => {
  it('follows Retry-After in seconds and as an HTTP date, capped at the maximum', () => {
    expect(retryDelayMs(0, '2', 100, 10_000)).toBe(2000);
    expect(retryDelayMs(0, '600', 100, 10_000)).toBe(10_000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryDelayMs(0, 'Thu, 01 Jan 2026 00:00:03 GMT', 100, 10_000, now)).toBe(3000);
  });

  it('backs off exponentially with jitter between half and all of the step', () => {
    for (let attempt = 0; attempt < 6; attempt++) {
      const step = Math.min(5000, 100 * 2 ** attempt);
      const d = retryDelayMs(attempt, undefined, 100, 5000);
      expect(d).toBeGreaterThanOrEqual(step / 2);
      expect(d).toBeLessThanOrEqual(step);
    }
  });
});
