// An events.k8s.io/v1 recorder with the semantics of client-go's tools/events:
//   - isomorphic events (same type, action, reason, reporting controller and
//     instance, regarding and related object; the note does not count) fold
//     into one Event: the second occurrence patches `series {count,
//     lastObservedTime}` onto the first; later ones only count in memory and
//     are written when the series is refreshed (30 min), finishes (6 min
//     without a new occurrence), or on flush()/close();
//   - a per-object token bucket (burst 25, one token per 5 minutes, the spam
//     filter of tools/record) limits the writes one object can cause;
//   - fire-and-forget: event() validates, enqueues and returns; it never
//     throws and never waits. A bounded queue is written by one background
//     worker; transport errors, 429 and 5xx are retried a bounded number of
//     times; every drop and failure is counted, and a failure streak is
//     logged once.
// What folds and what the spam filter lets through is decided in event-series.ts (pure); this
// file is the writer.
import { type EventsV1Event, type EventsV1EventSeries, V1MicroTime } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ApiError, type KubeClient } from './client.ts';
import { briefError, httpCode } from './error-fields.ts';
import { type DropReason, type RecorderMetrics, recorderMetrics } from './event-metrics.ts';
import {
  DEFAULT_REPORTING_CONTROLLER,
  type EventInput,
  eventProblems,
  isomorphicKey,
  KeyedTokenBucket,
  cut,
  type ObjectReference,
  SERIES_FINISH_MS,
  SERIES_REFRESH_MS,
  SeriesCache,
  type SeriesEntry,
  SPAM_BURST,
  SPAM_REFILL_MS,
  spamKey,
  toReference,
  truncateNote,
} from './event-series.ts';

export {
  type EventInput,
  type EventType,
  type ObjectReference,
  objectReference,
} from './event-series.ts';
/** Where events go. */
export interface EventSink {
  create(namespace: string, event: EventsV1Event): Promise<unknown>;
  /** Merge-patches `series` onto an existing Event. */
  patchSeries(namespace: string, name: string, series: EventsV1EventSeries): Promise<unknown>;
}

const EVENTS = '/apis/events.k8s.io/v1/namespaces';

/** The recorder reads an HTTP status from `code`; the client's errors carry it as `status`. */
function withCode(err: unknown): unknown {
  return err instanceof ApiError ? Object.assign(err, { code: err.status }) : err;
}

/** An EventSink over the product's KubeClient (its QPS limit and metrics). */
export function clientEventSink(client: KubeClient): EventSink {
  const rethrow = (err: unknown): never => {
    throw withCode(err);
  };
  return {
    create: (namespace, event) =>
      client
        .request('POST', `${EVENTS}/${encodeURIComponent(namespace)}/events`, { body: event })
        .catch(rethrow),
    patchSeries: (namespace, name, series) =>
      client
        .request(
          'PATCH',
          `${EVENTS}/${encodeURIComponent(namespace)}/events/${encodeURIComponent(name)}`,
          { body: { series }, contentType: 'application/merge-patch+json' },
        )
        .catch(rethrow),
  };
}

// ---------------------------------------------------------------- recorder

export interface EventRecorderOptions {
  sink: EventSink;
  /** The pod name; cut to 128 characters. */
  reportingInstance: string;
  reportingController?: string;
  logger?: Logger;
  registry?: Registry;
  /** Wall-clock ms. Default Date.now. */
  clock?: () => number;
  random?: () => number;
  /** Writes waiting or scheduled for retry at most. Default 1000. */
  maxQueue?: number;
  /** Tries per write (tools/events: 12). Default 12. */
  maxAttempts?: number;
  /** Delay before a retry, jittered by ±25 % (tools/events: 10 s). Default 10 s. */
  retryDelayMs?: number;
  spamBurst?: number;
  spamRefillMs?: number;
  seriesFinishMs?: number;
  seriesRefreshMs?: number;
  /** How often finished and stale series are looked for. Default 60 s. */
  sweepIntervalMs?: number;
}

interface Job {
  kind: 'create' | 'patch';
  entry: SeriesEntry;
  attempts: number;
}

function retriable(err: unknown): boolean {
  const code = httpCode(err);
  // Transport errors have no HTTP code; 429 and 5xx are the server asking for later.
  return code === undefined || code === 429 || code >= 500;
}

export class EventRecorder {
  readonly reportingController: string;
  readonly reportingInstance: string;
  private readonly sink: EventSink;
  private readonly log: Logger | undefined;
  private readonly metrics: RecorderMetrics | undefined;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly maxQueue: number;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly seriesFinishMs: number;
  private readonly seriesRefreshMs: number;
  private readonly spam: KeyedTokenBucket;
  private readonly series: SeriesCache;
  private readonly sweeper: NodeJS.Timeout;

