// A live watch: initial events pulled page by page (the event log replay, or the ADDED events of
// a snapshot), then the committed changes the store pushes, in resourceVersion order, through a
// bounded buffer. A consumer that lets the buffer fill is ended with Expired (the client
// relists); the writer never waits for a watcher and no event is dropped silently.
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  matchesFields,
  matchesLabels,
  type FieldSelector,
  type LabelSelector,
} from './selectors.ts';
import { FINDINGS_API_VERSION } from '../api/v1alpha1/common.ts';
import {
  StoreError,
  type FindingWatch,
  type StoredFinding,
  type WatchEvent,
  type WatchEventType,
} from './store.ts';

/** What a watch selects. */
export interface WatchFilter {
  namespace?: string | undefined;
  labelSelector?: LabelSelector | undefined;
  fieldSelector?: FieldSelector | undefined;
}

/** What selection looks at: labels and selectable fields. */
export interface Selectable {
  labels: Readonly<Record<string, string>>;
  fields: Readonly<Record<string, string>>;
}

/** A committed change, as the store publishes it (and replays it from the log). */
export interface ChangeEvent extends Selectable {
  type: Exclude<WatchEventType, 'BOOKMARK'>;
  rv: number;
  namespace: string;
  object: StoredFinding;
  /** For MODIFIED: labels and fields before the change, when they differ from after. */
  prev?: Selectable | undefined;
  /** With `prev`: the object before the change (what a watcher it no longer matches sees). */
  prevObject?: StoredFinding | undefined;
}

function selects(filter: WatchFilter, s: Selectable): boolean {
  return (
    matchesLabels(filter.labelSelector, s.labels) && matchesFields(filter.fieldSelector, s.fields)
  );
}

/**
 * The event a watcher with this filter sees for a change, as kube-apiserver's watch cache
 * decides it: a modification that makes an object match is ADDED, one that makes it stop
 * matching is DELETED, carrying the object as it was (the last state the watcher saw) at the
 * change's resourceVersion.
 */
export function visibleEvent(filter: WatchFilter, e: ChangeEvent): WatchEvent | undefined {
  if (filter.namespace !== undefined && e.namespace !== filter.namespace) return undefined;
  const now = selects(filter, e);
  if (e.type !== 'MODIFIED') return now ? { type: e.type, object: e.object } : undefined;
  const before = e.prev === undefined ? now : selects(filter, e.prev);
  if (now) return { type: before ? 'MODIFIED' : 'ADDED', object: e.object };
  if (!before) return undefined;
  const last = e.prevObject ?? e.object;
  const object = { ...last, metadata: { ...last.metadata, resourceVersion: String(e.rv) } };
  return { type: 'DELETED', object };
}

/** A BOOKMARK event: only the resourceVersion (and the initial-events-end annotation). */
export function bookmark(resourceVersion: number, initialEventsEnd = false): WatchEvent {
  const metadata = {
    resourceVersion: String(resourceVersion),
    ...(initialEventsEnd ? { annotations: { 'k8s.io/initial-events-end': 'true' } } : {}),
  };
  return {
    type: 'BOOKMARK',
    object: {
      apiVersion: FINDINGS_API_VERSION,
      kind: 'Finding',
      metadata,
    } as unknown as StoredFinding,
  };
}

/** Pages of initial events; next() gives undefined when done (SQLite reads synchronously). */
export interface InitialEvents {
  next(): WatchEvent[] | undefined | Promise<WatchEvent[] | undefined>;
  close(): void;
}

export interface LiveWatchOptions {
  filter: WatchFilter;
  /** Changes with a resourceVersion above this are delivered live. */
  liveAfter: number;
  capacity: number;
  initial?: InitialEvents | undefined;
  /** Send the initial-events-end bookmark at this resourceVersion after the initial events. */
  initialEventsEnd?: number | undefined;
  bookmarkIntervalMs?: number | undefined;
  currentResourceVersion: () => number;
  onClose: (watch: LiveWatch) => void;
}

export class LiveWatch implements FindingWatch {
  private readonly options: LiveWatchOptions;
  private readonly queue: WatchEvent[] = [];
  private error: StoreError | undefined;
  private closed = false;
  private bookmarkDue = false;
  private wake: (() => void) | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(options: LiveWatchOptions) {
    this.options = options;
    const interval = options.bookmarkIntervalMs;
    if (interval !== undefined && interval > 0) {
      this.timer = setInterval(() => {
        this.bookmarkDue = true;
        this.signal();
      }, interval);
      this.timer.unref();
    }
  }

  /** Called by the store after each commit, in resourceVersion order. Never blocks. */
  deliver(change: ChangeEvent): void {
    if (this.closed || this.error || change.rv <= this.options.liveAfter) return;
    const event = visibleEvent(this.options.filter, change);
    if (event === undefined) return;
    if (this.queue.length >= this.options.capacity) {
      this.fail(
        new StoreError(
          'Expired',
          `the watch fell more than ${this.options.capacity} events behind; list again`,
        ),
      );
      return;
    }
    this.queue.push(event);
    this.signal();
  }

  /** Ends the watch with an error the consumer receives next. */
  fail(error: StoreError): void {
    if (this.closed || this.error) return;
    this.error = error;
    this.queue.length = 0;
    this.release();
    this.signal();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.release();
    this.signal();
  }

  private release(): void {
    if (this.timer) clearInterval(this.timer);
    this.options.initial?.close();
    this.options.onClose(this);
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private iterator: AsyncGenerator<WatchEvent> | undefined;

  /** The one iterator of this watch (asking again gives the same, so no event is sent twice). */
  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    this.iterator ??= this.run();
    return this.iterator;
  }

  private async *initialEvents(): AsyncGenerator<WatchEvent> {
    const initial = this.options.initial;
    if (initial !== undefined) {
      for (;;) {
        this.check();
        if (this.closed) return;
        const page = await initial.next();
        if (page === undefined) break;
        yield* page;
        await nextTurn();
      }
      initial.close();
    }
    this.check();
    if (this.options.initialEventsEnd !== undefined)
      yield bookmark(this.options.initialEventsEnd, true);
  }

  private check(): void {
    if (this.error) throw this.error;
  }

  private async *run(): AsyncGenerator<WatchEvent> {
    try {
      yield* this.initialEvents();
      for (;;) {
        this.check();
        if (this.closed) return;
        const event = this.queue.shift();
        if (event !== undefined) yield event;
        else if (this.bookmarkDue) {
          this.bookmarkDue = false;
          yield bookmark(this.options.currentResourceVersion());
        } else await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      this.close();
    }
  }
}
