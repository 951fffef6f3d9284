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
import { LABELS } from '../../api/v1alpha1/common.ts';
import { coveredResourceName } from '../../coverage/names.ts';
import { parseLabelSelector } from '../../findings-store/selectors.ts';
import type { KubeObject } from '../../kube/resources.ts';
import { Controller } from '../../runtime/controller.ts';
import type { ControllerDeps, ControllerSetup } from '../deps.ts';
import { SCAN_CONFIGURATION_NAME } from '../../api/v1alpha1/resources.ts';
import { informers } from '../informers.ts';
import { findingsMetrics } from './metrics.ts';
import {
  DEFAULT_FINDINGS_CONFIG,
  FindingsReconciler,
  INDEX_BY_IMAGE_DIGEST,
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
  const m = deps.manager;
  const caches: FindingsCaches = {
    coveredResources: informers.coveredResources(m),
    nodeInventories: informers.nodeInventories(m),
    suppressionRules: informers.suppressionRules(m),
    scanConfigurations: informers.scanConfigurations(m),
  };
  // The caches are shared: a second setup in one process (tests) finds the index there.
  caches.coveredResources.ensureIndexer(INDEX_BY_IMAGE_DIGEST, (cr) => {
    const d = cr.status?.image?.digest;
    return d !== undefined && cr.status?.resourceType === 'CONTAINER_IMAGE' ? [d] : [];
  });

  const store = deps.findingsStore;
  const metrics = findingsMetrics(m.registry, store, () => m.isLeader);
  const log = deps.log.child({ area: 'findings' });
  const reconciler = new FindingsReconciler(deps, caches, config, metrics, m.events);
  const controller = new Controller({
    name: 'findings',
    reconciler,
    log,
    registry: m.registry,
    concurrency: 2,
  });
  const rules = new Controller({
    name: 'suppression-rules',
    reconciler: new SuppressionRuleReconciler(deps, caches),
    log,
    registry: m.registry,
  });
  const runSuppression = new Controller({
    name: 'run-finding-suppression',
    reconciler: new RunFindingSuppressionReconciler(deps, caches),
    log,
    registry: m.registry,
  });
  m.addController(controller);
  m.addController(rules);
  m.addController(runSuppression);
  const findingKey = (f: KubeObject): string => `${f.metadata.namespace ?? ''}/${f.metadata.name}`;

  const enqueue = (name: string | undefined): void => {
    if (name !== undefined && name !== '') controller.enqueue(name);
  };
  /** Every covered resource that has findings (also those whose CoveredResource is gone). */
  const enqueueWithFindings = async (): Promise<void> => {
    const groups = await store.countBy({ namespace: deps.adminNamespace }, ['coveredResource']);
    for (const { key } of groups) enqueue(key.coveredResource);
  };
  const enqueueRunFindings = async (): Promise<void> => {
    const { pages } = await store.listPages({ labelSelector: parseLabelSelector(LABELS.run) });
    for await (const page of pages) for (const f of page) runSuppression.enqueue(findingKey(f));
  };
  const warn = (err: unknown): void => log.warn({ err }, 'findings store query failed');
  /** Every resource that has or may have findings. */
  const enqueueAll = (): void => {
    for (const key of caches.coveredResources.keys()) enqueue(key);
    enqueueWithFindings().catch(warn);
  };
  const enqueueContinuous = (): void => {
    for (const cr of caches.coveredResources.list()) {
      const s = cr.status;
      if (s === undefined) continue;
      if (s.resourceType === 'NODE') enqueue(cr.metadata.name);
      else if (
        s.resourceType === 'CONTAINER_IMAGE' &&
        s.scanStatus.reason !== 'SCAN_FREQUENCY_SCAN_ON_PUSH'
      )
        enqueue(cr.metadata.name);
    }
  };
  const recountRules = (): void => {
    for (const key of caches.suppressionRules.keys())
      rules.enqueueAfter(key, RULE_RECOUNT_DELAY_MS);
  };

  caches.coveredResources.addHandlers({
    add: (cr) => enqueue(cr.metadata.name),
    update: (_old, cr) => enqueue(cr.metadata.name),
    delete: (cr) => enqueue(cr.metadata.name),
  });
  caches.nodeInventories.addHandlers({
    add: (inv) => enqueue(coveredResourceName.node(inv.metadata.name)),
    update: (_old, inv) => enqueue(coveredResourceName.node(inv.metadata.name)),
    delete: (inv) => enqueue(coveredResourceName.node(inv.metadata.name)),
  });
  const onRule = (r: KubeObject): void => {
    rules.enqueue(`${r.metadata.namespace ?? ''}/${r.metadata.name}`);
    enqueueWithFindings().catch(warn);
    enqueueRunFindings().catch(warn);
  };
  findingEvents(deps).on({
    change: (f) => {
      // The findings controller's own writes need no reaction; run findings may need their
      // suppression state moved, and every change may move a rule's count.
      if (f.metadata.labels?.[LABELS.run] !== undefined) runSuppression.enqueue(findingKey(f));
      recountRules();
    },
    resync: () => {
      enqueueAll();
      enqueueRunFindings().catch(warn);
      recountRules();
    },
  });
  caches.suppressionRules.addHandlers({
    add: onRule,
    update: (_old, r) => onRule(r),
    delete: onRule,
  });
  caches.scanConfigurations.addHandlers({
    add: (c) => c.metadata.name === SCAN_CONFIGURATION_NAME && enqueueAll(),
    // Its spec only: the coverage controller rewrites its status (statistics) all the time.
    update: (old, c) =>
      c.metadata.name === SCAN_CONFIGURATION_NAME &&
      old.metadata.generation !== c.metadata.generation &&
      enqueueAll(),
    delete: (c) => c.metadata.name === SCAN_CONFIGURATION_NAME && enqueueAll(),
  });
  deps.images.onChange((digest) => {
    for (const cr of caches.coveredResources.byIndex(INDEX_BY_IMAGE_DIGEST, digest))
      enqueue(cr.metadata.name);
  });
  if (deps.database === undefined) {
    log.warn(
      'no vulnerability database configured: continuous findings are not matched (see --vulnerability-db)',
    );
  } else {
    deps.database.onUpdate(() => {
      log.info('vulnerability database updated: re-matching continuous resources');
      enqueueContinuous();
    });
  }
}
