/**
 * A workload as the workload rules packages read it: its identity, its pod template (metadata
 * and spec) and where that template sits in the object, so a finding can name the exact field.
 */
import type { FindingResource } from '../findings/build.ts';

/** Kinds whose pod template the rules read, with the path of the template in the object. */
export const POD_TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
  Pod: [],
};

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

export interface WorkloadFacts {
  namespace: string;
  kind: string;
  name: string;
  /** The pod template (for a bare Pod: the pod's metadata and spec). */
  template: PodTemplate;
  /** Dotted path of the template in the object ('' for a Pod), prefixed to field paths. */
  templatePath: string;
  /** The template's service account, when it exists and is known. */
  serviceAccount?: { automountServiceAccountToken?: boolean };
}

/** `namespace/Kind/name`, as CoveredResource status.resourceId names a workload. */
export function workloadId(w: Pick<WorkloadFacts, 'namespace' | 'kind' | 'name'>): string {
  return `${w.namespace}/${w.kind}/${w.name}`;
}

export function workloadResource(w: WorkloadFacts): FindingResource {
  return {
    resourceType: 'WORKLOAD',
    id: workloadId(w),
    kind: w.kind,
    namespace: w.namespace,
    name: w.name,
  };
}

/**
 * The facts of a workload object, or a sentence saying why it has none (an unknown kind, no
 * pod template).
 */
export function workloadFacts(obj: {
  kind: string;
  metadata: { name: string; namespace?: string | undefined };
  [k: string]: unknown;
}): WorkloadFacts | string {
  const path = POD_TEMPLATE_PATHS[obj.kind];
  if (path === undefined) return `kind ${obj.kind} has no pod template the rules read`;
  let v: unknown = obj;
  for (const p of path) v = (v as Record<string, unknown> | undefined)?.[p];
  const template = (path.length === 0 ? { metadata: obj.metadata, spec: obj.spec } : v) as
    PodTemplate | undefined;
  if (template?.spec === undefined || typeof template.spec !== 'object')
    return `${obj.kind} ${obj.metadata.name} has no ${[...path, 'spec'].join('.')}`;
  return {
    namespace: obj.metadata.namespace ?? '',
    kind: obj.kind,
    name: obj.metadata.name,
    template,
    templatePath: path.join('.'),
  };
}
