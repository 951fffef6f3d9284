// The controller runtime against real API servers: reflector recovery after an
// API server restart and after 410 Gone, server-side apply with no writes in a
// steady cluster, health and readiness, graceful drain.
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../../hack/control-plane/control-plane.ts';
import { apply, fieldManager } from '../../src/kube/apply.ts';
import { Cache } from '../../src/kube/cache.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { Reflector, stripManagedFields } from '../../src/kube/reflector.ts';
import { core, type KubeObject, type ResourceType, splitKey } from '../../src/kube/resources.ts';
import { Controller } from '../../src/runtime/controller.ts';
import { Manager } from '../../src/runtime/manager.ts';
import { eventually, installCrd, kubectl, kubectlApply, testCrd, uniqueName } from './helpers.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

function configMap(namespace: string, name: string, data: Record<string, string> = {}) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data };
}

describe('the reflector against a control plane of its own', () => {
  let plane: ControlPlane;
  let client: KubeClient;

  beforeAll(async () => {
    plane = await startControlPlane({ log: () => {} });
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    client = await KubeClient.create(kc);
  });
  afterAll(async () => {
    await client?.close();
    await plane?.stop();
  });

  async function namespace(prefix: string): Promise<string> {
    const name = uniqueName(prefix);
    await client.request('POST', '/api/v1/namespaces', { body: { metadata: { name } } });
    return name;
  }

  function reflectorFor(ns: string) {
    const cache = new Cache<KubeObject>();
    const reflector = new Reflector({
      client,
      resource: core.configMaps,
      namespace: ns,
      cache,
      log,
      backoffInitialMs: 100,
      backoffMaxMs: 1000,
    });
    return { cache, reflector };
  }

  it('gives up waiting for a sync at once when asked with a signal already aborted', async () => {
    const { reflector } = reflectorFor('default');
    const gone = new AbortController();
    gone.abort(new Error('stopped before it started'));
    await expect(reflector.waitForSync(gone.signal)).rejects.toThrow('stopped before it started');
    expect(reflector.hasSynced()).toBe(false);
  });

  it('converges after kube-apiserver is killed and started again', async () => {
    const ns = await namespace('restart');
    await client.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
      body: configMap(ns, 'before'),
    });
    const { cache, reflector } = reflectorFor(ns);
    const stop = new AbortController();
    const running = reflector.run(stop.signal);
    try {
      await reflector.waitForSync();
      expect(cache.keys()).toEqual([`${ns}/before`]);
      const watchesBefore = reflector.stats.watches;

      await plane.restartApiServer();
      await client.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
        body: configMap(ns, 'after', { a: '1' }),
      });

      await eventually('the cache to see the object made after the restart', () =>
        Promise.resolve(cache.get(`${ns}/after`) ? true : undefined),
      );
      expect(reflector.stats.watches).toBeGreaterThan(watchesBefore);
      expect(cache.keys().sort()).toEqual([`${ns}/after`, `${ns}/before`]);
    } finally {
      stop.abort();
      await running;
    }
  });

  it('relists after 410 Gone, forced by etcd compaction, and loses no update', async () => {
    const ns = await namespace('gone');
    for (const name of ['a', 'b', 'c']) {
      await client.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
        body: configMap(ns, name, { v: '1' }),
      });
    }
    const { cache, reflector } = reflectorFor(ns);
    const deleted: string[] = [];
    cache.addHandlers({ delete: (o) => deleted.push(o.metadata.name) });
    const first = new AbortController();
    const firstRun = reflector.run(first.signal);
    await reflector.waitForSync();
    expect(cache.keys().sort()).toEqual(['a', 'b', 'c'].map((n) => `${ns}/${n}`));
    first.abort();
    await firstRun;
    const staleVersion = reflector.lastResourceVersion;

    // While the reflector is away: a delete, an update and a create.
    await client.request('DELETE', `/api/v1/namespaces/${ns}/configmaps/a`);
    await client.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/b`, {
      body: { data: { v: '2' } },
      contentType: 'application/merge-patch+json',
    });
    await client.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
      body: configMap(ns, 'd', { v: '1' }),
    });

    // Compact etcd's history past the reflector's resourceVersion, and restart the API server so
    // its watch cache holds no older events either: resuming from the old version must fail with 410.
    const etcd = plane.etcdUrl!;
    const status = (await (
      await fetch(`${etcd}/v3/maintenance/status`, { method: 'POST', body: '{}' })
    ).json()) as {
      header: { revision: string };
    };
    const compacted = await fetch(`${etcd}/v3/kv/compaction`, {
      method: 'POST',
      body: JSON.stringify({ revision: status.header.revision, physical: true }),
    });
    expect(compacted.status).toBe(200);
    expect(Number(status.header.revision)).toBeGreaterThan(Number(staleVersion));
    await plane.restartApiServer();

    const second = new AbortController();
    const secondRun = reflector.run(second.signal);
    try {
      await eventually('the relist to bring the cache up to date', () =>
        Promise.resolve(cache.get(`${ns}/d`) && !cache.get(`${ns}/a`) ? true : undefined),
      );
      expect(reflector.stats.gone).toBeGreaterThanOrEqual(1);
      expect(reflector.stats.lists).toBe(2);
      expect(cache.keys().sort()).toEqual(['b', 'c', 'd'].map((n) => `${ns}/${n}`));
      expect((cache.get(`${ns}/b`)?.data as Record<string, string>).v).toBe('2');
      expect(deleted).toEqual(['a']);
    } finally {
      second.abort();
      await secondRun;
    }
  });

  it('survives an event handler that throws, and keeps the cache correct', async () => {
    const ns = await namespace('handler');
    const { cache, reflector } = reflectorFor(ns);
    const seen: string[] = [];
    cache.addHandlers({
      add: () => {
        throw new Error('handler bug');
      },
    });
    cache.addHandlers({ add: (o) => seen.push(o.metadata.name) });
    const stop = new AbortController();
    const running = reflector.run(stop.signal);
    try {
      await reflector.waitForSync();
      await client.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
        body: configMap(ns, 'x'),
      });
      await eventually('the second handler to see the object', () =>
        Promise.resolve(seen.includes('x') ? true : undefined),
      );
      expect(cache.handlerErrors).toBeGreaterThanOrEqual(1);
      expect(cache.get(`${ns}/x`)).toBeDefined();
      expect(cache.get(`${ns}/x`)?.metadata.managedFields).toBeUndefined();
    } finally {
      stop.abort();
      await running;
    }
  });
});

const group = 'runtime.kubeinspector.io';

async function installWidgetCrd(): Promise<ResourceType> {
  const plural = `widgets${uniqueName('').slice(1)}`;
  const condition = {
    type: 'object',
    required: ['type', 'status'],
    properties: {
      type: { type: 'string' },
      status: { type: 'string' },
      reason: { type: 'string' },
      lastTransitionTime: { type: 'string', format: 'date-time' },
    },
  };
  await installCrd(
    testCrd(group, plural, 'Widget', {
      spec: { properties: { size: { type: 'integer' } } },
      status: {
        properties: {
          observedGeneration: { type: 'integer' },
          doubled: { type: 'integer' },
          conditions: {
            type: 'array',
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['type'],
            items: condition,
          },
        },
      },
    }),
  );
  return { group, version: 'v1', plural, kind: 'Widget', namespaced: true };
}

/** Sum of apiserver_request_total for one resource over the verbs that write. */
async function writesTo(resource: string): Promise<number> {
  const text = await kubectl('get', '--raw', '/metrics');
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    if (!line.includes(`resource="${resource}"`)) continue;
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1] ?? '';
    if (['GET', 'LIST', 'WATCH'].includes(verb)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

describe('a manager with a controller that writes status by server-side apply', () => {
  let widgets: ResourceType;
  let manager: Manager;
  const stop = new AbortController();
  let running: Promise<void>;
  let reconciles = 0;
  let ns: string;

  beforeAll(async () => {
    widgets = await installWidgetCrd();
    ns = uniqueName('widgets');
    await kubectl('create', 'namespace', ns);
    const kc = new KubeConfig();
    kc.loadFromFile(inject('kubeconfig'));
    manager = await Manager.create({
      kubeConfig: kc,
      log,
      bindAddress: '127.0.0.1',
      metricsPort: 0,
      probePort: 0,
      // Short watches: several restarts happen during the steady minute, and must cause no writes.
      reflector: { minWatchTimeoutSeconds: 5 },
    });
    const cache = manager.informer(widgets, {
      transform: (o) => stripManagedFields(o, fieldManager),
    });
    const controller = new Controller({
      name: 'widget',
      log,
      registry: manager.registry,
      reconciler: {
        reconcile: async (key) => {
          reconciles++;
          const widget = cache.get(key);
          if (widget === undefined) return undefined;
          const { namespace, name } = splitKey(key);
          const size = (widget.spec as { size?: number }).size ?? 0;
          const current = (
            widget.status as { conditions?: { lastTransitionTime?: string }[] } | undefined
          )?.conditions?.[0];
          await apply(
            manager.client,
            widgets,
            {
              apiVersion: `${group}/v1`,
              kind: 'Widget',
              metadata: { name, ...(namespace ? { namespace } : {}) },
              status: {
                observedGeneration: widget.metadata.generation,
                doubled: size * 2,
                conditions: [
                  {
                    type: 'Ready',
                    status: 'True',
                    reason: 'Computed',
                    lastTransitionTime:
                      current?.lastTransitionTime ??
                      new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
                  },
                ],
              },
            },
            { current: widget, status: true },
          );
          return undefined;
        },
      },
    });
    cache.addHandlers({
      add: (o) => controller.enqueue(`${o.metadata.namespace}/${o.metadata.name}`),
      update: (_, o) => controller.enqueue(`${o.metadata.namespace}/${o.metadata.name}`),
    });
    manager.addController(controller);
    running = manager.run(stop.signal);
  });

  afterAll(async () => {
    stop.abort();
    await running;
  });

  it('serves metrics, liveness and readiness once its caches have synced', async () => {
    await eventually('readiness', async () => {
      const res = await fetch(`http://127.0.0.1:${manager.ports.probes}/readyz?verbose`);
      return res.status === 200 ? res.text() : undefined;
    });
    const ready = await (
      await fetch(`http://127.0.0.1:${manager.ports.probes}/readyz?verbose`)
    ).text();
    expect(ready).toContain('[+]informers ok');
    const health = await fetch(`http://127.0.0.1:${manager.ports.probes}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${manager.ports.metrics}/metrics`)).text();
    expect(metrics).toContain(
      'controller_runtime_reconcile_total{controller="widget",result="success"}',
    );
    expect(metrics).toContain('workqueue_depth{name="widget",controller="widget"}');
    expect(metrics).toContain('rest_client_requests_total{code="200",method="GET"');
    expect(metrics).toContain('process_resident_memory_bytes');
  });

  it('writes status once per change and nothing at all over a steady minute', async () => {
    for (let i = 1; i <= 3; i++) {
      await kubectlApply({
        apiVersion: `${group}/v1`,
        kind: 'Widget',
        metadata: { name: `w${i}`, namespace: ns },
        spec: { size: i },
      });
    }
    await eventually('every widget to carry its computed status', async () => {
      const out = await kubectl(
        'get',
        `${widgets.plural}.${group}`,
        '-n',
        ns,
        '-o',
        'jsonpath={.items[*].status.doubled}',
      );
      return out === '2 4 6' ? out : undefined;
    });
    // Let the status-write events come back through the watch and be reconciled (to no-ops).
    await new Promise((r) => setTimeout(r, 3000));
    const before = await writesTo(widgets.plural);
    const reconcilesBefore = reconciles;
    await new Promise((r) => setTimeout(r, 60_000));
    const after = await writesTo(widgets.plural);
    expect(after - before).toBe(0);
    expect(reconciles - reconcilesBefore).toBe(0);

    // A spec change is written once more, and only for that widget.
    await kubectl(
      'patch',
      `${widgets.plural}.${group}`,
      'w2',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"spec":{"size":5}}',
    );
    await eventually('the changed widget to be recomputed', async () => {
      const out = await kubectl(
        'get',
        `${widgets.plural}.${group}`,
        'w2',
        '-n',
        ns,
        '-o',
        'jsonpath={.status.doubled}',
      );
      return out === '10' ? out : undefined;
    });
    await new Promise((r) => setTimeout(r, 2000));
    // One status apply for the change; the spec patch itself is the test's own write.
    expect((await writesTo(widgets.plural)) - after).toBe(2);
  }, 120_000);
});

