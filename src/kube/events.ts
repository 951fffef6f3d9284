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
import {
  type EventsV1Event,
  EventsV1Api,
  type EventsV1EventSeries,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
  type V1ObjectReference,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';

export type EventType = 'Normal' | 'Warning';

/** The object an event is about (a V1ObjectReference; resourceVersion is not used). */
export interface ObjectReference {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  name: string;
  namespace?: string | undefined;
  uid?: string | undefined;
  fieldPath?: string | undefined;
}

export interface EventInput {
  regarding: ObjectReference;
  related?: ObjectReference | undefined;
  type: EventType;
  /** Why the action was taken, CamelCase, at most 128 characters. */
  reason: string;
  /** What was done or failed, CamelCase, at most 128 characters. */
  action: string;
  /** Human-readable details; cut to 1 kB. */
  note?: string | undefined;
}

/** Where events go; eventSink() adapts EventsV1Api. */
export interface EventSink {
  create(namespace: string, event: EventsV1Event): Promise<unknown>;
  /** Merge-patches `series` onto an existing Event. */
  patchSeries(namespace: string, name: string, series: EventsV1EventSeries): Promise<unknown>;
}

/** An EventSink over events.k8s.io/v1 through @kubernetes/client-node. */
export function eventSink(kc: KubeConfig): EventSink {
  const api = kc.makeApiClient(EventsV1Api);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  return {
    create: (namespace, body) => api.createNamespacedEvent({ namespace, body }),
    patchSeries: (namespace, name, series) =>
      api.patchNamespacedEvent({ namespace, name, body: { series } }, mergePatch),
  };
}

/** A reference to a stored object, for `regarding`/`related`. */
export function objectReference(obj: {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  metadata?:
    | { name?: string | undefined; namespace?: string | undefined; uid?: string | undefined }
    | undefined;
}): ObjectReference {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name: obj.metadata?.name ?? '',
    namespace: obj.metadata?.namespace,
    uid: obj.metadata?.uid,
  };
}

// ---------------------------------------------------------------- limits and pure helpers

export const DEFAULT_REPORTING_CONTROLLER = 'kubeinspector.io/controller';
export const NOTE_MAX_BYTES = 1024;
export const FIELD_MAX_LENGTH = 128;
/** tools/record's spam filter: 25 events at once per object, then one per 5 minutes. */
export const SPAM_BURST = 25;
export const SPAM_REFILL_MS = 5 * 60_000;
/** tools/events: a series without a new occurrence for 6 minutes is finished. */
export const SERIES_FINISH_MS = 6 * 60_000;
/** tools/events: an ongoing series is written at least every 30 minutes. */
export const SERIES_REFRESH_MS = 30 * 60_000;

/** Cuts a note to 1024 bytes of UTF-8 without splitting a character, marking the cut. */
export function truncateNote(note: string, maxBytes = NOTE_MAX_BYTES): string {
  if (Buffer.byteLength(note, 'utf8') <= maxBytes) return note;
  const marker = '...';
  let out = '';
  let bytes = 0;
  for (const ch of note) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > maxBytes - marker.length) break;
    out += ch;
    bytes += n;
  }
  return out + marker;
}

function refKey(ref: ObjectReference | undefined): string {
  if (ref === undefined) return '';
  return JSON.stringify([
    ref.apiVersion ?? '',
    ref.kind ?? '',
    ref.namespace ?? '',
    ref.name,
    ref.uid ?? '',
    ref.fieldPath ?? '',
  ]);
}

/** The isomorphism key of tools/events (type included; note excluded). */
export function isomorphicKey(
  input: EventInput,
  reportingController: string,
  reportingInstance: string,
): string {
  return JSON.stringify([
    input.type,
    input.action,
    input.reason,
    reportingController,
    reportingInstance,
    refKey(input.regarding),
    refKey(input.related),
  ]);
}

/** Spam-filter key: the regarding object only (one recorder is one source). */
export function spamKey(regarding: ObjectReference): string {
  return refKey(regarding);
}

/** What is wrong with an event input; empty when it can be sent. */
export function eventProblems(input: EventInput): string[] {
  const problems: string[] = [];
  if (input.type !== 'Normal' && input.type !== 'Warning')
    problems.push('type must be Normal or Warning');
  if (input.reason === '') problems.push('reason must not be empty');
  if (input.action === '') problems.push('action must not be empty');
  if (input.regarding.name === '') problems.push('regarding.name must not be empty');
  if (input.regarding.kind === undefined || input.regarding.kind === '')
    problems.push('regarding.kind must not be empty');
  return problems;
}

/** Per-key token buckets, least recently used keys evicted beyond `maxKeys`. */
export class KeyedTokenBucket {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;
  private readonly refillMs: number;
  private readonly maxKeys: number;

  constructor(burst = SPAM_BURST, refillMs = SPAM_REFILL_MS, maxKeys = 4096) {
    this.burst = burst;
    this.refillMs = refillMs;
    this.maxKeys = maxKeys;
  }

