// The events.k8s.io/v1 recorder against the real API server: the Event a user
// sees with kubectl, series folding, the spam filter and a refused write.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../src/kube/client.ts';
import {
  clientEventSink,
  EventRecorder,
  type ObjectReference,
  objectReference,
} from '../../src/kube/events.ts';
import { createNamespace, eventually, kubeConfig, kubectl } from './helpers.ts';

interface ServerEvent {
  metadata: { name: string; namespace: string };
  eventTime: string;
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  type: string;
  note?: string;
  regarding: { kind: string; name: string; namespace?: string; uid?: string };
  series?: { count: number; lastObservedTime: string };
}

async function eventsAbout(namespace: string, name: string): Promise<ServerEvent[]> {
  const out = await kubectl('get', 'events.v1.events.k8s.io', '-n', namespace, '-o', 'json');
  return (JSON.parse(out) as { items: ServerEvent[] }).items.filter(
    (e) => e.regarding.name === name,
  );
}

async function metric(registry: Registry, line: string): Promise<number | undefined> {
  const found = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.split(' ').pop());
}

describe('events.k8s.io/v1 recorder', () => {
  let kc: KubeConfig;
  let client: KubeClient;
  let namespace: string;
  const recorders: EventRecorder[] = [];

  function recorder(registry = new Registry(), instance = 'kube-inspector-test-0'): EventRecorder {
    const r = new EventRecorder({
      sink: clientEventSink(client),
      reportingInstance: instance,
      registry,
      logger: pino({ level: 'silent' }),
    });
    recorders.push(r);
    return r;
  }

  async function configMap(name: string): Promise<ObjectReference> {
    const cm = await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({
      namespace,
      body: { metadata: { name }, data: { a: 'b' } },
    });
    return objectReference({ apiVersion: 'v1', kind: 'ConfigMap', metadata: cm.metadata });
  }

  beforeAll(async () => {
    kc = kubeConfig();
    client = await KubeClient.create(kc);
    namespace = await createNamespace(kc, 'events');
  });

  afterAll(async () => {
    for (const r of recorders) await r.close(1_000);
    await client.close();
  });

  it('writes an Event with the required fields, MicroTime eventTime and the note cut to 1 kB', async () => {
    const regarding = await configMap('scanned');
    const rec = recorder();
    rec.event({
      regarding,
      type: 'Warning',
      reason: 'ScanFailed',
      action: 'ScanImage',
      note: `registry refused: ${'x'.repeat(3000)}`,
    });
    await rec.flush();
    const [event, ...others] = await eventually('the event', async () => {
      const found = await eventsAbout(namespace, 'scanned');
      return found.length > 0 ? found : undefined;
    });
    expect(others).toEqual([]);
    expect(event).toMatchObject({
      reportingController: 'kubeinspector.io/controller',
      reportingInstance: 'kube-inspector-test-0',
      action: 'ScanImage',
      reason: 'ScanFailed',
      type: 'Warning',
      regarding: { kind: 'ConfigMap', name: 'scanned', namespace, uid: regarding.uid },
    });
    expect(event?.eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(Buffer.byteLength(event?.note ?? '')).toBe(1024);
    expect(event?.series).toBeUndefined();
    // And kubectl lists it as a user would see it.
    const table = await kubectl('get', 'events', '-n', namespace);
    expect(table).toMatch(/Warning\s+ScanFailed\s+configmap\/scanned/);
  });

  it('folds repeated isomorphic events into one Event whose series counts them', async () => {
    const regarding = await configMap('repeated');
    const registry = new Registry();
    const rec = recorder(registry);
    const emit = (i: number) =>
      rec.normal(regarding, 'InventoryCollected', 'CollectInventory', `pass ${i}`);

    emit(0);
    await eventually('the first event', async () =>
      (await eventsAbout(namespace, 'repeated')).length === 1 ? true : undefined,
    );
    emit(1);
    const started = await eventually('the series to start', async () => {
      const [e] = await eventsAbout(namespace, 'repeated');
      return e?.series !== undefined ? e : undefined;
    });
    expect(started.series?.count).toBeGreaterThanOrEqual(2);
    expect(started.series?.lastObservedTime).toMatch(/\.\d{6}Z$/);

    for (let i = 2; i < 6; i++) emit(i);
    await rec.flush();
    const events = await eventsAbout(namespace, 'repeated');
    expect(events).toHaveLength(1);
    expect(events[0]?.metadata.name).toBe(started.metadata.name);
    expect(events[0]?.series?.count).toBe(6);
    // The note of the first occurrence stays: the note is not part of the key.
    expect(events[0]?.note).toBe('pass 0');
    expect(await metric(registry, 'kubeinspector_events_folded_total')).toBe(4);
    expect(
      await metric(registry, 'kubeinspector_event_writes_total{verb="patch",result="success"}'),
    ).toBe(2);
  });

  it('drops a burst beyond the spam filter and counts what it dropped', async () => {
    const regarding = await configMap('noisy');
    const registry = new Registry();
    const rec = recorder(registry);
    for (let i = 0; i < 40; i++) rec.warning(regarding, `Problem${i}`, 'Reconcile', `problem ${i}`);
    await rec.flush(30_000);
    const events = await eventsAbout(namespace, 'noisy');
    expect(events).toHaveLength(25);
    expect(new Set(events.map((e) => e.reason)).size).toBe(25);
    expect(await metric(registry, 'kubeinspector_events_dropped_total{reason="spam_filter"}')).toBe(
      15,
    );
    expect(
      await metric(registry, 'kubeinspector_event_writes_total{verb="create",result="success"}'),
    ).toBe(25);
  });

  it('puts events about a cluster-scoped object in the default namespace', async () => {
    const ns = await kc.makeApiClient(CoreV1Api).readNamespace({ name: namespace });
    const rec = recorder();
    rec.normal(
      objectReference({ apiVersion: 'v1', kind: 'Namespace', metadata: ns.metadata }),
      'Activated',
      'Activate',
      'namespace activated for scanning',
    );
    await rec.flush();
    const found = await eventually('the event in default', async () => {
      const all = await eventsAbout('default', namespace);
      return all.find((e) => e.reason === 'Activated');
    });
    expect(found.metadata.namespace).toBe('default');
    expect(found.regarding.kind).toBe('Namespace');
  });

  it('a write the server refuses is dropped and counted, and event() neither throws nor waits', async () => {
    const registry = new Registry();
    const rec = recorder(registry);
    const missing = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'x',
      namespace: 'no-such-ns-4b1e',
    };
    expect(() => rec.normal(missing, 'Scanned', 'Scan', 'nowhere to go')).not.toThrow();
    expect(rec.pending()).toBe(1);
    await rec.flush();
    expect(
      await metric(registry, 'kubeinspector_events_dropped_total{reason="write_failed"}'),
    ).toBe(1);
    expect(
      await metric(registry, 'kubeinspector_event_writes_total{verb="create",result="error"}'),
    ).toBe(1);
  });
});
