// A real, throw-away Kubernetes control plane on loopback: etcd, kube-apiserver
// (with the aggregation layer configured as kubeadm does) and
// kube-controller-manager (garbage collector and namespace controllers only),
// the way controller-runtime's envtest runs one, plus the controller manager
// envtest lacks.
//
// Every child is started under `setpriv --pdeathsig KILL`, so the kernel kills
// it when the process that started it dies for any reason (a crashed or
// SIGKILLed test runner leaves no orphans). stop() shuts them down gracefully.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Binaries, pidAlive, resolveAllBinaries } from './binaries.ts';
import { createPki, frontProxyClientName, kubeconfigFor, type Pki } from './pki.ts';

export interface ControlPlane {
  /** Admin kubeconfig (system:masters). */
  kubeconfig: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** Working folder (certificates, etcd data, logs); removed by stop(). */
  dir: string;
  binaries: Binaries;
  /** False when USE_EXISTING_CLUSTER=true: nothing was started and stop() does nothing. */
  owned: boolean;
  /** The etcd client URL (only for a control plane started here). */
  etcdUrl?: string;
  /** The certificates (only for a control plane started here), front-proxy CA included. */
  pki?: Pki;
  /** Stops the processes; also restarts kube-apiserver for tests that need it. */
  stop(): Promise<void>;
  /** Kills kube-apiserver and starts it again on the same port (owned planes only). */
  restartApiServer(): Promise<void>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Keep the working folder after stop (for debugging). */
  keep?: boolean;
  /**
   * Extra kube-apiserver flags (an owned control plane only), e.g. an audit policy; `{dir}` in
   * a flag is replaced with the control plane's working folder.
   */
  apiServerArgs?: string[];
  /** kube-controller-manager's --controllers (an owned control plane only). */
  controllers?: string[];
  /**
   * For a control plane with a worker node: the ServiceAccount admission plugin stays on (the
   * node's controller manager runs the service-account controllers), and the serving
   * certificate also names these addresses (the `kubernetes` Service's IP and DNS names).
   */
  node?: { servingIpAddresses: string[]; servingDnsNames: string[] };
}

/** The controllers of kube-controller-manager unless a test asks for others. */
export const defaultControllers = ['garbage-collector-controller', 'namespace-controller'];

const tempPrefix = 'kube-inspector-cp-';

/** Parses a Go duration such as "90s", "2m" or "1m30s" into milliseconds. */
export function parseGoDuration(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = text.trim();
  if (rest === '') throw new Error('empty duration');
  while (rest !== '') {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (!m) throw new Error(`invalid duration "${text}" (expected e.g. 20s, 2m, 1m30s)`);
    total += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return total;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port'));
        else resolve(address.port);
      });
    });
  });
}

let setprivChecked: boolean | undefined;
function hasSetprivPdeathsig(): boolean {
  if (setprivChecked === undefined) {
    try {
      setprivChecked = execFileSync('setpriv', ['--help'], { encoding: 'utf8' }).includes(
        '--pdeathsig',
      );
    } catch {
      setprivChecked = false;
    }
  }
  return setprivChecked;
}

/** Removes working folders left by runs whose owner process is gone. */
function removeStaleFolders(): void {
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(tempPrefix)) continue;
    const dir = join(tmpdir(), entry);
    try {
      const owner = Number.parseInt(readFileSync(join(dir, 'owner.pid'), 'utf8'), 10);
      if (Number.isFinite(owner) && pidAlive(owner)) continue;
    } catch {
      // no owner file: a run that died while starting
    }
    void rm(dir, { recursive: true, force: true });
  }
}

export class Process {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private exitInfo: string | undefined;

  readonly name: string;
  private readonly binary: string;
  private readonly args: string[];
  private readonly logFile: string;
  private readonly attach: boolean;

  constructor(name: string, binary: string, args: string[], logFile: string, attach: boolean) {
    this.name = name;
    this.binary = binary;
    this.args = args;
    this.logFile = logFile;
    this.attach = attach;
  }

