/**
 * The coverage controllers: one per resource type plus the ScanConfiguration, sharing one
 * CoverageContext. Event handlers only map a changed object to the keys it affects.
 */
import { Gauge } from 'prom-client';
import { LABELS } from '../../api/v1alpha1/common.ts';
import { SCAN_CONFIGURATION_NAME } from '../../api/v1alpha1/scan-configuration.ts';
import { resourceTypeOfName } from '../../coverage/names.ts';
import { podImages } from '../../coverage/pods.ts';
import type { Cache } from '../../kube/cache.ts';
import type { KubeObject } from '../../kube/resources.ts';
import { Controller, type Reconciler } from '../../runtime/controller.ts';
import type { ControllerDeps } from '../deps.ts';
import { findingEvents } from '../findings/store-events.ts';
import { CoverageContext, type Covered, AGENT_LABELS } from './context.ts';
import { imageReconciler } from './image.ts';
import { namespaceReconciler } from './namespace.ts';
import { nodeReconciler } from './node.ts';
import { repositoryReconciler } from './repository.ts';
import { scanConfigurationReconciler, STATS_INTERVAL_MS } from './scan-configuration.ts';
import { scanService } from '../scans/service.ts';
import { type WorkloadKind, workloadKeyOf, workloadOfPod, workloadReconciler } from './workload.ts';

export interface CoverageControllers {
  context: CoverageContext;
  nodes: Controller;
  images: Controller;
  repositories: Controller;
  workloads: Controller;
  namespaces: Controller;
  scanConfigurations: Controller;
}

function both<T>(fn: (obj: T) => void) {
  return {
    add: fn,
    update: (o: T, n: T) => {
      fn(o);
      fn(n);
    },
    delete: fn,
  };
}