  /** Takes a token for key at time now (ms); false when none is left. */
  tryTake(key: string, now: number): boolean {
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    this.buckets.delete(key);
    const tokens = Math.min(this.burst, b.tokens + Math.max(0, now - b.at) / this.refillMs);
    const ok = tokens >= 1;
    this.buckets.set(key, { tokens: ok ? tokens - 1 : tokens, at: now });
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return ok;
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** One Event the recorder has written or is writing, with its series. */
export interface SeriesEntry {
  key: string;
  namespace: string;
  name: string;
  event: EventsV1Event;
  /** Occurrences so far; 1 until the first isomorphic repeat. */
  count: number;
  firstSeen: number;
  lastObserved: number;
  /** The count the server has (0 before the create succeeded). */
  written: number;
  lastWrittenAt: number;
}

export type Observation =
  | { kind: 'create'; entry: SeriesEntry }
  | { kind: 'start-series'; entry: SeriesEntry }
  | { kind: 'fold'; entry: SeriesEntry };

/**
 * The folding state of tools/events' eventBroadcaster: which occurrence
 * creates an Event, which starts its series (a write), which only counts.
 */
export class SeriesCache {
  private readonly entries = new Map<string, SeriesEntry>();
  private readonly maxEntries: number;

  constructor(maxEntries = 4096) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.entries.size;
  }

  /** What recording this occurrence would do, without changing anything. */
  classify(key: string): 'create' | 'start-series' | 'fold' {
    const e = this.entries.get(key);
    if (e === undefined) return 'create';
    return e.count >= 2 ? 'fold' : 'start-series';
  }

  /** Records an occurrence; `make` builds the Event when it is the first. */
  observe(key: string, now: number, make: () => SeriesEntry): Observation {
    const existing = this.entries.get(key);
    if (existing === undefined) {
      const entry = make();
      this.entries.set(key, entry);
      if (this.entries.size > this.maxEntries) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      return { kind: 'create', entry };
    }
    existing.count += 1;
    existing.lastObserved = now;
    return { kind: existing.count === 2 ? 'start-series' : 'fold', entry: existing };
  }

  /**
   * The periodic pass: series with occurrences the server has not seen are
   * written when finished (no occurrence for finishMs) or due for a refresh;
   * finished entries are forgotten, so the next occurrence creates a new Event.
   */
  sweep(now: number, finishMs = SERIES_FINISH_MS, refreshMs = SERIES_REFRESH_MS): SeriesEntry[] {
    const due: SeriesEntry[] = [];
    for (const [key, e] of this.entries) {
      const finished = now - e.lastObserved >= finishMs;
      const stale = e.count > e.written && e.written > 0 && now - e.lastWrittenAt >= refreshMs;
      if (e.count >= 2 && e.count > e.written && (finished || stale)) due.push(e);
      if (finished) this.entries.delete(key);
    }
    return due;
  }

  /** Counts one more occurrence of a known event; false when the key is unknown. */
  fold(key: string, now: number): boolean {
    const e = this.entries.get(key);
    if (e === undefined) return false;
    e.count += 1;
    e.lastObserved = now;
    return true;
  }

  /** Series with occurrences not yet written (for flush). */
  unwritten(): SeriesEntry[] {
    return [...this.entries.values()].filter((e) => e.count >= 2 && e.count > e.written);
  }
}

// ---------------------------------------------------------------- recorder

export type DropReason = 'spam_filter' | 'queue_full' | 'write_failed' | 'invalid' | 'closed';
const DROP_REASONS: readonly DropReason[] = [
  'spam_filter',
  'queue_full',
  'write_failed',
  'invalid',
  'closed',
];

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

interface RecorderMetrics {
  writes: Counter<'verb' | 'result'>;
  dropped: Counter<'reason'>;
  folded: Counter;
}

function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  return (
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter({ name, help, labelNames, registers: [registry] })
  );
}

function recorderMetrics(registry: Registry): RecorderMetrics {
  const writes = counter(
    registry,
    'kubeinspector_event_writes_total',
    'Writes of events.k8s.io Events by verb (create, patch) and result (success, error).',
    ['verb', 'result'],
  );
  const dropped = counter(
    registry,
    'kubeinspector_events_dropped_total',
    'Events not written, by reason: spam_filter, queue_full, write_failed, invalid, closed.',
    ['reason'],
  );
  const folded = counter(
    registry,
    'kubeinspector_events_folded_total',
    'Occurrences of an event counted into an existing series without a write of their own.',
    [],
  );
  for (const verb of ['create', 'patch'])
    for (const result of ['success', 'error']) writes.inc({ verb, result }, 0);
  for (const reason of DROP_REASONS) dropped.inc({ reason }, 0);
  folded.inc(0);
  return { writes, dropped, folded };
}

function httpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function retriable(err: unknown): boolean {
  const code = httpCode(err);
  // Transport errors have no HTTP code; 429 and 5xx are the server asking for later.
  return code === undefined || code === 429 || code >= 500;
}

function briefError(err: unknown): { code?: number; message: string } {
  const code = httpCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return { ...(code !== undefined ? { code } : {}), message: message.slice(0, 300) };
}

function cut(s: string, max = FIELD_MAX_LENGTH): string {
  return s.length <= max ? s : s.slice(0, max);
}

function toReference(ref: ObjectReference): V1ObjectReference {
  const out: V1ObjectReference = { name: ref.name };
  if (ref.apiVersion !== undefined) out.apiVersion = ref.apiVersion;
  if (ref.kind !== undefined) out.kind = ref.kind;
  if (ref.namespace !== undefined && ref.namespace !== '') out.namespace = ref.namespace;
  if (ref.uid !== undefined) out.uid = ref.uid;
  if (ref.fieldPath !== undefined) out.fieldPath = ref.fieldPath;
  return out;
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
