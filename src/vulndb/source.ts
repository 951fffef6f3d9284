/**
 * One interface for every database source the controller can be given: a directory, a zip or
 * JSON file, or an HTTP(S) URL. Each keeps its last good database, reloads on an interval
 * (a local source only when its files changed, a URL with conditional requests), and swaps a
 * new database in whole.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { VulnDatabase } from './database.ts';
import { loadLocal } from './loader.ts';
import { RemoteDatabase, type RefreshOutcome, type RemoteStatus } from './remote.ts';

export interface SourceStatus {
  source: string;
  lastCheck: Date | undefined;
  lastSuccess: Date | undefined;
  lastOutcome: RefreshOutcome | undefined;
  lastError: string | undefined;
  consecutiveFailures: number;
}

/** What the controllers depend on: the current database and a way to refresh it. */
export interface DatabaseSource {
  /** The last good database, or `undefined` before the first successful load. */
  readonly current: VulnDatabase | undefined;
  readonly status: SourceStatus;
  refresh(): Promise<RefreshOutcome>;
  /** Loads now, then refreshes every interval until {@link DatabaseSource.stop}. */
  start(): Promise<RefreshOutcome>;
  stop(): void;
}

export interface SourceOptions {
  /** Time between refreshes, in milliseconds (default one hour). */
  intervalMs?: number;
  /** HTTP request timeout, in milliseconds. */
  timeoutMs?: number;
  onRefresh?: (outcome: RefreshOutcome, status: SourceStatus) => void;
  now?: () => Date;
}

/** A fingerprint of a file or a directory's `*.json` files: sizes and modification times. */
async function fingerprint(path: string): Promise<string> {
  const info = await stat(path);
  if (!info.isDirectory()) return `${info.size}:${info.mtimeMs}`;
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && e.name.endsWith('.json'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
  const parts: string[] = [];
  for (const f of files) {
    const s = await stat(f);
    parts.push(`${f}:${s.size}:${s.mtimeMs}`);
  }
  return parts.join('\n');
}

/** A directory or file, reloaded when its fingerprint changes. */
export class LocalDatabaseSource implements DatabaseSource {
  private db: VulnDatabase | undefined;
  private seen: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<RefreshOutcome> | undefined;
  private readonly path: string;
  private readonly options: SourceOptions;
  readonly status: SourceStatus;

  constructor(path: string, options: SourceOptions = {}) {
    this.path = path;
    this.options = options;
    this.status = {
      source: path,
      lastCheck: undefined,
      lastSuccess: undefined,
      lastOutcome: undefined,
      lastError: undefined,
      consecutiveFailures: 0,
    };
  }

  get current(): VulnDatabase | undefined {
    return this.db;
  }

  refresh(): Promise<RefreshOutcome> {
    this.running ??= this.doRefresh().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async doRefresh(): Promise<RefreshOutcome> {
    const now = this.options.now ?? (() => new Date());
    let outcome: RefreshOutcome;
    try {
      const print = await fingerprint(this.path);
      if (this.db !== undefined && print === this.seen) {
        outcome = 'not-modified';
      } else {
        const next = await loadLocal(this.path);
        if (next.size === 0 && next.stats.malformed > 0) {
          throw new Error(`no valid record among ${next.stats.malformed} malformed`);
        }
        this.db = next;
        this.seen = print;
        outcome = 'updated';
      }
      this.status.lastSuccess = now();
      this.status.lastError = undefined;
      this.status.consecutiveFailures = 0;
    } catch (err) {
      outcome = 'failed';
      this.status.lastError = err instanceof Error ? err.message : String(err);
      this.status.consecutiveFailures++;
    }
    this.status.lastCheck = now();
    this.status.lastOutcome = outcome;
    this.options.onRefresh?.(outcome, this.status);
    return outcome;
  }

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
    }, this.options.intervalMs ?? 3_600_000);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Adapts {@link RemoteDatabase} to {@link DatabaseSource}. */
class RemoteSource implements DatabaseSource {
  private readonly remote: RemoteDatabase;

  constructor(url: string, options: SourceOptions) {
    this.remote = new RemoteDatabase({
      url,
      ...(options.intervalMs !== undefined && { intervalMs: options.intervalMs }),
      ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      ...(options.now !== undefined && { now: options.now }),
      ...(options.onRefresh !== undefined && {
        onRefresh: (o: RefreshOutcome, s: RemoteStatus) => options.onRefresh?.(o, toStatus(s)),
      }),
    });
  }

  get current(): VulnDatabase | undefined {
    return this.remote.current;
  }

  get status(): SourceStatus {
    return toStatus(this.remote.status);
  }

  refresh(): Promise<RefreshOutcome> {
    return this.remote.refresh();
  }

  start(): Promise<RefreshOutcome> {
    return this.remote.start();
  }

  stop(): void {
    this.remote.stop();
  }
}

function toStatus(s: RemoteStatus): SourceStatus {
  return {
    source: s.url,
    lastCheck: s.lastCheck,
    lastSuccess: s.lastSuccess,
    lastOutcome: s.lastOutcome,
    lastError: s.lastError,
    consecutiveFailures: s.consecutiveFailures,
  };
}

/** A source for a path (directory, zip or JSON file) or an `http(s)://` URL. */
export function databaseSource(spec: string, options: SourceOptions = {}): DatabaseSource {
  if (/^https?:\/\//i.test(spec)) return new RemoteSource(spec, options);
  return new LocalDatabaseSource(spec, options);
}
