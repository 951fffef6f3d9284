// The reconciler harness: workers take keys from a WorkQueue and call
// reconcile(key). Level-based: the same path for create, update and resync.
//
// Results, as in controller-runtime:
//   - success            forget the key's failures;
//   - requeueAfterMs     forget, then add the key again after the delay;
//   - requeue            rate-limited add (backoff);
//   - TerminalError      the user must act: no retry (the reconciler writes Stalled);
//   - WaitingError       something else must happen first: forget, add after its delay;
//   - any other error    rate-limited add (per-key exponential backoff).
// Reconcilers of our kinds write the outcome into status on every path, errors included
// (runtime/status.ts); the error's `reason` becomes the condition reason.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { RateLimiter, type RateLimiterOptions, WorkQueue } from './workqueue.ts';

export interface Result {
  /** Reconcile again after this many ms (time-based transitions, polling). */
  requeueAfterMs?: number;
  /** Reconcile again with backoff. */
  requeue?: boolean;
}

/** Options of the typed errors: a cause, and the CamelCase reason their condition carries. */
export interface ReasonedErrorOptions extends ErrorOptions {
  reason?: string;
}

/** An error only a person can fix; retrying would not help. Surfaced as a Stalled condition. */
export class TerminalError extends Error {
  readonly reason: string;
  constructor(message: string, options?: ReasonedErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
    this.reason = options?.reason ?? 'Stalled';
  }
}

/**
 * Something outside must happen first; try again after the given delay, without backoff.
 * Surfaced as a Reconciling condition.
 */
export class WaitingError extends Error {
  readonly retryAfterMs: number;
  readonly reason: string;
  constructor(message: string, retryAfterMs: number, options?: ReasonedErrorOptions) {
    super(message, options);
    this.name = 'WaitingError';
    this.retryAfterMs = retryAfterMs;
    this.reason = options?.reason ?? 'Waiting';
  }
}

export interface ReconcileContext {
  /** A child logger carrying controller, key and reconcileID. */
  log: Logger;
  reconcileID: string;
  /** Aborted when the controller stops. */
  signal: AbortSignal;
}

export interface Reconciler {
  reconcile(key: string, ctx: ReconcileContext): Promise<Result | undefined>;
  /** Called once for a TerminalError so the reconciler can record it (a Stalled condition, an event). */
  onTerminalError?(key: string, err: TerminalError, ctx: ReconcileContext): Promise<void>;
}

export interface ControllerOptions {
  name: string;
  reconciler: Reconciler;
  log: Logger;
  registry?: Registry;
  /** Parallel workers; a key is never reconciled by two at once. Default 1. */
  concurrency?: number;
  rateLimiter?: RateLimiterOptions;
}

interface ControllerMetrics {
  total: Counter<'controller' | 'result'>;
  errors: Counter<'controller'>;
  terminal: Counter<'controller'>;
  panics: Counter<'controller'>;
  time: Histogram<'controller'>;
  maxConcurrent: Gauge<'controller'>;
  active: Gauge<'controller'>;
}

// controller-runtime's reconcile_time_seconds buckets.
const reconcileBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
  1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
const metricsByRegistry = new WeakMap<Registry, ControllerMetrics>();

