/**
 * WORKLOAD coverage: Deployments, StatefulSets, DaemonSets, Jobs (not run by a CronJob),
 * CronJobs and bare Pods, while the Workload scan type is active. A workload's pods are found
 * through ownerReferences (Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob).
 */
import { type WorkloadKind, controllerOf, podWorkload } from '../../coverage/owner.ts';
import type { CoveredResourceStatus } from '../../api/v1alpha1/covered-resource.ts';
import { repositoryFrequency } from '../../coverage/config.ts';
import { coveredResourceName } from '../../coverage/names.ts';
import { platformOf, podImages, repositoryOf } from '../../coverage/pods.ts';
import { type WorkloadImageState, workloadCoverage } from '../../coverage/rules.ts';
import type { Cache } from '../../kube/cache.ts';
import type { KubeObject } from '../../kube/resources.ts';
import type { Reconciler, Result } from '../../runtime/controller.ts';
import { requeueAt, retireOrDisable } from './common.ts';
import {
  type CoverageContext,
  LAST_UPDATE_MARKER,
  compact,
  controllerRef,
  coveredLabels,
  iso,
  parseTime,
  trimLabels,
} from './context.ts';
import { boundedMessage, scanMessageOf, scanStateOf } from './image.ts';

export type { WorkloadKind };

const API_VERSIONS: Record<WorkloadKind, string> = {
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
  Pod: 'v1',
};

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

export function workloadReconciler(ctx: CoverageContext): Reconciler {
  return {
    async reconcile(key): Promise<Result | undefined> {
      const { config } = ctx.config();
      const { namespace, kind, name } = splitWorkloadKey(key);
      const crName = coveredResourceName.workload(namespace, kind, name);
      const current = ctx.covered.get(crName);
      if (!config.scanTypes.has('Workload')) return retireOrDisable(ctx, crName, current);
      const obj =
        kind === 'Pod'
          ? ctx.pods.get(`${namespace}/${name}`)
          : ctx.workloads[kind]?.get(`${namespace}/${name}`);
      // A pod run by a known workload is covered through that workload.
      const isWorkload =
        obj !== undefined &&
        (kind !== 'Pod' || workloadOfPod(ctx, obj)?.key === key) &&
        !(kind === 'Job' && controllerRef(obj)?.kind === 'CronJob');
      if (!isWorkload) {
        if (current !== undefined) await ctx.delete(crName);
        return undefined;
      }
      const now = ctx.now();
      const ns = ctx.namespaceState(config, namespace);
      const pods = podsOf(ctx, kind, obj);
      const running = pods.some((p) => (p.status as { phase?: string })?.phase === 'Running');
      const starts = pods
        .map((p) => parseTime((p.status as { startTime?: string })?.startTime))
        .filter((t): t is number => t !== undefined);
      const scheduled =
        kind === 'CronJob'
          ? parseTime((obj.status as { lastScheduleTime?: string })?.lastScheduleTime)
          : undefined;
      const lastInvokedAt = [...starts, ...(scheduled !== undefined ? [scheduled] : [])].reduce<
        number | undefined
      >((a, b) => (a === undefined || b > a ? b : a), undefined);

      // Each container of the template: the digest its newest pod runs, and that image's state.
      const spec = templateSpec(kind, obj);
      const containers = [...(spec.containers ?? []), ...(spec.initContainers ?? [])];
      const runs = pods.flatMap((p) => podImages(p));
      const images: string[] = [];
      const states: WorkloadImageState[] = [];
      /** The first image that failed with each reason, and why. */
      const failures = new Map<string, string>();
      let runtime: string | undefined;
      for (const c of containers) {
        const seen = runs
          .filter((r) => r.container === c.name)
          .sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0))[0];
        const repo = seen?.repository ?? repositoryOf(c.image ?? '');
        if (repo !== undefined && repositoryFrequency(config.rules, repo) === 'MANUAL') {
          states.push('manual');
          images.push(seen?.key ?? c.image ?? '');
          continue;
        }
        if (seen === undefined) {
          states.push('pending');
          images.push(c.image ?? '');
          continue;
        }
        images.push(seen.key);
        const record = ctx.scans.get(seen.digest);
        const imageCovered = ctx.covered.get(
          coveredResourceName.image(seen.repository, seen.digest),
        );
        const { state } = scanStateOf(ctx, seen.digest, imageCovered);
        if (state !== 'pending' && state !== 'inventory' && !failures.has(state)) {
          const why = scanMessageOf(ctx, seen.digest, imageCovered);
          failures.set(state, `image ${seen.key}: ${why ?? state}`);
        }
        if (record?.outcome.status === 'inventory') {
          const inv = record.outcome.inventory;
          runtime ??= platformOf(inv.os);
          if (inv.os?.supported === false && inv.packages.length === 0) {
            states.push('unsupported-inventory');
            continue;
          }
        }
        states.push(state);
      }
      const d = workloadCoverage(
        {
          namespaceActivated: ns.selected,
          excluded: ns.excluded || Object.hasOwn(obj.metadata.labels ?? {}, config.exclusionLabel),
          running,
          lastUpdatedAt: lastUpdated(obj),
          lastInvokedAt,
          images: states,
        },
        config,
        now,
      );
      const status: CoveredResourceStatus = compact({
        resourceType: 'WORKLOAD',
        resourceId: key.slice(0, 1024),
        resource: compact({
          apiVersion: API_VERSIONS[kind],
          kind,
          namespace,
          name,
          uid: obj.metadata.uid,
        }),
        resourceLabels: trimLabels(obj.metadata.labels),
        scanStatus: compact({
          statusCode: d.statusCode,
          reason: d.reason,
          message: boundedMessage(failures.get(d.reason)),
        }),
        scanType: 'PACKAGE',
        scanMode: 'AGENTLESS',
        lastScannedAt: newestScan(ctx, runs) ?? current?.status?.lastScannedAt,
        workload: compact({
          kind,
          runtime: runtime ?? current?.status?.workload?.runtime,
          images:
            images.length > 0
              ? [...new Set(images)].slice(0, 64).map((i) => i.slice(0, 1024))
              : undefined,
          lastInvokedAt: iso(lastInvokedAt),
          lastUpdatedAt: iso(lastUpdated(obj)),
        }),
      });
      await ctx.write(crName, coveredLabels(status, namespace), status);
      return requeueAt(d.deadline, now);
    },
  };
}

function newestScan(ctx: CoverageContext, runs: readonly { digest: string }[]): string | undefined {
  let newest: number | undefined;
  for (const r of runs) {
    const t = ctx.scans.get(r.digest)?.scannedAt.getTime();
    if (t !== undefined && (newest === undefined || t > newest)) newest = t;
  }
  return iso(newest);
}
