// Least privilege of the node agent on the real API server: the RBAC of manifests/agent and
// the ValidatingAdmissionPolicy that keeps each agent to its own node's NodeInventory, with
// service account tokens issued by the TokenRequest API bound to Pods on two different nodes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeInventory } from '../../src/agent/agent.ts';
import { inventoryStatus } from '../../src/agent/inventory.ts';
import { realisticDebianPackages } from '../../src/agent/testing.ts';
import { ApiError, type KubeClient } from '../../src/kube/client.ts';
import { operatingSystem } from '../../src/scanner/analyzers/os-release.ts';
import { agentToken, applyAgentManifests, nodeWithAgentPod, tokenClient } from './agent-support.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

const status = (node: string, packages = 3) =>
  inventoryStatus(
    {
      os: operatingSystem({ ID: 'debian', VERSION_ID: '12' })!,
      packages: realisticDebianPackages(packages),
      kernelVersion: '6.1.0-28-amd64',
      architecture: 'amd64',
      errors: [],
      durationMs: 5,
    },
    { nodeName: node, agentVersion: '0.0.0-test', collectedAt: new Date(), packageLimit: 5000 },
  );

interface PodSpec {
  tolerations: unknown[];
  hostNetwork?: boolean;
  hostPID?: boolean;
  volumes: { name: string; hostPath?: { path: string } }[];
  containers: {
    securityContext: Record<string, unknown> & {
      capabilities: { drop?: string[]; add?: string[] };
    };
    volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
    env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
    livenessProbe?: { httpGet?: { path: string } };
    resources: { requests?: unknown; limits?: unknown };
  }[];
}

async function refusal(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('the request was allowed');
}