  private readonly queue: Job[] = [];
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private working = false;
  private closed = false;
  private failing = false;
  private lastNano = 0n;
  private idleWaiters: (() => void)[] = [];

  constructor(options: EventRecorderOptions) {
    this.sink = options.sink;
    this.reportingController = cut(options.reportingController ?? DEFAULT_REPORTING_CONTROLLER);
    this.reportingInstance = cut(options.reportingInstance);
    if (this.reportingInstance === '')
      throw new Error('an event recorder needs a reportingInstance');
    this.log = options.logger?.child({ component: 'events' });
    this.metrics = options.registry !== undefined ? recorderMetrics(options.registry) : undefined;
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.maxQueue = options.maxQueue ?? 1000;
    this.maxAttempts = options.maxAttempts ?? 12;
    this.retryDelayMs = options.retryDelayMs ?? 10_000;
    this.seriesFinishMs = options.seriesFinishMs ?? SERIES_FINISH_MS;
    this.seriesRefreshMs = options.seriesRefreshMs ?? SERIES_REFRESH_MS;
    this.spam = new KeyedTokenBucket(
      options.spamBurst ?? SPAM_BURST,
      options.spamRefillMs ?? SPAM_REFILL_MS,
    );
    this.series = new SeriesCache();
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000);
    this.sweeper.unref();
  }

  /** Records an event. Never throws, never waits: failures are counted and logged. */
  event(input: EventInput): void {
    try {
      this.record(input);
    } catch (err) {
      this.drop('invalid');
      this.log?.warn({ err }, 'could not record an event');
    }
  }

  normal(regarding: ObjectReference, reason: string, action: string, note?: string): void {
    this.event({ regarding, type: 'Normal', reason, action, note });
  }

  warning(regarding: ObjectReference, reason: string, action: string, note?: string): void {
    this.event({ regarding, type: 'Warning', reason, action, note });
  }

  /** Writes waiting, in flight or scheduled for retry. */
  pending(): number {
    return this.queue.length + this.retryTimers.size + (this.working ? 1 : 0);
  }

  /**
   * Writes the counts of ongoing series and waits until nothing is waiting
   * (retries scheduled for later are not waited for), or the timeout.
   */
  async flush(timeoutMs = 5_000): Promise<void> {
    for (const entry of this.series.unwritten())
      this.enqueue({ kind: 'patch', entry, attempts: 0 });
    if (this.queue.length === 0 && !this.working) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Stops the recorder: flushes within the timeout, then drops what is left. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return;
    clearInterval(this.sweeper);
    await this.flush(timeoutMs);
    this.closed = true;
    for (const t of this.retryTimers) clearTimeout(t);
    const left = this.queue.length + this.retryTimers.size;
    this.retryTimers.clear();
    this.queue.length = 0;
    if (left > 0) {
      this.metrics?.dropped.inc({ reason: 'closed' }, left);
      this.log?.warn({ dropped: left }, 'event recorder closed with events unwritten');
    }
  }

  private drop(reason: DropReason): void {
    this.metrics?.dropped.inc({ reason });
  }

  private record(raw: EventInput): void {
    if (this.closed) {
      this.drop('closed');
      return;
    }
    const problems = eventProblems(raw);
    if (problems.length > 0) {
      this.drop('invalid');
      this.log?.warn({ reason: raw.reason, problems }, 'invalid event not recorded');
      return;
    }
    const input: EventInput = {
      ...raw,
      reason: cut(raw.reason),
      action: cut(raw.action),
      note: truncateNote(raw.note ?? ''),
    };
    const now = this.clock();
    const key = isomorphicKey(input, this.reportingController, this.reportingInstance);
    const step = this.series.classify(key);
    if (step === 'fold') {
      this.series.fold(key, now);
      this.metrics?.folded.inc();
      return;
    }
    // Only occurrences that cause a write spend the object's tokens.
    if (!this.spam.tryTake(spamKey(input.regarding), now)) {
      this.drop('spam_filter');
      this.log?.debug(
        { reason: input.reason, regarding: input.regarding.name },
        'event dropped by the spam filter',
      );
      return;
    }
    const seen = this.series.observe(key, now, () => this.newEntry(key, input, now));
    if (seen.kind === 'fold') this.metrics?.folded.inc();
    else
      this.enqueue({
        kind: seen.kind === 'create' ? 'create' : 'patch',
        entry: seen.entry,
        attempts: 0,
      });
  }

  /** `<regarding name>.<unix nanoseconds in hex>`, unique within this process. */
  private eventName(regardingName: string, now: number): string {
    let nano = BigInt(Math.floor(now)) * 1_000_000n;
    if (nano <= this.lastNano) nano = this.lastNano + 1n;
    this.lastNano = nano;
    const suffix = `.${nano.toString(16)}`;
    return regardingName.slice(0, 253 - suffix.length) + suffix;
  }

  private newEntry(key: string, input: EventInput, now: number): SeriesEntry {
    const ns = input.regarding.namespace;
    const namespace = ns !== undefined && ns !== '' ? ns : 'default';
    const name = this.eventName(input.regarding.name, now);
    const event: EventsV1Event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name, namespace },
      eventTime: new V1MicroTime(now),
      reportingController: this.reportingController,
      reportingInstance: this.reportingInstance,
      action: input.action,
      reason: input.reason,
      type: input.type,
      regarding: toReference(input.regarding),
      note: input.note ?? '',
      ...(input.related !== undefined ? { related: toReference(input.related) } : {}),
    };
    return {
      key,
      namespace,
      name,
      event,
      count: 1,
      firstSeen: now,
      lastObserved: now,
      written: 0,
      lastWrittenAt: 0,
    };
  }

  private sweep(): void {
    try {
      for (const entry of this.series.sweep(
        this.clock(),
        this.seriesFinishMs,
        this.seriesRefreshMs,
      )) {
        this.enqueue({ kind: 'patch', entry, attempts: 0 });
      }
    } catch (err) {
      this.log?.error({ err }, 'event series sweep failed');
    }
  }

  private enqueue(job: Job): void {
    if (this.closed) {
      this.drop('closed');
      return;
    }
    if (this.queue.length + this.retryTimers.size >= this.maxQueue) {
      this.drop('queue_full');
      return;
    }
    this.queue.push(job);
    if (!this.working) void this.work();
  }

  private async work(): Promise<void> {
    this.working = true;
    try {
      for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
        await this.attempt(job);
      }
    } finally {
      this.working = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private seriesOf(entry: SeriesEntry): EventsV1EventSeries {
    return { count: entry.count, lastObservedTime: new V1MicroTime(entry.lastObserved) };
  }

  /** One try of one job; schedules a retry or drops on failure. Never throws. */
  private async attempt(job: Job): Promise<void> {
    const { entry } = job;
    // A patch whose count the server already has (a duplicate flush) needs no write.
    if (job.kind === 'patch' && entry.written >= entry.count) return;
    // A create that an earlier patch (falling back to create) already did.
    if (job.kind === 'create' && entry.written > 0) return;
    let verb: 'create' | 'patch' = job.kind;
    const count = entry.count;
    try {
      if (job.kind === 'create' || entry.written === 0) {
        verb = 'create';
        const body: EventsV1Event =
          count >= 2 ? { ...entry.event, series: this.seriesOf(entry) } : entry.event;
        await this.sink.create(entry.namespace, body);
      } else {
        try {
          await this.sink.patchSeries(entry.namespace, entry.name, this.seriesOf(entry));
        } catch (err) {
          // Gone (expired by the API server's event TTL): create it again with its series.
          if (httpCode(err) !== 404) throw err;
          verb = 'create';
          const { resourceVersion: _rv, ...metadata } = entry.event.metadata ?? {};
          await this.sink.create(entry.namespace, {
            ...entry.event,
            metadata,
            series: this.seriesOf(entry),
          });
        }
      }
      entry.written = Math.max(entry.written, count);
      entry.lastWrittenAt = this.clock();
      this.metrics?.writes.inc({ verb, result: 'success' });
      if (this.failing) {
        this.failing = false;
        this.log?.info('event writes succeed again');
      }
    } catch (err) {
      if (verb === 'create' && httpCode(err) === 409) {
        // Already written by an earlier try whose answer we did not see.
        entry.written = Math.max(entry.written, 1);
        return;
      }
      this.metrics?.writes.inc({ verb, result: 'error' });
      if (!this.failing) {
        this.failing = true;
        this.log?.warn({ ...briefError(err), event: entry.name }, 'writing an event failed');
      }
      job.attempts += 1;
      if (!retriable(err) || job.attempts >= this.maxAttempts || this.closed) {
        this.drop('write_failed');
        return;
      }
      const delay = this.retryDelayMs * (0.75 + 0.5 * this.random());
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        if (this.closed) return;
        this.queue.push(job);
        if (!this.working) void this.work();
      }, delay);
      timer.unref();
      this.retryTimers.add(timer);
    }
  }
}
