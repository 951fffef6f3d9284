// The FindingStore on PostgreSQL, for several serving replicas (docs/adr/0933). Same normalised
// rows, resourceVersion sequence and change log as the SQLite store (docs/adr/0900); what
// differs:
//
// - Writers are serialised on the sequence's row (`SELECT ... FOR UPDATE` on meta 'rv'), so
//   resourceVersions are taken in commit order with no gaps, from any replica.
// - The events table is the change feed shared by every replica. A write notifies
//   `kube_inspector_findings` with its last resourceVersion (delivered at commit). Each store
//   instance keeps a position in the feed and, woken by a notification (or its own commit, or a
//   slow poll), reads the events after its position in order and hands them to its watches. A
//   notification carries no data, so a lost one (a dropped LISTEN connection) only delays: the
//   next read catches up. A feed that finds the log moved past it ends its watches with Expired.
// - Connections come from a pool whose clients read the connection URL when they connect, so a
//   rotated password is used by every new connection. Reads retry a dropped connection.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { CHANGES_CHANNEL, DELETE_UNREFERENCED, migrate } from './postgres-schema.ts';
import { LABEL_COLUMNS, canonicalJson, joinEvent, joinRow } from './row.ts';
import { rowWrite, segments, writePending, type PendingWrite } from './postgres-batch.ts';
import {
  POSTGRES_DIALECT,
  filterSql,
  numberParams,
  type SqlFilter,
  type SqlValue,
} from './sql-filter.ts';
import {
  COUNT_COLUMNS,
  JOIN_PARTS,
  RESOURCE,
  SELECT_EVENTS,
  SELECT_PAGE,
  SELECT_ROWS,
  checkIdentity,
  checkPreconditions,
  decodeContinue,
  dryRunResult,
  encodeContinue,
  iso,
  nextVersion,
  normalise,
  notFound,
  parseRv,
  prevFromLog,
  selectable,
  servedRow,
  type Applied,
  type ContinueToken,
  type EventRow,
  type Row,
} from './sqlite.ts';
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
  type WatchFilter,
} from './watch.ts';

export interface PostgresFindingStoreOptions {
  /**
   * The connection URL (`postgres://user:password@host:5432/db?sslmode=verify-full&sslrootcert=
   * /path/ca.crt`), or a function giving it, called for every new connection (a URL file
   * re-read: password rotation).
   */
  url: string | (() => string);
  /** Most connections this instance opens; default 20 (snapshots of long lists hold one). */
  poolSize?: number;
  /** How long the change log keeps events for watches to resume from; default 15 minutes. */
  eventWindowMs?: number;
  /** The most events the log keeps, whatever their age; default 100,000. */
  maxEvents?: number;
  /** Events a watch may have waiting before it is ended with Expired; default 10,000. */
  watchBufferSize?: number;
  /** Rows per internal page; default 500. */
  pageSize?: number;
  /** Largest remainingItemCount counted; default 10,000. */
  remainingCountLimit?: number;
  /** How often the feed looks for changes without a notification; default 5 s. */
  pollIntervalMs?: number;
  /** Told about connection trouble the store recovers from (the listener reconnecting). */
  onConnectionError?: (err: unknown) => void;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

const D = POSTGRES_DIALECT;

/** A write transaction in progress. */
interface Tx {
  client: pg.PoolClient;
  rv: number;
  now: number;
  /** A dry run: changes are decided, nothing is written. */
  dryRun: boolean;
  /** Every change decided, in resourceVersion order (published after commit). */
  changes: ChangeEvent[];
  /** Changes decided and not written yet. */
  pending: PendingWrite[];
  /** The rows of the first writes' keys, read with the transaction's begin. */
  readAhead?: { keys: Set<string>; rows: Map<string, Row> } | undefined;
}

/** int8 (counts, ids, versions, times) as a JavaScript number: they stay below 2^53. */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    oid === 20
      ? Number
      : (pg.types.getTypeParser(oid, format) as unknown)) as typeof pg.types.getTypeParser,
};

/** Errors that mean the connection, not the statement, failed: a read may be tried again. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (/^(08|57P0)/.test(code)) return true;
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND'].includes(code)) return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/i.test(
    message,
  );
}

/**
 * Errors that mean the database refused this login (SQLSTATE class 28: a wrong password, a role
 * that may not log in): the connection URL is out of date, as between the two steps of a
 * password rotation (the role's password changed, the Secret not yet). Nothing else is wrong and
 * the next connection reads the URL again, so a request is answered 503, which clients retry.
 * The reason is named without the server's message (it names the role).
 */
