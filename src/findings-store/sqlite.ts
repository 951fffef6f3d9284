// The default FindingStore: one SQLite file (node:sqlite) in WAL mode. Schema, resourceVersion
// sequence, event log and watch design: docs/adr/0900-findings-store-schema-and-watch.md.
//
// node:sqlite is synchronous, so every statement here is bounded: lookups by key, and pages of
// at most `pageSize` rows through an index, with a turn of the event loop between pages.
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { FINDINGS_GROUP, LABELS } from '../api/v1alpha1/common.ts';
import {
  LABEL_COLUMNS,
  STATUS_COLUMNS,
  canonicalJson,
  eventBody,
  joinEvent,
  joinRow,
  splitFinding,
  type SharedPart,
  type StoredRow,
} from './row.ts';
import { jsonClone } from '../util/json-clone.ts';
import { migrate, registerFunctions } from './schema.ts';
import { findingFields } from './selectors.ts';
import { filterSql, type SqlFilter } from './sql-filter.ts';
import {
  StoreError,
  type BatchWrite,
  type DeletePreconditions,
  type FindingCountKey,
  type FindingQuery,
  type FindingStore,
  type FindingWatch,
  type ListOptions,
  type ListPages,
  type ListResult,
  type StoreStats,
  type StoredFinding,
  type WatchEvent,
  type WatchOptions,
  type WriteOptions,
} from './store.ts';
import {
  LiveWatch,
  visibleEvent,
  type ChangeEvent,
  type InitialEvents,
  type Selectable,
  type WatchFilter,
} from './watch.ts';

export interface SqliteFindingStoreOptions {
  /** The database file (on a local filesystem: WAL needs one), or ':memory:' for tests. */
  path: string;
  /** How long the event log keeps events for watches to resume from; default 15 minutes. */
  eventWindowMs?: number;
  /** The most events the log keeps, whatever their age; default 100,000. */
  maxEvents?: number;
  /** Events a watch may have waiting before it is ended with Expired; default 10,000. */
  watchBufferSize?: number;
  /** Rows per internal page (lists without limit, initial events, deletecollection); 500. */
  pageSize?: number;
  /** Largest remainingItemCount counted; past it the count is left out. Default 10,000. */
  remainingCountLimit?: number;
  /** SQLite `synchronous`: FULL (default) keeps every committed resourceVersion on power loss. */
  synchronous?: 'FULL' | 'NORMAL';
  /** SQLite page cache of the writing connection, KiB; default 8 MiB (see ADR 900). */
  cacheSizeKiB?: number;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

export const RESOURCE = `findings.${FINDINGS_GROUP}`;

/** The column behind each countBy key. */
export const COUNT_COLUMNS: Readonly<Record<FindingCountKey, string>> = {
  namespace: 'f.namespace',
  severity: `f.${STATUS_COLUMNS.severity}`,
  type: `f.${STATUS_COLUMNS.type}`,
  status: `f.${STATUS_COLUMNS.status}`,
  coveredResource: `f.${LABEL_COLUMNS[LABELS.coveredResource]!}`,
  run: `f.${LABEL_COLUMNS[LABELS.run]!}`,
};
// evaluated_at: the covered resource's last evaluation (lastObservedAt of open findings).
export const JOIN_PARTS =
  'LEFT JOIN advisories a ON a.id = f.advisory_id LEFT JOIN contexts c ON c.id = f.context_id LEFT JOIN evaluations ev ON ev.covered_resource = f.l_covered_resource';
export const SELECT_PAGE =
  'SELECT f.*, a.body AS advisory, c.body AS context, ev.at AS evaluated_at FROM';
export const SELECT_ROWS = `${SELECT_PAGE} findings f ${JOIN_PARTS}`;
/** SQLite's rows also carry the parts' hashes: joinRow finds a parsed part by them. */
const SQLITE_SELECT_PAGE =
  'SELECT f.*, a.body AS advisory, c.body AS context, hex(a.hash) AS advisory_key, hex(c.hash) AS context_key, ev.at AS evaluated_at FROM';
const SQLITE_SELECT_ROWS = `${SQLITE_SELECT_PAGE} findings f ${JOIN_PARTS}`;
export const SELECT_EVENTS =
  'SELECT e.*, a.body AS advisory FROM events e LEFT JOIN advisories a ON a.id = e.advisory_id';

export type Row = StoredRow & {
  id: number;
  advisory_id: number | null;
  evaluated_at?: number | null;
};
export interface EventRow {
  rv: number;
  type: ChangeEvent['type'];
  namespace: string;
  object: string;
  advisory: string | null;
  prev: string | null;
}

/** A write transaction in progress: the next resourceVersions and the changes to publish. */
interface Tx {
  rv: number;
  now: number;
  changes: ChangeEvent[];
}

export interface Applied {
  object: StoredFinding;
  /** How to show the result of a dry run: the object as it was, or without a version. */
  dryRunVersion?: string | undefined;
}

// ---------------------------------------------------------------- helpers

export function iso(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * A row as served: an open finding of a covered resource was observed again at the resource's
 * last evaluation, so its lastObservedAt is the later of the stored one and that evaluation.
 */
export function servedRow(row: Row): StoredFinding {
  const object = joinRow(row);
  const at = row.evaluated_at;
  const status = object.status as { status?: string; lastObservedAt?: string } | undefined;
  if (typeof at !== 'number' || status === undefined || status.status === 'CLOSED') return object;
  const stored = Date.parse(status.lastObservedAt ?? '');
  if (!(stored >= at)) status.lastObservedAt = iso(at);
  return object;
}

/** What would be stored: a JSON round trip's result (undefined members dropped), a new object. */
export function normalise(finding: StoredFinding): StoredFinding {
  return jsonClone(finding) as StoredFinding;
}

/** What would be stored of a value (undefined members dropped). */
export function normaliseValue(value: unknown): unknown {
  return value === undefined ? undefined : jsonClone(value);
}

export function selectable(object: StoredFinding): Selectable {
  return { labels: object.metadata.labels ?? {}, fields: findingFields(object) };
}

/** Parses a resourceVersion given by a client. */
export function parseRv(text: string): number {
  if (!/^\d{1,15}$/.test(text))
    throw new StoreError('Invalid', `invalid resourceVersion "${text}": must be a decimal number`);
  return Number(text);
}

export interface ContinueToken {
  rv: number;
  id: number;
}

export function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 1, rv: token.rv, id: token.id })).toString('base64url');
}

