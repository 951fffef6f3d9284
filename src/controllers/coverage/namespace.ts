/** NAMESPACE coverage: one CoveredResource per namespace, whatever the configuration. */
import type { CoveredResourceStatus } from '../../api/v1alpha1/covered-resource.ts';
import { coveredResourceName } from '../../coverage/names.ts';
import { namespaceCoverage } from '../../coverage/rules.ts';
import type { Reconciler, Result } from '../../runtime/controller.ts';
import { type CoverageContext, compact, coveredLabels, trimLabels } from './context.ts';

export function namespaceReconciler(ctx: CoverageContext): Reconciler {
  return {
    async reconcile(name): Promise<Result | undefined> {
      const { config } = ctx.config();
      const crName = coveredResourceName.namespace(name);
      const ns = ctx.namespaces.get(name);
      if (ns === undefined) {
        await ctx.delete(crName);
        return undefined;
      }
      const state = ctx.namespaceState(config, name);
      const d = namespaceCoverage(state);
      const status: CoveredResourceStatus = compact({
        resourceType: 'NAMESPACE',
        resourceId: name,
        resource: compact({ apiVersion: 'v1', kind: 'Namespace', name, uid: ns.metadata.uid }),
        resourceLabels: trimLabels(ns.metadata.labels),
        scanStatus: { statusCode: d.statusCode, reason: d.reason },
      });
      await ctx.write(crName, coveredLabels(status, name), status);
      return undefined;
    },
  };
}