export function loginRefusal(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === '28P01') return 'password authentication failed';
  if (typeof code === 'string' && code.startsWith('28')) return `login refused (SQLSTATE ${code})`;
  return undefined;
}

/**
 * How long a statement may go unanswered before its connection is given up (a database host
 * gone without closing the connection): the statement fails as a lost connection, so a list or
 * watch streaming from it ends with an error rather than waiting for ever.
 */
const STATEMENT_ANSWER_MS = 60_000;

/** pg clients that read the URL when they connect. */
function clientClass(url: () => string): typeof pg.Client {
  return class extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      super({
        ...config,
        connectionString: url(),
        types: TYPES,
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        query_timeout: STATEMENT_ANSWER_MS,
      });
    }
  };
}

/** A consistent read: a REPEATABLE READ transaction on a connection of its own. */
class Snapshot {
  rv = 0;
  private client: pg.PoolClient | undefined;
  private closedByStore = false;
  private readonly store: PostgresFindingStore;
  constructor(store: PostgresFindingStore) {
    this.store = store;
  }

  async open(): Promise<this> {
    const client = await this.store.checkout();
    this.client = client;
    this.store.snapshots.add(this);
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      this.rv = await storedRv(client);
      // The store closed meanwhile (it closed this snapshot and released the connection).
      if (this.client !== client) throw new Error('the PostgreSQL findings store is closed');
    } catch (err) {
      if (this.client === client) {
        this.client = undefined;
        client.release(err as Error);
      }
      this.store.snapshots.delete(this);
      // Closed by the store while opening: its connection's own error (often "Connection
      // terminated") is a consequence; say what happened.
      if (this.closedByStore)
        throw new Error('the PostgreSQL findings store is closed', { cause: err });
      throw err;
    }
    return this;
  }

  async page(filter: SqlFilter, afterId: number, limit: number): Promise<Row[]> {
    // Closed by the store under its reader: fail the read, never end a list short.
    if (this.closedByStore) throw new Error('the PostgreSQL findings store is closed');
    if (this.client === undefined) return [];
    return pageRows(this.client, filter, afterId, limit);
  }

  async compactedRv(): Promise<number> {
    return this.client === undefined ? this.rv : compactedRv(this.client, this.rv);
  }

  close(byStore = false): void {
    if (byStore) this.closedByStore = true;
    const client = this.client;
    this.client = undefined;
    this.store.snapshots.delete(this);
    if (client === undefined) return;
    client.query('COMMIT').then(
      () => client.release(),
      (err: unknown) => client.release(err as Error),
    );
  }
}

async function storedRv(q: pg.ClientBase | pg.Pool): Promise<number> {
  const { rows } = await q.query<{ value: number }>(`SELECT value FROM meta WHERE key = 'rv'`);
  return rows[0]?.value ?? 0;
}

/** The version of the last change a watch cannot resume after. */
async function compactedRv(q: pg.ClientBase | pg.Pool, head: number): Promise<number> {
  const { rows } = await q.query<{ m: number | null }>('SELECT min(rv) AS m FROM events');
  const m = rows[0]?.m ?? null;
  return m === null ? head : m - 1;
}

/** Matching rows after an id, in id order: ids first, then only the page's rows. */
async function pageRows(
  q: pg.ClientBase | pg.Pool,
  filter: SqlFilter,
  afterId: number,
  limit: number,
): Promise<Row[]> {
  const ids = `SELECT f.id FROM findings f WHERE (${filter.where}) AND f.id > ? ORDER BY f.id LIMIT ?`;
  const sql = `${SELECT_PAGE} (${ids}) AS p JOIN findings f ON f.id = p.id ${JOIN_PARTS} ORDER BY f.id`;
  const { rows } = await q.query<Row>(numberParams(sql), [...filter.params, afterId, limit]);
  return rows;
}

/** Whether an object has labels kept in finding_labels (not a well-known column). */
function hasExtraLabels(object: StoredFinding): boolean {
  return Object.keys(object.metadata.labels ?? {}).some((k) => LABEL_COLUMNS[k] === undefined);
}

