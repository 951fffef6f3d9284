// Leader election on a coordination.k8s.io/v1 Lease, a port of client-go's
// tools/leaderelection algorithm:
//   - a candidate polls the Lease every retry period (jittered); it takes the
//     Lease when nobody holds it or the holder's record has not changed for
//     leaseDurationSeconds as measured by OUR clock since we last saw it
//     change (never by comparing the server's renewTime with our clock, so
//     clock skew between machines does not matter);
//   - every write is a replace carrying the resourceVersion we read (or got
//     back from our last write), so two candidates cannot both win: the loser
//     gets 409;
//   - the leader renews every retry period; if it cannot renew within the
//     renew deadline it has lost: the work's AbortSignal is aborted and
//     onStoppedLeading runs (the process is expected to exit, as
//     controller-runtime does);
//   - on shutdown the leader first lets its work stop (renewing meanwhile),
//     then releases: holderIdentity cleared and leaseDurationSeconds 1, so a
//     standby takes over at its next poll.
// The timing rules are pure functions below, tested with an injected clock.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { briefError, httpCode } from '../kube/error-fields.ts';

/** The calls we make; CoordinationV1Api from @kubernetes/client-node satisfies it. */
export interface LeaseClient {
  readNamespacedLease(param: { name: string; namespace: string }): Promise<V1Lease>;
  createNamespacedLease(param: { namespace: string; body: V1Lease }): Promise<V1Lease>;
  replaceNamespacedLease(param: {
    name: string;
    namespace: string;
    body: V1Lease;
  }): Promise<V1Lease>;
}

/** What the Lease says, normalised (client-node leaves MicroTime as strings on reads). */
export interface LeaseRecord {
  /** '' when nobody holds the Lease (after a release). */
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string | undefined;
  renewTime: string | undefined;
  leaseTransitions: number;
}

/** controller-runtime's defaults. */
export const DEFAULT_LEASE_DURATION_MS = 15_000;
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
export const DEFAULT_RETRY_PERIOD_MS = 2_000;
/** client-go's JitterFactor for the acquire loop: waits are retry × [1, 2.2). */
export const JITTER_FACTOR = 1.2;
/** How long past lease expiry a leader that stopped renewing is still healthy. */
export const DEFAULT_HEALTH_TOLERANCE_MS = 20_000;

// ---------------------------------------------------------------- pure rules

/** A MicroTime as the API server parses it: RFC 3339 with 6 fractional digits. */
export function formatMicroTime(ms: number): string {
  return new V1MicroTime(ms).toISOString();
}

function timeString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof V1MicroTime) return value.toISOString();
  if (value instanceof Date) return formatMicroTime(value.getTime());
  return undefined;
}

export function recordFromLease(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  return {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: timeString(spec.acquireTime),
    renewTime: timeString(spec.renewTime),
    leaseTransitions: spec.leaseTransitions ?? 0,
  };
}

/**
 * The spec to write. MicroTime strings pass through client-node's serializer
 * unchanged, so times we read are written back exactly as read.
 */
export function leaseSpecFromRecord(record: LeaseRecord): NonNullable<V1Lease['spec']> {
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    leaseTransitions: record.leaseTransitions,
    ...(record.acquireTime !== undefined
      ? { acquireTime: record.acquireTime as unknown as V1MicroTime }
      : {}),
    ...(record.renewTime !== undefined
      ? { renewTime: record.renewTime as unknown as V1MicroTime }
      : {}),
  };
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}

/**
 * The last Lease record we saw and when (by our monotonic clock) we first saw
 * it. Validity runs from that moment, not from the record's renewTime.
 */
export class LeaseObservation {
  private current: LeaseRecord | undefined;
  private at = 0;

  get record(): LeaseRecord | undefined {
    return this.current;
  }

  /** When the current record was first seen, in clock ms. */
  get observedAt(): number {
    return this.at;
  }

  /** A record read from the server: the clock restarts only if it differs from the last one. */
  observe(record: LeaseRecord, now: number): boolean {
    if (this.current !== undefined && sameRecord(this.current, record)) return false;
    this.current = record;
    this.at = now;
    return true;
  }

  /** A record we just wrote successfully: always restarts the clock. */
  wrote(record: LeaseRecord, now: number): void {
    this.current = record;
    this.at = now;
  }

  /** True while the observed record has not been unchanged for its leaseDurationSeconds. */
  isValid(now: number): boolean {
    if (this.current === undefined) return false;
    return this.at + this.current.leaseDurationSeconds * 1000 > now;
  }

