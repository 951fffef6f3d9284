/**
 * AssessmentRun: drives one run through Inspector Classic's state machine (src/assessments/
 * run-state.ts). One transition per reconcile, each written to status (and announced as an
 * Event); the watch event of that write brings the next one. While COLLECTING_DATA every
 * resource seen matching the target is added to status.collected (pods, nodes and workloads
 * changing re-trigger the run), and the run asks to be called again at its deadline. In
 * EVALUATING_RULES the run's rules packages run over what was collected and the findings are
 * written in the run's namespace, owned by the run, with the template's attributes; the counts
 * by severity go to status and the run ends COMPLETED, or COMPLETED_WITH_ERRORS when some
 * resources could not be evaluated.
 */
import type { AssessmentRunState, AssessmentRunStatus } from '../../api/v1alpha1/assessment-run.ts';
import {
  API_VERSION,
  FINDINGS_API_VERSION,
  LABEL_PREFIX,
  LABELS,
  type RulesPackage,
} from '../../api/v1alpha1/common.ts';
import type { Finding } from '../../api/v1alpha1/finding.ts';
import type { SuppressionRule } from '../../api/v1alpha1/suppression-rule.ts';
import {
  buildPackageFindings,
  type BuiltFinding,
  countBySeverity,
  mergeFinding,
  sameJson,
  withStatusLabel,
} from '../../findings/build.ts';
import { suppressingRule } from '../../findings/suppression.ts';
import { labelsEqual } from '../../findings-store/selectors.ts';
import type { BatchWrite, StoredFinding } from '../../findings-store/store.ts';
import { collectionPath, type OwnerReference } from '../../kube/resources.ts';
import { apply } from '../../kube/apply.ts';
import { isConflict } from '../../kube/client.ts';
import type { EventRecorder } from '../../kube/events.ts';
import { objectReference } from '../../kube/events.ts';
import {
  type ReconcileContext,
  type Reconciler,
  type Result,
  WaitingError,
} from '../../runtime/controller.ts';
import { type Outcome, type StepsResult, reconcileWithStatus } from '../../runtime/status.ts';
import {
  EMPTY_COLLECTED,
  type Collected,
  mergeCollected,
  selectResources,
} from '../../assessments/selection.ts';
import { type Step, enterState, isTerminal, nextStep } from '../../assessments/run-state.ts';
import type { ControllerDeps } from '../deps.ts';
import { FIELD_MANAGERS, kinds } from '../informers.ts';
import { recordControllerWrite } from '../findings/ownership.ts';
import { type AssessmentCaches, type Run, clusterSnapshot } from './cluster.ts';
import { type CveResult, evaluateCve } from './cve.ts';
import {
  WORKLOAD_RULES_PACKAGES,
  type WorkloadRef,
  adjustImageScores,
  evaluateCisNodes,
  evaluateWorkloadPackages,
} from '../rules-packages.ts';
import { templateProblem } from './template-controller.ts';
import type { VulnDatabase } from '../../vulndb/database.ts';
import { labelValueFor } from '../../util/label-value.ts';
import { evaluateCode } from './code.ts';

/** Findings one run writes at most; the rest are counted and reported. */
export const MAX_RUN_FINDINGS = 5000;
/** Findings written in one store transaction. */
const RUN_BATCH = 500;
/** Poll while waiting for the template or the database. */
const WAIT_MS = 30_000;

const PASCAL = (state: string): string =>
  state
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');

export function toCollected(status: AssessmentRunStatus | undefined): Collected {
  const c = status?.collected;
  if (c === undefined) return EMPTY_COLLECTED;
  return {
    nodes: c.nodes ?? [],
    workloads: c.workloads ?? [],
    images: c.images ?? [],
    truncated: c.truncated ?? false,
  };
}

function collectedStatus(c: Collected): NonNullable<AssessmentRunStatus['collected']> {
  return {
    ...(c.nodes.length > 0 ? { nodes: c.nodes } : {}),
    ...(c.workloads.length > 0 ? { workloads: c.workloads } : {}),
    ...(c.images.length > 0 ? { images: c.images } : {}),
    ...(c.truncated ? { truncated: true } : {}),
  };
}

/** A name for the run's copy of a finding: unique per run within the namespace. */
export function runFindingName(run: string, finding: string): string {
  const plain = `${run}-${finding}`;
  if (plain.length <= 253) return plain;
  const room = 253 - finding.length - 1;
  return `${run.slice(0, room).replace(/[.-]+$/, '')}-${finding}`;
}

