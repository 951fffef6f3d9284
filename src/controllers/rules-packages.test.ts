import { describe, expect, it } from 'vitest';
import { Cache } from '../kube/cache.ts';
import type { KubeObject } from '../kube/resources.ts';
import { trimPod } from './informers.ts';
import {
  evaluateWorkloadPackages,
  workloadFactsOf,
  type WorkloadCaches,
} from './rules-packages.ts';

const spec = (hostPort: number) => ({
  containers: [{ name: 'c', image: 'web:1', ports: [{ containerPort: 8080, hostPort }] }],
});

function caches(pods: KubeObject[], replicaSets: KubeObject[] = []): WorkloadCaches {
  const cache = (objs: KubeObject[]) => {
    const c = new Cache();
    c.replace(objs);
    return c;
  };
  return {
    workloads: new Map(),
    pods: cache(pods.map(trimPod)),
    replicaSets: cache(replicaSets),
    serviceAccounts: cache([]),
    network: {
      services: cache([]),
      ingresses: cache([]),
      networkPolicies: cache([]),
      httpRoutes: cache([]),
      gateways: cache([]),
      namespaces: cache([]),
    },
  };
}

const pod = (name: string, owner?: { kind: string; name: string }): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    namespace: 'shop',
    labels: { app: name },
    ...(owner !== undefined
      ? { ownerReferences: [{ apiVersion: 'v1', ...owner, uid: 'u', controller: true }] }
      : {}),
  },
  spec: { nodeName: 'node-1', ...spec(9000) },
});

describe('pods as workloads of their own', () => {
  it('a bare Pod is evaluated from its own spec, out of the cache', () => {
    const f = workloadFactsOf(caches([pod('tool')]), {
      namespace: 'shop',
      kind: 'Pod',
      name: 'tool',
    });
    expect(f).toMatchObject({
      kind: 'Pod',
      name: 'tool',
      templatePath: '',
      template: { metadata: { labels: { app: 'tool' } }, spec: spec(9000) },
    });
  });

  it("a static pod's mirror, owned by its Node, is too", () => {
    const c = caches([pod('etcd-node-1', { kind: 'Node', name: 'node-1' })]);
    const out = evaluateWorkloadPackages(['network-reachability'], c, [
      { namespace: 'shop', kind: 'Pod', name: 'etcd-node-1' },
    ]);
    expect(out.notEvaluated).toEqual([]);
    expect(out.findings.map((f) => f.status.ruleId)).toEqual(['NETWORK-REACHABILITY-HOSTPORT']);
  });

  it('a pod of a ReplicaSet no Deployment runs is evaluated through the ReplicaSet template, with its own labels', () => {
    const rs: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'legacy', namespace: 'shop' },
      spec: { template: { metadata: { labels: { app: 'legacy' } }, spec: spec(7000) } },
    };
    const c = caches([pod('legacy-x1', { kind: 'ReplicaSet', name: 'legacy' })], [rs]);
    const f = workloadFactsOf(c, { namespace: 'shop', kind: 'Pod', name: 'legacy-x1' });
    expect(f).toMatchObject({
      kind: 'Pod',
      templatePath: '',
      template: { metadata: { labels: { app: 'legacy-x1' } }, spec: spec(7000) },
    });
    // Without the ReplicaSet in the cache, there is nothing to read yet.
    expect(
      workloadFactsOf(caches([pod('legacy-x1', { kind: 'ReplicaSet', name: 'legacy' })]), {
        namespace: 'shop',
        kind: 'Pod',
        name: 'legacy-x1',
      }),
    ).toMatch(/pod template of its ReplicaSet legacy is not known yet/);
  });

  it('a pod that is gone is not evaluated, saying so', () => {
    const out = evaluateWorkloadPackages(['security-best-practices'], caches([]), [
      { namespace: 'shop', kind: 'Pod', name: 'gone' },
    ]);
    expect(out.notEvaluated).toEqual([
      { id: 'shop/Pod/gone', reason: 'Pod shop/gone no longer exists' },
    ]);
  });
});
