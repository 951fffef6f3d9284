// A real worker node joined to the project's control plane: containerd, runc and
// the CNI plugins from Debian's packages, the kubelet, kube-proxy and
// kube-scheduler built from the pinned Go modules, a second
// kube-controller-manager with the controllers a real cluster runs, and a
// loopback registry with locally built images. Pods reach the API server at the
// `kubernetes` Service's IP through a DNAT rule to its loopback address (the
// API server listens on 127.0.0.1 only, and EndpointSlices refuse loopback).
//
// Needs root. stop() removes everything the node added to the host.
import { existsSync } from 'node:fs';
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeBinaries, resolveBinaries } from '../control-plane/binaries.ts';
import { type ControlPlane, Process } from '../control-plane/control-plane.ts';
import { issueCertificate } from '../control-plane/pki.ts';
import {
  cniConfig,
  containerdConfig,
  kubeletConfig,
  kubeProxyConfig,
  type NodeLayout,
  registryConfig,
  registryHosts,
} from './config.ts';
import { type HostState, restoreNetfilter, restoreSysctls, snapshotHost } from './host-state.ts';
import { pushNodeImages, run } from './images.ts';

/** The `kubernetes` Service's IP for the control plane's --service-cluster-ip-range. */
export const kubernetesServiceIp = '10.0.0.1';
/** The names in-cluster clients may use for the API server. */
export const kubernetesServiceNames = [
  'kubernetes',
  'kubernetes.default',
  'kubernetes.default.svc',
  'kubernetes.default.svc.cluster.local',
];

/** kube-apiserver flags a real kubelet needs (logs, exec; node authorization). */
export function nodeApiServerArgs(): string[] {
  return [
    // Appended to the control plane's RBAC mode (the flag is a list).
    '--authorization-mode=Node',
    '--enable-admission-plugins=NodeRestriction',
    '--kubelet-client-certificate={dir}/pki/client-admin.crt',
    '--kubelet-client-key={dir}/pki/client-admin.key',
    // The kubelet serves on loopback; the node's host name resolves to it.
    '--kubelet-preferred-address-types=Hostname',
  ];
}

/** The controllers of the node's controller manager (the control plane runs GC and namespaces). */
export const nodeControllers = [
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  'node-lifecycle-controller',
  'deployment-controller',
  'replicaset-controller',
  'daemonset-controller',
  'job-controller',
  'disruption-controller',
  'persistentvolume-binder-controller',
  'persistentvolume-protection-controller',
  'persistentvolumeclaim-protection-controller',
  'endpointslice-controller',
  'endpoints-controller',
  'clusterrole-aggregation-controller',
  'pod-garbage-collector-controller',
  'taint-eviction-controller',
];

/** The basic-auth registry's only user (a throw-away node's, not a secret). */
const authUser = 'e2e';
const authPassword = 'e2e-registry-password';

export interface NodeTimings {
  imagesMs: number;
  containerdMs: number;
  nodeReadyMs: number;
  totalMs: number;
}

export interface E2eNode {
  name: string;
  /** host:port of the loopback registry holding pause:1 and tools:1. */
  registry: string;
  /** The same registry as pods reach it (the pod network's gateway, DNAT to loopback). */
  podRegistry: string;
  /** A registry that requires basic auth: loopback and pod addresses, user and password. */
  authRegistry: { registry: string; podRegistry: string; username: string; password: string };
  work: string;
  /** The pod network's bridge (pods' traffic to the node's servers comes in through it). */
  bridge: string;
  timings: NodeTimings;
  /** pids by process name, for memory measurements. */
  pids(): Record<string, number>;
  /**
   * Fault injection: `kill` one of the node's processes with SIGKILL (a crash), `stop` it
   * with SIGTERM, or `start` it again with the same command line (its log file goes on).
   */
  control(name: ControllableProcess, action: 'kill' | 'stop' | 'start'): Promise<void>;
  stop(): Promise<void>;
}

/** The node processes a test may crash, stop and start again. */
export const controllableProcesses = [
  'containerd',
  'kubelet',
  'kube-proxy',
  'registry',
  'auth-registry',
] as const;
export type ControllableProcess = (typeof controllableProcesses)[number];

export interface NodeOptions {
  log?: (line: string) => void;
  /** The host as it was before the control plane started (what stop() restores). */
  before: HostState;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        address === null || typeof address === 'string'
          ? reject(new Error('no port'))
          : resolve(address.port),
      );
    });
  });
}