describe('a reconcile that keeps failing against the real API server', () => {
  it('backs off exponentially, then stops retrying once it succeeds', async () => {
    const ns = uniqueName('backoff');
    await kubectl('create', 'namespace', ns);
    const kc = new KubeConfig();
    kc.loadFromFile(inject('kubeconfig'));
    const client = await KubeClient.create(kc);
    const registry = new Registry();
    const attempts: number[] = [];
    const controller = new Controller({
      name: 'needs-config',
      log,
      registry,
      reconciler: {
        // Fails until the ConfigMap it needs exists: a real 404 from the API server each time.
        reconcile: async () => {
          attempts.push(performance.now());
          await client.get(`/api/v1/namespaces/${ns}/configmaps/settings`);
          return undefined;
        },
      },
    });
    controller.start();
    controller.enqueue(`${ns}/settings`);
    try {
      await eventually('nine failed attempts', () =>
        Promise.resolve(attempts.length >= 9 ? true : undefined),
      );
      const gaps = attempts.slice(1, 9).map((t, i) => t - attempts[i]!);
      // 5, 10, 20, ... 640 ms: each wait at least its backoff step, and the last ones clearly doubling.
      gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(5 * 2 ** i - 1));
      expect(gaps[7]!).toBeGreaterThan(gaps[5]! * 2);

      await kubectlApply({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'settings', namespace: ns },
      });
      const before = attempts.length;
      await eventually('a successful reconcile', async () =>
        (await registry.metrics()).includes(
          'controller_runtime_reconcile_total{controller="needs-config",result="success"} 1',
        )
          ? true
          : undefined,
      );
      const settled = attempts.length;
      expect(settled).toBeGreaterThan(before - 1);
      await new Promise((r) => setTimeout(r, 2000));
      expect(attempts.length).toBe(settled);
      expect(controller.queue.numRequeues(`${ns}/settings`)).toBe(0);
      expect(await registry.metrics()).toMatch(
        /controller_runtime_reconcile_errors_total\{controller="needs-config"\} (9|[1-9]\d+)/,
      );
    } finally {
      await controller.stop(1000);
      await client.close();
    }
  });
});

describe('a manager whose shutdown waits on something', () => {
  it('names the step and what it still waits for, and finishes once that ends', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(inject('kubeconfig'));
    const manager = await Manager.create({
      kubeConfig: kc,
      log,
      bindAddress: '127.0.0.1',
      metricsPort: 0,
      probePort: 0,
    });
    manager.informer(core.configMaps);
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    // A leader task that ignores the abort until it is released.
    manager.addLeaderTask(() => held);
    const stop = new AbortController();
    const running = manager.run(stop.signal);
    await eventually('leading', () => Promise.resolve(manager.isLeader ? true : undefined));
    expect(manager.shutdownProgress).toBeUndefined();
    stop.abort();
    await eventually('the shutdown waiting for the task', () =>
      Promise.resolve(manager.shutdownProgress?.step === 'leader tasks' ? true : undefined),
    );
    expect(manager.shutdownProgress).toEqual({ step: 'leader tasks', waitingFor: ['task 0'] });
    release();
    await running;
    expect(manager.shutdownProgress).toEqual({ step: 'closing the API client', waitingFor: [] });
  });
});
