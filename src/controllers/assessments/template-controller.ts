/**
 * AssessmentTemplate: validation (the target exists and may be used, the rules packages are
 * implemented, the schedule and time zone can be scheduled) and the cron schedule, run the way
 * the CronJob controller runs a CronJob: the latest due time starts a run with a deterministic
 * name (so a restart never starts it twice), missed times are counted, not replayed;
 * `concurrencyPolicy` Forbid skips a start while a run of the template is going, Replace stops
 * the running ones with SKIP_EVALUATION first; finished scheduled runs beyond the history limits
 * are deleted (their findings go with them through the garbage collector). The controller asks
 * to be called again at the next scheduled time.
 */
import type { AssessmentRunState } from '../../api/v1alpha1/assessment-run.ts';
import type { AssessmentTemplateStatus } from '../../api/v1alpha1/assessment-template.ts';
import { API_VERSION, LABEL_PREFIX } from '../../api/v1alpha1/common.ts';
import { apply, remove } from '../../kube/apply.ts';
import { ApiError } from '../../kube/client.ts';
import type { EventRecorder } from '../../kube/events.ts';
import { objectReference } from '../../kube/events.ts';
import { collectionPath, splitKey } from '../../kube/resources.ts';
import type { ReconcileContext, Reconciler } from '../../runtime/controller.ts';
import { type StepsResult, reconcileWithStatus } from '../../runtime/status.ts';
import { targetProblems } from '../../assessments/selection.ts';
import {
  isTerminal,
  rfc3339,
  unsupportedPackages,
  unsupportedPackagesMessage,
} from '../../assessments/run-state.ts';
import {
  parseSchedule,
  runsBeyondHistory,
  scheduleDecision,
  scheduledRunName,
} from '../../assessments/schedule.ts';
import type { ControllerDeps } from '../deps.ts';
import { FIELD_MANAGERS, kinds } from '../informers.ts';
import { type AssessmentCaches, INDEX_BY_TEMPLATE, type Run, type Template } from './cluster.ts';

/** Label on runs a schedule started: the template's name. */
export const TEMPLATE_LABEL = `${LABEL_PREFIX}template`;
/** Annotation on runs a schedule started: the scheduled time. */
export const SCHEDULED_AT_ANNOTATION = `${LABEL_PREFIX}scheduled-at`;
/** Longest wait before a template is looked at again. */
const MAX_REQUEUE_MS = 3_600_000;

/** Field manager of `spec.stop` written on runs a Replace policy stops. */
export const SCHEDULE_FIELD_MANAGER = FIELD_MANAGERS.schedule;

/** Why a template cannot be used (reason, message), or undefined when it can. */
export function templateProblem(
  template: Template,
  caches: AssessmentCaches,
  adminNamespace: string,
): { reason: string; message: string } | undefined {
  const ns = template.metadata.namespace ?? '';
  const targetName = template.spec.targetRef.name;
  const target = caches.targets.get(`${ns}/${targetName}`);
  if (target === undefined) {
    return {
      reason: 'TargetNotFound',
      message: `spec.targetRef: AssessmentTarget ${targetName} does not exist in namespace ${ns}`,
    };
  }
  const problems = targetProblems(target.spec, ns, adminNamespace);
  if (problems.length > 0) {
    return {
      reason: 'TargetNotUsable',
      message: `spec.targetRef: AssessmentTarget ${targetName} cannot be used: ${problems.join('; ')}`,
    };
  }
  const refused = unsupportedPackages(template.spec.rulesPackages);
  if (refused.length > 0) {
    return { reason: 'RulesPackageNotImplemented', message: unsupportedPackagesMessage(refused) };
  }
  return undefined;
}

function runState(r: Run): AssessmentRunState | undefined {
  return r.status?.state;
}

function ownedBy(r: Run, uid: string | undefined): boolean {
  return (
    uid !== undefined &&
    (r.metadata.ownerReferences ?? []).some((o) => o.controller === true && o.uid === uid)
  );
}

/** What the template steps share. */
interface TemplateWork {
  deps: ControllerDeps;
  caches: AssessmentCaches;
  events: EventRecorder;
  ctx: ReconcileContext;
}

/** The schedule's part of the status, and when to look again. */
interface ScheduleState {
  lastScheduleTime: string | undefined;
  nextScheduleTime: string | undefined;
  requeueAfterMs: number | undefined;
  /** Runs this reconcile started. */
  started: string[];
}

export function templateReconciler(
  deps: ControllerDeps,
  caches: AssessmentCaches,
  events: EventRecorder,
): Reconciler {
  return {
    async reconcile(key, ctx) {
      const template = caches.templates.get(key);
      if (template === undefined || template.metadata.deletionTimestamp !== undefined)
        return undefined;
      const { namespace = '', name } = splitKey(key);
      return reconcileWithStatus<AssessmentTemplateStatus>({
        previous: template.status,
        generation: template.metadata.generation,
        now: () => deps.clock.now(),
        log: ctx.log,
        steps: (draft) => steps({ deps, caches, events, ctx }, template, draft),
        write: async (status) => {
          await apply(
            deps.manager.client,
            kinds.assessmentTemplates,
            {
              apiVersion: API_VERSION,
              kind: 'AssessmentTemplate',
              metadata: { name, namespace },
              status,
            },
            { status: true, current: template },
          );
        },
      });
    },
  };
}

