/**
 * What the controllers depend on: the current database and a way to refresh it. The one
 * implementation is the on-disk advisory store (store.ts), fed by a list of sources: directories
 * of OSV JSON, zip or JSON files, http(s) URLs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VulnDatabase } from './database.ts';
import type { RefreshOutcome } from './refreshing.ts';
import { AdvisoryStore, type SourceState, type SourceStatus, type StoreOptions } from './store.ts';

export type { SourceState, SourceStatus };

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
  /** Stops refreshing and closes the index (removing it when it was a scratch directory). */
  close(): void;
}

/**
 * Store options; without `dir` the index lives in a temporary directory removed when the store
 * is closed, or at the latest when the process exits.
 */
export type SourceOptions = Omit<StoreOptions, 'sources' | 'dir'> & { dir?: string | undefined };

const scratchDirs: string[] = [];

function scratch(dir: string | undefined): { dir: string; removeDirOnClose: boolean } {
  if (dir !== undefined) return { dir, removeDirOnClose: false };
  const made = mkdtempSync(join(tmpdir(), 'kube-inspector-vulndb-'));
  if (scratchDirs.length === 0) {
    process.on('exit', () => {
      for (const d of scratchDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  scratchDirs.push(made);
  return { dir: made, removeDirOnClose: true };
}

/** An index in `options.dir` fed by `sources` (paths or http(s) URLs, in order). */
export function databaseSource(
  sources: string | readonly string[],
  options: SourceOptions = {},
): AdvisoryStore {
  return new AdvisoryStore({
    ...options,
    ...scratch(options.dir),
    sources: typeof sources === 'string' ? [sources] : sources,
  });
}

/** The index of one local directory, zip or JSON file. */
export class LocalDatabaseSource extends AdvisoryStore {
  constructor(path: string, options: SourceOptions = {}) {
    super({ ...options, ...scratch(options.dir), sources: [path] });
  }
}
