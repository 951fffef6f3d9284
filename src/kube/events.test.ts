import type { EventsV1Event, EventsV1EventSeries } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  type EventInput,
  eventProblems,
  isomorphicKey,
  KeyedTokenBucket,
  type SeriesEntry,
  SeriesCache,
  truncateNote,
} from './event-series.ts';
import { EventRecorder, type EventSink, objectReference } from './events.ts';

const run = {
  apiVersion: 'kubeinspector.io/v1alpha1',
  kind: 'AssessmentRun',
  name: 'nightly',
  namespace: 'team-a',
  uid: 'u1',
};
const base: EventInput = {
  regarding: run,
  type: 'Normal',
  reason: 'Started',
  action: 'StartDataCollection',
  note: 'collecting',
};

describe('truncateNote', () => {
  it('keeps a note of at most 1024 bytes as it is', () => {
    expect(truncateNote('x'.repeat(1024))).toBe('x'.repeat(1024));
  });
  it('cuts a longer note to 1024 bytes ending in "..."', () => {
    const out = truncateNote('x'.repeat(5000));
    expect(Buffer.byteLength(out)).toBe(1024);
    expect(out.endsWith('...')).toBe(true);
  });
  it('never splits a multi-byte character', () => {
    const out = truncateNote('é'.repeat(1000));
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(1024);
    expect(out).toMatch(/^é+\.\.\.$/);
  });
});

describe('isomorphicKey', () => {
  const key = (i: EventInput) => isomorphicKey(i, 'kubeinspector.io/controller', 'pod-1');
  const cases: { name: string; other: EventInput; same: boolean }[] = [
    {
      name: 'a different note is the same event',
      other: { ...base, note: 'other words' },
      same: true,
    },
    {
      name: 'a different reason is another event',
      other: { ...base, reason: 'Stopped' },
      same: false,
    },
    {
      name: 'a different action is another event',
      other: { ...base, action: 'Evaluate' },
      same: false,
    },
    { name: 'a different type is another event', other: { ...base, type: 'Warning' }, same: false },
    {
      name: 'another object is another event',
      other: { ...base, regarding: { ...run, name: 'weekly' } },
      same: false,
    },
    {
      name: 'a related object makes another event',
      other: { ...base, related: { kind: 'Node', name: 'n1' } },
      same: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(key(c.other) === key(base)).toBe(c.same);
    });
  }
  it('another reporting instance is another event', () => {
    expect(isomorphicKey(base, 'c', 'pod-1')).not.toBe(isomorphicKey(base, 'c', 'pod-2'));
  });
});

describe('eventProblems', () => {
  const cases: { name: string; input: EventInput; problem: RegExp | undefined }[] = [
    { name: 'a complete event is fine', input: base, problem: undefined },
    {
      name: 'a type other than Normal or Warning is refused',
      input: { ...base, type: 'Info' as 'Normal' },
      problem: /type/,
    },
    { name: 'an empty reason is refused', input: { ...base, reason: '' }, problem: /reason/ },
    { name: 'an empty action is refused', input: { ...base, action: '' }, problem: /action/ },
    {
      name: 'a regarding object without kind is refused',
      input: { ...base, regarding: { name: 'x' } },
      problem: /kind/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = eventProblems(c.input);
      if (c.problem === undefined) expect(p).toEqual([]);
      else expect(p.join('; ')).toMatch(c.problem);
    });
  }
});

