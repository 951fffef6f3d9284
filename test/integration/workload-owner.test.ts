// Which workload owns a pod: coverage and assessments give the same answer (src/coverage/owner.ts).
// Pods of a ReplicaSet without a Deployment are workloads of their own in both; pods of a
// Deployment belong to the Deployment in both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PushedImage,
  Writer,
  createWorkload,
  namespaceObject,
  runPod,
  runWorkload,
} from './coverage-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

const NS = 'team';
const image = (name: string, hex: string): PushedImage => ({
  repository: `127.0.0.1:1/${name}`,
  reference: `127.0.0.1:1/${name}:1`,
  digest: `sha256:${hex.repeat(64)}`,
  imageID: `127.0.0.1:1/${name}@sha256:${hex.repeat(64)}`,
});

interface Covered {
  status?: { resourceType?: string; resourceId?: string };
}

describe('which workload owns a pod', () => {
  let env: ProductEnvironment;
  let controller: RunningController;

  beforeAll(async () => {
    env = await startProductEnvironment();
    controller = await startController(env);
    const w = new Writer(env.client);
    await env.apply(namespaceObject(NS), {
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: {},
    });
    const bare = [{ name: 'main', image: image('bare', 'b') }];
    const rs = await createWorkload(w, 'ReplicaSet', NS, 'bare', bare, { labels: { app: 'bare' } });
    for (const pod of ['bare-x1', 'bare-x2']) {
      await runPod(w, NS, pod, 'node-a', bare, 'Running', Date.now(), {
        labels: { app: 'bare' },
        owner: rs,
      });
    }
    const web = [{ name: 'main', image: image('web', 'c') }];
    await runWorkload(w, 'Deployment', NS, 'web', 'node-a', web, 'Running', Date.now());
  });
  afterAll(async () => {
    await controller?.stop();
    await env?.stop();
  });

  it('coverage and an assessment target count the same workloads: the bare ReplicaSet’s pods each, the Deployment once', async () => {
    const workloads = await eventually('workload coverage', async () => {
      const out = await env.kubectl(
        'get',
        'coveredresources',
        '-l',
        'kubeinspector.io/resource-type=WORKLOAD',
        '-o',
        'json',
      );
      const ids = (JSON.parse(out) as { items: Covered[] }).items
        .map((i) => i.status?.resourceId ?? '')
        .filter((id) => id.startsWith(`${NS}/`))
        .sort();
      return ids.length === 3 ? ids : undefined;
    });
    expect(workloads).toEqual(['team/Deployment/web', 'team/Pod/bare-x1', 'team/Pod/bare-x2']);

    await env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'AssessmentTarget',
      metadata: { name: 'all', namespace: NS },
      spec: { resourceTypes: ['WORKLOAD'] },
    });
    const matched = await eventually('the target matched', async () => {
      const t = JSON.parse(
        await env.kubectl('get', 'assessmenttarget', 'all', '-n', NS, '-o', 'json'),
      ) as { status?: { matched?: { workloads?: number } } };
      return t.status?.matched;
    });
    expect(matched.workloads).toBe(workloads.length);
  });
});
