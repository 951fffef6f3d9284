/**
 * Real OCI registries for tests: Debian's `docker-registry` started on a free loopback port
 * with its own storage folder (optionally behind htpasswd basic auth), an optional node:http
 * front that adds bearer-token auth and injected failures, and helpers that build images in
 * memory and push them through the Distribution API.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, fetch, type Response as UndiciResponse } from 'undici';
import { layer, sha256, type BuiltLayer, type TarEntry, type LayerCompression } from './tar.ts';

export { layer, tar, sha256, compress } from './tar.ts';
export type { BuiltLayer, TarEntry, LayerCompression } from './tar.ts';

export interface RegistryOptions {
  /** Require basic auth (htpasswd, bcrypt) with this user. */
  basicAuth?: { username: string; password: string };
  /** Serve HTTPS with a fresh self-signed certificate for 127.0.0.1 (see `caCertificate`). */
  tls?: boolean;
}

export interface TestRegistry {
  /** `127.0.0.1:<port>`: use as the registry part of references and as an insecure registry. */
  host: string;
  url: string;
  storageDir: string;
  /** PEM of the self-signed certificate when started with `tls`. */
  caCertificate?: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

let setprivWorks: boolean | undefined;
function withPdeathsig(cmd: string, args: string[]): [string, string[]] {
  if (setprivWorks === undefined) {
    try {
      setprivWorks = execFileSync('setpriv', ['--help'], { encoding: 'utf8' }).includes(
        '--pdeathsig',
      );
    } catch {
      setprivWorks = false;
    }
  }
  return setprivWorks ? ['setpriv', ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args];
}

async function waitReady(
  url: string,
  child: ChildProcess,
  log: () => string,
  timeoutMs: number,
  tls: boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const port = Number(new URL(url).port);
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`docker-registry exited (${child.exitCode}): ${log()}`);
    if (tls) {
      // Over TLS with a certificate the runtime does not trust: a TCP connect is enough.
      const open = await new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (open) return;
    } else {
      try {
        const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
        await res.body?.cancel();
        if (res.status === 200 || res.status === 401) return;
      } catch {
        // not listening yet
      }
    }
    await sleep(50);
  }
  throw new Error(`docker-registry did not become ready within ${timeoutMs} ms: ${log()}`);
}

/** Writes the registry's config.yml (and its htpasswd and TLS files) into dir. */
async function writeConfig(
  dir: string,
  options: RegistryOptions,
): Promise<{ port: number; caCertificate: string | undefined }> {
  let caCertificate: string | undefined;
  const storageDir = join(dir, 'storage');
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  if (options.basicAuth !== undefined) {
    const htpasswd = execFileSync(
      'htpasswd',
      ['-Bbn', options.basicAuth.username, options.basicAuth.password],
      { encoding: 'utf8' },
    );
    writeFileSync(join(dir, 'htpasswd'), htpasswd);
    lines.push(
      'auth:',
      '  htpasswd:',
      '    realm: test-realm',
      `    path: ${join(dir, 'htpasswd')}`,
    );
  }
  if (options.tls === true) {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'tls.key'),
        '-out',
        join(dir, 'tls.crt'),
      ],
      { stdio: 'ignore' },
    );
    caCertificate = readFileSync(join(dir, 'tls.crt'), 'utf8');
    lines.push(
      '  tls:',
      `    certificate: ${join(dir, 'tls.crt')}`,
      `    key: ${join(dir, 'tls.key')}`,
    );
  }
  writeFileSync(join(dir, 'config.yml'), lines.join('\n') + '\n');
  return { port, caCertificate };
}

/** Starts Debian's docker-registry on a free loopback port with a fresh storage folder. */
export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'ki-registry-'));
  let caCertificate: string | undefined;
  let port: number;
  try {
    ({ port, caCertificate } = await writeConfig(dir, options));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const [cmd, args] = withPdeathsig('docker-registry', ['serve', join(dir, 'config.yml')]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const append = (d: Buffer): void => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const url = `${options.tls === true ? 'https' : 'http'}://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(`http://127.0.0.1:${port}`, child, () => output, 15_000, options.tls === true);
  } catch (err) {
    await stop();
    throw err;
  }
  const storageDir = join(dir, 'storage');
  const registry: TestRegistry = { host: `127.0.0.1:${port}`, url, storageDir, stop };
  if (caCertificate !== undefined) registry.caCertificate = caCertificate;
  return registry;
}

export interface TokenFront {
  host: string;
  url: string;
  /** Number of token requests served, and of requests forwarded to the registry. */
  stats: { tokens: number; forwarded: number; rejected: number };
  /** Answer the next `count` registry requests with `status` (and Retry-After seconds). */
  failNext(count: number, status: number, retryAfterSeconds?: number): void;
  /** Delay every forwarded response by this many milliseconds. */
  setDelay(ms: number): void;
  /** Break the connection halfway through the next `times` downloads of this blob. */
  cutBlob(digest: string, times?: number): void;
  stop(): Promise<void>;
}

