/**
 * Streams one layer: decompress (gzip, zstd or none), hash the tar for its diff_id, parse
 * entries, hand the files of interest to the analyzers and note whiteouts. Nothing is
 * written to disk; only matching files are buffered, each under its analyzer's cap.
 */
import { createHash } from 'node:crypto';
import {
  PassThrough,
  Transform,
  Writable,
  type Readable,
  type TransformCallback,
} from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import type {
  Analyzer,
  CodeFileAnalysis,
  CodeMatch,
  FileAnalysis,
  FileFacts,
  OsRelease,
  StreamingAnalysis,
} from './analyzers/analyzer.ts';
import { TarError, TarParser, type TarEntrySink, type TarHeader } from './tar.ts';
import { ScanError, type RawPackage, type ScanLimits } from './types.ts';

export type Compression = 'gzip' | 'zstd' | 'none';

/** What an analyzer found in one file of a layer. */
export interface FileResult {
  path: string;
  analyzer: string;
  packages?: RawPackage[];
  osRelease?: OsRelease;
  /** Code-scanning matches (per layer, not overlaid). */
  code?: CodeMatch[];
}

/** Code-scanning counts of one layer. */
export interface LayerCodeStats {
  files: number;
  bytes: number;
  skippedBinary: number;
  skippedSize: number;
}

/** Everything a layer contributes to the image's file view: cacheable by layer digest. */
export interface LayerAnalysis {
  diffId: string;
  entries: number;
  uncompressedBytes: number;
  files: FileResult[];
  /** Paths removed from lower layers: whiteouts, and files of interest this layer replaces. */
  removed: string[];
  /** Directories whose lower-layer content is hidden (`.wh..wh..opq`). */
  opaqueDirs: string[];
  warnings: string[];
  /** Present when a code-scanning analyzer ran. */
  code?: LayerCodeStats;
}

/** Counters shared by all layers of one image, checked against the limits. */
export interface ImageBudget {
  entries: number;
  uncompressedBytes: number;
}

export interface LayerOptions {
  /** Used in messages: the layer digest. */
  name: string;
  limits: ScanLimits;
  budget: ImageBudget;
  analyzers: readonly Analyzer[];
  signal?: AbortSignal;
}

const WHITEOUT_PREFIX = '.wh.';
/** Decompressor output chunks: larger than zlib's 16 KiB default, fewer round trips and less GC. */
const ZLIB_CHUNK = 256 * 1024;
const OPAQUE = '.wh..wh..opq';

/**
 * Normalises a tar entry name to a root-relative path. Absolute names and names that climb
 * out of the root are refused: image tools never write them, so they mean a hostile layer.
 */
export function normaliseEntryPath(raw: string, what = 'entry'): string {
  if (raw.startsWith('/')) {
    throw new ScanError('INTERNAL_ERROR', `${what} "${raw.slice(0, 200)}" is an absolute path`);
  }
  const out: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) {
        throw new ScanError(
          'INTERNAL_ERROR',
          `${what} "${raw.slice(0, 200)}" points outside the image root`,
        );
      }
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out.join('/');
}

function dirAndBase(path: string): [string, string] {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? ['', path] : [path.slice(0, slash), path.slice(slash + 1)];
}

