// An indexed in-memory store of trimmed objects, filled by a Reflector.
// Event handlers only enqueue keys; an exception in one is caught and counted,
// never allowed to reach the reflector or the process.
import type { Logger } from 'pino';
import { type KubeObject, objectKey } from './resources.ts';

export type IndexFunc<T> = (obj: T) => readonly string[];

export interface EventHandlers<T> {
  add?(obj: T): void;
  /** Called only when the resourceVersion changed. */
  update?(oldObj: T, newObj: T): void;
  delete?(obj: T): void;
}

export class Cache<T extends KubeObject = KubeObject> {
  private readonly items = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  private readonly indices = new Map<string, Map<string, Set<string>>>();
  private readonly handlers: EventHandlers<T>[] = [];
  private readonly log: Logger | undefined;
  /** Exceptions thrown by handlers (each is logged). */
  handlerErrors = 0;

  constructor(log?: Logger) {
    this.log = log;
  }

  get size(): number {
    return this.items.size;
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  /** Adds an index; objects already cached are indexed at once. */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    if (this.indexers.has(name)) throw new Error(`index ${name} exists`);
    this.indexers.set(name, fn);
    const index = new Map<string, Set<string>>();
    this.indices.set(name, index);
    for (const [key, obj] of this.items) this.indexOne(index, fn, key, obj);
  }

  /**
   * Adds an index unless one of that name exists. Controllers sharing a cache call this with
   * the same index function; the first one's is kept.
   */
  ensureIndexer(name: string, fn: IndexFunc<T>): void {
    if (!this.indexers.has(name)) this.addIndexer(name, fn);
  }

  /** Objects whose index function returned the value. */
  byIndex(name: string, value: string): T[] {
    const index = this.indices.get(name);
    if (index === undefined) throw new Error(`no index ${name}`);
    const keys = index.get(value);
    if (keys === undefined) return [];
    const out: T[] = [];
    for (const key of keys) {
      const obj = this.items.get(key);
      if (obj !== undefined) out.push(obj);
    }
    return out;
  }

  /** Index values currently present (e.g. every node name that has pods). */
  indexValues(name: string): string[] {
    const index = this.indices.get(name);
    if (index === undefined) throw new Error(`no index ${name}`);
    return [...index.keys()];
  }

  addHandlers(handlers: EventHandlers<T>): void {
    this.handlers.push(handlers);
    // A late handler sees every cached object as added, like an informer's initial list.
    if (handlers.add) for (const obj of this.items.values()) this.call(() => handlers.add?.(obj));
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.handlerErrors++;
      this.log?.error({ err }, 'cache event handler threw; the event is dropped for that handler');
    }
  }

  private indexOne(index: Map<string, Set<string>>, fn: IndexFunc<T>, key: string, obj: T): void {
    let values: readonly string[];
    try {
      values = fn(obj);
    } catch (err) {
      this.handlerErrors++;
      this.log?.error({ err, key }, 'index function threw; object not indexed');
      return;
    }
    for (const v of values) {
      let keys = index.get(v);
      if (keys === undefined) index.set(v, (keys = new Set()));
      keys.add(key);
    }
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      let values: readonly string[] = [];
      try {
        values = fn(obj);
      } catch {
        // it threw when indexing too; nothing was indexed
      }
      for (const v of values) {
        const keys = index.get(v);
        keys?.delete(key);
        if (keys?.size === 0) index.delete(v);
      }
    }
  }

  /** Stores an object (ADDED / MODIFIED) and notifies handlers. */
  upsert(obj: T): void {
    const key = objectKey(obj);
    const old = this.items.get(key);
    if (old !== undefined) {
      if (old.metadata.resourceVersion === obj.metadata.resourceVersion) return;
      this.unindex(key, old);
    }
    this.items.set(key, obj);
    for (const [name, fn] of this.indexers) this.indexOne(this.indices.get(name)!, fn, key, obj);
    for (const h of this.handlers) {
      if (old === undefined) this.call(() => h.add?.(obj));
      else this.call(() => h.update?.(old, obj));
    }
  }

  /** Removes an object (DELETED) and notifies handlers. */
  remove(obj: T): void {
    const key = objectKey(obj);
    const old = this.items.get(key);
    if (old === undefined) return;
    this.unindex(key, old);
    this.items.delete(key);
    for (const h of this.handlers) this.call(() => h.delete?.(old));
  }

  /** Replaces the contents with a fresh list: deletes for what vanished, adds and updates for the rest. */
  replace(objects: T[]): void {
    const fresh = new Set(objects.map((o) => objectKey(o)));
    for (const [key, obj] of [...this.items]) if (!fresh.has(key)) this.remove(obj);
    for (const obj of objects) this.upsert(obj);
  }
}

/** Index functions most controllers want. */
export const indexers = {
  byNamespace: (obj: KubeObject): string[] =>
    obj.metadata.namespace ? [obj.metadata.namespace] : [],
  byOwnerUid: (obj: KubeObject): string[] => (obj.metadata.ownerReferences ?? []).map((r) => r.uid),
  byNodeName: (obj: KubeObject): string[] => {
    const node = (obj.spec as { nodeName?: string } | undefined)?.nodeName;
    return node ? [node] : [];
  },
  /** Pods by the digests of the images their containers run (from status.containerStatuses[].imageID). */
  byImageDigest: (obj: KubeObject): string[] => {
    const status = obj.status as
      | {
          containerStatuses?: { imageID?: string }[];
          initContainerStatuses?: { imageID?: string }[];
        }
      | undefined;
    const digests = new Set<string>();
    for (const s of [
      ...(status?.containerStatuses ?? []),
      ...(status?.initContainerStatuses ?? []),
    ]) {
      const m = /sha256:[0-9a-f]{64}/.exec(s.imageID ?? '');
      if (m) digests.add(m[0]);
    }
    return [...digests];
  },
};
