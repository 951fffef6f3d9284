// A workload whose pods cannot pull their image (the registry wants credentials the pods do
// not have) reports no digest, so there is nothing to scan. Coverage asks the registry for the
// image's manifest with the pods' pull secrets: refused, the workload is ACCESS_DENIED with the
// registry's answer; once the pods' service account names a pull secret that works, the
// workload waits for its pods again, and is SUCCESSFUL once they run the image.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoveredResource } from '../../src/api/v1alpha1/covered-resource.ts';
import { setupCoverage } from '../../src/controllers/coverage/index.ts';
import { kinds } from '../../src/controllers/informers.ts';
import { coveredResourceName } from '../../src/coverage/names.ts';
import { isNotFound, KubeClient } from '../../src/kube/client.ts';
import { collectionPath, core, type KubeObject, objectPath } from '../../src/kube/resources.ts';
import {
  type TestRegistry,
  type TokenFront,
  startRegistry,
  startTokenFront,
} from '../support/registry.ts';
import {
  type ContainerSpec,
  type PushedImage,
  MINUTE,
  Writer,
  createWorkload,
  kubeletPodStatus,
  namespaceObject,
  podObject,
  pullSecret,
  push,
  randomHex,
  testImage,
} from './coverage-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

const NAMESPACE = 'apps';
const USER = 'puller';
const PASSWORD = 'pull-password';

type Covered = CoveredResource & KubeObject;

describe('a workload whose pods cannot pull their image', () => {
  let env: ProductEnvironment;
  let registry: TestRegistry;
  let front: TokenFront;
  let controller: RunningController;
  let w: Writer;
  let image: PushedImage;
  let pod: KubeObject;
  const workloadName = coveredResourceName.workload(NAMESPACE, 'Deployment', 'locked');

  const workloadWhen = (what: string, check: (cr: Covered) => boolean): Promise<Covered> =>
    eventually(
      what,
      async () => {
        try {
          const cr = await env.client.get<Covered>(
            objectPath(kinds.coveredResources, workloadName),
          );
          return check(cr) ? cr : undefined;
        } catch (err) {
          if (isNotFound(err)) return undefined;
          throw err;
        }
      },
      120_000,
    );

  beforeAll(async () => {
    env = await startProductEnvironment();
    registry = await startRegistry();
    front = await startTokenFront(registry, { username: USER, password: PASSWORD });
    w = new Writer(await KubeClient.create(env.kubeConfig, { qps: 0 }));
    image = await push(
      registry.url,
      front.host,
      'private/locked',
      '1.0',
      testImage('debian', 'locked'),
    );
    controller = await startController(env, {
      setups: [setupCoverage],
      insecureRegistries: [registry.host, front.host],
    });
    await env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: {},
    });
    await w.create(core.namespaces, namespaceObject(NAMESPACE));
    await w.create(core.serviceAccounts, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'builder', namespace: NAMESPACE },
    });
    await w.create(core.secrets, pullSecret(NAMESPACE, 'regcred', front.host, USER, PASSWORD));
    const containers: ContainerSpec[] = [{ name: 'app', image }];
    const options = { serviceAccountName: 'builder' };
    const deployment = await createWorkload(
      w,
      'Deployment',
      NAMESPACE,
      'locked',
      containers,
      options,
    );
    const replicaSet = await createWorkload(
      w,
      'ReplicaSet',
      NAMESPACE,
      'locked-5d8f9c7b6',
      containers,
      {
        ...options,
        labels: { app: 'locked' },
        owner: deployment,
      },
    );
    const created = await w.create(
      core.pods,
      podObject(NAMESPACE, `locked-${randomHex().slice(0, 5)}`, 'node-a', containers, {
        ...options,
        labels: { app: 'locked' },
        owner: replicaSet,
      }),
    );
    // What the kubelet reports when the registry refused the pull: no digest, a pull error.
    pod = await w.setStatus(
      core.pods,
      created,
      {
        phase: 'Pending',
        startTime: new Date(Date.now() - MINUTE).toISOString(),
        containerStatuses: [
          {
            name: 'app',
            image: image.reference,
            imageID: '',
            ready: false,
            restartCount: 0,
            started: false,
            state: {
              waiting: {
                reason: 'ErrImagePull',
                message: `failed to pull and unpack image "${image.reference}": 401 Unauthorized`,
              },
            },
          },
        ],
      },
      'kubelet',
    );
  }, 180_000);

  afterAll(async () => {
    await controller?.stop();
    await w?.client.close();
    await front?.stop();
    await registry?.stop();
    await env?.stop();
  });

  it('is ACCESS_DENIED with what the registry answered, naming the image', async () => {
    const cr = await workloadWhen(
      'the workload to be ACCESS_DENIED',
      (c) => c.status?.scanStatus.reason === 'ACCESS_DENIED',
    );
    expect(cr.status?.scanStatus.statusCode).toBe('INACTIVE');
    expect(cr.status?.scanStatus.message).toMatch(
      new RegExp(`^image ${image.reference.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*`),
    );
    expect(cr.status?.workload?.images).toEqual([image.reference]);
    // No pod reported a digest: there is no image to cover.
    const images = await env.client.get<{ items: Covered[] }>(
      collectionPath(kinds.coveredResources),
    );
    expect(images.items.filter((c) => c.status?.resourceType === 'CONTAINER_IMAGE')).toEqual([]);
  });

  it('waits for its pods again once their service account names a working pull secret, then is SUCCESSFUL when they run the image', async () => {
    await w.apply(
      core.serviceAccounts,
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'builder', namespace: NAMESPACE },
        imagePullSecrets: [{ name: 'regcred' }],
      },
      'kubectl',
    );
    await workloadWhen(
      'the workload to wait for its image',
      (c) => c.status?.scanStatus.reason === 'PENDING_INITIAL_SCAN',
    );
    await w.setStatus(
      core.pods,
      pod,
      kubeletPodStatus([{ name: 'app', image }], 'Running', Date.now()),
      'kubelet',
    );
    const cr = await workloadWhen(
      'the workload to be SUCCESSFUL',
      (c) => c.status?.scanStatus.reason === 'SUCCESSFUL',
    );
    expect(cr.status?.scanStatus.message).toBeUndefined();
    expect(cr.status?.workload?.images).toEqual([image.imageID]);
  });
});
