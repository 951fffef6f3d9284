/**
 * The on-disk advisory index: one SQLite file (node:sqlite) holding the advisories of every
 * configured source, keyed by (ecosystem, package name), so matching reads only the packages it
 * is asked about and memory does not grow with the database.
 *
 * Tables:
 * - `sources`: one row per source (its spec, the validators of what was loaded — ETag,
 *   Last-Modified, a local fingerprint — and its load statistics as JSON).
 * - `advisories`: one row per (source, record id): the `modified` time in milliseconds and the
 *   head of the compact advisory (see osv.ts): everything but its `affected` list, as plain
 *   JSON; `details` only when there is no summary, cut to its first line. Numbered in the
 *   order of their first package key, so a package's advisories are neighbours in the file.
 * - `affected`: one row per affected package of an advisory: the normalised package key
 *   (ecosystem NUL name, as `packageKey` builds it), the advisory's row, the index of the entry
 *   in the advisory's `affected` list, the compact entry itself as plain JSON without its
 *   `versions` list, and that list apart (JSON, NULL when empty) with its lowest and highest
 *   version in the ecosystem's order (NULL when the order cannot read them all), and the span of
 *   versions the entry can affect as order keys (`span_low`, `span_high`; see
 *   {@link versionSpan}), which a lookup given the installed version compares in SQLite, so
 *   entries that cannot match are never returned. A lookup reads only these rows; the list is
 *   parsed when the installed version lies within its bounds and no range matched; an
 *   advisory's head is read when one of its entries matches.
 *
 * A file is written once by an {@link IndexWriter} (a refresh writes a new file and renames it
 * over the old one) and then only read by {@link IndexReader}s, so readers never see a write.
 */
import { closeSync, fsyncSync, openSync, statSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  compileRanges,
  indexedEntry,
  type CompiledRange,
  maxReportedErrors,
  type DatabaseStats,
  type IndexedEntry,
  type LoadIssue,
  prefetchKey,
  type VulnDatabase,
} from './database.ts';
import { packageKey } from './ecosystem.ts';
import type { Assessment } from './scoring.ts';
import { versionOrderFor, type VersionOrder } from './version/index.ts';
import { parseOsvRecord, type AffectedPackage, type Advisory } from './osv.ts';

/** Bumped when the schema or the encoding of a record changes; other files are rebuilt. */
export const INDEX_FORMAT = 6;

/** Longest `details` text kept: reports use only its first line, when there is no summary. */
const MAX_DETAILS = 1000;

/**
 * The advisory without its `affected` list (each entry is a row of `affected`), as plain JSON:
 * parsing a few hundred bytes of text is several times faster than inflating them first, and
 * a match reads one head per matching record.
 */
function encodeHead(a: Advisory): string {
  const details = a.summary === '' ? (a.details.split('\n', 1)[0] ?? '').slice(0, MAX_DETAILS) : '';
  return JSON.stringify({ ...a, details, affected: [] });
}

function decodeHead(body: string): Advisory {
  return JSON.parse(body) as Advisory;
}

const noVersions: string[] = [];
const noEntries: readonly IndexedEntry[] = [];

function decodeVersions(text: string | null): string[] {
  return text === null ? noVersions : (JSON.parse(text) as string[]);
}

/**
 * The lowest and the highest version of an entry's `versions` list in its ecosystem's order,
 * when the order reads every one of them: an installed version the order reads and that sorts
 * outside them equals none of them, so matching skips the list without reading it.
 */
export function versionBounds(affected: AffectedPackage): [low: string, high: string] | undefined {
  const order = versionOrderFor(affected.ecosystem);
  const { versions } = affected;
  if (order === undefined || versions.length === 0 || !versions.every((v) => order.valid(v))) {
    return undefined;
  }
  let low = versions[0]!;
  let high = low;
  for (const v of versions) {
    if (order.compare(v, low) < 0) low = v;
    if (order.compare(v, high) > 0) high = v;
  }
  return [low, high];
}

/**
 * The span of versions an affected entry can affect, as keys of its ecosystem's order
 * (`VersionOrder.key`): the lowest `introduced` (the empty string for `0`) and the highest
 * `fixed` or `last_affected` of its ranges (`null` when a range stays open), widened by the
 * bounds of its `versions` list. An installed version whose key lies outside the span is
 * affected by none of the entry's ranges and equals none of its list, so the index leaves the
 * entry in SQLite. `undefined` (the entry is always read) when the order has no keys, a range
 * is evaluated in another order (a SEMVER range of a distribution), or a version cannot be
 * keyed. `limit` events only narrow a range and are left out.
 */
