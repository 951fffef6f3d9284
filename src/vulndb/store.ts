/**
 * The advisory store: a directory holding the on-disk index (`advisories.sqlite`), the state of
 * the last refreshes (`status.json`) and, while a refresh runs, its temporary files.
 *
 * A refresh asks every source what changed (conditional requests, fingerprints, change lists),
 * builds a new index file next to the current one — copying the records of the sources that did
 * not change or could not be read, loading the others — and renames it over the current one:
 * readers of the old file keep reading it until they let go, new readers get the new one. A
 * source that fails keeps its last good records; a refresh that cannot write (a full disk, an
 * index larger than its limit) keeps the whole last good index. Either way the error is in the
 * status. One refresh at a time per directory, across processes (a lock file).
 */
import { closeSync, existsSync, fsyncSync, openSync, rmSync, statSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  IndexReader,
  IndexWriter,
  type IndexedSource,
  type ReaderOptions,
  type SourceWriter,
} from './advisory-index.ts';
import { planSource, SourceError, type FetchOptions, type SourcePlan } from './fetch-source.ts';
import {
  initialRefreshStatus,
  RefreshingDatabase,
  type RefreshOutcome,
  type RefreshStatus,
} from './refreshing.ts';

export const INDEX_FILE = 'advisories.sqlite';
export const STATUS_FILE = 'status.json';
const LOCK_FILE = 'update.lock';

/** The state of one configured source. */
export interface SourceState {
  source: string;
  lastCheck: Date | undefined;
  /** When the source was last loaded or confirmed unchanged. */
  lastSuccess: Date | undefined;
  lastOutcome: RefreshOutcome | undefined;
  /** Why the last refresh could not read the source (its last good records are kept). */
  lastError: string | undefined;
  consecutiveFailures: number;
}

export interface SourceStatus extends RefreshStatus {
  /** The configured sources, comma-separated. */
  source: string;
  /** Per source, in the configured order. */
  sources: SourceState[];
}

export interface StoreOptions {
  /** The directory of the index (created when missing). */
  dir: string;
  /** Remove `dir` when the store is closed: a scratch directory nobody else reads. */
  removeDirOnClose?: boolean | undefined;
  /** Sources in order: directories, zip or JSON files, http(s) URLs. */
  sources: readonly string[];
  /** Time between refreshes, in milliseconds (default one hour). */
  intervalMs?: number | undefined;
  /** Per-request timeout, in milliseconds (default 5 minutes). */
  timeoutMs?: number | undefined;
  /** Largest download, in bytes (default 4 GiB). */
  maxDownloadBytes?: number | undefined;
  /** Largest index file, in bytes (default unlimited). */
  maxIndexBytes?: number | undefined;
  /** Most changed records fetched one by one from a change list (default 5,000). */
  maxChanges?: number | undefined;
  /** How long a replaced index stays open for readers that still hold it (default 60 s). */
  graceMs?: number | undefined;
  reader?: ReaderOptions | undefined;
  onRefresh?: ((outcome: RefreshOutcome, status: SourceStatus) => void) | undefined;
  now?: (() => Date) | undefined;
  fetch?: typeof fetch | undefined;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function newState(source: string): SourceState {
  return {
    source,
    lastCheck: undefined,
    lastSuccess: undefined,
    lastOutcome: undefined,
    lastError: undefined,
    consecutiveFailures: 0,
  };
}

/** `status.json`: the state of the last refreshes, as the store writes it. */
export interface PersistedStatus {
  lastCheck?: string | undefined;
  lastSuccess?: string | undefined;
  lastOutcome?: RefreshOutcome | undefined;
  lastError?: string | undefined;
  consecutiveFailures?: number | undefined;
  sources?: (Omit<SourceState, 'lastCheck' | 'lastSuccess'> & {
    lastCheck?: string | undefined;
    lastSuccess?: string | undefined;
  })[];
}

const date = (s: string | undefined): Date | undefined =>
  s === undefined ? undefined : new Date(s);

/** What a source contributes to the index being built. */
type Plan = SourcePlan | { kind: 'failed'; error: string };

let builds = 0;

/** Every changed source failed while being loaded: the index being served stays. */
class NothingNew extends Error {}

export class AdvisoryStore extends RefreshingDatabase<SourceStatus> {
  readonly dir: string;
  readonly indexPath: string;
  private readonly options: StoreOptions;
  private readonly fetchOptions: FetchOptions;
  private reader: IndexReader | undefined;
  private readonly clock: () => Date;