function changeFromLog(r: EventRow): ChangeEvent {
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

const ROWS_BY_KEYS = `${SELECT_ROWS} WHERE (f.namespace, f.name) IN (SELECT * FROM unnest($1::text[], $2::text[]))`;

/** Rows by namespace/name. */
function keyed(rows: Row[]): Map<string, Row> {
  return new Map(rows.map((r) => [`${r.namespace}/${r.name}`, r]));
}

/** The rows of these keys (namespace/name), as a statement with the keys quoted in its text. */
function rowsByLiteralKeys(client: pg.ClientBase, keys: string[]): string {
  const pairs = keys.map((k) => {
    const slash = k.indexOf('/');
    return `(${client.escapeLiteral(k.slice(0, slash))}, ${client.escapeLiteral(k.slice(slash + 1))})`;
  });
  return `${SELECT_ROWS} WHERE (f.namespace, f.name) IN (VALUES ${pairs.join(', ')})`;
}

/** The keys the first segment of these writes reads. */
function firstKeys(writes: BatchWrite[]): string[] {
  return (segments(writes, writeKey)[0] ?? []).flatMap((w) => writeKey(w) ?? []);
}

/** The finding a write is about (namespace/name), when it names one. */
function writeKey(w: BatchWrite): string | undefined {
  const ns = w.op === 'delete' ? w.namespace : w.finding.metadata.namespace;
  const name = w.op === 'delete' ? w.name : w.finding.metadata.name;
  return typeof ns === 'string' && typeof name === 'string' ? `${ns}/${name}` : undefined;
}

export class PostgresFindingStore implements FindingStore {
  readonly pool: pg.Pool;
  /** Snapshots open (each holds a connection until its list is read or abandoned). */
  readonly snapshots = new Set<Snapshot>();
  /** The feed's position: every change up to it has been handed to this instance's watches. */
  rv = 0;
  private readonly options: Required<
    Omit<PostgresFindingStoreOptions, 'url' | 'poolSize' | 'onConnectionError'>
  >;
  private readonly url: () => string;
  private readonly onConnectionError: (err: unknown) => void;
  private readonly watchers = new Set<LiveWatch>();
  private feed: Promise<void> = Promise.resolve();
  private queuedCatchUp: Promise<void> | undefined;
  private listener: pg.Client | undefined;
  private poller: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(options: PostgresFindingStoreOptions) {
    const url = options.url;
    this.url = typeof url === 'string' ? () => url : url;
    this.onConnectionError = options.onConnectionError ?? (() => undefined);
    this.options = {
      eventWindowMs: options.eventWindowMs ?? 15 * 60_000,
      maxEvents: options.maxEvents ?? 100_000,
      watchBufferSize: options.watchBufferSize ?? 10_000,
      pageSize: options.pageSize ?? 500,
      remainingCountLimit: options.remainingCountLimit ?? 10_000,
      pollIntervalMs: options.pollIntervalMs ?? 5_000,
      now: options.now ?? Date.now,
    };
    this.pool = new pg.Pool({
      Client: clientClass(this.url),
      max: options.poolSize ?? 20,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
    });
    // An idle client whose server went away: the pool drops it and opens another when needed.
    this.pool.on('error', (err) => this.onConnectionError(err));
  }

  /** Connects, runs the migrations this database lacks and starts following the change feed. */
  static async open(options: PostgresFindingStoreOptions): Promise<PostgresFindingStore> {
    const store = new PostgresFindingStore(options);
    try {
      const client = await store.checkout();
      try {
        await migrate(client);
        store.rv = await storedRv(client);
      } finally {
        client.release();
      }
      await store.listen();
    } catch (err) {
      await store.close();
      throw err;
    }
    store.poller = setInterval(
      () => void store.catchUp().catch(() => undefined),
      store.options.pollIntervalMs,
    );
    store.poller.unref();
    return store;
  }

  currentResourceVersion(): string {
    return String(this.rv);
  }

  // -------------------------------------------------------------- connections

  /**
   * A pooled connection held for a transaction. A connection lost meanwhile fails the
   * statements on it; its error event (which the pool listens to only while a client is idle)
   * must not end the process.
   */
  async checkout(): Promise<pg.PoolClient> {
    this.checkOpen();
    const client = await this.pool.connect();
    const onError = (err: Error) => this.onConnectionError(err);
    client.on('error', onError);
    const release = client.release.bind(client);
    client.release = (err?: Error | boolean) => {
      client.off('error', onError);
      release(err);
    };
    return client;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('the PostgreSQL findings store is closed');
  }

  /** A read statement (`?` parameters), tried again when the connection drops. */
  private async read<T extends pg.QueryResultRow>(
    sql: string,
    params: SqlValue[] = [],
  ): Promise<T[]> {
    this.checkOpen();
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.pool.query<T>(numberParams(sql), params)).rows;
      } catch (err) {
        if (attempt >= 4 || this.closed || !isConnectionError(err)) throw err;
        await sleep(250 * attempt);
      }
    }
  }

  /** The LISTEN connection; reopened with backoff when it drops, then the feed catches up. */
  private async listen(): Promise<void> {
    const Client = clientClass(this.url);
    const client = new Client();
    let lost = false;
    const onLost = (err?: unknown) => {
      if (lost) return;
      lost = true;
      if (err !== undefined) this.onConnectionError(err);
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => undefined);
      if (!this.closed) void this.relisten(1);
    };
    await client.connect();
    client.on('error', (err) => onLost(err));
    client.on('end', () => onLost());
    client.on('notification', (n) => {
      if (n.channel === CHANGES_CHANNEL && Number(n.payload) > this.rv)
        void this.catchUp().catch(() => undefined);
    });
    try {
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch (err) {
      lost = true;
      void client.end().catch(() => undefined);
      throw err;
    }
    this.listener = client;
  }

  private async relisten(attempt: number): Promise<void> {
    await sleep(Math.min(200 * 2 ** (attempt - 1), 5_000));
    if (this.closed) return;
    try {
      await this.listen();
    } catch (err) {
      this.onConnectionError(err);
      void this.relisten(attempt + 1);
      return;
    }
    // Notifications sent while it was away are lost: read what the log has.
    await this.catchUp().catch(() => undefined);
  }

  // -------------------------------------------------------------- the change feed

  /** Runs fn while holding the feed: no change is handed to watches meanwhile. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.feed.then(fn);
    this.feed = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Hands every committed change after the feed's position to the watches, in order. */
  catchUp(): Promise<void> {
    // One catch-up waiting is enough: it reads everything committed when it starts.
    this.queuedCatchUp ??= this.exclusive(async () => {
      this.queuedCatchUp = undefined;
      await this.readFeed();
    });
    return this.queuedCatchUp;
  }

  private async readFeed(): Promise<void> {
    const size = this.options.pageSize;
    for (;;) {
      if (this.closed) return;
      const rows = await this.read<EventRow>(
        `${SELECT_EVENTS} WHERE e.rv > ? ORDER BY e.rv LIMIT ?`,
        [this.rv, size],
      );
      if (rows.length === 0 || rows[0]!.rv !== this.rv + 1) {
        const head = await storedRv(this.pool);
        if (head <= this.rv) return;
        if (rows.length === 0) continue; // committed between the two reads
        this.lose(head);
        return;
      }
      for (const r of rows) {
        this.rv = r.rv;
        this.publish([changeFromLog(r)]);
      }
      if (rows.length < size) return;
    }
  }

  /** The log no longer holds what the feed has not read: the watches relist. */
  private lose(head: number): void {
    const from = this.rv;
    this.rv = head;
    for (const w of [...this.watchers])
      w.fail(
        new StoreError(
          'Expired',
          `the change log moved past ${from} before it was read; list again`,
        ),
      );
  }

  private publish(changes: ChangeEvent[]): void {
    if (this.watchers.size === 0) return;
    for (const change of changes) for (const w of [...this.watchers]) w.deliver(change);
  }

  /** After a commit: its changes go to the watches directly when they follow the feed. */
  private async committed(changes: ChangeEvent[]): Promise<void> {
    if (changes.length === 0) return;
    const direct = await this.exclusive(() => {
      if (changes[0]!.rv !== this.rv + 1) return Promise.resolve(false);
      this.rv = changes.at(-1)!.rv;
      this.publish(changes);
      return Promise.resolve(true);
    });
    if (!direct) await this.catchUp().catch(() => undefined);
  }

  // -------------------------------------------------------------- reads

  async get(namespace: string, name: string): Promise<StoredFinding | undefined> {
    const [row] = await this.read<Row>(`${SELECT_ROWS} WHERE f.namespace = ? AND f.name = ?`, [
      namespace,
      name,
    ]);
    return row && servedRow(row);
  }

  /** Which version a list is served at, given the snapshot's. */
  private listVersion(options: ListOptions, head: number): number {
    const text = options.resourceVersion;
    if (text === undefined || text === '' || text === '0') return head;
    const n = parseRv(text);
    if (n > head)
      throw new StoreError(
        'Expired',
        `resourceVersion ${n} is newer than the store's ${head}; list again without one`,
      );
    if (options.resourceVersionMatch === 'Exact' && n !== head)
      throw new StoreError(
        'Expired',
        `resourceVersion ${n} is gone: exact lists are served only at the latest version (${head})`,
      );
    return head;
  }

  private async listStart(options: ListOptions, snapshot: Snapshot): Promise<ContinueToken> {
    if (options.continue === undefined || options.continue === '')
      return { rv: this.listVersion(options, snapshot.rv), id: 0 };
    if (options.resourceVersion !== undefined && options.resourceVersion !== '')
      throw new StoreError(
        'Invalid',
        'specifying resource version is not allowed when using continue',
      );
    const token = decodeContinue(options.continue);
    if (token.rv < (await snapshot.compactedRv()))
      throw new StoreError(
        'Expired',
        'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
      );
    return token;
  }

  async list(options: ListOptions): Promise<ListResult> {
    const filter = filterSql(options, D);
    if (options.limit === undefined || options.limit <= 0) {
      const pages = await this.listPages(options);
      const items: StoredFinding[] = [];
      for await (const page of pages.pages) items.push(...page);
      return { items, resourceVersion: pages.resourceVersion };
    }
    const snapshot = await this.snapshot();
    try {
      const start = await this.listStart(options, snapshot);
      const rows = await snapshot.page(filter, start.id, options.limit + 1);
      const more = rows.length > options.limit;
      if (more) rows.length = options.limit;
      const result: ListResult = { items: rows.map(servedRow), resourceVersion: String(start.rv) };
      const last = rows.at(-1);
      if (more && last !== undefined) {
        result.continue = encodeContinue({ rv: start.rv, id: last.id });
        const selected =
          (options.labelSelector?.requirements.length ?? 0) > 0 ||
          (options.fieldSelector?.requirements.length ?? 0) > 0;
        const remaining = selected ? undefined : await this.countAfter(filter, last.id);
        if (remaining !== undefined) result.remainingItemCount = remaining;
      }
      return result;
    } finally {
      snapshot.close();
    }
  }

  private async countAfter(filter: SqlFilter, afterId: number): Promise<number | undefined> {
    const cap = this.options.remainingCountLimit;
    const sql = `SELECT count(*) AS n FROM (SELECT 1 FROM findings f WHERE (${filter.where}) AND f.id > ? LIMIT ?) AS m`;
    const [row] = await this.read<{ n: number }>(sql, [...filter.params, afterId, cap]);
    const n = row?.n ?? 0;
    return n < cap ? n : undefined;
  }

  private async snapshot(): Promise<Snapshot> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await new Snapshot(this).open();
      } catch (err) {
        if (attempt >= 4 || this.closed || !isConnectionError(err)) throw err;
        await sleep(250 * attempt);
      }
    }
  }

  async listPages(options: Omit<ListOptions, 'limit'>): Promise<ListPages> {
    const filter = filterSql(options, D);
    const snapshot = await this.snapshot();
    let start: ContinueToken;
    try {
      start = await this.listStart(options, snapshot);
    } catch (err) {
      snapshot.close();
      throw err;
    }
    const size = this.options.pageSize;
    async function* pages(): AsyncGenerator<StoredFinding[]> {
      try {
        for (let after = start.id; ;) {
          const rows = await snapshot.page(filter, after, size);
          if (rows.length === 0) return;
          after = rows.at(-1)!.id;
          yield rows.map(servedRow);
        }
      } finally {
        snapshot.close();
      }
    }
    const iterator = pages();
    const release = iterator.return.bind(iterator);
    iterator.return = (value) => {
      snapshot.close();
      return release(value);
    };
    const version = start.id === 0 ? snapshot.rv : start.rv;
    return { resourceVersion: String(version), pages: iterator };
  }

  // -------------------------------------------------------------- watch

  async watch(options: WatchOptions): Promise<FindingWatch> {
    const filter: WatchFilter = {
      namespace: options.namespace,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
    };
    const sqlFilter = filterSql(filter, D);
    const text = options.resourceVersion;
    const fromNow = text === undefined || text === '' || text === '0';
    const requested = fromNow ? 0 : parseRv(text);
    // A version another replica wrote (or a list read) may be ahead of this feed: catch up.
    if (requested > this.rv) await this.catchUp();
    if (requested > this.rv)
      throw new StoreError(
        'Expired',
        `resourceVersion ${requested} is newer than the store's ${this.rv}; list again`,
      );
    const initial =
      options.sendInitialEvents === true || (fromNow && options.sendInitialEvents !== false);
    return this.exclusive(async () => {
      const common = {
        filter,
        capacity: this.options.watchBufferSize,
        bookmarkIntervalMs: options.allowWatchBookmarks ? options.bookmarkIntervalMs : undefined,
        currentResourceVersion: () => this.rv,
        onClose: (w: LiveWatch) => this.watchers.delete(w),
      };
      let watch: LiveWatch;
      if (initial) {
        // The feed is held, so it cannot pass the snapshot before the watch is registered;
        // changes up to the snapshot's version that it reads later are left out by liveAfter.
        const snapshot = await this.snapshot();
        watch = new LiveWatch({
          ...common,
          liveAfter: Math.max(snapshot.rv, this.rv),
          initial: this.snapshotEvents(snapshot, sqlFilter),
          initialEventsEnd: options.sendInitialEvents === true ? snapshot.rv : undefined,
        });
      } else if (fromNow) {
        watch = new LiveWatch({ ...common, liveAfter: this.rv });
      } else {
        const oldest = await compactedRv(this.pool, this.rv);
        if (requested < oldest) throw this.expired(requested, oldest);
        watch = new LiveWatch({
          ...common,
          liveAfter: this.rv,
          initial: this.replay(filter, requested, this.rv),
        });
      }
      this.watchers.add(watch);
      return watch;
    });
  }

  private expired(rv: number, oldest: number): StoreError {
    return new StoreError('Expired', `too old resource version: ${rv} (${oldest})`);
  }

  private snapshotEvents(snapshot: Snapshot, filter: SqlFilter): InitialEvents {
    let after = 0;
    const size = this.options.pageSize;
    return {
      next: async () => {
        const rows = await snapshot.page(filter, after, size);
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
      next: async () => {
        if (after >= to) return undefined;
        const rows = await this.read<EventRow>(
          `${SELECT_EVENTS} WHERE e.rv > ? AND e.rv <= ? ORDER BY e.rv LIMIT ?`,
          [after, to, size],
        );
        if (rows.length === 0 || rows[0]!.rv !== after + 1)
          throw this.expired(after, await compactedRv(this.pool, this.rv));
        after = rows.at(-1)!.rv;
        return rows.flatMap((r) => visibleEvent(filter, changeFromLog(r)) ?? []);
      },
      close: () => undefined,
    };
  }

  // -------------------------------------------------------------- writes

  /** Runs writes in one transaction holding the sequence; publishes after commit. */
  private async transact(
    dryRun: boolean,
    fn: (tx: Tx) => Promise<Applied[]>,
    firstKeys: string[] = [],
  ): Promise<StoredFinding[]> {
    const client = await this.checkout();
    let failed: unknown;
    let tx: Tx;
    let applied: Applied[];
    try {
      // One round trip: the transaction, the sequence's lock and the rows the first writes
      // touch (the keys as quoted literals: a text of several statements takes no parameters).
      const keys = [...new Set(firstKeys)];
      const sql = [`BEGIN`, `SELECT value FROM meta WHERE key = 'rv' FOR UPDATE`];
      if (keys.length > 0) sql.push(rowsByLiteralKeys(client, keys));
      const begun = (await client.query(sql.join('; '))) as unknown as pg.QueryResult[];
      const rv = (begun[1]?.rows[0] as { value: number } | undefined)?.value ?? 0;
      tx = { client, rv, now: this.options.now(), dryRun, changes: [], pending: [] };
      if (keys.length > 0)
        tx.readAhead = { keys: new Set(keys), rows: keyed(begun[2]!.rows as Row[]) };
      applied = await fn(tx);
      if (dryRun) {
        await client.query('ROLLBACK');
        return applied.map(dryRunResult);
      }
      await client.query(tx.changes.length > 0 ? this.commitSql(tx) : 'COMMIT');
    } catch (err) {
      failed = err;
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      // A connection that failed is closed rather than given to the next caller.
      client.release(
        failed !== undefined && isConnectionError(failed) ? (failed as Error) : undefined,
      );
    }
    await this.committed(tx.changes);
    return applied.map((a) => a.object);
  }

  /**
   * The end of a write transaction in one round trip: the sequence, the log pruned to its window
   * and count, the parts nobody refers to dropped, the notification, the commit. Only integers
   * this code computed are written into the text; a failing statement skips the rest (and the
   * caller rolls back).
   */
  private commitSql(tx: Tx): string {
    const int = (n: number): string => {
      if (!Number.isSafeInteger(n)) throw new Error(`not an integer: ${n}`);
      return String(n);
    };
    return [
      `UPDATE meta SET value = ${int(tx.rv)} WHERE key = 'rv'`,
      `DELETE FROM events WHERE rv <= ${int(tx.rv - this.options.maxEvents)}`,
      `DELETE FROM events WHERE rv IN (SELECT rv FROM events WHERE ts < ${int(tx.now - this.options.eventWindowMs)} ORDER BY ts LIMIT 2000)`,
      DELETE_UNREFERENCED,
      `SELECT pg_notify('${CHANGES_CHANNEL}', '${int(tx.rv)}')`,
      'COMMIT',
    ].join('; ');
  }

  /** The stored rows of these keys (namespace/name), read in one statement. */
  private async rowsByKey(tx: Tx, keys: Iterable<string>): Promise<Map<string, Row>> {
    const wanted = new Set(keys);
    const ahead = tx.readAhead;
    tx.readAhead = undefined;
    if (
      ahead !== undefined &&
      ahead.keys.size === wanted.size &&
      [...wanted].every((k) => ahead.keys.has(k))
    )
      return ahead.rows;
    const list = [...wanted].map((k) => {
      const slash = k.indexOf('/');
      return [k.slice(0, slash), k.slice(slash + 1)] as const;
    });
    if (list.length === 0) return new Map();
    const { rows } = await tx.client.query<Row>({
      name: 'ki_rows_by_keys',
      text: ROWS_BY_KEYS,
      values: [list.map(([ns]) => ns), list.map(([, name]) => name)],
    });
    return keyed(rows);
  }

  /** Decides a change of a finding (it is written by writePending with the others). */
  private pend(tx: Tx, change: ChangeEvent, write: PendingWrite | undefined): void {
    tx.changes.push(change);
    tx.pending.push(write ?? rowWrite(change));
  }

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
    const change: ChangeEvent = {
      type: 'ADDED',
      rv: tx.rv,
      namespace: object.metadata.namespace,
      object,
      ...selectable(object),
    };
    this.pend(tx, change, undefined);
    return { object, dryRunVersion: undefined };
  }

  private updateIn(tx: Tx, input: StoredFinding, row: Row): Applied {
    const stored = joinRow(row);
    const next = nextVersion(input, stored, row);
    if (next === undefined)
      return { object: stored, dryRunVersion: stored.metadata.resourceVersion };
    tx.rv++;
    next.metadata.resourceVersion = String(tx.rv);
    const current = selectable(next);
    const before = selectable(stored);
    const changed = canonicalJson(before) !== canonicalJson(current) ? before : undefined;
    const change: ChangeEvent = {
      type: 'MODIFIED',
      rv: tx.rv,
      namespace: next.metadata.namespace,
      object: next,
      ...current,
      prev: changed,
      prevObject: changed === undefined ? undefined : stored,
    };
    this.pend(tx, change, rowWrite(change, { id: row.id, hadExtraLabels: hasExtraLabels(stored) }));
    return { object: next, dryRunVersion: stored.metadata.resourceVersion };
  }

  private deleteIn(tx: Tx, row: Row, pre?: DeletePreconditions): Applied {
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
      namespace: row.namespace,
      object,
      ...selectable(object),
    };
    this.pend(tx, change, { kind: 'delete', change, id: row.id, advisoryId: row.advisory_id });
    return { object, dryRunVersion: stored.metadata.resourceVersion };
  }

  private apply(tx: Tx, write: BatchWrite, rows: Map<string, Row>): Applied {
    if (write.op === 'delete') {
      const row = rows.get(`${write.namespace}/${write.name}`);
      if (row === undefined) throw notFound(write.name);
      return this.deleteIn(tx, row);
    }
    const { namespace, name } = checkIdentity(write.finding);
    const row = rows.get(`${namespace}/${name}`);
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

  /** Writes what the transaction has decided so far (nothing on a dry run). */
  private async flush(tx: Tx): Promise<void> {
    const pending = tx.pending;
    tx.pending = [];
    if (!tx.dryRun) await writePending(tx.client, pending, tx.now);
  }

  /**
   * Writes in one transaction, segment by segment: a segment's rows are read in one statement,
   * its changes decided in memory and written in a few statements (postgres-batch.ts).
   */
  private async applyAll(tx: Tx, writes: BatchWrite[]): Promise<Applied[]> {
    const applied: Applied[] = [];
    for (const segment of segments(writes, writeKey)) {
      const rows = await this.rowsByKey(
        tx,
        segment.flatMap((w) => writeKey(w) ?? []),
      );
      for (const w of segment) applied.push(this.apply(tx, w, rows));
      await this.flush(tx);
    }
    return applied;
  }

  async create(finding: StoredFinding, options?: WriteOptions): Promise<StoredFinding> {
    const writes: BatchWrite[] = [{ op: 'create', finding }];
    const [result] = await this.transact(
      options?.dryRun === true,
      (tx) => this.applyAll(tx, writes),
      firstKeys(writes),
    );
    return result!;
  }

  async update(finding: StoredFinding, options?: WriteOptions): Promise<StoredFinding> {
    const writes: BatchWrite[] = [{ op: 'update', finding }];
    const [result] = await this.transact(
      options?.dryRun === true,
      (tx) => this.applyAll(tx, writes),
      firstKeys(writes),
    );
    return result!;
  }

  async delete(
    namespace: string,
    name: string,
    options?: WriteOptions & { preconditions?: DeletePreconditions },
  ): Promise<StoredFinding> {
    const key = `${namespace}/${name}`;
    const [result] = await this.transact(
      options?.dryRun === true,
      async (tx) => {
        const row = (await this.rowsByKey(tx, [key])).get(key);
        if (row === undefined) throw notFound(name);
        const applied = this.deleteIn(tx, row, options?.preconditions);
        await this.flush(tx);
        return [applied];
      },
      [key],
    );
    return result!;
  }

  async batch(writes: BatchWrite[]): Promise<StoredFinding[]> {
    return this.transact(false, (tx) => this.applyAll(tx, writes), firstKeys(writes));
  }

  async deleteCollection(
    options: ListOptions,
    writeOptions?: WriteOptions,
  ): Promise<StoredFinding[]> {
    const filter = filterSql(options, D);
    const deleted: StoredFinding[] = [];
    const dryRun = writeOptions?.dryRun === true;
    for (let after = 0; ;) {
      const rows = await pageRows(this.pool, filter, after, this.options.pageSize);
      if (rows.length === 0) return deleted;
      after = rows.at(-1)!.id;
      const keys = rows.map((r) => `${r.namespace}/${r.name}`);
      const page = await this.transact(
        dryRun,
        async (tx) => {
          // Those still there when the transaction holds the sequence.
          const current = await this.rowsByKey(tx, keys);
          const applied = keys.flatMap((k) => {
            const row = current.get(k);
            return row === undefined ? [] : [this.deleteIn(tx, row)];
          });
          await this.flush(tx);
          return applied;
        },
        keys,
      );
      deleted.push(...page);
    }
  }

  // -------------------------------------------------------------- evaluations and counts

  async recordEvaluation(coveredResource: string, at: Date | undefined): Promise<void> {
    this.checkOpen();
    if (at === undefined)
      await this.pool.query('DELETE FROM evaluations WHERE covered_resource = $1', [
        coveredResource,
      ]);
    else
      await this.pool.query(
        'INSERT INTO evaluations (covered_resource, at) VALUES ($1, $2) ON CONFLICT (covered_resource) DO UPDATE SET at = EXCLUDED.at',
        [coveredResource, at.getTime()],
      );
  }

  async lastEvaluation(coveredResource: string): Promise<Date | undefined> {
    const [row] = await this.read<{ at: number }>(
      'SELECT at FROM evaluations WHERE covered_resource = ?',
      [coveredResource],
    );
    return row === undefined ? undefined : new Date(row.at);
  }

  async count(options: FindingQuery): Promise<number> {
    const filter = filterSql(options, D);
    const [row] = await this.read<{ n: number }>(
      `SELECT count(*) AS n FROM findings f WHERE ${filter.where}`,
      filter.params,
    );
    return row?.n ?? 0;
  }

  async countBy<K extends FindingCountKey>(
    options: FindingQuery,
    by: readonly K[],
  ): Promise<{ key: Record<K, string>; count: number }[]> {
    const filter = filterSql(options, D);
    const columns = by.map((k, i) => `${COUNT_COLUMNS[k]} AS k${i}`);
    const groups = by.map((_k, i) => `k${i}`);
    const sql = `SELECT ${[...columns, 'count(*) AS n'].join(', ')} FROM findings f WHERE ${filter.where}${groups.length > 0 ? ` GROUP BY ${groups.join(', ')}` : ''}`;
    const rows = await this.read<Record<string, unknown>>(sql, filter.params);
    return rows.map((r) => ({
      key: Object.fromEntries(
        by.map((k, i) => [k, typeof r[`k${i}`] === 'string' ? r[`k${i}`] : '']),
      ) as Record<K, string>,
      count: Number(r.n),
    }));
  }

  async marker(name: string): Promise<number | undefined> {
    const [row] = await this.read<{ value: number }>('SELECT value FROM meta WHERE key = ?', [
      `marker:${name}`,
    ]);
    return row?.value;
  }

  async setMarker(name: string, value: number): Promise<void> {
    this.checkOpen();
    await this.pool.query(
      'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
      [`marker:${name}`, value],
    );
  }

  // -------------------------------------------------------------- housekeeping

  async stats(): Promise<StoreStats> {
    const [row] = await this.read<{ findings: number; advisories: number; bytes: number }>(
      `SELECT (SELECT count(*) FROM findings) AS findings, (SELECT count(*) FROM advisories) AS advisories,
        (SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = current_schema() AND c.relkind = 'r'
          AND c.relname IN ('findings', 'finding_labels', 'advisories', 'contexts', 'events', 'evaluations', 'meta')) AS bytes`,
    );
    const head = await storedRv(this.pool);
    return {
      findings: row?.findings ?? 0,
      advisories: row?.advisories ?? 0,
      bytesOnDisk: row?.bytes ?? 0,
      oldestResumableResourceVersion: String(await compactedRv(this.pool, head)),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    for (const w of [...this.watchers]) w.close();
    for (const s of [...this.snapshots]) s.close(true);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.feed;
    await this.pool.end();
  }
}
