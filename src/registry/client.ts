/**
 * A small OCI Distribution client on undici: manifests (Docker v2 schema 2, OCI, manifest
 * lists and indexes resolved to a platform), configs and streamed blobs, each checked
 * against its digest; anonymous, bearer-token and basic auth; retries with backoff on
 * 5xx/429 honouring Retry-After; timeouts on every request.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { parseChallenges } from './auth.ts';
import { findCredential, type CredentialStore, type RegistryCredential } from './credentials.ts';
import { RegistryError } from './errors.ts';
import {
  CONFIG_TYPES,
  INDEX_TYPES,
  MANIFEST_ACCEPT,
  MANIFEST_TYPES,
  MediaType,
  layerCompression,
} from './media-types.ts';
import { apiHost, formatReference, type ImageReference } from './reference.ts';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** The parts of an image config (OCI / Docker) we read. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: { Env?: string[] | null; Entrypoint?: string[] | null; Cmd?: string[] | null };
  rootfs?: { type?: string; diff_ids?: string[] };
}

export interface ResolvedImage {
  /** The reference as asked for, canonical form. */
  reference: string;
  registry: string;
  repository: string;
  /** Digest of the image manifest (for a multi-platform image: of the chosen platform's). */
  digest: string;
  /** Digest of the index or manifest list the reference pointed at, if it was one. */
  indexDigest?: string;
  manifestMediaType: string;
  manifest: ImageManifest;
  config: ImageConfig;
  configDigest: string;
  platform: Platform;
  /** Sum of the compressed layer sizes the manifest declares. */
  compressedSize: number;
}

export interface RegistryClientOptions {
  /** Credential sources, most specific first (pod secrets before service account ones). */
  credentials?: readonly CredentialStore[];
  /** Registries (`host[:port]`) reached over plain HTTP. Every other registry uses HTTPS. */
  insecureRegistries?: readonly string[];
  /** Extra PEM certificates trusted in addition to the system roots. */
  caBundle?: string;
  /** Per-request time limit for manifests, configs and tokens, and for blob response headers. */
  requestTimeoutMs?: number;
  /** Longest silence inside a blob body before it is abandoned. */
  bodyIdleTimeoutMs?: number;
  /** Attempts after the first one on 5xx, 429 and connection errors. */
  retries?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Largest manifest, index or config accepted. */
  maxDocumentBytes?: number;
  userAgent?: string;
  /** Replaces the connection pool (tests, proxies). */
  dispatcher?: Dispatcher;
}

export interface BlobStream {
  /** The blob body; errors with DIGEST_MISMATCH when its sha256 or size does not match. */
  stream: Readable;
  size: number;
}

interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

const DEFAULTS = {
  requestTimeoutMs: 30_000,
  bodyIdleTimeoutMs: 60_000,
  retries: 4,
  backoffBaseMs: 200,
  backoffMaxMs: 10_000,
  maxDocumentBytes: 4 * 1024 * 1024,
  userAgent: 'kube-inspector',
};
const MAX_REDIRECTS = 5;
const MAX_INDEX_DEPTH = 2;
const RETRYABLE = new Set([429, 500, 502, 503, 504]);
const SHA256 = /^sha256:[a-f0-9]{64}$/;

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

function header(h: HttpResponse['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Parses `os/arch[/variant]`. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new Error(`invalid platform "${text}": expected os/arch[/variant]`);
  }
  const p: Platform = { os: parts[0]!, architecture: parts[1]! };
  if (parts[2] !== undefined) p.variant = parts[2];
  return p;
}

export function formatPlatform(p: Platform): string {
  return p.variant === undefined
    ? `${p.os}/${p.architecture}`
    : `${p.os}/${p.architecture}/${p.variant}`;
}

function defaultVariant(arch: string): string | undefined {
  if (arch === 'arm64') return 'v8';
  if (arch === 'arm') return 'v7';
  return undefined;
}

function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (have === undefined) return false;
  if (have.os !== want.os || have.architecture !== want.architecture) return false;
  const wantVariant = want.variant ?? defaultVariant(want.architecture);
  const haveVariant = have.variant ?? defaultVariant(have.architecture);
  return wantVariant === haveVariant;
}

