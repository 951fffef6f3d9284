/**
 * WORKLOAD coverage: Deployments, StatefulSets, DaemonSets, Jobs (not run by a CronJob),
 * CronJobs and bare Pods, while the Workload scan type is active. A workload's pods are found
 * through ownerReferences (Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob).
 *
 * A reconcile reads the facts from the caches (`workloadObservation`), asks the pure decisions
 * (`decideWorkload` in src/coverage/workload.ts; with the WorkloadCode scan type also
 * `decideWorkloadCode` in src/coverage/workload-code.ts, for the workload's second
 * CoveredResource, of scan type CODE) and writes each status that changed.
 */
import type { CoverageConfig } from '../../coverage/config.ts';
import { coveredResourceName } from '../../coverage/names.ts';
import { type WorkloadKind, controllerOf, podWorkload } from '../../coverage/owner.ts';
import { podImages } from '../../coverage/pods.ts';
import { earliest } from '../../coverage/rules.ts';
import { codeExclusionLabel, decideWorkloadCode } from '../../coverage/workload-code.ts';
import {
  type WorkloadImageScan,
  type WorkloadObservation,
  decideWorkload,
} from '../../coverage/workload.ts';
import type { Cache } from '../../kube/cache.ts';
import type { KubeObject } from '../../kube/resources.ts';
import type { Reconciler, Result } from '../../runtime/controller.ts';
import { podCredentials, pullSecretNames } from '../pull-secrets.ts';
import { requeueAt, retireOrDisable } from './common.ts';
import {
  type CoverageContext,
  type Covered,
  LAST_UPDATE_MARKER,
  controllerRef,
  coveredLabels,
  parseTime,
} from './context.ts';
import { scanResultOf } from './image.ts';

export type { WorkloadKind };

export interface WorkloadRef {
  namespace: string;
  kind: WorkloadKind;
  name: string;
  key: string;
  object: KubeObject | undefined;
}

function ref(
  namespace: string,
  kind: WorkloadKind,
  name: string,
  object: KubeObject | undefined,
): WorkloadRef {
  return { namespace, kind, name, key: `${namespace}/${kind}/${name}`, object };
}

export function splitWorkloadKey(key: string): {
  namespace: string;
  kind: WorkloadKind;
  name: string;
} {
  const [namespace, kind, ...rest] = key.split('/');
  return { namespace: namespace!, kind: kind as WorkloadKind, name: rest.join('/') };
}

/**
 * The workload a pod belongs to (src/coverage/owner.ts decides, for coverage and assessments
 * alike); undefined while its ReplicaSet or Job is not cached yet (that object's own event
 * requeues the workload).
 */
export function workloadOfPod(ctx: CoverageContext, pod: KubeObject): WorkloadRef | undefined {
  const ns = pod.metadata.namespace!;
  const owner = podWorkload(
    { name: pod.metadata.name, controller: controllerOf(pod.metadata) },
    (kind, name) => {
      const obj = (kind === 'ReplicaSet' ? ctx.replicaSets : ctx.jobs).get(`${ns}/${name}`);
      return obj === undefined ? 'missing' : controllerOf(obj.metadata);
    },
  );
  if (owner === undefined) return undefined;
  const object =
    owner.kind === 'Pod'
      ? pod
      : owner.kind === 'Job'
        ? ctx.jobs.get(`${ns}/${owner.name}`)
        : ctx.workloads[owner.kind].get(`${ns}/${owner.name}`);
  return ref(ns, owner.kind, owner.name, object);
}

/**
 * The key of the workload an object of a cache belongs to: a ReplicaSet to its Deployment (none
 * without one), a Job to its CronJob when a CronJob runs it, any other workload to itself. The
 * kind comes from the cache: objects of a list carry no `kind`.
 */
export function workloadKeyOf(
  kind: WorkloadKind | 'ReplicaSet',
  obj: KubeObject,
): string | undefined {
  const ns = obj.metadata.namespace!;
  const up = controllerRef(obj);
  if (kind === 'ReplicaSet')
    return up?.kind === 'Deployment' ? `${ns}/Deployment/${up.name}` : undefined;
  if (kind === 'Job' && up?.kind === 'CronJob') return `${ns}/CronJob/${up.name}`;
  return `${ns}/${kind}/${obj.metadata.name}`;
}

