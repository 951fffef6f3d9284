/**
 * The caches the assessment controllers read, and the snapshot of the cluster a target is
 * matched against: nodes, namespaces and workloads (Deployments, StatefulSets, DaemonSets, Jobs,
 * CronJobs and bare Pods) with the images they run. An image's digest comes from the reference
 * itself (`repo@sha256:…`) or from a pod's container status; a pod seen running it is kept so its
 * pull secrets can be used to scan it.
 */
import { type PodWorkload, controllerOf, podWorkload } from '../../coverage/owner.ts';
import type { AssessmentRun } from '../../api/v1alpha1/assessment-run.ts';
import type { AssessmentTarget } from '../../api/v1alpha1/assessment-target.ts';
import type { AssessmentTemplate } from '../../api/v1alpha1/assessment-template.ts';
import type { Cache } from '../../kube/cache.ts';
import { core, type KubeObject, type ResourceType } from '../../kube/resources.ts';
import type { Manager } from '../../runtime/manager.ts';
import type { ClusterSnapshot, ImageUse, WorkloadFact } from '../../assessments/selection.ts';
import { informers } from '../informers.ts';
import { type NetworkCaches, networkCaches } from '../rules-packages.ts';

export type Run = AssessmentRun & KubeObject;
export type Template = AssessmentTemplate & KubeObject;
export type Target = AssessmentTarget & KubeObject;

/** Workload kinds a target selects, with where their pod template is. */
const WORKLOAD_RESOURCES: readonly { resource: ResourceType; template: readonly string[] }[] = [
  { resource: core.deployments, template: ['spec', 'template'] },
  { resource: core.statefulSets, template: ['spec', 'template'] },
  { resource: core.daemonSets, template: ['spec', 'template'] },
  { resource: core.jobs, template: ['spec', 'template'] },
  { resource: core.cronJobs, template: ['spec', 'jobTemplate', 'spec', 'template'] },
];

export interface AssessmentCaches {
  targets: Cache<Target>;
  templates: Cache<Template>;
  runs: Cache<Run>;
  nodeInventories: ReturnType<typeof informers.nodeInventories>;
  suppressionRules: ReturnType<typeof informers.suppressionRules>;
  nodes: Cache;
  namespaces: Cache;
  pods: Cache;
  replicaSets: Cache;
  serviceAccounts: Cache;
  workloads: ReadonlyMap<string, Cache>;
  network: NetworkCaches;
}

export const INDEX_BY_TEMPLATE = 'assessments.template';
export const INDEX_BY_TARGET = 'assessments.target';

/** Creates (or joins) the shared caches. */
export function assessmentCaches(m: Manager): AssessmentCaches {
  const workloads = new Map<string, Cache>(Object.entries(informers.workloads(m)));
  const c: AssessmentCaches = {
    targets: informers.assessmentTargets(m),
    templates: informers.assessmentTemplates(m),
    runs: informers.assessmentRuns(m),
    nodeInventories: informers.nodeInventories(m),
    suppressionRules: informers.suppressionRules(m),
    nodes: informers.nodes(m),
    namespaces: informers.namespaces(m),
    pods: informers.pods(m),
    replicaSets: informers.replicaSets(m),
    serviceAccounts: informers.serviceAccounts(m),
    workloads,
    network: networkCaches(m),
  };
  c.runs.ensureIndexer(INDEX_BY_TEMPLATE, (r) => [
    `${r.metadata.namespace}/${r.spec.templateRef.name}`,
  ]);
  c.templates.ensureIndexer(INDEX_BY_TARGET, (t) => [
    `${t.metadata.namespace}/${t.spec.targetRef.name}`,
  ]);
  return c;
}

// ---------------------------------------------------------------- snapshot

interface ContainerLike {
  name?: string;
  image?: string;
}
interface PodSpecLike {
  containers?: ContainerLike[];
  initContainers?: ContainerLike[];
  ephemeralContainers?: ContainerLike[];
}
interface ContainerStatusLike {
  name?: string;
  imageID?: string;
}

function dig(obj: unknown, path: readonly string[]): unknown {
  let v = obj;
  for (const p of path) v = (v as Record<string, unknown> | undefined)?.[p];
  return v;
}