export function versionSpan(
  affected: AffectedPackage,
  bounds: readonly [low: string, high: string] | undefined,
): [low: string, high: string | null] | undefined {
  const order = versionOrderFor(affected.ecosystem);
  if (order?.key === undefined) return undefined;
  const key = (v: string): string | undefined => order.key?.(v);
  let low: string | undefined;
  let high: string | null | undefined;
  const widen = (l: string, h: string | null): void => {
    if (low === undefined || l < low) low = l;
    if (h === null || high === null) high = null;
    else if (high === undefined || h > high) high = h;
  };
  for (const range of compileRanges(affected)) {
    if (range.order !== order) return undefined;
    let from: string | undefined;
    let to: string | undefined;
    let open = false;
    // Events sorted in the order: the state above the last one is the state of the last one.
    for (const e of range.events) {
      const k = e.kind === 'introduced' && e.version === '0' ? '' : key(e.version);
      if (k === undefined) return undefined;
      if (e.kind === 'introduced') {
        if (from === undefined || k < from) from = k;
        open = true;
      } else {
        if (to === undefined || k > to) to = k;
        open = false;
      }
    }
    if (from !== undefined) widen(from, open ? null : (to ?? null));
  }
  if (affected.versions.length > 0) {
    if (bounds === undefined) return undefined;
    const l = key(bounds[0]);
    const h = key(bounds[1]);
    if (l === undefined || h === undefined) return undefined;
    widen(l, h);
  }
  return low === undefined || high === undefined ? undefined : [low, high];
}

/** What a source's loader knew about the data it loaded, to ask next time whether it changed. */
export interface SourceValidators {
  etag?: string | undefined;
  lastModified?: string | undefined;
  /** Sizes and modification times of a local file or directory. */
  fingerprint?: string | undefined;
  /** The validators of the change list (`modified_id.csv`), when the source has one. */
  changesEtag?: string | undefined;
}

/** Load statistics of one source, as kept in the index. */
export interface SourceStats {
  records: number;
  withdrawn: number;
  malformed: number;
  duplicates: number;
  unsupportedRanges: number;
  errors: LoadIssue[];
  byEcosystem: Record<string, number>;
  newestModified: string | undefined;
  /** When these records were loaded from the source (RFC 3339). */
  loadedAt: string;
  /** How the records were loaded: the whole export, or changed records only. */
  mode: 'full' | 'incremental';
}

export interface IndexedSource {
  id: number;
  spec: string;
  validators: SourceValidators;
  stats: SourceStats;
}

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE sources (
  id INTEGER PRIMARY KEY,
  spec TEXT NOT NULL UNIQUE,
  position INTEGER NOT NULL,
  validators TEXT NOT NULL,
  stats TEXT NOT NULL
);
CREATE TABLE advisories (
  rowid INTEGER PRIMARY KEY,
  source INTEGER NOT NULL,
  id TEXT NOT NULL,
  modified INTEGER NOT NULL,
  body TEXT NOT NULL,
  UNIQUE (source, id)
);
CREATE TABLE affected_load (
  key TEXT NOT NULL,
  advisory INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  match TEXT NOT NULL,
  versions TEXT,
  low TEXT,
  high TEXT,
  span_low TEXT,
  span_high TEXT
);
CREATE INDEX affected_load_advisory ON affected_load (advisory);
CREATE TABLE withdrawn (
  source INTEGER NOT NULL,
  id TEXT NOT NULL,
  modified INTEGER NOT NULL,
  PRIMARY KEY (source, id)
) WITHOUT ROWID;
`;

/**
 * The final tables. Advisories are numbered again in the order of their first package key, so
 * the advisories of one package are neighbours in the file and the heads a lookup's matches
 * need are read from a few pages instead of one page each. The `affected` table is clustered
 * by package key, so a lookup is one range scan that holds everything matching needs; it is
 * filled in key order from the table the load wrote.
 */
const INDEXES = `
CREATE TEMP TABLE renumber (old INTEGER PRIMARY KEY, new INTEGER NOT NULL);
INSERT INTO temp.renumber (old, new)
  SELECT a.rowid, row_number() OVER (ORDER BY f.home, a.rowid)
  FROM advisories a
  LEFT JOIN (SELECT advisory, min(key) AS home FROM affected_load GROUP BY advisory) f
    ON f.advisory = a.rowid;
CREATE TABLE advisories_sorted (
  rowid INTEGER PRIMARY KEY,
  source INTEGER NOT NULL,
  id TEXT NOT NULL,
  modified INTEGER NOT NULL,
  body TEXT NOT NULL,
  UNIQUE (source, id)
);
INSERT INTO advisories_sorted (rowid, source, id, modified, body)
  SELECT r.new, a.source, a.id, a.modified, a.body
  FROM advisories a JOIN temp.renumber r ON r.old = a.rowid ORDER BY r.new;
