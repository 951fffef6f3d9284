/**
 * SuppressionRule status: how many findings the rule suppresses now (continuous and run
 * findings alike), counted from the findings store's SUPPRESSED findings, and a Ready condition (Ready=False with the
 * reason when the reconcile fails). Written only when it changes; `lastAppliedAt` moves when
 * the count or the rule's generation changes.
 */
import { API_VERSION, LABELS } from '../../api/v1alpha1/common.ts';
import type { Finding } from '../../api/v1alpha1/finding.ts';
import type { SuppressionRuleStatus } from '../../api/v1alpha1/suppression-rule.ts';
import { parseFieldSelector } from '../../findings-store/selectors.ts';
import type { StoredFinding } from '../../findings-store/store.ts';
import { resuppress, sameJson } from '../../findings/build.ts';
import { ruleKey, suppressingRule } from '../../findings/suppression.ts';
import { coveredResourceName } from '../../coverage/names.ts';
import { apply } from '../../kube/apply.ts';
import type { ReconcileContext, Reconciler, Result } from '../../runtime/controller.ts';
import { formatConditionTime } from '../../runtime/conditions.ts';
import { type StepsResult, reconcileWithStatus } from '../../runtime/status.ts';
import type { ControllerDeps } from '../deps.ts';
import { coveredResourceOfLabel, kinds } from '../informers.ts';
import type { FindingsCaches } from './reconciler.ts';

export class SuppressionRuleReconciler implements Reconciler {
  private readonly deps: ControllerDeps;
  private readonly caches: FindingsCaches;

  constructor(deps: ControllerDeps, caches: FindingsCaches) {
    this.deps = deps;
    this.caches = caches;
  }

  reconcile(key: string, ctx: ReconcileContext): Promise<Result | undefined> {
    const rule = this.caches.suppressionRules.get(key);
    if (rule === undefined || rule.metadata.deletionTimestamp !== undefined)
      return Promise.resolve(undefined);
    const generation = rule.metadata.generation;
    return reconcileWithStatus<SuppressionRuleStatus>({
      previous: rule.status,
      generation,
      now: () => this.deps.clock.now(),
      log: ctx.log,
      steps: (draft) => this.count(key, draft, generation),
      write: async (status) => {
        if (sameJson(rule.status, status)) return;
        await apply(
          this.deps.manager.client,
          kinds.suppressionRules,
          {
            apiVersion: API_VERSION,
            kind: 'SuppressionRule',
            metadata: {
              name: rule.metadata.name,
              ...(rule.metadata.namespace !== undefined
                ? { namespace: rule.metadata.namespace }
                : {}),
            },
            status,
          },
          { status: true, current: rule },
        );
      },
    });
  }

  /** Counts the findings the rule suppresses now into the draft (SUPPRESSED ones, page by page). */
  private async count(
    key: string,
    draft: SuppressionRuleStatus,
    generation: number | undefined,
  ): Promise<StepsResult> {
    const rules = this.caches.suppressionRules.list();
    const admin = this.deps.adminNamespace;
    let matched = 0;
    const { pages } = await this.deps.findingsStore.listPages({
      fieldSelector: parseFieldSelector('status.status=SUPPRESSED'),
    });
    for await (const page of pages)
      for (const stored of page) {
        const f = stored as StoredFinding & Finding;
        if (f.status?.status !== 'SUPPRESSED') continue;
        const cr = f.metadata.labels?.[LABELS.coveredResource];
        const resourceLabels =
          cr !== undefined
            ? coveredResourceOfLabel(this.caches.coveredResources, cr)?.status?.resourceLabels
            : f.status.resource?.type === 'NODE' && f.status.resource.name !== undefined
              ? this.caches.coveredResources.get(coveredResourceName.node(f.status.resource.name))
                  ?.status?.resourceLabels
              : undefined;
        const by = suppressingRule(rules, f, { adminNamespace: admin, resourceLabels });
        if (by !== undefined && ruleKey(by) === key) matched++;
      }
    const changed =
      draft.matchedFindings !== matched ||
      draft.observedGeneration !== generation ||
      draft.lastAppliedAt === undefined;
    draft.matchedFindings = matched;
    if (changed) draft.lastAppliedAt = formatConditionTime(this.deps.clock.now());
    return {
      summary: 'ready',
      reason: 'Applied',
      message: `${matched} finding${matched === 1 ? '' : 's'} suppressed`,
    };
  }
}

/**
 * Keeps the ACTIVE / SUPPRESSED state of run findings (key: namespace/name) in step with the
 * SuppressionRules after their run wrote them: a rule created, narrowed or deleted later moves
 * them. Only `status.status`, `status.updatedAt` and the status label change; the rest of the
 * stored object (ownerReferences, attributes, the run's status) is written back as read, under
 * a resourceVersion precondition. CLOSED findings are left alone.
 */
export class RunFindingSuppressionReconciler implements Reconciler {
  private readonly deps: ControllerDeps;
  private readonly caches: FindingsCaches;

  constructor(deps: ControllerDeps, caches: FindingsCaches) {
    this.deps = deps;
    this.caches = caches;
  }

  async reconcile(key: string): Promise<Result | undefined> {
    const slash = key.indexOf('/');
    const store = this.deps.findingsStore;
    const f = (await store.get(key.slice(0, slash), key.slice(slash + 1))) as
      (StoredFinding & Finding) | undefined;
    const status = f?.status;
    if (f === undefined || f.metadata.labels?.[LABELS.run] === undefined) return undefined;
    if (status?.status === undefined || status.status === 'CLOSED') return undefined;
    const rule = suppressingRule(this.caches.suppressionRules.list(), f, {
      adminNamespace: this.deps.adminNamespace,
    });
    const next = resuppress(
      status,
      rule === undefined ? undefined : ruleKey(rule),
      this.deps.clock.now(),
    );
    if (next === status) return undefined;
    // The stored object with its state moved; the resourceVersion makes a concurrent change
    // (a person's, or the run's) fail with a conflict and this reconcile retry.
    await store.update({
      ...f,
      metadata: { ...f.metadata, labels: { ...f.metadata.labels, [LABELS.status]: next.status! } },
      status: { ...status, status: next.status, updatedAt: next.updatedAt },
    });
    return undefined;
  }
}
