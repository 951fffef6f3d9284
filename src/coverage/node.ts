/**
 * NODE coverage decided from facts: the Node as the API server reports it, its NodeInventory,
 * whether an agent pod runs there, what the CoveredResource remembers, the configuration and
 * the time. Pure: the reconciler (controllers/coverage/node.ts) reads the facts from its
 * caches, asks `decideNode` and writes or removes.
 */
import type { CoveredResourceStatus } from '../api/v1alpha1/covered-resource.ts';
import type { NodeInventoryStatus } from '../api/v1alpha1/node-inventory.ts';
import type { CoverageConfig } from './config.ts';
import { type Decision, nodeCoverage } from './rules.ts';
import { compact, iso, parseTime, trimLabels } from './status.ts';

/** The parts of a Node's status coverage reads. */
export interface NodeStatusLike {
  conditions?: { type?: string; status?: string; lastTransitionTime?: string }[];
  nodeInfo?: {
    operatingSystem?: string;
    architecture?: string;
    osImage?: string;
    kernelVersion?: string;
  };
}

/** Everything a node's coverage is decided from, read from the caches. */
export interface NodeObservation {
  name: string;
  /** The Node; undefined once it is deleted. */
  node:
    | {
        uid: string | undefined;
        labels: Readonly<Record<string, string>> | undefined;
        status: NodeStatusLike;
      }
    | undefined;
  /** The status of the node's NodeInventory: undefined when there is none, `{}` before it has one. */
  inventory: Partial<NodeInventoryStatus> | undefined;
  /** An agent pod is bound to the node. */
  agentPod: boolean;
  /** Open findings still name a deleted node's CoveredResource (only read once it is gone). */
  openFindings: boolean;
  /** The CoveredResource's status as last written. */
  previous: CoveredResourceStatus | undefined;
}

export type NodeOutcome =
  | { kind: 'remove' }
  | {
      kind: 'write';
      status: CoveredResourceStatus;
      /** When the reason may change on its own (grace after NotReady, stale inventory). */
      deadline?: number;
    };

/**
 * The node's coverage. A deleted node stays RESOURCE_TERMINATED while its findings are open,
 * then its CoveredResource goes. The write that records a new inventory carries the state it
 * gives (ADR 0502): no PENDING_INITIAL_SCAN step before it.
 */
export function decideNode(o: NodeObservation, config: CoverageConfig, now: number): NodeOutcome {
  if (o.node === undefined) {
    if (!o.openFindings) return { kind: 'remove' };
    return {
      kind: 'write',
      status: {
        ...o.previous!,
        scanStatus: { statusCode: 'INACTIVE', reason: 'RESOURCE_TERMINATED' },
      },
    };
  }
  const st = o.node.status;
  const inv = o.inventory;
  const collectedAt = parseTime(inv?.collectedAt);
  const recorded = parseTime(o.previous?.lastScannedAt);
  const architecture = st.nodeInfo?.architecture || inv?.architecture || undefined;
  const ready = st.conditions?.find((c) => c.type === 'Ready');
  const d = nodeCoverage(
    {
      exists: true,
      pendingDisable: false,
      excluded: Object.hasOwn(o.node.labels ?? {}, config.exclusionLabel),
      ready: { status: ready?.status, since: parseTime(ready?.lastTransitionTime) },
      operatingSystem: st.nodeInfo?.operatingSystem || undefined,
      architecture,
      agentPod: o.agentPod,
      inventory:
        inv === undefined
          ? undefined
          : {
              collectedAt,
              errorCodes: (inv.errors ?? []).map((e) => e.code),
              packages: inv.packages?.length ?? 0,
            },
      // The inventory collected last counts as evaluated by the write this decides.
      lastScannedAt: collectedAt ?? recorded,
    },
    config,
    now,
  );
  // The inventory the findings use is the one collected last.
  const evaluated = d.statusCode === 'ACTIVE' && collectedAt !== undefined ? collectedAt : recorded;
  const status = nodeStatus(o, d, { evaluated, architecture });
  return { kind: 'write', status, ...(d.deadline !== undefined ? { deadline: d.deadline } : {}) };
}

function nodeStatus(
  o: NodeObservation,
  d: Decision,
  f: { evaluated: number | undefined; architecture: string | undefined },
): CoveredResourceStatus {
  const st = o.node?.status ?? {};
  const inv = o.inventory;
  return compact({
    resourceType: 'NODE',
    resourceId: o.name,
    resource: compact({ apiVersion: 'v1', kind: 'Node', name: o.name, uid: o.node?.uid }),
    scanStatus: { statusCode: d.statusCode, reason: d.reason },
    scanType: 'PACKAGE',
    scanMode: 'AGENT_BASED',
    lastScannedAt: iso(f.evaluated),
    resourceLabels: trimLabels(o.node?.labels),
    node: compact({
      osImage: st.nodeInfo?.osImage?.slice(0, 256),
      platform: inv?.os?.platform,
      kernelVersion: (inv?.kernelVersion ?? st.nodeInfo?.kernelVersion)?.slice(0, 256),
      architecture: f.architecture?.slice(0, 32),
    }),
  });
}