/**
 * Template attributes to apply to a finding: every key a person has not set to another value,
 * within the limit of 10 attributes per finding. Returns the keys left out too.
 */
export function templateAttributes(
  template: Readonly<Record<string, string>> | undefined,
  existing: Readonly<Record<string, string>> | undefined,
): { apply: Record<string, string>; skipped: string[] } {
  const out: Record<string, string> = {};
  const skipped: string[] = [];
  const current = existing ?? {};
  let room = 10 - Object.keys(current).length;
  for (const [k, v] of Object.entries(template ?? {})) {
    if (Object.hasOwn(current, k)) {
      if (current[k] === v) out[k] = v;
      else skipped.push(k);
      continue;
    }
    if (room <= 0) {
      skipped.push(k);
      continue;
    }
    out[k] = v;
    room--;
  }
  return { apply: out, skipped };
}

/** What the run steps share. */
interface RunWork {
  deps: ControllerDeps;
  caches: AssessmentCaches;
  events: EventRecorder;
  /** Enqueues the run again (when an image scan asked for it ends). */
  requeue: () => void;
  ctx: ReconcileContext;
}

/** One step taken: the status after it, how it went, and what to announce once written. */
interface StepTaken {
  next: AssessmentRunStatus;
  outcome: Outcome;
  result?: Result;
  announce?: () => void;
}

/** The stored findings of a run, by name. */
async function runFindings(
  deps: ControllerDeps,
  namespace: string,
  run: string,
): Promise<Map<string, StoredFinding & Finding>> {
  const out = new Map<string, StoredFinding & Finding>();
  const { pages } = await deps.findingsStore.listPages({
    namespace,
    labelSelector: labelsEqual({ [LABELS.run]: labelValueFor(run) }),
  });
  for await (const page of pages)
    for (const f of page) out.set(f.metadata.name, f as StoredFinding & Finding);
  return out;
}

interface RunFindingParts {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  owner: OwnerReference;
  /** Template attributes to set (keys a person set to another value are left out already). */
  attributes: Record<string, string>;
  status: NonNullable<Finding['status']>;
}

/**
 * The write of one run finding, or undefined when the stored one already says it all. A
 * person's labels and attributes are kept; the run's labels, owner reference, template
 * attributes and status are set.
 */
export function runFindingWrite(
  existing: (StoredFinding & Finding) | undefined,
  p: RunFindingParts,
  now: Date,
): BatchWrite | undefined {
  const attributes = { ...(existing?.spec?.attributes ?? {}), ...p.attributes };
  const theirLabels = Object.entries(existing?.metadata.labels ?? {}).filter(
    ([k]) => !k.startsWith(LABEL_PREFIX),
  );
  const owners = (existing?.metadata.ownerReferences ?? []).filter((o) => o.uid !== p.owner.uid);
  const finding = {
    ...(existing ?? { apiVersion: FINDINGS_API_VERSION, kind: 'Finding' }),
    metadata: {
      ...(existing?.metadata ?? {}),
      name: p.name,
      namespace: p.namespace,
      labels: { ...Object.fromEntries(theirLabels), ...p.labels },
      ownerReferences: [...owners, p.owner],
    },
    ...(Object.keys(attributes).length > 0 || existing?.spec !== undefined
      ? { spec: { ...(existing?.spec ?? {}), attributes } }
      : {}),
    status: p.status,
  } as StoredFinding;
  if (existing !== undefined && sameJson(finding, existing)) return undefined;
  const owned = recordControllerWrite(existing, finding, now, FIELD_MANAGERS.templates);
  return existing === undefined
    ? { op: 'create', finding: owned }
    : { op: 'update', finding: owned };
}

/**
 * A run that is gone takes its findings with it. The garbage collector does it too (through
 * the findings API's metadata lists, following the ownerReferences); this covers a collector
 * that is slow or not running, so they go within seconds either way.
 */
async function deleteRunFindings(deps: ControllerDeps, key: string): Promise<void> {
  const slash = key.indexOf('/');
  const deleted = await deps.findingsStore.deleteCollection({
    namespace: key.slice(0, slash),
    labelSelector: labelsEqual({ [LABELS.run]: labelValueFor(key.slice(slash + 1)) }),
  });
  if (deleted.length > 0)
    deps.log.info({ run: key, findings: deleted.length }, 'deleted the findings of a deleted run');
}