DROP TABLE advisories;
ALTER TABLE advisories_sorted RENAME TO advisories;
CREATE TABLE affected (
  key TEXT NOT NULL,
  advisory INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  match TEXT NOT NULL,
  versions TEXT,
  low TEXT,
  high TEXT,
  span_low TEXT,
  span_high TEXT,
  PRIMARY KEY (key, advisory, idx)
) WITHOUT ROWID;
INSERT INTO affected (key, advisory, idx, match, versions, low, high, span_low, span_high)
  SELECT f.key, r.new, f.idx, f.match, f.versions, f.low, f.high, f.span_low, f.span_high
  FROM affected_load f JOIN temp.renumber r ON r.old = f.advisory
  ORDER BY f.key, r.new, f.idx;
DROP TABLE affected_load;
DROP TABLE temp.renumber;
CREATE INDEX advisories_id ON advisories (id);
CREATE INDEX affected_advisory ON affected (advisory);
`;

function newStats(mode: SourceStats['mode']): SourceStats {
  return {
    records: 0,
    withdrawn: 0,
    malformed: 0,
    duplicates: 0,
    unsupportedRanges: 0,
    errors: [],
    byEcosystem: {},
    newestModified: undefined,
    loadedAt: new Date().toISOString(),
    mode,
  };
}

/**
 * Records of one source going into a new index file. Feeds like the in-memory builder: one bad
 * record never spoils a load; a withdrawn record is counted and left out; of two records with
 * the same id the one modified last is kept.
 */
export class SourceWriter {
  readonly stats: SourceStats;
  /** Valid records stored by this load (new or replacing an older one with the same id). */
  kept = 0;
  private readonly writer: IndexWriter;
  private readonly sourceId: number;

  constructor(writer: IndexWriter, sourceId: number, stats: SourceStats) {
    this.writer = writer;
    this.sourceId = sourceId;
    this.stats = stats;
  }

  /** Adds one parsed JSON value: a record, or an array of records. */
  addJson(value: unknown, where: string): void {
    if (Array.isArray(value)) value.forEach((v, i) => this.addRecord(v, `${where}[${i}]`));
    else this.addRecord(value, where);
  }

  /** Adds JSON text; text that is not JSON is counted as malformed. */
  addJsonText(text: string, where: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.addError(where, `not JSON: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.addJson(value, where);
  }

  addRecord(value: unknown, where: string): void {
    const r = parseOsvRecord(value);
    if (r.ok) this.addAdvisory(r.advisory);
    else this.addError(where, r.error);
  }

  /** Counts a record (or a file) that could not be read. */
  addError(where: string, message: string): void {
    this.stats.malformed++;
    if (this.stats.errors.length < maxReportedErrors) {
      this.stats.errors.push({ source: where, message });
    }
  }

  addAdvisory(a: Advisory): void {
    const modified = Date.parse(a.modified);
    const modifiedMs = Number.isFinite(modified) ? modified : 0;
    if (a.withdrawn !== undefined && a.withdrawn !== '') {
      this.stats.withdrawn++;
      this.writer.withdraw(this.sourceId, a.id, modifiedMs);
      return;
    }
    const put = this.writer.put(this.sourceId, a, modifiedMs);
    if (put !== 'older') this.kept++;
    if (put !== 'new') {
      this.stats.duplicates++;
      if (put === 'older') return;
    }
    for (const affected of a.affected) {
      indexedEntry(a, affected, () => this.stats.unsupportedRanges++);
    }
  }
}

export interface WriterOptions {
  /** Largest index file, in bytes; a load that needs more fails ("database or disk is full"). */
  maxBytes?: number | undefined;
  /**
   * The first row id of new advisories: above every row of the previous index, whose rows keep
   * their ids when they are copied (default 1). {@link IndexWriter.finish} numbers every
   * advisory again, in the order of its first package key.
   */
  firstRowid?: number | undefined;
}

/**
 * Writes a new index file. Nothing else opens the file until {@link IndexWriter.finish} has
 * closed it, so it is written without a journal; a failed build is discarded with
 * {@link IndexWriter.abort}.
 */
export class IndexWriter {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly find: StatementSync;
  private readonly insert: StatementSync;
  private readonly update: StatementSync;
  private readonly insertAffected: StatementSync;
  private readonly deleteAffected: StatementSync;
  private readonly withdrawStmt: StatementSync;
  private readonly sources: IndexedSource[] = [];
  private readonly writers = new Map<number, SourceWriter>();
  private nextRowid: number;