  constructor(options: StoreOptions) {
    if (options.sources.length === 0) throw new Error('no vulnerability database source given');
    for (const s of options.sources) {
      if (s === '') throw new Error('a vulnerability database source is empty');
      const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s)?.[1];
      if (scheme !== undefined && !/^https?$/i.test(scheme)) {
        throw new Error(`${s}: unsupported URL scheme ${scheme}: (use http or https)`);
      }
    }
    super(
      {
        source: options.sources.join(', '),
        ...initialRefreshStatus(),
        sources: options.sources.map(newState),
      },
      options,
    );
    this.options = options;
    this.dir = options.dir;
    this.indexPath = join(options.dir, INDEX_FILE);
    this.clock = options.now ?? (() => new Date());
    this.fetchOptions = {
      dir: options.dir,
      timeoutMs: options.timeoutMs ?? 300_000,
      maxBytes: options.maxDownloadBytes ?? 2 ** 32,
      maxChanges: options.maxChanges ?? 5_000,
      fetch: options.fetch ?? fetch,
    };
  }

  /**
   * Serves the index an earlier run left in the directory, without asking the sources, and
   * reads the state of the last refreshes. Returns false when there is no readable index, or
   * when it holds a source that is not configured.
   */
  async open(): Promise<boolean> {
    await this.readStatus();
    if (this.reader !== undefined) return true;
    if (!existsSync(this.indexPath)) return false;
    let reader: IndexReader;
    try {
      reader = new IndexReader(this.indexPath, this.options.reader);
    } catch (err) {
      this.status.lastError = `the index in ${this.dir} cannot be read: ${message(err)}`;
      return false;
    }
    // An index holding a source no longer configured is not served: the first refresh
    // replaces it.
    if (reader.sources.some((s) => !this.options.sources.includes(s.spec))) {
      reader.close();
      return false;
    }
    this.reader = reader;
    this.adopt(reader);
    return true;
  }

  /** The index being served, when there is one. */
  get index(): IndexReader | undefined {
    return this.reader;
  }

  private async readStatus(): Promise<void> {
    const saved = await readStatusFile(this.dir);
    if (saved === undefined) return;
    const s = this.status;
    s.lastCheck ??= date(saved.lastCheck);
    s.lastSuccess ??= date(saved.lastSuccess);
    s.lastOutcome ??= saved.lastOutcome;
    s.lastError ??= saved.lastError;
    if (s.consecutiveFailures === 0) s.consecutiveFailures = saved.consecutiveFailures ?? 0;
    for (const state of s.sources) {
      const old = saved.sources?.find((x) => x.source === state.source);
      if (old === undefined || state.lastCheck !== undefined) continue;
      Object.assign(state, {
        ...old,
        lastCheck: date(old.lastCheck),
        lastSuccess: date(old.lastSuccess),
      });
    }
  }

  private async writeStatus(): Promise<void> {
    const s = this.status;
    const iso = (d: Date | undefined): string | undefined => d?.toISOString();
    const out: PersistedStatus = {
      ...(s.lastCheck && { lastCheck: iso(s.lastCheck) }),
      ...(s.lastSuccess && { lastSuccess: iso(s.lastSuccess) }),
      ...(s.lastOutcome && { lastOutcome: s.lastOutcome }),
      ...(s.lastError !== undefined && { lastError: s.lastError }),
      consecutiveFailures: s.consecutiveFailures,
      sources: s.sources.map((x) => ({
        ...x,
        lastCheck: iso(x.lastCheck),
        lastSuccess: iso(x.lastSuccess),
      })),
    };
    const tmp = join(this.dir, `${STATUS_FILE}.${process.pid}.tmp`);
    try {
      await writeFile(tmp, JSON.stringify(out, null, 2));
      await rename(tmp, join(this.dir, STATUS_FILE));
    } catch {
      await rm(tmp, { force: true });
      // The status is also in memory and in the metrics; a full disk must not fail the refresh.
    }
  }

