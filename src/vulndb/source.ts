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
import {
  initialRefreshStatus,
  RefreshingDatabase,
  RemoteDatabase,
  type RefreshOutcome,
  type RefreshStatus,
  type RemoteStatus,
} from './remote.ts';

export interface SourceStatus extends RefreshStatus {
  source: string;
}

/** What the controllers depend on: the current database and a way to refresh it. */
export interface DatabaseSource {
  /** The last good database, or `undefined` before the first successful load. */
  readonly current: VulnDatabase | undefined;
  readonly status: SourceStatus;
  refresh(): Promise<RefreshOutcome>;
  /**
   * Calls `listener` with the new database after every swap. Returns a function that removes
   * the listener.
   */
  onUpdate(listener: (db: VulnDatabase) => void): () => void;
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
export class LocalDatabaseSource
  extends RefreshingDatabase<SourceStatus>
  implements DatabaseSource
{
  private seen: string | undefined;
  private readonly path: string;

  constructor(path: string, options: SourceOptions = {}) {
    super({ source: path, ...initialRefreshStatus() }, options);
    this.path = path;
  }

  protected async fetchNext(): Promise<VulnDatabase | 'not-modified'> {
    const print = await fingerprint(this.path);
    if (this.current !== undefined && print === this.seen) return 'not-modified';
    const next = await loadLocal(this.path);
    if (next.size === 0 && next.stats.malformed > 0) {
      throw new Error(`no valid record among ${next.stats.malformed} malformed`);
    }
    this.seen = print;
    return next;
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

  onUpdate(listener: (db: VulnDatabase) => void): () => void {
    return this.remote.onUpdate(listener);
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