export function decodeContinue(text: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(text, 'base64url').toString()) as Record<string, unknown>;
    if (t.v === 1 && Number.isSafeInteger(t.rv) && Number.isSafeInteger(t.id))
      return { rv: t.rv as number, id: t.id as number };
  } catch {
    // fall through
  }
  throw new StoreError('Invalid', 'continue key is not valid');
}

export function notFound(name: string): StoreError {
  return new StoreError('NotFound', `${RESOURCE} "${name}" not found`);
}

export function conflict(name: string, why = 'the object has been modified'): StoreError {
  return new StoreError(
    'Conflict',
    `Operation cannot be fulfilled on ${RESOURCE} "${name}": ${why}; please apply your changes to the latest version and try again`,
  );
}

/** Checks uid and resourceVersion preconditions against the stored object. */
export function checkPreconditions(
  stored: StoredFinding,
  pre: DeletePreconditions | undefined,
): void {
  const meta = stored.metadata;
  if (pre?.uid !== undefined && pre.uid !== '' && pre.uid !== meta.uid)
    throw conflict(
      meta.name ?? '',
      `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${meta.uid}`,
    );
  if (
    pre?.resourceVersion !== undefined &&
    pre.resourceVersion !== '' &&
    pre.resourceVersion !== meta.resourceVersion
  )
    throw conflict(
      meta.name ?? '',
      `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${meta.resourceVersion}`,
    );
}

/**
 * What an update of a stored object writes: the given object with the server's fields kept
 * (namespace, name, uid, creationTimestamp), the generation raised when the spec changed, after
 * the update's resourceVersion and uid preconditions; undefined when nothing would change. The
 * caller gives the result its new resourceVersion.
 */
export function nextVersion(
  input: StoredFinding,
  stored: StoredFinding,
  row: { namespace: string; name: string; uid: string; rv: number | bigint },
): StoredFinding | undefined {
  const given = input.metadata.resourceVersion;
  if (given !== undefined && given !== '' && given !== stored.metadata.resourceVersion)
    throw conflict(row.name);
  const uid = input.metadata.uid;
  if (uid !== undefined && uid !== '' && uid !== row.uid)
    throw conflict(
      row.name,
      `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${row.uid}`,
    );
  const generation = Number(stored.metadata.generation ?? 1);
  const specChanged = !isDeepStrictEqual(normaliseValue(input.spec), stored.spec);
  const next = normalise({
    ...input,
    metadata: {
      ...input.metadata,
      namespace: row.namespace,
      name: row.name,
      uid: row.uid,
      ...(stored.metadata.creationTimestamp !== undefined
        ? { creationTimestamp: stored.metadata.creationTimestamp }
        : {}),
      generation: specChanged ? generation + 1 : generation,
      resourceVersion: String(row.rv),
    },
  });
  return isDeepStrictEqual(next, stored) ? undefined : next;
}

export function checkIdentity(finding: StoredFinding): { namespace: string; name: string } {
  const { namespace, name } = finding.metadata;
  if (typeof namespace !== 'string' || namespace === '')
    throw new StoreError('Invalid', 'metadata.namespace: Required value');
  if (typeof name !== 'string' || name === '')
    throw new StoreError(
      'Invalid',
      'metadata.name: Required value: name or generateName is required',
    );
  return { namespace, name };
}