/**
 * Validation, the schedule and the history limits; fills in the draft and says how it went.
 * A problem a person must fix is Stalled; a write the API server refuses fails the reconcile.
 */
async function steps(
  w: TemplateWork,
  template: Template,
  draft: AssessmentTemplateStatus,
): Promise<StepsResult> {
  const key = `${template.metadata.namespace ?? ''}/${template.metadata.name}`;
  const spec = template.spec;
  const runs = w.caches.runs.byIndex(INDEX_BY_TEMPLATE, key);
  const active = runs.filter((r) => !isTerminal(runState(r)) && !r.metadata.deletionTimestamp);
  const { problem, cron } = validation(w, template);
  const schedule: ScheduleState =
    cron !== undefined && problem === undefined && !spec.suspend
      ? await startDue(w, template, cron, runs, active)
      : {
          lastScheduleTime: template.status?.lastScheduleTime,
          nextScheduleTime: undefined,
          requeueAfterMs: undefined,
          started: [],
        };
  const beyond = await pruneHistory(w, template, runs);
  fillDraft(draft, runs, active, beyond, schedule);
  const requeueAfterMs = schedule.requeueAfterMs;
  const result = requeueAfterMs === undefined ? {} : { result: { requeueAfterMs } };
  if (problem !== undefined) return { summary: 'stalled', ...problem, ...result };
  return {
    summary: 'ready',
    reason: 'Valid',
    message:
      spec.schedule === undefined
        ? 'runs are created by hand'
        : spec.suspend
          ? 'the schedule is suspended'
          : `scheduled: ${spec.schedule}${spec.timeZone ? ` (${spec.timeZone})` : ''}`,
    ...result,
  };
}

/** What makes the template unusable, and its parsed schedule when it has one. */
function validation(
  w: TemplateWork,
  template: Template,
): { problem: { reason: string; message: string } | undefined; cron?: Cron } {
  const problem = templateProblem(template, w.caches, w.deps.adminNamespace);
  const spec = template.spec;
  if (problem !== undefined || spec.schedule === undefined) return { problem };
  try {
    return { problem, cron: parseSchedule(spec.schedule, spec.timeZone) };
  } catch (err) {
    return { problem: { reason: 'InvalidSchedule', message: (err as Error).message } };
  }
}

type Cron = ReturnType<typeof parseSchedule>;

/** Starts the run of the latest due time (as the CronJob controller does) and plans the next. */
async function startDue(
  w: TemplateWork,
  template: Template,
  cron: Cron,
  runs: readonly Run[],
  active: readonly Run[],
): Promise<ScheduleState> {
  const now = w.deps.clock.now();
  const state: ScheduleState = {
    lastScheduleTime: template.status?.lastScheduleTime,
    nextScheduleTime: undefined,
    requeueAfterMs: undefined,
    started: [],
  };
  const since = new Date(
    state.lastScheduleTime ?? template.metadata.creationTimestamp ?? now.toISOString(),
  );
  const decision = scheduleDecision(cron, since, now);
  const due = decision.due;
  if (due !== undefined) {
    const runName = scheduledRunName(template.metadata.name, due);
    // A reconcile that still sees the status from before its own last write finds the run of
    // this time already there: it was started, nothing more to do.
    if (!runs.some((r) => r.metadata.name === runName)) {
      if (await startRun(w, template, { name: runName, due, missed: decision.missed }, active))
        state.started.push(runName);
    }
    state.lastScheduleTime = rfc3339(due);
  }
  if (decision.next !== undefined) {
    state.nextScheduleTime = rfc3339(decision.next);
    // Timers cannot wait longer than about 24 days; look again hourly until the time is near.
    state.requeueAfterMs = Math.min(
      MAX_REQUEUE_MS,
      Math.max(1000, decision.next.getTime() - now.getTime()),
    );
  }
  return state;
}

/**
 * Starts the run of a due time under the concurrency policy: Forbid skips it while a run is
 * going, Replace stops the running ones first. True when the run is (or already was) there.
 */
