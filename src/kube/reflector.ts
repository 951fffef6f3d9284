// A reflector with client-go's semantics: list, then watch with bookmarks from
// the list's resourceVersion; resume every watch from the last resourceVersion
// seen; relist only on 410 Gone; end each watch after a random 5–10 minutes
// (timeoutSeconds) and abort one that has been silent too long (a half-open
// connection); back off with jitter on errors. It never gives up until its
// signal is aborted.
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Cache } from './cache.ts';
import { ApiError, type KubeClient, isGone, isNotFound } from './client.ts';
import {
  collectionPath,
  type KubeObject,
  type ManagedFieldsEntry,
  type ObjectList,
  type ResourceType,
  resourceName,
} from './resources.ts';

export type Transform<T extends KubeObject> = (obj: KubeObject) => T;

/**
 * Drops managedFields, keeping only the entries of `keepManager` (the
 * controller's own field managers, so writers can tell what they own).
 */
export function stripManagedFields<T extends KubeObject>(
  obj: T,
  keepManager?: string | readonly string[],
): T {
  const managed = obj.metadata.managedFields;
  if (managed === undefined) return obj;
  const keep: readonly string[] =
    typeof keepManager === 'string' ? [keepManager] : (keepManager ?? []);
  const kept: ManagedFieldsEntry[] = managed.filter(
    (m) => m.manager !== undefined && keep.includes(m.manager),
  );
  const metadata = { ...obj.metadata };
  if (kept.length > 0) metadata.managedFields = kept;
  else delete metadata.managedFields;
  return { ...obj, metadata };
}

export interface ReflectorOptions<T extends KubeObject> {
  client: KubeClient;
  resource: ResourceType;
  cache: Cache<T>;
  log: Logger;
  /** Only this namespace (namespaced resources); default all. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Trims each object before it is cached; default drops managedFields. */
  transform?: Transform<T>;
  /** Items per list page. Default 500. */
  pageSize?: number;
  /** Watches end after a random time in [min, 2*min) seconds. Default 300. */
  minWatchTimeoutSeconds?: number;
  /** A watch with no bytes for this long is aborted and resumed. Default 3 minutes. */
  inactivityMs?: number;
  /** Backoff after errors: initial and maximum delay. Defaults 800 ms and 30 s. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /**
   * The resource may not be served (a CRD that is not installed): a list answered 404 leaves
   * the cache empty and synced, and is tried again every `recheckMs` (default 60 s), so the
   * cache fills once the resource appears.
   */
  optional?: { recheckMs?: number | undefined };
  registry?: Registry;
}

interface ReflectorMetrics {
  restarts: Counter<'resource' | 'reason'>;
  relists: Counter<'resource'>;
  lastEvent: Gauge<'resource'>;
  objects: Gauge<'resource'>;
}

const metricsByRegistry = new WeakMap<
  Registry,
  { metrics: ReflectorMetrics; reflectors: Set<Reflector<KubeObject>> }
>();

function reflectorMetrics(registry: Registry, r: Reflector<KubeObject>): ReflectorMetrics {
  let entry = metricsByRegistry.get(registry);
  if (entry === undefined) {
    const reflectors = new Set<Reflector<KubeObject>>();
    entry = {
      reflectors,
      metrics: {
        restarts: new Counter({
          name: 'kubeinspector_watch_restarts_total',
          help: 'Watches restarted, by resource and reason (timeout, closed, inactive, gone, error).',
          labelNames: ['resource', 'reason'],
          registers: [registry],
        }),
        relists: new Counter({
          name: 'kubeinspector_relists_total',
          help: 'Full lists of a resource (the first one and each after 410 Gone).',
          labelNames: ['resource'],
          registers: [registry],
        }),
        lastEvent: new Gauge({
          name: 'kubeinspector_watch_last_event_age_seconds',
          help: 'Seconds since the watch of a resource last received anything (events or bookmarks).',
          labelNames: ['resource'],
          registers: [registry],
          collect() {
            for (const x of reflectors)
              this.set({ resource: x.resourceLabel }, x.secondsSinceLastEvent());
          },
        }),
        objects: new Gauge({
          name: 'kubeinspector_cache_objects',
          help: 'Objects held in the cache of a resource.',
          labelNames: ['resource'],
          registers: [registry],
          collect() {
            for (const x of reflectors) this.set({ resource: x.resourceLabel }, x.cacheSize());
          },
        }),
      },
    };
    metricsByRegistry.set(registry, entry);
  }
  entry.reflectors.add(r);
  return entry.metrics;
}