// ---------------------------------------------------------------- snapshot reads

/**
 * A consistent read on a connection of its own: a read transaction (WAL snapshot) that later
 * commits do not change, read page by page. For ':memory:' databases (tests) the pages are read
 * at once from the store's connection.
 */
class Snapshot {
  readonly rv: number;
  private readonly db: DatabaseSync;
  private readonly readers: ReaderPool | undefined;
  private readonly rows: Row[] | undefined;
  private open = true;

  constructor(
    store: { path: string; db: DatabaseSync; rv: number; readers: ReaderPool },
    readAll: () => Row[],
  ) {
    if (store.path !== ':memory:') {
      this.readers = store.readers;
      this.db = this.readers.take();
      this.db.exec('BEGIN');
      const row = this.db.prepare(`SELECT value FROM meta WHERE key = 'rv'`).get() as
        { value: number } | undefined;
      this.rv = row?.value ?? 0;
    } else {
      this.db = store.db;
      this.rv = store.rv;
      this.rows = readAll();
    }
  }

  /** Up to `limit` matching rows after `afterId`, in id order. */
  page(filter: SqlFilter, afterId: number, limit: number): Row[] {
    if (this.rows !== undefined) return this.rows.filter((r) => r.id > afterId).slice(0, limit);
    return pageRows(this.db, filter, afterId, limit);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    if (this.readers === undefined) return;
    this.db.exec('COMMIT');
    this.readers.give(this.db);
  }
}

/**
 * Read-only connections for snapshots, kept open between them: opening one (the file, its
 * schema, the SQL functions) cost more than a small snapshot's reads, and the findings controller
 * takes a snapshot at every evaluation. At most `idle` wait; more are opened while busy.
 */
class ReaderPool {
  private readonly free: DatabaseSync[] = [];
  private closed = false;

  private readonly path: string;
  private readonly idle: number;

  constructor(path: string, idle = 4) {
    this.path = path;
    this.idle = idle;
  }

  take(): DatabaseSync {
    const db = this.free.pop();
    if (db !== undefined) return db;
    const made = new DatabaseSync(this.path);
    registerFunctions(made);
    made.exec('PRAGMA query_only = 1; PRAGMA cache_size = -2048');
    return made;
  }

  give(db: DatabaseSync): void {
    if (this.closed || this.free.length >= this.idle) db.close();
    else this.free.push(db);
  }

  close(): void {
    this.closed = true;
    for (const db of this.free.splice(0)) db.close();
  }
}

/** One bounded query: matching rows after an id, in id order. */
/**
 * One bounded query: matching rows after an id, in id order. The ids are chosen first (from an
 * index alone when the selectors allow), then only the page's rows are read: an `in` selector,
 * whose matches are not in id order, sorts ids, never whole rows.
 */
function pageRows(db: DatabaseSync, filter: SqlFilter, afterId: number, limit: number): Row[] {
  const ids = `SELECT f.id FROM findings f WHERE (${filter.where}) AND f.id > ? ORDER BY f.id LIMIT ?`;
  const sql = `${SQLITE_SELECT_PAGE} (${ids}) AS p JOIN findings f ON f.id = p.id ${JOIN_PARTS}`;
  const rows = db.prepare(sql).all(...filter.params, afterId, limit) as unknown as Row[];
  // Sorted here rather than by SQLite, which would copy whole rows into a sorter.
  return rows.sort((x, y) => x.id - y.id);
}

/** Whether a query has label or field selectors (not just a namespace). */
function selects(options: FindingQuery): boolean {
  return (
    (options.labelSelector?.requirements.length ?? 0) > 0 ||
    (options.fieldSelector?.requirements.length ?? 0) > 0
  );
}

/** The log's record of what a change replaced: its labels and fields, and the object. */
export function prevFromLog(prev: string | null): Pick<ChangeEvent, 'prev' | 'prevObject'> {
  if (prev === null) return {};
  const { object, ...selectableBefore } = JSON.parse(prev) as Selectable & {
    object?: StoredFinding;
  };
  return { prev: selectableBefore, prevObject: object };
}

// ---------------------------------------------------------------- the store

export class SqliteFindingStore implements FindingStore {
  readonly path: string;
  readonly db: DatabaseSync;
  rv: number;
  private readonly options: Required<
    Omit<SqliteFindingStoreOptions, 'path' | 'synchronous' | 'cacheSizeKiB'>
  >;
  private readonly watchers = new Set<LiveWatch>();
  readonly readers: ReaderPool;
  private readonly statements = new Map<string, StatementSync>();

