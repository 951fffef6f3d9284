// Proof that the harness runs a real control plane: custom resources are
// served, watches stream events, the real garbage collector removes dependents
// and the real namespace controller finalizes namespaces.
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  VersionApi,
  Watch,
} from '@kubernetes/client-node';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createNamespace,
  eventually,
  installCrd,
  kubeConfig,
  kubectl,
  statusCode,
  testCrd,
  uniqueName,
} from './helpers.ts';

const group = 'harness.kubeinspector.io';

function widgetCrd(plural: string, kind: string) {
  return testCrd(group, plural, kind, {
    spec: {
      required: ['size'],
      properties: { size: { type: 'integer', minimum: 1, maximum: 10 } },
    },
    status: { properties: { seen: { type: 'boolean' } } },
  });
}

async function absent(read: () => Promise<unknown>): Promise<true | undefined> {
  try {
    await read();
    return undefined;
  } catch (err) {
    if (statusCode(err) === 404) return true;
    throw err;
  }
}

describe('the control plane', () => {
  let kc: KubeConfig;
  beforeAll(() => {
    kc = kubeConfig();
  });

  it('is a Kubernetes 1.36 API server reached over TLS with a client certificate', async () => {
    const info = await kc.makeApiClient(VersionApi).getCode();
    if (inject('ownedControlPlane')) expect(info.gitVersion).toMatch(/^v1\.36\.\d+$/);
    expect(kc.getCurrentCluster()?.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const whoami = await kubectl('auth', 'whoami', '-o', 'json');
    const review = JSON.parse(whoami) as { status: { userInfo: { groups: string[] } } };
    expect(review.status.userInfo.groups).toContain('system:masters');
  });

  it('installs a CRD, serves its resources and validates them with the schema', async () => {
    const plural = `widgets${uniqueName('x').slice(2)}`;
    await installCrd(widgetCrd(plural, 'Widget'));
    const ns = await createNamespace(kc, 'crd');
    const api = kc.makeApiClient(CustomObjectsApi);
    const resource = { group, version: 'v1', namespace: ns, plural };

    await api.createNamespacedCustomObject({
      ...resource,
      body: {
        apiVersion: `${group}/v1`,
        kind: 'Widget',
        metadata: { name: 'small' },
        spec: { size: 3 },
      },
    });
    const got = (await api.getNamespacedCustomObject({ ...resource, name: 'small' })) as {
      spec: { size: number };
      metadata: { uid: string };
    };
    expect(got.spec.size).toBe(3);
    expect(got.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);

    // The API server enforces the schema: size above the maximum is refused and named.
    const refused = await api
      .createNamespacedCustomObject({
        ...resource,
        body: {
          apiVersion: `${group}/v1`,
          kind: 'Widget',
          metadata: { name: 'big' },
          spec: { size: 11 },
        },
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(statusCode(refused)).toBe(422);
    expect(String((refused as { body?: unknown }).body)).toContain('spec.size');

    // kubectl sees the same object.
    const listed = await kubectl(
      'get',
      `${plural}.${group}`,
      '-n',
      ns,
      '-o',
      'jsonpath={.items[*].metadata.name}',
    );
    expect(listed).toBe('small');
  });

  it('streams watch events for creates, updates and deletes', async () => {
    const ns = await createNamespace(kc, 'watch');
    const core = kc.makeApiClient(CoreV1Api);
    const events: string[] = [];
    const watch = new Watch(kc);
    let ended: unknown = null;
    const controller = await watch.watch(
      `/api/v1/namespaces/${ns}/configmaps`,
      { allowWatchBookmarks: true },
      (type: string, obj: { metadata?: { name?: string }; data?: Record<string, string> }) => {
        if (type !== 'BOOKMARK')
          events.push(`${type} ${obj.metadata?.name} ${obj.data?.k ?? ''}`.trim());
      },
      (err: unknown) => {
        ended = err;
      },
    );
    try {
      await core.createNamespacedConfigMap({
        namespace: ns,
        body: { metadata: { name: 'one' }, data: { k: 'a' } },
      });
      await core.patchNamespacedConfigMap({
        namespace: ns,
        name: 'one',
        body: [{ op: 'replace', path: '/data/k', value: 'b' }],
      });
      await core.deleteNamespacedConfigMap({ namespace: ns, name: 'one' });
      await eventually(
        'three watch events',
        () => Promise.resolve(events.length >= 3 ? true : undefined),
        20_000,
      );
      expect(events).toEqual(['ADDED one a', 'MODIFIED one b', 'DELETED one b']);
      expect(ended).toBeNull();
    } finally {
      controller.abort();
    }
  });

  it('runs the real garbage collector: deleting an owner removes its dependents', async () => {
    const ns = await createNamespace(kc, 'gc');
    const core = kc.makeApiClient(CoreV1Api);
    const owner = await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'owner' } },
    });
    const ownerReferences = [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        name: 'owner',
        uid: owner.metadata!.uid!,
        blockOwnerDeletion: true,
      },
    ];
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'dependent-a', ownerReferences } },
    });
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'dependent-b', ownerReferences } },
    });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'unrelated' } },
    });

    await core.deleteNamespacedConfigMap({
      namespace: ns,
      name: 'owner',
      propagationPolicy: 'Background',
    });

    await eventually('dependent-a to be collected', () =>
      absent(() => core.readNamespacedConfigMap({ namespace: ns, name: 'dependent-a' })),
    );
    await eventually('dependent-b to be collected', () =>
      absent(() => core.readNamespacedSecret({ namespace: ns, name: 'dependent-b' })),
    );
    const left = await core.readNamespacedConfigMap({ namespace: ns, name: 'unrelated' });
    expect(left.metadata?.name).toBe('unrelated');
  });

  it('collects custom resources owned by a deleted object, with foreground deletion', async () => {
    const plural = `gadgets${uniqueName('x').slice(2)}`;
    await installCrd(widgetCrd(plural, 'Gadget'));
    const ns = await createNamespace(kc, 'gccr');
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const owner = await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'owner' } },
    });
    await custom.createNamespacedCustomObject({
      group,
      version: 'v1',
      namespace: ns,
      plural,
      body: {
        apiVersion: `${group}/v1`,
        kind: 'Gadget',
        metadata: {
          name: 'child',
          ownerReferences: [
            {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              name: 'owner',
              uid: owner.metadata!.uid!,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: { size: 1 },
      },
    });

    // Foreground: the owner stays (with the foregroundDeletion finalizer) until the child is gone.
    await core.deleteNamespacedConfigMap({
      namespace: ns,
      name: 'owner',
      propagationPolicy: 'Foreground',
    });
    // The collector rereads discovery every 30 s, so a CRD made seconds ago can take that long.
    await eventually(
      'the custom resource to be collected',
      () =>
        absent(() =>
          custom.getNamespacedCustomObject({
            group,
            version: 'v1',
            namespace: ns,
            plural,
            name: 'child',
          }),
        ),
      90_000,
    );
    await eventually('the owner to be deleted after its dependent', () =>
      absent(() => core.readNamespacedConfigMap({ namespace: ns, name: 'owner' })),
    );
  });

  it('runs the real namespace controller: a deleted namespace is emptied and finalized', async () => {
    const ns = await createNamespace(kc, 'finalize');
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'content' } },
    });
    const created = await core.readNamespace({ name: ns });
    expect(created.spec?.finalizers).toContain('kubernetes');

    await core.deleteNamespace({ name: ns });
    const terminating = await core.readNamespace({ name: ns }).catch(() => undefined);
    if (terminating) expect(terminating.status?.phase).toBe('Terminating');

    await eventually(`namespace ${ns} to be finalized and removed`, () =>
      absent(() => core.readNamespace({ name: ns })),
    );
  });
});