  holder(): string {
    return this.current?.holderIdentity ?? '';
  }
}

export type LeasePlan =
  | { action: 'create'; record: LeaseRecord }
  | { action: 'update'; record: LeaseRecord; slowPath: boolean }
  | { action: 'wait'; holder: string };

/**
 * Step 2–4 of client-go's tryAcquireOrRenew, after a GET. `current` is
 * undefined when the Lease does not exist; `observation` has already seen it.
 */
export function planAcquireOrRenew(input: {
  identity: string;
  leaseDurationSeconds: number;
  nowWall: string;
  nowClock: number;
  current: LeaseRecord | undefined;
  observation: LeaseObservation;
}): LeasePlan {
  const { identity, current, observation } = input;
  const fresh: LeaseRecord = {
    holderIdentity: identity,
    leaseDurationSeconds: input.leaseDurationSeconds,
    acquireTime: input.nowWall,
    renewTime: input.nowWall,
    leaseTransitions: 0,
  };
  if (current === undefined) return { action: 'create', record: fresh };
  const held = current.holderIdentity !== '';
  const ours = current.holderIdentity === identity;
  if (held && !ours && observation.isValid(input.nowClock)) {
    return { action: 'wait', holder: current.holderIdentity };
  }
  if (ours) {
    // We still hold it but the optimistic renew did not happen or failed.
    return {
      action: 'update',
      slowPath: true,
      record: {
        ...fresh,
        acquireTime: current.acquireTime,
        leaseTransitions: current.leaseTransitions,
      },
    };
  }
  return {
    action: 'update',
    slowPath: false,
    record: { ...fresh, leaseTransitions: current.leaseTransitions + 1 },
  };
}

export interface LeaderElectionTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** client-go's NewLeaderElector checks; throws with the rule that is broken. */
export function validateTimings(t: LeaderElectionTimings): void {
  if (!(t.retryPeriodMs > 0)) throw new Error('retry period must be greater than zero');
  if (!(t.renewDeadlineMs > JITTER_FACTOR * t.retryPeriodMs)) {
    throw new Error(
      `renew deadline (${t.renewDeadlineMs} ms) must be greater than ${JITTER_FACTOR} × retry period (${t.retryPeriodMs} ms)`,
    );
  }
  if (!(t.leaseDurationMs > t.renewDeadlineMs)) {
    throw new Error(
      `lease duration (${t.leaseDurationMs} ms) must be greater than the renew deadline (${t.renewDeadlineMs} ms)`,
    );
  }
  if (t.leaseDurationMs % 1000 !== 0) {
    throw new Error(
      `lease duration (${t.leaseDurationMs} ms) must be whole seconds: the Lease stores seconds`,
    );
  }
}

/** client-go's wait.Jitter: d + random × factor × d. */
export function jittered(ms: number, random: () => number, factor = JITTER_FACTOR): number {
  return ms + random() * factor * ms;
}

/**
 * Liveness of an elector (client-go's HealthzAdaptor): a standby is healthy;
 * a leader is unhealthy when its last successful renewal is older than the
 * lease duration plus the tolerance (it should have stepped down by then).
 */
export function leaseHealthy(input: {
  leading: boolean;
  lastRenewAt: number;
  now: number;
  leaseDurationMs: number;
  toleranceMs: number;
}): boolean {
  if (!input.leading) return true;
  return input.now - input.lastRenewAt <= input.leaseDurationMs + input.toleranceMs;
}

/** Pod name (or host name) plus a random suffix, so a restarted pod is a new candidate. */
export function defaultIdentity(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.POD_NAME !== undefined && env.POD_NAME !== '' ? env.POD_NAME : hostname();
  return `${base}_${randomBytes(4).toString('hex')}`;
}

// ---------------------------------------------------------------- elector

export interface LeaderCallbacks {
  /**
   * Called once when this candidate becomes leader. `signal` aborts when
   * leadership is lost or run()'s signal aborts. Return a promise that settles
   * when the work has stopped: on shutdown the elector keeps renewing until
   * it settles, then releases the Lease.
   */
  onStartedLeading?: (signal: AbortSignal) => void | Promise<void>;
  /** Called once after leading ends, for whatever reason. */
  onStoppedLeading?: () => void;
  /** Called when the observed holder changes to a non-empty identity (ours included). */
  onNewLeader?: (identity: string) => void;
}

