/**
 * Continuous findings: for every covered node and image, the inventory matched against the
 * vulnerability database, written as Finding objects in the administrator namespace, kept in
 * step with the inventory, the database, the coverage status, the suppression rules and time.
 *
 * Findings live in the findings store (deps.findingsStore), read and written in-process; the
 * controllers follow its in-process watch (store-events.ts) instead of a Finding informer.
 *
 * Three controllers:
 * - `findings` (key: CoveredResource name) writes the findings of one resource and its
 *   finding counts (see reconciler.ts);
 * - `suppression-rules` (key: namespace/name) writes each SuppressionRule's status: how many
 *   findings it suppresses now;
 * - `run-finding-suppression` (key: namespace/name of a run finding) moves run findings between
 *   ACTIVE and SUPPRESSED when the rules change after their run wrote them.
 */
import type { Logger } from 'pino';
import { LABELS } from '../../api/v1alpha1/common.ts';
import type { CoveredResourceStatus } from '../../api/v1alpha1/covered-resource.ts';
import { coveredResourceName } from '../../coverage/names.ts';
import { sameJson } from '../../findings/build.ts';
import { labelsEqual, parseLabelSelector } from '../../findings-store/selectors.ts';
import type { FindingStore } from '../../findings-store/store.ts';
import type { Cache } from '../../kube/cache.ts';
import type { KubeObject } from '../../kube/resources.ts';
import { Controller } from '../../runtime/controller.ts';
import type { ControllerDeps, ControllerSetup } from '../deps.ts';
import { SCAN_CONFIGURATION_NAME } from '../../api/v1alpha1/resources.ts';
import { coveredResourceOfLabel, informers, keepsPodSpec } from '../informers.ts';
import { labelValueFor } from '../../util/label-value.ts';
import { httpRouteFacts } from '../../rules/network/objects.ts';
import { networkCaches } from '../rules-packages.ts';
import { findingsMetrics } from './metrics.ts';
import {
  DEFAULT_FINDINGS_CONFIG,
  FindingsReconciler,
  INDEX_BY_IMAGE_DIGEST,
  INDEX_BY_WORKLOAD_DIGEST,
  workloadDigests,
  type FindingsCaches,
  type FindingsConfig,
} from './reconciler.ts';
import { RunFindingSuppressionReconciler, SuppressionRuleReconciler } from './rules.ts';
import { findingEvents } from './store-events.ts';

export { DEFAULT_FINDINGS_CONFIG, type FindingsConfig } from './reconciler.ts';

/** Delay that folds a burst of finding changes into one recount of the rules. */
const RULE_RECOUNT_DELAY_MS = 2_000;

/** The findings controllers with these settings. */
export function findingsSetup(overrides: Partial<FindingsConfig> = {}): ControllerSetup {
  return (deps) => {
    setupFindingsWith(deps, { ...DEFAULT_FINDINGS_CONFIG, ...overrides });
  };
}

/** The findings controllers with the settings of the deps (or the defaults). */
export const setupFindings: ControllerSetup = (deps) => {
  setupFindingsWith(deps, {
    ...DEFAULT_FINDINGS_CONFIG,
    ...(deps.maxFindingsPerResource !== undefined
      ? { maxFindingsPerResource: deps.maxFindingsPerResource }
      : {}),
  });
};

function setupFindingsWith(deps: ControllerDeps, config: FindingsConfig): void {
  const caches = findingsCaches(deps);
  const log = deps.log.child({ area: 'findings' });
  const controllers = findingsControllers(deps, caches, config, log);
  const enqueue = findingsEnqueuers(deps, caches, controllers, log);
  watchFindingsInputs(deps, caches, controllers, enqueue);
  watchDatabase(deps, log, enqueue);
}

