/**
 * The shared caches of the controller process, declared once: which resources are watched, how
 * each one is trimmed before it is stored, and (for the product's kinds) which managedFields
 * entries stay. A Manager keeps one cache per resource and selector and refuses a second caller
 * that asks for a different transform, so every area asks for its caches here and setup order
 * cannot change what a cache holds. Trimming keeps only the fields some controller reads:
 * managedFields go, except the entries of the product's own field managers (needed to tell what
 * a write would change) and, for workloads, a marker with the newest non-status write time.
 */
import type { AssessmentRun } from '../api/v1alpha1/assessment-run.ts';
import type { AssessmentTarget } from '../api/v1alpha1/assessment-target.ts';
import type { AssessmentTemplate } from '../api/v1alpha1/assessment-template.ts';
import type { CoveredResource } from '../api/v1alpha1/covered-resource.ts';
import type { NodeInventory } from '../api/v1alpha1/node-inventory.ts';
import { FIELD_MANAGERS, kinds } from '../api/v1alpha1/resources.ts';
import type { ScanConfiguration } from '../api/v1alpha1/scan-configuration.ts';
import type { SuppressionRule } from '../api/v1alpha1/suppression-rule.ts';
import type { Cache } from '../kube/cache.ts';
import { stripManagedFields } from '../kube/reflector.ts';
import { core, type KubeObject, type ResourceType } from '../kube/resources.ts';
import type { Manager } from '../runtime/manager.ts';
import { labelValueFor } from '../util/label-value.ts';

export { FIELD_MANAGERS, kinds } from '../api/v1alpha1/resources.ts';

/** Keeps what coverage reads of a workload, and its last non-status write time. */
function trimWorkload(obj: KubeObject): KubeObject {
  let last = 0;
  for (const m of obj.metadata.managedFields ?? []) {
    if ((m.subresource ?? '') === 'status' || m.time === undefined) continue;
    const t = Date.parse(m.time);
    if (t > last) last = t;
  }
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const status = (obj.status ?? {}) as Record<string, unknown>;
  const { managedFields: _drop, annotations: _a, ...metadata } = obj.metadata;
  return {
    ...typeMeta(obj),
    metadata: {
      ...metadata,
      ...(last > 0
        ? { managedFields: [{ manager: LAST_UPDATE_MARKER, time: new Date(last).toISOString() }] }
        : {}),
    },
    spec: {
      replicas: spec.replicas,
      suspend: spec.suspend,
      template: spec.template,
      jobTemplate: spec.jobTemplate,
    },
    status: { lastScheduleTime: status.lastScheduleTime },
  };
}

function typeMeta(obj: KubeObject): Pick<KubeObject, 'apiVersion' | 'kind'> {
  return {
    ...(obj.apiVersion !== undefined ? { apiVersion: obj.apiVersion } : {}),
    ...(obj.kind !== undefined ? { kind: obj.kind } : {}),
  };
}

/** managedFields entry that carries a trimmed workload's newest non-status write time. */
export const LAST_UPDATE_MARKER = 'kube-inspector/last-update';

/**
 * Controllers whose pods are evaluated through the controller's own pod template (a ReplicaSet's
 * or Job's, reached through the workload that runs it): their pods' specs are not kept.
 */
const TEMPLATE_CONTROLLERS: ReadonlySet<string> = new Set([
  'ReplicaSet',
  'Job',
  'StatefulSet',
  'DaemonSet',
]);

/**
 * Whether the cache keeps a pod's whole spec: a pod that is a workload of its own for the rules
 * packages (no controller, a static pod's mirror owned by its Node, a controller kube-inspector
 * has no template of). Pods of ReplicaSets, Jobs, StatefulSets and DaemonSets are evaluated
 * through their controllers' templates and stay trimmed, so the cache of a large cluster does
 * not grow with them.
 */
export function keepsPodSpec(metadata: KubeObject['metadata']): boolean {
  const owner = metadata.ownerReferences?.find((r) => r.controller === true);
  return owner === undefined || !TEMPLATE_CONTROLLERS.has(owner.kind);
}

/** Annotations too large to be worth keeping (a copy of the whole object). */
const DROPPED_ANNOTATIONS = ['kubectl.kubernetes.io/last-applied-configuration'];

/**
 * Keeps what coverage and assessments read of a pod: images, pull secrets, node, phase; and for
 * a pod that is a workload of its own (keepsPodSpec), its whole spec and its annotations, which
 * the rules packages read.
 */
