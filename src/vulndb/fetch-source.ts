/**
 * Reading one configured source for the index: what changed since the last load, and streaming
 * its records into an index being built.
 *
 * A source is a directory of OSV JSON files, a zip or JSON file, or an http(s) URL serving a zip
 * or JSON. A URL is fetched with conditional requests (the ETag and Last-Modified of the data in
 * the index) and written to a temporary file next to the index, never held in memory; a
 * download that ends before its declared length is an error. A URL ending in `/all.zip` (the
 * layout of OSV's per-ecosystem exports) is first asked for its change list, `modified_id.csv`
 * next to it: when only a few records changed, only those are fetched.
 */
import { createWriteStream } from 'node:fs';
import { open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import type { IndexedSource, SourceValidators, SourceWriter } from './advisory-index.ts';
import { openZipFile, type ZipEntry, type ZipFile } from './zip.ts';

/** A problem with a source's data or its server: the source fails, the index does not. */
export class SourceError extends Error {}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export interface FetchOptions {
  /** Where temporary downloads go (the index's directory, so they stay on its volume). */
  dir: string;
  /** Per-request timeout, in milliseconds. */
  timeoutMs: number;
  /** Largest download, in bytes. */
  maxBytes: number;
  /**
   * Most changed records fetched one by one from a change list; more than this (or more than
   * a twentieth of the source) and the whole export is downloaded.
   */
  maxChanges: number;
  fetch: typeof fetch;
}

/** What a refresh does with one source. */
export type SourcePlan =
  | { kind: 'unchanged'; validators: SourceValidators }
  | {
      kind: 'load';
      validators: SourceValidators;
      /** Streams the source's records into the writer; throws {@link SourceError}. */
      feed(w: SourceWriter): Promise<void>;
      cleanup(): Promise<void>;
    }
  | {
      kind: 'incremental';
      validators: SourceValidators;
      /** Ids to drop from the previous load: changed (loaded again) or gone. */
      drop: string[];
      /** The changed records' JSON text, by id. */
      records: [id: string, text: string][];
    };

const decoder = new TextDecoder('utf-8', { fatal: true });

function addBytes(w: SourceWriter, bytes: Uint8Array, where: string): void {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    w.addError(where, 'not UTF-8 text');
    return;
  }
  w.addJsonText(text, where);
}

/** Sizes and modification times of a file, or of a directory's `*.json` files. */
async function fingerprint(path: string): Promise<string> {
  const info = await stat(path);
  if (!info.isDirectory()) return `${info.size}:${info.mtimeMs}`;
  const files = await jsonFiles(path);
  const parts: string[] = [];
  for (const f of files) {
    const s = await stat(f);
    parts.push(`${relative(path, f)}:${s.size}:${s.mtimeMs}`);
  }
  return parts.join('\n');
}

async function jsonFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.json'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

async function feedDirectory(dir: string, w: SourceWriter): Promise<void> {
  const files = await jsonFiles(dir);
  const concurrency = 16;
  for (let i = 0; i < files.length; i += concurrency) {
    const batch = files.slice(i, i + concurrency);
    const read = await Promise.all(
      batch.map((f) =>
        readFile(f).then(
          (b) => ({ f, b }),
          (err: unknown) => ({ f, err }),
        ),
      ),
    );
    for (const t of read) {
      const where = relative(dir, t.f).split(sep).join('/');
      if ('err' in t) w.addError(where, message(t.err));
      else addBytes(w, t.b, where);
    }
  }
}

async function startsLikeZip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    return (
      bytesRead === 4 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5)
    );
  } finally {
    await fh.close();
  }
}

/** The entries of a zip; a central directory that breaks off midway fails the source. */
function* entries(zip: ZipFile, name: string): Generator<ZipEntry> {
  const it = zip.entries();
  for (;;) {
    let next: IteratorResult<ZipEntry>;
    try {
      next = it.next();
    } catch (err) {
      throw new SourceError(`${name}: not a readable zip: ${message(err)}`, { cause: err });
    }
    if (next.done === true) return;
    yield next.value;
  }
}