  constructor(path: string, options: WriterOptions = {}) {
    this.path = path;
    this.nextRowid = options.firstRowid ?? 1;
    this.db = new DatabaseSync(path);
    this.db.exec(
      'PRAGMA page_size = 8192; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; ' +
        'PRAGMA locking_mode = EXCLUSIVE; PRAGMA cache_size = -16000;',
    );
    if (options.maxBytes !== undefined) {
      this.db.exec(`PRAGMA max_page_count = ${Math.max(1, Math.floor(options.maxBytes / 8192))}`);
    }
    this.db.exec(SCHEMA);
    this.db.exec('BEGIN');
    this.find = this.db.prepare(
      'SELECT rowid, modified FROM advisories WHERE source = ? AND id = ?',
    );
    this.insert = this.db.prepare(
      'INSERT INTO advisories (rowid, source, id, modified, body) VALUES (?, ?, ?, ?, ?)',
    );
    this.update = this.db.prepare('UPDATE advisories SET modified = ?, body = ? WHERE rowid = ?');
    this.insertAffected = this.db.prepare(
      'INSERT INTO affected_load (key, advisory, idx, match, versions, low, high, ' +
        'span_low, span_high) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.deleteAffected = this.db.prepare('DELETE FROM affected_load WHERE advisory = ?');
    this.withdrawStmt = this.db.prepare(
      'INSERT OR REPLACE INTO withdrawn (source, id, modified) VALUES (?, ?, ?)',
    );
  }

  /** Starts the records of a source loaded now. */
  beginSource(
    spec: string,
    id: number,
    validators: SourceValidators,
    mode: SourceStats['mode'] = 'full',
  ): SourceWriter {
    const stats = newStats(mode);
    return this.addSource(spec, id, validators, stats);
  }

  /** Continues a source's statistics (an incremental load adds to what was loaded before). */
  addSource(
    spec: string,
    id: number,
    validators: SourceValidators,
    stats: SourceStats,
  ): SourceWriter {
    this.sources.push({ id, spec, validators, stats });
    const w = new SourceWriter(this, id, stats);
    this.writers.set(id, w);
    return w;
  }

  /**
   * Copies a source's records from a previous index file (a source that did not change, or
   * could not be read this time). With `except`, records whose id is in the temporary table
   * `changed` are left out (they are loaded again).
   */
  copySource(prevPath: string, source: IndexedSource, except = false): void {
    this.db.exec('COMMIT');
    this.db.prepare('ATTACH DATABASE ? AS prev').run(`file:${prevPath}?mode=ro`);
    try {
      this.db.exec('BEGIN');
      const skip = except ? 'AND id NOT IN (SELECT id FROM temp.changed)' : '';
      this.db
        .prepare(
          'INSERT INTO main.advisories (rowid, source, id, modified, body) ' +
            `SELECT rowid, source, id, modified, body FROM prev.advisories WHERE source = ? ${skip}`,
        )
        .run(source.id);
      this.db
        .prepare(
          'INSERT INTO main.withdrawn (source, id, modified) ' +
            `SELECT source, id, modified FROM prev.withdrawn WHERE source = ? ${skip}`,
        )
        .run(source.id);
      this.db
        .prepare(
          'INSERT INTO main.affected_load (key, advisory, idx, match, versions, low, high, ' +
            'span_low, span_high) SELECT f.key, f.advisory, f.idx, f.match, f.versions, ' +
            'f.low, f.high, f.span_low, f.span_high ' +
            'FROM prev.affected f JOIN main.advisories a ON a.rowid = f.advisory WHERE a.source = ?',
        )
        .run(source.id);
      this.db.exec('COMMIT');
    } finally {
      this.db.exec('DETACH DATABASE prev');
      this.db.exec('BEGIN');
    }
    if (!except) this.sources.push({ ...source, stats: { ...source.stats } });
  }

  /** Marks the start of a source's load, to undo it with {@link IndexWriter.discardSource}. */
  savepoint(): void {
    this.db.exec('SAVEPOINT source');
  }

  /** Keeps what was loaded since {@link IndexWriter.savepoint}. */
  release(): void {
    this.db.exec('RELEASE source');
  }

  /** Undoes a source's load since {@link IndexWriter.savepoint} (it failed). */
  discardSource(id: number): void {
    this.db.exec('ROLLBACK TO source; RELEASE source');
    this.writers.delete(id);
    const at = this.sources.findIndex((s) => s.id === id);
    if (at >= 0) this.sources.splice(at, 1);
  }

  /**
   * Stores one advisory of a source: `'new'` for a new id, `'replaced'` when it replaced an
   * older record with the same id, `'older'` when a record modified later is already stored
   * (nothing written).
   */
  put(source: number, a: Advisory, modifiedMs: number): 'new' | 'replaced' | 'older' {
    const seen = this.find.get(source, a.id) as { rowid: number; modified: number } | undefined;
    let rowid: number;
    if (seen !== undefined) {
      if (seen.modified >= modifiedMs) return 'older';
      this.update.run(modifiedMs, encodeHead(a), seen.rowid);
      this.deleteAffected.run(seen.rowid);
      rowid = seen.rowid;
    } else {
      rowid = this.nextRowid++;
      this.insert.run(rowid, source, a.id, modifiedMs, encodeHead(a));
    }
    a.affected.forEach((affected, idx) => {
      const key = packageKey(affected.ecosystem, affected.name);
      const { versions } = affected;
      const bounds = versionBounds(affected);
      const [low, high] = bounds ?? [null, null];
      const [spanLow, spanHigh] = versionSpan(affected, bounds) ?? [null, null];
      this.insertAffected.run(
        key,
        rowid,
        idx,
        JSON.stringify({ ...affected, versions: [] }),
        versions.length === 0 ? null : JSON.stringify(versions),
        low,
        high,
        spanLow,
        spanHigh,
      );
    });
    return seen === undefined ? 'new' : 'replaced';
  }

  /** Remembers a withdrawn record, so a change list does not offer it again as new. */
  withdraw(source: number, id: string, modifiedMs: number): void {
    this.withdrawStmt.run(source, id, modifiedMs);
  }

  /** The ids the next {@link IndexWriter.copySource} with `except` leaves out. */
  exclude(ids: Iterable<string>): void {
    this.db.exec('CREATE TEMP TABLE IF NOT EXISTS changed (id TEXT PRIMARY KEY) WITHOUT ROWID');
    this.db.exec('DELETE FROM temp.changed');
    const add = this.db.prepare('INSERT OR IGNORE INTO temp.changed (id) VALUES (?)');
    for (const id of ids) add.run(id);
  }

  /** Records, records per ecosystem and the newest `modified` of the sources loaded now. */
  private count(): void {
    const records = this.db.prepare(
      'SELECT count(*) AS n, max(modified) AS newest FROM advisories WHERE source = ?',
    );
    const ecosystems = this.db.prepare(
      'SELECT substr(f.key, 1, instr(f.key, char(0)) - 1) AS ecosystem, ' +
        'count(DISTINCT f.advisory) AS n FROM affected_load f JOIN advisories a ' +
        'ON a.rowid = f.advisory WHERE a.source = ? GROUP BY ecosystem',
    );
    for (const s of this.sources) {
      if (!this.writers.has(s.id)) continue;
      const r = records.get(s.id) as { n: number; newest: number | null };
      s.stats.records = r.n;
      s.stats.newestModified = r.newest === null ? undefined : new Date(r.newest).toISOString();
      s.stats.byEcosystem = {};
      for (const e of ecosystems.all(s.id) as { ecosystem: string; n: number }[]) {
        s.stats.byEcosystem[e.ecosystem] = e.n;
      }
    }
  }

  /** Writes the sources and the indexes, closes the file and flushes it to disk. */
  finish(): void {
    this.count();
    this.db.exec(INDEXES);
    const add = this.db.prepare(
      'INSERT INTO sources (id, spec, position, validators, stats) VALUES (?, ?, ?, ?, ?)',
    );
    this.sources.forEach((s, i) => {
      add.run(s.id, s.spec, i, JSON.stringify(s.validators), JSON.stringify(s.stats));
    });
    this.db
      .prepare('INSERT INTO meta (key, value) VALUES (?, ?), (?, ?)')
      .run('format', String(INDEX_FORMAT), 'builtAt', new Date().toISOString());
    this.db.exec('COMMIT');
    this.db.exec('ANALYZE');
    this.db.close();
    const fd = openSync(this.path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Closes the file after a failed build (the caller removes it). */
  abort(): void {
    try {
      if (this.db.isOpen) this.db.close();
    } catch {
      // already failing: the file is removed by the caller
    }
  }
}

/** The sources recorded in an index file, in their configured order. */
export function readSources(db: DatabaseSync): IndexedSource[] {
  const rows = db
    .prepare('SELECT id, spec, validators, stats FROM sources ORDER BY position')
    .all() as { id: number; spec: string; validators: string; stats: string }[];
  return rows.map((r) => ({
    id: r.id,
    spec: r.spec,
    validators: JSON.parse(r.validators) as SourceValidators,
    stats: JSON.parse(r.stats) as SourceStats,
  }));
}

/**
 * A bounded cache in two generations: values go into the young map; when its weight reaches
 * half the limit it becomes the old map and the previous old map is dropped whole. A value
 * read from the old map moves to the young one. No per-entry eviction, so no map fills with
 * deleted slots that every eviction walks (the cost of an LRU on a JavaScript `Map`).
 */
class Cache<K, V> {
  private young = new Map<K, { value: V; weight: number }>();
  private old = new Map<K, { value: V; weight: number }>();
  private youngWeight = 0;
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = Math.max(2, limit);
  }

  get(key: K): V | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit.value;
    const aged = this.old.get(key);
    if (aged === undefined) return undefined;
    this.set(key, aged.value, aged.weight);
    return aged.value;
  }

  has(key: K): boolean {
    return this.young.has(key) || this.old.has(key);
  }

  set(key: K, value: V, weight: number): void {
    if (this.youngWeight + weight > this.limit / 2 && this.young.size > 0) {
      this.old = this.young;
      this.young = new Map();
      this.youngWeight = 0;
    }
    this.young.set(key, { value, weight });
    this.youngWeight += weight;
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
    this.youngWeight = 0;
  }
}

export interface ReaderOptions {
  /**
   * Most decoded affected entries kept between lookups (default 5,000: the packages of a few
   * images). Matching does not need the cache (a batch's entries are handed back whole); it
   * spares reading again what the last images looked up, and what it holds ends in V8's old
   * generation, so a larger cache costs memory and collection time.
   */
  cacheEntries?: number;
  /** Most decoded advisory heads kept between lookups (default 1,000). */
  cacheAdvisories?: number;
}

/**
 * Pages SQLite keeps in the reader's own cache (8 KiB pages: 8 MiB). Reads beyond it go to
 * the kernel's page cache, which is shared and not counted against the process; no memory
 * map (`mmap_size` 0), whose touched pages would count in the process's RSS as the file grows.
 */
const READER_CACHE_PAGES = 1024;

/** Keys looked up in one query by {@link IndexReader.prefetch}. */
const PREFETCH_BATCH = 500;

/** A row of `affected` as the lookups read it: the key, or its position in a batch. */
type Row = [
  key: string | number,
  idx: number,
  advisory: number,
  match: string,
  versions: string | null,
  low: string | null,
  high: string | null,
];

/**
 * An entry read from the index. Its `versions` list is parsed when matching reaches it (no
 * range matched, and the installed version is not outside the list's bounds); its advisory's
 * head when something asks for it (the entry matched), through the reader's cache of heads,
 * so a cached entry does not keep its advisory alive and the keys naming one advisory share
 * one object.
 */
class IndexEntry implements IndexedEntry {
  readonly ranges: CompiledRange[];
  readonly order: VersionOrder | undefined;
  readonly versionBounds: readonly [low: string, high: string] | undefined;
  assessment: Assessment | undefined = undefined;
  readonly rowid: number;
  readonly reader: IndexReader;
  private readonly stored: AffectedPackage;
  private versionsText: string | null;
  private parsedVersions: string[] | undefined = undefined;
  private whole: AffectedPackage | undefined = undefined;