export function trimPod(obj: KubeObject): KubeObject {
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const status = (obj.status ?? {}) as Record<string, unknown>;
  const { managedFields: _drop, annotations, ...metadata } = obj.metadata;
  const whole = keepsPodSpec(obj.metadata);
  const kept =
    whole && annotations !== undefined
      ? Object.fromEntries(
          Object.entries(annotations).filter(([k]) => !DROPPED_ANNOTATIONS.includes(k)),
        )
      : {};
  const containers = (list: unknown) =>
    ((list as { name?: string; image?: string }[] | undefined) ?? []).map((c) => ({
      name: c.name,
      image: c.image,
    }));
  const statuses = (list: unknown) =>
    (
      (list as
        | {
            name?: string;
            image?: string;
            imageID?: string;
            state?: { running?: unknown; waiting?: { reason?: string } };
          }[]
        | undefined) ?? []
    ).map((c) => ({
      name: c.name,
      image: c.image,
      imageID: c.imageID,
      // Running: since when; waiting: only why (a pull error makes coverage ask the registry).
      state:
        c.state?.running !== undefined
          ? { running: c.state.running }
          : c.state?.waiting?.reason !== undefined
            ? { waiting: { reason: c.state.waiting.reason } }
            : {},
    }));
  return {
    ...typeMeta(obj),
    metadata: Object.keys(kept).length > 0 ? { ...metadata, annotations: kept } : metadata,
    spec: whole
      ? spec
      : {
          nodeName: spec.nodeName,
          serviceAccountName: spec.serviceAccountName,
          imagePullSecrets: spec.imagePullSecrets,
          containers: containers(spec.containers),
          initContainers: containers(spec.initContainers),
        },
    status: {
      phase: status.phase,
      startTime: status.startTime,
      containerStatuses: statuses(status.containerStatuses),
      initContainerStatuses: statuses(status.initContainerStatuses),
    },
  };
}

function trimNode(obj: KubeObject): KubeObject {
  const status = (obj.status ?? {}) as Record<string, unknown>;
  const { managedFields: _drop, annotations: _a, ...metadata } = obj.metadata;
  return {
    ...typeMeta(obj),
    metadata,
    status: { conditions: status.conditions, nodeInfo: status.nodeInfo },
  };
}

function trimServiceAccount(obj: KubeObject): KubeObject {
  const { managedFields: _drop, annotations: _a, ...metadata } = obj.metadata;
  return {
    ...typeMeta(obj),
    metadata,
    imagePullSecrets: (obj as { imagePullSecrets?: unknown }).imagePullSecrets,
    automountServiceAccountToken: (obj as { automountServiceAccountToken?: unknown })
      .automountServiceAccountToken,
  };
}

function trimMeta(obj: KubeObject): KubeObject {
  const { managedFields: _drop, annotations: _a, ...metadata } = obj.metadata;
  return { ...typeMeta(obj), metadata };
}

const keepOwn = (obj: KubeObject): KubeObject =>
  stripManagedFields(obj, Object.values(FIELD_MANAGERS));

function cache<T>(m: Manager, resource: ResourceType): Cache<T & KubeObject> {
  return m.informer<KubeObject>(resource, { transform: keepOwn }) as unknown as Cache<
    T & KubeObject
  >;
}

export const informers = {
  scanConfigurations: (m: Manager): Cache<ScanConfiguration & KubeObject> =>
    cache<ScanConfiguration>(m, kinds.scanConfigurations),
  coveredResources: (m: Manager): Cache<CoveredResource & KubeObject> =>
    cache<CoveredResource>(m, kinds.coveredResources),
  nodeInventories: (m: Manager): Cache<NodeInventory & KubeObject> =>
    cache<NodeInventory>(m, kinds.nodeInventories),
  suppressionRules: (m: Manager): Cache<SuppressionRule & KubeObject> =>
    cache<SuppressionRule>(m, kinds.suppressionRules),
  assessmentTargets: (m: Manager): Cache<AssessmentTarget & KubeObject> =>
    cache<AssessmentTarget>(m, kinds.assessmentTargets),
  assessmentTemplates: (m: Manager): Cache<AssessmentTemplate & KubeObject> =>
    cache<AssessmentTemplate>(m, kinds.assessmentTemplates),
  assessmentRuns: (m: Manager): Cache<AssessmentRun & KubeObject> =>
    cache<AssessmentRun>(m, kinds.assessmentRuns),

  namespaces: (m: Manager): Cache => m.informer(core.namespaces, { transform: trimMeta }),
  nodes: (m: Manager): Cache => m.informer(core.nodes, { transform: trimNode }),
  pods: (m: Manager): Cache => m.informer(core.pods, { transform: trimPod }),
  serviceAccounts: (m: Manager): Cache =>
    m.informer(core.serviceAccounts, { transform: trimServiceAccount }),
  replicaSets: (m: Manager): Cache => m.informer(core.replicaSets, { transform: trimWorkload }),
  /** The workload kinds coverage and assessments read, by kind. */
  workloads: (m: Manager): Record<WorkloadKind, Cache> => ({
    Deployment: m.informer(core.deployments, { transform: trimWorkload }),
    StatefulSet: m.informer(core.statefulSets, { transform: trimWorkload }),
    DaemonSet: m.informer(core.daemonSets, { transform: trimWorkload }),
    Job: m.informer(core.jobs, { transform: trimWorkload }),
    CronJob: m.informer(core.cronJobs, { transform: trimWorkload }),
  }),
};

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob';

const BY_FINDINGS_LABEL = 'byFindingsLabel';

/**
 * The CoveredResource whose findings carry `value` in their `kubeinspector.io/covered-resource`
 * label: the one of that name, or the one whose name is too long for a label value and which
 * the value stands for (labelValueFor).
 */
export function coveredResourceOfLabel(
  cache: Cache<CoveredResource & KubeObject>,
  value: string,
): (CoveredResource & KubeObject) | undefined {
  const named = cache.get(value);
  if (named !== undefined) return named;
  cache.ensureIndexer(BY_FINDINGS_LABEL, (cr) =>
    cr.metadata.name.length > 63 ? [labelValueFor(cr.metadata.name)] : [],
  );
  return cache.byIndex(BY_FINDINGS_LABEL, value)[0];
}