export interface LeaderElectionOptions extends Partial<LeaderElectionTimings> {
  client: LeaseClient;
  namespace: string;
  /** Lease name; also the `name` label of the leader_election_* metrics. */
  name: string;
  identity?: string;
  callbacks?: LeaderCallbacks;
  /** Release the Lease when run()'s signal aborts (client-go ReleaseOnCancel). Default true. */
  releaseOnCancel?: boolean;
  /** Bound on one API call. Default: the renew deadline. */
  requestTimeoutMs?: number;
  healthToleranceMs?: number;
  logger?: Logger;
  registry?: Registry;
  /** Monotonic ms for expiry and deadlines. Default performance.now. */
  clock?: () => number;
  /** Wall-clock ms for acquireTime/renewTime. Default Date.now. */
  wallClock?: () => number;
  random?: () => number;
}

/** How run() ended. */
export type LeaderElectionOutcome =
  /** run()'s signal aborted before this candidate ever led. */
  | 'cancelled'
  /** Led, then renewal failed for the renew deadline: exit the process. */
  | 'lost'
  /** Led, then run()'s signal aborted; work stopped and the Lease was released (if configured). */
  | 'stepped-down';

interface ElectionMetrics {
  status: Gauge<'name'>;
  slowpath: Counter<'name'>;
}