  constructor(reader: IndexReader, row: Row) {
    this.reader = reader;
    this.rowid = row[2];
    const stored = JSON.parse(row[3]) as AffectedPackage;
    this.stored = stored;
    this.versionsText = row[4];
    this.versionBounds = row[5] === null || row[6] === null ? undefined : [row[5], row[6]];
    this.ranges = compileRanges(stored);
    this.order = versionOrderFor(stored.ecosystem);
  }

  get versions(): string[] {
    if (this.parsedVersions === undefined) {
      this.parsedVersions = decodeVersions(this.versionsText);
      this.versionsText = null;
    }
    return this.parsedVersions;
  }

  /** The affected entry; its `versions` list is parsed when read. */
  get affected(): AffectedPackage {
    if (this.whole === undefined) {
      const versions = (): string[] => this.versions;
      this.whole = {
        ...this.stored,
        get versions(): string[] {
          return versions();
        },
      };
    }
    return this.whole;
  }

  get advisory(): Advisory {
    return this.reader.head(this.rowid);
  }
}

/** A read-only view of an index file; what the matcher is given. */
export class IndexReader implements VulnDatabase {
  readonly path: string;
  readonly stats: DatabaseStats;
  readonly sources: IndexedSource[];
  readonly builtAt: string | undefined;
  /** The file's inode when it was opened: a refresh in another process replaces the file. */
  readonly inode: number;
  private readonly db: DatabaseSync;
  private readonly byKey: StatementSync;
  private readonly byKeys: StatementSync;
  private readonly byId: StatementSync;
  private readonly byRowid: StatementSync;
  private readonly affectedOf: StatementSync;
  private readonly entries: Cache<string, readonly IndexedEntry[]>;
  /** Decoded advisory heads by row id, shared by the entries of every key that names them. */
  private readonly heads: Cache<number, Advisory>;
  private readonly byRowids: StatementSync;