  protected async fetchNext(): Promise<IndexReader | 'not-modified'> {
    await mkdir(this.dir, { recursive: true });
    const unlock = await this.lock();
    try {
      await this.removeLeftovers();
      this.followSwap();
      return await this.refreshLocked();
    } finally {
      await unlock();
    }
  }

  /** Records the outcome of the refresh in `status.json` (the base class has updated it). */
  override async refresh(): Promise<RefreshOutcome> {
    const outcome = await super.refresh();
    await this.writeStatus();
    return outcome;
  }

  private async refreshLocked(): Promise<IndexReader | 'not-modified'> {
    const prev = this.reader;
    const plans = await this.plan(prev);
    try {
      if (plans.every((p) => p.kind === 'failed')) throw new Error(this.failures());
      const changes = plans.some((p) => p.kind === 'load' || p.kind === 'incremental');
      if (!changes && this.sameSources(prev)) return 'not-modified';
      return await this.build(prev, plans);
    } finally {
      for (const p of plans) if (p.kind === 'load') await p.cleanup();
    }
  }

  private sameSources(prev: IndexReader | undefined): boolean {
    const want = this.options.sources;
    return (
      prev !== undefined &&
      prev.sources.length === want.length &&
      prev.sources.every((s, i) => s.spec === want[i])
    );
  }

  /** The refresh's error when no source could be read. */
  private failures(): string {
    const failed = this.status.sources.filter((s) => s.lastOutcome === 'failed');
    if (failed.length === 1) return failed[0]!.lastError ?? 'failed';
    return `every source failed: ${failed.map((s) => `${s.source}: ${s.lastError ?? ''}`).join('; ')}`;
  }

  /** Asks every source what changed; a source that cannot be read is a failed plan. */
  private async plan(prev: IndexReader | undefined): Promise<Plan[]> {
    const previous = prev === undefined ? undefined : { path: prev.path };
    return Promise.all(
      this.options.sources.map(async (spec, i): Promise<Plan> => {
        const state = this.status.sources[i]!;
        const indexed = prev?.sources.find((s) => s.spec === spec);
        let plan: Plan;
        try {
          plan = await planSource(spec, indexed, previous, this.fetchOptions);
        } catch (err) {
          if (!(err instanceof SourceError)) throw err;
          plan = { kind: 'failed', error: err.message };
        }
        // A source with changes counts as read once its records are in the new index.
        if (plan.kind === 'failed') this.note(state, plan.error, plan.kind);
        else if (plan.kind === 'unchanged') this.note(state, undefined, plan.kind);
        return plan;
      }),
    );
  }

  private note(state: SourceState, error: string | undefined, kind: Plan['kind']): void {
    const now = this.clock();
    state.lastCheck = now;
    if (error === undefined) {
      state.lastSuccess = now;
      state.lastError = undefined;
      state.consecutiveFailures = 0;
      state.lastOutcome = kind === 'unchanged' ? 'not-modified' : 'updated';
    } else {
      state.lastError = error;
      state.consecutiveFailures++;
      state.lastOutcome = 'failed';
    }
  }

  private async build(
    prev: IndexReader | undefined,
    plans: Plan[],
  ): Promise<IndexReader | 'not-modified'> {
    const tmp = join(this.dir, `${INDEX_FILE}.${process.pid}.${++builds}.tmp`);
    const writer = new IndexWriter(tmp, {
      maxBytes: this.options.maxIndexBytes,
      firstRowid: (prev?.maxRowid() ?? 0) + 1,
    });
    let nextId = Math.max(0, ...(prev?.sources.map((s) => s.id) ?? [])) + 1;
    let loaded = 0;
    try {
      for (const [i, spec] of this.options.sources.entries()) {
        const plan = plans[i]!;
        const indexed = prev?.sources.find((s) => s.spec === spec);
        const id = indexed?.id ?? nextId++;
        const error = await this.buildSource(writer, prev, { spec, id, indexed }, plan);
        if (error !== undefined) this.note(this.status.sources[i]!, error, 'failed');
        else if (plan.kind === 'load' || plan.kind === 'incremental') {
          this.note(this.status.sources[i]!, undefined, plan.kind);
          loaded++;
        }
      }
      if (loaded === 0 && this.status.sources.every((s) => s.lastOutcome === 'failed')) {
        throw new SourceError(this.failures());
      }
      if (loaded === 0 && this.sameSources(prev)) throw new NothingNew();
      writer.finish();
    } catch (err) {
      writer.abort();
      await rm(tmp, { force: true });
      if (err instanceof NothingNew) return 'not-modified';
      if (err instanceof SourceError) throw new Error(err.message, { cause: err });
      throw new Error(`the index could not be written in ${this.dir}: ${message(err)}`, {
        cause: err,
      });
    }
    await rename(tmp, this.indexPath);
    syncDirectory(this.dir);
    const next = new IndexReader(this.indexPath, this.options.reader);
    this.retire(prev);
    this.reader = next;
    return next;
  }

