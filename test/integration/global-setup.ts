// One control plane per test run, shared by every integration test file.
import type { TestProject } from 'vitest/node';
import { type ControlPlane, startControlPlane } from '../../hack/control-plane/control-plane.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin kubeconfig of the shared control plane. */
    kubeconfig: string;
    /** kubectl built at the same version as the API server. */
    kubectl: string;
    /** etcd's client URL, empty for an existing cluster. */
    etcdUrl: string;
    /** True when the harness started the control plane (false for USE_EXISTING_CLUSTER). */
    ownedControlPlane: boolean;
    /** The front-proxy CA (request-header CA) of an owned control plane; empty otherwise. */
    frontProxyCaCert: string;
    frontProxyCaKey: string;
    /** kube-apiserver's front-proxy client certificate and key; empty otherwise. */
    frontProxyClientCert: string;
    frontProxyClientKey: string;
  }
}

let plane: ControlPlane | undefined;

export async function setup(project: TestProject): Promise<void> {
  const started = Date.now();
  plane = await startControlPlane({ log: (line) => console.error(`control-plane: ${line}`) });
  console.error(
    `control-plane: ${plane.owned ? 'started' : 'using existing cluster'} ${plane.server} in ${Date.now() - started} ms`,
  );
  project.provide('kubeconfig', plane.kubeconfig);
  project.provide('kubectl', plane.binaries.kubectl);
  project.provide('etcdUrl', plane.etcdUrl ?? '');
  project.provide('ownedControlPlane', plane.owned);
  project.provide('frontProxyCaCert', plane.pki?.frontProxyCa.cert ?? '');
  project.provide('frontProxyCaKey', plane.pki?.frontProxyCa.key ?? '');
  project.provide('frontProxyClientCert', plane.pki?.frontProxyClient.cert ?? '');
  project.provide('frontProxyClientKey', plane.pki?.frontProxyClient.key ?? '');
}

export async function teardown(): Promise<void> {
  await plane?.stop();
}