function joinPath(dir: string, base: string): string {
  return dir === '' ? base : `${dir}/${base}`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface Pending {
  path: string;
  analyzer: string;
  /** Started when the file ends, so its buffer can be released early; never rejects. */
  result: Promise<{ ok: FileAnalysis | undefined } | { error: unknown }>;
}

function start(
  run: () => FileAnalysis | undefined | Promise<FileAnalysis | undefined>,
): Pending['result'] {
  return (async () => run())().then(
    (ok) => ({ ok }),
    (error: unknown) => ({ error }),
  );
}

/** Counts a code-scanned file and keeps its matches. */
export function noteCode(
  result: { code?: LayerCodeStats },
  file: FileResult,
  code: CodeFileAnalysis,
): void {
  const c = (result.code ??= { files: 0, bytes: 0, skippedBinary: 0, skippedSize: 0 });
  if (code.skipped === 'binary') c.skippedBinary++;
  else if (code.skipped === 'size') c.skippedSize++;
  else c.files++;
  c.bytes += code.bytes;
  if (code.matches.length > 0) file.code = code.matches;
}

/** Reads one layer stream. Throws {@link ScanError} (or the input stream's own error). */
// eslint-disable-next-line max-lines-per-function, complexity -- one tar stream loop: each entry is skipped, whited out or analyzed in one place
export async function analyzeLayer(
  input: Readable,
  compression: Compression,
  options: LayerOptions,
): Promise<LayerAnalysis> {
  const { limits, budget, analyzers, name } = options;
  const overlaid = analyzers.filter((a) => a.perLayer !== true);
  const result: LayerAnalysis = {
    diffId: '',
    entries: 0,
    uncompressedBytes: 0,
    files: [],
    removed: [],
    opaqueDirs: [],
    warnings: [],
  };
  const pending: Pending[] = [];
  const hardlinks: { path: string; target: string }[] = [];
  const hash = createHash('sha256');
  let failure: unknown;

  const decompress: Transform =
    compression === 'gzip'
      ? createGunzip({ chunkSize: ZLIB_CHUNK })
      : compression === 'zstd'
        ? createZstdDecompress({ chunkSize: ZLIB_CHUNK })
        : new PassThrough();

  const count = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      result.uncompressedBytes += chunk.length;
      budget.uncompressedBytes += chunk.length;
      if (budget.uncompressedBytes > limits.maxUncompressedBytes) {
        cb(
          new ScanError(
            'IMAGE_SIZE_EXCEEDED',
            `image unpacks to more than ${limits.maxUncompressedBytes} bytes (limit on uncompressed size)`,
          ),
        );
        return;
      }
      hash.update(chunk);
      cb(null, chunk);
    },
  });

  const onEntry = (entry: TarHeader): TarEntrySink | undefined => {
    result.entries++;
    budget.entries++;
    if (budget.entries > limits.maxEntries) {
      throw new ScanError(
        'IMAGE_SIZE_EXCEEDED',
        `image has more than ${limits.maxEntries} files (limit on entries)`,
      );
    }
    const path = normaliseEntryPath(entry.path);
    if (path === '') return undefined;
    const [dir, base] = dirAndBase(path);
    if (base === OPAQUE) {
      result.opaqueDirs.push(dir);
      return undefined;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      result.removed.push(joinPath(dir, base.slice(WHITEOUT_PREFIX.length)));
      return undefined;
    }
    const facts: FileFacts = { path, size: entry.size, mode: entry.mode };
    if (entry.type === 'hardlink') {
      const target = normaliseEntryPath(entry.linkpath, 'hard link target');
      if (overlaid.some((a) => a.analyze !== undefined && a.matches({ ...facts, size: 0 }))) {
        hardlinks.push({ path, target });
        result.removed.push(path);
      }
      return undefined;
    }
    if (entry.type !== 'file') {
      // A symlink or directory over a file of interest hides the lower layer's file.
      if (
        overlaid.some((a) => a.analyze !== undefined && a.matches({ ...facts, size: 0, mode: 0 }))
      ) {
        result.removed.push(path);
      }
      return undefined;
    }
    const buffering = analyzers.filter((a) => a.analyze !== undefined && a.matches(facts));
    const streaming: { analyzer: Analyzer; sa: StreamingAnalysis }[] = [];
    for (const a of analyzers)
      if (a.stream !== undefined && a.matches(facts))
        streaming.push({ analyzer: a, sa: a.stream(facts) });
    if (buffering.length === 0 && streaming.length === 0) return undefined;
    if (buffering.length > 0 || streaming.some((s) => s.analyzer.perLayer !== true))
      result.removed.push(path);
    const cap = Math.min(...buffering.map((a) => a.maxBytes?.(limits) ?? limits.maxFileBytes));
    const buffer = buffering.length > 0 && entry.size <= cap;
    if (buffering.length > 0 && !buffer) {
      result.warnings.push(
        `${path}: ${entry.size} bytes is over the ${cap}-byte cap for ${buffering[0]!.name}; skipped`,
      );
    }
    const chunks: Buffer[] = [];
    let live = streaming.slice();
    return {
      data(chunk: Buffer) {
        // The parser hands out views of the stream's buffers: copy what is kept.
        if (buffer) chunks.push(Buffer.from(chunk));
        if (live.length > 0) live = live.filter((s) => s.sa.write(chunk));
      },
      end() {
        for (const s of streaming) {
          pending.push({ path, analyzer: s.analyzer.name, result: start(() => s.sa.end()) });
        }
        if (buffer) {
          const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
          for (const a of buffering) {
            pending.push({
              path,
              analyzer: a.name,
              result: start(() => a.analyze!(data, facts, limits)),
            });
          }
        }
      },
    };
  };

  const parser = new TarParser({ onEntry, maxMetaBytes: 1024 * 1024 });
  const tarError = (err: unknown): unknown =>
    err instanceof TarError
      ? new ScanError('INTERNAL_ERROR', `invalid tar: ${err.message}`, { cause: err })
      : err;
  const sink = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      try {
        parser.write(chunk);
        cb();
      } catch (err) {
        failure ??= tarError(err);
        cb(failure as Error);
      }
    },
    final(cb) {
      try {
        parser.end();
        cb();
      } catch (err) {
        failure ??= tarError(err);
        cb(failure as Error);
      }
    },
  });

  try {
    await pipeline(
      input,
      decompress,
      count,
      sink,
      options.signal === undefined ? {} : { signal: options.signal },
    );
  } catch (err) {
    const cause = failure ?? err;
    if (cause instanceof ScanError)
      throw new ScanError(cause.reason, `layer ${name}: ${cause.message}`, { cause });
    if (options.signal?.aborted === true) throw options.signal.reason;
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new ScanError(
        'INTERNAL_ERROR',
        `layer ${name}: corrupt ${compression} stream: ${message(cause)}`,
        {
          cause,
        },
      );
    }
    if ((typeof code === 'string' && code.startsWith('ERR_ZSTD')) || /zstd/i.test(message(cause))) {
      throw new ScanError(
        'INTERNAL_ERROR',
        `layer ${name}: corrupt zstd stream: ${message(cause)}`,
        { cause },
      );
    }
    throw cause;
  }
  if (failure !== undefined) {
    const f = failure as ScanError;
    throw new ScanError(f.reason ?? 'INTERNAL_ERROR', `layer ${name}: ${message(f)}`, { cause: f });
  }
  result.diffId = `sha256:${hash.digest('hex')}`;

  for (const p of pending) {
    const outcome = await p.result;
    if ('error' in outcome) {
      result.warnings.push(`${p.path}: ${p.analyzer} analyzer failed: ${message(outcome.error)}`);
      continue;
    }
    const analysis = outcome.ok;
    if (analysis === undefined) continue;
    if (analysis.warnings !== undefined) result.warnings.push(...analysis.warnings);
    const file: FileResult = { path: p.path, analyzer: p.analyzer };
    if (analysis.packages !== undefined && analysis.packages.length > 0)
      file.packages = analysis.packages;
    if (analysis.osRelease !== undefined) file.osRelease = analysis.osRelease;
    if (analysis.code !== undefined) noteCode(result, file, analysis.code);
    if (file.packages !== undefined || file.osRelease !== undefined || file.code !== undefined)
      result.files.push(file);
  }
  // A hard link to a file of interest in the same layer carries that file's results.
  for (const link of hardlinks) {
    for (const f of result.files.filter((x) => x.path === link.target)) {
      result.files.push({ ...f, path: link.path });
    }
  }
  return result;
}
