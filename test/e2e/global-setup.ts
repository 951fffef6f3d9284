// One control plane and one worker node per end-to-end run. The teardown stops
// both and fails the run when anything is left on the host (processes, mounts,
// network namespaces and links, iptables chains and rules, cgroups, sysctls,
// files in the system folders a kubelet and containerd write to).
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { cacheRoot } from '../../hack/control-plane/binaries.ts';
import { type ControlPlane, startControlPlane } from '../../hack/control-plane/control-plane.ts';
import {
  type HostState,
  leftovers,
  prepareImageToolFolders,
  snapshotHost,
} from '../../hack/e2e/host-state.ts';
import { buildImage } from '../../hack/e2e/image.ts';
import { acquireRunLock } from '../../hack/e2e/lock.ts';
import {
  type ControllableProcess,
  controllableProcesses,
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
    /** host:port of the loopback registry (pause:1, tools:1, kube-inspector:e2e). */
    registry: string;
    /** The same registry as pods (and the controller's scanner) reach it. */
    podRegistry: string;
    /** A registry that requires basic auth (loopback and pod addresses, user, password). */
    authRegistry: { registry: string; podRegistry: string; username: string; password: string };
    /** kube-inspector's image built from the Dockerfile, in the registry (pods' address). */
    image: string;
    /** The node's working folder (host paths for PersistentVolumes go under it). */
    nodeWork: string;
    /** The control plane's working folder (its CA for certificates of the tests). */
    controlPlaneDir: string;
    /**
     * http://127.0.0.1:PORT of the node's fault-injection endpoint: POST /NAME/ACTION kills
     * (SIGKILL), stops (SIGTERM) or starts again a node process (see `nodeControl` in helpers).
     */
    nodeControl: string;
    /** The loopback registry's port (what pods reach at the gateway, DNAT to loopback). */
    registryPort: number;
    /** The pod network's bridge. */
    bridge: string;
  }
}

let plane: ControlPlane | undefined;
let node: E2eNode | undefined;
let before: HostState | undefined;
let releaseLock: (() => Promise<void>) | undefined;
let control: Server | undefined;
/** Folders named on the command lines of the run's processes. */
const markers: string[] = [];

const log = (line: string): void => console.error(`e2e: ${line}`);

export async function setup(project: TestProject): Promise<void> {
  // One run per host (hack/e2e/lock.ts): a second one is refused with the holder's pid.
  releaseLock = await acquireRunLock(undefined, log);
  try {
    await start(project);
  } catch (err) {
    await teardown().catch((e: unknown) => log(`teardown after a failed start: ${String(e)}`));
    throw err;
  }
}

async function start(project: TestProject): Promise<void> {
  await prepareImageToolFolders();
  before = await snapshotHost();
  const started = Date.now();
  plane = await startControlPlane({
    log,
    apiServerArgs: nodeApiServerArgs(),
    node: { servingIpAddresses: [kubernetesServiceIp], servingDnsNames: kubernetesServiceNames },
  });
  const planeMs = Date.now() - started;
  markers.push(plane.dir);
  try {
    node = await startNode(plane, { before, log });
  } catch (err) {
    await plane.stop();
    plane = undefined;
    throw err;
  }
  markers.push(node.work);
  const t = node.timings;
  log(
    `control plane up in ${planeMs} ms; node ${node.name} up in ${t.totalMs} ms ` +
      `(images ${t.imagesMs} ms, containerd ${t.containerdMs} ms, kubelet to Ready ${t.nodeReadyMs} ms)`,
  );
  // Pushed through the loopback address, pulled and scanned through the pods' one.
  const image = `${node.podRegistry}/kube-inspector:e2e`;
  const built = await buildImage({
    // The local base image always: trying the Dockerfile's default would ask a public registry.
    nodeImage: 'local',
    tag: 'localhost/kube-inspector:e2e',
    push: `${node.registry}/kube-inspector:e2e`,
    storage: join(cacheRoot(), 'image-build', 'storage'),
    log,
  });
  log(`image built from the Dockerfile in ${built.buildMs} ms, pushed in ${built.pushMs} ms`);
  project.provide('image', image);
  project.provide('nodeWork', node.work);
  project.provide('controlPlaneDir', plane.dir);
  project.provide('kubeconfig', plane.kubeconfig);
  project.provide('kubectl', plane.binaries.kubectl);
  project.provide('nodeName', node.name);
  project.provide('registry', node.registry);
  project.provide('podRegistry', node.podRegistry);
  project.provide('authRegistry', node.authRegistry);
  project.provide('registryPort', Number(node.registry.split(':')[1]));
  project.provide('bridge', node.bridge);
  project.provide('nodeControl', await serveControl(node));
}

/** The fault-injection endpoint: the node's processes belong to this process, not the tests'. */
async function serveControl(n: E2eNode): Promise<string> {
  const actions = ['kill', 'stop', 'start'] as const;
  control = createServer((req, res) => {
    const [, name, action] = (req.url ?? '').split('/');
    const known =
      req.method === 'POST' &&
      controllableProcesses.includes(name as ControllableProcess) &&
      actions.includes(action as (typeof actions)[number]);
    if (!known) {
      res.writeHead(404).end(`POST /{${controllableProcesses.join('|')}}/{${actions.join('|')}}\n`);
      return;
    }
    n.control(name as ControllableProcess, action as (typeof actions)[number]).then(
      () => res.writeHead(204).end(),
      (err: unknown) => res.writeHead(409).end(err instanceof Error ? err.message : String(err)),
    );
  });
  await new Promise<void>((resolve) => control!.listen(0, '127.0.0.1', resolve));
  const address = control.address();
  if (address === null || typeof address === 'string') throw new Error('no control address');
  return `http://127.0.0.1:${address.port}`;
}

/** Resident memory in MiB of each node process and of all container shims together. */
async function memory(pids: Record<string, number>): Promise<string> {
  const rss = async (pid: number | string): Promise<number> => {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  };
  const parts: string[] = [];
  for (const [name, pid] of Object.entries(pids))
    parts.push(`${name} ${(await rss(pid)).toFixed(0)}`);
  let shims = 0;
  let count = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
    if (comm === 'containerd-shim') {
      shims += await rss(pid);
      count++;
    }
  }
  parts.push(`${count} shims ${shims.toFixed(0)}`);
  return parts.join(', ');
}

export async function teardown(): Promise<void> {
  try {
    await stopAndCheck();
  } finally {
    await releaseLock?.();
    releaseLock = undefined;
  }
}

async function stopAndCheck(): Promise<void> {
  await new Promise((resolve) => (control ? control.close(resolve) : resolve(undefined)));
  control = undefined;
  if (node) log(`memory (RSS, MiB) at the end: ${await memory(node.pids())}`);
  const started = Date.now();
  await node?.stop();
  await plane?.stop();
  node = undefined;
  plane = undefined;
  log(`node and control plane torn down in ${Date.now() - started} ms`);
  if (before === undefined) return;
  const left = leftovers(before, await snapshotHost(), markers);
  if (left.length > 0) {
    throw new Error(`the end-to-end node left these behind:\n  ${left.join('\n  ')}`);
  }
  log('nothing left on the host');
}
