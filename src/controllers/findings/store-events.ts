/**
 * Finding changes for the controllers, from the findings store's in-process watch (the store
 * the API serves): one watch per process, shared by every area that reacts to findings
 * (coverage's PENDING_DISABLE and RESOURCE_TERMINATED, suppression-rule counts, run-finding
 * suppression). It runs while the controllers run (a leader task), starts at the current
 * resourceVersion, resumes after the last event it saw, and when the store answers Expired
 * (or anything else goes wrong) it starts again from the current version and tells the
 * handlers to resync: they then re-enqueue everything that may have changed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FindingStore, StoredFinding } from '../../findings-store/store.ts';
import type { ControllerDeps } from '../deps.ts';

export interface FindingEventHandlers {
  /** A finding was created, changed or deleted (`object` as of the change). */
  change(object: StoredFinding): void;
  /** Events may have been missed: enqueue whatever depends on findings. */
  resync?(): void;
}

export interface FindingEvents {
  on(handlers: FindingEventHandlers): void;
}

const RETRY_MS = 1000;
const hubs = new WeakMap<FindingStore, FindingEvents>();

/** Follows the store until the signal aborts, calling the handlers. */
export async function followStore(
  store: FindingStore,
  handlers: () => readonly FindingEventHandlers[],
  signal: AbortSignal,
  onError: (err: unknown) => void,
): Promise<void> {
  let from = store.currentResourceVersion();
  while (!signal.aborted) {
    try {
      const watch = await store.watch({ resourceVersion: from });
      const close = () => watch.close();
      signal.addEventListener('abort', close, { once: true });
      // Aborted while the watch was being opened: no abort event will come to close it.
      if (signal.aborted) close();
      try {
        for await (const event of watch) {
          if (event.type === 'BOOKMARK') continue;
          from = event.object.metadata.resourceVersion ?? from;
          for (const h of handlers()) h.change(event.object);
        }
      } finally {
        signal.removeEventListener('abort', close);
      }
    } catch (err) {
      if (signal.aborted) return;
      onError(err);
      from = store.currentResourceVersion();
      for (const h of handlers()) h.resync?.();
      await sleep(RETRY_MS, undefined, { signal }).catch(() => undefined);
    }
  }
}

/** The process's finding events for the deps' store (one watch however many areas ask). */
export function findingEvents(deps: ControllerDeps): FindingEvents {
  const existing = hubs.get(deps.findingsStore);
  if (existing !== undefined) return existing;
  const list: FindingEventHandlers[] = [];
  const hub: FindingEvents = { on: (h) => list.push(h) };
  hubs.set(deps.findingsStore, hub);
  const log = deps.log.child({ area: 'finding-events' });
  deps.manager.addLeaderTask((signal) =>
    followStore(
      deps.findingsStore,
      () => list,
      signal,
      (err) =>
        log.warn({ err }, 'findings store watch ended; following again from the current version'),
    ),
  );
  return hub;
}
