/**
 * The image scanner as the controllers and the CLI use it. Works with no cluster: credentials
 * arrive as data (pull secret `data` maps or docker config text), never read from an API.
 */
import { RegistryClient, type Platform } from '../registry/client.ts';
import {
  parseDockerConfig,
  parsePullSecretData,
  type CredentialStore,
} from '../registry/credentials.ts';
import { codeAnalyzer } from '../code-scan/analyzer.ts';
import { ANALYZERS, analyzersVersion } from './analyzers/index.ts';
import { LayerCache } from './cache.ts';
import { parseReference } from '../registry/reference.ts';
import { failureOutcome, scanImage } from './image.ts';
import {
  DEFAULT_LIMITS,
  type ScanFailureReason,
  type ScanLimits,
  type ScanOutcome,
} from './types.ts';

export { scanImage, type ImageScanOptions } from './image.ts';
export { scanRootfs, type RootfsScanOptions } from './rootfs.ts';
export { LayerCache } from './cache.ts';
export { toCycloneDx, toSpdx, type SbomOptions, type SbomVulnerability } from './sbom.ts';
export * from './types.ts';

/** Credentials for one scan, most specific first (the pod's pull secrets, then its service account's). */
export interface ScanCredentials {
  /** `data` maps of `kubernetes.io/dockerconfigjson` or `kubernetes.io/dockercfg` secrets. */
  pullSecrets?: readonly Readonly<Record<string, string>>[];
  /** Texts of docker `config.json` files. */
  dockerConfigs?: readonly string[];
}

export interface ImageScannerOptions {
  /** Registries (`host[:port]`) reached over plain HTTP. */
  insecureRegistries?: readonly string[];
  /** Extra PEM certificates to trust. */
  caBundle?: string;
  /** Folder for per-layer results; none means no cache. */
  cacheDir?: string;
  limits?: Partial<ScanLimits>;
}

/** What the registry answered when asked for the manifest a reference names. */
export type DigestOutcome =
  | { status: 'resolved'; digest: string }
  | { status: 'failed'; reason: ScanFailureReason; message: string };

/** What the coverage controller calls: one image reference in, one typed outcome out. */
export interface ImageScanner {
  scan(
    reference: string,
    options?: {
      credentials?: ScanCredentials;
      platform?: Platform;
      signal?: AbortSignal;
      /** Limits of this scan over the scanner's own (the configured maximum image size). */
      limits?: Partial<ScanLimits>;
      /** Also look for hardcoded secrets and code flaws in the image's application files (code scanning). */
      codeScanning?: boolean;
    },
  ): Promise<ScanOutcome>;
  /**
   * The manifest digest a reference (tag or digest) names, read from the registry with the
   * credentials; no layer is downloaded. Coverage asks it for an image no pod could pull, to
   * tell whether the registry refuses the pod's credentials. A scanner without it leaves such
   * images pending.
   */
  resolveDigest?(
    reference: string,
    options?: { credentials?: ScanCredentials; signal?: AbortSignal },
  ): Promise<DigestOutcome>;
}

function stores(credentials: ScanCredentials | undefined): CredentialStore[] | string {
  const out: CredentialStore[] = [];
  try {
    for (const data of credentials?.pullSecrets ?? []) out.push(parsePullSecretData(data));
    for (const text of credentials?.dockerConfigs ?? []) out.push(parseDockerConfig(text));
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return out;
}

/**
 * An {@link ImageScanner} over registries. Each scan gets a client for its own credentials
 * (tokens are never shared between credential sets); the layer cache is shared.
 */
export function createImageScanner(options: ImageScannerOptions = {}): ImageScanner {
  const limits: ScanLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const withCode = [...ANALYZERS, codeAnalyzer()];
  // One cache per analyzer set: their keys differ, so results never mix.
  const cache =
    options.cacheDir === undefined ? undefined : new LayerCache(options.cacheDir, limits);
  const codeCache =
    options.cacheDir === undefined
      ? undefined
      : new LayerCache(options.cacheDir, limits, analyzersVersion(withCode));
  const client = (creds: CredentialStore[]) =>
    new RegistryClient({
      credentials: creds,
      ...(options.insecureRegistries === undefined
        ? {}
        : { insecureRegistries: options.insecureRegistries }),
      ...(options.caBundle === undefined ? {} : { caBundle: options.caBundle }),
    });
  return {
    async resolveDigest(reference, resolveOptions = {}) {
      const creds = stores(resolveOptions.credentials);
      if (typeof creds === 'string') {
        return {
          status: 'failed',
          reason: 'ACCESS_DENIED',
          message: `invalid registry credentials: ${creds}`,
        };
      }
      const registry = client(creds);
      try {
        const ref = parseReference(reference);
        const timeout = AbortSignal.timeout(limits.timeoutMs);
        const signal =
          resolveOptions.signal === undefined
            ? timeout
            : AbortSignal.any([resolveOptions.signal, timeout]);
        const doc = await registry.getManifest(
          { registry: ref.registry, repository: ref.repository },
          ref.digest ?? ref.tag ?? 'latest',
          signal,
        );
        return { status: 'resolved', digest: doc.digest };
      } catch (err) {
        const failed = failureOutcome(err, limits.timeoutMs);
        return failed.status === 'failed'
          ? failed
          : { status: 'failed', reason: 'INTERNAL_ERROR', message: String(err) };
      } finally {
        await registry.close();
      }
    },
    async scan(reference, scanOptions = {}) {
      const creds = stores(scanOptions.credentials);
      if (typeof creds === 'string') {
        // Unreadable pull secret: the registry will most likely refuse us; say why.
        return {
          status: 'failed',
          reason: 'ACCESS_DENIED',
          message: `invalid registry credentials: ${creds}`,
        };
      }
      const registry = client(creds);
      const code = scanOptions.codeScanning === true;
      const layerCache = code ? codeCache : cache;
      try {
        return await scanImage(reference, {
          client: registry,
          limits: { ...limits, ...scanOptions.limits },
          ...(code ? { analyzers: withCode } : {}),
          ...(layerCache === undefined ? {} : { cache: layerCache }),
          ...(scanOptions.platform === undefined ? {} : { platform: scanOptions.platform }),
          ...(scanOptions.signal === undefined ? {} : { signal: scanOptions.signal }),
        });
      } finally {
        await registry.close();
      }
    },
  };
}