export function runReconciler(
  deps: ControllerDeps,
  caches: AssessmentCaches,
  events: EventRecorder,
  enqueue: (key: string) => void,
): Reconciler {
  return {
    async reconcile(key, ctx) {
      try {
        const requeue = () => enqueue(key);
        return await reconcileRun({ deps, caches, events, requeue, ctx }, key);
      } catch (err) {
        // Our cache is behind our own last write: the watch event brings the run back.
        if (isConflict(err)) return { requeue: true };
        throw err;
      }
    },
  };
}

async function reconcileRun(w: RunWork, key: string): Promise<Result | undefined> {
  const run = w.caches.runs.get(key);
  if (run === undefined) {
    await deleteRunFindings(w.deps, key);
    return undefined;
  }
  if (run.metadata.deletionTimestamp !== undefined) return undefined;
  if (isTerminal(run.status?.state)) return undefined;
  let announcement: (() => void) | undefined;
  const result = await reconcileWithStatus<AssessmentRunStatus>({
    previous: run.status,
    generation: run.metadata.generation,
    now: () => w.deps.clock.now(),
    log: w.ctx.log,
    steps: async (draft) => {
      const done = await step(w, run);
      if (done === undefined) return noChange(run);
      for (const k of Object.keys(draft)) delete draft[k as keyof AssessmentRunStatus];
      Object.assign(draft, done.next);
      announcement = done.announce;
      return { ...done.outcome, ...(done.result ? { result: done.result } : {}) };
    },
    write: (status) => writeStatus(w.deps, run, status),
  });
  announcement?.();
  return result;
}

/**
 * Writes the status computed from `run` as cached. The resourceVersion makes it a
 * precondition: a cache that has not yet seen our previous write gets a Conflict instead of
 * taking the run back a state.
 */
async function writeStatus(
  deps: ControllerDeps,
  run: Run,
  status: AssessmentRunStatus,
): Promise<void> {
  await apply(
    deps.manager.client,
    kinds.assessmentRuns,
    {
      apiVersion: API_VERSION,
      kind: 'AssessmentRun',
      metadata: {
        name: run.metadata.name,
        namespace: run.metadata.namespace ?? '',
        ...(run.metadata.resourceVersion !== undefined
          ? { resourceVersion: run.metadata.resourceVersion }
          : {}),
      },
      status,
    },
    { status: true, current: run },
  );
}

/** A run in a state the machine does not know: said so, nothing else changes. */
function noChange(run: Run): StepsResult {
  const state = run.status?.state ?? 'CREATED';
  return { summary: 'reconciling', reason: PASCAL(state), message: `state ${state}` };
}

/** The template's problem and the settings a run copies from it (none while it is missing). */
function templateOf(w: RunWork, run: Run) {
  const namespace = run.metadata.namespace ?? '';
  const template = w.caches.templates.get(`${namespace}/${run.spec.templateRef.name}`);
  if (template === undefined) {
    return {
      problem: `spec.templateRef: AssessmentTemplate ${run.spec.templateRef.name} does not exist in namespace ${namespace}`,
      settings: undefined,
    };
  }
  return {
    problem: templateProblem(template, w.caches, w.deps.adminNamespace)?.message,
    settings: {
      durationSeconds: template.spec.durationSeconds,
      rulesPackages: template.spec.rulesPackages,
      findingAttributes: template.spec.findingAttributes,
    },
  };
}

/**
 * Whether the target a run's template names exists in the API server although the cache does
 * not hold it yet: a target, template and run applied together reach their caches in any
 * order, and a run must not fail on a target its cache has not seen. Read by a list of that one
 * name (the controller lists and watches targets; it has no `get`).
 */
async function targetOnlyLags(w: RunWork, run: Run): Promise<boolean> {
  const ns = run.metadata.namespace ?? '';
  const template = w.caches.templates.get(`${ns}/${run.spec.templateRef.name}`);
  if (template === undefined) return false;
  const name = template.spec.targetRef.name;
  if (w.caches.targets.get(`${ns}/${name}`) !== undefined) return false;
  const live = await w.deps.manager.client.get<{ items: unknown[] }>(
    collectionPath(kinds.assessmentTargets, ns),
    { query: { fieldSelector: `metadata.name=${name}` } },
  );
  return live.items.length > 0;
}

