// make demo: kube-inspector for real, on one machine, in a few minutes.
//
// It starts a control plane (kube-apiserver, etcd, kube-controller-manager) and a loopback
// OCI registry holding two sample images built from real package databases (Debian 12's dpkg
// status, Alpine 3.20's apk database), runs the controller (with the bundled sample
// vulnerability database: OSV records of real Debian and Alpine advisories) and the node agent
// (over a Debian 12 host root) as local processes, registers the findings API the controller
// serves (Finding is not a CRD: kube-inspector serves it from its own store through the
// aggregation layer, as in a cluster), applies examples/scenario, and prints what a
// newcomer should see: coverage, findings, an assessment run going through its states, and the
// coverage metric.
//
// This control plane runs no kubelet, scheduler or workload controllers. The demo writes the
// Node, the ReplicaSet and the Pods with the status those components would write, so the
// controller sees exactly what it would see in a real cluster.
//
// DEMO_KEEP=true leaves everything running until Ctrl-C (or `make demo-down`).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane } from './control-plane/control-plane.ts';
import { issueServingCertificate } from './control-plane/pki.ts';
import { KubeClient } from '../src/kube/client.ts';
import {
  type AggregatedApi,
  findingsGroup,
  findingsVersion,
  registerAggregatedApi,
} from '../test/integration/findings-api-harness.ts';
import {
  buildImage,
  freePort,
  pushImage,
  startRegistry,
  type TarEntry,
} from '../test/support/registry.ts';

const repo = join(import.meta.dirname, '..');
const keep = process.env.DEMO_KEEP === 'true';
const stateDir = join(repo, '.tools', 'demo');
const fixtures = join(repo, 'test', 'fixtures', 'images');
const fixture = (p: string): string => readFileSync(join(fixtures, p), 'utf8');
const NODE = 'demo-node-1';
const ADMIN = 'kube-inspector-system';

/**
 * The fixture's Debian 12 package database with some packages rolled back to earlier real
 * Debian 12 versions (the ones bookworm shipped before the security updates that fix them),
 * so the sample advisories have something to find.
 */
function debianStatus(versions: Record<string, string>): string {
  return fixture('dpkg/status')
    .split('\n\n')
    .map((stanza) => {
      const name = /^Package: (.+)$/m.exec(stanza)?.[1];
      const version = name === undefined ? undefined : versions[name];
      return version === undefined
        ? stanza
        : stanza.replace(/^Version: .+$/m, `Version: ${version}`);
    })
    .join('\n\n');
}
/** Debian 12.0 as released (June 2023): glibc before DSA-5514-1, openssl before DSA-5532-1. */
const IMAGE_DPKG = debianStatus({ libc6: '2.36-9+deb12u1', libssl3: '3.0.9-1' });
/** A node a few point releases later: glibc fixed, openssl still before DSA-5532-1. */
const HOST_DPKG = debianStatus({ libssl3: '3.0.11-1~deb12u1' });

