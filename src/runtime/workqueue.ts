// A work queue with client-go's semantics (k8s.io/client-go/util/workqueue):
//   - a key added many times before it is processed is processed once (dirty set);
//   - a key is never handed to two workers at once: added while processing, it is
//     queued again when the worker calls done();
//   - delayed adds keep the earliest deadline per key;
//   - rate-limited adds wait max(per-key exponential backoff, overall token bucket);
//   - the standard workqueue_* metrics with the `name` and `controller` labels.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TokenBucket } from '../kube/token-bucket.ts';

export interface RateLimiterOptions {
  /** First per-key delay in ms (client-go: 5 ms). */
  baseDelayMs?: number;
  /** Largest per-key delay in ms (client-go: 1000 s). */
  maxDelayMs?: number;
  /** Overall rate of rate-limited adds per second (client-go: 10). */
  qps?: number;
  /** Overall burst (client-go: 100). */
  burst?: number;
}

/** max(per-key exponential failure backoff, overall token bucket), as client-go's default controller limiter. */
export class RateLimiter {
  private readonly failures = new Map<string, number>();
  private readonly base: number;
  private readonly max: number;
  private readonly bucket: TokenBucket;

  constructor(options: RateLimiterOptions = {}, now?: () => number) {
    this.base = options.baseDelayMs ?? 5;
    this.max = options.maxDelayMs ?? 1_000_000;
    this.bucket = new TokenBucket(options.qps ?? 10, options.burst ?? 100, now);
  }

  /** The delay before the key may be retried; counts one more failure. */
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const exponential = Math.min(this.base * 2 ** n, this.max);
    return Math.max(exponential, this.bucket.reserve());
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

interface QueueMetrics {
  depth: Gauge<'name' | 'controller'>;
  adds: Counter<'name' | 'controller'>;
  queueDuration: Histogram<'name' | 'controller'>;
  workDuration: Histogram<'name' | 'controller'>;
  unfinished: Gauge<'name' | 'controller'>;
  longest: Gauge<'name' | 'controller'>;
  retries: Counter<'name' | 'controller'>;
}

// ExponentialBuckets(1e-8, 10, 12), as controller-runtime registers them.
const durationBuckets = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);
const queuesByRegistry = new WeakMap<Registry, { metrics: QueueMetrics; queues: Set<WorkQueue> }>();

function queueMetrics(registry: Registry, queue: WorkQueue): QueueMetrics {
  let entry = queuesByRegistry.get(registry);
  if (entry === undefined) {
    const queues = new Set<WorkQueue>();
    const labelNames = ['name', 'controller'] as const;
    entry = {
      queues,
      metrics: {
        depth: new Gauge({
          name: 'workqueue_depth',
          help: 'Current depth of workqueue',
          labelNames,
          registers: [registry],
        }),
        adds: new Counter({
          name: 'workqueue_adds_total',
          help: 'Total number of adds handled by workqueue',
          labelNames,
          registers: [registry],
        }),
        queueDuration: new Histogram({
          name: 'workqueue_queue_duration_seconds',
          help: 'How long in seconds an item stays in workqueue before being requested',
          labelNames,
          buckets: durationBuckets,
          registers: [registry],
        }),
        workDuration: new Histogram({
          name: 'workqueue_work_duration_seconds',
          help: 'How long in seconds processing an item from workqueue takes.',
          labelNames,
          buckets: durationBuckets,
          registers: [registry],
        }),
        unfinished: new Gauge({
          name: 'workqueue_unfinished_work_seconds',
          help:
            'How many seconds of work has been done that is in progress and has not been observed by ' +
            'work_duration. Large values indicate stuck threads.',
          labelNames,
          registers: [registry],
          collect() {
            for (const q of queues) this.set(q.labels, q.unfinishedWorkSeconds());
          },
        }),
        longest: new Gauge({
          name: 'workqueue_longest_running_processor_seconds',
          help: 'How many seconds has the longest running processor for workqueue been running.',
          labelNames,
          registers: [registry],
          collect() {
            for (const q of queues) this.set(q.labels, q.longestRunningSeconds());
          },
        }),
        retries: new Counter({
          name: 'workqueue_retries_total',
          help: 'Total number of retries handled by workqueue',
          labelNames,
          registers: [registry],
        }),
      },
    };
    queuesByRegistry.set(registry, entry);
  }
  entry.queues.add(queue);
  return entry.metrics;
}

