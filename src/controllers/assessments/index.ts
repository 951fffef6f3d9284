/**
 * The assessment controllers: AssessmentTarget (selection and the namespace rule),
 * AssessmentTemplate (validation and the cron schedule) and AssessmentRun (Classic's state
 * machine and the `cve` rules package), plus the `kubeinspector_assessment_runs{state}` gauge.
 */
import { Gauge } from 'prom-client';
import { ASSESSMENT_RUN_STATES } from '../../api/v1alpha1/assessment-run.ts';
import type { Cache } from '../../kube/cache.ts';
import { objectKey } from '../../kube/resources.ts';
import { Controller } from '../../runtime/controller.ts';
import type { ControllerDeps } from '../deps.ts';
import {
  type AssessmentCaches,
  INDEX_BY_TARGET,
  INDEX_BY_TEMPLATE,
  type Run,
  assessmentCaches,
} from './cluster.ts';
import { runReconciler } from './run-controller.ts';
import { targetReconciler } from './target-controller.ts';
import { templateReconciler } from './template-controller.ts';

/** Resource events coalesce for this long before targets and collecting runs look again. */
const RESOURCE_SETTLE_MS = 1000;

function onAnyChange(cache: Cache, fn: () => void): void {
  cache.addHandlers({ add: fn, update: fn, delete: fn });
}

export function registerRunMetric(deps: ControllerDeps, runs: Cache<Run>): void {
  const registry = deps.manager.registry;
  if (registry.getSingleMetric('kubeinspector_assessment_runs') !== undefined) return;
  new Gauge({
    name: 'kubeinspector_assessment_runs',
    help: 'AssessmentRuns by state (runs not yet started count as CREATED).',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(ASSESSMENT_RUN_STATES.map((s) => [s, 0]));
      for (const r of runs.list()) {
        const state = r.status?.state ?? 'CREATED';
        counts.set(state, (counts.get(state) ?? 0) + 1);
      }
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });
}

export function setupAssessments(deps: ControllerDeps): void {
  const { manager, log } = deps;
  const caches: AssessmentCaches = assessmentCaches(manager);
  const events = manager.events;

  const targets = new Controller({
    name: 'assessmenttarget',
    reconciler: targetReconciler(deps, caches),
    log,
    registry: manager.registry,
  });
  const templates = new Controller({
    name: 'assessmenttemplate',
    reconciler: templateReconciler(deps, caches, events),
    log,
    registry: manager.registry,
  });
  const runs = new Controller({
    name: 'assessmentrun',
    reconciler: runReconciler(deps, caches, events, (key) => runs.enqueue(key)),
    log,
    registry: manager.registry,
    concurrency: 2,
  });
  manager.addController(targets);
  manager.addController(templates);
  manager.addController(runs);
  registerRunMetric(deps, caches.runs);

  const runsOfTemplate = (templateKey: string) =>
    caches.runs.byIndex(INDEX_BY_TEMPLATE, templateKey).map((r) => objectKey(r));
  const templatesOfTarget = (targetKey: string) =>
    caches.templates.byIndex(INDEX_BY_TARGET, targetKey).map((t) => objectKey(t));

  caches.targets.addHandlers({
    add: (t) => {
      targets.enqueue(objectKey(t));
      for (const k of templatesOfTarget(objectKey(t))) templates.enqueue(k);
    },
    update: (_o, t) => {
      targets.enqueue(objectKey(t));
      for (const k of templatesOfTarget(objectKey(t))) templates.enqueue(k);
    },
    delete: (t) => {
      for (const k of templatesOfTarget(objectKey(t))) templates.enqueue(k);
    },
  });
  const templateChanged = (t: { metadata: { name: string; namespace?: string } }) => {
    templates.enqueue(objectKey(t));
    for (const k of runsOfTemplate(objectKey(t))) runs.enqueue(k);
  };
  caches.templates.addHandlers({
    add: templateChanged,
    update: (_o, t) => templateChanged(t),
    delete: templateChanged,
  });
  const runChanged = (r: Run) => {
    runs.enqueue(objectKey(r));
    templates.enqueue(`${r.metadata.namespace}/${r.spec.templateRef.name}`);
  };
  caches.runs.addHandlers({
    add: runChanged,
    update: (_o, r) => runChanged(r),
    delete: runChanged,
  });

  // The cluster changed: targets recount, collecting runs look again, once per settle period
  // however many objects changed in it.
  let settling = false;
  const clusterChanged = () => {
    if (settling) return;
    settling = true;
    setTimeout(() => {
      settling = false;
      for (const t of caches.targets.keys()) targets.enqueue(t);
      for (const r of caches.runs.list()) {
        if (r.status?.state === 'COLLECTING_DATA') runs.enqueue(objectKey(r));
      }
    }, RESOURCE_SETTLE_MS).unref();
  };
  for (const c of [caches.nodes, caches.namespaces, caches.pods, ...caches.workloads.values()]) {
    onAnyChange(c, clusterChanged);
  }
}
