import { KubeConfig } from '@kubernetes/client-node';
import { SqliteFindingStore } from '../findings-store/sqlite.ts';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FIELD_MANAGERS } from '../api/v1alpha1/resources.ts';
import { fieldManager } from '../kube/apply.ts';
import { core } from '../kube/resources.ts';
import { systemClock } from '../runtime/clock.ts';
import { Manager } from '../runtime/manager.ts';
import { createImageScanner } from '../scanner/index.ts';
import { setupAssessments } from './assessments/index.ts';
import { setupCoverage } from './coverage/index.ts';
import type { ControllerSetup } from './deps.ts';
import { setupFindings } from './findings/index.ts';
import { defaultDeps } from './index.ts';
import { informers, keepsPodSpec, trimPod } from './informers.ts';

const log = pino({ level: 'silent' });

async function manager(): Promise<Manager> {
  const kc = new KubeConfig();
  // No request is made: the manager is never started.
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: false }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return Manager.create({ kubeConfig: kc, log, registry: new Registry() });
}

describe('the shared caches', () => {
  it('one declaration asked for twice is one cache', async () => {
    const m = await manager();
    expect(informers.pods(m)).toBe(informers.pods(m));
    expect(informers.suppressionRules(m)).toBe(informers.suppressionRules(m));
    const w = informers.workloads(m);
    expect(informers.workloads(m).CronJob).toBe(w.CronJob);
  });

  it('asking for an existing cache with another transform (or none) is an error', async () => {
    const m = await manager();
    informers.pods(m);
    expect(() => m.informer(core.pods)).toThrow(
      'informer for pods||| already exists with a different transform',
    );
    expect(() => m.informer(core.pods, { transform: (p) => p })).toThrow(/different transform/);
    // Another selector is another cache, with a transform of its own.
    expect(() => m.informer(core.pods, { labelSelector: 'app=x' })).not.toThrow();
  });

  it.each<[string, ControllerSetup[]]>([
    ['coverage, findings, assessments', [setupCoverage, setupFindings, setupAssessments]],
    ['assessments, findings, coverage', [setupAssessments, setupFindings, setupCoverage]],
    ['findings, assessments, coverage', [setupFindings, setupAssessments, setupCoverage]],
  ])('the areas set up in the order %s share the same caches', async (_order, setups) => {
    const m = await manager();
    const deps = defaultDeps({
      manager: m,
      log,
      clock: systemClock,
      adminNamespace: 'kube-inspector-system',
      scanner: createImageScanner({}),
      database: undefined,
      findingsStore: new SqliteFindingStore({ path: ':memory:' }),
    });
    for (const setup of setups) setup(deps);
    // Every area asked through the declarations: asking again finds the same caches.
    expect(() => informers.pods(m)).not.toThrow();
    expect(() => informers.nodes(m)).not.toThrow();
    expect(() => informers.workloads(m)).not.toThrow();
    expect(() => m.informer(core.nodes)).toThrow(/different transform/);
  });

  it('the coverage field manager is the one the client applies under by default', () => {
    expect(FIELD_MANAGERS.coverage).toBe(fieldManager);
    expect(new Set(Object.values(FIELD_MANAGERS)).size).toBe(Object.keys(FIELD_MANAGERS).length);
  });

  describe('pods in the cache', () => {
    const pod = (ownerKind?: string, annotations: Record<string, string> = {}) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'p',
        namespace: 'shop',
        labels: { app: 'web' },
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration': '{"a":"very long copy"}',
          ...annotations,
        },
        managedFields: [{ manager: 'kubectl', operation: 'Update' }],
        ...(ownerKind !== undefined
          ? {
              ownerReferences: [
                { apiVersion: 'v1', kind: ownerKind, name: 'o', uid: 'u', controller: true },
              ],
            }
          : {}),
      },
      spec: {
        nodeName: 'node-1',
        hostNetwork: true,
        containers: [{ name: 'c', image: 'web:1', ports: [{ containerPort: 80, hostPort: 80 }] }],
      },
      status: { phase: 'Running', podIP: '10.0.0.1' },
    });

    it.each<[string, string | undefined, boolean]>([
      ['a bare Pod', undefined, true],
      ["a static pod's mirror, owned by its Node", 'Node', true],
      ['a pod of a controller kube-inspector has no template of', 'SparkApplication', true],
      ['a pod of a ReplicaSet', 'ReplicaSet', false],
      ['a pod of a Job', 'Job', false],
      ['a pod of a StatefulSet', 'StatefulSet', false],
      ['a pod of a DaemonSet', 'DaemonSet', false],
    ])('%s: whole spec kept is %s', (_name, owner, whole) => {
      const p = pod(owner, { 'container.apparmor.security.beta.kubernetes.io/c': 'unconfined' });
      expect(keepsPodSpec(p.metadata)).toBe(whole);
      const t = trimPod(p);
      expect(t.metadata.managedFields).toBeUndefined();
      expect(t.status).toMatchObject({ phase: 'Running' });
      expect((t.status as Record<string, unknown>).podIP).toBeUndefined();
      if (whole) {
        expect(t.spec).toEqual(p.spec);
        // Annotations the rules read stay; the last-applied copy of the object goes.
        expect(t.metadata.annotations).toEqual({
          'container.apparmor.security.beta.kubernetes.io/c': 'unconfined',
        });
      } else {
        expect(t.spec).toMatchObject({
          nodeName: 'node-1',
          containers: [{ name: 'c', image: 'web:1' }],
        });
        expect((t.spec as { hostNetwork?: boolean }).hostNetwork).toBeUndefined();
        expect(t.metadata.annotations).toBeUndefined();
      }
    });
  });
});
