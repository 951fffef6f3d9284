// The findings store as this replica has it. With SQLite one process owns the database file, so
// the controller process serves the findings API from the start (discovery, OpenAPI and health
// answer on every replica) but opens the store only while it holds the lease: until then, and
// after it closed the store at shutdown, every findings request is answered 503
// ServiceUnavailable with a Retry-After, which kube-apiserver passes on and clients retry
// (docs/adr/0930). With PostgreSQL every replica opens the store at start and answers 503 only
// until the database is reachable (docs/adr/0933).
import type {
  BatchWrite,
  DeletePreconditions,
  FindingCountKey,
  FindingQuery,
  FindingStore,
  FindingWatch,
  ListOptions,
  ListPages,
  ListResult,
  StoreStats,
  StoredFinding,
  WatchOptions,
  WriteOptions,
} from '../findings-store/store.ts';
import { isConnectionError, loginRefusal } from '../findings-store/postgres.ts';
import { ApiError, failure } from './status.ts';

/** The answer while no store is open here (or its database cannot be reached). */
export function storeUnavailable(
  message = 'the findings store is not open on this replica yet (with SQLite only the leader opens it); try again shortly',
): ApiError {
  const status = failure('ServiceUnavailable', message);
  status.details = { retryAfterSeconds: 2 };
  return new ApiError(status);
}

/** A FindingStore that forwards to the store opened on this replica, or answers 503. */
export class StoreHolder implements FindingStore {
  private current: FindingStore | undefined;

  /** The open store, or undefined. */
  get store(): FindingStore | undefined {
    return this.current;
  }

  get isOpen(): boolean {
    return this.current !== undefined;
  }

  /** Serves this store from now on. */
  open(store: FindingStore): void {
    this.current = store;
  }

  /** Stops serving the store (its open watches end) and closes it. */
  async close(): Promise<void> {
    const store = this.current;
    this.current = undefined;
    await store?.close();
  }

  private use(): FindingStore {
    if (this.current === undefined) throw storeUnavailable();
    return this.current;
  }

  /** A call to the store; a database that cannot be reached is 503, which clients retry. */
  private async guard<T>(call: (store: FindingStore) => Promise<T>): Promise<T> {
    const store = this.use();
    try {
      return await call(store);
    } catch (err) {
      if (isConnectionError(err))
        throw storeUnavailable('the findings database cannot be reached; try again shortly');
      const refused = loginRefusal(err);
      if (refused !== undefined)
        throw storeUnavailable(
          `the findings database refused this replica's login (${refused}): the connection URL's credentials are out of date, as while a password is rotated; try again shortly`,
        );
      // The store closed under the call (this replica stopping, or losing the lease with SQLite).
      if (this.current !== store)
        throw storeUnavailable('the findings store closed on this replica; try again shortly');
      throw err;
    }
  }

  async get(namespace: string, name: string): Promise<StoredFinding | undefined> {
    return this.guard((s) => s.get(namespace, name));
  }
  async list(options: ListOptions): Promise<ListResult> {
    return this.guard((s) => s.list(options));
  }
  async listPages(options: Omit<ListOptions, 'limit'>): Promise<ListPages> {
    return this.guard((s) => s.listPages(options));
  }
  async watch(options: WatchOptions): Promise<FindingWatch> {
    return this.guard((s) => s.watch(options));
  }
  async create(finding: StoredFinding, options?: WriteOptions): Promise<StoredFinding> {
    return this.guard((s) => s.create(finding, options));
  }
  async update(finding: StoredFinding, options?: WriteOptions): Promise<StoredFinding> {
    return this.guard((s) => s.update(finding, options));
  }
  async delete(
    namespace: string,
    name: string,
    options?: WriteOptions & { preconditions?: DeletePreconditions },
  ): Promise<StoredFinding> {
    return this.guard((s) => s.delete(namespace, name, options));
  }
  async deleteCollection(
    options: ListOptions,
    writeOptions?: WriteOptions,
  ): Promise<StoredFinding[]> {
    return this.guard((s) => s.deleteCollection(options, writeOptions));
  }
  async batch(writes: BatchWrite[]): Promise<StoredFinding[]> {
    return this.guard((s) => s.batch(writes));
  }
  async recordEvaluation(coveredResource: string, at: Date | undefined): Promise<void> {
    return this.guard((s) => s.recordEvaluation(coveredResource, at));
  }
  async lastEvaluation(coveredResource: string): Promise<Date | undefined> {
    return this.guard((s) => s.lastEvaluation(coveredResource));
  }
  async count(options: FindingQuery): Promise<number> {
    return this.guard((s) => s.count(options));
  }
  async countBy<K extends FindingCountKey>(
    options: FindingQuery,
    by: readonly K[],
  ): Promise<{ key: Record<K, string>; count: number }[]> {
    return this.guard((s) => s.countBy(options, by));
  }
  async marker(name: string): Promise<number | undefined> {
    return this.guard((s) => s.marker(name));
  }
  async setMarker(name: string, value: number): Promise<void> {
    return this.guard((s) => s.setMarker(name, value));
  }
  currentResourceVersion(): string {
    return this.use().currentResourceVersion();
  }
  async stats(): Promise<StoreStats> {
    return this.guard((s) => s.stats());
  }
}
