/**
 * Scans a registry image into a package inventory: resolve the reference, check the size,
 * stream each layer (or take it from the cache), verify diff_ids, overlay the layers.
 * Every failure ends as a typed outcome; nothing throws out of {@link scanImage}.
 */
import { formatPlatform, type Platform, type RegistryClient } from '../registry/client.ts';
import { RegistryError } from '../registry/errors.ts';
import { layerCompression } from '../registry/media-types.ts';
import { InvalidReferenceError, parseReference } from '../registry/reference.ts';
import type { Analyzer } from './analyzers/analyzer.ts';
import { ANALYZERS } from './analyzers/index.ts';
import type { LayerCache } from './cache.ts';
import { analyzeLayer, type ImageBudget, type LayerAnalysis } from './layer.ts';
import { mergeCode, mergeLayers } from './merge.ts';
import { runtimesFromEnv } from './runtimes.ts';
import {
  DEFAULT_LIMITS,
  ScanError,
  type Inventory,
  type LayerSummary,
  type ScanLimits,
  type ScanOutcome,
} from './types.ts';

export interface ImageScanOptions {
  client: RegistryClient;
  platform?: Platform;
  limits?: Partial<ScanLimits>;
  cache?: LayerCache;
  analyzers?: readonly Analyzer[];
  signal?: AbortSignal;
}

/** Extra attempts for a layer whose download breaks after it started. */
const LAYER_RETRIES = 1;

/** Maps a registry failure to the reason the coverage rules know. */
export function registryFailure(err: RegistryError): ScanError {
  switch (err.code) {
    case 'ACCESS_DENIED':
      return new ScanError('ACCESS_DENIED', err.message, { cause: err });
    case 'UNSUPPORTED_MEDIA_TYPE':
      return new ScanError('UNSUPPORTED_MEDIA_TYPE', err.message, { cause: err });
    case 'PLATFORM_NOT_FOUND':
      return new ScanError('UNSUPPORTED_OS', err.message, { cause: err });
    default:
      return new ScanError(
        'INTERNAL_ERROR',
        `${err.code.toLowerCase().replace(/_/g, ' ')}: ${err.message}`,
        {
          cause: err,
        },
      );
  }
}

/** Turns any error into a failed outcome. */
export function failureOutcome(err: unknown, timeoutMs: number): ScanOutcome {
  if (err instanceof ScanError)
    return { status: 'failed', reason: err.reason, message: err.message };
  if (err instanceof RegistryError) {
    const e = registryFailure(err);
    return { status: 'failed', reason: e.reason, message: e.message };
  }
  if (err instanceof InvalidReferenceError)
    return { status: 'failed', reason: 'INTERNAL_ERROR', message: err.message };
  if (err instanceof Error && err.name === 'TimeoutError') {
    return {
      status: 'failed',
      reason: 'INTERNAL_ERROR',
      message: `scan did not finish within ${timeoutMs} ms`,
    };
  }
  const msg = err instanceof Error ? err.message : String(err);
  return { status: 'failed', reason: 'INTERNAL_ERROR', message: msg };
}