async function waitFor(
  what: string,
  procs: Process[],
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const p of procs) {
      if (p.exit !== undefined) {
        throw new Error(`${p.name} ${p.exit} while waiting for ${what}:\n${p.logTail()}`);
      }
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      const tails = procs.map((p) => `--- ${p.name}\n${p.logTail()}`).join('\n');
      throw new Error(`${what} not ready in ${timeoutMs / 1000} s\n${tails}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpGet(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

async function layout(work: string): Promise<NodeLayout> {
  const registryPort = await freePort();
  return {
    work,
    registry: `127.0.0.1:${registryPort}`,
    registryPort,
    authRegistryPort: await freePort(),
    cniBinDir: existsSync('/usr/lib/cni/bridge') ? '/usr/lib/cni' : '/opt/cni/bin',
    bridge: 'kinspbr0',
    network: 'kube-inspector-e2e',
    podCidr: '10.244.0.0/24',
    nodeName: (await run('hostname', [])).trim().toLowerCase(),
    kubeletPort: await freePort(),
    kubeletHealthzPort: await freePort(),
    proxyHealthzPort: await freePort(),
    proxyMetricsPort: await freePort(),
  };
}

async function writeConfigs(n: NodeLayout, plane: ControlPlane): Promise<void> {
  const w = n.work;
  for (const d of ['pki', 'cni/net.d', 'cni/ipam', `containerd/certs.d/${n.registry}`, 'logs']) {
    await mkdir(join(w, d), { recursive: true });
  }
  await writeFile(join(w, 'containerd/config.toml'), containerdConfig(n));
  await writeFile(
    join(w, `containerd/certs.d/${n.registry}/hosts.toml`),
    registryHosts(n.registry),
  );
  for (const port of [n.registryPort, n.authRegistryPort]) {
    const podRegistry = `${gateway(n)}:${port}`;
    await mkdir(join(w, `containerd/certs.d/${podRegistry}`), { recursive: true });
    await writeFile(
      join(w, `containerd/certs.d/${podRegistry}/hosts.toml`),
      registryHosts(podRegistry),
    );
  }
  await writeFile(join(w, 'cni/net.d/10-bridge.conflist'), cniConfig(n));
  await writeFile(join(w, 'kubelet-config.yaml'), kubeletConfig(n));
  await writeFile(join(w, 'kube-proxy.yaml'), kubeProxyConfig(n, plane.kubeconfig));
  await writeFile(join(w, 'registry.yml'), registryConfig(join(w, 'registry'), n.registry));
  const htpasswd = await run('htpasswd', ['-Bbn', authUser, authPassword]);
  await writeFile(join(w, 'htpasswd'), htpasswd);
  await writeFile(
    join(w, 'auth-registry.yml'),
    registryConfig(
      join(w, 'auth-registry'),
      `127.0.0.1:${n.authRegistryPort}`,
      join(w, 'htpasswd'),
    ),
  );
  // The node's identity: system:node:<name> in group system:nodes, from the control plane's CA.
  const pki = plane.pki!;
  await writeFile(join(w, 'pki/ca.crt'), await readFile(pki.caCert));
  const cert = await issueCertificate(
    join(w, 'pki'),
    { cert: pki.caCert, key: pki.caKey },
    'node',
    {
      commonName: `system:node:${n.nodeName}`,
      organizations: ['system:nodes'],
      usage: 'client',
    },
  );
  const b64 = async (p: string): Promise<string> => (await readFile(p)).toString('base64');
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'cp',
        cluster: { server: plane.server, 'certificate-authority-data': await b64(pki.caCert) },
      },
    ],
    users: [
      {
        name: 'node',
        user: {
          'client-certificate-data': await b64(cert.cert),
          'client-key-data': await b64(cert.key),
        },
      },
    ],
    contexts: [{ name: 'node', context: { cluster: 'cp', user: 'node' } }],
    'current-context': 'node',
  };
  await writeFile(join(w, 'kubelet.kubeconfig'), JSON.stringify(kubeconfig), { mode: 0o600 });
}

/** The pod network's gateway (the bridge's address): the first address of the pod CIDR. */
function gateway(n: NodeLayout): string {
  return n.podCidr.replace(/\.0\/\d+$/, '.1');
}

/** DNAT rule arguments: `destination:port` to 127.0.0.1:`toPort`. */
function dnat(chain: string, destination: string, port: string, toPort: string): string[] {
  return [
    '-t',
    'nat',
    '-A',
    chain,
    '-d',
    `${destination}/32`,
    '-p',
    'tcp',
    '--dport',
    port,
    '-j',
    'DNAT',
    '--to-destination',
    `127.0.0.1:${toPort}`,
  ];
}

/**
 * The bridge made before the CNI plugin (which adopts it), so route_localnet can be set on it,
 * and the DNAT rules that let pods and the host reach loopback servers: the API server at the
 * `kubernetes` Service's IP, the registry at the pod network's gateway.
 */
async function setUpNetwork(n: NodeLayout, apiPort: string): Promise<void> {
  await run('ip', ['link', 'add', n.bridge, 'type', 'bridge']);
  await run('ip', ['link', 'set', n.bridge, 'up']);
  // Lets packets from pods be routed to 127.0.0.1 after the DNAT below.
  await writeFile(`/proc/sys/net/ipv4/conf/${n.bridge}/route_localnet`, '1');
  const chain = 'KINSP-E2E-LOOPBACK';
  await run('iptables', ['-t', 'nat', '-N', chain]);
  await run('iptables', dnat(chain, kubernetesServiceIp, '443', apiPort));
  for (const port of [String(n.registryPort), String(n.authRegistryPort)]) {
    await run('iptables', dnat(chain, gateway(n), port, port));
  }
  // Before kube-proxy's jump, which would reject a Service without endpoints.
  await run('iptables', ['-t', 'nat', '-I', 'PREROUTING', '1', '-j', chain]);
  await run('iptables', ['-t', 'nat', '-I', 'OUTPUT', '1', '-j', chain]);
}

interface Running {
  n: NodeLayout;
  plane: ControlPlane;
  procs: Process[];
  before: HostState;
  log: (line: string) => void;
}

function kubectl(plane: ControlPlane, args: string[]): Promise<string> {
  return run(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfig, ...args]);
}

function spawnProcess(r: Running, name: string, binary: string, args: string[]): Process {
  const p = new Process(name, binary, args, join(r.n.work, 'logs', `${name}.log`), false);
  r.procs.push(p);
  p.start();
  return p;
}

async function startRuntime(r: Running): Promise<void> {
  const { n } = r;
  const containerd = spawnProcess(r, 'containerd', 'containerd', [
    '--config',
    join(n.work, 'containerd/config.toml'),
  ]);
  await waitFor('containerd', [containerd], 30_000, async () => {
    await run('ctr', ['--address', join(n.work, 'containerd/containerd.sock'), 'version']);
    return true;
  });
}

async function startKubelet(r: Running, kubelet: string): Promise<void> {
  const { n, plane } = r;
  const proc = spawnProcess(r, 'kubelet', kubelet, [
    `--config=${join(n.work, 'kubelet-config.yaml')}`,
    `--kubeconfig=${join(n.work, 'kubelet.kubeconfig')}`,
    `--root-dir=${join(n.work, 'kubelet')}`,
    `--cert-dir=${join(n.work, 'kubelet/pki')}`,
    `--hostname-override=${n.nodeName}`,
    `--node-ip=${(await run('ip', ['-4', 'route', 'get', '1.1.1.1'])).match(/ src (\S+)/)?.[1] ?? ''}`,
    '--v=1',
  ]);
  await waitFor(`node ${n.nodeName} Ready`, [proc], 120_000, async () => {
    const ready = await kubectl(plane, [
      'get',
      'node',
      n.nodeName,
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ]);
    return ready.trim() === 'True';
  });
}

async function startClusterServices(
  r: Running,
  bins: Partial<Record<string, string>>,
): Promise<void> {
  const { n, plane } = r;
  const pki = plane.pki!;
  const kcmKubeconfig = join(plane.dir, 'controller-manager.kubeconfig');
  spawnProcess(r, 'kube-scheduler', bins['kube-scheduler']!, [
    `--kubeconfig=${plane.kubeconfig}`,
    `--authentication-kubeconfig=${plane.kubeconfig}`,
    `--authorization-kubeconfig=${plane.kubeconfig}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    '--secure-port=0',
  ]);
  spawnProcess(r, 'node-controller-manager', plane.binaries['kube-controller-manager'], [
    `--kubeconfig=${kcmKubeconfig}`,
    `--controllers=${nodeControllers.join(',')}`,
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.caCert}`,
    '--use-service-account-credentials=false',
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    '--secure-port=0',
    // A stopped kubelet is noticed in seconds (fault tests), not the default 40 s.
    '--node-monitor-grace-period=20s',
  ]);
  const proxy = spawnProcess(r, 'kube-proxy', bins['kube-proxy']!, [
    `--config=${join(n.work, 'kube-proxy.yaml')}`,
  ]);
  await waitFor('kube-proxy', [proxy], 60_000, async () => {
    return (await httpStatus(`http://127.0.0.1:${n.proxyHealthzPort}/healthz`)) === 200;
  });
}

