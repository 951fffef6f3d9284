/**
 * A database that refreshes on an interval and keeps its last good version: the status
 * bookkeeping, the sharing of a refresh in flight, the update listeners and the timer. A new
 * database is built completely before it replaces the current one in a single assignment, so
 * readers see either the old or the new one; a failed refresh keeps the last good database and
 * is reported in the status. The on-disk index (`store.ts`) is the one subclass.
 */
import type { VulnDatabase } from './database.ts';

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

  /** Serves a database found without a refresh (an index left by an earlier run). */
  protected adopt(db: VulnDatabase): void {
    this.db = db;
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