/** One step of the state machine, or undefined when there is none to take. */
async function step(w: RunWork, run: Run): Promise<StepTaken | undefined> {
  const now = w.deps.clock.now();
  const status: AssessmentRunStatus = { ...(run.status ?? {}) };
  const { problem, settings } = templateOf(w, run);
  if (status.state === 'CREATED' && problem !== undefined && (await targetOnlyLags(w, run)))
    return {
      next: status,
      outcome: {
        summary: 'reconciling',
        reason: 'TargetNotFound',
        message: 'waiting for the AssessmentTarget to reach the cache',
      },
      result: { requeueAfterMs: 1_000 },
    };
  const next: Step = nextStep(status, {
    now,
    stop: run.spec.stop?.action,
    template: settings,
    problem: status.state === 'CREATED' ? problem : undefined,
  });
  const ref = objectReference({ ...run, kind: 'AssessmentRun' });
  switch (next.kind) {
    case 'done':
      return undefined;
    case 'wait-for-template':
      return {
        next: status,
        outcome: {
          summary: 'reconciling',
          reason: 'TemplateNotFound',
          message: problem ?? 'waiting for the template',
        },
        result: { requeueAfterMs: WAIT_MS },
      };
    case 'collect': {
      const before = toCollected(status);
      const merged = mergeCollected(before, seenNow(w, run));
      const state = status.state ?? 'CREATED';
      return {
        next:
          merged === before
            ? status
            : { ...status, collected: collectedStatus(merged), ...counts(merged) },
        outcome: { summary: 'reconciling', reason: PASCAL(state), message: `state ${state}` },
        result: { requeueAfterMs: next.requeueAfterMs },
      };
    }
    case 'evaluate': {
      const done = await evaluate(w, run, status);
      return { ...done, announce: () => announce(w.events, ref, status.state, done.next) };
    }
    case 'transition':
      return transition(w, run, status, next, settings);
  }
}

/** Enters the next state; collection starts with what matches now and ends with a last look. */
function transition(
  w: RunWork,
  run: Run,
  status: AssessmentRunStatus,
  { to, message }: { to: AssessmentRunState; message?: string | undefined },
  settings: Parameters<typeof enterState>[3],
): StepTaken {
  let next = enterState(status, to, w.deps.clock.now(), settings);
  if (to === 'COLLECTING_DATA' || to === 'STOP_DATA_COLLECTION_PENDING') {
    const merged = mergeCollected(toCollected(next), seenNow(w, run));
    next = { ...next, collected: collectedStatus(merged), ...counts(merged) };
  }
  const outcome: Outcome =
    to === 'FAILED'
      ? { summary: 'stalled', reason: 'Failed', message: message ?? 'the run failed' }
      : to === 'CANCELED'
        ? { summary: 'ready', reason: 'Canceled', message: message ?? 'canceled' }
        : { summary: 'reconciling', reason: PASCAL(to), message: `state ${to}` };
  const ref = objectReference({ ...run, kind: 'AssessmentRun' });
  return { next, outcome, announce: () => announce(w.events, ref, status.state, next, message) };
}

/** What the target selects now, or nothing when the target is gone. */
function seenNow(w: RunWork, run: Run): Collected {
  const ns = run.metadata.namespace ?? '';
  const template = w.caches.templates.get(`${ns}/${run.spec.templateRef.name}`);
  const target =
    template === undefined
      ? undefined
      : w.caches.targets.get(`${ns}/${template.spec.targetRef.name}`);
  if (target === undefined) return EMPTY_COLLECTED;
  return selectResources(
    { namespace: ns, spec: target.spec },
    w.deps.adminNamespace,
    clusterSnapshot(w.caches),
  );
}

/** The database to evaluate with; a stalled outcome when none is configured. */
function databaseOf(deps: ControllerDeps): VulnDatabase | Outcome {
  const source = deps.database;
  if (source === undefined) {
    return {
      summary: 'stalled',
      reason: 'NoVulnerabilityDatabase',
      message:
        'the controller runs without a vulnerability database (--vulnerability-db): the cve rules package cannot be evaluated',
    };
  }
  const db = source.current;
  if (db === undefined) {
    throw new WaitingError('the vulnerability database has not been loaded yet', WAIT_MS, {
      reason: 'DatabaseNotLoaded',
    });
  }
  return db;
}

/** What the run's rules packages computed over what was collected. */
interface PackagesResult {
  built: BuiltFinding[];
  notEvaluated: { id: string; reason: string }[];
}

