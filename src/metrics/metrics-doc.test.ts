// docs/metrics.md lists every metric the controller registers, and nothing else.
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Cache } from '../kube/cache.ts';
import { KubeClient } from '../kube/client.ts';
import { EventRecorder } from '../kube/events.ts';
import { Reflector } from '../kube/reflector.ts';
import { core } from '../kube/resources.ts';
import { Controller } from '../runtime/controller.ts';
import { LeaderElector } from '../runtime/leader-election.ts';
import { WorkQueue } from '../runtime/workqueue.ts';
import { registerVulnDbMetrics } from './vulndb.ts';

const log = pino({ level: 'silent' });

function documented(): Set<string> {
  const page = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
  return new Set([...page.matchAll(/^\|\s*`([a-z_:]+)`\s*\|/gm)].map((m) => m[1]!));
}

async function registered(): Promise<Set<string>> {
  const registry = new Registry();
  const kc = new KubeConfig();
  // No request is made: the client only needs a cluster to exist.
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: false }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const client = await KubeClient.create(kc, { registry });
  new Reflector({ client, resource: core.pods, cache: new Cache(), log, registry });
  new WorkQueue({ name: 'q', registry });
  new Controller({
    name: 'c',
    log,
    registry,
    reconciler: { reconcile: () => Promise.resolve(undefined) },
  });
  const unused = (): Promise<never> => Promise.reject(new Error('not called'));
  new LeaderElector({
    client: {
      readNamespacedLease: unused,
      createNamespacedLease: unused,
      replaceNamespacedLease: unused,
    },
    namespace: 'n',
    name: 'l',
    registry,
  });
  const recorder = new EventRecorder({
    sink: { create: unused, patchSeries: unused },
    reportingInstance: 'test',
    registry,
  });
  await recorder.close(100);
  registerVulnDbMetrics(registry, () => undefined);
  await client.close();
  return new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
}

describe('the metrics page', () => {
  it('lists exactly the metrics the controller registers', async () => {
    const inCode = await registered();
    const inDocs = documented();
    expect([...inCode].filter((n) => !inDocs.has(n)).sort()).toEqual([]);
    expect([...inDocs].filter((n) => !inCode.has(n)).sort()).toEqual([]);
    expect(inCode.size).toBeGreaterThanOrEqual(25);
  });
});
