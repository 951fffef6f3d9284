/**
 * NODE coverage: one CoveredResource per Node while the Node scan type is active. A reconcile
 * reads the facts from the caches, asks the pure decision (`decideNode` in
 * src/coverage/node.ts) and writes the status or removes the CoveredResource.
 */
import { coveredResourceName } from '../../coverage/names.ts';
import { decideNode } from '../../coverage/node.ts';
import type { Reconciler, Result } from '../../runtime/controller.ts';
import { type CoverageContext, coveredLabels } from './context.ts';
import { requeueAt, retireOrDisable } from './common.ts';

export function nodeReconciler(ctx: CoverageContext): Reconciler {
  return {
    async reconcile(name): Promise<Result | undefined> {
      const { config } = ctx.config();
      const crName = coveredResourceName.node(name);
      const current = ctx.covered.get(crName);
      if (!config.scanTypes.has('Node')) return retireOrDisable(ctx, crName, current);
      const node = ctx.nodes.get(name);
      if (node === undefined && current === undefined) return undefined;
      const now = ctx.now();
      const inventory = ctx.inventories.get(name);
      const out = decideNode(
        {
          name,
          node: node && {
            uid: node.metadata.uid,
            labels: node.metadata.labels,
            status: node.status ?? {},
          },
          inventory: inventory && (inventory.status ?? {}),
          agentPod: node !== undefined && ctx.agentPodsOn(name).length > 0,
          // A deleted node is kept as RESOURCE_TERMINATED while findings of it are open.
          openFindings: node === undefined && (await ctx.findingCount(crName, { open: true })) > 0,
          previous: current?.status,
        },
        config,
        now,
      );
      if (out.kind === 'remove') {
        await ctx.delete(crName);
        return undefined;
      }
      await ctx.write(crName, coveredLabels(out.status), out.status);
      return requeueAt(out.deadline, now);
    },
  };
}
