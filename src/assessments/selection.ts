/**
 * Which resources an AssessmentTarget selects, as pure functions of the target and a snapshot of
 * the cluster: resource kinds × label selectors ORed together (empty = everything), within the
 * namespaces the target may see. A target outside the administrator namespace sees only its own
 * namespace and no nodes; asking for more is a configuration error the target reports.
 */
import type { AssessmentTargetSpec } from '../api/v1alpha1/assessment-target.ts';
import type { LabelSelector } from '../api/v1alpha1/common.ts';
import { selectorMatches } from '../coverage/config.ts';
import {
  MAX_COLLECTED_IMAGES,
  MAX_COLLECTED_NODES,
  MAX_COLLECTED_WORKLOADS,
} from '../api/v1alpha1/assessment-run.ts';

export type Labels = Readonly<Record<string, string>>;

export { selectorMatches };

/** Classic's "any of these tag pairs": any selector matches; none given matches everything. */
export function anySelectorMatches(
  selectors: readonly LabelSelector[] | undefined,
  labels: Labels,
): boolean {
  if (selectors === undefined || selectors.length === 0) return true;
  return selectors.some((s) => selectorMatches(s, labels));
}

/**
 * What a target asks for that its namespace does not allow, one sentence each naming the field;
 * empty when the target is valid.
 */
export function targetProblems(
  spec: Pick<AssessmentTargetSpec, 'resourceTypes' | 'namespaceSelector'>,
  namespace: string,
  adminNamespace: string,
): string[] {
  if (namespace === adminNamespace) return [];
  const problems: string[] = [];
  if (spec.resourceTypes.includes('NODE')) {
    problems.push(
      `spec.resourceTypes includes NODE, but nodes can be assessed only by a target in the administrator namespace ${adminNamespace}; this target is in ${namespace}`,
    );
  }
  if (spec.namespaceSelector !== undefined) {
    problems.push(
      `spec.namespaceSelector selects other namespaces, which only a target in the administrator namespace ${adminNamespace} may do; a target in ${namespace} covers its own namespace`,
    );
  }
  return problems;
}

export interface NodeFact {
  name: string;
  labels: Labels;
}

export interface ImageUse {
  /** The reference as the container names it. */
  reference: string;
  /** Manifest digest, from the reference or the pod's container status. */
  digest?: string | undefined;
  /** A pod seen running it (its pull secrets are the credentials to scan it). */
  pod?: string | undefined;
}

export interface WorkloadFact {
  namespace: string;
  /** Deployment, StatefulSet, DaemonSet, Job, CronJob or Pod (a bare pod). */
  kind: string;
  name: string;
  labels: Labels;
  images: readonly ImageUse[];
}

/** The part of the cluster a target is matched against. */
export interface ClusterSnapshot {
  nodes: readonly NodeFact[];
  /** Namespace name -> its labels. */
  namespaces: ReadonlyMap<string, Labels>;
  workloads: readonly WorkloadFact[];
}

export interface CollectedWorkload {
  namespace: string;
  kind: string;
  name: string;
}

export interface CollectedImage {
  reference: string;
  digest?: string | undefined;
  namespace?: string | undefined;
  pod?: string | undefined;
}

/** What a run records: the shape of AssessmentRun status.collected. */
export interface Collected {
  nodes: string[];
  workloads: CollectedWorkload[];
  images: CollectedImage[];
  truncated: boolean;
}

export interface TargetLike {
  namespace: string;
  spec: Pick<AssessmentTargetSpec, 'resourceTypes' | 'selectors' | 'namespaceSelector'>;
}

/** Whether the target covers workloads of this namespace. */
export function namespaceCovered(
  target: TargetLike,
  adminNamespace: string,
  namespace: string,
  labels: Labels,
): boolean {
  if (target.namespace !== adminNamespace) return namespace === target.namespace;
  const sel = target.spec.namespaceSelector;
  return sel === undefined ? namespace === target.namespace : selectorMatches(sel, labels);
}