  constructor(options: SqliteFindingStoreOptions) {
    this.path = options.path;
    this.options = {
      eventWindowMs: options.eventWindowMs ?? 15 * 60_000,
      maxEvents: options.maxEvents ?? 100_000,
      watchBufferSize: options.watchBufferSize ?? 10_000,
      pageSize: options.pageSize ?? 500,
      remainingCountLimit: options.remainingCountLimit ?? 10_000,
      now: options.now ?? Date.now,
    };
    this.db = new DatabaseSync(options.path);
    this.readers = new ReaderPool(options.path);
    this.db.exec(
      `PRAGMA journal_mode = WAL; PRAGMA synchronous = ${options.synchronous ?? 'FULL'}; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -${options.cacheSizeKiB ?? 8192}; PRAGMA temp_store = MEMORY;`,
    );
    registerFunctions(this.db);
    migrate(this.db);
    // Statistics for the planner (bounded work; only tables that changed enough).
    this.db.exec('PRAGMA analysis_limit = 400; PRAGMA optimize = 0x10002;');
    const row = this.sql(`SELECT value FROM meta WHERE key = 'rv'`).get() as
      { value: number } | undefined;
    this.rv = row?.value ?? 0;
  }

  /** A prepared statement, cached by its text. */
  private sql(text: string): StatementSync {
    let s = this.statements.get(text);
    if (s === undefined) {
      if (this.statements.size >= 256) this.statements.clear();
      s = this.db.prepare(text);
      this.statements.set(text, s);
    }
    return s;
  }

  currentResourceVersion(): string {
    return String(this.rv);
  }

  // -------------------------------------------------------------- reads

  private rowByKey(namespace: string, name: string): Row | undefined {
    return this.sql(`${SQLITE_SELECT_ROWS} WHERE f.namespace = ? AND f.name = ?`).get(
      namespace,
      name,
    ) as Row | undefined;
  }

  async get(namespace: string, name: string): Promise<StoredFinding | undefined> {
    await Promise.resolve();
    const row = this.rowByKey(namespace, name);
    return row && servedRow(row);
  }

  /** The resourceVersion of the oldest change a watch cannot resume after. */
  private compactedRv(): number {
    const row = this.sql('SELECT min(rv) AS m FROM events').get() as { m: number | null };
    return row.m === null ? this.rv : row.m - 1;
  }

  /** Which version a list is served at, per resourceVersion and resourceVersionMatch. */
  private listVersion(options: ListOptions): number {
    const text = options.resourceVersion;
    if (text === undefined || text === '' || text === '0') return this.rv;
    const n = parseRv(text);
    if (n > this.rv)
      throw new StoreError(
        'Expired',
        `resourceVersion ${n} is newer than the store's ${this.rv}; list again without one`,
      );
    if (options.resourceVersionMatch === 'Exact' && n !== this.rv)
      throw new StoreError(
        'Expired',
        `resourceVersion ${n} is gone: exact lists are served only at the latest version (${this.rv})`,
      );
    return this.rv;
  }

  /** Where a list starts: its version and the id after which it continues. */
  private listStart(options: ListOptions): ContinueToken {
    if (options.continue === undefined || options.continue === '')
      return { rv: this.listVersion(options), id: 0 };
    if (options.resourceVersion !== undefined && options.resourceVersion !== '')
      throw new StoreError(
        'Invalid',
        'specifying resource version is not allowed when using continue',
      );
    const token = decodeContinue(options.continue);
    if (token.rv < this.compactedRv())
      throw new StoreError(
        'Expired',
        'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
      );
    return token;
  }

  async list(options: ListOptions): Promise<ListResult> {
    const filter = filterSql(options);
    const start = this.listStart(options);
    if (options.limit === undefined || options.limit <= 0) {
      const pages = this.pagesFrom(filter, start);
      const items: StoredFinding[] = [];
      for await (const page of pages.pages) items.push(...page);
      return { items, resourceVersion: pages.resourceVersion };
    }
    const rows = pageRows(this.db, filter, start.id, options.limit + 1);
    const more = rows.length > options.limit;
    if (more) rows.length = options.limit;
    const result: ListResult = {
      items: rows.map(servedRow),
      resourceVersion: String(start.rv),
    };
    const last = rows.at(-1);
    if (more && last !== undefined) {
      result.continue = encodeContinue({ rv: start.rv, id: last.id });
      // As kube-apiserver's storage: a count only when nothing but the namespace narrows the
      // list (with selectors it would count non-matching objects there; here it would cost a
      // scan of every match per page).
      const remaining = selects(options) ? undefined : this.countAfter(filter, last.id);
      if (remaining !== undefined) result.remainingItemCount = remaining;
    }
    return result;
  }

  /** How many match after an id, when that is under the count limit. */
  private countAfter(filter: SqlFilter, afterId: number): number | undefined {
    const cap = this.options.remainingCountLimit;
    const sql = `SELECT count(*) AS n FROM (SELECT 1 FROM findings f WHERE (${filter.where}) AND f.id > ? LIMIT ?)`;
    const { n } = this.db.prepare(sql).get(...filter.params, afterId, cap) as { n: number };
    return n < cap ? n : undefined;
  }

