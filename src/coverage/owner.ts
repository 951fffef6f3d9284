/**
 * Which workload owns a pod: the one answer coverage and assessments both use. Pure: the caller
 * passes the pod's controller reference and a lookup of the controller of a ReplicaSet or Job.
 *
 * The workload kinds are the ones the product covers (Deployment, StatefulSet, DaemonSet, Job,
 * CronJob, bare Pod). A pod's controller chain is followed up through a ReplicaSet (to its
 * Deployment) and a Job (to its CronJob); a chain that leaves the known kinds anywhere (a
 * ReplicaSet without a Deployment, a ReplicaSet or pod run by a controller kube-inspector does
 * not know) makes the pod a workload of its own, so no pod escapes coverage and no workload has
 * a kind the product does not describe. A Job run by an unknown controller stays a Job.
 */

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob' | 'Pod';

/** The controller (ownerReference with controller=true) of an object. */
export interface ControllerRef {
  kind: string;
  name: string;
}

/**
 * The controller of the named ReplicaSet or Job in the pod's namespace: `missing` while the
 * object is not known (not cached yet, or gone), undefined when it has no controller.
 */
export type ControllerLookup = (
  kind: 'ReplicaSet' | 'Job',
  name: string,
) => ControllerRef | undefined | 'missing';

export interface PodWorkload {
  kind: WorkloadKind;
  name: string;
}

/**
 * The workload of a pod, or undefined while an object of its chain is not known yet (the
 * object's own event brings the pod back).
 */
export function podWorkload(
  pod: { name: string; controller: ControllerRef | undefined },
  controllerOf: ControllerLookup,
): PodWorkload | undefined {
  const self: PodWorkload = { kind: 'Pod', name: pod.name };
  const owner = pod.controller;
  if (owner === undefined) return self;
  switch (owner.kind) {
    case 'StatefulSet':
    case 'DaemonSet':
      return { kind: owner.kind, name: owner.name };
    case 'ReplicaSet': {
      const up = controllerOf('ReplicaSet', owner.name);
      if (up === 'missing') return undefined;
      return up?.kind === 'Deployment' ? { kind: 'Deployment', name: up.name } : self;
    }
    case 'Job': {
      const up = controllerOf('Job', owner.name);
      if (up === 'missing') return undefined;
      return up?.kind === 'CronJob'
        ? { kind: 'CronJob', name: up.name }
        : { kind: 'Job', name: owner.name };
    }
    default:
      return self;
  }
}

/** The controller reference of an object's metadata, as podWorkload reads it. */
export function controllerOf(metadata: {
  ownerReferences?: readonly { kind: string; name: string; controller?: boolean | undefined }[];
}): ControllerRef | undefined {
  const ref = metadata.ownerReferences?.find((r) => r.controller === true);
  return ref === undefined ? undefined : { kind: ref.kind, name: ref.name };
}