function electionMetrics(registry: Registry, name: string): ElectionMetrics {
  const status =
    (registry.getSingleMetric('leader_election_master_status') as Gauge<'name'> | undefined) ??
    new Gauge({
      name: 'leader_election_master_status',
      help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.',
      labelNames: ['name'],
      registers: [registry],
    });
  const slowpath =
    (registry.getSingleMetric('leader_election_slowpath_total') as Counter<'name'> | undefined) ??
    new Counter({
      name: 'leader_election_slowpath_total',
      help: 'Total number of slow path exercised in renewing leader leases.',
      labelNames: ['name'],
      registers: [registry],
    });
  status.set({ name }, 0);
  slowpath.inc({ name }, 0);
  return { status, slowpath };
}

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`request timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(ms)), Math.max(1, ms));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export class LeaderElector {
  readonly identity: string;
  readonly name: string;
  readonly namespace: string;
  private readonly client: LeaseClient;
  private readonly timings: LeaderElectionTimings;
  private readonly callbacks: LeaderCallbacks;
  private readonly releaseOnCancel: boolean;
  private readonly requestTimeoutMs: number;
  private readonly healthToleranceMs: number;
  private readonly log: Logger | undefined;
  private readonly metrics: ElectionMetrics | undefined;
  private readonly clock: () => number;
  private readonly wallClock: () => number;
  private readonly random: () => number;

  private readonly observation = new LeaseObservation();
  /** The Lease object as last read or written: its resourceVersion guards our next replace. */
  private lease: V1Lease | undefined;
  private leading = false;
  private lastRenewAt = 0;
  private reportedLeader = '';
  private running = false;
  private failing = false;

  constructor(options: LeaderElectionOptions) {
    this.timings = {
      leaseDurationMs: options.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS,
      renewDeadlineMs: options.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS,
      retryPeriodMs: options.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS,
    };
    validateTimings(this.timings);
    if (options.name === '' || options.namespace === '') {
      throw new Error('leader election needs a Lease name and namespace');
    }
    this.client = options.client;
    this.name = options.name;
    this.namespace = options.namespace;
    this.identity = options.identity ?? defaultIdentity();
    this.callbacks = options.callbacks ?? {};
    this.releaseOnCancel = options.releaseOnCancel ?? true;
    this.requestTimeoutMs = options.requestTimeoutMs ?? this.timings.renewDeadlineMs;
    this.healthToleranceMs = options.healthToleranceMs ?? DEFAULT_HEALTH_TOLERANCE_MS;
    this.log = options.logger?.child({
      component: 'leader-election',
      lease: `${this.namespace}/${this.name}`,
      identity: this.identity,
    });
    this.metrics =
      options.registry !== undefined ? electionMetrics(options.registry, this.name) : undefined;
    this.clock = options.clock ?? (() => performance.now());
    this.wallClock = options.wallClock ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** True while this candidate leads (between onStartedLeading and losing or stepping down). */
  isLeader(): boolean {
    return this.leading;
  }

  /** The holder we last observed ('' when none or unknown). */
  leader(): string {
    return this.observation.holder();
  }

  /**
   * For /healthz: false when we lead but have not renewed for longer than the
   * lease duration plus the tolerance. Never depends on being the leader, so
   * a standby is healthy; readiness must not use this.
   */
  isLeaseHealthy(toleranceMs = this.healthToleranceMs): boolean {
    return leaseHealthy({
      leading: this.leading,
      lastRenewAt: this.lastRenewAt,
      now: this.clock(),
      leaseDurationMs: this.timings.leaseDurationMs,
      toleranceMs,
    });
  }

  /**
   * Campaigns until elected, leads until `signal` aborts or renewal fails,
   * and resolves with how it ended. Call once per elector.
   */
  async run(signal: AbortSignal): Promise<LeaderElectionOutcome> {
    if (this.running) throw new Error('LeaderElector.run() called twice');
    this.running = true;
    this.log?.info('campaigning for leadership');
    if (!(await this.acquire(signal))) return 'cancelled';

    this.leading = true;
    this.lastRenewAt = this.clock();
    this.metrics?.status.set({ name: this.name }, 1);
    this.log?.info('became leader');

    const work = new AbortController();
    const workDone: Promise<void> = (async () => {
      await this.callbacks.onStartedLeading?.(work.signal);
    })().catch((err: unknown) => {
      this.log?.error({ err }, 'leading work failed');
    });
    // Stop renewing once shutdown was asked for AND the work has stopped.
    const stop = new AbortController();
    const onAbort = (): void => {
      work.abort(new Error('shutting down'));
      void workDone.finally(() => stop.abort());
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });

    const renewed = await this.renewLoop(stop.signal);
    signal.removeEventListener('abort', onAbort);

    let outcome: LeaderElectionOutcome;
    if (renewed) {
      if (this.releaseOnCancel) await this.release();
      outcome = 'stepped-down';
    } else {
      this.log?.error('leader election lost: could not renew the lease within the renew deadline');
      work.abort(new Error('leadership lost'));
      outcome = 'lost';
    }
    this.leading = false;
    this.metrics?.status.set({ name: this.name }, 0);
    this.safeCallback('onStoppedLeading', () => this.callbacks.onStoppedLeading?.());
    return outcome;
  }

  private safeCallback(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log?.error({ err }, `${what} callback threw`);
    }
  }

  /** client-go's acquire(): retry every jittered retry period until we hold the Lease. */
  private async acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      const ok = await this.tryAcquireOrRenew(this.requestTimeoutMs);
      this.maybeReportTransition();
      if (ok) return true;
      await sleep(jittered(this.timings.retryPeriodMs, this.random), signal);
    }
    return false;
  }

  /**
   * client-go's renew(): every retry period, try to renew for up to the renew
   * deadline (retrying every retry period). Returns true when stopped by
   * `stop`, false when leadership was lost.
   */
  private async renewLoop(stop: AbortSignal): Promise<boolean> {
    const { renewDeadlineMs, retryPeriodMs } = this.timings;
    while (!stop.aborted) {
      const deadline = this.clock() + renewDeadlineMs;
      let ok = false;
      for (;;) {
        const remaining = deadline - this.clock();
        if (remaining <= 0) break;
        ok = await this.tryAcquireOrRenew(Math.min(this.requestTimeoutMs, remaining));
        this.maybeReportTransition();
        // A write that landed after the deadline does not count: we may already be replaced.
        if (ok && this.clock() > deadline) ok = false;
        if (ok || stop.aborted) break;
        await sleep(Math.min(retryPeriodMs, deadline - this.clock()), stop);
      }
      if (!ok) return stop.aborted;
      this.lastRenewAt = this.clock();
      await sleep(retryPeriodMs, stop);
    }
    return true;
  }

  private maybeReportTransition(): void {
    const holder = this.observation.holder();
    if (holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    if (holder === '') return;
    if (holder !== this.identity) this.log?.info({ leader: holder }, 'new leader elected');
    this.safeCallback('onNewLeader', () => this.callbacks.onNewLeader?.(holder));
  }

  private noteError(what: string, err: unknown): void {
    const brief = briefError(err);
    if (!this.failing) {
      this.failing = true;
      this.log?.warn(brief, `${what} failed`);
    } else {
      this.log?.debug(brief, `${what} failed again`);
    }
  }

  private noteSuccess(): void {
    if (this.failing) {
      this.failing = false;
      this.log?.info('lease requests succeed again');
    }
  }

  private async replace(record: LeaseRecord, base: V1Lease, timeoutMs: number): Promise<V1Lease> {
    return withTimeout(
      this.client.replaceNamespacedLease({
        name: this.name,
        namespace: this.namespace,
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: base.metadata ?? { name: this.name, namespace: this.namespace },
          spec: leaseSpecFromRecord(record),
        },
      }),
      timeoutMs,
    );
  }

  private recordWrite(lease: V1Lease): void {
    this.lease = lease;
    this.observation.wrote(recordFromLease(lease), this.clock());
    this.noteSuccess();
  }

  /** client-go's tryAcquireOrRenew. */
  // eslint-disable-next-line max-lines-per-function -- a port of client-go's tryAcquireOrRenew, kept comparable step by step
  private async tryAcquireOrRenew(timeoutMs: number): Promise<boolean> {
    const nowWall = formatMicroTime(this.wallClock());
    const leaseDurationSeconds = this.timings.leaseDurationMs / 1000;

    // 1. Fast path: the leader renews optimistically with the resourceVersion of its last write.
    const observed = this.observation.record;
    if (
      this.lease !== undefined &&
      observed !== undefined &&
      observed.holderIdentity === this.identity &&
      this.observation.isValid(this.clock())
    ) {
      const record: LeaseRecord = {
        holderIdentity: this.identity,
        leaseDurationSeconds,
        acquireTime: observed.acquireTime,
        renewTime: nowWall,
        leaseTransitions: observed.leaseTransitions,
      };
      try {
        this.recordWrite(await this.replace(record, this.lease, timeoutMs));
        return true;
      } catch (err) {
        this.log?.debug(briefError(err), 'optimistic renew failed, falling back to the slow path');
      }
    }

    // 2. Read (or create) the Lease.
    let current: V1Lease;
    try {
      current = await withTimeout(
        this.client.readNamespacedLease({ name: this.name, namespace: this.namespace }),
        timeoutMs,
      );
    } catch (err) {
      if (httpCode(err) !== 404) {
        this.noteError('reading the lease', err);
        return false;
      }
      const plan = planAcquireOrRenew({
        identity: this.identity,
        leaseDurationSeconds,
        nowWall,
        nowClock: this.clock(),
        current: undefined,
        observation: this.observation,
      });
      if (plan.action !== 'create') return false;
      try {
        const created = await withTimeout(
          this.client.createNamespacedLease({
            namespace: this.namespace,
            body: {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'Lease',
              metadata: { name: this.name, namespace: this.namespace },
              spec: leaseSpecFromRecord(plan.record),
            },
          }),
          timeoutMs,
        );
        this.recordWrite(created);
        return true;
      } catch (createErr) {
        if (httpCode(createErr) === 409)
          this.log?.debug('another candidate created the lease first');
        else this.noteError('creating the lease', createErr);
        return false;
      }
    }

    // 3. Record obtained: restart our expiry clock only if it changed.
    this.lease = current;
    const record = recordFromLease(current);
    this.observation.observe(record, this.clock());
    this.noteSuccess();
    const plan = planAcquireOrRenew({
      identity: this.identity,
      leaseDurationSeconds,
      nowWall,
      nowClock: this.clock(),
      current: record,
      observation: this.observation,
    });
    if (plan.action === 'wait') {
      this.log?.debug(
        { holder: plan.holder },
        'lease is held by another candidate and not expired',
      );
      return false;
    }
    if (plan.action === 'update' && plan.slowPath) this.metrics?.slowpath.inc({ name: this.name });

    // 4. Take or renew it, guarded by the resourceVersion we just read.
    try {
      this.recordWrite(await this.replace(plan.record, current, timeoutMs));
      return true;
    } catch (err) {
      if (httpCode(err) === 409) this.log?.debug('lost the race to update the lease');
      else this.noteError('updating the lease', err);
      return false;
    }
  }

  /** client-go's release(): clear the holder and shorten the lease so a standby takes over now. */
  private async release(): Promise<void> {
    if (this.lease === undefined || this.observation.holder() !== this.identity) return;
    const nowWall = formatMicroTime(this.wallClock());
    const record: LeaseRecord = {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: nowWall,
      renewTime: nowWall,
      leaseTransitions: this.observation.record?.leaseTransitions ?? 0,
    };
    try {
      this.recordWrite(await this.replace(record, this.lease, this.requestTimeoutMs));
      this.log?.info('released the lease');
    } catch (err) {
      this.log?.warn(briefError(err), 'could not release the lease; it expires by itself');
    }
  }
}
