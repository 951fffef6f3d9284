// One control plane and one worker node per end-to-end run. The teardown stops
// both and fails the run when anything is left on the host (processes, mounts,
// network namespaces and links, iptables chains and rules, cgroups, sysctls,
// files in the system folders a kubelet and containerd write to).
import type { TestProject } from 'vitest/node';
import { type ControlPlane, startControlPlane } from '../../hack/control-plane/control-plane.ts';
import { type HostState, leftovers, snapshotHost } from '../../hack/e2e/host-state.ts';
import {
  type E2eNode,
  kubernetesServiceIp,
  kubernetesServiceNames,
  nodeApiServerArgs,
  startNode,
} from '../../hack/e2e/node.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    kubectl: string;
    nodeName: string;
    /** host:port of the loopback registry (pause:1, tools:1). */
    registry: string;
  }
}

let plane: ControlPlane | undefined;
let node: E2eNode | undefined;
let before: HostState | undefined;

const log = (line: string): void => console.error(`e2e: ${line}`);

export async function setup(project: TestProject): Promise<void> {
  before = await snapshotHost();
  const started = Date.now();
  plane = await startControlPlane({
    log,
    apiServerArgs: nodeApiServerArgs(),
    node: { servingIpAddresses: [kubernetesServiceIp], servingDnsNames: kubernetesServiceNames },
  });
  const planeMs = Date.now() - started;
  try {
    node = await startNode(plane, { before, log });
  } catch (err) {
    await plane.stop();
    throw err;
  }
  const t = node.timings;
  log(
    `control plane up in ${planeMs} ms; node ${node.name} up in ${t.totalMs} ms ` +
      `(images ${t.imagesMs} ms, containerd ${t.containerdMs} ms, kubelet to Ready ${t.nodeReadyMs} ms)`,
  );
  project.provide('kubeconfig', plane.kubeconfig);
  project.provide('kubectl', plane.binaries.kubectl);
  project.provide('nodeName', node.name);
  project.provide('registry', node.registry);
}

export async function teardown(): Promise<void> {
  const started = Date.now();
  await node?.stop();
  await plane?.stop();
  log(`node and control plane torn down in ${Date.now() - started} ms`);
  if (before === undefined) return;
  const left = leftovers(before, await snapshotHost());
  if (left.length > 0) {
    throw new Error(`the end-to-end node left these behind:\n  ${left.join('\n  ')}`);
  }
  log('nothing left on the host');
}
