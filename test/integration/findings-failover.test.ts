// Findings across a failover and an upgrade. The process that leads holds the findings store (a
// SQLite file on the volume) and serves the findings API; when it dies without releasing its
// Lease, another process takes the Lease once it expires, opens the same file and serves the
// API on the same Service, and carries on evaluating with what a person wrote on a finding still
// there. The time the API is unavailable through kube-apiserver is measured across the crash and
// across a rolling restart (graceful stop, Lease released), and a namespace with findings is
// still deleted completely by the namespace controller afterwards.
import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../src/api/v1alpha1/common.ts';
import { setupFindings } from '../../src/controllers/findings/index.ts';
import { isNotFound } from '../../src/kube/client.ts';
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
import { eventually, uniqueName } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

/**
 * Reads findings through kube-apiserver every `intervalMs` until stopped; reports the longest
 * stretch from the first failed read to the next successful one.
 */
function availabilityProbe(env: ProductEnvironment, intervalMs = 100) {
  let stopped = false;
  let failingSince: number | undefined;
  let longest = 0;
  let failures = 0;
  const path = `/apis/findings.kubeinspector.io/v1alpha1/namespaces/${env.adminNamespace}/findings`;
  const loop = (async () => {
    while (!stopped) {
      const at = Date.now();
      const ok = await env.client
        .request('GET', path, { query: { limit: 1 }, timeoutMs: 5_000 })
        .then(
          () => true,
          () => false,
        );
      if (!ok) {
        failures++;
        failingSince ??= at;
      } else if (failingSince !== undefined) {
        longest = Math.max(longest, Date.now() - failingSince);
        failingSince = undefined;
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop(): Promise<{ unavailableMs: number; failures: number }> {
      stopped = true;
      await loop;
      if (failingSince !== undefined) longest = Math.max(longest, Date.now() - failingSince);
      return { unavailableMs: longest, failures };
    },
  };
}

describe('findings across a failover and an upgrade', () => {
  let env: ProductEnvironment;
  let database: DatabaseSource;
  let db: Awaited<ReturnType<typeof databaseCopy>>;
  let current: RunningController | undefined;
  /** The CoveredResource of node-1. */
  let cr: string;

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
        // A crash: the Lease is not handed over, the next process waits for it to expire.
        releaseOnCancel: identity !== 'replica-a',
      }),
    });
  const leading = (r: RunningController) =>
    eventually(
      'the replica leading',
      () => Promise.resolve(r.manager.isLeader ? true : undefined),
      30_000,
    );

  beforeAll(async () => {
    env = await startProductEnvironment();
    db = await databaseCopy();
    database = db.source;
  });
  afterAll(async () => {
    await current?.stop().catch(() => undefined);
    await env?.stop();
    db?.remove();
  });

  it('carries on after the store owner dies, with the attributes kept', async () => {
    const a = await replica('replica-a');
    current = a;
    await leading(a);

    await applyNodeInventory(env.client, 'node-1', BOOKWORM_PACKAGES, new Date());
    cr = await applyCoveredNode(env.client, 'node-1', { lastScannedAt: new Date() });
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

    // The process dies: its server and store go, the installed APIService stays.
    const probe = availabilityProbe(env);
    await new Promise((r) => setTimeout(r, 500));
    const killedAt = Date.now();
    current = undefined;
    await a.stop({ keepApiService: true });
    const b = await replica('replica-b');
    current = b;
    await leading(b);
    await eventually('findings served again', async () =>
      (await findingsOf(env.client, env.adminNamespace, cr)).size === 5 ? true : undefined,
    );
    const crash = await probe.stop();
    console.log(
      `findings API across a crash: unavailable ${(crash.unavailableMs / 1000).toFixed(1)} s ` +
        `(${crash.failures} failed reads; new leader ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill)`,
    );
    expect(crash.failures).toBeGreaterThan(0);
    expect(crash.unavailableMs).toBeLessThan(20_000);

    // The new process evaluates: the openssh upgrade closes the finding, the attribute stays.
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

  it('stays available within the goal across a rolling restart', async () => {
    const before = await findingsOf(env.client, env.adminNamespace, cr);
    const probe = availabilityProbe(env);
    await new Promise((r) => setTimeout(r, 500));
    // A new version replaces the process: SIGTERM (graceful, the Lease released), then the new one.
    const old = current!;
    current = undefined;
    await old.stop({ keepApiService: true });
    const next = await replica('replica-c');
    current = next;
    await leading(next);
    await eventually('findings served by the new version', async () => {
      await env.client.request(
        'GET',
        `/apis/findings.kubeinspector.io/v1alpha1/namespaces/${env.adminNamespace}/findings`,
      );
      return true;
    });
    const upgrade = await probe.stop();
    console.log(
      `findings API across a rolling restart: unavailable ${(upgrade.unavailableMs / 1000).toFixed(1)} s ` +
        `(${upgrade.failures} failed reads)`,
    );
    expect(upgrade.unavailableMs).toBeLessThan(20_000);
    // Nothing was lost on the way.
    const after = await findingsOf(env.client, env.adminNamespace, cr);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
  });

  it('lets the namespace controller delete a namespace that has findings', async () => {
    const ns = uniqueName('findings-ns');
    await env.client.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
    const template = (await current!.store.list({ namespace: env.adminNamespace, limit: 1 }))
      .items[0]!;
    for (const name of ['one', 'two']) {
      await current!.store.create({
        ...structuredClone(template),
        // Not tied to node-1's CoveredResource: only the namespace controller acts on these.
        metadata: { name, namespace: ns, labels: { [LABELS.severity]: 'HIGH' } },
      });
    }
    const listed = await env.kubectl('get', 'findings', '-n', ns, '-o', 'name');
    expect(listed.trim().split('\n')).toHaveLength(2);

    const startedAt = Date.now();
    await env.kubectl('delete', 'namespace', ns, '--wait=false');
    await eventually(
      'the namespace gone',
      async () => {
        try {
          await env.client.request('GET', `/api/v1/namespaces/${ns}`);
          return undefined;
        } catch (err) {
          return isNotFound(err) ? true : undefined;
        }
      },
      90_000,
      250,
    );
    console.log(
      `namespace with findings deleted in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
    );
    expect((await current!.store.list({ namespace: ns })).items).toEqual([]);
  });
});
