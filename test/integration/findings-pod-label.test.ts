// The serving label of the findings API (ADR 710) against the real API server: a replica labels
// and unlabels its own pod, removes a stale label at start, and never throws when its pod is gone
// or unknown. A Pod object needs no kubelet to be labelled.
import { CoreV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FINDINGS_API_LABEL,
  FINDINGS_API_LABEL_VALUE,
  FindingsPodLabel,
} from '../../src/cli/findings-pod-label.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { createNamespace, kubeConfig } from './helpers.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const log = pino({ level: 'silent' });
let client: KubeClient;
let namespace: string;

async function createPod(name: string, labels: Record<string, string>): Promise<void> {
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, labels },
      spec: { containers: [{ name: 'c', image: 'example.invalid/none:1' }] },
    },
  });
}

async function labels(name: string): Promise<Record<string, string>> {
  return (await core.readNamespacedPod({ name, namespace })).metadata?.labels ?? {};
}

beforeAll(async () => {
  client = await KubeClient.create(kc, { qps: 0 });
  namespace = await createNamespace(kc, 'pod-label');
});

afterAll(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  await client.close();
});

describe('the findings API serving label on the own pod', () => {
  it('labels the pod while serving and removes the label, under its field manager, keeping other labels', async () => {
    await createPod('leader', { app: 'x' });
    const label = new FindingsPodLabel({ client, namespace, name: 'leader', log });
    await label.clearStale();
    expect(label.ready).toBe(true);
    expect(await label.set()).toBe(true);
    expect(await labels('leader')).toEqual({
      app: 'x',
      [FINDINGS_API_LABEL]: FINDINGS_API_LABEL_VALUE,
    });
    const pod = await core.readNamespacedPod({ name: 'leader', namespace });
    expect(pod.metadata?.managedFields?.map((m) => m.manager)).toContain(
      'kube-inspector-findings-api',
    );
    // Selected by a label selector, as the Service's endpoints controller selects it.
    const selected = await core.listNamespacedPod({
      namespace,
      labelSelector: `${FINDINGS_API_LABEL}=${FINDINGS_API_LABEL_VALUE}`,
    });
    expect(selected.items.map((p) => p.metadata?.name)).toEqual(['leader']);
    expect(await label.remove()).toBe(true);
    expect(await labels('leader')).toEqual({ app: 'x' });
    // Removing again is harmless.
    expect(await label.remove()).toBe(true);
  });

  it('removes a stale label left by an earlier container before it reports ready', async () => {
    await createPod('restarted', { app: 'x', [FINDINGS_API_LABEL]: FINDINGS_API_LABEL_VALUE });
    const label = new FindingsPodLabel({ client, namespace, name: 'restarted', log });
    expect(label.ready).toBe(false);
    await label.clearStale();
    expect(label.ready).toBe(true);
    expect(await labels('restarted')).toEqual({ app: 'x' });
  });

  it('does not throw when its pod is gone: set fails, remove and clearStale succeed', async () => {
    const label = new FindingsPodLabel({ client, namespace, name: 'gone', log, attempts: 2 });
    await label.clearStale();
    expect(label.ready).toBe(true);
    expect(await label.set()).toBe(false);
    expect(await label.remove()).toBe(true);
  });

  it('skips labelling without POD_NAME (outside a cluster) and is ready at once', async () => {
    const label = new FindingsPodLabel({ client, namespace, name: undefined, log });
    await label.clearStale();
    expect(label.ready).toBe(true);
    expect(await label.set()).toBe(true);
    expect(await label.remove()).toBe(true);
  });
});