/** The caches the findings controllers read, with the image-digest index. */
function findingsCaches(deps: ControllerDeps): FindingsCaches {
  const m = deps.manager;
  const caches: FindingsCaches = {
    coveredResources: informers.coveredResources(m),
    nodeInventories: informers.nodeInventories(m),
    suppressionRules: informers.suppressionRules(m),
    scanConfigurations: informers.scanConfigurations(m),
    workloads: new Map(Object.entries(informers.workloads(m))),
    pods: informers.pods(m),
    replicaSets: informers.replicaSets(m),
    serviceAccounts: informers.serviceAccounts(m),
    network: networkCaches(m),
  };
  // The caches are shared: a second setup in one process (tests) finds the index there.
  caches.coveredResources.ensureIndexer(INDEX_BY_WORKLOAD_DIGEST, workloadDigests);
  caches.coveredResources.ensureIndexer(INDEX_BY_IMAGE_DIGEST, (cr) => {
    const d = cr.status?.image?.digest;
    return d !== undefined && cr.status?.resourceType === 'CONTAINER_IMAGE' ? [d] : [];
  });
  return caches;
}

interface FindingsControllers {
  /** Key: CoveredResource name. */
  findings: Controller;
  /** Key: namespace/name of a SuppressionRule. */
  rules: Controller;
  /** Key: namespace/name of a run finding. */
  runSuppression: Controller;
}

/** The three findings controllers, added to the manager. */
function findingsControllers(
  deps: ControllerDeps,
  caches: FindingsCaches,
  config: FindingsConfig,
  log: Logger,
): FindingsControllers {
  const m = deps.manager;
  const metrics = findingsMetrics(m.registry, deps.findingsStore, () => m.isLeader);
  const reconciler = new FindingsReconciler(deps, caches, config, metrics, m.events);
  const c: FindingsControllers = {
    findings: new Controller({
      name: 'findings',
      reconciler,
      log,
      registry: m.registry,
      concurrency: 2,
    }),
    rules: new Controller({
      name: 'suppression-rules',
      reconciler: new SuppressionRuleReconciler(deps, caches),
      log,
      registry: m.registry,
    }),
    runSuppression: new Controller({
      name: 'run-finding-suppression',
      reconciler: new RunFindingSuppressionReconciler(deps, caches),
      log,
      registry: m.registry,
    }),
  };
  m.addController(c.findings);
  m.addController(c.rules);
  m.addController(c.runSuppression);
  return c;
}

/** How a change maps to the keys of the findings controllers. */
interface FindingsEnqueuers {
  /** A CoveredResource by name. */
  resource: (name: string | undefined) => void;
  /** Every covered resource that has findings (also those whose CoveredResource is gone). */
  withFindings: () => void;
  /** Every run finding. */
  runFindings: () => void;
  /** Every resource that has or may have findings. */
  all: () => void;
  /** Every resource whose findings follow the database (nodes, continuous images). */
  continuous: () => void;
  /** Every rule's count, a little later (a burst of changes gives one recount). */
  recountRules: () => void;
}

function findingsEnqueuers(
  deps: ControllerDeps,
  caches: FindingsCaches,
  c: FindingsControllers,
  log: Logger,
): FindingsEnqueuers {
  const store = deps.findingsStore;
  const warn = (err: unknown): void => log.warn({ err }, 'findings store query failed');
  const resource = (name: string | undefined): void => {
    if (name !== undefined && name !== '') c.findings.enqueue(name);
  };
  const withFindings = async (): Promise<void> => {
    const groups = await store.countBy({ namespace: deps.adminNamespace }, ['coveredResource']);
    for (const { key } of groups) {
      const value = key.coveredResource;
      if (value === undefined) continue;
      if (labelValueFor(value) !== value) await relabel(store, deps.adminNamespace, value);
      resource(coveredResourceOfLabel(caches.coveredResources, value)?.metadata.name ?? value);
    }
  };
  const runFindings = async (): Promise<void> => {
    const { pages } = await store.listPages({ labelSelector: parseLabelSelector(LABELS.run) });
    for await (const page of pages) for (const f of page) c.runSuppression.enqueue(findingKey(f));
  };
  return {
    resource,
    withFindings: () => void withFindings().catch(warn),
    runFindings: () => void runFindings().catch(warn),
    all: () => {
      for (const key of caches.coveredResources.keys()) resource(key);
      void withFindings().catch(warn);
    },
    continuous: () => {
      for (const cr of caches.coveredResources.list()) {
        if (followsDatabase(cr.status)) resource(cr.metadata.name);
      }
    },
    recountRules: () => {
      for (const key of caches.suppressionRules.keys())
        c.rules.enqueueAfter(key, RULE_RECOUNT_DELAY_MS);
    },
  };
}

