/**
 * A small OCI Distribution client on undici: manifests (Docker v2 schema 2, OCI, manifest
 * lists and indexes resolved to a platform), configs and streamed blobs, each checked
 * against its digest; anonymous, bearer-token and basic auth; retries with backoff on
 * 5xx/429 honouring Retry-After; timeouts on every request. The HTTP layer and its one retry
 * loop are in transport.ts, the token flow in token.ts, platforms in platform.ts, manifest
 * checks in manifest.ts and digest checks in verify.ts.
 */
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import { findCredential, type CredentialStore, type RegistryCredential } from './credentials.ts';
import { RegistryError } from './errors.ts';
import { INDEX_TYPES, MANIFEST_ACCEPT, MANIFEST_TYPES } from './media-types.ts';
import { DEFAULT_PLATFORM, formatPlatform, type Platform, platformMatches } from './platform.ts';
import { apiHost, formatReference, type ImageReference } from './reference.ts';
import { type Authorization, authorize } from './token.ts';
import { header, type HttpRequest, type HttpResponse, readCapped, Transport } from './transport.ts';
import { SHA256, sha256, VerifyingStream } from './verify.ts';
import {
  checkImageManifest,
  checkManifestDigest,
  type Descriptor,
  type ImageConfig,
  type ImageManifest,
  manifestMediaType,
} from './manifest.ts';

export { DEFAULT_PLATFORM, formatPlatform, parsePlatform, type Platform } from './platform.ts';
export type { Descriptor, ImageConfig, ImageManifest } from './manifest.ts';

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

const DEFAULTS = {
  requestTimeoutMs: 30_000,
  bodyIdleTimeoutMs: 60_000,
  retries: 4,
  backoffBaseMs: 200,
  backoffMaxMs: 10_000,
  maxDocumentBytes: 4 * 1024 * 1024,
  userAgent: 'kube-inspector',
};
const MAX_INDEX_DEPTH = 2;

type Manifest = Awaited<ReturnType<RegistryClient['getManifest']>>;

interface Target {
  registry: string;
  repository: string;
}

export class RegistryClient {
  readonly #opts: typeof DEFAULTS;
  readonly #credentials: readonly CredentialStore[];
  readonly #insecure: ReadonlySet<string>;
  readonly #dispatcher: Dispatcher;
  readonly #transport: Transport;
  readonly #ownsDispatcher: boolean;
  /** Authorization header values by `registry|repository`. */
  readonly #auth = new Map<string, Authorization>();

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
    this.#transport = new Transport(this.#opts, this.#dispatcher);
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
  async resolve(
    ref: ImageReference,
    options: { platform?: Platform; signal?: AbortSignal } = {},
  ): Promise<ResolvedImage> {
    const want = options.platform ?? DEFAULT_PLATFORM;
    const target: Target = { registry: ref.registry, repository: ref.repository };
    const { doc, indexDigest } = await this.#platformManifest(ref, target, want, options.signal);
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

  /** The manifest of the wanted platform, following an index (at most two levels deep). */
  async #platformManifest(
    ref: ImageReference,
    target: Target,
    want: Platform,
    signal: AbortSignal | undefined,
  ): Promise<{ doc: Manifest; indexDigest: string | undefined }> {
    const reference = ref.digest ?? ref.tag ?? 'latest';
    let doc = await this.getManifest(target, reference, signal);
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
      doc = await this.getManifest(target, chosen.digest, signal);
    }
    return { doc, indexDigest };
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
    const res = await this.#send(target, url, {
      method: 'HEAD',
      headers: { accept: MANIFEST_ACCEPT },
      signal,
      whole: true,
    });
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
    const res = await this.#send(target, url, {
      method: 'GET',
      headers: { accept: MANIFEST_ACCEPT },
      signal,
      whole: true,
    });
    const what = `${target.registry}/${target.repository}:${reference}`;
    const bytes = await readCapped(res, this.#opts.maxDocumentBytes, `manifest ${what}`);
    const digest = sha256(bytes);
    checkManifestDigest(what, reference, bytes, header(res.headers, 'docker-content-digest'));
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new RegistryError('PROTOCOL', `manifest ${what} is not JSON`, { cause: err });
    }
    if (json === null || typeof json !== 'object') {
      throw new RegistryError('PROTOCOL', `manifest ${what} is not a JSON object`);
    }
    const contentType = (header(res.headers, 'content-type') ?? '').split(';')[0]!.trim();
    const mediaType = manifestMediaType(what, json, contentType);
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
    const res = await this.#send(target, url, { method: 'GET', headers: {}, signal, whole: false });
    const verify = new VerifyingStream(desc.digest, desc.size);
    res.body.on('error', (err: Error) => verify.destroy(err));
    verify.on('close', () => {
      if (!res.body.destroyed) res.body.destroy();
    });
    res.body.pipe(verify);
    return { stream: verify, size: desc.size };
  }

  /**
   * One logical request: the cached authorization for the repository, or one worked out from
   * the 401 challenge (then the request is sent again), through the transport's retry loop.
   * Refusals and other failures become {@link RegistryError}s naming the URL.
   */
  async #send(target: Target, url: string, req: Omit<HttpRequest, 'auth'>): Promise<HttpResponse> {
    const key = `${target.registry}|${target.repository}`;
    const cached = this.#auth.get(key);
    const auth = cached !== undefined && cached.expiresAt > Date.now() ? cached.value : undefined;
    const attempt = (value: string | undefined) =>
      this.#transport.attempts(url, req.signal, () =>
        this.#transport.follow(url, { ...req, auth: value }),
      );
    let res = await attempt(auth);
    if (res.status === 401) {
      const challenge = header(res.headers, 'www-authenticate');
      await res.body.dump();
      const value = await authorize(this.#transport, {
        ...target,
        challenge,
        credential: this.#credential(target),
        insecure: this.#insecure.has(target.registry),
        signal: req.signal,
      });
      if (value === undefined) {
        throw new RegistryError(
          'ACCESS_DENIED',
          `${url}: authentication required and no credentials match`,
          { status: 401 },
        );
      }
      this.#auth.set(key, value);
      res = await attempt(value.value);
    }
    return refuseFailures(url, res);
  }
}

/** The response when it is a success; otherwise its body is dropped and the failure thrown. */
async function refuseFailures(url: string, res: HttpResponse): Promise<HttpResponse> {
  if (res.status >= 200 && res.status < 300) return res;
  await res.body.dump();
  if (res.status === 401 || res.status === 403) {
    throw new RegistryError('ACCESS_DENIED', `${url}: access denied (HTTP ${res.status})`, {
      status: res.status,
    });
  }
  if (res.status === 404) {
    throw new RegistryError('NOT_FOUND', `${url}: not found`, { status: 404 });
  }
  throw new RegistryError('PROTOCOL', `${url}: unexpected HTTP ${res.status}`, {
    status: res.status,
  });
}
