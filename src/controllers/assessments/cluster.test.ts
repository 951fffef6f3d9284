import { describe, expect, it } from 'vitest';
import { Cache } from '../../kube/cache.ts';
import type { KubeObject } from '../../kube/resources.ts';
import { type AssessmentCaches, clusterSnapshot, referenceDigest } from './cluster.ts';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;

function cacheOf(...objects: KubeObject[]): Cache {
  const c = new Cache();
  for (const o of objects) c.upsert({ ...o, metadata: { resourceVersion: '1', ...o.metadata } });
  return c;
}

const owner = (kind: string, name: string) => ({
  apiVersion: 'apps/v1',
  kind,
  name,
  uid: `${kind}-${name}`,
  controller: true,
});

function template(image: string) {
  return { template: { spec: { containers: [{ name: 'main', image }] } } };
}

function pod(
  name: string,
  image: string,
  o: { owner?: ReturnType<typeof owner>; imageID?: string; labels?: Record<string, string> } = {},
): KubeObject {
  return {
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'shop',
      labels: o.labels ?? {},
      ...(o.owner ? { ownerReferences: [o.owner] } : {}),
    },
    spec: { containers: [{ name: 'main', image }] },
    status: { containerStatuses: o.imageID ? [{ name: 'main', imageID: o.imageID }] : [] },
  };
}

function caches(
  parts: Partial<Record<'pods' | 'replicaSets' | 'Deployment' | 'Job' | 'CronJob', KubeObject[]>>,
): AssessmentCaches {
  const workloads = new Map<string, Cache>([
    ['Deployment', cacheOf(...(parts.Deployment ?? []))],
    ['StatefulSet', cacheOf()],
    ['DaemonSet', cacheOf()],
    ['Job', cacheOf(...(parts.Job ?? []))],
    ['CronJob', cacheOf(...(parts.CronJob ?? []))],
  ]);
  return {
    nodes: cacheOf({ kind: 'Node', metadata: { name: 'n1', labels: { pool: 'blue' } } }),
    namespaces: cacheOf({ kind: 'Namespace', metadata: { name: 'shop', labels: { team: 'x' } } }),
    pods: cacheOf(...(parts.pods ?? [])),
    replicaSets: cacheOf(...(parts.replicaSets ?? [])),
    workloads,
  } as unknown as AssessmentCaches;
}

describe('the cluster snapshot a target is matched against', () => {
  it('reads the digest a reference pins', () => {
    expect(referenceDigest(`r.example/web@${D1}`)).toBe(D1);
    expect(referenceDigest('r.example/web:1')).toBeUndefined();
  });

  it('attributes a pod to its Deployment through the ReplicaSet, with the digest its status reports', () => {
    const snap = clusterSnapshot(
      caches({
        Deployment: [
          {
            kind: 'Deployment',
            metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
            spec: template('r.example/web:1'),
          },
        ],
        replicaSets: [
          {
            kind: 'ReplicaSet',
            metadata: {
              name: 'web-1',
              namespace: 'shop',
              ownerReferences: [owner('Deployment', 'web')],
            },
          },
        ],
        pods: [
          pod('web-1-x', 'r.example/web:1', {
            owner: owner('ReplicaSet', 'web-1'),
            imageID: `r.example/web@${D1}`,
          }),
        ],
      }),
    );
    expect(snap.nodes).toEqual([{ name: 'n1', labels: { pool: 'blue' } }]);
    expect(snap.namespaces.get('shop')).toEqual({ team: 'x' });
    expect(snap.workloads).toEqual([
      {
        namespace: 'shop',
        kind: 'Deployment',
        name: 'web',
        labels: { app: 'web' },
        images: [{ reference: 'r.example/web:1', digest: D1, pod: 'web-1-x' }],
      },
    ]);
  });

  it('counts a Job run by a CronJob as the CronJob, and a pod without a controller as itself', () => {
    const snap = clusterSnapshot(
      caches({
        CronJob: [
          {
            kind: 'CronJob',
            metadata: { name: 'nightly', namespace: 'shop' },
            spec: { jobTemplate: { spec: template(`r.example/job@${D2}`) } },
          },
        ],
        Job: [
          {
            kind: 'Job',
            metadata: {
              name: 'nightly-1',
              namespace: 'shop',
              ownerReferences: [owner('CronJob', 'nightly')],
            },
            spec: template(`r.example/job@${D2}`),
          },
        ],
        pods: [
          pod('nightly-1-x', `r.example/job@${D2}`, { owner: owner('Job', 'nightly-1') }),
          pod('debug', 'r.example/tools:2', { labels: { tier: 'batch' } }),
        ],
      }),
    );
    expect(snap.workloads.map((w) => `${w.kind}/${w.name}`).sort()).toEqual([
      'CronJob/nightly',
      'Pod/debug',
    ]);
    const cron = snap.workloads.find((w) => w.kind === 'CronJob')!;
    expect(cron.images).toEqual([
      { reference: `r.example/job@${D2}`, digest: D2, pod: 'nightly-1-x' },
    ]);
    const debug = snap.workloads.find((w) => w.kind === 'Pod')!;
    expect(debug.labels).toEqual({ tier: 'batch' });
    expect(debug.images).toEqual([
      { reference: 'r.example/tools:2', digest: undefined, pod: 'debug' },
    ]);
  });

  it('counts a pod of a bare ReplicaSet or of an unknown controller as itself, as coverage does, and waits for an uncached ReplicaSet', () => {
    const snap = clusterSnapshot(
      caches({
        replicaSets: [
          { kind: 'ReplicaSet', metadata: { name: 'bare', namespace: 'shop' } },
          {
            kind: 'ReplicaSet',
            metadata: {
              name: 'canary-1',
              namespace: 'shop',
              ownerReferences: [owner('Rollout', 'canary')],
            },
          },
        ],
        pods: [
          pod('bare-x', 'r.example/a:1', { owner: owner('ReplicaSet', 'bare') }),
          pod('canary-1-x', 'r.example/b:1', { owner: owner('ReplicaSet', 'canary-1') }),
          pod('build-x', 'r.example/c:1', { owner: owner('Workflow', 'build') }),
          pod('early-x', 'r.example/d:1', { owner: owner('ReplicaSet', 'not-cached-yet') }),
        ],
      }),
    );
    expect(snap.workloads.map((w) => `${w.kind}/${w.name}`).sort()).toEqual([
      'Pod/bare-x',
      'Pod/build-x',
      'Pod/canary-1-x',
    ]);
  });
});
