/**
 * AssessmentTarget: checks the namespace rule and reports what the target covers now
 * (status.matched, like Classic's PreviewAgents). `evaluatedAt` moves only when the counts do,
 * so a steady cluster sees no writes. A target that breaks the namespace rule is Stalled
 * (a TerminalError); every outcome, failures included, is written to status.
 */
import type { AssessmentTargetStatus } from '../../api/v1alpha1/assessment-target.ts';
import { apply } from '../../kube/apply.ts';
import { splitKey } from '../../kube/resources.ts';
import { type Reconciler, TerminalError } from '../../runtime/controller.ts';
import { reconcileWithStatus } from '../../runtime/status.ts';
import { selectResources, targetProblems } from '../../assessments/selection.ts';
import { rfc3339 } from '../../assessments/run-state.ts';
import type { ControllerDeps } from '../deps.ts';
import { kinds } from '../informers.ts';
import { type AssessmentCaches, type Target, clusterSnapshot } from './cluster.ts';

export const REASON_OUTSIDE_ADMIN_NAMESPACE = 'OutsideAdministratorNamespace';

export function targetReconciler(deps: ControllerDeps, caches: AssessmentCaches): Reconciler {
  /** Fills in what the target covers now; throws a TerminalError when it breaks the rule. */
  function match(target: Target, namespace: string, draft: AssessmentTargetStatus) {
    const problems = targetProblems(target.spec, namespace, deps.adminNamespace);
    if (problems.length > 0) {
      delete draft.matched;
      delete draft.evaluatedAt;
      throw new TerminalError(problems.join('; '), { reason: REASON_OUTSIDE_ADMIN_NAMESPACE });
    }
    const selected = selectResources(
      { namespace, spec: target.spec },
      deps.adminNamespace,
      clusterSnapshot(caches),
    );
    const matched = {
      nodes: selected.nodes.length,
      workloads: selected.workloads.length,
      images: new Set(selected.images.map((i) => i.digest ?? i.reference)).size,
    };
    const previous = target.status;
    const same =
      previous?.matched?.nodes === matched.nodes &&
      previous.matched.workloads === matched.workloads &&
      previous.matched.images === matched.images;
    draft.matched = matched;
    draft.evaluatedAt =
      same && previous.evaluatedAt !== undefined ? previous.evaluatedAt : rfc3339(deps.clock.now());
    return {
      summary: 'ready' as const,
      reason: 'Matched',
      message: `covers ${matched.nodes} nodes, ${matched.workloads} workloads and ${matched.images} images`,
    };
  }

  return {
    async reconcile(key, ctx) {
      const target = caches.targets.get(key);
      if (target === undefined || target.metadata.deletionTimestamp !== undefined) return undefined;
      const { namespace = '' } = splitKey(key);
      return reconcileWithStatus<AssessmentTargetStatus>({
        previous: target.status,
        generation: target.metadata.generation,
        now: () => deps.clock.now(),
        log: ctx.log,
        steps: (draft) => Promise.resolve().then(() => match(target, namespace, draft)),
        write: async (status) => {
          await apply(
            deps.manager.client,
            kinds.assessmentTargets,
            {
              apiVersion: target.apiVersion,
              kind: 'AssessmentTarget',
              metadata: { name: target.metadata.name, namespace },
              status,
            },
            { status: true, current: target },
          );
        },
      });
    },
  };
}