describe('KeyedTokenBucket: the spam filter', () => {
  it('lets 25 events through at once for one object, then refuses', () => {
    const b = new KeyedTokenBucket();
    const results = Array.from({ length: 30 }, () => b.tryTake('obj', 0));
    expect(results.filter(Boolean)).toHaveLength(25);
    expect(results.slice(25)).toEqual([false, false, false, false, false]);
  });
  it('gives one token back every 5 minutes', () => {
    const b = new KeyedTokenBucket();
    for (let i = 0; i < 25; i++) b.tryTake('obj', 0);
    expect(b.tryTake('obj', 299_999)).toBe(false);
    expect(b.tryTake('obj', 300_000 + 299_999)).toBe(true);
    expect(b.tryTake('obj', 300_000 + 299_999)).toBe(false);
  });
  it('keeps separate buckets per object', () => {
    const b = new KeyedTokenBucket(1);
    expect(b.tryTake('a', 0)).toBe(true);
    expect(b.tryTake('b', 0)).toBe(true);
    expect(b.tryTake('a', 0)).toBe(false);
  });
  it('forgets the least recently used object beyond its size limit', () => {
    const b = new KeyedTokenBucket(1, 300_000, 2);
    b.tryTake('a', 0);
    b.tryTake('b', 0);
    b.tryTake('c', 0);
    expect(b.size).toBe(2);
    expect(b.tryTake('a', 0)).toBe(true);
  });
});

describe('SeriesCache: folding isomorphic events', () => {
  const make = (now: number): SeriesEntry => ({
    key: 'k',
    namespace: 'ns',
    name: 'n',
    event: {} as EventsV1Event,
    count: 1,
    firstSeen: now,
    lastObserved: now,
    written: 0,
    lastWrittenAt: 0,
  });
  it('the first occurrence creates, the second starts a series, later ones only count', () => {
    const c = new SeriesCache();
    expect(c.observe('k', 0, () => make(0)).kind).toBe('create');
    expect(c.observe('k', 1, () => make(1)).kind).toBe('start-series');
    const third = c.observe('k', 2, () => make(2));
    expect(third.kind).toBe('fold');
    expect(third.entry.count).toBe(3);
    expect(third.entry.lastObserved).toBe(2);
  });
  it('a series with unwritten occurrences is written when it finishes after 6 minutes, then forgotten', () => {
    const c = new SeriesCache();
    const e = c.observe('k', 0, () => make(0)).entry;
    c.observe('k', 1_000, () => make(0));
    e.written = 2;
    c.observe('k', 2_000, () => make(0));
    expect(c.sweep(2_000 + 359_999)).toEqual([]);
    expect(c.sweep(2_000 + 360_000)).toEqual([e]);
    expect(c.size).toBe(0);
    expect(c.classify('k')).toBe('create');
  });
  it('a single event is forgotten after 6 minutes without any write', () => {
    const c = new SeriesCache();
    c.observe('k', 0, () => make(0));
    expect(c.sweep(360_000)).toEqual([]);
    expect(c.size).toBe(0);
  });
  it('an ongoing series is rewritten every 30 minutes while it keeps counting', () => {
    const c = new SeriesCache();
    const e = c.observe('k', 0, () => make(0)).entry;
    c.observe('k', 0, () => make(0));
    e.written = 2;
    e.lastWrittenAt = 0;
    for (let t = 60_000; t < 1_800_000; t += 60_000) {
      c.observe('k', t, () => make(t));
      expect(c.sweep(t)).toEqual([]);
    }
    c.observe('k', 1_800_000, () => make(0));
    expect(c.sweep(1_800_000)).toEqual([e]);
  });
});

/** A sink that records calls and fails as told (our interface, not HTTP). */
function recordingSink(fail: (verb: string, n: number) => Error | undefined = () => undefined) {
  const calls: { verb: string; namespace: string; name: string; count?: number }[] = [];
  const sink: EventSink = {
    create: (namespace: string, event: EventsV1Event) => {
      calls.push({
        verb: 'create',
        namespace,
        name: event.metadata?.name ?? '',
        ...(event.series ? { count: event.series.count } : {}),
      });
      const err = fail('create', calls.length);
      return err === undefined ? Promise.resolve(event) : Promise.reject(err);
    },
    patchSeries: (namespace: string, name: string, series: EventsV1EventSeries) => {
      calls.push({ verb: 'patch', namespace, name, count: series.count });
      const err = fail('patch', calls.length);
      return err === undefined ? Promise.resolve({}) : Promise.reject(err);
    },
  };
  return { sink, calls };
}

