// Two controller replicas with real Lease leader election: only the leader writes findings;
// when the leader dies without releasing its Lease, the other takes over once the Lease expires
// and carries on evaluating, and what a person wrote on a finding is still there.
import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupFindings } from '../../src/controllers/findings/index.ts';
import { leaseLeaderElector } from '../../src/runtime/manager.ts';
import type { DatabaseSource } from '../../src/vulndb/source.ts';
import {
  BOOKWORM_PACKAGES,
  applyCoveredNode,
  applyNodeInventory,
  databaseCopy,
  findingWrites,
  findingsOf,
  withVersions,
} from './findings-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

describe('findings across a leader failover', () => {
  let env: ProductEnvironment;
  let database: DatabaseSource;
  let db: Awaited<ReturnType<typeof databaseCopy>>;
  const replicas: RunningController[] = [];

  const replica = (identity: string): Promise<RunningController> =>
    startController(env, {
      setups: [setupFindings],
      database,
      leaderElector: leaseLeaderElector({
        client: env.kubeConfig.makeApiClient(CoordinationV1Api),
        namespace: env.adminNamespace,
        name: 'kube-inspector-controller',
        identity,
        leaseDurationMs: 4_000,
        renewDeadlineMs: 3_000,
        retryPeriodMs: 500,
        // A crash: the Lease is not handed over, the other replica waits for it to expire.
        releaseOnCancel: false,
      }),
    });

  beforeAll(async () => {
    env = await startProductEnvironment();
    db = await databaseCopy();
    database = db.source;
  });
  afterAll(async () => {
    for (const r of replicas) await r.stop().catch(() => undefined);
    await env?.stop();
    db?.remove();
  });

  it('lets only the leader write, and the other replica take over with the attributes kept', async () => {
    const a = await replica('replica-a');
    replicas.push(a);
    await eventually('replica-a leading', () =>
      Promise.resolve(a.manager.isLeader ? true : undefined),
    );
    const b = await replica('replica-b');
    replicas.push(b);

    await applyNodeInventory(env.client, 'node-1', BOOKWORM_PACKAGES, new Date());
    const cr = await applyCoveredNode(env.client, 'node-1', { lastScannedAt: new Date() });
    const found = await eventually('findings written by the leader', async () => {
      const f = await findingsOf(env.client, env.adminNamespace, cr);
      return f.size === 5 ? f : undefined;
    });
    const ssh = found.get('CVE-2024-6387')!;
    await env.kubectl(
      'patch',
      'finding',
      ssh.metadata.name,
      '-n',
      env.adminNamespace,
      '--type=merge',
      '-p',
      '{"spec":{"attributes":{"owner":"platform-team"}}}',
    );
    expect(findingWrites(await a.metrics())).toBeGreaterThan(0);
    expect(b.manager.isLeader).toBe(false);
    expect(findingWrites(await b.metrics())).toBe(0);

    const killedAt = Date.now();
    await a.stop();
    await eventually(
      'replica-b leading',
      () => Promise.resolve(b.manager.isLeader ? true : undefined),
      30_000,
    );
    console.log(`findings controller failover: ${((Date.now() - killedAt) / 1000).toFixed(1)} s`);

    // The new leader evaluates: the openssh upgrade closes the finding, the attribute stays.
    await applyNodeInventory(
      env.client,
      'node-1',
      withVersions(BOOKWORM_PACKAGES, {
        'openssh-client': '1:9.2p1-2+deb12u3',
        'openssh-server': '1:9.2p1-2+deb12u3',
      }),
      new Date(),
    );
    const closed = await eventually('CLOSED by the new leader', async () => {
      const f = (await findingsOf(env.client, env.adminNamespace, cr)).get('CVE-2024-6387');
      return f?.status?.status === 'CLOSED' ? f : undefined;
    });
    expect(closed.metadata.uid).toBe(ssh.metadata.uid);
    expect(closed.spec?.attributes).toEqual({ owner: 'platform-team' });
    expect(closed.status?.firstObservedAt).toBe(ssh.status?.firstObservedAt);
    expect(findingWrites(await b.metrics())).toBeGreaterThan(0);
  });
});