  constructor(path: string, options: ReaderOptions = {}) {
    this.path = path;
    this.db = new DatabaseSync(path, { readOnly: true });
    try {
      this.db.exec(
        `PRAGMA query_only = ON; PRAGMA cache_size = ${READER_CACHE_PAGES}; ` +
          'PRAGMA mmap_size = 0; PRAGMA temp_store = MEMORY;',
      );
      const format = (
        this.db.prepare("SELECT value FROM meta WHERE key = 'format'").get() as
          { value: string } | undefined
      )?.value;
      if (format !== String(INDEX_FORMAT)) {
        throw new Error(`index format ${format ?? 'unknown'}, expected ${INDEX_FORMAT}`);
      }
      this.builtAt = (
        this.db.prepare("SELECT value FROM meta WHERE key = 'builtAt'").get() as
          { value: string } | undefined
      )?.value;
      this.sources = readSources(this.db);
    } catch (err) {
      this.db.close();
      throw err;
    }
    const select = 'SELECT key, idx, advisory, match, versions, low, high FROM affected';
    // Rows as arrays: no object (and no property names) per row.
    this.byKey = this.db.prepare(`${select} WHERE key = ?`);
    this.byKey.setReturnArrays(true);
    // The position of the key in the batch, not the key: one string less per row. A batch
    // is a list of [package key, version key or null]; an entry whose span the version key
    // lies outside of cannot match and stays in SQLite. The batch is unpacked once into a
    // materialised table (a third less CPU than reading the JSON again for every row).
    this.byKeys = this.db.prepare(
      'WITH k AS MATERIALIZED (SELECT key AS pos, value ->> 0 AS pkey, value ->> 1 AS vkey ' +
        'FROM json_each(?)) ' +
        'SELECT k.pos, f.idx, f.advisory, f.match, f.versions, f.low, f.high ' +
        'FROM k JOIN affected f ON f.key = k.pkey ' +
        'WHERE f.span_low IS NULL OR k.vkey IS NULL OR ' +
        '(k.vkey >= f.span_low AND (f.span_high IS NULL OR k.vkey <= f.span_high))',
    );
    this.byKeys.setReturnArrays(true);
    this.byRowid = this.db.prepare('SELECT body FROM advisories WHERE rowid = ?');
    this.byRowids = this.db.prepare(
      'SELECT rowid, body FROM advisories WHERE rowid IN (SELECT value FROM json_each(?))',
    );
    this.byRowids.setReturnArrays(true);
    this.byId = this.db.prepare(
      'SELECT rowid, body FROM advisories WHERE id = ? ORDER BY modified DESC LIMIT 1',
    );
    this.affectedOf = this.db.prepare(
      'SELECT idx, match, versions FROM affected WHERE advisory = ? ORDER BY idx',
    );
    this.entries = new Cache(options.cacheEntries ?? 5_000);
    this.heads = new Cache(options.cacheAdvisories ?? 1_000);
    const info = statSync(path);
    this.inode = info.ino;
    this.stats = this.aggregate(info.size);
  }

