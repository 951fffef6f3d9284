// Integration-test harness for the product controllers: a control plane of the test file's
// own (cluster-scoped objects such as Nodes, CoveredResources and the `default`
// ScanConfiguration would otherwise leak between files), the CRDs installed, the
// administrator namespace, and the controllers running in-process on a Manager exactly as
// `kube-inspector controller` runs them, with the findings API the process serves (the
// product's own startFindingsServing): the SQLite store on a file of the environment (its
// volume, kept across controller restarts, opened by the lease holder), an HTTPS server with a
// serving certificate for <service>.<namespace>.svc, and the APIService that registers it with
// the control plane. The environment's Service port is a TCP relay to a ready controller, as a
// Service sends traffic only to ready pods.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { parseAllDocuments } from 'yaml';
import { type ControlPlane, startControlPlane } from '../../hack/control-plane/control-plane.ts';
import { issueServingCertificate, type ServingCertificate } from '../../hack/control-plane/pki.ts';
import type { ControllerDeps, ControllerSetup } from '../../src/controllers/deps.ts';
import { SETUPS, defaultDeps } from '../../src/controllers/index.ts';
import type { ImageInventoryStore } from '../../src/controllers/image-inventories.ts';
import { type FindingsServing, startFindingsServing } from '../../src/cli/findings-serving.ts';
import type { FindingStore } from '../../src/findings-store/store.ts';
import { KubeClient, type ClientOptions } from '../../src/kube/client.ts';
import { type Clock, systemClock } from '../../src/runtime/clock.ts';
import { Manager, type LeaderElector } from '../../src/runtime/manager.ts';
import { createImageScanner, type ImageScanner } from '../../src/scanner/index.ts';
import type { DatabaseSource } from '../../src/vulndb/source.ts';
import {
  type AggregatedApi,
  findingsGroup,
  findingsVersion,
  registerAggregatedApi,
} from './findings-api-harness.ts';
import { endInput } from '../support/child-input.ts';

const execFileAsync = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

/** Where the controller process serves its findings API, the same for every controller of one environment. */
export interface FindingsApiPlacement {
  /** The SQLite file (in a cluster, on the PersistentVolume): a new process opens the same one. */
  storePath: string;
  /** The Service's port on 127.0.0.1: relayed to a ready controller's findings API. */
  port: number;
  /** The Service the APIService names. */
  service: { name: string; namespace: string };
  /** Issued for <service>.<namespace>.svc by a CA of the environment (the APIService's caBundle). */
  serving: ServingCertificate;
  /** The controller's username: the only one the API lets write status and create findings. */
  controllerUsername: string;
}

/** A controller process as the Service sees it: its findings API port and its readiness. */
interface Endpoint {
  port: number;
  ready(): Promise<boolean>;
}

/**
 * A TCP relay on `port` that sends each new connection to the first ready endpoint (the newest
 * when none is ready), as kube-proxy sends a Service's traffic to ready pods. TLS passes through.
 */
