// The pure part of the events recorder (client-go tools/events): what an event may hold, which
// occurrences are isomorphic and fold into one series, when a series is written, and the
// per-object spam filter. No I/O and no timers: the recorder in events.ts drives them.
import type { EventsV1Event, V1ObjectReference } from '@kubernetes/client-node';
import { TokenBucket } from './token-bucket.ts';

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
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly burst: number;
  private readonly refillMs: number;
  private readonly maxKeys: number;
  /** The time of the current tryTake, read by the buckets as their clock. */
  private now = 0;

  constructor(burst = SPAM_BURST, refillMs = SPAM_REFILL_MS, maxKeys = 4096) {
    this.burst = burst;
    this.refillMs = refillMs;
    this.maxKeys = maxKeys;
  }

  /** Takes a token for key at time now (ms); false when none is left. */
  tryTake(key: string, now: number): boolean {
    this.now = now;
    const bucket =
      this.buckets.get(key) ?? new TokenBucket(1000 / this.refillMs, this.burst, () => this.now);
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return bucket.tryTake();
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

export function cut(s: string, max = FIELD_MAX_LENGTH): string {
  return s.length <= max ? s : s.slice(0, max);
}

export function toReference(ref: ObjectReference): V1ObjectReference {
  const out: V1ObjectReference = { name: ref.name };
  if (ref.apiVersion !== undefined) out.apiVersion = ref.apiVersion;
  if (ref.kind !== undefined) out.kind = ref.kind;
  if (ref.namespace !== undefined && ref.namespace !== '') out.namespace = ref.namespace;
  if (ref.uid !== undefined) out.uid = ref.uid;
  if (ref.fieldPath !== undefined) out.fieldPath = ref.fieldPath;
  return out;
}