function heading(text: string): void {
  console.log(`\n\x1b[1m== ${text}\x1b[0m`);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

mkdirSync(stateDir, { recursive: true });
writeFileSync(join(stateDir, 'demo.pid'), `${process.pid}\n`);

const plane = await startControlPlane({ log: (line) => console.error(`control-plane: ${line}`) });
const kubectl = (...args: string[]): string =>
  execFileSync(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfig, ...args], {
    encoding: 'utf8',
    cwd: repo,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
const kubectlIn = (input: string, ...args: string[]): string =>
  execFileSync(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfig, ...args], {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
const show = (...args: string[]): void => {
  console.log(`$ kubectl ${args.join(' ')}`);
  process.stdout.write(kubectl(...args));
};
/** Writes objects (and their status, as their owners would) by server-side apply. */
const applyObjects = (objects: object[], manager: string, subresource?: string): void => {
  kubectlIn(
    objects.map((o) => JSON.stringify(o)).join('\n'),
    'apply',
    '--server-side',
    '--force-conflicts',
    `--field-manager=${manager}`,
    ...(subresource ? [`--subresource=${subresource}`] : []),
    '-f',
    '-',
  );
};
const getJson = <T>(...args: string[]): T => JSON.parse(kubectl(...args, '-o', 'json')) as T;

const children: ChildProcess[] = [];
let findingsApi: AggregatedApi | undefined;
let admin: KubeClient | undefined;
const registry = await startRegistry();
const hostRoot = mkdtempSync(join(tmpdir(), 'kube-inspector-demo-host-'));
let exitCode = 0;

/** Runs `kube-inspector <args>` as a child process, prefixing its log lines. */
function run(name: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  // setpriv: the child dies with the demo, however the demo ends.
  const child = spawn(
    'setpriv',
    [
      '--pdeathsig',
      'KILL',
      '--',
      process.execPath,
      '--disable-warning=ExperimentalWarning',
      join(repo, 'src/cli/main.ts'),
      ...args,
    ],
    {
      env: { ...process.env, KUBECONFIG: plane.kubeconfig, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  const verbose = process.env.DEMO_VERBOSE === 'true';
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (line === '') continue;
        // Only warnings and errors by default: the full logs with DEMO_VERBOSE=true.
        const level = /"level":(\d+)/.exec(line)?.[1];
        if (verbose || level === undefined || Number(level) >= 40)
          console.error(`${name} | ${line}`);
      }
    });
  }
  return child;
}

async function until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s: ${what}`);
    await sleep(1000);
  }
}

try {
  heading(`control plane ${plane.server}, registry ${registry.host}`);
  show('version');

  heading('push two sample images built from real package databases');
  const dir = (path: string): TarEntry => ({ path, type: 'dir' });
  const web = buildImage({
    layers: [
      [
        dir('etc/'),
        { path: 'etc/os-release', content: fixture('dpkg/os-release') },
        dir('var/lib/dpkg/'),
        { path: 'var/lib/dpkg/status', content: IMAGE_DPKG },
      ],
    ],
  });
  const worker = buildImage({
    layers: [
      [
        dir('etc/'),
        { path: 'etc/os-release', content: fixture('apk/os-release') },
        dir('lib/apk/db/'),
        { path: 'lib/apk/db/installed', content: fixture('apk/installed') },
      ],
    ],
  });
  const images = {
    web: `${registry.host}/shop/web`,
    worker: `${registry.host}/shop/worker`,
  };
  const digests = {
    web: await pushImage(registry.url, 'shop/web', '1.0', web),
    worker: await pushImage(registry.url, 'shop/worker', '1.0', worker),
  };
  console.log(`${images.web}:1.0     ${digests.web}  (Debian 12, dpkg)`);
  console.log(`${images.worker}:1.0  ${digests.worker}  (Alpine 3.20, apk)`);

  heading('install the CRDs and the administrator namespace');
  show('apply', '--server-side', '-k', 'crds');
  kubectl(
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd',
    '-l',
    'app.kubernetes.io/part-of=kube-inspector',
  );
  show('create', 'namespace', ADMIN);

  heading(`a node, as its kubelet registers it, with the agent's pod bound to it`);
  const now = Date.now();
  applyObjects(
    [
      {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: NODE,
          labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' },
        },
      },
    ],
    'kubelet',
  );
  applyObjects(
    [
      {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: NODE },
        status: {
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'KubeletReady',
              message: 'kubelet is posting ready status',
              lastHeartbeatTime: iso(now),
              lastTransitionTime: iso(now - 3_600_000),
            },
          ],
          nodeInfo: {
            operatingSystem: 'linux',
            architecture: 'amd64',
            osImage: 'Debian GNU/Linux 12 (bookworm)',
            kernelVersion: '6.1.0-28-amd64',
            kubeletVersion: 'v1.36.3',
            containerRuntimeVersion: 'containerd://1.7.24',
            kubeProxyVersion: '',
            machineID: 'f3c6a1d2e4b5a6c7d8e9f0a1b2c3d4e5',
            systemUUID: 'f3c6a1d2-e4b5-a6c7-d8e9-f0a1b2c3d4e5',
            bootID: '0d6f4c3b-2a19-4e8f-9b7a-6c5d4e3f2a1b',
          },
        },
      },
    ],
    'kubelet',
    'status',
  );
  const agentPod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `kube-inspector-agent-${NODE}`,
      namespace: ADMIN,
      labels: {
        'app.kubernetes.io/name': 'kube-inspector',
        'app.kubernetes.io/component': 'agent',
      },
    },
    spec: {
      nodeName: NODE,
      containers: [{ name: 'agent', image: 'kube-inspector:latest', args: ['agent'] }],
    },
  };
  applyObjects([agentPod], 'daemonset-controller');
  applyObjects(
    [{ ...agentPod, spec: undefined, status: { phase: 'Running', startTime: iso(now) } }],
    'kubelet',
    'status',
  );
  show('get', 'nodes', '-o', 'wide');

  heading('run the controller and the node agent as local processes');
  mkdirSync(join(hostRoot, 'etc'), { recursive: true });
  mkdirSync(join(hostRoot, 'var/lib/dpkg'), { recursive: true });
  writeFileSync(join(hostRoot, 'etc/os-release'), fixture('dpkg/os-release'));
  writeFileSync(join(hostRoot, 'var/lib/dpkg/status'), HOST_DPKG);
  const metricsPort = await freePort();
  const findingsPort = await freePort();
  // The findings API's serving certificate, for the Service the APIService names.
  const findingsService = { name: 'kube-inspector-findings-api', namespace: ADMIN };
  const serving = await issueServingCertificate(join(hostRoot, 'serving'), findingsService);
  const controller = run('controller', [
    'controller',
    `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    '--health-probe-bind-address=127.0.0.1:0',
    `--vulnerability-db=${join(repo, 'src/vulndb/testdata/osv')}`,
    `--insecure-registry=${registry.host}`,
    '--scan-concurrency=2',
    `--findings-db=${join(hostRoot, 'findings', 'findings.db')}`,
    `--findings-api-bind-address=127.0.0.1:${findingsPort}`,
    `--tls-cert-file=${serving.cert}`,
    `--tls-private-key-file=${serving.key}`,
    '--findings-deleter=system:kube-controller-manager',
  ]);
  const agent = run('agent', [
    'agent',
    `--node-name=${NODE}`,
    `--host-root=${hostRoot}`,
    '--metrics-bind-address=127.0.0.1:0',
    '--health-probe-bind-address=127.0.0.1:0',
  ]);
  console.log(`controller pid ${controller.pid}, metrics on 127.0.0.1:${metricsPort}`);
  console.log(`agent pid ${agent.pid}, host root ${hostRoot}`);

  heading('register the findings API the controller serves (findings.kubeinspector.io)');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(plane.kubeconfig);
  admin = await KubeClient.create(kubeConfig);
  // No kube-proxy here: an ExternalName Service sends kube-apiserver to the local process.
  findingsApi = await registerAggregatedApi(admin, {
    group: findingsGroup,
    version: findingsVersion,
    service: findingsService,
    port: findingsPort,
    caBundle: serving.caBundle,
  });
  show('get', 'apiservice', `${findingsVersion}.${findingsGroup}`);

  heading('apply examples/scenario (what a team keeps in Git), with the sample image');
  const scenario = join(repo, 'examples', 'scenario');
  for (const file of [
    '00-namespace.yaml',
    '10-scan-configuration.yaml',
    '20-workload.yaml',
    '30-assessment.yaml',
    '40-suppression-rule.yaml',
  ]) {
    let text = readFileSync(join(scenario, file), 'utf8');
    if (file === '20-workload.yaml') text = text.replace(/image: \S+/, `image: ${images.web}:1.0`);
    console.log(`$ kubectl apply --server-side -f examples/scenario/${file}`);
    process.stdout.write(kubectlIn(text, 'apply', '--server-side', '-f', '-'));
  }

  heading(
    'the Deployment runs: its ReplicaSet and Pods, as the controllers and the kubelet write them',
  );
  const deployment = getJson<{
    metadata: { uid: string };
    spec: {
      template: {
        metadata: { labels: Record<string, string> };
        spec: { containers: { name: string; image: string }[] };
      };
    };
  }>('get', 'deployment', 'web', '-n', 'shop');
  const rsName = 'web-6d4b75cb6d';
  applyObjects(
    [
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: rsName,
          namespace: 'shop',
          labels: deployment.spec.template.metadata.labels,
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              name: 'web',
              uid: deployment.metadata.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: {
          replicas: 2,
          selector: { matchLabels: { 'app.kubernetes.io/name': 'web' } },
          template: deployment.spec.template,
        },
      },
    ],
    'deployment-controller',
  );
  const rs = getJson<{ metadata: { uid: string } }>('get', 'replicaset', rsName, '-n', 'shop');
  /** A pod as its controller creates it and its kubelet reports it, running one image. */
  const runPod = (
    name: string,
    labels: Record<string, string>,
    container: { name: string; image: string },
    imageID: string,
    owner?: object,
  ): void => {
    applyObjects(
      [
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name,
            namespace: 'shop',
            labels,
            ...(owner ? { ownerReferences: [owner] } : {}),
          },
          spec: { containers: [container], nodeName: NODE },
        },
      ],
      owner ? 'replicaset-controller' : 'kubectl',
    );
    const started = iso(Date.now());
    applyObjects(
      [
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, namespace: 'shop' },
          status: {
            phase: 'Running',
            startTime: started,
            conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: started }],
            containerStatuses: [
              {
                name: container.name,
                image: container.image,
                imageID,
                ready: true,
                restartCount: 0,
                started: true,
                state: { running: { startedAt: started } },
              },
            ],
          },
        },
      ],
      'kubelet',
      'status',
    );
  };
  const rsOwner = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    name: rsName,
    uid: rs.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
  for (const suffix of ['x7k2p', 'q9m4t']) {
    runPod(
      `${rsName}-${suffix}`,
      deployment.spec.template.metadata.labels,
      deployment.spec.template.spec.containers[0]!,
      `${images.web}@${digests.web}`,
      rsOwner,
    );
  }
  // A bare pod from the Alpine image, started by hand.
  runPod(
    'worker',
    { 'app.kubernetes.io/name': 'worker', 'app.kubernetes.io/part-of': 'storefront' },
    { name: 'worker', image: `${images.worker}:1.0` },
    `${images.worker}@${digests.worker}`,
  );
  show('get', 'pods', '-n', 'shop', '-o', 'wide');

  heading('coverage converges: every resource, scanned or not, and why');
  type Covered = { status?: { scanStatus?: { reason?: string } } };
  await until(
    'coverage without PENDING_INITIAL_SCAN',
    () => {
      const items = getJson<{ items: Covered[] }>('get', 'coverage').items;
      const pending = items.filter((i) => i.status?.scanStatus?.reason === 'PENDING_INITIAL_SCAN');
      return items.length > 0 && pending.length === 0 ? true : undefined;
    },
    180_000,
  );
  show('get', 'coverage');
  console.log('$ kube-inspector coverage');
  process.stdout.write(
    execFileSync(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', join(repo, 'src/cli/main.ts'), 'coverage'],
      {
        encoding: 'utf8',
        env: { ...process.env, KUBECONFIG: plane.kubeconfig },
      },
    ),
  );

  heading('continuous findings of the image and the node');
  await until(
    'findings',
    () =>
      getJson<{ items: unknown[] }>('get', 'findings', '-n', ADMIN).items.length > 0
        ? true
        : undefined,
    120_000,
  );
  show('get', 'findings', '-n', ADMIN, '--sort-by=.status.severity');
  show('get', 'findings', '-A', '-l', 'kubeinspector.io/resource-type=NODE');

  heading('the assessment run goes through its states');
  const seen: string[] = [];
  const runState = () =>
    getJson<{ status?: { state?: string } }>(
      'get',
      'assessmentrun',
      'storefront-first-run',
      '-n',
      'shop',
    ).status?.state;
  const ENDED = ['COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'ERROR', 'CANCELED'];
  /** Polls the run, printing each new state, until it reaches one of `states`. */
  const runReaches = (what: string, states: string[]) =>
    until(
      what,
      () => {
        const s = runState();
        if (s !== undefined && seen.at(-1) !== s) {
          seen.push(s);
          console.log(`state ${s}`);
        }
        return s !== undefined && states.includes(s) ? s : undefined;
      },
      120_000,
    );
  await runReaches('the run collecting data', ['COLLECTING_DATA', ...ENDED]);
  console.log(
    '$ kubectl patch assessmentrun storefront-first-run -n shop --type=merge -p \'{"spec":{"stop":{"action":"START_EVALUATION"}}}\'',
  );
  process.stdout.write(
    kubectl(
      'patch',
      'assessmentrun',
      'storefront-first-run',
      '-n',
      'shop',
      '--type=merge',
      '-p',
      '{"spec":{"stop":{"action":"START_EVALUATION"}}}',
    ),
  );
  await runReaches('the run to finish', ENDED);
  show('get', 'assessmentruns', '-n', 'shop');
  show(
    'get',
    'assessmentrun',
    'storefront-first-run',
    '-n',
    'shop',
    '-o',
    'jsonpath={range .status.stateChanges[*]}{.stateChangedAt}{"  "}{.state}{"\\n"}{end}',
  );
  show('get', 'findings', '-n', 'shop', '-l', 'kubeinspector.io/run=storefront-first-run');

  heading('the coverage metric, as Prometheus scrapes it');
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  console.log(
    metrics
      .split('\n')
      .filter(
        (l) =>
          l.startsWith('kubeinspector_coverage_resources') ||
          l.startsWith('kubeinspector_findings{'),
      )
      .join('\n'),
  );

  for (const [name, child] of [
    ['controller', controller],
    ['agent', agent],
  ] as const) {
    if (child.exitCode !== null) throw new Error(`the ${name} stopped with code ${child.exitCode}`);
  }

  if (keep) {
    heading('running; press Ctrl-C (or run make demo-down) to stop');
    console.log(`export KUBECONFIG=${plane.kubeconfig}`);
    console.log(`export PATH=${join(plane.binaries.kubectl, '..')}:$PATH`);
    await new Promise((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  }
} catch (err) {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  exitCode = 1;
} finally {
  // The APIService first, so that nothing points at a findings API that is going away.
  await findingsApi?.unregister().catch(() => undefined);
  await admin?.close();
  // Let the controller release its lease and drain before the API server goes away.
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(30_000)]);
    }),
  );
  await registry.stop();
  await plane.stop();
  rmSync(hostRoot, { recursive: true, force: true });
  rmSync(join(stateDir, 'demo.pid'), { force: true });
}
process.exit(exitCode);
