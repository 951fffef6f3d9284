import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RateLimiter, WorkQueue } from './workqueue.ts';

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function metricValue(registry: Registry, name: string): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as { value: number; metricName?: string }[];
  const plain = values.filter((v) => v.metricName === undefined || v.metricName === name);
  return plain[0]?.value;
}

describe('the work queue', () => {
  it('processes a key queued many times once', async () => {
    const q = new WorkQueue({ name: 'dedup' });
    for (let i = 0; i < 5; i++) q.add('ns/a');
    q.add('ns/b');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
    expect(q.length).toBe(0);
  });

  it('never hands a key to a second worker while the first processes it', async () => {
    const q = new WorkQueue({ name: 'exclusive' });
    q.add('k');
    const first = await q.get();
    q.add('k'); // changed while being processed
    let second: string | undefined = 'unset';
    const waiting = q.get().then((k) => (second = k));
    await tick(10);
    expect(second).toBe('unset');
    q.done(first!);
    await waiting;
    expect(second).toBe('k');
  });

  it('drops a key re-added during processing only if it was not added again', async () => {
    const q = new WorkQueue({ name: 'clean' });
    q.add('k');
    const key = await q.get();
    q.done(key!);
    expect(q.length).toBe(0);
  });

  it('waits for a delay longer than setTimeout can hold instead of adding at once', async () => {
    const q = new WorkQueue({ name: 'far' });
    q.addAfter('k', 90 * 86_400_000); // a 90-day eligibility window
    await tick(20);
    expect(q.length).toBe(0);
    q.shutdown();
  });

  it('keeps the earliest of several delayed adds of one key', async () => {
    const q = new WorkQueue({ name: 'delay' });
    q.addAfter('k', 10_000);
    q.addAfter('k', 20);
    const started = performance.now();
    expect(await q.get()).toBe('k');
    expect(performance.now() - started).toBeLessThan(5_000);
    q.shutdown();
  });

  it('stops handing out keys on shutdown, waking idle workers with undefined', async () => {
    const q = new WorkQueue({ name: 'shutdown' });
    const waiting = q.get();
    q.add('queued-later');
    expect(await waiting).toBe('queued-later');
    q.add('never');
    q.shutdown();
    expect(await q.get()).toBeUndefined();
    q.add('after');
    expect(q.length).toBe(1); // the key queued before shutdown stays, unprocessed
  });

  it('drains: resolves when in-flight keys are done, or false at the deadline', async () => {
    const q = new WorkQueue({ name: 'drain' });
    q.add('a');
    const key = await q.get();
    q.shutdown();
    expect(await q.drain(20)).toBe(false);
    setTimeout(() => q.done(key!), 10);
    expect(await q.drain(5_000)).toBe(true);
  });

  it('reports the standard workqueue metrics with name and controller labels', async () => {
    const registry = new Registry();
    const q = new WorkQueue({ name: 'metered', registry });
    q.add('a');
    q.add('a');
    q.add('b');
    expect(await metricValue(registry, 'workqueue_adds_total')).toBe(2);
    expect(await metricValue(registry, 'workqueue_depth')).toBe(2);
    const key = await q.get();
    q.addRateLimited('c');
    expect(await metricValue(registry, 'workqueue_retries_total')).toBe(1);
    await tick(5);
    expect(
      await metricValue(registry, 'workqueue_longest_running_processor_seconds'),
    ).toBeGreaterThan(0);
    q.done(key!);
    const text = await registry.metrics();
    for (const name of [
      'workqueue_depth',
      'workqueue_adds_total',
      'workqueue_queue_duration_seconds',
      'workqueue_work_duration_seconds',
      'workqueue_retries_total',
      'workqueue_unfinished_work_seconds',
      'workqueue_longest_running_processor_seconds',
    ]) {
      expect(text).toContain(`${name}`);
    }
    // a, b, then c once its 5 ms backoff passed
    expect(text).toContain('workqueue_adds_total{name="metered",controller="metered"} 3');
    q.shutdown();
  });
});

describe('the rate limiter', () => {
  it('doubles the per-key delay from 5 ms on every failure and resets on forget', () => {
    let now = 0;
    const limiter = new RateLimiter({}, () => now);
    const delays = Array.from({ length: 6 }, () => limiter.when('k'));
    expect(delays).toEqual([5, 10, 20, 40, 80, 160]);
    expect(limiter.numRequeues('k')).toBe(6);
    limiter.forget('k');
    expect(limiter.when('k')).toBe(5);
    now += 1;
  });

  it('caps the per-key delay at the maximum', () => {
    const limiter = new RateLimiter({ maxDelayMs: 1000 }, () => 0);
    let last = 0;
    for (let i = 0; i < 20; i++) last = limiter.when('k');
    // 20 failures within the bucket's burst of 100: only the per-key cap applies.
    expect(last).toBe(1000);
  });

  it('applies the overall bucket once the burst is spent', () => {
    const now = 0;
    const limiter = new RateLimiter({ qps: 10, burst: 100 }, () => now);
    for (let i = 0; i < 100; i++) expect(limiter.when(`key-${i}`)).toBe(5);
    // The 101st distinct key must wait for a token: 1 token at 10 qps = 100 ms.
    expect(limiter.when('key-100')).toBeCloseTo(100, 5);
  });
});
