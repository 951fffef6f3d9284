/**
 * A database fetched from an HTTP(S) URL and refreshed on an interval with conditional
 * requests (`If-None-Match` with the last ETag, `If-Modified-Since` with the last
 * `Last-Modified`). A new database is built completely before it replaces the current one in a
 * single assignment, so readers see either the old or the new one; a failed refresh (network
 * error, timeout, HTTP error, unreadable payload, a payload with no valid record) keeps the last
 * good database and is reported in the status.
 *
 * The status bookkeeping and the interval timer live in {@link RefreshingDatabase}, which the
 * local sources in `source.ts` share.
 */
import type { VulnDatabase } from './database.ts';
import { loadBytes } from './loader.ts';

export type RefreshOutcome = 'updated' | 'not-modified' | 'failed';

/** The bookkeeping every refreshing database keeps, whatever it is fetched from. */
export interface RefreshStatus {
  /** When the last refresh finished, successful or not. */
  lastCheck: Date | undefined;
  /** When a database was last loaded (or confirmed unchanged, e.g. by a 304). */
  lastSuccess: Date | undefined;
  lastOutcome: RefreshOutcome | undefined;
  /** The error of the last refresh, when it failed. */
  lastError: string | undefined;
  consecutiveFailures: number;
}

export interface RemoteStatus extends RefreshStatus {
  url: string;
  etag: string | undefined;
  lastModified: string | undefined;
}

export interface RemoteOptions {
  url: string;
  /** Time between refreshes, in milliseconds (default one hour). */
  intervalMs?: number;
  /** Per-request timeout, in milliseconds (default 5 minutes). */
  timeoutMs?: number;
  /** Largest payload accepted, in bytes (default 2 GiB). */
  maxBytes?: number;
  /** Called after every refresh. */
  onRefresh?: (outcome: RefreshOutcome, status: RemoteStatus) => void;
  fetch?: typeof fetch;
  now?: () => Date;
}

async function readCapped(res: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new Error(`payload of ${declared} bytes is larger than the limit of ${maxBytes}`);
  }
  if (res.body === null) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new Error(`payload is larger than the limit of ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** A {@link RefreshStatus} before the first refresh. */
export function initialRefreshStatus(): RefreshStatus {
  return {
    lastCheck: undefined,
    lastSuccess: undefined,
    lastOutcome: undefined,
    lastError: undefined,
    consecutiveFailures: 0,
  };
}

export interface RefreshingOptions<S> {
  /** Time between refreshes, in milliseconds (default one hour). */
  intervalMs?: number | undefined;
  /** Called after every refresh. */
  onRefresh?: ((outcome: RefreshOutcome, status: S) => void) | undefined;
  now?: (() => Date) | undefined;
}

/**
 * A database that keeps its last good version and refreshes on an interval. It owns the status
 * bookkeeping, the sharing of a refresh in flight and the timer; a subclass supplies only
 * {@link RefreshingDatabase.fetchNext}, how the next database is fetched.
 */
export abstract class RefreshingDatabase<S extends RefreshStatus> {
  private db: VulnDatabase | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RefreshOutcome> | undefined;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly onRefresh: ((outcome: RefreshOutcome, status: S) => void) | undefined;
  private readonly now: () => Date;
  private readonly listeners = new Set<(db: VulnDatabase) => void>();
  readonly status: S;

  protected constructor(status: S, options: RefreshingOptions<S>) {
    this.status = status;
    this.intervalMs = options.intervalMs ?? 3_600_000;
    this.onRefresh = options.onRefresh;
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Fetches the next database, or says the current one is still good. Throws when the refresh
   * fails; the last good database is kept then.
   */
  protected abstract fetchNext(): Promise<VulnDatabase | 'not-modified'>;

  /** The last good database, or `undefined` before the first successful load. */
  get current(): VulnDatabase | undefined {
    return this.db;
  }

  /**
   * Calls `listener` with the new database after every swap (not on `not-modified` or a failed
   * refresh). Returns a function that removes the listener.
   */
  onUpdate(listener: (db: VulnDatabase) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One refresh; concurrent calls share the one in flight. */
  refresh(): Promise<RefreshOutcome> {
    this.running ??= this.doRefresh().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async doRefresh(): Promise<RefreshOutcome> {
    let outcome: RefreshOutcome;
    try {
      const next = await this.fetchNext();
      if (next === 'not-modified') {
        outcome = 'not-modified';
      } else {
        this.db = next; // the swap: one assignment
        outcome = 'updated';
      }
      this.status.lastSuccess = this.now();
      this.status.lastError = undefined;
      this.status.consecutiveFailures = 0;
    } catch (err) {
      outcome = 'failed';
      this.status.lastError = err instanceof Error ? err.message : String(err);
      this.status.consecutiveFailures++;
    }
    this.status.lastCheck = this.now();
    this.status.lastOutcome = outcome;
    this.onRefresh?.(outcome, this.status);
    if (outcome === 'updated' && this.db !== undefined) {
      for (const l of this.listeners) l(this.db);
    }
    return outcome;
  }

  /** Loads now, then refreshes every interval until {@link stop}. */
  async start(): Promise<RefreshOutcome> {
    this.stopped = false;
    const first = await this.refresh();
    this.schedule();
    return first;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.refresh().then(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

export class RemoteDatabase extends RefreshingDatabase<RemoteStatus> {
  private readonly options: Required<Omit<RemoteOptions, 'onRefresh' | 'intervalMs' | 'now'>>;

  constructor(options: RemoteOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`unsupported URL scheme ${url.protocol} (use http or https)`);
    }
    super(
      {
        url: options.url,
        ...initialRefreshStatus(),
        etag: undefined,
        lastModified: undefined,
      },
      options,
    );
    this.options = {
      url: options.url,
      timeoutMs: options.timeoutMs ?? 300_000,
      maxBytes: options.maxBytes ?? 2 ** 31,
      fetch: options.fetch ?? fetch,
    };
  }

  protected async fetchNext(): Promise<VulnDatabase | 'not-modified'> {
    const { url, timeoutMs, maxBytes } = this.options;
    const held = this.current !== undefined;
    const headers: Record<string, string> = { accept: 'application/zip, application/json' };
    // Conditional headers only make sense while we hold the database they describe.
    if (held && this.status.etag !== undefined) headers['if-none-match'] = this.status.etag;
    if (held && this.status.lastModified !== undefined) {
      headers['if-modified-since'] = this.status.lastModified;
    }
    const res = await this.options.fetch(url, {
      headers,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status === 304 && this.current !== undefined) {
      await res.body?.cancel();
      return 'not-modified';
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
    }
    const bytes = await readCapped(res, maxBytes);
    const next = loadBytes(bytes, url);
    if (next.size === 0 && next.stats.malformed > 0) {
      const first = next.stats.errors[0];
      throw new Error(
        `no valid record among ${next.stats.malformed} malformed` +
          (first === undefined ? '' : ` (first: ${first.source}: ${first.message})`),
      );
    }
    this.status.etag = res.headers.get('etag') ?? undefined;
    this.status.lastModified = res.headers.get('last-modified') ?? undefined;
    return next;
  }
}