  /** One source into the new index; returns why it failed when it did (its old records stay). */
  private async buildSource(
    writer: IndexWriter,
    prev: IndexReader | undefined,
    source: { spec: string; id: number; indexed: IndexedSource | undefined },
    plan: Plan,
  ): Promise<string | undefined> {
    const { spec, id, indexed } = source;
    const keep = (): void => {
      if (prev !== undefined && indexed !== undefined) writer.copySource(prev.path, indexed);
    };
    if (plan.kind === 'unchanged' || plan.kind === 'failed') {
      keep();
      return undefined;
    }
    if (plan.kind === 'incremental') {
      writer.exclude(plan.drop);
      writer.copySource(prev!.path, indexed!, true);
      const w = writer.addSource(spec, id, plan.validators, {
        ...indexed!.stats,
        errors: [],
        loadedAt: this.clock().toISOString(),
        mode: 'incremental',
      });
      for (const [rid, text] of plan.records) w.addJsonText(text, `${rid}.json`);
      return undefined;
    }
    const w: SourceWriter = writer.beginSource(spec, id, plan.validators);
    w.stats.loadedAt = this.clock().toISOString();
    writer.savepoint();
    let error: string | undefined;
    try {
      await plan.feed(w);
      if (w.kept === 0 && w.stats.malformed > 0) {
        const first = w.stats.errors[0];
        error =
          `no valid record among ${w.stats.malformed} malformed` +
          (first === undefined ? '' : ` (first: ${first.source}: ${first.message})`);
      }
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      error = err.message;
    }
    if (error === undefined) {
      writer.release();
      return undefined;
    }
    writer.discardSource(id);
    keep();
    return error;
  }

  /** Closes a replaced index once readers that still hold it had time to finish. */
  private retire(old: IndexReader | undefined): void {
    if (old === undefined) return;
    const t = setTimeout(() => old.close(), this.options.graceMs ?? 60_000);
    t.unref();
  }

  /** Serves the index another process swapped in since this one was opened. */
  private followSwap(): void {
    if (this.reader === undefined || !existsSync(this.indexPath)) return;
    let same: boolean;
    try {
      same = statSync(this.indexPath).ino === this.reader.inode;
    } catch {
      same = false;
    }
    if (same) return;
    try {
      const next = new IndexReader(this.indexPath, this.options.reader);
      this.retire(this.reader);
      this.reader = next;
      this.adopt(next);
    } catch {
      // the next build starts from scratch
    }
  }

  /** Removes temporary files a crashed refresh left behind (the lock is held). */
  private async removeLeftovers(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name.endsWith('.tmp')) await rm(join(this.dir, name), { force: true });
    }
  }

  /** Takes the directory's update lock; waits while another live process holds it. */
  private async lock(): Promise<() => Promise<void>> {
    const path = join(this.dir, LOCK_FILE);
    const deadline = Date.now() + (this.options.timeoutMs ?? 300_000) * 2;
    for (;;) {
      try {
        await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
        return () => rm(path, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      const age = Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? 0);
      if (!alive(holder) || age > 6 * 3_600_000) {
        await rm(path, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`another process (pid ${holder}) is updating the index in ${this.dir}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Stops refreshing and closes the index. */
  close(): void {
    this.stop();
    this.reader?.close();
    if (this.options.removeDirOnClose === true) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The state of the last refreshes in `dir`; undefined when there is none (or unreadable). */
export async function readStatusFile(dir: string): Promise<PersistedStatus | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, STATUS_FILE), 'utf8')) as PersistedStatus;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not every file system syncs directories; the rename itself is atomic
  }
}
