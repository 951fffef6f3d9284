/**
 * SuppressionRule status: how many findings the rule suppresses now (continuous and run
 * findings alike), computed from the caches, and a Ready condition. Written only when it
 * changes; `lastAppliedAt` moves when the count or the rule's generation changes.
 */
import { CONDITION_TYPES } from '../../api/v1alpha1/common.ts';
import type { SuppressionRuleStatus } from '../../api/v1alpha1/suppression-rule.ts';
import { sameJson } from '../../findings/build.ts';
import { ruleKey, suppressingRule } from '../../findings/suppression.ts';
import { coveredResourceName } from '../../coverage/names.ts';
import { apply } from '../../kube/apply.ts';
import type { Reconciler, Result } from '../../runtime/controller.ts';
import { setCondition, type Condition } from '../../runtime/conditions.ts';
import type { ControllerDeps } from '../index.ts';
import { kinds } from '../informers.ts';
import type { FindingsCaches } from './reconciler.ts';

export class SuppressionRuleReconciler implements Reconciler {
  private readonly deps: ControllerDeps;
  private readonly caches: FindingsCaches;

  constructor(deps: ControllerDeps, caches: FindingsCaches) {
    this.deps = deps;
    this.caches = caches;
  }

  reconcile(key: string): Promise<Result | undefined> {
    const rule = this.caches.suppressionRules.get(key);
    if (rule === undefined || rule.metadata.deletionTimestamp !== undefined)
      return Promise.resolve(undefined);
    return this.write(key);
  }

  private async write(key: string): Promise<undefined> {
    const rule = this.caches.suppressionRules.get(key)!;
    const rules = this.caches.suppressionRules.list();
    const admin = this.deps.adminNamespace;
    let matched = 0;
    for (const f of this.caches.findings.list()) {
      if (f.status?.status !== 'SUPPRESSED') continue;
      const cr = f.metadata.labels?.['kubeinspector.io/covered-resource'];
      const resourceLabels =
        cr !== undefined
          ? this.caches.coveredResources.get(cr)?.status?.resourceLabels
          : f.status.resource?.type === 'NODE' && f.status.resource.name !== undefined
            ? this.caches.coveredResources.get(coveredResourceName.node(f.status.resource.name))
                ?.status?.resourceLabels
            : undefined;
      const by = suppressingRule(rules, f, { adminNamespace: admin, resourceLabels });
      if (by !== undefined && ruleKey(by) === key) matched++;
    }
    const prev = rule.status;
    const generation = rule.metadata.generation;
    const now = this.deps.clock.now();
    const conditions = setCondition(
      prev?.conditions as Condition[] | undefined,
      {
        type: CONDITION_TYPES.Ready,
        status: 'True',
        reason: 'Applied',
        message: `${matched} finding${matched === 1 ? '' : 's'} suppressed`,
        ...(generation !== undefined ? { observedGeneration: generation } : {}),
      },
      now,
    );
    const changed =
      prev?.matchedFindings !== matched ||
      prev.observedGeneration !== generation ||
      prev.lastAppliedAt === undefined;
    const status: SuppressionRuleStatus = {
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      conditions,
      matchedFindings: matched,
      lastAppliedAt: changed
        ? now.toISOString().replace(/\.\d{3}Z$/, 'Z')
        : (prev.lastAppliedAt ?? now.toISOString()),
    };
    if (sameJson(prev, status)) return undefined;
    await apply(
      this.deps.manager.client,
      kinds.suppressionRules,
      {
        apiVersion: 'kubeinspector.io/v1alpha1',
        kind: 'SuppressionRule',
        metadata: {
          name: rule.metadata.name,
          ...(rule.metadata.namespace !== undefined ? { namespace: rule.metadata.namespace } : {}),
        },
        status,
      },
      { status: true, current: rule },
    );
    return undefined;
  }
}