/** Waits until the recorder has nothing waiting or in flight. */
async function idle(rec: EventRecorder): Promise<void> {
  for (let i = 0; i < 400 && rec.pending() > 0; i++) await new Promise((r) => setTimeout(r, 5));
}

async function metric(registry: Registry, line: string): Promise<number | undefined> {
  const text = await registry.metrics();
  const found = text.split('\n').find((l) => l.startsWith(line + ' '));
  return found === undefined ? undefined : Number(found.split(' ').pop());
}

describe('EventRecorder', () => {
  const clockAt = (t: { now: number }) => () => t.now;

  it("creates an Event with the required fields in the regarding object's namespace", async () => {
    const { sink } = recordingSink();
    const bodies: EventsV1Event[] = [];
    const rec = new EventRecorder({
      sink: { ...sink, create: (ns, e) => (bodies.push(e), sink.create(ns, e)) },
      reportingInstance: 'controller-pod-1',
      clock: () => Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    });
    rec.event(base);
    await rec.close();
    const body = JSON.parse(JSON.stringify(bodies[0])) as Record<string, unknown>;
    expect(body).toMatchObject({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: {
        namespace: 'team-a',
        name: expect.stringMatching(/^nightly\.[0-9a-f]+$/) as unknown,
      },
      eventTime: '2026-01-02T03:04:05.678000Z',
      reportingController: 'kubeinspector.io/controller',
      reportingInstance: 'controller-pod-1',
      action: 'StartDataCollection',
      reason: 'Started',
      type: 'Normal',
      note: 'collecting',
      regarding: { kind: 'AssessmentRun', name: 'nightly', namespace: 'team-a', uid: 'u1' },
    });
  });

  it('puts events about cluster-scoped objects in the default namespace', async () => {
    const { sink, calls } = recordingSink();
    const rec = new EventRecorder({ sink, reportingInstance: 'p' });
    rec.normal({ apiVersion: 'v1', kind: 'Node', name: 'node-1' }, 'Scanned', 'Scan');
    await rec.close();
    expect(calls[0]?.namespace).toBe('default');
  });

  it('folds repeats into one Event: a create, one series patch, then counting until flush', async () => {
    const { sink, calls } = recordingSink();
    const registry = new Registry();
    const t = { now: 1_000 };
    const rec = new EventRecorder({ sink, reportingInstance: 'p', registry, clock: clockAt(t) });
    for (let i = 0; i < 5; i++) {
      rec.event({ ...base, note: `attempt ${i}` });
      t.now += 1_000;
      await idle(rec);
    }
    const name = calls[0]?.name;
    expect(calls).toEqual([
      { verb: 'create', namespace: 'team-a', name },
      { verb: 'patch', namespace: 'team-a', name, count: 2 },
    ]);
    await rec.flush();
    expect(calls[2]).toEqual({ verb: 'patch', namespace: 'team-a', name, count: 5 });
    expect(calls).toHaveLength(3);
    expect(await metric(registry, 'kubeinspector_events_folded_total')).toBe(3);
    await rec.close();
  });

  it('a series patch still waiting when more repeats arrive carries the latest count', async () => {
    const { sink, calls } = recordingSink();
    const rec = new EventRecorder({ sink, reportingInstance: 'p' });
    for (let i = 0; i < 5; i++) rec.event(base);
    await rec.close();
    expect(calls.map((c) => `${c.verb} ${c.count ?? ''}`.trim())).toEqual(['create', 'patch 5']);
  });

  it('drops what the spam filter refuses and counts it, per object', async () => {
    const { sink, calls } = recordingSink();
    const registry = new Registry();
    const rec = new EventRecorder({ sink, reportingInstance: 'p', registry, clock: () => 0 });
    for (let i = 0; i < 30; i++) rec.event({ ...base, reason: `Reason${i}` });
    rec.event({ ...base, regarding: { ...run, name: 'other' } });
    await rec.close();
    expect(calls.filter((c) => c.name.startsWith('nightly.'))).toHaveLength(25);
    expect(calls.filter((c) => c.name.startsWith('other.'))).toHaveLength(1);
    expect(await metric(registry, 'kubeinspector_events_dropped_total{reason="spam_filter"}')).toBe(
      5,
    );
  });

  it('never throws from event(), even for garbage input, and counts it as invalid', async () => {
    const registry = new Registry();
    const rec = new EventRecorder({ sink: recordingSink().sink, reportingInstance: 'p', registry });
    expect(() => rec.event(undefined as unknown as EventInput)).not.toThrow();
    expect(() => rec.event({ ...base, type: 'Bad' as 'Normal' })).not.toThrow();
    expect(await metric(registry, 'kubeinspector_events_dropped_total{reason="invalid"}')).toBe(2);
    await rec.close();
  });

  it('does not wait for the write: event() returns before the sink answers', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const rec = new EventRecorder({
      sink: { create: () => gate, patchSeries: () => gate },
      reportingInstance: 'p',
    });
    rec.event(base);
    expect(rec.pending()).toBe(1);
    release();
    await rec.close();
    expect(rec.pending()).toBe(0);
  });

  it('retries transport errors and 5xx a bounded number of times, then drops and counts', async () => {
    const { sink, calls } = recordingSink(() =>
      Object.assign(new Error('connect ECONNREFUSED'), {}),
    );
    const registry = new Registry();
    const rec = new EventRecorder({
      sink,
      reportingInstance: 'p',
      registry,
      maxAttempts: 3,
      retryDelayMs: 1,
    });
    rec.event(base);
    await idle(rec);
    expect(calls).toHaveLength(3);
    expect(
      await metric(registry, 'kubeinspector_events_dropped_total{reason="write_failed"}'),
    ).toBe(1);
    expect(
      await metric(registry, 'kubeinspector_event_writes_total{verb="create",result="error"}'),
    ).toBe(3);
    await rec.close();
  });

  it('does not retry a request the server refused (400)', async () => {
    const { sink, calls } = recordingSink(() => Object.assign(new Error('bad'), { code: 400 }));
    const rec = new EventRecorder({ sink, reportingInstance: 'p', retryDelayMs: 1 });
    rec.event(base);
    await rec.flush();
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toHaveLength(1);
    await rec.close();
  });

  it('re-creates the Event with its series when the patch finds it gone (404)', async () => {
    const { sink, calls } = recordingSink((verb) =>
      verb === 'patch' ? Object.assign(new Error('not found'), { code: 404 }) : undefined,
    );
    const rec = new EventRecorder({ sink, reportingInstance: 'p' });
    rec.event(base);
    rec.event(base);
    await rec.close();
    expect(calls.map((c) => `${c.verb} ${c.count ?? ''}`.trim())).toEqual([
      'create',
      'patch 2',
      'create 2',
    ]);
  });

  it('drops and counts events beyond the queue bound', async () => {
    const registry = new Registry();
    const never = new Promise<never>(() => undefined);
    const rec = new EventRecorder({
      sink: { create: () => never, patchSeries: () => never },
      reportingInstance: 'p',
      registry,
      maxQueue: 3,
    });
    for (let i = 0; i < 10; i++) rec.event({ ...base, regarding: { ...run, name: `r${i}` } });
    // One in flight plus three waiting.
    expect(rec.pending()).toBe(4);
    expect(await metric(registry, 'kubeinspector_events_dropped_total{reason="queue_full"}')).toBe(
      6,
    );
    await rec.close(10);
    expect(await metric(registry, 'kubeinspector_events_dropped_total{reason="closed"}')).toBe(3);
  });

  it('objectReference takes kind, name, namespace and uid from an object', () => {
    expect(
      objectReference({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p', namespace: 'n', uid: 'u' },
      }),
    ).toEqual({ apiVersion: 'v1', kind: 'Pod', name: 'p', namespace: 'n', uid: 'u' });
  });
});