describe('node agent: least privilege', () => {
  let env: ProductEnvironment;
  let controller: RunningController | undefined;
  const clients: KubeClient[] = [];
  let a: KubeClient;
  let b: KubeClient;
  let aToken: string;

  beforeAll(async () => {
    env = await startProductEnvironment();
    // The findings API, served (so that a refused finding write is the API's own refusal).
    controller = await startController(env, { setups: [] });
    await applyAgentManifests(env);
    const aUid = await nodeWithAgentPod(env, 'node-a');
    const bUid = await nodeWithAgentPod(env, 'node-b');
    aToken = await agentToken(env, { name: 'agent-node-a', uid: aUid });
    a = await tokenClient(env, aToken);
    b = await tokenClient(env, await agentToken(env, { name: 'agent-node-b', uid: bUid }));
    clients.push(a, b);
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await controller?.stop();
    await env?.stop();
  });

  it('a token bound to a pod carries the pod node name in the user info', async () => {
    const review = await a.request<{
      status: { userInfo: { username: string; extra?: Record<string, string[]> } };
    }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    expect(review.status.userInfo.username).toBe(
      `system:serviceaccount:${env.adminNamespace}:kube-inspector-agent`,
    );
    expect(review.status.userInfo.extra?.['authentication.kubernetes.io/node-name']).toEqual([
      'node-a',
    ]);
    expect(review.status.userInfo.extra?.['authentication.kubernetes.io/pod-name']).toEqual([
      'agent-node-a',
    ]);
  });

  it("each agent creates and applies its own node's inventory and is refused the other node's", async () => {
    // The policy takes effect a moment after it is created.
    const refused = await eventually('the admission policy to refuse node-a writing node-b', () =>
      refusal(writeInventory(a, 'node-b', status('node-b'), false)).then((e) =>
        e.status === 403 ? e : undefined,
      ),
    );
    expect(refused.message).toContain(
      'the kube-inspector agent of node node-a may write only the NodeInventory named node-a, not node-b',
    );
    expect(refused.message).toContain('ValidatingAdmissionPolicy');

    await writeInventory(a, 'node-a', status('node-a'), false);
    await writeInventory(b, 'node-b', status('node-b'), false);
    // Applying again (the status subresource of an existing object) works too.
    await writeInventory(a, 'node-a', status('node-a', 4), true);
    const got = await env.kubectl(
      'get',
      'nodeinventories',
      '-o',
      'jsonpath={range .items[*]}{.metadata.name}={.status.nodeName}:{.status.packageCount} {end}',
    );
    expect(got.trim()).toBe('node-a=node-a:4 node-b=node-b:3');

    // Node b's agent may not touch node a's existing inventory, main resource or status.
    const onStatus = await refusal(writeInventory(b, 'node-a', status('node-a', 1), true));
    expect(onStatus.status).toBe(403);
    expect(onStatus.message).toContain(
      'the kube-inspector agent of node node-b may write only the NodeInventory named node-b, not node-a',
    );
    const patched = await refusal(
      b.request('PATCH', '/apis/kubeinspector.io/v1alpha1/nodeinventories/node-a', {
        body: { metadata: { labels: { x: 'y' } } },
        contentType: 'application/merge-patch+json',
      }),
    );
    expect(patched.status).toBe(403);
    expect(
      await env.kubectl('get', 'nodeinventory', 'node-a', '-o', 'jsonpath={.status.packageCount}'),
    ).toBe('4');
  });

  it('a token of the agent service account that is bound to no pod may write no inventory', async () => {
    const unbound = await tokenClient(env, await agentToken(env));
    clients.push(unbound);
    const err = await refusal(writeInventory(unbound, 'node-c', status('node-c'), false));
    expect(err.status).toBe(403);
    expect(err.message).toContain('must use a token bound to a pod on a node');
  });

  it('RBAC: the agent reads the ScanConfiguration and nothing else; it cannot delete or list inventories', async () => {
    await a.request('GET', '/apis/kubeinspector.io/v1alpha1/scanconfigurations');
    const forbidden: [string, () => Promise<unknown>][] = [
      ['list secrets', () => a.request('GET', '/api/v1/secrets')],
      [
        'get a secret',
        () => a.request('GET', `/api/v1/namespaces/${env.adminNamespace}/secrets/x`),
      ],
      [
        'create a configmap',
        () =>
          a.request('POST', `/api/v1/namespaces/${env.adminNamespace}/configmaps`, {
            body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } },
          }),
      ],
      ['list nodes', () => a.request('GET', '/api/v1/nodes')],
      [
        'list inventories',
        () => a.request('GET', '/apis/kubeinspector.io/v1alpha1/nodeinventories'),
      ],
      [
        'patch its inventory object (it applies only the status)',
        () =>
          a.request('PATCH', '/apis/kubeinspector.io/v1alpha1/nodeinventories/node-a', {
            body: { metadata: { labels: { x: 'y' } } },
            contentType: 'application/merge-patch+json',
          }),
      ],
      [
        'delete its inventory',
        () => a.request('DELETE', '/apis/kubeinspector.io/v1alpha1/nodeinventories/node-a'),
      ],
      [
        'write a finding',
        () =>
          a.request(
            'POST',
            `/apis/findings.kubeinspector.io/v1alpha1/namespaces/${env.adminNamespace}/findings`,
            {
              body: {
                apiVersion: 'findings.kubeinspector.io/v1alpha1',
                kind: 'Finding',
                metadata: { name: 'x' },
              },
            },
          ),
      ],
      [
        'change the ScanConfiguration',
        () =>
          a.request('POST', '/apis/kubeinspector.io/v1alpha1/scanconfigurations', {
            body: {
              apiVersion: 'kubeinspector.io/v1alpha1',
              kind: 'ScanConfiguration',
              metadata: { name: 'default' },
              spec: {},
            },
          }),
      ],
    ];
    for (const [what, request] of forbidden) {
      const err = await refusal(request());
      expect({ what, status: err.status }).toEqual({ what, status: 403 });
    }
  });

  it('the DaemonSet: every node, read-only host mounts, no privileges, a liveness probe', async () => {
    const ds = JSON.parse(
      await env.kubectl(
        'get',
        'daemonset',
        'kube-inspector-agent',
        '-n',
        env.adminNamespace,
        '-o',
        'json',
      ),
    ) as { spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } };
    const pod = ds.spec.template.spec;
    expect(ds.spec.template.metadata.labels).toEqual({
      'app.kubernetes.io/name': 'kube-inspector',
      'app.kubernetes.io/component': 'agent',
    });
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod.hostNetwork ?? false).toBe(false);
    expect(pod.hostPID ?? false).toBe(false);
    const c = pod.containers[0]!;
    expect(c.securityContext).toMatchObject({
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.securityContext.capabilities.add).toBeUndefined();
    const hostVolumes = new Set(
      pod.volumes.filter((v) => v.hostPath !== undefined).map((v) => v.name),
    );
    const hostMounts = c.volumeMounts.filter((m) => hostVolumes.has(m.name));
    expect(hostMounts.map((m) => m.mountPath).sort()).toEqual([
      '/host/etc/os-release',
      '/host/lib/apk/db',
      '/host/usr',
      '/host/var/lib/dpkg',
      '/host/var/lib/rpm',
    ]);
    expect(hostMounts.every((m) => m.readOnly === true)).toBe(true);
    expect(c.env.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe(
      'spec.nodeName',
    );
    expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(c.resources.requests).toBeDefined();
    expect(c.resources.limits).toBeDefined();

    // The API server's Pod Security admission finds nothing but the hostPath volumes to object
    // to under the restricted profile.
    const ns = 'agent-restricted';
    await env.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    });
    await env.apply({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'kube-inspector-agent', namespace: ns },
    });
    const err = await refusal(
      env.client.request('POST', `/api/v1/namespaces/${ns}/pods`, {
        query: { dryRun: 'All' },
        body: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'agent' },
          spec: { ...pod, nodeName: 'node-a' },
        },
      }),
    );
    expect(err.status).toBe(403);
    const violations = /violates PodSecurity "restricted:[^"]+": (.*)$/.exec(err.message)?.[1];
    expect(violations).toBe(
      'restricted volume types (volumes "os-release", "usr", "dpkg", "rpm", "apk" use restricted volume type "hostPath")',
    );
  });

  it('an inventory of 5,000 packages is accepted by the API server', async () => {
    const big = status('node-a', 5000);
    const bytes = Buffer.byteLength(JSON.stringify(big));
    await writeInventory(a, 'node-a', big, true);
    const count = await env.kubectl(
      'get',
      'nodeinventory',
      'node-a',
      '-o',
      'jsonpath={.status.packageCount} {.status.packages[4999].name}',
    );
    expect(count).toBe(`5000 ${big.packages![4999]!.name}`);
    expect(bytes).toBeLessThan(1.4 * 1024 * 1024);
  });
});
