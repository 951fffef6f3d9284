// Leader election against the real API server: one in-process candidate for
// the Lease contents and metrics, then pairs of candidates in separate node
// processes so that the leader can be SIGKILLed or stopped with SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CoordinationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  DEFAULT_LEASE_DURATION_MS,
  DEFAULT_RENEW_DEADLINE_MS,
  DEFAULT_RETRY_PERIOD_MS,
  JITTER_FACTOR,
  LeaderElector,
} from '../../src/runtime/leader-election.ts';
import { createNamespace, eventually, kubeConfig, kubectl } from './helpers.ts';

const fixture = new URL('./fixtures/elector.ts', import.meta.url).pathname;
/** The longest wait of a candidate between two polls of the Lease. */
const maxPoll = DEFAULT_RETRY_PERIOD_MS * (1 + JITTER_FACTOR);
/** Request latency and process scheduling on a loaded test machine. */
const slack = 1_500;

interface ElectorEvent {
  event: string;
  identity: string;
  t: number;
  leader?: string;
  outcome?: string;
}

interface Candidate {
  identity: string;
  child: ChildProcess;
  events: ElectorEvent[];
  stderr: string[];
  exited: Promise<number | null>;
}

const candidates: Candidate[] = [];

function startCandidate(namespace: string, lease: string, identity: string): Candidate {
  const child = spawn(
    process.execPath,
    [
      '--disable-warning=ExperimentalWarning',
      fixture,
      inject('kubeconfig'),
      namespace,
      lease,
      identity,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const c: Candidate = {
    identity,
    child,
    events: [],
    stderr: [],
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    c.events.push(JSON.parse(line) as ElectorEvent);
  });
  createInterface({ input: child.stderr }).on('line', (line) => c.stderr.push(line));
  candidates.push(c);
  return c;
}

function alive(c: Candidate): boolean {
  return c.child.exitCode === null && c.child.signalCode === null;
}

function startedLeading(c: Candidate): ElectorEvent | undefined {
  return c.events.find((e) => e.event === 'started-leading');
}

async function leaseSpec(namespace: string, name: string) {
  const out = await kubectl('get', 'lease', '-n', namespace, name, '-o', 'json');
  return (JSON.parse(out) as { spec: Record<string, unknown> }).spec as {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    leaseTransitions?: number;
    renewTime?: string;
    acquireTime?: string;
  };
}

/** Waits until exactly one of the candidates has started leading; returns it. */
async function electedOne(pair: Candidate[]): Promise<Candidate> {
  return eventually(
    'one candidate to lead',
    () => Promise.resolve(pair.find((c) => startedLeading(c) !== undefined)),
    30_000,
    50,
  );
}

afterAll(async () => {
  for (const c of candidates) {
    if (alive(c)) c.child.kill('SIGKILL');
    await c.exited;
  }
});

describe('leader election on a coordination.k8s.io Lease', () => {
  let kc: KubeConfig;
  let namespace: string;

  beforeAll(async () => {
    kc = kubeConfig();
    namespace = await createNamespace(kc, 'leader-election');
  });

  it('a lone candidate creates the Lease with MicroTime timestamps, renews it past a change by another writer, and releases it on shutdown', async () => {
    const registry = new Registry();
    const led: string[] = [];
    let workSignal: AbortSignal | undefined;
    const elector = new LeaderElector({
      client: kc.makeApiClient(CoordinationV1Api),
      namespace,
      name: 'lone',
      identity: 'lone-candidate_0001',
      registry,
      logger: pino({ level: 'silent' }),
      callbacks: {
        onStartedLeading: (signal) => {
          workSignal = signal;
          led.push('started');
          return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        },
        onStoppedLeading: () => led.push('stopped'),
        onNewLeader: (id) => led.push(`leader ${id}`),
      },
    });
    const shutdown = new AbortController();
    const outcome = elector.run(shutdown.signal);
    await eventually('the candidate to lead', () =>
      Promise.resolve(elector.isLeader() || undefined),
    );

    const spec = await leaseSpec(namespace, 'lone');
    expect(spec.holderIdentity).toBe('lone-candidate_0001');
    expect(spec.leaseDurationSeconds).toBe(15);
    expect(spec.leaseTransitions).toBe(0);
    expect(spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(spec.acquireTime).toMatch(/\.\d{6}Z$/);
    expect(await registry.metrics()).toContain('leader_election_master_status{name="lone"} 1');
    expect(elector.isLeaseHealthy()).toBe(true);

    // It keeps renewing: renewTime moves while acquireTime stays.
    const renewed = await eventually('a renewal', async () => {
      const now = await leaseSpec(namespace, 'lone');
      return now.renewTime !== spec.renewTime ? now : undefined;
    });
    expect(renewed.acquireTime).toBe(spec.acquireTime);
    expect(renewed.holderIdentity).toBe('lone-candidate_0001');

    // Another writer changes the Lease (a label): the optimistic renew fails on
    // its stale resourceVersion, and the slow path re-reads and renews.
    await kubectl('label', 'lease', '-n', namespace, 'lone', 'touched=yes');
    await eventually('a slow-path renewal', async () =>
      (await registry.metrics()).includes('leader_election_slowpath_total{name="lone"} 1')
        ? true
        : undefined,
    );
    expect(elector.isLeader()).toBe(true);
    const afterSlowPath = await eventually('a renewal after the label', async () => {
      const now = await leaseSpec(namespace, 'lone');
      return now.renewTime !== renewed.renewTime ? now : undefined;
    });
    expect(afterSlowPath.holderIdentity).toBe('lone-candidate_0001');
    expect(afterSlowPath.leaseTransitions).toBe(0);

    shutdown.abort();
    await expect(outcome).resolves.toBe('stepped-down');
    expect(workSignal?.aborted).toBe(true);
    expect(led).toEqual(['leader lone-candidate_0001', 'started', 'stopped']);
    const released = await leaseSpec(namespace, 'lone');
    expect(released.holderIdentity ?? '').toBe('');
    expect(released.leaseDurationSeconds).toBe(1);
    expect(await registry.metrics()).toContain('leader_election_master_status{name="lone"} 0');
  });

  it('a leader whose Lease is taken from it stops its work within the renew deadline', async () => {
    const api = kc.makeApiClient(CoordinationV1Api);
    const registry = new Registry();
    let workSignal: AbortSignal | undefined;
    const stopped: number[] = [];
    const elector = new LeaderElector({
      client: api,
      namespace,
      name: 'stolen',
      identity: 'victim_0001',
      registry,
      logger: pino({ level: 'silent' }),
      callbacks: {
        onStartedLeading: (signal) => {
          workSignal = signal;
        },
        onStoppedLeading: () => stopped.push(Date.now()),
      },
    });
    const outcome = elector.run(new AbortController().signal);
    await eventually('the candidate to lead', () =>
      Promise.resolve(elector.isLeader() || undefined),
    );

    // Someone else writes the Lease (an operator, or a candidate that judged it expired).
    const lease = await api.readNamespacedLease({ name: 'stolen', namespace });
    const stolenAt = Date.now();
    await api.replaceNamespacedLease({
      name: 'stolen',
      namespace,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'thief_0001' } },
    });

    await expect(outcome).resolves.toBe('lost');
    const lostAfter = (stopped[0] ?? Infinity) - stolenAt;
    expect(workSignal?.aborted).toBe(true);
    expect(elector.isLeader()).toBe(false);
    // It gave up no later than the renew deadline after its last renewal.
    expect(lostAfter).toBeLessThan(DEFAULT_RENEW_DEADLINE_MS + DEFAULT_RETRY_PERIOD_MS + slack);
    expect(await registry.metrics()).toContain('leader_election_master_status{name="stolen"} 0');
    // It did not release or overwrite the new holder's Lease.
    expect((await leaseSpec(namespace, 'stolen')).holderIdentity).toBe('thief_0001');
  });

  it('two processes elect exactly one leader, and when it is SIGKILLed the other takes over once the lease expires', async () => {
    const pair = [
      startCandidate(namespace, 'killed', 'candidate-a'),
      startCandidate(namespace, 'killed', 'candidate-b'),
    ];
    const leader = await electedOne(pair);
    const standby = pair.find((c) => c !== leader)!;

    // Over several renew periods only one leads, and the Lease names it.
    await new Promise((r) => setTimeout(r, 3 * DEFAULT_RETRY_PERIOD_MS));
    expect(pair.filter((c) => startedLeading(c) !== undefined).map((c) => c.identity)).toEqual([
      leader.identity,
    ]);
    expect(
      standby.events.some((e) => e.event === 'new-leader' && e.leader === leader.identity),
    ).toBe(true);
    const before = await leaseSpec(namespace, 'killed');
    expect(before.holderIdentity).toBe(leader.identity);

    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    await leader.exited;
    const takeover = await eventually(
      'the standby to take over',
      () => Promise.resolve(startedLeading(standby)),
      DEFAULT_LEASE_DURATION_MS + 2 * maxPoll + 10_000,
      50,
    );
    const gap = takeover.t - killedAt;
    console.log(`leader election: takeover ${gap} ms after SIGKILL of the leader`);

    // Upper bound: the standby sees the last renewal within one poll, waits the
    // lease duration from then, and notices expiry at its next poll.
    expect(gap).toBeLessThan(DEFAULT_LEASE_DURATION_MS + 2 * maxPoll + slack);
    // Lower bound: it never took a lease that could still be valid (the dead
    // leader's last renewal was at most one retry period before the kill).
    expect(gap).toBeGreaterThan(DEFAULT_LEASE_DURATION_MS - DEFAULT_RETRY_PERIOD_MS - slack);
    const after = await leaseSpec(namespace, 'killed');
    expect(after.holderIdentity).toBe(standby.identity);
    expect(after.leaseTransitions).toBe((before.leaseTransitions ?? 0) + 1);
  });

  it('a leader stopped with SIGTERM releases the Lease and the standby takes over within about one retry period', async () => {
    const pair = [
      startCandidate(namespace, 'released', 'candidate-c'),
      startCandidate(namespace, 'released', 'candidate-d'),
    ];
    const leader = await electedOne(pair);
    const standby = pair.find((c) => c !== leader)!;
    await eventually(
      'the standby to see the leader',
      () => Promise.resolve(standby.events.find((e) => e.event === 'new-leader')),
      10_000,
      50,
    );
    const before = await leaseSpec(namespace, 'released');

    const stoppedAt = Date.now();
    leader.child.kill('SIGTERM');
    expect(await leader.exited).toBe(0);
    expect(leader.events.find((e) => e.event === 'outcome')?.outcome).toBe('stepped-down');
    const takeover = await eventually(
      'the standby to take over',
      () => Promise.resolve(startedLeading(standby)),
      DEFAULT_LEASE_DURATION_MS,
      50,
    );
    const gap = takeover.t - stoppedAt;
    console.log(`leader election: takeover ${gap} ms after SIGTERM of the leader`);

    // The leader's work stops (200 ms), it releases, and the standby takes the
    // unheld Lease at its next poll: no wait for expiry.
    expect(gap).toBeLessThan(maxPoll + slack);
    const after = await leaseSpec(namespace, 'released');
    expect(after.holderIdentity).toBe(standby.identity);
    expect(after.leaseDurationSeconds).toBe(15);
    expect(after.leaseTransitions).toBe((before.leaseTransitions ?? 0) + 1);
  });
});