async function startRun(
  w: TemplateWork,
  template: Template,
  run: { name: string; due: Date; missed: number },
  active: readonly Run[],
): Promise<boolean> {
  const ref = objectReference({ ...template, kind: 'AssessmentTemplate' });
  const at = rfc3339(run.due);
  const policy = template.spec.concurrencyPolicy;
  if (run.missed > 0) {
    w.events.warning(
      ref,
      'MissedSchedule',
      'StartRun',
      `${run.missed}${run.missed >= 100 ? ' or more' : ''} scheduled starts were missed; starting only the latest, ${at}`,
    );
  }
  if (policy === 'Forbid' && active.length > 0) {
    w.events.normal(
      ref,
      'RunSkipped',
      'StartRun',
      `skipped the run scheduled at ${at}: concurrencyPolicy Forbid and ${active.map((r) => r.metadata.name).join(', ')} still running`,
    );
    return false;
  }
  if (policy === 'Replace') {
    for (const r of active) {
      if (r.spec.stop !== undefined) continue;
      await apply(
        w.deps.manager.client,
        kinds.assessmentRuns,
        {
          apiVersion: API_VERSION,
          kind: 'AssessmentRun',
          metadata: { name: r.metadata.name, namespace: template.metadata.namespace ?? '' },
          spec: { templateRef: r.spec.templateRef, stop: { action: 'SKIP_EVALUATION' } },
        },
        { fieldManager: SCHEDULE_FIELD_MANAGER },
      );
      w.events.normal(
        ref,
        'RunReplaced',
        'StopRun',
        `stopped ${r.metadata.name} with SKIP_EVALUATION: concurrencyPolicy Replace`,
      );
    }
  }
  if (await createScheduledRun(w.deps, template, run.name, run.due)) {
    w.events.normal(ref, 'RunStarted', 'StartRun', `started ${run.name} for ${at}`);
    w.ctx.log.info({ run: run.name, scheduledAt: at }, 'scheduled run started');
  }
  return true;
}

/** Deletes the finished scheduled runs beyond the history limits; returns their names. */
async function pruneHistory(
  w: TemplateWork,
  template: Template,
  runs: readonly Run[],
): Promise<string[]> {
  // History limits apply to the runs the schedule started (owned by the template).
  const scheduled = runs.filter((r) => ownedBy(r, template.metadata.uid));
  const beyond = runsBeyondHistory(
    scheduled.map((r) => ({
      name: r.metadata.name,
      state: runState(r),
      finishedAt: r.status?.completedAt ?? r.metadata.creationTimestamp ?? '',
    })),
    template.spec.successfulRunsHistoryLimit,
    template.spec.failedRunsHistoryLimit,
  );
  for (const runName of beyond) {
    const run = scheduled.find((r) => r.metadata.name === runName);
    if (run?.metadata.deletionTimestamp !== undefined) continue;
    await remove(
      w.deps.manager.client,
      kinds.assessmentRuns,
      runName,
      template.metadata.namespace ?? '',
      {
        ...(run?.metadata.uid !== undefined ? { uid: run.metadata.uid } : {}),
        propagationPolicy: 'Background',
      },
    );
    w.ctx.log.info({ run: runName }, 'deleted a run beyond the history limit');
  }
  return beyond;
}

/** The run history and schedule fields of the status. */
function fillDraft(
  draft: AssessmentTemplateStatus,
  runs: readonly Run[],
  active: readonly Run[],
  beyond: readonly string[],
  schedule: ScheduleState,
): void {
  const { started, lastScheduleTime, nextScheduleTime } = schedule;
  const existing = runs.filter((r) => !beyond.includes(r.metadata.name));
  const newest = [...existing].sort((a, b) =>
    (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''),
  );
  const activeNames = [...new Set([...active.map((r) => r.metadata.name), ...started])].sort();
  const lastRunName = started.at(-1) ?? newest.at(-1)?.metadata.name;
  for (const field of [
    'lastRunName',
    'lastScheduleTime',
    'nextScheduleTime',
    'activeRuns',
  ] as const)
    delete draft[field];
  Object.assign(draft, {
    ...(lastRunName !== undefined ? { lastRunName } : {}),
    ...(lastScheduleTime !== undefined ? { lastScheduleTime } : {}),
    ...(nextScheduleTime !== undefined ? { nextScheduleTime } : {}),
    ...(activeNames.length > 0 ? { activeRuns: activeNames.slice(0, 64) } : {}),
    runCount: new Set([...existing.map((r) => r.metadata.name), ...started]).size,
  });
}

/** Creates the run of a scheduled time; false when it exists already (started before a restart). */
async function createScheduledRun(
  deps: ControllerDeps,
  template: Template,
  name: string,
  due: Date,
): Promise<boolean> {
  const namespace = template.metadata.namespace ?? '';
  try {
    await deps.manager.client.request('POST', collectionPath(kinds.assessmentRuns, namespace), {
      body: {
        apiVersion: API_VERSION,
        kind: 'AssessmentRun',
        metadata: {
          name,
          namespace,
          labels: { [TEMPLATE_LABEL]: template.metadata.name },
          annotations: { [SCHEDULED_AT_ANNOTATION]: rfc3339(due) },
          ownerReferences: [
            {
              apiVersion: API_VERSION,
              kind: 'AssessmentTemplate',
              name: template.metadata.name,
              uid: template.metadata.uid ?? '',
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: { templateRef: { name: template.metadata.name } },
      },
      query: { fieldManager: FIELD_MANAGERS.coverage },
    });
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) return false;
    throw err;
  }
}