function containers(spec: PodSpecLike | undefined): ContainerLike[] {
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

const DIGEST_RE = /sha256:[0-9a-f]{64}/;

/** The digest a reference pins (`repo@sha256:…`), if any. */
export function referenceDigest(reference: string): string | undefined {
  const at = reference.indexOf('@');
  return at < 0 ? undefined : DIGEST_RE.exec(reference.slice(at + 1))?.[0];
}

/** The workload of a pod (src/coverage/owner.ts, coverage's answer too); undefined while unknown. */
function workloadOfPod(
  pod: KubeObject,
  replicaSets: Cache,
  jobs: Cache | undefined,
): PodWorkload | undefined {
  const ns = pod.metadata.namespace ?? '';
  return podWorkload(
    { name: pod.metadata.name, controller: controllerOf(pod.metadata) },
    (kind, name) => {
      const obj = (kind === 'ReplicaSet' ? replicaSets : jobs)?.get(`${ns}/${name}`);
      return obj === undefined ? 'missing' : controllerOf(obj.metadata);
    },
  );
}

const key = (ns: string, kind: string, name: string): string => `${ns}/${kind}/${name}`;

type Fact = WorkloadFact & { images: ImageUse[] };

/** The workloads seen so far, by namespace/kind/name, and how each image use is added. */
class Facts {
  readonly byKey = new Map<string, Fact>();

  add(ns: string, kind: string, name: string, labels: Record<string, string>): Fact {
    const k = key(ns, kind, name);
    let f = this.byKey.get(k);
    if (f === undefined) this.byKey.set(k, (f = { namespace: ns, kind, name, labels, images: [] }));
    return f;
  }

  /** One sighting of an image; a later one with a pod fills in the pod of an earlier one. */
  static addImage(f: Fact, use: ImageUse): void {
    const same = f.images.find((i) => i.reference === use.reference && i.digest === use.digest);
    if (same !== undefined) {
      if (same.pod === undefined && use.pod !== undefined) same.pod = use.pod;
      return;
    }
    f.images.push(use);
  }
}

/** The cluster as the caches see it now. */
export function clusterSnapshot(c: AssessmentCaches): ClusterSnapshot {
  const namespaces = new Map<string, Record<string, string>>();
  for (const ns of c.namespaces.list()) namespaces.set(ns.metadata.name, ns.metadata.labels ?? {});
  const nodes = c.nodes
    .list()
    .map((n) => ({ name: n.metadata.name, labels: n.metadata.labels ?? {} }));
  const facts = new Facts();
  addTemplates(c, facts);
  addPods(c, facts);
  return { nodes, namespaces, workloads: [...facts.byKey.values()].map(withoutRedundantImages) };
}

/** Every workload object, with the images of its pod template. */
function addTemplates(c: AssessmentCaches, facts: Facts): void {
  for (const w of WORKLOAD_RESOURCES) {
    const cache = c.workloads.get(w.resource.kind);
    for (const obj of cache?.list() ?? []) {
      // A Job run by a CronJob is that CronJob's; it is not a workload of its own.
      if (w.resource.kind === 'Job' && controllerOf(obj.metadata)?.kind === 'CronJob') continue;
      const ns = obj.metadata.namespace ?? '';
      const f = facts.add(ns, w.resource.kind, obj.metadata.name, obj.metadata.labels ?? {});
      const spec = dig(obj, [...w.template, 'spec']) as PodSpecLike | undefined;
      for (const ctr of containers(spec)) {
        if (ctr.image === undefined || ctr.image === '') continue;
        Facts.addImage(f, { reference: ctr.image, digest: referenceDigest(ctr.image) });
      }
    }
  }
}

/** Every pod, under the workload that owns it, with the digests its status reports. */
function addPods(c: AssessmentCaches, facts: Facts): void {
  const jobs = c.workloads.get('Job');
  for (const pod of c.pods.list()) {
    const ns = pod.metadata.namespace ?? '';
    const owner = workloadOfPod(pod, c.replicaSets, jobs);
    // Its ReplicaSet or Job is not cached yet: that object's event brings the targets back.
    if (owner === undefined) continue;
    const f =
      facts.byKey.get(key(ns, owner.kind, owner.name)) ??
      facts.add(ns, owner.kind, owner.name, pod.metadata.labels ?? {});
    const seen = statusDigests(pod);
    for (const ctr of containers(pod.spec as PodSpecLike | undefined)) {
      if (ctr.image === undefined || ctr.image === '') continue;
      const digest = referenceDigest(ctr.image) ?? seen.get(ctr.name ?? '');
      Facts.addImage(f, { reference: ctr.image, digest, pod: pod.metadata.name });
    }
  }
}

/** The digest each container of a pod runs, by container name, from the kubelet's status. */
function statusDigests(pod: KubeObject): Map<string, string> {
  const status = pod.status as
    | { containerStatuses?: ContainerStatusLike[]; initContainerStatuses?: ContainerStatusLike[] }
    | undefined;
  const seen = new Map<string, string>();
  for (const s of [
    ...(status?.initContainerStatuses ?? []),
    ...(status?.containerStatuses ?? []),
  ]) {
    const d = DIGEST_RE.exec(s.imageID ?? '')?.[0];
    if (s.name !== undefined && d !== undefined) seen.set(s.name, d);
  }
  return seen;
}

/** A reference whose digest is known makes its digest-less entry redundant. */
function withoutRedundantImages(f: Fact): Fact {
  const known = new Set(f.images.filter((i) => i.digest !== undefined).map((i) => i.reference));
  const images = f.images
    .filter((i) => i.digest !== undefined || !known.has(i.reference))
    .map((i) => {
      // The template's entry has no pod; borrow one from a sighting of the same reference.
      if (i.pod !== undefined) return i;
      const pod = f.images.find((o) => o.reference === i.reference && o.pod !== undefined)?.pod;
      return pod === undefined ? i : { ...i, pod };
    });
  return { ...f, images };
}
