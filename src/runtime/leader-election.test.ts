import { V1MicroTime } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  defaultIdentity,
  formatMicroTime,
  jittered,
  type LeaseClient,
  LeaseObservation,
  type LeaseRecord,
  LeaderElector,
  leaseHealthy,
  leaseSpecFromRecord,
  planAcquireOrRenew,
  recordFromLease,
  validateTimings,
} from './leader-election.ts';

const other = (over: Partial<LeaseRecord> = {}): LeaseRecord => ({
  holderIdentity: 'pod-a_1234',
  leaseDurationSeconds: 15,
  acquireTime: '2026-01-01T00:00:00.000000Z',
  renewTime: '2026-01-01T00:00:10.000000Z',
  leaseTransitions: 3,
  ...over,
});

describe('MicroTime and the Lease record', () => {
  it('formatMicroTime writes six fractional digits, as RFC3339Micro wants', () => {
    expect(formatMicroTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05.678000Z');
  });

  it('recordFromLease reads MicroTime strings as the server sent them', () => {
    const record = recordFromLease({
      spec: {
        holderIdentity: 'x',
        leaseDurationSeconds: 15,
        leaseTransitions: 2,
        renewTime: '2026-01-02T03:04:05.123456Z' as unknown as V1MicroTime,
        acquireTime: new V1MicroTime(Date.UTC(2026, 0, 2)),
      },
    });
    expect(record).toEqual({
      holderIdentity: 'x',
      leaseDurationSeconds: 15,
      leaseTransitions: 2,
      renewTime: '2026-01-02T03:04:05.123456Z',
      acquireTime: '2026-01-02T00:00:00.000000Z',
    });
  });

  it('an empty Lease reads as unheld with no duration', () => {
    expect(recordFromLease({})).toEqual({
      holderIdentity: '',
      leaseDurationSeconds: 0,
      acquireTime: undefined,
      renewTime: undefined,
      leaseTransitions: 0,
    });
  });

  it('leaseSpecFromRecord serialises times without losing microseconds', () => {
    const spec = leaseSpecFromRecord(other({ renewTime: '2026-01-02T03:04:05.123456Z' }));
    expect(JSON.parse(JSON.stringify(spec))).toMatchObject({
      renewTime: '2026-01-02T03:04:05.123456Z',
      holderIdentity: 'pod-a_1234',
      leaseTransitions: 3,
    });
  });
});

describe('LeaseObservation: expiry by our clock since the record last changed', () => {
  it('a record first seen at t is valid until t + leaseDurationSeconds', () => {
    const o = new LeaseObservation();
    o.observe(other(), 1_000);
    expect(o.isValid(15_999)).toBe(true);
    expect(o.isValid(16_000)).toBe(false);
  });

  it('reading the same record again does not restart the clock', () => {
    const o = new LeaseObservation();
    o.observe(other(), 1_000);
    expect(o.observe(other(), 9_000)).toBe(false);
    expect(o.observedAt).toBe(1_000);
    expect(o.isValid(16_000)).toBe(false);
  });

  it('a renewed record restarts the clock even if its renewTime looks old to us', () => {
    const o = new LeaseObservation();
    o.observe(other(), 1_000);
    // The holder's clock is an hour behind ours: its renewTime means nothing to us.
    expect(o.observe(other({ renewTime: '2025-12-31T23:00:02.000000Z' }), 9_000)).toBe(true);
    expect(o.isValid(23_999)).toBe(true);
  });

  it('the duration of the observed record counts, so a released lease expires after 1 s', () => {
    const o = new LeaseObservation();
    o.observe(other({ holderIdentity: '', leaseDurationSeconds: 1 }), 1_000);
    expect(o.isValid(1_999)).toBe(true);
    expect(o.isValid(2_000)).toBe(false);
  });

  it('nothing observed is never valid', () => {
    expect(new LeaseObservation().isValid(0)).toBe(false);
  });

  it('our own write always restarts the clock', () => {
    const o = new LeaseObservation();
    o.observe(other(), 1_000);
    o.wrote(other(), 5_000);
    expect(o.observedAt).toBe(5_000);
  });
});

describe('planAcquireOrRenew', () => {
  const now = '2026-01-01T00:01:00.000000Z';
  const plan = (current: LeaseRecord | undefined, seenAt: number, at: number, identity = 'me') => {
    const observation = new LeaseObservation();
    if (current !== undefined) observation.observe(current, seenAt);
    return planAcquireOrRenew({
      identity,
      leaseDurationSeconds: 15,
      nowWall: now,
      nowClock: at,
      current,
      observation,
    });
  };

  it('a missing Lease is created with us as holder and no transitions', () => {
    expect(plan(undefined, 0, 0)).toEqual({
      action: 'create',
      record: {
        holderIdentity: 'me',
        leaseDurationSeconds: 15,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      },
    });
  });

  it('a Lease held by another candidate and seen changing recently is left alone', () => {
    expect(plan(other(), 1_000, 15_999)).toEqual({ action: 'wait', holder: 'pod-a_1234' });
  });

  it('a Lease unchanged for its whole duration is taken over and its transitions counted', () => {
    expect(plan(other(), 1_000, 16_000)).toEqual({
      action: 'update',
      slowPath: false,
      record: {
        holderIdentity: 'me',
        leaseDurationSeconds: 15,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 4,
      },
    });
  });

  it('a released Lease (no holder) is taken at once, without waiting for expiry', () => {
    const released = other({ holderIdentity: '', leaseDurationSeconds: 1 });
    expect(plan(released, 1_000, 1_001)).toMatchObject({
      action: 'update',
      slowPath: false,
      record: { holderIdentity: 'me', leaseTransitions: 4 },
    });
  });

  it('our own Lease is renewed on the slow path, keeping acquireTime and transitions', () => {
    expect(plan(other({ holderIdentity: 'me' }), 1_000, 30_000)).toEqual({
      action: 'update',
      slowPath: true,
      record: {
        holderIdentity: 'me',
        leaseDurationSeconds: 15,
        acquireTime: '2026-01-01T00:00:00.000000Z',
        renewTime: now,
        leaseTransitions: 3,
      },
    });
  });
});

describe('validateTimings', () => {
  const cases: { name: string; t: [number, number, number]; error: RegExp | undefined }[] = [
    {
      name: 'the defaults 15 s / 10 s / 2 s are accepted',
      t: [15_000, 10_000, 2_000],
      error: undefined,
    },
    {
      name: 'a renew deadline not above the lease duration is refused',
      t: [10_000, 10_000, 2_000],
      error: /lease duration .* greater than the renew deadline/,
    },
    {
      name: 'a renew deadline within 1.2 retry periods is refused',
      t: [15_000, 2_400, 2_000],
      error: /renew deadline .* greater than 1.2/,
    },
    { name: 'a zero retry period is refused', t: [15_000, 10_000, 0], error: /retry period/ },
    {
      name: 'a lease duration that is not whole seconds is refused',
      t: [15_500, 10_000, 2_000],
      error: /whole seconds/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const [leaseDurationMs, renewDeadlineMs, retryPeriodMs] = c.t;
      const run = () => validateTimings({ leaseDurationMs, renewDeadlineMs, retryPeriodMs });
      if (c.error === undefined) expect(run).not.toThrow();
      else expect(run).toThrow(c.error);
    });
  }
});