/** Feeds a zip (entry by entry, read from disk) or a JSON file of one record or an array. */
async function feedFile(path: string, name: string, w: SourceWriter): Promise<void> {
  if (await startsLikeZip(path)) {
    let zip;
    try {
      zip = openZipFile(path);
    } catch (err) {
      throw new SourceError(`${name}: not a readable zip: ${message(err)}`, { cause: err });
    }
    try {
      for (const entry of entries(zip, name)) {
        if (!entry.name.endsWith('.json')) continue;
        let data: Uint8Array;
        try {
          data = entry.read();
        } catch (err) {
          w.addError(entry.name, message(err));
          continue;
        }
        addBytes(w, data, entry.name);
      }
    } finally {
      zip.close();
    }
    return;
  }
  let text: string;
  try {
    text = decoder.decode(await readFile(path));
  } catch {
    throw new SourceError(`${name}: neither a zip nor UTF-8 JSON`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SourceError(`${name}: neither a zip nor JSON: ${message(err)}`, { cause: err });
  }
  w.addJson(value, name);
}

async function planLocal(spec: string, prev: IndexedSource | undefined): Promise<SourcePlan> {
  let print: string;
  let isDir: boolean;
  try {
    isDir = (await stat(spec)).isDirectory();
    print = await fingerprint(spec);
  } catch (err) {
    throw new SourceError(message(err), { cause: err });
  }
  const validators = { fingerprint: print };
  if (prev !== undefined && prev.validators.fingerprint === print) {
    return { kind: 'unchanged', validators };
  }
  return {
    kind: 'load',
    validators,
    feed: (w) => (isDir ? feedDirectory(spec, w) : feedFile(spec, spec, w)),
    cleanup: () => Promise.resolve(),
  };
}

let downloads = 0;

/** Streams a response body to a file, checking the size limit and the declared length. */
async function download(res: Response, file: string, maxBytes: number): Promise<void> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new SourceError(`payload of ${declared} bytes is larger than the limit of ${maxBytes}`);
  }
  if (res.body === null) throw new SourceError('empty response');
  let total = 0;
  const body = Readable.fromWeb(res.body as ReadableStream<Uint8Array>);
  body.on('data', (chunk: Uint8Array) => {
    total += chunk.byteLength;
    if (total > maxBytes) {
      body.destroy(new SourceError(`payload is larger than the limit of ${maxBytes} bytes`));
    }
  });
  try {
    await pipeline(body, createWriteStream(file));
  } catch (err) {
    if (err instanceof SourceError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    // A full disk or an unwritable directory is the index's problem, not the source's.
    if (code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS' || code === 'EDQUOT') throw err;
    throw new SourceError(`download interrupted after ${total} bytes: ${message(err)}`, {
      cause: err,
    });
  }
  if (Number.isFinite(declared) && total !== declared) {
    throw new SourceError(`download truncated: ${total} of ${declared} bytes`);
  }
}

async function get(
  url: string,
  headers: Record<string, string>,
  options: FetchOptions,
): Promise<Response> {
  try {
    return await options.fetch(url, { headers, signal: AbortSignal.timeout(options.timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    const detail = cause === undefined ? '' : `: ${message(cause)}`;
    throw new SourceError(`${message(err)}${detail}`, { cause: err });
  }
}

async function planUrl(
  url: string,
  prev: IndexedSource | undefined,
  previous: PreviousIndex | undefined,
  options: FetchOptions,
): Promise<SourcePlan> {
  if (prev !== undefined && previous !== undefined && url.endsWith('/all.zip')) {
    const changes = await planChanges(url, prev, previous, options);
    if (changes !== undefined) return changes;
  }
  const headers: Record<string, string> = { accept: 'application/zip, application/json' };
  // Conditional headers only make sense while the index holds the data they describe.
  if (prev?.validators.etag !== undefined) headers['if-none-match'] = prev.validators.etag;
  if (prev?.validators.lastModified !== undefined) {
    headers['if-modified-since'] = prev.validators.lastModified;
  }
  const res = await get(url, headers, options);
  if (res.status === 304 && prev !== undefined) {
    await res.body?.cancel();
    return { kind: 'unchanged', validators: prev.validators };
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new SourceError(`HTTP ${res.status} ${res.statusText}`.trim());
  }
  const file = join(options.dir, `download-${process.pid}-${++downloads}.tmp`);
  try {
    await download(res, file, options.maxBytes);
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
  return {
    kind: 'load',
    validators: {
      etag: res.headers.get('etag') ?? undefined,
      lastModified: res.headers.get('last-modified') ?? undefined,
    },
    feed: (w) => feedFile(file, url, w),
    cleanup: () => rm(file, { force: true }),
  };
}

/** The index being replaced, read for the ids and times of a source's records. */
export interface PreviousIndex {
  path: string;
}

/** Parses OSV's `modified_id.csv`: `<modified>,<id>` (or `<modified>,<ecosystem>/<id>`) lines. */
export function parseChangeList(text: string): [id: string, modifiedMs: number][] {
  const out: [string, number][] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const comma = line.indexOf(',');
    const ms = Date.parse(line.slice(0, comma));
    const id =
      line
        .slice(comma + 1)
        .split('/')
        .pop() ?? '';
    if (comma < 0 || !Number.isFinite(ms) || id === '') {
      throw new SourceError(`modified_id.csv line ${i + 1}: expected "<modified>,<id>"`);
    }
    out.push([id, ms]);
  });
  return out;
}

/**
 * The changed records of an export that publishes a change list; undefined when the whole
 * export should be downloaded instead (no change list, or too many changes).
 */
async function planChanges(
  url: string,
  prev: IndexedSource,
  previous: PreviousIndex,
  options: FetchOptions,
): Promise<SourcePlan | undefined> {
  const base = url.slice(0, -'all.zip'.length);
  const headers: Record<string, string> = {};
  if (prev.validators.changesEtag !== undefined) {
    headers['if-none-match'] = prev.validators.changesEtag;
  }
  const res = await get(`${base}modified_id.csv`, headers, options);
  if (res.status === 304) {
    await res.body?.cancel();
    return { kind: 'unchanged', validators: prev.validators };
  }
  if (!res.ok) {
    await res.body?.cancel();
    return undefined;
  }
  const list = parseChangeList(await res.text());
  const { changed, gone } = diffChanges(previous.path, prev.id, list);
  const limit = Math.min(options.maxChanges, Math.max(100, Math.floor(list.length / 20)));
  if (changed.length + gone.length > limit) return undefined;
  const records: [string, string][] = [];
  for (let i = 0; i < changed.length; i += 8) {
    const batch = await Promise.all(
      changed.slice(i, i + 8).map(async (id): Promise<[string, string] | undefined> => {
        const r = await get(`${base}${encodeURIComponent(id)}.json`, {}, options);
        if (r.status === 404) {
          await r.body?.cancel();
          return undefined; // removed since the list was written
        }
        if (!r.ok) {
          await r.body?.cancel();
          throw new SourceError(`${id}.json: HTTP ${r.status} ${r.statusText}`.trim());
        }
        return [id, await r.text()];
      }),
    );
    for (const b of batch) if (b !== undefined) records.push(b);
  }
  return {
    kind: 'incremental',
    validators: { ...prev.validators, changesEtag: res.headers.get('etag') ?? undefined },
    drop: [...changed, ...gone],
    records,
  };
}

/** Ids in the change list that are new or newer than the index's, and ids no longer listed. */
function diffChanges(
  path: string,
  source: number,
  list: [string, number][],
): { changed: string[]; gone: string[] } {
  const db = new DatabaseSync(':memory:');
  try {
    db.prepare('ATTACH DATABASE ? AS prev').run(`file:${path}?mode=ro`);
    db.exec('CREATE TABLE list (id TEXT PRIMARY KEY, modified INTEGER NOT NULL) WITHOUT ROWID');
    const add = db.prepare('INSERT OR REPLACE INTO list (id, modified) VALUES (?, ?)');
    db.exec('BEGIN');
    for (const [id, ms] of list) add.run(id, ms);
    db.exec('COMMIT');
    const changed = db
      .prepare(
        'SELECT l.id AS id FROM list l LEFT JOIN (SELECT id, modified FROM prev.advisories ' +
          'WHERE source = ?1 UNION ALL SELECT id, modified FROM prev.withdrawn WHERE source = ?1) a ' +
          'ON a.id = l.id WHERE a.id IS NULL OR l.modified > a.modified',
      )
      .all(source) as { id: string }[];
    const gone = db
      .prepare(
        'SELECT a.id AS id FROM prev.advisories a WHERE a.source = ? ' +
          'AND NOT EXISTS (SELECT 1 FROM list l WHERE l.id = a.id)',
      )
      .all(source) as { id: string }[];
    return { changed: changed.map((r) => r.id), gone: gone.map((r) => r.id) };
  } finally {
    db.close();
  }
}

/** Decides what to do with one source; throws {@link SourceError} when it cannot be read. */
export async function planSource(
  spec: string,
  prev: IndexedSource | undefined,
  previous: PreviousIndex | undefined,
  options: FetchOptions,
): Promise<SourcePlan> {
  if (/^https?:\/\//i.test(spec)) return planUrl(spec, prev, previous, options);
  return planLocal(spec, prev);
}