class InactiveWatch extends Error {
  constructor(ms: number) {
    super(`no data on the watch for ${ms} ms`);
    this.name = 'InactiveWatch';
  }
}

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject & { code?: number; reason?: string; message?: string };
}

const abortable = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });

export class Reflector<T extends KubeObject> {
  readonly resourceLabel: string;
  private readonly o: ReflectorOptions<T>;
  private readonly transform: Transform<T>;
  private readonly metrics: ReflectorMetrics | undefined;
  private resourceVersion = '';
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private lastEventAt = performance.now();
  private backoffMs: number;
  /** Counters for tests and logs. */
  readonly stats = { lists: 0, watches: 0, events: 0, bookmarks: 0, gone: 0, errors: 0 };

  constructor(options: ReflectorOptions<T>) {
    this.o = options;
    this.resourceLabel = resourceName(options.resource);
    this.transform = options.transform ?? ((obj) => stripManagedFields(obj) as T);
    this.backoffMs = options.backoffInitialMs ?? 800;
    this.metrics = options.registry
      ? reflectorMetrics(options.registry, this as unknown as Reflector<KubeObject>)
      : undefined;
  }

  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list has been stored. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      this.syncWaiters.push(resolve);
      signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });
  }

  secondsSinceLastEvent(): number {
    return (performance.now() - this.lastEventAt) / 1000;
  }

  cacheSize(): number {
    return this.o.cache.size;
  }

  private get path(): string {
    return collectionPath(this.o.resource, this.o.namespace);
  }

  private selectors(): Record<string, string | undefined> {
    return { labelSelector: this.o.labelSelector, fieldSelector: this.o.fieldSelector };
  }

  /** Runs until the signal is aborted; never throws. Calling it again resumes from the last resourceVersion. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.o.log.child({ resource: this.resourceLabel });
    let needList = this.resourceVersion === '';
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.list(signal);
          needList = false;
        }
        const reason = await this.watch(signal);
        this.metrics?.restarts.inc({ resource: this.resourceLabel, reason });
        this.backoffMs = this.o.backoffInitialMs ?? 800;
      } catch (err) {
        if (signal.aborted) break;
        if (this.o.optional !== undefined && isNotFound(err)) {
          needList = true;
          await this.notServed(signal, log);
          continue;
        }
        if (isGone(err)) {
          // The resourceVersion is too old (compacted): only a fresh list can resume.
          this.stats.gone++;
          this.metrics?.restarts.inc({ resource: this.resourceLabel, reason: 'gone' });
          log.info(
            { resourceVersion: this.resourceVersion },
            'resourceVersion expired (410 Gone); relisting',
          );
          needList = true;
          continue;
        }
        const inactive = err instanceof InactiveWatch;
        this.stats.errors++;
        this.metrics?.restarts.inc({
          resource: this.resourceLabel,
          reason: inactive ? 'inactive' : 'error',
        });
        const delay = this.nextBackoff();
        log.warn(
          {
            err: err instanceof Error ? { name: err.name, message: err.message } : String(err),
            retryInMs: Math.round(delay),
          },
          inactive ? 'watch went silent; resuming' : 'list or watch failed; retrying',
        );
        await abortable(delay, signal);
      }
    }
  }

  /** An optional resource answered 404: an empty, synced cache until the next check. */
  private async notServed(signal: AbortSignal, log: Logger): Promise<void> {
    // Within the inactivity limit, so the health check never takes the wait for a stuck watch.
    const recheckMs = Math.min(
      this.o.optional?.recheckMs ?? 60_000,
      this.o.inactivityMs ?? 180_000,
    );
    if (!this.synced || this.o.cache.size > 0 || this.resourceVersion !== '') {
      log.info({ recheckInMs: recheckMs }, 'resource not served (404); treated as empty');
    }
    this.o.cache.replace([]);
    this.resourceVersion = '';
    this.lastEventAt = performance.now();
    this.markSynced();
    await abortable(recheckMs, signal);
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  private nextBackoff(): number {
    const max = this.o.backoffMaxMs ?? 30_000;
    const base = this.backoffMs;
    this.backoffMs = Math.min(base * 2, max);
    // Full jitter in [base/2, base): spreads many reflectors restarting together.
    return base / 2 + (Math.random() * base) / 2;
  }

  private async list(signal: AbortSignal): Promise<void> {
    this.stats.lists++;
    this.metrics?.relists.inc({ resource: this.resourceLabel });
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    let paged = true;
    for (;;) {
      let page: ObjectList;
      try {
        page = await this.o.client.get<ObjectList>(this.path, {
          query: {
            ...this.selectors(),
            limit: paged ? (this.o.pageSize ?? 500) : undefined,
            continue: cont,
          },
          signal,
          timeoutMs: 120_000,
        });
      } catch (err) {
        if (isGone(err) && cont !== undefined) {
          // The continue token expired mid-list: start over without paging.
          items.length = 0;
          cont = undefined;
          paged = false;
          continue;
        }
        throw err;
      }
      for (const item of page.items) items.push(this.transform(item));
      rv = page.metadata.resourceVersion ?? rv;
      cont = page.metadata.continue || undefined;
      if (cont === undefined) break;
    }
    this.o.cache.replace(items);
    this.resourceVersion = rv;
    this.lastEventAt = performance.now();
    this.markSynced();
  }

  /** One watch; resolves with why it ended normally, throws on errors (ApiError 410 for Gone). */
  private async watch(signal: AbortSignal): Promise<'timeout' | 'closed'> {
    this.stats.watches++;
    const min = this.o.minWatchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(min * (1 + Math.random()));
    const inactivityMs = this.o.inactivityMs ?? 180_000;
    // The caller may have aborted while the list finished: a listener added now would never fire.
    if (signal.aborted) return 'closed';
    const watchAbort = new AbortController();
    const onAbort = (): void => watchAbort.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let inactivityTimer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(inactivityTimer);
      inactivityTimer = setTimeout(
        () => watchAbort.abort(new InactiveWatch(inactivityMs)),
        inactivityMs,
      );
    };
    const started = performance.now();
    try {
      arm();
      const res = await this.o.client.raw('GET', this.path, {
        query: {
          ...this.selectors(),
          watch: 1,
          allowWatchBookmarks: true,
          resourceVersion: this.resourceVersion,
          timeoutSeconds,
        },
        signal: watchAbort.signal,
        timeoutMs: 0,
      });
      if (res.body === null) return 'closed';
      const decoder = new TextDecoder();
      let buffered = '';
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        arm();
        this.lastEventAt = performance.now();
        buffered += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line !== '') this.handle(JSON.parse(line) as WatchEvent);
        }
      }
      const elapsed = (performance.now() - started) / 1000;
      return elapsed >= timeoutSeconds - 1 ? 'timeout' : 'closed';
    } catch (err) {
      const reason: unknown = watchAbort.signal.reason;
      if (reason instanceof InactiveWatch) throw reason;
      throw err;
    } finally {
      clearTimeout(inactivityTimer);
      signal.removeEventListener('abort', onAbort);
      if (!watchAbort.signal.aborted) watchAbort.abort();
    }
  }

  private handle(event: WatchEvent): void {
    const obj = event.object;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.stats.events++;
        this.o.cache.upsert(this.transform(obj));
        break;
      case 'DELETED':
        this.stats.events++;
        this.o.cache.remove(this.transform(obj));
        break;
      case 'BOOKMARK':
        this.stats.bookmarks++;
        break;
      case 'ERROR': {
        const code = obj.code ?? 500;
        throw new ApiError('WATCH', this.path, code, {
          ...(obj.reason !== undefined ? { reason: obj.reason } : {}),
          ...(obj.message !== undefined ? { message: obj.message } : {}),
        });
      }
      default:
        return;
    }
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
  }
}