/**
 * Runs each of the run's rules packages over what was collected: `cve` over its nodes and
 * images, the workload packages over its workloads. A stalled outcome when `cve` has no
 * database to match with.
 */
function runPackages(w: RunWork, status: AssessmentRunStatus): PackagesResult | Outcome {
  const packages = status.rulesPackages ?? ['cve'];
  const collected = toCollected(status);
  const out: PackagesResult = { built: [], notEvaluated: [] };
  // First: the run's own image scans are then requested with code scanning, for both.
  if (packages.includes('code')) {
    const code = evaluateCode(collected, w.deps, w.caches, w.requeue);
    out.built.push(...code.findings);
    out.notEvaluated.push(...code.notEvaluated);
  }
  if (packages.includes('cve')) {
    const db = databaseOf(w.deps);
    if ('summary' in db) return db;
    const result: CveResult = evaluateCve(collected, db, w.deps, w.caches, w.requeue);
    const built = result.resources.flatMap((r) => buildPackageFindings(r.resource, r.matches));
    adjustImageScores(built, workloadsByDigest(w.caches), w.caches);
    out.built.push(...built);
    out.notEvaluated.push(...result.notEvaluated);
  }
  const rules = evaluateWorkloadPackages(packages, w.caches, collected.workloads);
  out.built.push(...rules.findings);
  out.notEvaluated.push(...rules.notEvaluated);
  if (packages.includes('cis')) {
    const cis = evaluateCisNodes(w.caches.nodeInventories, collected.nodes);
    out.built.push(...cis.findings);
    out.notEvaluated.push(...cis.notEvaluated);
  }
  return out;
}

/** Why a run found nothing, when what it collected gives its packages nothing to evaluate. */
function nothingCollected(packages: readonly RulesPackage[], c: Collected): string {
  const workloadPackages = packages.filter((p) => WORKLOAD_RULES_PACKAGES.includes(p));
  if (workloadPackages.length > 0 && c.workloads.length > 0) return '';
  if (packages.includes('cis') && c.nodes.length > 0) return '';
  if (packages.includes('code') && (c.workloads.length > 0 || c.images.length > 0)) return '';
  if (packages.includes('cis') && !packages.includes('cve') && workloadPackages.length === 0)
    return ' (no node was collected: the cis rules package evaluates the nodes a target selects)';
  if (packages.includes('cve')) {
    return c.nodes.length === 0 && c.images.length === 0
      ? ' (no node or image was collected: the cve rules package evaluates the nodes and images a target selects)'
      : '';
  }
  return c.workloads.length === 0
    ? ` (no workload was collected: ${workloadPackages.join(', ')} evaluates the workloads a target selects)`
    : '';
}

/** The workloads of the cluster running each image digest, as the caches see them now. */
function workloadsByDigest(caches: AssessmentCaches): (digest: string) => WorkloadRef[] {
  const byDigest = new Map<string, WorkloadRef[]>();
  for (const wl of clusterSnapshot(caches).workloads) {
    for (const digest of new Set(wl.images.map((i) => i.digest))) {
      if (digest === undefined) continue;
      let refs = byDigest.get(digest);
      if (refs === undefined) byDigest.set(digest, (refs = []));
      refs.push({ namespace: wl.namespace, kind: wl.kind, name: wl.name });
    }
  }
  return (digest) => byDigest.get(digest) ?? [];
}

/** Runs the run's rules packages over what was collected and writes the run's findings. */
async function evaluate(w: RunWork, run: Run, status: AssessmentRunStatus): Promise<StepTaken> {
  const evaluated = runPackages(w, status);
  if ('summary' in evaluated)
    return { next: enterState(status, 'ERROR', w.deps.clock.now()), outcome: evaluated };
  const collected = toCollected(status);
  const { built, notEvaluated } = evaluated;
  const dropped = Math.max(0, built.length - MAX_RUN_FINDINGS);
  const written = await writeFindings(w, run, status, built.slice(0, MAX_RUN_FINDINGS));
  const problems: string[] = notEvaluated.map((n) => `${n.id}: ${n.reason}`);
  if (dropped > 0)
    problems.push(`${dropped} findings over the limit of ${MAX_RUN_FINDINGS} were not written`);
  if (collected.truncated)
    problems.push('more resources matched than a run records; some were not collected');
  if (written.skippedAttributes.size > 0) {
    problems.push(
      `template attributes ${[...written.skippedAttributes].sort().join(', ')} were not applied to some findings: a person set another value, or the finding already has 10 attributes`,
    );
  }
  const end = problems.length > 0 ? 'COMPLETED_WITH_ERRORS' : 'COMPLETED';
  const findings = countBySeverity(written.severities);
  w.ctx.log.info(
    { findings: findings.total, notEvaluated: notEvaluated.length, state: end },
    'assessment run evaluated',
  );
  const nothing = nothingCollected(status.rulesPackages ?? ['cve'], collected);
  const message =
    problems.length === 0
      ? `${findings.total} findings${nothing}`
      : `${findings.total} findings; ${problems.length} problems: ${problems.join('; ')}`;
  return {
    next: { ...enterState(status, end, w.deps.clock.now()), findingCounts: findings },
    outcome: { summary: 'ready', reason: PASCAL(end), message },
  };
}