/**
 * A node:http front for a test registry that demands bearer tokens: unauthenticated
 * requests get a 401 challenge pointing at its own `/token` endpoint, which hands out tokens
 * for the given basic-auth user (or to anyone when none is given).
 */
export async function startTokenFront(
  upstream: TestRegistry,
  options: {
    username?: string;
    password?: string;
    tokenTtlSeconds?: number;
    /** Also accept OAuth2 refresh-token grants (POST) with this refresh token. */
    refreshToken?: string;
  } = {},
): Promise<TokenFront> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const tokens = new Set<string>();
  const stats = { tokens: 0, forwarded: 0, rejected: 0 };
  let failures: { count: number; status: number; retryAfter?: number } = { count: 0, status: 503 };
  let delay = 0;
  const cut = new Map<string, number>();
  const upstreamPort = Number(upstream.host.split(':')[1]);

  const server: Server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (url.pathname === '/token' && req.method === 'POST') {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        if (
          options.refreshToken === undefined ||
          form.get('grant_type') !== 'refresh_token' ||
          form.get('refresh_token') !== options.refreshToken
        ) {
          stats.rejected++;
          res
            .writeHead(401, { 'content-type': 'application/json' })
            .end('{"error":"invalid_grant"}');
          return;
        }
        stats.tokens++;
        const token = randomBytes(16).toString('hex');
        tokens.add(token);
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ access_token: token, expires_in: options.tokenTtlSeconds ?? 300 }));
      });
      return;
    }
    if (url.pathname === '/token') {
      if (options.username !== undefined) {
        const want = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
        if (req.headers.authorization !== want) {
          stats.rejected++;
          res
            .writeHead(401, { 'content-type': 'application/json' })
            .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
          return;
        }
      }
      stats.tokens++;
      const token = randomBytes(16).toString('hex');
      tokens.add(token);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ token, expires_in: options.tokenTtlSeconds ?? 300 }));
      return;
    }
    if (failures.count > 0) {
      failures.count--;
      const h: Record<string, string> = {};
      if (failures.retryAfter !== undefined) h['retry-after'] = String(failures.retryAfter);
      res.writeHead(failures.status, h).end();
      return;
    }
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !tokens.has(auth.slice(7))) {
      const name = /^\/v2\/(.+?)\/(?:manifests|blobs)\//.exec(url.pathname)?.[1] ?? '';
      stats.rejected++;
      res
        .writeHead(401, {
          'www-authenticate': `Bearer realm="http://${host}/token",service="test-registry",scope="repository:${name}:pull"`,
          'content-type': 'application/json',
        })
        .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    stats.forwarded++;
    const headers = { ...req.headers, host: upstream.host };
    delete headers.authorization;
    const forward = httpRequest(
      { host: '127.0.0.1', port: upstreamPort, path: req.url, method: req.method, headers },
      (up) => {
        const send = (): void => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname)?.[1];
          const left = digest === undefined ? 0 : (cut.get(digest) ?? 0);
          if (digest !== undefined && left > 0 && req.method === 'GET') {
            cut.set(digest, left - 1);
            up.once('data', (chunk: Buffer) => {
              res.write(chunk.subarray(0, Math.floor(chunk.length / 2)));
              setTimeout(() => {
                res.socket?.destroy();
                up.destroy();
              }, 20);
            });
            return;
          }
          up.pipe(res);
        };
        if (delay > 0) setTimeout(send, delay);
        else send();
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    host,
    url: `http://${host}`,
    stats,
    failNext(count, status, retryAfterSeconds) {
      failures = { count, status };
      if (retryAfterSeconds !== undefined) failures.retryAfter = retryAfterSeconds;
    },
    setDelay(ms) {
      delay = ms;
    },
    cutBlob(digest, times = 1) {
      cut.set(digest, times);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------- images

export interface ImageSpec {
  layers: readonly (BuiltLayer | readonly TarEntry[])[];
  /** `os/arch[/variant]`, default linux/amd64. */
  platform?: string;
  env?: string[];
  /** Docker v2 schema 2 instead of OCI media types. */
  format?: 'oci' | 'docker';
  /** Replaces the diff_ids written into the config (hostile tests). */
  diffIds?: string[];
  compression?: LayerCompression;
}

export interface BuiltImage {
  manifest: Buffer;
  manifestDigest: string;
  manifestMediaType: string;
  config: Buffer;
  configDigest: string;
  layers: BuiltLayer[];
  platform: { os: string; architecture: string; variant?: string };
}

export function buildImage(spec: ImageSpec): BuiltImage {
  const format = spec.format ?? 'oci';
  const layers = spec.layers.map((l) =>
    'blob' in l ? l : layer(l, spec.compression ?? 'gzip', format),
  );
  const [os, architecture, variant] = (spec.platform ?? 'linux/amd64').split('/') as [
    string,
    string,
    string?,
  ];
  const configDoc: Record<string, unknown> = {
    architecture,
    os,
    created: '2026-01-01T00:00:00Z',
    config: {
      Env: spec.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    },
    rootfs: { type: 'layers', diff_ids: spec.diffIds ?? layers.map((l) => l.diffId) },
  };
  if (variant !== undefined) configDoc.variant = variant;
  const config = Buffer.from(JSON.stringify(configDoc));
  const configDigest = sha256(config);
  const manifestMediaType =
    format === 'oci'
      ? 'application/vnd.oci.image.manifest.v1+json'
      : 'application/vnd.docker.distribution.manifest.v2+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestMediaType,
      config: {
        mediaType:
          format === 'oci'
            ? 'application/vnd.oci.image.config.v1+json'
            : 'application/vnd.docker.container.image.v1+json',
        digest: configDigest,
        size: config.length,
      },
      layers: layers.map((l) => ({
        mediaType: l.mediaType,
        digest: l.digest,
        size: l.blob.length,
      })),
    }),
  );
  const platform: BuiltImage['platform'] = { os, architecture };
  if (variant !== undefined) platform.variant = variant;
  return {
    manifest,
    manifestDigest: sha256(manifest),
    manifestMediaType,
    config,
    configDigest,
    layers,
    platform,
  };
}

