/** NODE coverage: one CoveredResource per Node while the Node scan type is active. */
import type { CoveredResourceStatus } from '../../api/v1alpha1/covered-resource.ts';
import { coveredResourceName } from '../../coverage/names.ts';
import { nodeCoverage, type NodeFacts } from '../../coverage/rules.ts';
import type { Reconciler, Result } from '../../runtime/controller.ts';
import {
  type CoverageContext,
  compact,
  coveredLabels,
  iso,
  parseTime,
  trimLabels,
} from './context.ts';
import { requeueAt, retireOrDisable } from './common.ts';

interface NodeStatusLike {
  conditions?: { type?: string; status?: string; lastTransitionTime?: string }[];
  nodeInfo?: {
    operatingSystem?: string;
    architecture?: string;
    osImage?: string;
    kernelVersion?: string;
  };
}

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

      if (node === undefined) {
        // Deleted: kept as RESOURCE_TERMINATED while findings are open, then removed.
        const open = await ctx.findingCount(crName, { open: true });
        if (open === 0) {
          await ctx.delete(crName);
          return undefined;
        }
        const status = {
          ...current!.status!,
          scanStatus: { statusCode: 'INACTIVE', reason: 'RESOURCE_TERMINATED' },
        } satisfies CoveredResourceStatus;
        await ctx.write(crName, coveredLabels(status), status);
        return undefined;
      }

      const st = (node.status ?? {}) as NodeStatusLike;
      const ready = st.conditions?.find((c) => c.type === 'Ready');
      const inventory = ctx.inventories.get(name);
      const inv = inventory?.status;
      const collectedAt = parseTime(inv?.collectedAt);
      const recorded = parseTime(current?.status?.lastScannedAt);
      const facts: NodeFacts = {
        exists: true,
        pendingDisable: false,
        excluded: Object.hasOwn(node.metadata.labels ?? {}, config.exclusionLabel),
        ready: { status: ready?.status, since: parseTime(ready?.lastTransitionTime) },
        operatingSystem: st.nodeInfo?.operatingSystem || undefined,
        architecture: st.nodeInfo?.architecture || inv?.architecture || undefined,
        agentPod: ctx.agentPodsOn(name).length > 0,
        inventory:
          inventory === undefined
            ? undefined
            : {
                collectedAt,
                errorCodes: (inv?.errors ?? []).map((e) => e.code),
                packages: inv?.packages?.length ?? 0,
              },
        // The write below records the inventory collected last as evaluated, so the node
        // reaches its state in that one write: no PENDING_INITIAL_SCAN step before it.
        lastScannedAt: collectedAt ?? recorded,
      };
      const d = nodeCoverage(facts, config, now);
      // The inventory the findings use is the one collected last.
      const evaluated =
        d.statusCode === 'ACTIVE' && collectedAt !== undefined ? collectedAt : recorded;
      const status: CoveredResourceStatus = compact({
        resourceType: 'NODE',
        resourceId: name,
        resource: compact({
          apiVersion: 'v1',
          kind: 'Node',
          name,
          uid: node.metadata.uid,
        }),
        scanStatus: { statusCode: d.statusCode, reason: d.reason },
        scanType: 'PACKAGE',
        scanMode: 'AGENT_BASED',
        lastScannedAt: iso(evaluated),
        resourceLabels: trimLabels(node.metadata.labels),
        node: compact({
          osImage: st.nodeInfo?.osImage?.slice(0, 256),
          platform: inv?.os?.platform,
          kernelVersion: (inv?.kernelVersion ?? st.nodeInfo?.kernelVersion)?.slice(0, 256),
          architecture: (st.nodeInfo?.architecture || inv?.architecture || undefined)?.slice(0, 32),
        }),
      });
      await ctx.write(crName, coveredLabels(status), status);
      return requeueAt(d.deadline, now);
    },
  };
}