/** Everything the target selects in the snapshot (no caps: see {@link mergeCollected}). */
export function selectResources(
  target: TargetLike,
  adminNamespace: string,
  snapshot: ClusterSnapshot,
): Collected {
  const types = new Set(target.spec.resourceTypes);
  const selectors = target.spec.selectors;
  const out: Collected = { nodes: [], workloads: [], images: [], truncated: false };
  if (targetProblems(target.spec, target.namespace, adminNamespace).length > 0) return out;
  if (types.has('NODE')) {
    for (const n of snapshot.nodes)
      if (anySelectorMatches(selectors, n.labels)) out.nodes.push(n.name);
  }
  if (!types.has('WORKLOAD') && !types.has('CONTAINER_IMAGE')) return out;
  for (const w of snapshot.workloads) {
    const nsLabels = snapshot.namespaces.get(w.namespace) ?? {};
    if (!namespaceCovered(target, adminNamespace, w.namespace, nsLabels)) continue;
    if (!anySelectorMatches(selectors, w.labels)) continue;
    if (types.has('WORKLOAD'))
      out.workloads.push({ namespace: w.namespace, kind: w.kind, name: w.name });
    if (types.has('CONTAINER_IMAGE')) {
      for (const i of w.images) {
        out.images.push({
          reference: i.reference,
          namespace: w.namespace,
          ...(i.digest !== undefined ? { digest: i.digest } : {}),
          ...(i.pod !== undefined ? { pod: i.pod } : {}),
        });
      }
    }
  }
  return out;
}

export interface CollectionLimits {
  nodes: number;
  workloads: number;
  images: number;
}

export const COLLECTION_LIMITS: CollectionLimits = {
  nodes: MAX_COLLECTED_NODES,
  workloads: MAX_COLLECTED_WORKLOADS,
  images: MAX_COLLECTED_IMAGES,
};

const workloadKey = (w: CollectedWorkload): string => `${w.namespace}/${w.kind}/${w.name}`;

/** `previous` followed by the items of `seen` it lacks, up to `limit` entries. */
function union<T>(
  previous: readonly T[],
  seen: readonly T[],
  key: (item: T) => string,
  limit: number,
): { list: T[]; added: boolean; truncated: boolean } {
  const list = [...previous];
  const keys = new Set(list.map(key));
  let added = false;
  let truncated = false;
  for (const item of seen) {
    const k = key(item);
    if (keys.has(k)) continue;
    if (list.length >= limit) {
      truncated = true;
      continue;
    }
    list.push(item);
    keys.add(k);
    added = true;
  }
  return { list, added, truncated };
}

/**
 * Adds what is seen now to what was recorded before: a union that keeps the earlier order, so a
 * resource that came and went stays recorded. An image first seen by tag gains its digest when
 * a later sighting knows it; the same reference at a new digest is a new image. Each list stops
 * at its limit and `truncated` says something was left out. Returns `previous` itself when
 * nothing new was seen, so callers can skip the write.
 */
export function mergeCollected(
  previous: Collected,
  seen: Collected,
  limits: CollectionLimits = COLLECTION_LIMITS,
): Collected {
  let truncated = previous.truncated || seen.truncated;
  const nodes = union(previous.nodes, seen.nodes, (n) => n, limits.nodes);
  const workloads = union(previous.workloads, seen.workloads, workloadKey, limits.workloads);
  let changed = nodes.added || workloads.added;
  truncated ||= nodes.truncated || workloads.truncated;
  const images = [...previous.images];
  for (const i of seen.images) {
    const same = images.findIndex(
      (p) => p.reference === i.reference && (p.digest === i.digest || i.digest === undefined),
    );
    if (same >= 0) {
      const p = images[same]!;
      // Fill in what the first sighting lacked (a pod for credentials).
      if (p.pod === undefined && i.pod !== undefined) {
        images[same] = { ...p, pod: i.pod, ...(i.namespace ? { namespace: i.namespace } : {}) };
        changed = true;
      }
      continue;
    }
    const byTag = images.findIndex((p) => p.reference === i.reference && p.digest === undefined);
    if (byTag >= 0) {
      images[byTag] = i;
      changed = true;
      continue;
    }
    if (images.length >= limits.images) {
      truncated = true;
      continue;
    }
    images.push(i);
    changed = true;
  }
  if (!changed && truncated === previous.truncated) return previous;
  return { nodes: nodes.list, workloads: workloads.list, images, truncated };
}

export const EMPTY_COLLECTED: Collected = {
  nodes: [],
  workloads: [],
  images: [],
  truncated: false,
};