  start(): void {
    const [command, args] = hasSetprivPdeathsig()
      ? ['setpriv', ['--pdeathsig', 'KILL', '--', this.binary, ...this.args]]
      : [this.binary, this.args];
    const out = this.attach ? 'inherit' : createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (out === 'inherit') {
      child.stdout?.pipe(process.stdout);
      child.stderr?.pipe(process.stderr);
    } else {
      child.stdout?.pipe(out);
      child.stderr?.pipe(out);
    }
    this.exitInfo = undefined;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = signal ? `killed by ${signal}` : `exited with code ${code}`;
        resolve();
      });
      child.once('error', (err) => {
        this.exitInfo = `failed to start: ${err.message}`;
        resolve();
      });
    });
    this.child = child;
  }

  /** The process id while it runs (setpriv execs the binary, so it is the binary's). */
  get pid(): number | undefined {
    return this.exitInfo === undefined ? this.child?.pid : undefined;
  }

  /** Why the process is no longer running, or undefined while it runs. */
  get exit(): string | undefined {
    return this.exitInfo;
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  async stop(timeoutMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (child === undefined || this.exitInfo !== undefined) return;
    child.kill(signal);
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    if ((await Promise.race([this.exited, timer])) === 'timeout') {
      child.kill('SIGKILL');
      await this.exited;
    }
  }
}