function podsOf(ctx: CoverageContext, kind: WorkloadKind, obj: KubeObject): KubeObject[] {
  const byOwner = (c: Cache, uid: string | undefined) => (uid ? c.byIndex('byOwnerUid', uid) : []);
  switch (kind) {
    case 'Pod':
      return [obj];
    case 'Deployment':
      return byOwner(ctx.replicaSets, obj.metadata.uid).flatMap((rs) =>
        byOwner(ctx.pods, rs.metadata.uid),
      );
    case 'CronJob':
      return byOwner(ctx.jobs, obj.metadata.uid).flatMap((j) => byOwner(ctx.pods, j.metadata.uid));
    default:
      return byOwner(ctx.pods, obj.metadata.uid);
  }
}

interface PodSpecLike {
  containers?: { name?: string; image?: string }[];
  initContainers?: { name?: string; image?: string }[];
}

function templateSpec(kind: WorkloadKind, obj: KubeObject): PodSpecLike {
  const spec = (obj.spec ?? {}) as {
    template?: { spec?: PodSpecLike };
    jobTemplate?: { spec?: { template?: { spec?: PodSpecLike } } };
  } & PodSpecLike;
  if (kind === 'Pod') return spec;
  if (kind === 'CronJob') return spec.jobTemplate?.spec?.template?.spec ?? {};
  return spec.template?.spec ?? {};
}

function lastUpdated(obj: KubeObject): number {
  const marker = obj.metadata.managedFields?.find((m) => m.manager === LAST_UPDATE_MARKER);
  return parseTime(marker?.time) ?? parseTime(obj.metadata.creationTimestamp) ?? 0;
}

/** Waiting reasons of a container whose image the kubelet could not pull from its registry. */
const PULL_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff']);

/**
 * Containers of the workload's pods that the kubelet could not pull and that no pod runs: the
 * scan service checks whether the registry serves their image with each pod's pull secrets
 * (the workload is reconciled again when a check ends). By container: why it refused.
 */
function pullDenied(
  ctx: CoverageContext,
  key: string,
  pods: readonly KubeObject[],
  running: ReadonlySet<string>,
): Map<string, string> {
  const denied = new Map<string, string>();
  for (const pod of pods) {
    const status = pod.status as
      | { containerStatuses?: ContainerStatusLike[]; initContainerStatuses?: ContainerStatusLike[] }
      | undefined;
    const spec = (pod.spec ?? {}) as PodSpecLike;
    const images = new Map(
      [...(spec.containers ?? []), ...(spec.initContainers ?? [])].map((c) => [c.name, c.image]),
    );
    for (const s of [
      ...(status?.containerStatuses ?? []),
      ...(status?.initContainerStatuses ?? []),
    ]) {
      const name = s.name ?? '';
      const image = images.get(name);
      if (image === undefined || running.has(name) || denied.has(name)) continue;
      if (!PULL_FAILURES.has(s.state?.waiting?.reason ?? '')) continue;
      const sources = pullSecretNames(pod, ctx.serviceAccounts)
        .map((n) => `${pod.metadata.namespace}/${n}`)
        .join(',');
      const check = ctx.scans.checkPull({
        reference: image,
        credentialSources: sources,
        credentials: () => podCredentials(ctx.deps.manager.client, ctx.serviceAccounts, pod),
        onDone: () => ctx.enqueueWorkload(key),
      });
      if (check?.outcome.status === 'failed' && check.outcome.reason === 'ACCESS_DENIED') {
        denied.set(name, check.outcome.message);
      }
    }
  }
  return denied;
}

interface ContainerStatusLike {
  name?: string;
  state?: { waiting?: { reason?: string } };
}