describe('timing helpers', () => {
  it('jittered waits lie between the period and 2.2 periods', () => {
    expect(jittered(2_000, () => 0)).toBe(2_000);
    expect(jittered(2_000, () => 0.5)).toBe(3_200);
    expect(jittered(2_000, () => 0.999999)).toBeLessThan(4_400);
  });

  const health: { name: string; leading: boolean; sinceRenew: number; healthy: boolean }[] = [
    {
      name: 'a standby is healthy however long ago anything happened',
      leading: false,
      sinceRenew: 1e9,
      healthy: true,
    },
    {
      name: 'a leader that renewed within lease + tolerance is healthy',
      leading: true,
      sinceRenew: 35_000,
      healthy: true,
    },
    {
      name: 'a leader that has not renewed for longer than lease + tolerance is unhealthy',
      leading: true,
      sinceRenew: 35_001,
      healthy: false,
    },
  ];
  for (const h of health) {
    it(h.name, () => {
      expect(
        leaseHealthy({
          leading: h.leading,
          lastRenewAt: 1_000,
          now: 1_000 + h.sinceRenew,
          leaseDurationMs: 15_000,
          toleranceMs: 20_000,
        }),
      ).toBe(h.healthy);
    });
  }

  it('the default identity is the pod name plus a random suffix, different each time', () => {
    const a = defaultIdentity({ POD_NAME: 'controller-7d9f' });
    const b = defaultIdentity({ POD_NAME: 'controller-7d9f' });
    expect(a).toMatch(/^controller-7d9f_[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
  });
});

describe('LeaderElector construction', () => {
  const client: LeaseClient = {
    readNamespacedLease: () => Promise.reject(new Error('unused')),
    createNamespacedLease: () => Promise.reject(new Error('unused')),
    replaceNamespacedLease: () => Promise.reject(new Error('unused')),
  };

  it('registers both leader election metrics at zero for its lease name', async () => {
    const registry = new Registry();
    new LeaderElector({ client, namespace: 'ns', name: 'kube-inspector', registry });
    const text = await registry.metrics();
    expect(text).toContain('leader_election_master_status{name="kube-inspector"} 0');
    expect(text).toContain('leader_election_slowpath_total{name="kube-inspector"} 0');
  });

  it('two electors can share one registry', () => {
    const registry = new Registry();
    new LeaderElector({ client, namespace: 'ns', name: 'a', registry });
    expect(() => new LeaderElector({ client, namespace: 'ns', name: 'b', registry })).not.toThrow();
  });

  it('refuses timings client-go would refuse', () => {
    expect(
      () => new LeaderElector({ client, namespace: 'ns', name: 'a', leaseDurationMs: 5_000 }),
    ).toThrow(/greater than the renew deadline/);
  });

  it('a candidate that never led is healthy and not leader', () => {
    const e = new LeaderElector({ client, namespace: 'ns', name: 'a', identity: 'me' });
    expect(e.isLeader()).toBe(false);
    expect(e.isLeaseHealthy()).toBe(true);
    expect(e.identity).toBe('me');
  });

  it('run() resolves "cancelled" when aborted before it ever led', async () => {
    const e = new LeaderElector({ client, namespace: 'ns', name: 'a' });
    const ac = new AbortController();
    const outcome = e.run(ac.signal);
    ac.abort();
    await expect(outcome).resolves.toBe('cancelled');
  });
});