export interface WorkQueueOptions {
  /** The queue's name; also its `controller` label. */
  name: string;
  rateLimiter?: RateLimiter;
  registry?: Registry;
  now?: () => number;
}

/** The longest delay setTimeout honours. */
export const MAX_DELAY_MS = 2 ** 31 - 1;

export class WorkQueue {
  readonly name: string;
  readonly labels: { name: string; controller: string };
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Map<string, number>();
  private readonly addedAt = new Map<string, number>();
  private readonly waiting = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private readonly idle: (() => void)[] = [];
  private readonly limiter: RateLimiter;
  private readonly metrics: QueueMetrics | undefined;
  private readonly now: () => number;
  private shuttingDown = false;

  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.labels = { name: options.name, controller: options.name };
    this.now = options.now ?? (() => performance.now());
    this.limiter = options.rateLimiter ?? new RateLimiter({}, this.now);
    this.metrics = options.registry ? queueMetrics(options.registry, this) : undefined;
    this.metrics?.depth.set(this.labels, 0);
  }

  get length(): number {
    return this.queue.length;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Marks the key as needing processing. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.metrics?.adds.inc(this.labels);
    this.dirty.add(key);
    this.addedAt.set(key, this.now());
    if (this.processing.has(key)) return;
    this.push(key);
  }

  private push(key: string): void {
    const getter = this.getters.shift();
    if (getter !== undefined) {
      this.hand(key, getter);
      return;
    }
    this.queue.push(key);
    this.metrics?.depth.set(this.labels, this.queue.length);
  }

  private hand(key: string, to: (key: string | undefined) => void): void {
    this.dirty.delete(key);
    const added = this.addedAt.get(key);
    this.addedAt.delete(key);
    const t = this.now();
    if (added !== undefined) this.metrics?.queueDuration.observe(this.labels, (t - added) / 1000);
    this.processing.set(key, t);
    to(key);
  }

  /** Adds the key after a delay; of several pending delays the earliest wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    this.metrics?.retries.inc(this.labels);
    // setTimeout fires at once for delays above 2^31-1 ms (about 24.8 days). Deadlines further
    // out (a 90-day eligibility window) are reconciled early instead, which a level-based
    // reconciler answers by requeueing for the rest of the time.
    delayMs = Math.min(delayMs, MAX_DELAY_MS);
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.now() + delayMs;
    const pending = this.waiting.get(key);
    if (pending !== undefined) {
      if (pending.at <= at) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, delayMs);
    this.waiting.set(key, { at, timer });
  }

  /** Adds the key after the rate limiter's delay (a failed reconcile). */
  addRateLimited(key: string): void {
    this.addAfter(key, this.limiter.when(key));
  }

  /** Forgets the key's failures (a successful reconcile). */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.limiter.numRequeues(key);
  }

  /** Waits for the next key; undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.metrics?.depth.set(this.labels, this.queue.length);
      return new Promise((resolve) => this.hand(key, resolve));
    }
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Ends processing of a key; if it was added meanwhile it is queued again. */
  done(key: string): void {
    const started = this.processing.get(key);
    if (started === undefined) return;
    this.processing.delete(key);
    this.metrics?.workDuration.observe(this.labels, (this.now() - started) / 1000);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
    if (this.processing.size === 0) for (const resolve of this.idle.splice(0)) resolve();
  }

  /** Stops handing out keys (queued ones stay unprocessed) and wakes every waiting worker. */
  shutdown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
    for (const getter of this.getters.splice(0)) getter(undefined);
  }

  /** Resolves true once no key is being processed, false if the deadline passes first. */
  async drain(deadlineMs: number): Promise<boolean> {
    if (this.processing.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<true>((resolve) => this.idle.push(() => resolve(true)));
    const late = new Promise<false>(
      (resolve) => (timer = setTimeout(() => resolve(false), deadlineMs)),
    );
    const result = await Promise.race([idle, late]);
    clearTimeout(timer);
    return result;
  }

  unfinishedWorkSeconds(): number {
    const t = this.now();
    let total = 0;
    for (const started of this.processing.values()) total += (t - started) / 1000;
    return total;
  }

  longestRunningSeconds(): number {
    const t = this.now();
    let longest = 0;
    for (const started of this.processing.values())
      longest = Math.max(longest, (t - started) / 1000);
    return longest;
  }
}