  async listPages(options: Omit<ListOptions, 'limit'>): Promise<ListPages> {
    await Promise.resolve();
    return this.pagesFrom(filterSql(options), this.listStart(options));
  }

  /** Every match after a start, page by page, from one consistent snapshot. */
  private pagesFrom(filter: SqlFilter, start: ContinueToken): ListPages {
    const size = this.options.pageSize;
    const snapshot = this.snapshot(filter);
    const version = start.id === 0 ? snapshot.rv : start.rv;
    async function* pages(): AsyncGenerator<StoredFinding[]> {
      try {
        let after = start.id;
        for (;;) {
          const rows = snapshot.page(filter, after, size);
          if (rows.length === 0) return;
          after = rows.at(-1)!.id;
          yield rows.map(servedRow);
          await nextTurn();
        }
      } finally {
        snapshot.close();
      }
    }
    const iterator = pages();
    // Ending the iteration before its first page must release the snapshot too (a generator
    // that never started skips its finally).
    const release = iterator.return.bind(iterator);
    iterator.return = (value) => {
      snapshot.close();
      return release(value);
    };
    return { resourceVersion: String(version), pages: iterator };
  }

  private snapshot(filter: SqlFilter): Snapshot {
    return new Snapshot(this, () => {
      const rows: Row[] = [];
      for (let page = pageRows(this.db, filter, 0, 10_000); page.length > 0;) {
        rows.push(...page);
        page = pageRows(this.db, filter, page.at(-1)!.id, 10_000);
      }
      return rows;
    });
  }

  // -------------------------------------------------------------- watch

  async watch(options: WatchOptions): Promise<FindingWatch> {
    await Promise.resolve();
    const filter: WatchFilter = {
      namespace: options.namespace,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
    };
    const sqlFilter = filterSql(filter);
    const text = options.resourceVersion;
    const fromNow = text === undefined || text === '' || text === '0';
    const requested = fromNow ? this.rv : parseRv(text);
    if (requested > this.rv)
      throw new StoreError(
        'Expired',
        `resourceVersion ${requested} is newer than the store's ${this.rv}; list again`,
      );
    const common = {
      filter,
      capacity: this.options.watchBufferSize,
      bookmarkIntervalMs: options.allowWatchBookmarks ? options.bookmarkIntervalMs : undefined,
      currentResourceVersion: () => this.rv,
      onClose: (w: LiveWatch) => this.watchers.delete(w),
    };
    let watch: LiveWatch;
    if (options.sendInitialEvents === true || (fromNow && options.sendInitialEvents !== false)) {
      const snapshot = this.snapshot(sqlFilter);
      watch = new LiveWatch({
        ...common,
        liveAfter: snapshot.rv,
        initial: this.snapshotEvents(snapshot, sqlFilter),
        initialEventsEnd: options.sendInitialEvents === true ? snapshot.rv : undefined,
      });
    } else if (fromNow) {
      watch = new LiveWatch({ ...common, liveAfter: this.rv });
    } else {
      if (requested < this.compactedRv()) throw this.expired(requested);
      watch = new LiveWatch({
        ...common,
        liveAfter: this.rv,
        initial: this.replay(filter, requested, this.rv),
      });
    }
    this.watchers.add(watch);
    return watch;
  }

  private expired(rv: number): StoreError {
    return new StoreError('Expired', `too old resource version: ${rv} (${this.compactedRv()})`);
  }

  /** ADDED for every match of a snapshot, page by page. */
  private snapshotEvents(snapshot: Snapshot, filter: SqlFilter): InitialEvents {
    let after = 0;
    const size = this.options.pageSize;
    return {
      next: () => {
        const rows = snapshot.page(filter, after, size);
        if (rows.length === 0) return undefined;
        after = rows.at(-1)!.id;
        return rows.map((r): WatchEvent => ({ type: 'ADDED', object: servedRow(r) }));
      },
      close: () => snapshot.close(),
    };
  }

  /** The logged changes in (from, to], page by page; Expired if the log moves past them. */
  private replay(filter: WatchFilter, from: number, to: number): InitialEvents {
    let after = from;
    const size = this.options.pageSize;
    return {
      next: () => {
        if (after >= to) return undefined;
        if (after < this.compactedRv()) throw this.expired(after);
        const rows = this.sql(
          `${SELECT_EVENTS} WHERE e.rv > ? AND e.rv <= ? ORDER BY e.rv LIMIT ?`,
        ).all(after, to, size) as unknown as EventRow[];
        if (rows.length === 0 || rows[0]!.rv !== after + 1) throw this.expired(after);
        after = rows.at(-1)!.rv;
        return rows.flatMap((r) => visibleEvent(filter, this.changeFromLog(r)) ?? []);
      },
      close: () => undefined,
    };
  }

