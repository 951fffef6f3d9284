/**
 * The coverage controllers: one per resource type plus the ScanConfiguration, sharing one
 * CoverageContext. Event handlers only map a changed object to the keys it affects.
 */
import { Gauge, type Registry } from 'prom-client';
import { LABELS } from '../../api/v1alpha1/common.ts';
import { SCAN_CONFIGURATION_NAME } from '../../api/v1alpha1/scan-configuration.ts';
import { resourceTypeOfName } from '../../coverage/names.ts';
import { podImages } from '../../coverage/pods.ts';
import type { Cache } from '../../kube/cache.ts';
import type { KubeObject } from '../../kube/resources.ts';
import { Controller, type Reconciler } from '../../runtime/controller.ts';
import type { ControllerDeps } from '../deps.ts';
import { coveredResourceOfLabel } from '../informers.ts';
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
  const c = coverageControllers(ctx, deps);
  ctx.scans = scanService(deps);
  ctx.enqueueWorkload = (key) => c.workloads.enqueue(key);
  const enqueue = coverageEnqueuers(ctx, c, deps.adminNamespace);
  watchConfiguration(ctx, c, enqueue);
  watchClusterObjects(ctx, c, enqueue);
  watchResults(ctx, deps, enqueue);
  coverageGauge(ctx, deps.manager.registry);
  return c;
}

/** One controller per resource type and one for the ScanConfiguration, added to the manager. */
function coverageControllers(ctx: CoverageContext, deps: ControllerDeps): CoverageControllers {
  const { manager, log } = deps;
  const registry = manager.registry;
  const make = (name: string, reconciler: Reconciler, concurrency = 2) => {
    const c = new Controller({ name, reconciler, log, registry, concurrency });
    manager.addController(c);
    return c;
  };
  return {
    context: ctx,
    nodes: make('coverage-node', nodeReconciler(ctx)),
    images: make('coverage-image', imageReconciler(ctx)),
    repositories: make('coverage-repository', repositoryReconciler(ctx), 1),
    workloads: make('coverage-workload', workloadReconciler(ctx)),
    namespaces: make('coverage-namespace', namespaceReconciler(ctx), 1),
    scanConfigurations: make('coverage-scanconfiguration', scanConfigurationReconciler(ctx), 1),
  };
}

/** How a changed object maps to the keys of the controllers it affects. */
interface CoverageEnqueuers {
  /** A pod: its images and their repositories, its workload, and for an agent pod its node. */
  pod: (p: KubeObject) => void;
  /** A workload or an object that owns pods: the workload it belongs to. */
  workload: (kind: WorkloadKind | 'ReplicaSet', obj: KubeObject) => void;
  /** A CoveredResource: the resource it covers (and an image's repository). */
  covered: (cr: Covered) => void;
  /** Every resource coverage knows of. */
  all: () => void;
  /** The ScanConfiguration's statistics, a little later. */
  stats: () => void;
  /** The workload caches by kind. */
  workloadCaches: [WorkloadKind, Cache][];
}

function coverageEnqueuers(
  ctx: CoverageContext,
  c: CoverageControllers,
  adminNamespace: string,
): CoverageEnqueuers {
  const workloadCaches = Object.entries(ctx.workloads) as [WorkloadKind, Cache][];
  const pod = (p: KubeObject) => {
    for (const i of podImages(p)) {
      c.images.enqueue(i.key);
      c.repositories.enqueue(i.repository);
    }
    const w = workloadOfPod(ctx, p);
    if (w !== undefined) c.workloads.enqueue(w.key);
    if (p.metadata.namespace === adminNamespace) {
      const labels = p.metadata.labels ?? {};
      const node = (p.spec as { nodeName?: string } | undefined)?.nodeName;
      if (node && Object.entries(AGENT_LABELS).every(([k, v]) => labels[k] === v)) {
        c.nodes.enqueue(node);
      }
    }
  };
  const workload = (kind: WorkloadKind | 'ReplicaSet', obj: KubeObject) => {
    const key = workloadKeyOf(kind, obj);
    if (key !== undefined) c.workloads.enqueue(key);
  };
  const covered = (cr: Covered) => enqueueCovered(c, cr);
  const all = () => {
    for (const n of ctx.nodes.keys()) c.nodes.enqueue(n);
    for (const ns of ctx.namespaces.keys()) c.namespaces.enqueue(ns);
    for (const p of ctx.pods.list()) pod(p);
    for (const [kind, cache] of workloadCaches) {
      for (const w of cache.list()) workload(kind, w);
    }
    for (const cr of ctx.covered.list()) covered(cr);
    c.scanConfigurations.enqueue(SCAN_CONFIGURATION_NAME);
  };
  const stats = () => c.scanConfigurations.enqueueAfter(SCAN_CONFIGURATION_NAME, STATS_INTERVAL_MS);
  return { pod, workload, covered, all, stats, workloadCaches };
}

