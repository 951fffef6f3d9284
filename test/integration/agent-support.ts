// What the node-agent integration tests share: the agent's manifests applied to a control
// plane, Node and Pod objects standing for agent pods (they never run: no kubelet), and
// service account tokens issued by the TokenRequest API bound to those pods, as the kubelet
// would request them for the agent's containers.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/kube/client.ts';
import type { ProductEnvironment } from './product.ts';

const execFileAsync = promisify(execFile);
export const root = join(import.meta.dirname, '..', '..');
export const AGENT_SA = 'kube-inspector-agent';

/** Applies manifests/agent (kustomize) as a person would. */
export async function applyAgentManifests(env: ProductEnvironment): Promise<string> {
  return env.kubectl(
    'apply',
    '--server-side',
    '--field-manager=kubectl',
    '-k',
    join(root, 'manifests', 'agent'),
  );
}

/** A Node object and a Pod of the agent bound to it (spec.nodeName); returns the pod's uid. */
export async function nodeWithAgentPod(env: ProductEnvironment, node: string): Promise<string> {
  await env.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: node } });
  await env.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `agent-${node}`,
      namespace: env.adminNamespace,
      labels: {
        'app.kubernetes.io/name': 'kube-inspector',
        'app.kubernetes.io/component': 'agent',
      },
    },
    spec: {
      nodeName: node,
      serviceAccountName: AGENT_SA,
      containers: [{ name: 'agent', image: 'kube-inspector:dev' }],
    },
  });
  const pod = await env.client.request<{ metadata: { uid: string } }>(
    'GET',
    `/api/v1/namespaces/${env.adminNamespace}/pods/agent-${node}`,
  );
  return pod.metadata.uid;
}

/** A token of the agent's service account from the TokenRequest API, bound to the pod when given. */
export async function agentToken(
  env: ProductEnvironment,
  pod?: { name: string; uid: string },
): Promise<string> {
  const res = await env.client.request<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${env.adminNamespace}/serviceaccounts/${AGENT_SA}/token`,
    {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          expirationSeconds: 3600,
          ...(pod !== undefined
            ? { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid } }
            : {}),
        },
      },
    },
  );
  return res.status.token;
}

/** A kubeconfig using `token` against the control plane's server and CA. */
export function tokenKubeConfig(env: ProductEnvironment, token: string): KubeConfig {
  const cluster = env.kubeConfig.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'plane',
        server: cluster.server,
        ...(cluster.caData !== undefined ? { caData: cluster.caData } : {}),
        ...(cluster.caFile !== undefined ? { caFile: cluster.caFile } : {}),
        skipTLSVerify: false,
      },
    ],
    users: [{ name: 'agent', token }],
    contexts: [{ name: 'agent', cluster: 'plane', user: 'agent' }],
    currentContext: 'agent',
  });
  return kc;
}

export async function tokenClient(env: ProductEnvironment, token: string): Promise<KubeClient> {
  return KubeClient.create(tokenKubeConfig(env, token));
}

/** Writes the kubeconfig of `token` to a file (for the agent process). */
export async function writeTokenKubeConfig(
  env: ProductEnvironment,
  token: string,
  file: string,
): Promise<string> {
  await writeFile(file, tokenKubeConfig(env, token).exportConfig(), { mode: 0o600 });
  return file;
}

/**
 * The Debian 12 root filesystem debootstrap builds (cached outside the work tree; built when
 * missing, which takes about a minute with a reachable mirror).
 */
export async function debootstrapRootfs(): Promise<string> {
  const { stdout } = await execFileAsync(join(root, 'hack', 'agent', 'debootstrap-rootfs.sh'), {
    timeout: 600_000,
  });
  return stdout.trim().split('\n').pop()!;
}