async function check(res: UndiciResponse, what: string): Promise<void> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  await res.body?.cancel();
}

export interface PushOptions {
  auth?: { username: string; password: string };
  /** Trust this PEM certificate (registries started with `tls`). */
  ca?: string;
}

function authHeaders(opts?: PushOptions): Record<string, string> {
  const auth = opts?.auth;
  return auth === undefined
    ? {}
    : {
        authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`,
      };
}

const agents = new Map<string, Agent>();
function dispatcherFor(opts?: PushOptions): { dispatcher?: Agent } {
  if (opts?.ca === undefined) return {};
  let agent = agents.get(opts.ca);
  if (agent === undefined) {
    agent = new Agent({ connect: { ca: opts.ca } });
    agents.set(opts.ca, agent);
  }
  return { dispatcher: agent };
}

/** Uploads a blob with a monolithic upload (skipped when the registry already has it). */
export async function pushBlob(
  registryUrl: string,
  repository: string,
  data: Buffer,
  opts?: PushOptions,
): Promise<string> {
  const digest = sha256(data);
  const head = await fetch(`${registryUrl}/v2/${repository}/blobs/${digest}`, {
    method: 'HEAD',
    headers: authHeaders(opts),
    ...dispatcherFor(opts),
    signal: AbortSignal.timeout(10_000),
  });
  if (head.status === 200) return digest;
  const start = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, {
    method: 'POST',
    headers: authHeaders(opts),
    ...dispatcherFor(opts),
    signal: AbortSignal.timeout(10_000),
  });
  await check(start, `start upload to ${repository}`);
  const location = new URL(start.headers.get('location') ?? '', registryUrl);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, {
    method: 'PUT',
    headers: { ...authHeaders(opts), 'content-type': 'application/octet-stream' },
    ...dispatcherFor(opts),
    body: data,
    signal: AbortSignal.timeout(60_000),
  });
  await check(put, `upload ${digest} to ${repository}`);
  return digest;
}

/** Stores a manifest (or index) under a tag or digest. */
export async function pushManifest(
  registryUrl: string,
  repository: string,
  reference: string,
  body: Buffer,
  mediaType: string,
  opts?: PushOptions,
): Promise<void> {
  const res = await fetch(`${registryUrl}/v2/${repository}/manifests/${reference}`, {
    method: 'PUT',
    headers: { ...authHeaders(opts), 'content-type': mediaType },
    ...dispatcherFor(opts),
    body,
    signal: AbortSignal.timeout(10_000),
  });
  await check(res, `push manifest ${repository}:${reference}`);
}

/** Pushes an image's blobs, config and manifest; returns the manifest digest. */
export async function pushImage(
  registryUrl: string,
  repository: string,
  tag: string,
  image: BuiltImage,
  opts?: PushOptions,
): Promise<string> {
  for (const l of image.layers) await pushBlob(registryUrl, repository, l.blob, opts);
  await pushBlob(registryUrl, repository, image.config, opts);
  await pushManifest(registryUrl, repository, tag, image.manifest, image.manifestMediaType, opts);
  return image.manifestDigest;
}

/** Pushes several platform images and an index over them under `tag`; returns the index digest. */
export async function pushIndex(
  registryUrl: string,
  repository: string,
  tag: string,
  images: readonly BuiltImage[],
  format: 'oci' | 'docker' = 'oci',
): Promise<string> {
  for (const image of images) {
    await pushImage(registryUrl, repository, image.manifestDigest, image);
  }
  const mediaType =
    format === 'oci'
      ? 'application/vnd.oci.image.index.v1+json'
      : 'application/vnd.docker.distribution.manifest.list.v2+json';
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: images.map((i) => ({
        mediaType: i.manifestMediaType,
        digest: i.manifestDigest,
        size: i.manifest.length,
        platform: i.platform,
      })),
    }),
  );
  await pushManifest(registryUrl, repository, tag, index, mediaType);
  return sha256(index);
}