  private aggregate(diskBytes: number): DatabaseStats {
    const byEcosystem: Record<string, number> = {};
    const s = this.sources.map((x) => x.stats);
    for (const st of s) {
      for (const [e, n] of Object.entries(st.byEcosystem))
        byEcosystem[e] = (byEcosystem[e] ?? 0) + n;
    }
    const newest = s
      .map((x) => x.newestModified)
      .filter((x): x is string => x !== undefined)
      .sort((a, b) => Date.parse(b) - Date.parse(a))[0];
    const sum = (f: (x: SourceStats) => number): number => s.reduce((n, x) => n + f(x), 0);
    return {
      source: this.sources.map((x) => x.spec).join(', '),
      records: sum((x) => x.records),
      withdrawn: sum((x) => x.withdrawn),
      malformed: sum((x) => x.malformed),
      duplicates: sum((x) => x.duplicates),
      unsupportedRanges: sum((x) => x.unsupportedRanges),
      errors: s.flatMap((x) => x.errors).slice(0, maxReportedErrors),
      byEcosystem,
      newestModified: newest,
      loadSeconds: 0,
      heapBytes: 0,
      diskBytes,
      loadedAt: new Date(this.builtAt ?? Date.now()),
    };
  }

  get size(): number {
    return this.stats.records;
  }

  /** The largest advisory row id (0 when empty); new rows of the next index start above it. */
  maxRowid(): number {
    const r = this.db.prepare('SELECT max(rowid) AS m FROM advisories').get() as {
      m: number | null;
    };
    return r.m ?? 0;
  }