/** Starts the node; on failure removes whatever was started. */
export async function startNode(plane: ControlPlane, options: NodeOptions): Promise<E2eNode> {
  if (!plane.owned || !plane.pki)
    throw new Error('the end-to-end node needs an owned control plane');
  if (process.getuid?.() !== 0) throw new Error('the end-to-end node needs root (containerd, CNI)');
  const log = options.log ?? ((line: string) => console.error(line));
  const started = Date.now();
  const bins = (await resolveBinaries({ need: nodeBinaries, log })).binaries;
  const work = await mkdtemp(join(tmpdir(), 'kube-inspector-node-'));
  const r: Running = { n: await layout(work), plane, procs: [], before: options.before, log };
  const timings: NodeTimings = { imagesMs: 0, containerdMs: 0, nodeReadyMs: 0, totalMs: 0 };
  try {
    await writeConfigs(r.n, plane);
    await setUpNetwork(r.n, new URL(plane.server).port);
    const registry = spawnProcess(r, 'registry', 'docker-registry', [
      'serve',
      join(work, 'registry.yml'),
    ]);
    const authRegistry = spawnProcess(r, 'auth-registry', 'docker-registry', [
      'serve',
      join(work, 'auth-registry.yml'),
    ]);
    await waitFor('registry', [registry, authRegistry], 20_000, async () => {
      const open = await httpStatus(`http://${r.n.registry}/v2/`);
      const auth = await httpStatus(`http://127.0.0.1:${r.n.authRegistryPort}/v2/`);
      return open === 200 && auth === 401;
    });
    let t = Date.now();
    await pushNodeImages(join(work, 'images'), r.n.registry, {
      busybox: (await run('sh', ['-c', 'command -v busybox'])).trim(),
      kubectl: plane.binaries.kubectl,
    });
    timings.imagesMs = Date.now() - t;
    t = Date.now();
    await startRuntime(r);
    timings.containerdMs = Date.now() - t;
    t = Date.now();
    await startKubelet(r, bins.kubelet!);
    timings.nodeReadyMs = Date.now() - t;
    await startClusterServices(r, bins);
    timings.totalMs = Date.now() - started;
  } catch (err) {
    await stopNode(r).catch((e: unknown) => log(`cleanup after a failed start: ${String(e)}`));
    throw err;
  }
  return {
    name: r.n.nodeName,
    registry: r.n.registry,
    podRegistry: `${gateway(r.n)}:${r.n.registryPort}`,
    authRegistry: {
      registry: `127.0.0.1:${r.n.authRegistryPort}`,
      podRegistry: `${gateway(r.n)}:${r.n.authRegistryPort}`,
      username: authUser,
      password: authPassword,
    },
    work,
    bridge: r.n.bridge,
    timings,
    pids: () => {
      const pids: Record<string, number> = {};
      for (const p of r.procs) if (p.pid !== undefined) pids[p.name] = p.pid;
      return pids;
    },
    control: async (name, action) => {
      const p = r.procs.find((x) => x.name === name);
      if (p === undefined) throw new Error(`the node runs no process named ${name}`);
      if (action === 'start') {
        if (p.pid !== undefined) throw new Error(`${name} is running already (pid ${p.pid})`);
        p.start();
        log(`${name} started again (pid ${p.pid ?? '?'})`);
        return;
      }
      const pid = p.pid;
      await p.stop(20_000, action === 'kill' ? 'SIGKILL' : 'SIGTERM');
      log(`${name} (pid ${pid ?? '?'}) ${action === 'kill' ? 'killed' : 'stopped'}`);
    },
    stop: () => stopNode(r),
  };
}