/**
 * Writes the run's findings to the findings store in its namespace, owned by the run, with the
 * template's attributes where a person has not set the key, in transactions of RUN_BATCH;
 * returns their severities and the attributes left out.
 */
async function writeFindings(
  w: RunWork,
  run: Run,
  status: AssessmentRunStatus,
  kept: ReturnType<typeof buildPackageFindings>,
): Promise<{
  severities: (NonNullable<Finding['status']>['severity'] | undefined)[];
  skippedAttributes: Set<string>;
}> {
  const ns = run.metadata.namespace ?? '';
  const now = w.deps.clock.now();
  const rules = w.caches.suppressionRules.list() as unknown as SuppressionRule[];
  const owner = {
    apiVersion: API_VERSION,
    kind: 'AssessmentRun',
    name: run.metadata.name,
    uid: run.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
  const severities: (NonNullable<Finding['status']>['severity'] | undefined)[] = [];
  const skippedAttributes = new Set<string>();
  const existingFindings = await runFindings(w.deps, ns, run.metadata.name);
  const writes: BatchWrite[] = [];
  for (const b of kept) {
    const name = runFindingName(run.metadata.name, b.name);
    const existing = existingFindings.get(name);
    const labels = { ...b.labels, [LABELS.run]: labelValueFor(run.metadata.name) };
    const rule = suppressingRule(
      rules,
      { metadata: { namespace: ns }, labels, status: b.status },
      { adminNamespace: w.deps.adminNamespace },
    );
    const desired = mergeFinding(existing, b.status, now, { suppressedBy: rule?.metadata.name });
    const attrs = templateAttributes(status.findingAttributes, existing?.spec?.attributes);
    for (const k of attrs.skipped) skippedAttributes.add(k);
    const write = runFindingWrite(
      existing,
      {
        name,
        namespace: ns,
        labels: withStatusLabel(labels, desired.status ?? 'ACTIVE'),
        owner,
        attributes: attrs.apply,
        status: desired,
      },
      now,
    );
    if (write !== undefined) writes.push(write);
    severities.push(desired.severity);
  }
  // One transaction per page of writes: a run's findings appear together.
  for (let k = 0; k < writes.length; k += RUN_BATCH)
    await w.deps.findingsStore.batch(writes.slice(k, k + RUN_BATCH));
  return { severities, skippedAttributes };
}

function counts(c: Collected): Pick<AssessmentRunStatus, 'resourceCounts'> {
  return {
    resourceCounts: {
      nodes: c.nodes.length,
      workloads: c.workloads.length,
      images: new Set(c.images.map((i) => i.digest ?? i.reference)).size,
    },
  };
}

function announce(
  events: EventRecorder,
  ref: ReturnType<typeof objectReference>,
  from: string | undefined,
  next: AssessmentRunStatus,
  message?: string,
): void {
  const to = next.state ?? 'CREATED';
  const note = `${from ?? '(new)'} -> ${to}${message !== undefined ? `: ${message}` : ''}`;
  if (to === 'FAILED' || to === 'ERROR') events.warning(ref, PASCAL(to), 'ChangeState', note);
  else if (to === 'COMPLETED' || to === 'COMPLETED_WITH_ERRORS') {
    const c = next.findingCounts;
    events.normal(
      ref,
      PASCAL(to),
      'ChangeState',
      `${note}; findings: ${c?.total ?? 0} (critical ${c?.critical ?? 0}, high ${c?.high ?? 0}, medium ${c?.medium ?? 0}, low ${c?.low ?? 0})`,
    );
  } else events.normal(ref, PASCAL(to), 'ChangeState', note);
}