/** Delay before retry `attempt` (0-based): Retry-After when given, else capped exponential with jitter. */
export function retryDelayMs(
  attempt: number,
  retryAfter: string | undefined,
  base: number,
  max: number,
  now: number = Date.now(),
): number {
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, max);
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.min(Math.max(0, date - now), max);
  }
  const exp = Math.min(max, base * 2 ** attempt);
  return exp / 2 + Math.random() * (exp / 2);
}

function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A pass-through that hashes and counts, failing on a size or digest mismatch. */
class VerifyingStream extends Transform {
  readonly #hash = createHash('sha256');
  readonly #digest: string;
  readonly #size: number;
  #seen = 0;

  constructor(digest: string, size: number) {
    super({ highWaterMark: 1 << 20 });
    this.#digest = digest;
    this.#size = size;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#size) {
      cb(
        new RegistryError(
          'DIGEST_MISMATCH',
          `blob ${this.#digest} is larger than its declared ${this.#size} bytes`,
        ),
      );
      return;
    }
    this.#hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.#seen !== this.#size) {
      cb(
        new RegistryError(
          'DIGEST_MISMATCH',
          `blob ${this.#digest} ended after ${this.#seen} of ${this.#size} bytes`,
        ),
      );
      return;
    }
    const got = `sha256:${this.#hash.digest('hex')}`;
    if (got !== this.#digest) {
      cb(new RegistryError('DIGEST_MISMATCH', `blob ${this.#digest} has digest ${got}`));
      return;
    }
    cb();
  }
}

interface Target {
  registry: string;
  repository: string;
}

export class RegistryClient {
  readonly #opts: typeof DEFAULTS;
  readonly #credentials: readonly CredentialStore[];
  readonly #insecure: ReadonlySet<string>;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  /** Authorization header values by `registry|repository`. */
  readonly #auth = new Map<string, { value: string; expiresAt: number }>();