/** Runs `fn` over `items` with at most `limit` at a time; the first failure aborts the rest. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}

export async function scanImage(
  reference: string,
  options: ImageScanOptions,
): Promise<ScanOutcome> {
  const limits: ScanLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const started = performance.now();
  const deadline = AbortSignal.timeout(limits.timeoutMs);
  const abort = new AbortController();
  const signals = [deadline, abort.signal];
  if (options.signal !== undefined) signals.push(options.signal);
  const signal = AbortSignal.any(signals);
  try {
    const inventory = await scan(reference, options, limits, signal, abort, started);
    return { status: 'inventory', inventory };
  } catch (err) {
    if (deadline.aborted) return failureOutcome(deadline.reason, limits.timeoutMs);
    return failureOutcome(err, limits.timeoutMs);
  } finally {
    abort.abort();
  }
}

// eslint-disable-next-line max-lines-per-function, max-params -- the scan pipeline (resolve, config, layers, merge) in order, under one abort signal
async function scan(
  reference: string,
  options: ImageScanOptions,
  limits: ScanLimits,
  signal: AbortSignal,
  abort: AbortController,
  started: number,
): Promise<Inventory> {
  const ref = parseReference(reference);
  const client = options.client;
  const analyzers = options.analyzers ?? ANALYZERS;
  let image;
  try {
    image = await client.resolve(
      ref,
      options.platform === undefined ? { signal } : { signal, platform: options.platform },
    );
  } catch (err) {
    throw err instanceof RegistryError ? registryFailure(err) : err;
  }
  if (image.platform.os !== 'linux') {
    throw new ScanError(
      'UNSUPPORTED_OS',
      `${image.reference}: ${image.platform.os} images are not supported`,
    );
  }
  if (image.compressedSize > limits.maxCompressedBytes) {
    throw new ScanError(
      'IMAGE_SIZE_EXCEEDED',
      `${image.reference}: compressed size ${image.compressedSize} bytes is over the ${limits.maxCompressedBytes}-byte maximum`,
    );
  }
  const diffIds = image.config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== image.manifest.layers.length) {
    throw new ScanError(
      'INTERNAL_ERROR',
      `${image.reference}: config lists ${diffIds.length} diff_ids for ${image.manifest.layers.length} layers`,
    );
  }
  const budget: ImageBudget = { entries: 0, uncompressedBytes: 0 };
  let bytesDownloaded = 0;
  const target = { registry: image.registry, repository: image.repository };
  const summaries: LayerSummary[] = [];

  const analyses = await mapLimit(
    image.manifest.layers,
    limits.layerConcurrency,
    async (desc, i) => {
      const expected = diffIds[i]!;
      const cached = await options.cache?.get(desc.digest);
      if (cached !== undefined && cached.diffId === expected) {
        budget.entries += cached.entries;
        budget.uncompressedBytes += cached.uncompressedBytes;
        summaries[i] = summary(desc.digest, desc.size, cached, true);
        return cached;
      }
      const compression = layerCompression(desc.mediaType) ?? 'none';
      let analysis: LayerAnalysis | undefined;
      // A download that breaks mid-stream is tried once more from the start: the layer's
      // analysis is a pure function of its bytes, so only the budget needs rolling back.
      for (let attempt = 0; analysis === undefined; attempt++) {
        const before = { ...budget };
        try {
          const blob = await client.openBlob(target, desc, signal);
          bytesDownloaded += desc.size;
          analysis = await analyzeLayer(blob.stream, compression, {
            name: desc.digest,
            limits,
            budget,
            analyzers,
            signal,
          });
        } catch (err) {
          // Aborted by the deadline or by another layer's failure: that error is the answer.
          const aborted = signal.aborted;
          const transient =
            !aborted && !(err instanceof RegistryError) && !(err instanceof ScanError);
          if (transient && attempt < LAYER_RETRIES) {
            budget.entries = before.entries;
            budget.uncompressedBytes = before.uncompressedBytes;
            continue;
          }
          abort.abort(err);
          if (err instanceof RegistryError) {
            if (err.code === 'DIGEST_MISMATCH') {
              throw new ScanError('INTERNAL_ERROR', `layer ${desc.digest}: ${err.message}`, {
                cause: err,
              });
            }
            throw registryFailure(err);
          }
          if (!transient) throw err;
          // A connection that broke mid-blob and the like: name the layer.
          const msg = err instanceof Error ? err.message : String(err);
          throw new ScanError(
            'INTERNAL_ERROR',
            `layer ${desc.digest}: download failed after ${attempt + 1} attempts: ${msg}`,
            { cause: err },
          );
        }
      }
      if (analysis.diffId !== expected) {
        const err = new ScanError(
          'INTERNAL_ERROR',
          `layer ${desc.digest}: uncompressed content has diff_id ${analysis.diffId}, the config says ${expected}`,
        );
        abort.abort(err);
        throw err;
      }
      await options.cache?.put(desc.digest, analysis).catch(() => undefined);
      summaries[i] = summary(desc.digest, desc.size, analysis, false);
      return analysis;
    },
  );

  const merged = mergeLayers(
    analyses.map((analysis, i) => ({ digest: image.manifest.layers[i]!.digest, analysis })),
  );
  const warnings = analyses.flatMap((a, i) => a.warnings.map((w) => `layer ${i + 1}: ${w}`));
  if ((merged.os === undefined || !merged.os.supported) && merged.packages.length === 0) {
    const what =
      merged.os === undefined
        ? 'no os-release found'
        : `${merged.os.prettyName ?? merged.os.name} is not supported`;
    throw new ScanError('UNSUPPORTED_OS', `${image.reference}: ${what} and no packages found`);
  }
  const inventory: Inventory = {
    kind: 'image',
    target: reference,
    image: {
      registry: image.registry,
      repository: image.repository,
      digest: image.digest,
      configDigest: image.configDigest,
      platform: formatPlatform(image.platform),
      compressedSize: image.compressedSize,
    },
    packages: merged.packages,
    runtimes: runtimesFromEnv(image.config.config?.Env),
    layers: summaries,
    warnings,
    stats: {
      durationMs: Math.round(performance.now() - started),
      bytesDownloaded,
      uncompressedBytes: budget.uncompressedBytes,
      entries: budget.entries,
    },
  };
  if (image.indexDigest !== undefined) inventory.image!.indexDigest = image.indexDigest;
  if (image.config.created !== undefined) inventory.image!.created = image.config.created;
  if (merged.os !== undefined) inventory.os = merged.os;
  const code = mergeCode(
    analyses.map((analysis, i) => ({ digest: image.manifest.layers[i]!.digest, analysis })),
  );
  if (code !== undefined) inventory.code = code;
  return inventory;
}

function summary(digest: string, size: number, a: LayerAnalysis, fromCache: boolean): LayerSummary {
  return {
    digest,
    diffId: a.diffId,
    size,
    entries: a.entries,
    uncompressedBytes: a.uncompressedBytes,
    fromCache,
  };
}
