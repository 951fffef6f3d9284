// Integration-test harness for the product controllers: a control plane of the test file's
// own (cluster-scoped objects such as Nodes, CoveredResources and the `default`
// ScanConfiguration would otherwise leak between files), the CRDs installed, the
// administrator namespace, and the controllers running in-process on a Manager exactly as
// `kube-inspector controller` runs them.
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { parseAllDocuments } from 'yaml';
import { type ControlPlane, startControlPlane } from '../../hack/control-plane/control-plane.ts';
import type { ControllerDeps, ControllerSetup } from '../../src/controllers/deps.ts';
import { SETUPS, defaultDeps } from '../../src/controllers/index.ts';
import type { ImageInventoryStore } from '../../src/controllers/image-inventories.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { type Clock, systemClock } from '../../src/runtime/clock.ts';
import { Manager, type LeaderElector } from '../../src/runtime/manager.ts';
import { createImageScanner, type ImageScanner } from '../../src/scanner/index.ts';
import type { DatabaseSource } from '../../src/vulndb/source.ts';

const execFileAsync = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

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

  const run = async (input: string | undefined, args: string[]): Promise<string> => {
    const child = execFileAsync(
      plane.binaries.kubectl,
      ['--kubeconfig', plane.kubeconfig, ...args],
      {
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    const { stdout } = await child;
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
    async stop() {
      await client.close();
      await plane.stop();
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
  /** Reflector tuning, for tests that restart watches. */
  reflector?: { minWatchTimeoutSeconds?: number; inactivityMs?: number };
}

export interface RunningController {
  manager: Manager;
  registry: Registry;
  deps: ControllerDeps;
  /** The /metrics text. */
  metrics(): Promise<string>;
  stop(): Promise<void>;
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
  });
  manager.onLeadershipLost = () => log.warn('leadership lost (test manager keeps running)');
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
    ...(options.images ? { images: options.images } : {}),
    ...(options.scanConcurrency !== undefined ? { scanConcurrency: options.scanConcurrency } : {}),
  });
  for (const setup of options.setups ?? SETUPS) setup(deps);
  const abort = new AbortController();
  const running = manager.run(abort.signal);
  // Ready once the caches synced: the same signal /readyz gives.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${manager.ports.probes}/readyz`).catch(
      () => undefined,
    );
    if (res?.ok) break;
    if (Date.now() > deadline) throw new Error('controller not ready within 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    manager,
    registry,
    deps,
    metrics: async () => (await fetch(`http://127.0.0.1:${manager.ports.metrics}/metrics`)).text(),
    async stop() {
      abort.abort();
      await running;
    },
  };
}