async function startServiceRelay(endpoints: Endpoint[]): Promise<{ port: number; server: Server }> {
  const pick = async (): Promise<Endpoint | undefined> => {
    for (const e of endpoints) if (await e.ready()) return e;
    return endpoints.at(-1);
  };
  const server = createServer((client: Socket) => {
    client.pause();
    void pick().then((target) => {
      if (target === undefined) {
        client.destroy();
        return;
      }
      const upstream = connect(target.port, '127.0.0.1');
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
      client.resume();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ProductEnvironment {
  plane: ControlPlane;
  kubeConfig: KubeConfig;
  client: KubeClient;
  adminNamespace: string;
  /** kubectl against this control plane; resolves to stdout. */
  kubectl(...args: string[]): Promise<string>;
  /** kubectl with stdin. */
  kubectlWithInput(input: string, ...args: string[]): Promise<string>;
  /** Server-side apply of objects as the field manager `kubectl` (a person). */
  apply(...objects: object[]): Promise<string>;
  /** Where controllers of this environment serve the findings API and keep its store. */
  findings: FindingsApiPlacement;
  /** The controllers' findings API endpoints behind the Service (internal to the harness). */
  endpoints: Endpoint[];
  /** Removes the findings APIService if a controller left it, stops the control plane, removes the store. */
  stop(): Promise<void>;
}

/** Every document of the YAML files in crds/. */
export async function crdDocuments(): Promise<object[]> {
  const dir = join(root, 'crds');
  const files = (await readdir(dir)).filter((f) => /^kubeinspector\.io_.*\.yaml$/.test(f)).sort();
  const docs: object[] = [];
  for (const f of files) {
    for (const d of parseAllDocuments(await readFile(join(dir, f), 'utf8'))) {
      const v = d.toJS() as object | null;
      if (v !== null) docs.push(v);
    }
  }
  return docs;
}

/**
 * Starts a control plane for one test file (or uses USE_EXISTING_CLUSTER), installs crds/ and
 * creates the administrator namespace.
 */
export async function startProductEnvironment(
  options: { adminNamespace?: string } = {},
): Promise<ProductEnvironment> {
  const plane = await startControlPlane({ log: () => {} });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(plane.kubeconfig);
  const client = await KubeClient.create(kubeConfig);
  const adminNamespace = options.adminNamespace ?? 'kube-inspector-system';
  const scratch = await mkdtemp(join(tmpdir(), 'ki-product-'));
  const service = { name: 'kube-inspector-findings-api', namespace: adminNamespace };
  const endpoints: Endpoint[] = [];
  const relay = await startServiceRelay(endpoints);
  const findings: FindingsApiPlacement = {
    storePath: join(scratch, 'findings.db'),
    port: relay.port,
    service,
    serving: await issueServingCertificate(scratch, service),
    controllerUsername: `system:serviceaccount:${adminNamespace}:kube-inspector-controller`,
  };

  const run = async (input: string | undefined, args: string[]): Promise<string> => {
    const child = execFileAsync(
      plane.binaries.kubectl,
      ['--kubeconfig', plane.kubeconfig, ...args],
      {
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    let inputError: Error | undefined;
    if (input !== undefined) endInput(child.child, input, (err) => (inputError = err));
    const { stdout } = await child;
    if (inputError) throw inputError;
    return stdout;
  };
  const env: ProductEnvironment = {
    plane,
    kubeConfig,
    client,
    adminNamespace,
    kubectl: (...args) => run(undefined, args),
    kubectlWithInput: (input, ...args) => run(input, args),
    apply: (...objects) =>
      run(objects.map((o) => JSON.stringify(o)).join('\n'), [
        'apply',
        '--server-side',
        '--field-manager=kubectl',
        '--force-conflicts',
        '-f',
        '-',
      ]),
    findings,
    endpoints,
    async stop() {
      await client
        .request(
          'DELETE',
          '/apis/apiregistration.k8s.io/v1/apiservices/v1alpha1.findings.kubeinspector.io',
        )
        .catch(() => undefined);
      await client.close();
      relay.server.close();
      await plane.stop();
      await rm(scratch, { recursive: true, force: true });
    },
  };
  const crds = (await crdDocuments()) as { metadata: { name: string } }[];
  await env.apply(...crds);
  await env.kubectl(
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...crds.map((c) => `crd/${c.metadata.name}`),
  );
  await env.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: adminNamespace } });
  return env;
}

export interface ControllerOptions {
  clock?: Clock;
  scanner?: ImageScanner;
  /** Registries reached over plain HTTP by the default scanner (the loopback registry). */
  insecureRegistries?: readonly string[];
  database?: DatabaseSource;
  images?: ImageInventoryStore;
  leaderElector?: LeaderElector;
  /** Which areas to run; default every registered one. */
  setups?: readonly ControllerSetup[];
  scanConcurrency?: number;
  log?: Logger;
  /** The controller's API client limit (the CLI's --kube-api-qps and --kube-api-burst). */
  client?: ClientOptions;
  /** Reflector tuning, for tests that restart watches. */
  reflector?: {
    minWatchTimeoutSeconds?: number;
    inactivityMs?: number;
    optionalRecheckMs?: number;
  };
}

export interface RunningController {
  manager: Manager;
  registry: Registry;
  deps: ControllerDeps;
  /**
   * The findings store as the controllers use it: the environment's file while this process
   * leads, otherwise every call fails with 503 ServiceUnavailable.
   */
  store: FindingStore;
  /** The findings API this process serves (its own port, behind the environment's Service). */
  findingsApi: FindingsServing & { port: number };
  /** The /metrics text. */
  metrics(): Promise<string>;
  /**
   * Unregisters the findings API (APIService first), stops the controllers and the server and
   * closes the store. With `keepApiService` the APIService and Service stay, as when a pod is
   * replaced (a crash, a rolling upgrade) and the installed objects remain.
   */
  stop(options?: { keepApiService?: boolean }): Promise<void>;
}

/**
 * Polls a manager's /readyz until it answers 200 (caches synced) and `serving()` holds (the
 * store open: the replica's pod would carry the serving label the Service selects, ADR 710).
 */
async function untilReady(
  manager: Manager,
  serving: () => boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The probe port is known once the manager's servers listen.
    const res = await fetch(`http://127.0.0.1:${manager.ports.probes}/readyz`).catch(
      () => undefined,
    );
    if (res?.ok && serving()) return;
    if (Date.now() > deadline) {
      const why = (await res?.text().catch(() => '')) ?? 'no answer';
      throw new Error(`controller not ready within ${timeoutMs} ms: ${why}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The findings side of the process, as `kube-inspector controller` starts it: the API on a port
 * of its own (an endpoint of the environment's Service), the store opened under the lease.
 */
async function serveFindings(
  env: ProductEnvironment,
  manager: Manager,
  log: Logger,
  signal: AbortSignal,
): Promise<FindingsServing & { port: number }> {
  const port = await freePort();
  const serving = startFindingsServing(
    manager,
    {
      dbPath: env.findings.storePath,
      host: '127.0.0.1',
      port,
      certFile: env.findings.serving.cert,
      keyFile: env.findings.serving.key,
      controllerUsernames: [env.findings.controllerUsername],
      // The control plane's controller manager runs every controller under one identity.
      deleterUsernames: ['system:kube-controller-manager'],
    },
    log,
    signal,
  );
  return { ...serving, port };
}

/** Registers the findings API with the control plane (idempotent) once it is served. */
function registerFindings(env: ProductEnvironment): Promise<AggregatedApi> {
  return registerAggregatedApi(env.client, {
    group: findingsGroup,
    version: findingsVersion,
    service: env.findings.service,
    port: env.findings.port,
    caBundle: env.findings.serving.caBundle,
  });
}

/** Runs the product controllers in-process against the environment until stop(). */
export async function startController(
  env: ProductEnvironment,
  options: ControllerOptions = {},
): Promise<RunningController> {
  const log = options.log ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const registry = new Registry();
  const manager = await Manager.create({
    kubeConfig: env.kubeConfig,
    log,
    registry,
    bindAddress: '127.0.0.1',
    metricsPort: 0,
    probePort: 0,
    shutdownDeadlineMs: 10_000,
    ...(options.leaderElector ? { leaderElector: options.leaderElector } : {}),
    ...(options.reflector ? { reflector: options.reflector } : {}),
    ...(options.client ? { client: options.client } : {}),
  });
  manager.onLeadershipLost = () => log.warn('leadership lost (test manager keeps running)');
  const abort = new AbortController();
  const findings = await serveFindings(env, manager, log, abort.signal);
  const deps = defaultDeps({
    manager,
    log,
    clock: options.clock ?? systemClock,
    adminNamespace: env.adminNamespace,
    scanner:
      options.scanner ??
      createImageScanner(
        options.insecureRegistries ? { insecureRegistries: options.insecureRegistries } : {},
      ),
    database: options.database,
    findingsStore: findings.store,
    ...(options.images ? { images: options.images } : {}),
    ...(options.scanConcurrency !== undefined ? { scanConcurrency: options.scanConcurrency } : {}),
  });
  for (const setup of options.setups ?? SETUPS) setup(deps);
  const running = manager.run(abort.signal);
  await untilReady(manager, () => findings.store.isOpen);
  // The Service's endpoint: Ready and serving the store (labelled, in a cluster).
  const endpoint: Endpoint = {
    port: findings.port,
    ready: async () =>
      findings.store.isOpen &&
      (await fetch(`http://127.0.0.1:${manager.ports.probes}/readyz`).catch(() => undefined))
        ?.ok === true,
  };
  env.endpoints.unshift(endpoint);
  const registration = await registerFindings(env);
  return {
    manager,
    registry,
    deps,
    store: findings.store,
    findingsApi: findings,
    metrics: async () => (await fetch(`http://127.0.0.1:${manager.ports.metrics}/metrics`)).text(),
    async stop(stopOptions = {}) {
      if (stopOptions.keepApiService !== true) await registration.unregister();
      abort.abort();
      await running;
      await findings.stop();
      env.endpoints.splice(env.endpoints.indexOf(endpoint), 1);
    },
  };
}

/**
 * For a `kube-inspector controller` process run by a test: the flags that make it serve the
 * findings API on `port` with the environment's store and certificate, as the Deployment does.
 */
export function findingsProcessFlags(env: ProductEnvironment, port: number): string[] {
  return [
    `--findings-db=${env.findings.storePath}`,
    `--findings-api-bind-address=127.0.0.1:${port}`,
    `--tls-cert-file=${env.findings.serving.cert}`,
    `--tls-private-key-file=${env.findings.serving.key}`,
    '--findings-deleter=system:kube-controller-manager',
  ];
}

/**
 * Puts a controller process's findings API (on `port`) behind the environment's Service and
 * registers the APIService; the returned function unregisters it (APIService first).
 */
export async function attachFindingsProcess(
  env: ProductEnvironment,
  port: number,
): Promise<() => Promise<void>> {
  const endpoint: Endpoint = { port, ready: () => Promise.resolve(true) };
  env.endpoints.unshift(endpoint);
  const registration = await registerFindings(env);
  return async () => {
    await registration.unregister();
    env.endpoints.splice(env.endpoints.indexOf(endpoint), 1);
  };
}

/** A free port of 127.0.0.1 for a process of the test to listen on. */
export { freePort };