function findingKey(f: KubeObject): string {
  return `${f.metadata.namespace ?? ''}/${f.metadata.name}`;
}

/** Nodes and continuous images are matched again when the database changes. */
function followsDatabase(s: CoveredResourceStatus | undefined): boolean {
  if (s === undefined) return false;
  if (s.resourceType === 'NODE') return true;
  return (
    s.resourceType === 'CONTAINER_IMAGE' && s.scanStatus.reason !== 'SCAN_FREQUENCY_SCAN_ON_PUSH'
  );
}

/**
 * CoveredResources, NodeInventories, finding changes, SuppressionRules, the ScanConfiguration's
 * spec and the scan service's covered results.
 */
function watchFindingsInputs(
  deps: ControllerDeps,
  caches: FindingsCaches,
  c: FindingsControllers,
  enqueue: FindingsEnqueuers,
): void {
  caches.coveredResources.addHandlers({
    add: (cr) => enqueue.resource(cr.metadata.name),
    update: (_old, cr) => enqueue.resource(cr.metadata.name),
    delete: (cr) => enqueue.resource(cr.metadata.name),
  });
  const node = (inv: KubeObject) => enqueue.resource(coveredResourceName.node(inv.metadata.name));
  caches.nodeInventories.addHandlers({ add: node, update: (_old, inv) => node(inv), delete: node });
  const onRule = (r: KubeObject): void => {
    c.rules.enqueue(`${r.metadata.namespace ?? ''}/${r.metadata.name}`);
    enqueue.withFindings();
    enqueue.runFindings();
  };
  findingEvents(deps).on({
    change: (f) => {
      // The findings controller's own writes need no reaction; run findings may need their
      // suppression state moved, and every change may move a rule's count.
      if (f.metadata.labels?.[LABELS.run] !== undefined) c.runSuppression.enqueue(findingKey(f));
      enqueue.recountRules();
    },
    resync: () => {
      enqueue.all();
      enqueue.runFindings();
      enqueue.recountRules();
    },
  });
  caches.suppressionRules.addHandlers({
    add: onRule,
    update: (_old, r) => onRule(r),
    delete: onRule,
  });
  const isDefault = (sc: KubeObject) => sc.metadata.name === SCAN_CONFIGURATION_NAME;
  caches.scanConfigurations.addHandlers({
    add: (sc) => isDefault(sc) && enqueue.all(),
    // Its spec only: the coverage controller rewrites its status (statistics) all the time.
    update: (old, sc) =>
      isDefault(sc) && old.metadata.generation !== sc.metadata.generation && enqueue.all(),
    delete: (sc) => isDefault(sc) && enqueue.all(),
  });
  watchWorkloadTemplates(caches, enqueue);
  watchNetwork(caches, enqueue);
  deps.images.onChange((digest) => {
    for (const cr of caches.coveredResources.byIndex(INDEX_BY_IMAGE_DIGEST, digest))
      enqueue.resource(cr.metadata.name);
  });
}

/**
 * A workload whose pod template changed is evaluated again by the workload rules packages (its
 * status changes, which are most of a workload's updates, are not); so is a pod that is a
 * workload of its own whose spec, labels or annotations changed.
 */
function watchWorkloadTemplates(caches: FindingsCaches, enqueue: FindingsEnqueuers): void {
  for (const [kind, cache] of caches.workloads) {
    const workload = (w: KubeObject) => {
      const ns = w.metadata.namespace ?? '';
      enqueue.resource(coveredResourceName.workload(ns, kind, w.metadata.name));
      // Its pod template's secrets belong to its code-scanning coverage.
      enqueue.resource(coveredResourceName.workloadCode(ns, kind, w.metadata.name));
    };
    cache.addHandlers({
      add: workload,
      update: (old, w) => {
        if (!sameJson(old.spec, w.spec)) workload(w);
      },
      delete: workload,
    });
  }
  // A pod that is a workload of its own: its spec, labels and annotations are its template.
  const pod = (p: KubeObject) => {
    if (!keepsPodSpec(p.metadata)) return;
    const ns = p.metadata.namespace ?? '';
    enqueue.resource(coveredResourceName.workload(ns, 'Pod', p.metadata.name));
    enqueue.resource(coveredResourceName.workloadCode(ns, 'Pod', p.metadata.name));
  };
  caches.pods.addHandlers({
    add: pod,
    update: (old, p) => {
      if (
        !sameJson(old.spec, p.spec) ||
        !sameJson(old.metadata.labels, p.metadata.labels) ||
        !sameJson(old.metadata.annotations, p.metadata.annotations)
      )
        pod(p);
    },
    delete: pod,
  });
}