  constructor(options: RegistryClientOptions = {}) {
    this.#opts = {
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      bodyIdleTimeoutMs: options.bodyIdleTimeoutMs ?? DEFAULTS.bodyIdleTimeoutMs,
      retries: options.retries ?? DEFAULTS.retries,
      backoffBaseMs: options.backoffBaseMs ?? DEFAULTS.backoffBaseMs,
      backoffMaxMs: options.backoffMaxMs ?? DEFAULTS.backoffMaxMs,
      maxDocumentBytes: options.maxDocumentBytes ?? DEFAULTS.maxDocumentBytes,
      userAgent: options.userAgent ?? DEFAULTS.userAgent,
    };
    this.#credentials = options.credentials ?? [];
    this.#insecure = new Set((options.insecureRegistries ?? []).map((r) => r.toLowerCase()));
    if (options.dispatcher !== undefined) {
      this.#dispatcher = options.dispatcher;
      this.#ownsDispatcher = false;
    } else {
      const connect =
        options.caBundle === undefined
          ? { timeout: this.#opts.requestTimeoutMs }
          : { timeout: this.#opts.requestTimeoutMs, ca: [...rootCertificates, options.caBundle] };
      this.#dispatcher = new Agent({
        connect,
        headersTimeout: this.#opts.requestTimeoutMs,
        bodyTimeout: this.#opts.bodyIdleTimeoutMs,
        connections: 16,
      });
      this.#ownsDispatcher = true;
    }
  }

  /** Closes the connection pool (when the client created it). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  #baseUrl(registry: string): string {
    const host = apiHost(registry);
    const scheme = this.#insecure.has(registry.toLowerCase()) ? 'http' : 'https';
    return `${scheme}://${host}`;
  }

  #credential(t: Target): RegistryCredential | undefined {
    return findCredential(this.#credentials, t.registry, t.repository);
  }

  /**
   * Resolves a reference to one image: follows an index to the platform's manifest, fetches
   * and checks the config. Throws {@link RegistryError}.
   */
  // eslint-disable-next-line max-lines-per-function -- platform index, manifest and config resolution in the order the distribution spec gives
  async resolve(
    ref: ImageReference,
    options: { platform?: Platform; signal?: AbortSignal } = {},
  ): Promise<ResolvedImage> {
    const want = options.platform ?? DEFAULT_PLATFORM;
    const target: Target = { registry: ref.registry, repository: ref.repository };
    const reference = ref.digest ?? ref.tag ?? 'latest';
    let doc = await this.getManifest(target, reference, options.signal);
    let indexDigest: string | undefined;
    for (let depth = 0; INDEX_TYPES.has(doc.mediaType); depth++) {
      if (depth >= MAX_INDEX_DEPTH) {
        throw new RegistryError(
          'UNSUPPORTED_MEDIA_TYPE',
          `${formatReference(ref)}: indexes nested too deeply`,
        );
      }
      indexDigest ??= doc.digest;
      const manifests = (doc.json as { manifests?: unknown }).manifests;
      if (!Array.isArray(manifests)) {
        throw new RegistryError(
          'PROTOCOL',
          `${formatReference(ref)}: index without a manifests list`,
        );
      }
      const candidates = (manifests as Descriptor[]).filter(
        (m) =>
          (MANIFEST_TYPES.has(m.mediaType) || INDEX_TYPES.has(m.mediaType)) &&
          platformMatches(want, m.platform),
      );
      const chosen = candidates[0];
      if (chosen === undefined) {
        const have = (manifests as Descriptor[])
          .map((m) => (m.platform === undefined ? undefined : formatPlatform(m.platform)))
          .filter((p) => p !== undefined && p !== 'unknown/unknown');
        throw new RegistryError(
          'PLATFORM_NOT_FOUND',
          `${formatReference(ref)}: no image for ${formatPlatform(want)} (index has ${have.join(', ') || 'none'})`,
        );
      }
      doc = await this.getManifest(target, chosen.digest, options.signal);
    }
    if (!MANIFEST_TYPES.has(doc.mediaType)) {
      throw new RegistryError(
        'UNSUPPORTED_MEDIA_TYPE',
        `${formatReference(ref)}: manifest media type ${doc.mediaType} is not an image`,
      );
    }
    const manifest = doc.json as ImageManifest;
    checkImageManifest(formatReference(ref), manifest);
    const configBytes = await this.getBlobBytes(target, manifest.config, options.signal);
    let config: ImageConfig;
    try {
      config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    } catch (err) {
      throw new RegistryError('PROTOCOL', `${formatReference(ref)}: image config is not JSON`, {
        cause: err,
      });
    }
    if (config === null || typeof config !== 'object') {
      throw new RegistryError('PROTOCOL', `${formatReference(ref)}: image config is not an object`);
    }
    const platform: Platform = {
      os: config.os ?? want.os,
      architecture: config.architecture ?? want.architecture,
    };
    if (config.variant !== undefined) platform.variant = config.variant;
    if (indexDigest === undefined && !platformMatches(want, platform)) {
      throw new RegistryError(
        'PLATFORM_NOT_FOUND',
        `${formatReference(ref)}: image is ${formatPlatform(platform)}, not ${formatPlatform(want)}`,
      );
    }
    const resolved: ResolvedImage = {
      reference: formatReference(ref),
      registry: ref.registry,
      repository: ref.repository,
      digest: doc.digest,
      manifestMediaType: doc.mediaType,
      manifest,
      config,
      configDigest: manifest.config.digest,
      platform,
      compressedSize: manifest.layers.reduce((n, l) => n + l.size, 0),
    };
    if (indexDigest !== undefined) resolved.indexDigest = indexDigest;
    return resolved;
  }

  /**
   * The digest a reference points at now (an index's digest for a multi-platform tag), from a
   * HEAD request; falls back to fetching the manifest when the registry sends no digest header.
   * Cheap enough to poll for tag changes.
   */
  async currentDigest(ref: ImageReference, signal?: AbortSignal): Promise<string> {
    if (ref.digest !== undefined) return ref.digest;
    const target: Target = { registry: ref.registry, repository: ref.repository };
    const tag = ref.tag ?? 'latest';
    const url = `${this.#baseUrl(target.registry)}/v2/${target.repository}/manifests/${tag}`;
    const res = await this.#send(target, url, { accept: MANIFEST_ACCEPT }, signal, true, 'HEAD');
    await res.body.dump();
    const digest = header(res.headers, 'docker-content-digest');
    if (digest !== undefined && SHA256.test(digest)) return digest;
    return (await this.getManifest(target, tag, signal)).digest;
  }

  /** Fetches a manifest or index by tag or digest and checks its digest. */
  async getManifest(
    target: Target,
    reference: string,
    signal?: AbortSignal,
  ): Promise<{ digest: string; mediaType: string; json: unknown; bytes: Buffer }> {
    const url = `${this.#baseUrl(target.registry)}/v2/${target.repository}/manifests/${reference}`;
    const res = await this.#send(target, url, { accept: MANIFEST_ACCEPT }, signal, true);
    const what = `${target.registry}/${target.repository}:${reference}`;
    const bytes = await readCapped(res, this.#opts.maxDocumentBytes, `manifest ${what}`);
    const digest = sha256(bytes);
    const byDigest = reference.includes(':');
    const wantDigest = byDigest ? reference : header(res.headers, 'docker-content-digest');
    if (wantDigest !== undefined) {
      // sha512 is allowed by the OCI spec; anything else cannot be checked, so it is refused
      // when we asked by it and ignored when it is only the registry's header.
      const algorithm = /^(sha256|sha512):[a-f0-9]+$/.exec(wantDigest)?.[1];
      if (algorithm === undefined && byDigest) {
        throw new RegistryError(
          'UNSUPPORTED_MEDIA_TYPE',
          `manifest ${what}: unsupported digest algorithm`,
        );
      }
      const got =
        algorithm === 'sha512'
          ? `sha512:${createHash('sha512').update(bytes).digest('hex')}`
          : algorithm === 'sha256'
            ? digest
            : wantDigest;
      if (got !== wantDigest) {
        throw new RegistryError(
          'DIGEST_MISMATCH',
          `manifest ${what} has digest ${got}, expected ${wantDigest}`,
        );
      }
    }
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new RegistryError('PROTOCOL', `manifest ${what} is not JSON`, { cause: err });
    }
    if (json === null || typeof json !== 'object') {
      throw new RegistryError('PROTOCOL', `manifest ${what} is not a JSON object`);
    }
    const declared = (json as { mediaType?: unknown }).mediaType;
    const contentType = (header(res.headers, 'content-type') ?? '').split(';')[0]!.trim();
    let mediaType = typeof declared === 'string' ? declared : contentType;
    const schemaVersion = (json as { schemaVersion?: unknown }).schemaVersion;
    if (schemaVersion === 1) mediaType = MediaType.dockerManifestV1;
    if (mediaType === '' || mediaType === 'application/json') {
      // OCI allows an absent mediaType: tell an index from a manifest by its fields.
      mediaType = 'manifests' in json ? MediaType.ociIndex : MediaType.ociManifest;
    }
    if (
      mediaType === MediaType.dockerManifestV1 ||
      mediaType === MediaType.dockerManifestV1Signed
    ) {
      throw new RegistryError(
        'UNSUPPORTED_MEDIA_TYPE',
        `manifest ${what} is Docker schema 1, which is not supported`,
      );
    }
    if (!INDEX_TYPES.has(mediaType) && !MANIFEST_TYPES.has(mediaType)) {
      throw new RegistryError(
        'UNSUPPORTED_MEDIA_TYPE',
        `manifest ${what} has unsupported media type ${mediaType}`,
      );
    }
    return { digest, mediaType, json, bytes };
  }

  /** Reads a small blob (a config) whole, checking size and digest. */
  async getBlobBytes(target: Target, desc: Descriptor, signal?: AbortSignal): Promise<Buffer> {
    if (desc.size > this.#opts.maxDocumentBytes) {
      throw new RegistryError(
        'TOO_LARGE',
        `blob ${desc.digest} is ${desc.size} bytes, over the limit`,
      );
    }
    const { stream } = await this.openBlob(target, desc, signal);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** Opens a blob as a stream that fails unless the bytes match the descriptor. */
  async openBlob(target: Target, desc: Descriptor, signal?: AbortSignal): Promise<BlobStream> {
    if (!SHA256.test(desc.digest)) {
      throw new RegistryError(
        'UNSUPPORTED_MEDIA_TYPE',
        `blob digest ${desc.digest} is not a sha256 digest`,
      );
    }
    if (!Number.isSafeInteger(desc.size) || desc.size < 0) {
      throw new RegistryError('PROTOCOL', `blob ${desc.digest} has an invalid size`);
    }
    const url = `${this.#baseUrl(target.registry)}/v2/${target.repository}/blobs/${desc.digest}`;
    const res = await this.#send(target, url, {}, signal, false);
    const verify = new VerifyingStream(desc.digest, desc.size);
    res.body.on('error', (err: Error) => verify.destroy(err));
    verify.on('close', () => {
      if (!res.body.destroyed) res.body.destroy();
    });
    res.body.pipe(verify);
    return { stream: verify, size: desc.size };
  }

  /**
   * One logical request: auth (cached, or from the 401 challenge), redirects without
   * forwarding credentials, retries with backoff on 5xx/429/connection errors.
   */
  // eslint-disable-next-line max-lines-per-function, max-params -- one request attempt loop: retries, Retry-After, redirects and the auth challenge together
  async #send(
    target: Target,
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    whole: boolean,
    method: 'GET' | 'HEAD' = 'GET',
  ): Promise<HttpResponse> {
    const key = `${target.registry}|${target.repository}`;
    let triedAuth = false;
    for (let attempt = 0; ; attempt++) {
      const cached = this.#auth.get(key);
      const auth = cached !== undefined && cached.expiresAt > Date.now() ? cached.value : undefined;
      let res: HttpResponse;
      try {
        res = await this.#follow(url, headers, auth, signal, whole, method);
      } catch (err) {
        if (signal?.aborted === true) throw abortError(signal, url, err);
        if (err instanceof RegistryError) throw err;
        if (attempt >= this.#opts.retries) {
          throw new RegistryError(
            'UNAVAILABLE',
            `${url}: ${describe(err)} (after ${attempt + 1} attempts)`,
            {
              cause: err,
            },
          );
        }
        await this.#backoff(attempt, undefined, signal);
        continue;
      }
      if (res.status === 401 && !triedAuth) {
        const challenge = header(res.headers, 'www-authenticate');
        await res.body.dump();
        triedAuth = true;
        const value = await this.#authorize(target, challenge, signal);
        if (value === undefined) {
          throw new RegistryError(
            'ACCESS_DENIED',
            `${url}: authentication required and no credentials match`,
            {
              status: 401,
            },
          );
        }
        this.#auth.set(key, value);
        attempt--;
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        await res.body.dump();
        throw new RegistryError('ACCESS_DENIED', `${url}: access denied (HTTP ${res.status})`, {
          status: res.status,
        });
      }
      if (res.status === 404) {
        await res.body.dump();
        throw new RegistryError('NOT_FOUND', `${url}: not found`, { status: 404 });
      }
      if (RETRYABLE.has(res.status)) {
        const retryAfter = header(res.headers, 'retry-after');
        await res.body.dump();
        if (attempt >= this.#opts.retries) {
          throw new RegistryError(
            'UNAVAILABLE',
            `${url}: HTTP ${res.status} after ${attempt + 1} attempts`,
            {
              status: res.status,
            },
          );
        }
        await this.#backoff(attempt, retryAfter, signal);
        continue;
      }
      if (res.status < 200 || res.status >= 300) {
        await res.body.dump();
        throw new RegistryError('PROTOCOL', `${url}: unexpected HTTP ${res.status}`, {
          status: res.status,
        });
      }
      return res;
    }
  }

  async #backoff(
    attempt: number,
    retryAfter: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const ms = retryDelayMs(attempt, retryAfter, this.#opts.backoffBaseMs, this.#opts.backoffMaxMs);
    try {
      await sleep(ms, undefined, signal === undefined ? {} : { signal });
    } catch (err) {
      throw abortError(signal, 'backoff', err);
    }
  }

  // eslint-disable-next-line max-params -- a redirect carries the request it follows
  async #follow(
    url: string,
    headers: Record<string, string>,
    auth: string | undefined,
    signal: AbortSignal | undefined,
    whole: boolean,
    method: 'GET' | 'HEAD',
  ): Promise<HttpResponse> {
    let current = url;
    const origin = new URL(url).origin;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const sameOrigin = new URL(current).origin === origin;
      const h: Record<string, string> = { 'user-agent': this.#opts.userAgent, ...headers };
      // Blob redirects go to object storage: never forward the registry's credentials.
      if (auth !== undefined && sameOrigin) h.authorization = auth;
      const timeout = AbortSignal.timeout(this.#opts.requestTimeoutMs);
      const res = await request(current, {
        method,
        headers: h,
        dispatcher: this.#dispatcher,
        signal: whole
          ? signal === undefined
            ? timeout
            : AbortSignal.any([signal, timeout])
          : (signal ?? null),
        headersTimeout: this.#opts.requestTimeoutMs,
        bodyTimeout: this.#opts.bodyIdleTimeoutMs,
      });
      const location = header(res.headers, 'location');
      if ([301, 302, 303, 307, 308].includes(res.statusCode) && location !== undefined) {
        await res.body.dump();
        const next = new URL(location, current);
        if (next.protocol !== 'https:' && next.protocol !== 'http:') {
          throw new RegistryError(
            'PROTOCOL',
            `${url}: redirect to unsupported scheme ${next.protocol}`,
          );
        }
        if (next.protocol === 'http:' && new URL(current).protocol === 'https:') {
          throw new RegistryError('PROTOCOL', `${url}: refusing redirect from HTTPS to plain HTTP`);
        }
        current = next.toString();
        continue;
      }
      return { status: res.statusCode, headers: res.headers, body: res.body };
    }
    throw new RegistryError('PROTOCOL', `${url}: more than ${MAX_REDIRECTS} redirects`);
  }

  /** Works out an Authorization header value from a 401 challenge; undefined when we have nothing to offer. */
  // eslint-disable-next-line max-lines-per-function, complexity -- the bearer token flow with its own retry loop
  async #authorize(
    target: Target,
    challengeHeader: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ value: string; expiresAt: number } | undefined> {
    const cred = this.#credential(target);
    const challenges = parseChallenges(challengeHeader ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basicCred =
      cred?.username !== undefined && cred.password !== undefined
        ? `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`
        : undefined;
    if (bearer === undefined) {
      if (challenges.some((c) => c.scheme === 'basic') && basicCred !== undefined) {
        return { value: basicCred, expiresAt: Number.POSITIVE_INFINITY };
      }
      return undefined;
    }
    if (cred?.registryToken !== undefined) {
      return { value: `Bearer ${cred.registryToken}`, expiresAt: Number.POSITIVE_INFINITY };
    }
    const realm = bearer.params.realm;
    if (realm === undefined) {
      throw new RegistryError('PROTOCOL', `${target.registry}: bearer challenge without a realm`);
    }
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch (err) {
      throw new RegistryError(
        'PROTOCOL',
        `${target.registry}: bearer realm "${realm}" is not a URL`,
        { cause: err },
      );
    }
    if (
      realmUrl.protocol !== 'https:' &&
      !(realmUrl.protocol === 'http:' && this.#insecure.has(target.registry))
    ) {
      throw new RegistryError(
        'PROTOCOL',
        `${target.registry}: token realm ${realmUrl.origin} is not HTTPS`,
      );
    }
    const scope = `repository:${target.repository}:pull`;
    const service = bearer.params.service;
    const started = Date.now();
    let body: unknown;
    for (let attempt = 0; ; attempt++) {
      let res: Dispatcher.ResponseData;
      const timeout = AbortSignal.timeout(this.#opts.requestTimeoutMs);
      const sig = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
      try {
        if (cred?.identityToken !== undefined) {
          const form = new URLSearchParams({
            grant_type: 'refresh_token',
            refresh_token: cred.identityToken,
            client_id: this.#opts.userAgent,
            scope,
          });
          if (service !== undefined) form.set('service', service);
          res = await request(realmUrl, {
            method: 'POST',
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              'user-agent': this.#opts.userAgent,
            },
            body: form.toString(),
            dispatcher: this.#dispatcher,
            signal: sig,
          });
        } else {
          const u = new URL(realmUrl);
          if (service !== undefined) u.searchParams.set('service', service);
          u.searchParams.set('scope', scope);
          const h: Record<string, string> = { 'user-agent': this.#opts.userAgent };
          if (basicCred !== undefined) h.authorization = basicCred;
          res = await request(u, {
            method: 'GET',
            headers: h,
            dispatcher: this.#dispatcher,
            signal: sig,
          });
        }
      } catch (err) {
        if (signal?.aborted === true) throw abortError(signal, realm, err);
        if (attempt >= this.#opts.retries) {
          throw new RegistryError(
            'UNAVAILABLE',
            `token endpoint ${realmUrl.origin}: ${describe(err)}`,
            { cause: err },
          );
        }
        await this.#backoff(attempt, undefined, signal);
        continue;
      }
      if (res.statusCode === 401 || res.statusCode === 403) {
        await res.body.dump();
        throw new RegistryError(
          'ACCESS_DENIED',
          `token endpoint ${realmUrl.origin} refused the credentials`,
          {
            status: res.statusCode,
          },
        );
      }
      if (RETRYABLE.has(res.statusCode) && attempt < this.#opts.retries) {
        const ra = header(res.headers, 'retry-after');
        await res.body.dump();
        await this.#backoff(attempt, ra, signal);
        continue;
      }
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new RegistryError(
          'PROTOCOL',
          `token endpoint ${realmUrl.origin}: HTTP ${res.statusCode}`,
          {
            status: res.statusCode,
          },
        );
      }
      const bytes = await readCapped(
        { status: res.statusCode, headers: res.headers, body: res.body },
        1024 * 1024,
        'token response',
      );
      try {
        body = JSON.parse(bytes.toString('utf8'));
      } catch (err) {
        throw new RegistryError(
          'PROTOCOL',
          `token endpoint ${realmUrl.origin}: response is not JSON`,
          { cause: err },
        );
      }
      break;
    }
    const t = body as { token?: unknown; access_token?: unknown; expires_in?: unknown };
    const token =
      typeof t.token === 'string'
        ? t.token
        : typeof t.access_token === 'string'
          ? t.access_token
          : '';
    if (token === '') {
      throw new RegistryError(
        'PROTOCOL',
        `token endpoint ${realmUrl.origin}: response has no token`,
      );
    }
    const expiresIn = typeof t.expires_in === 'number' && t.expires_in > 0 ? t.expires_in : 60;
    // Renew a little early so a token never expires mid-request.
    return { value: `Bearer ${token}`, expiresAt: started + Math.max(1, expiresIn - 10) * 1000 };
  }
}

function checkImageManifest(what: string, m: ImageManifest): void {
  if (m.config === undefined || typeof m.config !== 'object' || !Array.isArray(m.layers)) {
    throw new RegistryError('PROTOCOL', `${what}: manifest lacks config or layers`);
  }
  if (m.artifactType !== undefined) {
    throw new RegistryError(
      'UNSUPPORTED_MEDIA_TYPE',
      `${what}: artifact of type ${m.artifactType} is not an image`,
    );
  }
  if (!CONFIG_TYPES.has(m.config.mediaType)) {
    throw new RegistryError(
      'UNSUPPORTED_MEDIA_TYPE',
      `${what}: config media type ${m.config.mediaType} is not an image config`,
    );
  }
  for (const layer of m.layers) {
    if (layerCompression(layer.mediaType) === undefined) {
      throw new RegistryError(
        'UNSUPPORTED_MEDIA_TYPE',
        `${what}: layer media type ${layer.mediaType} is not supported`,
      );
    }
    if (!Number.isSafeInteger(layer.size) || layer.size < 0 || !SHA256.test(layer.digest)) {
      throw new RegistryError('PROTOCOL', `${what}: layer descriptor ${layer.digest} is invalid`);
    }
  }
}

async function readCapped(res: HttpResponse, max: number, what: string): Promise<Buffer> {
  const declared = Number(header(res.headers, 'content-length'));
  if (Number.isFinite(declared) && declared > max) {
    res.body.destroy();
    throw new RegistryError(
      'TOO_LARGE',
      `${what} is ${declared} bytes, over the ${max}-byte limit`,
    );
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body) {
    n += (chunk as Buffer).length;
    if (n > max) {
      res.body.destroy();
      throw new RegistryError('TOO_LARGE', `${what} is over the ${max}-byte limit`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

function abortError(signal: AbortSignal | undefined, what: string, cause: unknown): RegistryError {
  const reason: unknown = signal?.reason;
  if (reason instanceof RegistryError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new RegistryError('TIMEOUT', `${what}: timed out`, { cause: reason });
  }
  return new RegistryError('TIMEOUT', `${what}: aborted (${describe(reason ?? cause)})`, {
    cause: reason ?? cause,
  });
}
