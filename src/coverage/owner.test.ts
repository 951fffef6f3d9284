import { describe, expect, it } from 'vitest';
import {
  type ControllerLookup,
  type ControllerRef,
  type PodWorkload,
  controllerOf,
  podWorkload,
} from './owner.ts';

/** ReplicaSets and Jobs of the namespace, with their controllers (undefined: none). */
const cluster: Record<string, ControllerRef | undefined> = {
  'ReplicaSet/web-7d9f': { kind: 'Deployment', name: 'web' },
  'ReplicaSet/bare': undefined,
  'ReplicaSet/rollout-5c': { kind: 'Rollout', name: 'canary' },
  'Job/nightly-2900': { kind: 'CronJob', name: 'nightly' },
  'Job/migrate': undefined,
  'Job/queued': { kind: 'Workload', name: 'batch-1' },
};
const lookup: ControllerLookup = (kind, name) => {
  const k = `${kind}/${name}`;
  return Object.hasOwn(cluster, k) ? cluster[k] : 'missing';
};

const cases: [string, ControllerRef | undefined, PodWorkload | undefined][] = [
  ['a bare pod is its own workload', undefined, { kind: 'Pod', name: 'p' }],
  [
    'a pod of a Deployment belongs to the Deployment, through its ReplicaSet',
    { kind: 'ReplicaSet', name: 'web-7d9f' },
    { kind: 'Deployment', name: 'web' },
  ],
  [
    'a pod of a ReplicaSet without a Deployment is its own workload',
    { kind: 'ReplicaSet', name: 'bare' },
    { kind: 'Pod', name: 'p' },
  ],
  [
    'a pod of a ReplicaSet run by an unknown controller is its own workload',
    { kind: 'ReplicaSet', name: 'rollout-5c' },
    { kind: 'Pod', name: 'p' },
  ],
  [
    'a pod of a StatefulSet belongs to it',
    { kind: 'StatefulSet', name: 'db' },
    { kind: 'StatefulSet', name: 'db' },
  ],
  [
    'a pod of a DaemonSet belongs to it',
    { kind: 'DaemonSet', name: 'agent' },
    { kind: 'DaemonSet', name: 'agent' },
  ],
  [
    'a pod of a Job of a CronJob belongs to the CronJob',
    { kind: 'Job', name: 'nightly-2900' },
    { kind: 'CronJob', name: 'nightly' },
  ],
  [
    'a pod of a Job on its own belongs to the Job',
    { kind: 'Job', name: 'migrate' },
    { kind: 'Job', name: 'migrate' },
  ],
  [
    'a pod of a Job run by an unknown controller belongs to the Job',
    { kind: 'Job', name: 'queued' },
    { kind: 'Job', name: 'queued' },
  ],
  [
    'a pod run by an unknown controller kind is its own workload',
    { kind: 'Workflow', name: 'build-42' },
    { kind: 'Pod', name: 'p' },
  ],
  [
    'a pod whose ReplicaSet is not known yet has no answer yet',
    { kind: 'ReplicaSet', name: 'not-cached' },
    undefined,
  ],
  [
    'a pod whose Job is not known yet has no answer yet',
    { kind: 'Job', name: 'not-cached' },
    undefined,
  ],
];

describe('which workload owns a pod', () => {
  it.each(cases)('%s', (_, controller, expected) => {
    expect(podWorkload({ name: 'p', controller }, lookup)).toEqual(expected);
  });
});

describe('the controller of an object', () => {
  it('is the owner reference marked controller, not any owner', () => {
    expect(
      controllerOf({
        ownerReferences: [
          { kind: 'ConfigMap', name: 'x' },
          { kind: 'ReplicaSet', name: 'web-7d9f', controller: true },
        ],
      }),
    ).toEqual({ kind: 'ReplicaSet', name: 'web-7d9f' });
    expect(
      controllerOf({ ownerReferences: [{ kind: 'ReplicaSet', name: 'a', controller: false }] }),
    ).toBeUndefined();
    expect(controllerOf({})).toBeUndefined();
  });
});
