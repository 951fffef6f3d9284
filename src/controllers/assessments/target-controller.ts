/**
 * AssessmentTarget: checks the namespace rule and reports what the target covers now
 * (status.matched, like Classic's PreviewAgents). `evaluatedAt` moves only when the counts do,
 * so a steady cluster sees no writes.
 */
import type { AssessmentTargetStatus } from '../../api/v1alpha1/assessment-target.ts';
import { apply } from '../../kube/apply.ts';
import { splitKey } from '../../kube/resources.ts';
import type { Reconciler } from '../../runtime/controller.ts';
import { selectResources, targetProblems } from '../../assessments/selection.ts';
import { rfc3339 } from '../../assessments/run-state.ts';
import type { ControllerDeps } from '../deps.ts';
import { kinds } from '../informers.ts';
import { type AssessmentCaches, clusterSnapshot } from './cluster.ts';
import { conditionsOf } from './conditions.ts';

export const REASON_OUTSIDE_ADMIN_NAMESPACE = 'OutsideAdministratorNamespace';

export function targetReconciler(deps: ControllerDeps, caches: AssessmentCaches): Reconciler {
  return {
    async reconcile(key) {
      const target = caches.targets.get(key);
      if (target === undefined || target.metadata.deletionTimestamp !== undefined) return undefined;
      const { namespace = '' } = splitKey(key);
      const now = deps.clock.now();
      const generation = target.metadata.generation;
      const previous = target.status;
      const problems = targetProblems(target.spec, namespace, deps.adminNamespace);
      let status: AssessmentTargetStatus;
      if (problems.length > 0) {
        status = {
          ...(generation !== undefined ? { observedGeneration: generation } : {}),
          conditions: conditionsOf(
            'stalled',
            previous?.conditions,
            REASON_OUTSIDE_ADMIN_NAMESPACE,
            problems.join('; '),
            generation,
            now,
          ),
        };
      } else {
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
        const same =
          previous?.matched?.nodes === matched.nodes &&
          previous.matched.workloads === matched.workloads &&
          previous.matched.images === matched.images;
        status = {
          ...(generation !== undefined ? { observedGeneration: generation } : {}),
          conditions: conditionsOf(
            'ready',
            previous?.conditions,
            'Matched',
            `covers ${matched.nodes} nodes, ${matched.workloads} workloads and ${matched.images} images`,
            generation,
            now,
          ),
          matched,
          evaluatedAt:
            same && previous.evaluatedAt !== undefined ? previous.evaluatedAt : rfc3339(now),
        };
      }
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
      return undefined;
    },
  };
}