  /** The head of an advisory (no `affected` list), from the cache or the file. */
  head(rowid: number): Advisory {
    const held = this.heads.get(rowid);
    if (held !== undefined) return held;
    const row = this.byRowid.get(rowid) as { body: string } | undefined;
    if (row === undefined) throw new Error(`advisory row ${rowid} is missing from ${this.path}`);
    const a = decodeHead(row.body);
    this.heads.set(rowid, a, 1);
    return a;
  }

  /** Entries ready for matching: the affected entry as stored, its ranges compiled. */
  private entriesOf(rows: readonly Row[]): IndexedEntry[] {
    return rows.map((r) => new IndexEntry(this, r));
  }

  lookup(ecosystem: string, name: string): readonly IndexedEntry[] {
    const key = packageKey(ecosystem, name);
    const cached = this.entries.get(key);
    if (cached !== undefined) return cached;
    const entries = this.entriesOf(this.byKey.all(key) as unknown as Row[]);
    this.entries.set(key, entries, Math.max(1, entries.length));
    return entries;
  }

  prefetch(
    keys: Iterable<readonly [ecosystem: string, name: string, version?: string | undefined]>,
  ): ReadonlyMap<string, readonly IndexedEntry[]> {
    const found = new Map<string, readonly IndexedEntry[]>();
    const wanted: string[] = [];
    const query: [string, string | null][] = [];
    for (const [ecosystem, name, version] of keys) {
      const key = prefetchKey(ecosystem, name, version);
      if (found.has(key)) continue;
      const cached = this.entries.get(key);
      found.set(key, cached ?? noEntries);
      if (cached !== undefined) continue;
      wanted.push(key);
      const order = version === undefined ? undefined : versionOrderFor(ecosystem);
      const versionKey =
        order?.key !== undefined && order.valid(version!) ? order.key(version!) : undefined;
      query.push([packageKey(ecosystem, name), versionKey ?? null]);
    }
    for (let i = 0; i < wanted.length; i += PREFETCH_BATCH) {
      const batch = wanted.slice(i, i + PREFETCH_BATCH);
      const grouped: Row[][] = batch.map(() => []);
      const json = JSON.stringify(query.slice(i, i + PREFETCH_BATCH));
      for (const r of this.byKeys.all(json) as unknown as Row[]) {
        grouped[r[0] as number]!.push(r);
      }
      batch.forEach((key, k) => {
        const entries = grouped[k]!.length === 0 ? noEntries : this.entriesOf(grouped[k]!);
        found.set(key, entries);
        this.entries.set(key, entries, Math.max(1, entries.length));
      });
    }
    return found;
  }

  prefetchAdvisories(entries: readonly IndexedEntry[]): ReadonlyMap<IndexedEntry, Advisory> {
    const found = new Map<IndexedEntry, Advisory>();
    const wanted = new Map<number, IndexEntry[]>();
    for (const e of entries) {
      if (!(e instanceof IndexEntry) || e.reader !== this || found.has(e)) continue;
      const held = this.heads.get(e.rowid);
      if (held !== undefined) found.set(e, held);
      else {
        const list = wanted.get(e.rowid);
        if (list === undefined) wanted.set(e.rowid, [e]);
        else list.push(e);
      }
    }
    const all = [...wanted.keys()];
    for (let i = 0; i < all.length; i += PREFETCH_BATCH) {
      const batch = JSON.stringify(all.slice(i, i + PREFETCH_BATCH));
      for (const r of this.byRowids.all(batch) as unknown as [number, string][]) {
        const head = decodeHead(r[1]);
        this.heads.set(r[0], head, 1);
        for (const e of wanted.get(r[0]) ?? []) found.set(e, head);
      }
    }
    return found;
  }

  get(id: string): Advisory | undefined {
    const row = this.byId.get(id) as { rowid: number; body: string } | undefined;
    if (row === undefined) return undefined;
    const rows = this.affectedOf.all(row.rowid) as {
      idx: number;
      match: string;
      versions: string | null;
    }[];
    const affected = rows.map((r) => ({
      ...(JSON.parse(r.match) as AffectedPackage),
      versions: decodeVersions(r.versions),
    }));
    return { ...decodeHead(row.body), affected };
  }

  /** Advisory ids of one source with their modified times (ms), in id order. */
  *modifiedIds(source: number): Generator<[id: string, modifiedMs: number]> {
    const stmt = this.db.prepare(
      'SELECT id, modified FROM advisories WHERE source = ? ORDER BY id',
    );
    for (const r of stmt.iterate(source) as Iterable<{ id: string; modified: number }>) {
      yield [r.id, r.modified];
    }
  }

  close(): void {
    this.entries.clear();
    this.heads.clear();
    if (this.db.isOpen) this.db.close();
  }
}