/**
 * A Service, Ingress, NetworkPolicy or HTTPRoute that changes may change how every workload of
 * its namespace can be reached: they are evaluated again. A Gateway's listeners decide which
 * routes of any namespace count, and a Namespace's labels which routes a listener's selector
 * allows: a change of either evaluates every workload again (both change rarely).
 */
function watchNetwork(caches: FindingsCaches, enqueue: FindingsEnqueuers): void {
  /** The workloads of these namespaces (undefined: of all) and their images. */
  const workloads = (ns: readonly string[] | undefined) => {
    const only = ns === undefined ? undefined : new Set(ns);
    for (const cr of caches.coveredResources.list()) {
      const s = cr.status;
      // Reachability moves rule findings and image scores, not pod-template secrets (CODE).
      if (s?.resourceType !== 'WORKLOAD' || s.scanType === 'CODE') continue;
      if (only !== undefined && !only.has(s.resource?.namespace ?? '')) continue;
      enqueue.resource(cr.metadata.name);
      // Its images' scores follow its exposure.
      for (const digest of workloadDigests(cr))
        for (const image of caches.coveredResources.byIndex(INDEX_BY_IMAGE_DIGEST, digest))
          enqueue.resource(image.metadata.name);
    }
  };
  const onSpec = (cache: Cache, of: (o: KubeObject) => string[] | undefined) =>
    cache.addHandlers({
      add: (o: KubeObject) => workloads(of(o)),
      update: (old: KubeObject, o: KubeObject) => {
        if (sameJson(old.spec, o.spec)) return;
        const [before, after] = [of(old), of(o)];
        workloads(before === undefined || after === undefined ? undefined : [...before, ...after]);
      },
      delete: (o: KubeObject) => workloads(of(o)),
    });
  const { services, ingresses, networkPolicies, httpRoutes, gateways, namespaces } = caches.network;
  for (const cache of [services, ingresses, networkPolicies])
    onSpec(cache, (o) => [o.metadata.namespace ?? '']);
  // A route may send to Services of other namespaces: those are evaluated again too.
  onSpec(httpRoutes, (o) => {
    const r = httpRouteFacts(o);
    return [r.namespace, ...r.backends.map((b) => b.namespace ?? r.namespace)];
  });
  onSpec(gateways, () => undefined);
  namespaces.addHandlers({
    update: (old: KubeObject, o: KubeObject) => {
      if (!sameJson(old.metadata.labels, o.metadata.labels) && gateways.list().length > 0)
        workloads(undefined);
    },
  });
}

/** A database update re-matches every continuous resource. */
function watchDatabase(deps: ControllerDeps, log: Logger, enqueue: FindingsEnqueuers): void {
  if (deps.database === undefined) {
    log.warn(
      'no vulnerability database configured: continuous findings are not matched (see --vulnerability-db)',
    );
    return;
  }
  deps.database.onUpdate(() => {
    log.info('vulnerability database updated: re-matching continuous resources');
    enqueue.continuous();
  });
}

/**
 * Findings written before covered-resource labels were kept to label values carry a
 * CoveredResource name longer than 63 characters: they get the value that stands for it
 * (labelValueFor), and the resource's evaluation record moves with them.
 */
async function relabel(store: FindingStore, namespace: string, name: string): Promise<void> {
  const value = labelValueFor(name);
  const { pages } = await store.listPages({
    namespace,
    labelSelector: labelsEqual({ [LABELS.coveredResource]: name }),
  });
  for await (const page of pages) {
    await store.batch(
      page.map((f) => ({
        op: 'update' as const,
        finding: {
          ...f,
          metadata: {
            ...f.metadata,
            labels: { ...f.metadata.labels, [LABELS.coveredResource]: value },
          },
        },
      })),
    );
  }
  const at = await store.lastEvaluation(name);
  if (at !== undefined) await store.recordEvaluation(value, at);
  await store.recordEvaluation(name, undefined);
}