  private changeFromLog(r: EventRow): ChangeEvent {
    const object = joinEvent(r.object, r.advisory);
    return {
      type: r.type,
      rv: r.rv,
      namespace: r.namespace,
      object,
      ...selectable(object),
      ...prevFromLog(r.prev),
    };
  }

  // -------------------------------------------------------------- writes

  /** Runs writes in one transaction; publishes their changes after commit. */
  private transact(dryRun: boolean, fn: (tx: Tx) => Applied[]): StoredFinding[] {
    this.db.exec('BEGIN IMMEDIATE');
    // The sequence as committed (the write lock is held): never reuse a version, even if
    // another process wrote to the file.
    const stored = this.sql(`SELECT value FROM meta WHERE key = 'rv'`).get() as
      { value: number } | undefined;
    const tx: Tx = { rv: stored?.value ?? 0, now: this.options.now(), changes: [] };
    let applied: Applied[];
    try {
      applied = fn(tx);
      if (dryRun) {
        this.db.exec('ROLLBACK');
        return applied.map(dryRunResult);
      }
      if (tx.changes.length > 0) {
        this.sql(`INSERT OR REPLACE INTO meta (key, value) VALUES ('rv', ?)`).run(tx.rv);
        this.prune(tx);
      }
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
    this.rv = tx.rv;
    this.publish(tx.changes);
    return applied.map((a) => a.object);
  }

  /** Drops events past the count limit and (a bounded number) past the time window. */
  private prune(tx: Tx): void {
    this.sql('DELETE FROM events WHERE rv <= ?').run(tx.rv - this.options.maxEvents);
    this.sql(
      'DELETE FROM events WHERE rv IN (SELECT rv FROM events WHERE ts < ? ORDER BY ts LIMIT 2000)',
    ).run(tx.now - this.options.eventWindowMs);
  }

  private publish(changes: ChangeEvent[]): void {
    if (this.watchers.size === 0) return;
    for (const change of changes) for (const w of [...this.watchers]) w.deliver(change);
  }

  /** The row of a shared part (table advisories or resources), created when new. */
  private partId(table: 'advisories' | 'contexts', part: SharedPart | undefined): number | null {
    if (part === undefined) return null;
    const found = this.sql(`SELECT id FROM ${table} WHERE hash = ?`).get(part.hash) as
      { id: number } | undefined;
    if (found) return found.id;
    const made = this.sql(`INSERT INTO ${table} (hash, body) VALUES (?, ?) RETURNING id`).get(
      part.hash,
      part.body,
    ) as { id: number };
    return made.id;
  }

  /** Appends a change to the event log and to the transaction's changes. */
  private logChange(tx: Tx, change: ChangeEvent, advisoryId: number | null): void {
    const prev =
      change.prev === undefined
        ? null
        : JSON.stringify({ ...change.prev, object: change.prevObject });
    const body = eventBody(change.object);
    this.sql(
      'INSERT INTO events (rv, type, ts, namespace, advisory_id, object, prev) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ).run(change.rv, change.type, tx.now, change.namespace, advisoryId, body, prev);
    tx.changes.push(change);
  }

  private static readonly COLUMNS = (() => {
    const s = splitFinding({ metadata: { namespace: '', name: '', resourceVersion: '0' } });
    return Object.keys(s.columns);
  })();

  /** Inserts or rewrites a row (id given) and its extra labels; returns the advisory id. */
  private writeRow(
    object: StoredFinding,
    id: number | undefined,
    tx: Tx,
    type: ChangeEvent['type'],
    before?: StoredFinding,
  ): void {
    const split = splitFinding(object);
    const advisoryId = this.partId('advisories', split.advisory);
    const contextId = this.partId('contexts', split.context);
    const current = selectable(object);
    const prev = before === undefined ? undefined : selectable(before);
    const changed =
      prev !== undefined && canonicalJson(prev) !== canonicalJson(current) ? prev : undefined;
    const change: ChangeEvent = {
      type,
      rv: tx.rv,
      namespace: object.metadata.namespace,
      object,
      ...current,
      prev: changed,
      prevObject: changed === undefined ? undefined : before,
    };
    this.logChange(tx, change, advisoryId);
    const cols = SqliteFindingStore.COLUMNS;
    const values: SQLInputValue[] = [
      ...cols.map((c) => split.columns[c] ?? null),
      advisoryId,
      contextId,
      split.body,
    ];
    let rowId = id;
    if (rowId === undefined) {
      const sql = `INSERT INTO findings (${cols.join(', ')}, advisory_id, context_id, body) VALUES (${cols.map(() => '?').join(', ')}, ?, ?, ?) RETURNING id`;
      rowId = (this.sql(sql).get(...values) as { id: number }).id;
    } else {
      const sql = `UPDATE findings SET ${cols.map((c) => `${c} = ?`).join(', ')}, advisory_id = ?, context_id = ?, body = ? WHERE id = ?`;
      this.sql(sql).run(...values, rowId);
      this.sql('DELETE FROM finding_labels WHERE finding_id = ?').run(rowId);
    }
    for (const [key, value] of split.extraLabels)
      this.sql('INSERT INTO finding_labels (finding_id, key, value) VALUES (?, ?, ?)').run(
        rowId,
        key,
        value,
      );
  }

  /** Creates a finding whose key the caller found free. */
  private createIn(tx: Tx, input: StoredFinding): Applied {
    const given = input.metadata.resourceVersion;
    if (given !== undefined && given !== '')
      throw new StoreError('Invalid', 'metadata.resourceVersion: must be empty on create');
    tx.rv++;
    const object = normalise({
      ...input,
      metadata: {
        ...input.metadata,
        uid: randomUUID(),
        generation: 1,
        creationTimestamp: iso(tx.now),
        resourceVersion: String(tx.rv),
      },
    });
    this.writeRow(object, undefined, tx, 'ADDED');
    return { object, dryRunVersion: undefined };
  }

  private updateIn(tx: Tx, input: StoredFinding, row: Row): Applied {
    const stored = joinRow(row);
    const next = nextVersion(input, stored, row);
    if (next === undefined)
      return { object: stored, dryRunVersion: stored.metadata.resourceVersion };
    tx.rv++;
    next.metadata.resourceVersion = String(tx.rv);
    this.writeRow(next, row.id, tx, 'MODIFIED', stored);
    return { object: next, dryRunVersion: stored.metadata.resourceVersion };
  }

  private deleteIn(tx: Tx, namespace: string, name: string, pre?: DeletePreconditions): Applied {
    const row = this.rowByKey(namespace, name);
    if (row === undefined) throw notFound(name);
    const stored = joinRow(row);
    checkPreconditions(stored, pre);
    tx.rv++;
    const object: StoredFinding = {
      ...stored,
      metadata: { ...stored.metadata, resourceVersion: String(tx.rv) },
    };
    const change: ChangeEvent = {
      type: 'DELETED',
      rv: tx.rv,
      namespace,
      object,
      ...selectable(object),
    };
    this.logChange(tx, change, row.advisory_id);
    this.sql('DELETE FROM findings WHERE id = ?').run(row.id);
    return { object, dryRunVersion: stored.metadata.resourceVersion };
  }

  private apply(tx: Tx, write: BatchWrite): Applied {
    if (write.op === 'delete') return this.deleteIn(tx, write.namespace, write.name);
    const { namespace, name } = checkIdentity(write.finding);
    const row = this.rowByKey(namespace, name);
    if (write.op === 'create' && row !== undefined)
      throw new StoreError('AlreadyExists', `${RESOURCE} "${name}" already exists`);
    if (write.op === 'create' || (write.op === 'upsert' && row === undefined)) {
      const given = write.finding.metadata.resourceVersion;
      if (write.op === 'upsert' && given !== undefined && given !== '') throw notFound(name);
      return this.createIn(tx, write.finding);
    }
    if (row === undefined) throw notFound(name);
    return this.updateIn(tx, write.finding, row);
  }

  async create(finding: StoredFinding, options?: WriteOptions): Promise<StoredFinding> {
    await Promise.resolve();
    return this.transact(options?.dryRun === true, (tx) => [
      this.apply(tx, { op: 'create', finding }),
    ])[0]!;
  }

  async update(finding: StoredFinding, options?: WriteOptions): Promise<StoredFinding> {
    await Promise.resolve();
    return this.transact(options?.dryRun === true, (tx) => [
      this.apply(tx, { op: 'update', finding }),
    ])[0]!;
  }

  async delete(
    namespace: string,
    name: string,
    options?: WriteOptions & { preconditions?: DeletePreconditions },
  ): Promise<StoredFinding> {
    await Promise.resolve();
    return this.transact(options?.dryRun === true, (tx) => [
      this.deleteIn(tx, namespace, name, options?.preconditions),
    ])[0]!;
  }

  async batch(writes: BatchWrite[]): Promise<StoredFinding[]> {
    await Promise.resolve();
    return this.transact(false, (tx) => writes.map((w) => this.apply(tx, w)));
  }

  async deleteCollection(
    options: ListOptions,
    writeOptions?: WriteOptions,
  ): Promise<StoredFinding[]> {
    const filter = filterSql(options);
    const deleted: StoredFinding[] = [];
    const dryRun = writeOptions?.dryRun === true;
    for (let after = 0; ;) {
      const rows = pageRows(this.db, filter, after, this.options.pageSize);
      if (rows.length === 0) return deleted;
      after = rows.at(-1)!.id;
      const page = this.transact(dryRun, (tx) =>
        rows.flatMap((r) =>
          this.rowByKey(r.namespace, r.name) ? [this.deleteIn(tx, r.namespace, r.name)] : [],
        ),
      );
      deleted.push(...page);
      await nextTurn();
    }
  }

  // -------------------------------------------------------------- evaluations and counts

  async recordEvaluation(coveredResource: string, at: Date | undefined): Promise<void> {
    await Promise.resolve();
    if (at === undefined)
      this.sql('DELETE FROM evaluations WHERE covered_resource = ?').run(coveredResource);
    else
      this.sql('INSERT OR REPLACE INTO evaluations (covered_resource, at) VALUES (?, ?)').run(
        coveredResource,
        at.getTime(),
      );
  }

  async lastEvaluation(coveredResource: string): Promise<Date | undefined> {
    await Promise.resolve();
    const row = this.sql('SELECT at FROM evaluations WHERE covered_resource = ?').get(
      coveredResource,
    ) as { at: number } | undefined;
    return row === undefined ? undefined : new Date(row.at);
  }

  async count(options: FindingQuery): Promise<number> {
    await Promise.resolve();
    if (!selects(options)) {
      const groups = await this.countBy(options, []);
      return groups.reduce((n, g) => n + g.count, 0);
    }
    const filter = filterSql(options);
    const sql = `SELECT count(*) AS n FROM findings f WHERE ${filter.where}`;
    return (this.sql(sql).get(...filter.params) as { n: number }).n;
  }

  async countBy<K extends FindingCountKey>(
    options: FindingQuery,
    by: readonly K[],
  ): Promise<{ key: Record<K, string>; count: number }[]> {
    await Promise.resolve();
    const groups = by.map((_k, i) => `k${i}`);
    const groupBy = groups.length > 0 ? ` GROUP BY ${groups.join(', ')}` : '';
    let rows: Record<string, unknown>[];
    if (selects(options)) {
      const filter = filterSql(options);
      const columns = by.map((k, i) => `${COUNT_COLUMNS[k]} AS k${i}`);
      const sql = `SELECT ${[...columns, 'count(*) AS n'].join(', ')} FROM findings f WHERE ${filter.where}${groupBy}`;
      rows = this.sql(sql).all(...filter.params);
    } else {
      // Nothing but the namespace narrows it: the kept counts answer without reading findings.
      const columns = by.map((k, i) => `${COUNT_COLUMNS[k].replace(/^f\./, 'c.')} AS k${i}`);
      const where = options.namespace === undefined ? '' : ' WHERE c.namespace = ?';
      const sql = `SELECT ${[...columns, 'sum(c.n) AS n'].join(', ')} FROM finding_counts c${where}${groupBy}`;
      const params = options.namespace === undefined ? [] : [options.namespace];
      rows = (this.sql(sql).all(...params) as Record<string, unknown>[]).filter(
        (r) => r.n !== null && Number(r.n) > 0,
      );
    }
    return rows.map((r) => ({
      key: Object.fromEntries(
        by.map((k, i) => [k, typeof r[`k${i}`] === 'string' ? r[`k${i}`] : '']),
      ) as Record<K, string>,
      count: Number(r.n),
    }));
  }

  async marker(name: string): Promise<number | undefined> {
    await Promise.resolve();
    const row = this.sql('SELECT value FROM meta WHERE key = ?').get(`marker:${name}`) as
      { value: number } | undefined;
    return row?.value;
  }

  async setMarker(name: string, value: number): Promise<void> {
    await Promise.resolve();
    this.sql('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(`marker:${name}`, value);
  }

  // -------------------------------------------------------------- housekeeping

  async stats(): Promise<StoreStats> {
    await Promise.resolve();
    const count = (sql: string) => (this.sql(sql).get() as { n: number }).n;
    const pageCount = count('SELECT page_count AS n FROM pragma_page_count()');
    const pageSize = count('SELECT page_size AS n FROM pragma_page_size()');
    let wal = 0;
    if (this.path !== ':memory:') {
      try {
        wal = statSync(`${this.path}-wal`).size;
      } catch {
        wal = 0;
      }
    }
    return {
      findings: count('SELECT count(*) AS n FROM findings'),
      advisories: count('SELECT count(*) AS n FROM advisories'),
      bytesOnDisk: pageCount * pageSize + wal,
      oldestResumableResourceVersion: String(this.compactedRv()),
    };
  }

  async close(): Promise<void> {
    await Promise.resolve();
    for (const w of [...this.watchers]) w.close();
    this.readers.close();
    if (this.db.isOpen) {
      this.db.exec('PRAGMA optimize');
      this.db.close();
    }
  }
}

export function dryRunResult(a: Applied): StoredFinding {
  const object = structuredClone(a.object);
  if (a.dryRunVersion === undefined) delete object.metadata.resourceVersion;
  else object.metadata.resourceVersion = a.dryRunVersion;
  return object;
}