async function removeContainers(work: string): Promise<void> {
  const socket = join(work, 'containerd/containerd.sock');
  if (!existsSync(socket)) return;
  const ctr = (args: string[]): Promise<string> =>
    run('ctr', ['--address', socket, '-n', 'k8s.io', ...args]).catch(() => '');
  const tasks = (await ctr(['tasks', 'ls', '-q'])).split('\n').filter(Boolean);
  for (const id of tasks) await ctr(['tasks', 'kill', '-s', 'KILL', id]);
  if (tasks.length > 0) await new Promise((res) => setTimeout(res, 1000));
  for (const id of tasks) await ctr(['tasks', 'delete', '-f', id]);
  for (const id of (await ctr(['containers', 'ls', '-q'])).split('\n').filter(Boolean)) {
    await ctr(['containers', 'delete', id]);
  }
}

/** Pod network namespaces and runtime state containerd 1.6 keeps in fixed host paths. */
async function removeHostPaths(r: Running): Promise<void> {
  const results = '/var/lib/cni/results';
  for (const entry of await readdir(results).catch(() => [] as string[])) {
    if (!entry.startsWith(`${r.n.network}-`)) continue;
    const text = await readFile(join(results, entry), 'utf8').catch(() => '');
    const netns = /"netns":"([^"]+)"/.exec(text)?.[1];
    if (netns && existsSync(netns)) {
      await run('umount', [netns]).catch(() => undefined);
      await unlink(netns).catch(() => undefined);
    }
    const id = entry.slice(r.n.network.length + 1).replace(/-eth0$/, '');
    await rm(join(results, entry), { force: true });
    await rm(join(results, `cni-loopback-${id}-lo`), { force: true });
    await rm(join('/run/containerd/runc/k8s.io', id), { recursive: true, force: true });
  }
  // The device manager's socket is at a fixed path whatever --root-dir says.
  await rm('/var/lib/kubelet/device-plugins/kubelet.sock', { force: true });
  // Folders the node made that did not exist before (empty ones only: rmdir, not rm -r).
  for (const dir of [
    '/var/lib/kubelet/device-plugins',
    '/var/lib/kubelet',
    '/var/lib/cni/results',
    '/var/lib/cni',
    '/run/netns',
    '/run/containerd/runc/k8s.io',
    '/run/containerd/runc',
    '/run/containerd/s',
    '/run/containerd',
  ]) {
    if (!r.before.files.includes(dir)) await run('rmdir', [dir]).catch(() => undefined);
  }
  // Folders created for hostPath volumes that did not exist (containerd makes a missing source
  // of a bind mount): new entries of the watched folders that hold nothing but empty folders.
  const now = await snapshotHost();
  for (const entry of now.files) {
    if (r.before.files.includes(entry)) continue;
    await run('find', [entry, '-depth', '-type', 'd', '-empty', '-delete']).catch(() => undefined);
  }
  const logs = '/var/log/containers';
  for (const entry of await readdir(logs).catch(() => [] as string[])) {
    const target = await readlink(join(logs, entry)).catch(() => '');
    if (target.startsWith(`${r.n.work}/`)) await unlink(join(logs, entry));
  }
  if (!r.before.files.includes(logs)) await run('rmdir', [logs]).catch(() => undefined);
}