/** The facts of one workload, read from the caches and the scan service. */
function workloadObservation(
  ctx: CoverageContext,
  config: CoverageConfig,
  key: string,
  obj: KubeObject,
  current: Covered | undefined,
): WorkloadObservation {
  const { namespace, kind, name } = splitWorkloadKey(key);
  const namespaceState = ctx.namespaceState(config, namespace);
  const pods = podsOf(ctx, kind, obj);
  const spec = templateSpec(kind, obj);
  const runs = pods.flatMap((p) => podImages(p));
  const scans = new Map<string, WorkloadImageScan>();
  for (const r of runs) {
    scans.set(r.key, {
      result: scanResultOf(ctx, r.digest),
      previous: ctx.covered.get(coveredResourceName.image(r.repository, r.digest))?.status,
    });
  }
  return {
    kind,
    namespace,
    name,
    uid: obj.metadata.uid,
    labels: obj.metadata.labels,
    namespaceState,
    lastUpdatedAt: lastUpdated(obj),
    pods: pods.map((p) => {
      const st = p.status as { phase?: string; startTime?: string } | undefined;
      return { running: st?.phase === 'Running', startedAt: parseTime(st?.startTime) };
    }),
    lastScheduledAt:
      kind === 'CronJob'
        ? parseTime((obj.status as { lastScheduleTime?: string })?.lastScheduleTime)
        : undefined,
    containers: [...(spec.containers ?? []), ...(spec.initContainers ?? [])],
    runs,
    scans,
    // Registries are asked only about workloads coverage scans.
    pullDenied:
      namespaceState.selected && !namespaceState.excluded
        ? pullDenied(ctx, key, pods, new Set(runs.map((r) => r.container)))
        : undefined,
    previous: current?.status,
  };
}

/**
 * The workload a key names, when it is one coverage covers: not a pod run by a known
 * workload (covered through that workload), not a Job run by a CronJob.
 */
function coveredWorkload(ctx: CoverageContext, key: string): KubeObject | undefined {
  const { namespace, kind, name } = splitWorkloadKey(key);
  const obj =
    kind === 'Pod'
      ? ctx.pods.get(`${namespace}/${name}`)
      : ctx.workloads[kind]?.get(`${namespace}/${name}`);
  if (obj === undefined) return undefined;
  if (kind === 'Pod' && workloadOfPod(ctx, obj)?.key !== key) return undefined;
  if (kind === 'Job' && controllerRef(obj)?.kind === 'CronJob') return undefined;
  return obj;
}

/**
 * The workload's code-scanning coverage (WorkloadCode), from the observation its package
 * coverage was decided from: written only when it changes, like every CoveredResource.
 */
async function reconcileCode(
  ctx: CoverageContext,
  config: CoverageConfig,
  crName: string,
  observation: WorkloadObservation,
  now: number,
): Promise<number | undefined> {
  const current = ctx.covered.get(crName);
  const nsLabels = ctx.namespaces.get(observation.namespace)?.metadata.labels ?? {};
  const { coverage, status } = decideWorkloadCode(
    {
      workload: observation,
      imageScanning: config.scanTypes.has('Image'),
      namespaceCodeExcluded: Object.hasOwn(nsLabels, codeExclusionLabel(config)),
      previous: current?.status,
    },
    config,
    now,
  );
  await ctx.write(crName, coveredLabels(status, observation.namespace), status);
  return coverage.deadline;
}

export function workloadReconciler(ctx: CoverageContext): Reconciler {
  return {
    async reconcile(key): Promise<Result | undefined> {
      const { config } = ctx.config();
      const { namespace, kind, name } = splitWorkloadKey(key);
      const crName = coveredResourceName.workload(namespace, kind, name);
      const codeName = coveredResourceName.workloadCode(namespace, kind, name);
      const current = ctx.covered.get(crName);
      const packages = config.scanTypes.has('Workload');
      const code = config.scanTypes.has('WorkloadCode');
      // A scan type switched off: its objects wait for their findings to go, then go.
      if (!packages) await retireOrDisable(ctx, crName, current);
      if (!code) await retireOrDisable(ctx, codeName, ctx.covered.get(codeName));
      if (!packages && !code) return undefined;
      const obj = coveredWorkload(ctx, key);
      if (obj === undefined) {
        for (const n of [crName, codeName])
          if (ctx.covered.get(n) !== undefined) await ctx.delete(n);
        return undefined;
      }
      const now = ctx.now();
      const observation = workloadObservation(ctx, config, key, obj, current);
      let deadline: number | undefined;
      if (packages) {
        const { coverage, status } = decideWorkload(observation, config, now);
        await ctx.write(crName, coveredLabels(status, namespace), status);
        deadline = coverage.deadline;
      }
      if (code) {
        const at = await reconcileCode(ctx, config, codeName, observation, now);
        deadline = earliest(now, deadline, at);
      }
      return requeueAt(deadline, now);
    },
  };
}
