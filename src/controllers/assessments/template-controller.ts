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

export function templateReconciler(
  deps: ControllerDeps,
  caches: AssessmentCaches,
  events: EventRecorder,
): Reconciler {
  const client = deps.manager.client;
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
        steps: (draft) => steps(template, draft, ctx),
        write: async (status) => {
          await apply(
            client,
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

  /**
   * Validation, the schedule and the history limits; fills in the draft and says how it went.
   * A problem a person must fix is Stalled; a write the API server refuses fails the reconcile.
   */
  async function steps(
    template: Template,
    draft: AssessmentTemplateStatus,
    ctx: ReconcileContext,
  ): Promise<StepsResult> {
    const key = `${template.metadata.namespace ?? ''}/${template.metadata.name}`;
    const { namespace = '', name } = splitKey(key);
    const now = deps.clock.now();
    const spec = template.spec;
    const previous = template.status ?? {};
    const ref = objectReference({ ...template, kind: 'AssessmentTemplate' });

    const runs = caches.runs.byIndex(INDEX_BY_TEMPLATE, key);
    const active = runs.filter((r) => !isTerminal(runState(r)) && !r.metadata.deletionTimestamp);
    let problem = templateProblem(template, caches, deps.adminNamespace);
    let cron: ReturnType<typeof parseSchedule> | undefined;
    if (problem === undefined && spec.schedule !== undefined) {
      try {
        cron = parseSchedule(spec.schedule, spec.timeZone);
      } catch (err) {
        problem = { reason: 'InvalidSchedule', message: (err as Error).message };
      }
    }

    let lastScheduleTime = previous.lastScheduleTime;
    let nextScheduleTime: string | undefined;
    let requeueAfterMs: number | undefined;
    const started: string[] = [];
    if (cron !== undefined && problem === undefined && !spec.suspend) {
      const since = new Date(
        lastScheduleTime ?? template.metadata.creationTimestamp ?? now.toISOString(),
      );
      const decision = scheduleDecision(cron, since, now);
      const due = decision.due;
      const runName = due === undefined ? undefined : scheduledRunName(name, due);
      // A reconcile that still sees the status from before its own last write finds the run
      // of this time already there: it was started, nothing more to do.
      if (due !== undefined && runs.some((r) => r.metadata.name === runName)) {
        lastScheduleTime = rfc3339(due);
      } else if (due !== undefined && runName !== undefined) {
        if (decision.missed > 0) {
          events.warning(
            ref,
            'MissedSchedule',
            'StartRun',
            `${decision.missed}${decision.missed >= 100 ? ' or more' : ''} scheduled starts were missed; starting only the latest, ${rfc3339(due)}`,
          );
        }
        if (spec.concurrencyPolicy === 'Forbid' && active.length > 0) {
          events.normal(
            ref,
            'RunSkipped',
            'StartRun',
            `skipped the run scheduled at ${rfc3339(due)}: concurrencyPolicy Forbid and ${active.map((r) => r.metadata.name).join(', ')} still running`,
          );
        } else {
          if (spec.concurrencyPolicy === 'Replace') {
            for (const r of active) {
              if (r.spec.stop !== undefined) continue;
              await apply(
                client,
                kinds.assessmentRuns,
                {
                  apiVersion: API_VERSION,
                  kind: 'AssessmentRun',
                  metadata: { name: r.metadata.name, namespace },
                  spec: { templateRef: r.spec.templateRef, stop: { action: 'SKIP_EVALUATION' } },
                },
                { fieldManager: SCHEDULE_FIELD_MANAGER },
              );
              events.normal(
                ref,
                'RunReplaced',
                'StopRun',
                `stopped ${r.metadata.name} with SKIP_EVALUATION: concurrencyPolicy Replace`,
              );
            }
          }
          if (await createScheduledRun(template, runName, due)) {
            events.normal(ref, 'RunStarted', 'StartRun', `started ${runName} for ${rfc3339(due)}`);
            ctx.log.info({ run: runName, scheduledAt: rfc3339(due) }, 'scheduled run started');
          }
          started.push(runName);
        }
        lastScheduleTime = rfc3339(due);
      }
      if (decision.next !== undefined) {
        nextScheduleTime = rfc3339(decision.next);
        // Timers cannot wait longer than about 24 days; look again hourly until the time is near.
        requeueAfterMs = Math.min(
          MAX_REQUEUE_MS,
          Math.max(1000, decision.next.getTime() - now.getTime()),
        );
      }
    }

    // History limits apply to the runs the schedule started (owned by the template).
    const scheduled = runs.filter((r) => ownedBy(r, template.metadata.uid));
    const beyond = runsBeyondHistory(
      scheduled.map((r) => ({
        name: r.metadata.name,
        state: runState(r),
        finishedAt: r.status?.completedAt ?? r.metadata.creationTimestamp ?? '',
      })),
      spec.successfulRunsHistoryLimit,
      spec.failedRunsHistoryLimit,
    );
    for (const runName of beyond) {
      const run = scheduled.find((r) => r.metadata.name === runName);
      if (run?.metadata.deletionTimestamp !== undefined) continue;
      await remove(client, kinds.assessmentRuns, runName, namespace, {
        ...(run?.metadata.uid !== undefined ? { uid: run.metadata.uid } : {}),
        propagationPolicy: 'Background',
      });
      ctx.log.info({ run: runName }, 'deleted a run beyond the history limit');
    }

    const existing = runs.filter((r) => !beyond.includes(r.metadata.name));
    const newest = [...existing].sort((a, b) =>
      (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''),
    );
    const activeNames = [...new Set([...active.map((r) => r.metadata.name), ...started])].sort();
    const lastRunName =
      started.length > 0
        ? started[started.length - 1]!
        : newest.length > 0
          ? newest[newest.length - 1]!.metadata.name
          : undefined;
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

  /** Creates the run of a scheduled time; false when it exists already (started before a restart). */
  async function createScheduledRun(template: Template, name: string, due: Date): Promise<boolean> {
    const namespace = template.metadata.namespace ?? '';
    try {
      await client.request('POST', collectionPath(kinds.assessmentRuns, namespace), {
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
        query: { fieldManager: 'kube-inspector' },
      });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) return false;
      throw err;
    }
  }
}