async function stopProcess(r: Running, name: string, timeoutMs = 20_000): Promise<void> {
  for (const p of r.procs) if (p.name === name) await p.stop(timeoutMs);
}

/** Deletes the node's pods through the kubelet (sandboxes, CNI), then stops everything. */
async function stopNode(r: Running): Promise<void> {
  const { n, plane, log } = r;
  // No controller recreates pods once the controller manager and the scheduler are gone.
  await stopProcess(r, 'node-controller-manager');
  await stopProcess(r, 'kube-scheduler');
  const kubelet = r.procs.find((p) => p.name === 'kubelet');
  if (kubelet?.pid !== undefined) {
    await kubectl(plane, [
      'delete',
      'pods',
      '-A',
      '--field-selector',
      `spec.nodeName=${n.nodeName}`,
      '--grace-period=1',
      '--timeout=90s',
    ]).catch((e: unknown) => log(`deleting the node's pods: ${String(e)}`));
  }
  await stopProcess(r, 'kubelet');
  await kubectl(plane, ['delete', 'node', n.nodeName, '--ignore-not-found', '--wait=false']).catch(
    (e: unknown) => log(`deleting node ${n.nodeName}: ${String(e)}`),
  );
  await stopProcess(r, 'kube-proxy');
  await removeContainers(n.work);
  await stopProcess(r, 'containerd');
  await stopProcess(r, 'registry');
  await stopProcess(r, 'auth-registry');
  // Mounts under the work folder (overlay root filesystems, shm, volumes), deepest first.
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${n.work}/`))
    .sort()
    .reverse();
  for (const m of mounts) {
    await run('umount', [m]).catch(() => run('umount', ['-l', m]).catch(() => undefined));
  }
  await removeHostPaths(r);
  await removeCgroups(r.before);
  await run('ip', ['link', 'del', n.bridge]).catch(() => undefined);
  await restoreNetfilter(r.before);
  await restoreSysctls(r.before);
  await rm(n.work, { recursive: true, force: true });
}

/** The kubelet's cgroups (cgroupfs driver: kubepods in every hierarchy), leaves first. */
async function removeCgroups(before: HostState): Promise<void> {
  const { cgroups } = await snapshotHost();
  for (const dir of cgroups) {
    if (before.cgroups.includes(dir)) continue;
    await run('find', [dir, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']).catch(
      () => undefined,
    );
  }
}