export function setupCoverage(deps: ControllerDeps): CoverageControllers {
  const ctx = new CoverageContext(deps);
  const { manager, log } = deps;
  const registry = manager.registry;
  const make = (name: string, reconciler: Reconciler, concurrency = 2) => {
    const c = new Controller({ name, reconciler, log, registry, concurrency });
    manager.addController(c);
    return c;
  };
  const c: CoverageControllers = {
    context: ctx,
    nodes: make('coverage-node', nodeReconciler(ctx)),
    images: make('coverage-image', imageReconciler(ctx)),
    repositories: make('coverage-repository', repositoryReconciler(ctx), 1),
    workloads: make('coverage-workload', workloadReconciler(ctx)),
    namespaces: make('coverage-namespace', namespaceReconciler(ctx), 1),
    scanConfigurations: make('coverage-scanconfiguration', scanConfigurationReconciler(ctx), 1),
  };
  ctx.scans = scanService(deps);

  const stats = () => c.scanConfigurations.enqueueAfter(SCAN_CONFIGURATION_NAME, STATS_INTERVAL_MS);
  const imageKeysOfPod = (p: KubeObject) => podImages(p);
  const enqueuePod = (p: KubeObject) => {
    for (const i of imageKeysOfPod(p)) {
      c.images.enqueue(i.key);
      c.repositories.enqueue(i.repository);
    }
    const w = workloadOfPod(ctx, p);
    if (w !== undefined) c.workloads.enqueue(w.key);
    if (p.metadata.namespace === deps.adminNamespace) {
      const labels = p.metadata.labels ?? {};
      const node = (p.spec as { nodeName?: string } | undefined)?.nodeName;
      if (node && Object.entries(AGENT_LABELS).every(([k, v]) => labels[k] === v)) {
        c.nodes.enqueue(node);
      }
    }
  };
  const workloadCaches = Object.entries(ctx.workloads) as [keyof typeof ctx.workloads, Cache][];
  const enqueueWorkload = (kind: WorkloadKind | 'ReplicaSet', obj: KubeObject) => {
    const key = workloadKeyOf(kind, obj);
    if (key !== undefined) c.workloads.enqueue(key);
  };
  const enqueueAll = () => {
    for (const n of ctx.nodes.keys()) c.nodes.enqueue(n);
    for (const ns of ctx.namespaces.keys()) c.namespaces.enqueue(ns);
    for (const p of ctx.pods.list()) enqueuePod(p);
    for (const [kind, cache] of workloadCaches) {
      for (const w of cache.list()) enqueueWorkload(kind, w);
    }
    for (const cr of ctx.covered.list()) enqueueCovered(cr);
    c.scanConfigurations.enqueue(SCAN_CONFIGURATION_NAME);
  };
  const enqueueCovered = (cr: Covered) => {
    const s = cr.status;
    const type = s?.resourceType ?? resourceTypeOfName(cr.metadata.name);
    if (s === undefined) return;
    switch (type) {
      case 'NODE':
        c.nodes.enqueue(s.resourceId);
        break;
      case 'CONTAINER_IMAGE':
        c.images.enqueue(s.resourceId);
        if (s.image?.repository) c.repositories.enqueue(s.image.repository);
        break;
      case 'IMAGE_REPOSITORY':
        c.repositories.enqueue(s.resourceId);
        break;
      case 'WORKLOAD':
        c.workloads.enqueue(s.resourceId);
        break;
      case 'NAMESPACE':
        c.namespaces.enqueue(s.resourceId);
        break;
    }
  };

  // Every resource depends on the configuration, but only on its spec: our own status writes
  // (statistics) must not requeue the world.
  const configChanged = (sc: KubeObject) => {
    c.scanConfigurations.enqueue(sc.metadata.name);
    if (sc.metadata.name === SCAN_CONFIGURATION_NAME) enqueueAll();
  };
  ctx.scanConfigurations.addHandlers({
    add: configChanged,
    delete: configChanged,
    update: (o, n) => {
      if (o.metadata.generation !== n.metadata.generation) configChanged(n);
      else c.scanConfigurations.enqueue(n.metadata.name);
    },
  });
  ctx.namespaces.addHandlers(
    both((ns: KubeObject) => {
      const name = ns.metadata.name;
      c.namespaces.enqueue(name);
      for (const p of ctx.pods.byIndex('byNamespace', name)) enqueuePod(p);
      for (const [kind, cache] of workloadCaches) {
        for (const w of cache.byIndex('byNamespace', name)) enqueueWorkload(kind, w);
      }
    }),
  );
  ctx.nodes.addHandlers(both((n: KubeObject) => c.nodes.enqueue(n.metadata.name)));
  // A service account's pull secrets are credentials of its pods' images: a change lets a
  // refused image be scanned again at once.
  ctx.serviceAccounts.addHandlers({
    update: (_o, sa: KubeObject) => {
      for (const p of ctx.pods.byIndex('byNamespace', sa.metadata.namespace ?? '')) {
        const account =
          (p.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName ?? 'default';
        if (account === sa.metadata.name) enqueuePod(p);
      }
    },
  });
  ctx.inventories.addHandlers(both((i: KubeObject) => c.nodes.enqueue(i.metadata.name)));
  ctx.pods.addHandlers(both(enqueuePod));
  // ReplicaSets and Jobs own pods: a change requeues their workload and their pods' images.
  for (const [kind, owned] of [
    ['ReplicaSet', ctx.replicaSets],
    ['Job', ctx.jobs],
  ] as const) {
    owned.addHandlers(
      both((o: KubeObject) => {
        enqueueWorkload(kind, o);
        for (const p of ctx.pods.byIndex('byOwnerUid', o.metadata.uid ?? '')) enqueuePod(p);
      }),
    );
  }
  for (const [kind, cache] of workloadCaches) {
    if (kind !== 'Job') cache.addHandlers(both((w: KubeObject) => enqueueWorkload(kind, w)));
  }
  ctx.covered.addHandlers(
    both((cr: Covered) => {
      enqueueCovered(cr);
      stats();
    }),
  );
  // A resource kept for its findings (PENDING_DISABLE, RESOURCE_TERMINATED) goes once they do.
  findingEvents(deps).on({
    change: (f) => {
      const name = f.metadata.labels?.[LABELS.coveredResource];
      const cr = name !== undefined ? ctx.covered.get(name) : undefined;
      if (cr !== undefined && cr.status?.scanStatus.statusCode === 'INACTIVE') enqueueCovered(cr);
    },
    resync: () => {
      for (const cr of ctx.covered.list())
        if (cr.status?.scanStatus.statusCode === 'INACTIVE') enqueueCovered(cr);
    },
  });
  ctx.scans.onChange((digest) => {
    for (const p of ctx.pods.byIndex('byImageDigest', digest)) enqueuePod(p);
    for (const cr of ctx.covered.byIndex('byImageDigest', digest)) enqueueCovered(cr);
  });

  new Gauge({
    name: 'kubeinspector_coverage_resources',
    help: 'CoveredResources by resource type, scan status code and reason',
    labelNames: ['resource_type', 'status_code', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const cr of ctx.covered.list()) {
        const s = cr.status;
        if (s === undefined) continue;
        this.inc({
          resource_type: s.resourceType,
          status_code: s.scanStatus.statusCode,
          reason: s.scanStatus.reason,
        });
      }
    },
  });
  return c;
}