async function waitUntil(
  what: string,
  proc: Process,
  deadline: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  for (;;) {
    if (proc.exit !== undefined) {
      throw new Error(
        `${proc.name} ${proc.exit} before it was ready; last log lines:\n${proc.logTail()}`,
      );
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${what} not ready in time (KUBEBUILDER_CONTROLPLANE_START_TIMEOUT); last log lines of ${proc.name}:\n${proc.logTail()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpGet(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

function httpsGet(
  url: string,
  pki: Pki,
  client: string,
): Promise<{ status: number; body: string }> {
  const identity = pki.clients[client]!;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: readFileSync(pki.caCert),
        cert: readFileSync(identity.cert),
        key: readFileSync(identity.key),
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Uses an existing cluster (USE_EXISTING_CLUSTER=true) or starts one. */
export async function startControlPlane(options: StartOptions = {}): Promise<ControlPlane> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.error(line));

  if (env.USE_EXISTING_CLUSTER === 'true') {
    const kubeconfig = env.KUBECONFIG || join(homedir(), '.kube', 'config');
    if (!existsSync(kubeconfig)) {
      throw new Error(`USE_EXISTING_CLUSTER=true but kubeconfig ${kubeconfig} does not exist`);
    }
    // Only kubectl is needed from the binaries; the rest are never started.
    const binaries = await resolveAllBinaries({ env, log }).catch(() => undefined);
    const kubectl = binaries?.kubectl ?? 'kubectl';
    const server = execFileSync(
      kubectl,
      [
        '--kubeconfig',
        kubeconfig,
        'config',
        'view',
        '--minify',
        '-o',
        'jsonpath={.clusters[0].cluster.server}',
      ],
      { encoding: 'utf8' },
    );
    return {
      kubeconfig,
      server,
      dir: '',
      binaries: binaries ?? {
        etcd: 'etcd',
        'kube-apiserver': 'kube-apiserver',
        'kube-controller-manager': 'kube-controller-manager',
        kubectl,
      },
      owned: false,
      stop: () => Promise.resolve(),
      restartApiServer: () =>
        Promise.reject(new Error('cannot restart the API server of an existing cluster')),
    };
  }

  const binaries = await resolveAllBinaries({ env, log });
  const startTimeout = parseGoDuration(env.KUBEBUILDER_CONTROLPLANE_START_TIMEOUT || '90s');
  const stopTimeout = parseGoDuration(env.KUBEBUILDER_CONTROLPLANE_STOP_TIMEOUT || '20s');
  const attach = env.KUBEBUILDER_ATTACH_CONTROL_PLANE_OUTPUT === 'true';

  removeStaleFolders();
  const dir = await mkdtemp(join(tmpdir(), tempPrefix));
  await writeFile(join(dir, 'owner.pid'), String(process.pid));
  const processes: Process[] = [];
  const stopAll = async (): Promise<void> => {
    for (const p of [...processes].reverse()) await p.stop(stopTimeout);
  };

  try {
    const pki = await createPki(
      join(dir, 'pki'),
      {
        admin: { user: 'kube-inspector-admin', groups: ['system:masters'] },
        'controller-manager': {
          user: 'system:kube-controller-manager',
          groups: ['system:masters'],
        },
      },
      7,
      {
        ipAddresses: options.node?.servingIpAddresses ?? [],
        dnsNames: options.node?.servingDnsNames ?? [],
      },
    );
    const [etcdClient, etcdPeer, apiPort, kcmPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const server = `https://127.0.0.1:${apiPort}`;
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const deadline = Date.now() + startTimeout;

    const etcd = new Process(
      'etcd',
      binaries.etcd,
      [
        '--name=control-plane',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=control-plane=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      join(dir, 'etcd.log'),
      attach,
    );
    processes.push(etcd);
    etcd.start();
    await waitUntil('etcd', etcd, deadline, () => httpOk(`${etcdUrl}/health`));

    const apiServer = new Process(
      'kube-apiserver',
      binaries['kube-apiserver'],
      [
        `--etcd-servers=${etcdUrl}`,
        `--secure-port=${apiPort}`,
        '--bind-address=127.0.0.1',
        // Machines without a default route need this (no interface to advertise otherwise).
        '--advertise-address=127.0.0.1',
        '--endpoint-reconciler-type=none',
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        `--cert-dir=${join(dir, 'pki')}`,
        `--client-ca-file=${pki.caCert}`,
        '--authorization-mode=RBAC',
        // No service-account controller runs, so no default service account is made.
        ...(options.node ? [] : ['--disable-admission-plugins=ServiceAccount']),
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        `--service-account-issuer=${server}`,
        `--service-account-key-file=${pki.serviceAccountPublicKey}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        '--profiling=false',
        // The aggregation layer, as kubeadm configures it: kube-apiserver proxies to aggregated
        // API servers with the front-proxy client certificate and names the user in headers.
        // --enable-aggregator-routing stays off: only the default (Service) resolver follows
        // ExternalName Services, which is how an API server on loopback is reached without
        // kube-proxy (the endpoint resolver needs EndpointSlices, which refuse loopback).
        `--requestheader-client-ca-file=${pki.frontProxyCa.cert}`,
        `--requestheader-allowed-names=${frontProxyClientName}`,
        '--requestheader-username-headers=X-Remote-User',
        '--requestheader-group-headers=X-Remote-Group',
        '--requestheader-extra-headers-prefix=X-Remote-Extra-',
        '--requestheader-uid-headers=X-Remote-Uid',
        `--proxy-client-cert-file=${pki.frontProxyClient.cert}`,
        `--proxy-client-key-file=${pki.frontProxyClient.key}`,
        ...(options.apiServerArgs ?? []).map((arg) => arg.replaceAll('{dir}', dir)),
      ],
      join(dir, 'kube-apiserver.log'),
      attach,
    );
    processes.push(apiServer);
    const startApiServer = async (until: number): Promise<void> => {
      apiServer.start();
      await waitUntil('kube-apiserver', apiServer, until, async () => {
        const ready = await httpsGet(`${server}/readyz`, pki, 'admin');
        if (ready.status !== 200) return false;
        const ns = await httpsGet(`${server}/api/v1/namespaces/default`, pki, 'admin');
        return ns.status === 200;
      });
    };
    await startApiServer(deadline);

    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, await kubeconfigFor(pki, 'admin', server), { mode: 0o600 });
    const kcmKubeconfig = join(dir, 'controller-manager.kubeconfig');
    await writeFile(kcmKubeconfig, await kubeconfigFor(pki, 'controller-manager', server), {
      mode: 0o600,
    });

    const kcm = new Process(
      'kube-controller-manager',
      binaries['kube-controller-manager'],
      [
        `--kubeconfig=${kcmKubeconfig}`,
        `--authentication-kubeconfig=${kcmKubeconfig}`,
        `--authorization-kubeconfig=${kcmKubeconfig}`,
        `--controllers=${(options.controllers ?? defaultControllers).join(',')}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
      ],
      join(dir, 'kube-controller-manager.log'),
      attach,
    );
    processes.push(kcm);
    kcm.start();
    await waitUntil('kube-controller-manager', kcm, deadline, async () => {
      const health = await httpsGet(`https://127.0.0.1:${kcmPort}/healthz`, pki, 'admin');
      return health.status === 200;
    });

    return {
      kubeconfig,
      server,
      dir,
      binaries,
      owned: true,
      etcdUrl,
      pki,
      async stop() {
        await stopAll();
        if (!options.keep) await rm(dir, { recursive: true, force: true });
      },
      async restartApiServer() {
        await apiServer.stop(stopTimeout, 'SIGKILL');
        await startApiServer(Date.now() + startTimeout);
      },
    };
  } catch (err) {
    await stopAll();
    if (!options.keep) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