function enqueueCovered(c: CoverageControllers, cr: Covered): void {
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
}

/**
 * Every resource depends on the configuration, but only on its spec: our own status writes
 * (statistics) must not requeue the world.
 */
function watchConfiguration(
  ctx: CoverageContext,
  c: CoverageControllers,
  enqueue: CoverageEnqueuers,
): void {
  const configChanged = (sc: KubeObject) => {
    c.scanConfigurations.enqueue(sc.metadata.name);
    if (sc.metadata.name === SCAN_CONFIGURATION_NAME) enqueue.all();
  };
  ctx.scanConfigurations.addHandlers({
    add: configChanged,
    delete: configChanged,
    update: (o, n) => {
      if (o.metadata.generation !== n.metadata.generation) configChanged(n);
      else c.scanConfigurations.enqueue(n.metadata.name);
    },
  });
}

/** Namespaces, nodes, service accounts, NodeInventories, pods and workloads. */
function watchClusterObjects(
  ctx: CoverageContext,
  c: CoverageControllers,
  enqueue: CoverageEnqueuers,
): void {
  ctx.namespaces.addHandlers(
    both((ns: KubeObject) => {
      const name = ns.metadata.name;
      c.namespaces.enqueue(name);
      for (const p of ctx.pods.byIndex('byNamespace', name)) enqueue.pod(p);
      for (const [kind, cache] of enqueue.workloadCaches) {
        for (const w of cache.byIndex('byNamespace', name)) enqueue.workload(kind, w);
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
        if (account === sa.metadata.name) enqueue.pod(p);
      }
    },
  });
  ctx.inventories.addHandlers(both((i: KubeObject) => c.nodes.enqueue(i.metadata.name)));
  ctx.pods.addHandlers(both(enqueue.pod));
  // ReplicaSets and Jobs own pods: a change requeues their workload and their pods' images.
  for (const [kind, owned] of [
    ['ReplicaSet', ctx.replicaSets],
    ['Job', ctx.jobs],
  ] as const) {
    owned.addHandlers(
      both((o: KubeObject) => {
        enqueue.workload(kind, o);
        for (const p of ctx.pods.byIndex('byOwnerUid', o.metadata.uid ?? '')) enqueue.pod(p);
      }),
    );
  }
  for (const [kind, cache] of enqueue.workloadCaches) {
    if (kind !== 'Job') cache.addHandlers(both((w: KubeObject) => enqueue.workload(kind, w)));
  }
}

/** CoveredResources, the findings store and the scan service's results. */
function watchResults(
  ctx: CoverageContext,
  deps: ControllerDeps,
  enqueue: CoverageEnqueuers,
): void {
  ctx.covered.addHandlers(
    both((cr: Covered) => {
      enqueue.covered(cr);
      enqueue.stats();
    }),
  );
  // A resource kept for its findings (PENDING_DISABLE, RESOURCE_TERMINATED) goes once they do.
  findingEvents(deps).on({
    change: (f) => {
      const name = f.metadata.labels?.[LABELS.coveredResource];
      const cr = name !== undefined ? coveredResourceOfLabel(ctx.covered, name) : undefined;
      if (cr !== undefined && cr.status?.scanStatus.statusCode === 'INACTIVE') enqueue.covered(cr);
    },
    resync: () => {
      for (const cr of ctx.covered.list())
        if (cr.status?.scanStatus.statusCode === 'INACTIVE') enqueue.covered(cr);
    },
  });
  ctx.scans.onChange((digest) => {
    for (const p of ctx.pods.byIndex('byImageDigest', digest)) enqueue.pod(p);
    for (const cr of ctx.covered.byIndex('byImageDigest', digest)) enqueue.covered(cr);
  });
}

function coverageGauge(ctx: CoverageContext, registry: Registry): void {
  new Gauge({
    name: 'kubeinspector_coverage_resources',
    help: 'CoveredResources by resource type, scan status code, reason and scan type',
    labelNames: ['resource_type', 'status_code', 'reason', 'scan_type'],
    registers: [registry],
    collect() {
      this.reset();
      for (const cr of ctx.covered.list()) {
        const s = cr.status;
        if (s === undefined) continue;
        // A workload counts once per scan type (PACKAGE and, with WorkloadCode, CODE); a
        // namespace has no scan type and no scan_type label.
        this.inc({
          resource_type: s.resourceType,
          status_code: s.scanStatus.statusCode,
          reason: s.scanStatus.reason,
          ...(s.scanType !== undefined ? { scan_type: s.scanType } : {}),
        });
      }
    },
  });
}