function controllerMetrics(registry: Registry): ControllerMetrics {
  let m = metricsByRegistry.get(registry);
  if (m === undefined) {
    const registers = [registry];
    m = {
      total: new Counter({
        name: 'controller_runtime_reconcile_total',
        help: 'Total number of reconciliations per controller',
        labelNames: ['controller', 'result'],
        registers,
      }),
      errors: new Counter({
        name: 'controller_runtime_reconcile_errors_total',
        help: 'Total number of reconciliation errors per controller',
        labelNames: ['controller'],
        registers,
      }),
      terminal: new Counter({
        name: 'controller_runtime_terminal_reconcile_errors_total',
        help: 'Total number of terminal reconciliation errors per controller',
        labelNames: ['controller'],
        registers,
      }),
      panics: new Counter({
        name: 'controller_runtime_reconcile_panics_total',
        help: 'Total number of reconciliation panics (unexpected exceptions) per controller',
        labelNames: ['controller'],
        registers,
      }),
      time: new Histogram({
        name: 'controller_runtime_reconcile_time_seconds',
        help: 'Length of time per reconciliation per controller',
        labelNames: ['controller'],
        buckets: reconcileBuckets,
        registers,
      }),
      maxConcurrent: new Gauge({
        name: 'controller_runtime_max_concurrent_reconciles',
        help: 'Maximum number of concurrent reconciles per controller',
        labelNames: ['controller'],
        registers,
      }),
      active: new Gauge({
        name: 'controller_runtime_active_workers',
        help: 'Number of currently used workers per controller',
        labelNames: ['controller'],
        registers,
      }),
    };
    metricsByRegistry.set(registry, m);
  }
  return m;
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly reconciler: Reconciler;
  private readonly log: Logger;
  private readonly concurrency: number;
  private readonly metrics: ControllerMetrics | undefined;
  private readonly abort = new AbortController();
  private workers: Promise<void>[] = [];
  /**
   * The last terminal error of each key, logged at error level once: the object's Stalled
   * condition carries it, and an object that stays stalled is reconciled again on every
   * related change. Forgotten when the key succeeds or its error changes.
   */
  private readonly terminalLogged = new Map<string, string>();

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.reconciler = options.reconciler;
    this.log = options.log.child({ controller: options.name });
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.queue = new WorkQueue({
      name: options.name,
      rateLimiter: new RateLimiter(options.rateLimiter ?? {}),
      ...(options.registry ? { registry: options.registry } : {}),
    });
    this.metrics = options.registry ? controllerMetrics(options.registry) : undefined;
    if (this.metrics) {
      for (const result of ['success', 'error', 'requeue', 'requeue_after']) {
        this.metrics.total.inc({ controller: this.name, result }, 0);
      }
      this.metrics.errors.inc({ controller: this.name }, 0);
      this.metrics.terminal.inc({ controller: this.name }, 0);
      this.metrics.panics.inc({ controller: this.name }, 0);
      this.metrics.maxConcurrent.set({ controller: this.name }, this.concurrency);
      this.metrics.active.set({ controller: this.name }, 0);
    }
  }

  /** Queues a key (namespace/name, or name for cluster-scoped objects). */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  enqueueAfter(key: string, delayMs: number): void {
    this.queue.addAfter(key, delayMs);
  }

  /** Starts the workers. */
  start(): void {
    if (this.workers.length > 0) return;
    for (let i = 0; i < this.concurrency; i++) this.workers.push(this.worker());
    this.log.info({ workers: this.concurrency }, 'starting workers');
  }

  /** Stops taking keys and waits up to deadlineMs for in-flight reconciles; true if they all ended. */
  async stop(deadlineMs: number): Promise<boolean> {
    this.queue.shutdown();
    const drained = await this.queue.drain(deadlineMs);
    this.abort.abort(new Error(`controller ${this.name} stopped`));
    if (drained) await Promise.all(this.workers);
    else this.log.warn({ deadlineMs }, 'reconciles still running at the shutdown deadline');
    return drained;
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.metrics?.active.inc({ controller: this.name });
      try {
        await this.reconcileOne(key);
      } finally {
        this.metrics?.active.dec({ controller: this.name });
        this.queue.done(key);
      }
    }
  }

  private async reconcileOne(key: string): Promise<void> {
    const reconcileID = randomUUID();
    const log = this.log.child({ key, reconcileID });
    const ctx: ReconcileContext = { log, reconcileID, signal: this.abort.signal };
    const labels = { controller: this.name };
    const started = performance.now();
    let result: Result | undefined;
    try {
      result = await this.reconciler.reconcile(key, ctx);
    } catch (err) {
      this.metrics?.time.observe(labels, (performance.now() - started) / 1000);
      this.handleError(key, err, ctx);
      return;
    }
    this.metrics?.time.observe(labels, (performance.now() - started) / 1000);
    if (result?.requeueAfterMs !== undefined && result.requeueAfterMs > 0) {
      this.queue.forget(key);
      this.queue.addAfter(key, result.requeueAfterMs);
      this.metrics?.total.inc({ ...labels, result: 'requeue_after' });
    } else if (result?.requeue) {
      this.queue.addRateLimited(key);
      this.metrics?.total.inc({ ...labels, result: 'requeue' });
    } else {
      this.queue.forget(key);
      this.metrics?.total.inc({ ...labels, result: 'success' });
    }
    this.terminalLogged.delete(key);
  }

  private handleError(key: string, err: unknown, ctx: ReconcileContext): void {
    const labels = { controller: this.name };
    this.metrics?.total.inc({ ...labels, result: 'error' });
    this.metrics?.errors.inc(labels);
    if (err instanceof TerminalError) {
      this.metrics?.terminal.inc(labels);
      this.queue.forget(key);
      if (this.terminalLogged.get(key) !== err.message) {
        this.terminalLogged.set(key, err.message);
        ctx.log.error({ err }, 'reconcile failed with a terminal error; not retrying');
      } else ctx.log.debug({ err }, 'the same terminal error again; not retrying');
      if (this.reconciler.onTerminalError) {
        this.reconciler.onTerminalError(key, err, ctx).catch((e: unknown) => {
          ctx.log.error({ err: e }, 'recording the terminal error failed; retrying with backoff');
          this.queue.addRateLimited(key);
        });
      }
      return;
    }
    if (err instanceof WaitingError) {
      this.queue.forget(key);
      this.queue.addAfter(key, err.retryAfterMs);
      ctx.log.info({ reason: err.message, retryAfterMs: err.retryAfterMs }, 'waiting');
      return;
    }
    if (!(err instanceof Error)) this.metrics?.panics.inc(labels);
    this.queue.addRateLimited(key);
    ctx.log.error(
      { err, retries: this.queue.numRequeues(key) },
      'reconcile failed; retrying with backoff',
    );
  }
}
