// The code-scanning coverage of workloads end to end: with WorkloadCode each workload has a
// second CoveredResource of scan type CODE with its own status and reason (each reason this
// release gives, beside a workload it does not apply to), visible in `kubectl get coverage`, in
// `kube-inspector coverage`, in the ScanConfiguration's statistics and in
// kubeinspector_coverage_resources; the secrets of a workload's pod template become
// CODE_VULNERABILITY findings of that CoveredResource, named by field path, redacted and
// fingerprinted, and the secret's text is in no Finding, CoveredResource, Event, log line or
// metric. Switched off, the CODE CoveredResources and their findings go.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../src/api/v1alpha1/common.ts';
import type { CoveredResource } from '../../src/api/v1alpha1/covered-resource.ts';
import type { Finding } from '../../src/api/v1alpha1/finding.ts';
import type { ScanConfiguration } from '../../src/api/v1alpha1/scan-configuration.ts';
import { fingerprint } from '../../src/code-scan/secrets.ts';
import { fakeSecrets } from '../../src/code-scan/testing.ts';
import { setupCoverage } from '../../src/controllers/coverage/index.ts';
import { setupFindings } from '../../src/controllers/findings/index.ts';
import { coveredResourceName } from '../../src/coverage/names.ts';
import { core, type KubeObject, objectPath } from '../../src/kube/resources.ts';
import {
  type ContainerSpec,
  type PushedImage,
  DAY,
  DPKG_STATUS,
  Writer,
  createWorkload,
  deleteBlob,
  kubeletNodeStatus,
  namespaceObject,
  nodeObject,
  push,
  pushArtifact,
  kubeletPodStatus,
  podObject,
  randomHex,
  runPod,
  runWorkload,
  testImage,
  workloadObject,
} from './coverage-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';
import {
  type TestRegistry,
  type TokenFront,
  buildImage,
  startRegistry,
  startTokenFront,
} from '../support/registry.ts';

const execFileAsync = promisify(execFile);
const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;

const NS = 'shop';
const QUIET = 'quiet';
const NODE = 'worker-1';
const s = fakeSecrets('template');
const DB_PASSWORD = s['github-token']!;
const STRIPE = s['stripe-secret-key']!;
const IMAGE_SECRET = s['gitlab-token']!;
/** Every secret of the test: none may appear anywhere the product writes. */
const SECRETS = [DB_PASSWORD, STRIPE, IMAGE_SECRET];

const DEBIAN_OS_RELEASE =
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n';

type Covered = CoveredResource & KubeObject;

describe('the code-scanning coverage of workloads', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  let registry: TestRegistry;
  let front: TokenFront;
  let w: Writer;
  const logLines: string[] = [];
  /** A watch of the CODE CoveredResources from the start: how often each one changed. */
  let watcher: ChildProcess | undefined;
  const changes = new Map<string, number>();
  const images: Record<string, PushedImage> = {};

  const configure = (scanTypes: string[]) =>
    env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: { activation: { scanTypes }, workload: { eligibilityDays: 7 } },
    });

  const covered = async (name: string): Promise<Covered | undefined> => {
    const list = JSON.parse(await env.kubectl('get', 'coverage', '-o', 'json')) as {
      items: Covered[];
    };
    return list.items.find((c) => c.metadata.name === name);
  };
  const codeName = (name: string, namespace = NS) =>
    coveredResourceName.workloadCode(namespace, 'Deployment', name);
  const packageName = (name: string, namespace = NS) =>
    coveredResourceName.workload(namespace, 'Deployment', name);
  const reasonOf = async (crName: string, reason: string): Promise<Covered> =>
    eventually(
      `${crName} to be ${reason}`,
      async () => {
        const cr = await covered(crName);
        return cr?.status?.scanStatus.reason === reason ? cr : undefined;
      },
      120_000,
    );
  const findingsOf = async (crName: string): Promise<Finding[]> =>
    (
      JSON.parse(
        await env.kubectl(
          'get',
          'findings',
          '-n',
          env.adminNamespace,
          '-o',
          'json',
          '-l',
          `${LABELS.coveredResource}=${crName}`,
        ),
      ) as { items: Finding[] }
    ).items;

  /** A Deployment whose container `app` carries `env` and `args`, with one running pod. */
  async function runWithTemplate(
    name: string,
    image: PushedImage,
    template: { env?: { name: string; value: string }[]; args?: string[] },
    labels: Record<string, string> = {},
    namespace = NS,
  ): Promise<void> {
    const containers: ContainerSpec[] = [{ name: 'app', image }];
    const obj = workloadObject('Deployment', namespace, name, containers, { labels });
    const spec = obj.spec as { template: { spec: { containers: Record<string, unknown>[] } } };
    Object.assign(spec.template.spec.containers[0]!, template);
    const deployment = await w.create(core.deployments, obj);
    const rs = await createWorkload(w, 'ReplicaSet', namespace, `${name}-7c9d8f6b5`, containers, {
      labels: { app: name },
      owner: deployment,
    });
    await runPod(
      w,
      namespace,
      `${name}-${randomHex().slice(0, 5)}`,
      NODE,
      containers,
      'Running',
      Date.now() - 60_000,
      { labels: { app: name }, owner: rs },
    );
  }

  beforeAll(async () => {
    env = await startProductEnvironment();
    registry = await startRegistry();
    front = await startTokenFront(registry, { username: 'shop', password: 'not-given' });
    const log = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
    controller = await startController(env, {
      setups: [setupCoverage, setupFindings],
      insecureRegistries: [registry.host, front.host],
      log,
    });
    watcher = spawn(
      env.plane.binaries.kubectl,
      [
        '--kubeconfig',
        env.plane.kubeconfig,
        'get',
        'coverage',
        '-l',
        `${LABELS.scanType}=CODE`,
      ].concat(['--watch', '-o', 'name']),
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let pending = '';
    watcher.stdout?.on('data', (d: Buffer) => {
      const lines = (pending + d.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) if (l !== '') changes.set(l, (changes.get(l) ?? 0) + 1);
    });
    await configure(['Node', 'Image', 'Workload', 'WorkloadCode']);
    w = new Writer(env.client);
    await env.apply(namespaceObject(NS));
    await env.apply(namespaceObject(QUIET, { 'kubeinspector.io/exclude-code': '' }));
    const node = await w.create(core.nodes, nodeObject(NODE));
    await w.setStatus(core.nodes, node, kubeletNodeStatus({}, Date.now()), 'kubelet');

    const app = buildImage({
      layers: [
        [
          { path: 'etc/', type: 'dir' },
          { path: 'etc/os-release', content: DEBIAN_OS_RELEASE },
          { path: 'var/lib/dpkg/status', content: DPKG_STATUS },
          { path: 'srv/app/.env', content: `PORT=8080\nGITLAB_TOKEN=${IMAGE_SECRET}\n` },
        ],
      ],
    });
    images.app = await push(registry.url, registry.host, 'shop/api', '1.0', app);
    const broken = testImage('debian', 'code-missing-layer');
    images.broken = await push(registry.url, registry.host, 'shop/broken', '1.0', broken);
    await deleteBlob(registry.url, 'shop/broken', broken.layers[0]!.digest);
    images.artifact = await pushArtifact(registry.url, registry.host, 'shop/sbom', '1.0');
    images.private = await push(
      registry.url,
      front.host,
      'shop/private',
      '1.0',
      testImage('debian', 'code-private'),
    );

    const template = {
      env: [
        { name: 'PORT', value: '8080' },
        { name: 'DB_PASSWORD', value: DB_PASSWORD },
      ],
      args: ['--stripe-key', STRIPE],
    };
    await runWithTemplate('api', images.app, template);
    await runWithTemplate('no-code', images.app, template, {
      'kubeinspector.io/exclude-code': 'y',
    });
    await runWithTemplate('api', images.app, template, {}, QUIET);
    // A Pod with no controller: its own spec is its template.
    const solo: ContainerSpec[] = [{ name: 'app', image: images.app }];
    const bare = podObject(NS, 'solo', NODE, solo);
    Object.assign(
      (bare.spec as { containers: Record<string, unknown>[] }).containers[0]!,
      template,
    );
    const pod = await w.create(core.pods, bare);
    await w.setStatus(
      core.pods,
      pod,
      kubeletPodStatus(solo, 'Running', Date.now() - 60_000),
      'kubelet',
    );
    await runWorkload(
      w,
      'Deployment',
      NS,
      'broken',
      NODE,
      [{ name: 'app', image: images.broken }],
      'Running',
      Date.now() - 60_000,
    );
    await runWorkload(
      w,
      'Deployment',
      NS,
      'odd',
      NODE,
      [{ name: 'app', image: images.artifact }],
      'Running',
      Date.now() - 60_000,
    );
    await runWorkload(
      w,
      'Deployment',
      NS,
      'denied',
      NODE,
      [{ name: 'app', image: images.private }],
      'Running',
      Date.now() - 60_000,
    );
    await runWorkload(
      w,
      'Deployment',
      NS,
      'starting',
      NODE,
      [{ name: 'app', image: images.app }],
      'Starting',
      Date.now(),
    );
    const idle = await createWorkload(
      w,
      'Deployment',
      NS,
      'idle',
      [{ name: 'app', image: images.app }],
      { replicas: 0 },
    );
    await w.ageManagedFields(core.deployments, idle, Date.now() - 30 * DAY);
  }, 300_000);

  afterAll(async () => {
    watcher?.kill();
    await controller?.stop();
    await front?.stop();
    await registry?.stop();
    await env?.stop();
  });

  it('a workload whose images and template are scanned has SUCCESSFUL code coverage of its own', async () => {
    const cr = await reasonOf(codeName('api'), 'SUCCESSFUL');
    expect(cr.status).toMatchObject({
      resourceType: 'WORKLOAD',
      resourceId: `${NS}/Deployment/api`,
      scanType: 'CODE',
      scanStatus: { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' },
      workload: { kind: 'Deployment', images: [images.app!.imageID] },
    });
    expect(cr.status?.lastScannedAt).toBeDefined();
    expect(cr.metadata.labels).toMatchObject({
      [LABELS.scanType]: 'CODE',
      [LABELS.reason]: 'SUCCESSFUL',
      [LABELS.resourceNamespace]: NS,
    });
    const pkg = await reasonOf(packageName('api'), 'SUCCESSFUL');
    expect(pkg.status?.scanType).toBe('PACKAGE');
  });

  it.each([
    ['the code exclusion label on the workload', 'no-code', NS, 'EXCLUDED_BY_TAG'],
    ['the code exclusion label on its namespace', 'api', QUIET, 'EXCLUDED_BY_TAG'],
    ['no run or change within the eligibility window', 'idle', NS, 'SCAN_ELIGIBILITY_EXPIRED'],
    ['an image layer the registry no longer serves', 'broken', NS, 'INTERNAL_ERROR'],
    ['an image that is not one (an SBOM artifact)', 'odd', NS, 'UNSUPPORTED_RUNTIME'],
    ['an image the registry refuses', 'denied', NS, 'ACCESS_DENIED'],
    ['a pod that reports no image digest yet', 'starting', NS, 'PENDING_INITIAL_SCAN'],
  ])('%s: the CODE coverage of %s (namespace %s) is %s', async (_why, name, namespace, reason) => {
    const cr = await reasonOf(codeName(name, namespace), reason);
    expect(cr.status?.scanType).toBe('CODE');
    expect(cr.status?.scanStatus.statusCode).toBe(
      reason === 'PENDING_INITIAL_SCAN' ? 'ACTIVE' : 'INACTIVE',
    );
    if (
      reason === 'INTERNAL_ERROR' ||
      reason === 'UNSUPPORTED_RUNTIME' ||
      reason === 'ACCESS_DENIED'
    )
      expect(cr.status?.scanStatus.message).toMatch(/image /);
    // The code exclusion label leaves package coverage alone.
    if (name === 'no-code') {
      const pkg = await reasonOf(packageName(name), 'SUCCESSFUL');
      expect(pkg.status?.scanStatus.statusCode).toBe('ACTIVE');
    }
    // The successful workload is the counter-case of every reason.
    expect((await covered(codeName('api')))?.status?.scanStatus.reason).toBe('SUCCESSFUL');
  });

  it('the pod template’s secrets are findings of the CODE coverage, by field path, redacted, fingerprinted', async () => {
    const found = await eventually(
      'the pod template’s findings',
      async () => {
        const f = (await findingsOf(codeName('api'))).filter(
          (x) => x.status?.type === 'CODE_VULNERABILITY' && x.status.status === 'ACTIVE',
        );
        return f.length >= 2 ? f : undefined;
      },
      90_000,
    );
    const byRule = new Map(found.map((f) => [f.status?.ruleId, f]));
    const db = byRule.get('github-token');
    expect(db?.status).toMatchObject({
      severity: 'CRITICAL',
      resource: { type: 'WORKLOAD', kind: 'Deployment', namespace: NS, name: 'api' },
      codeVulnerabilityDetails: {
        detectorId: 'github-token',
        fieldPath: 'spec.template.spec.containers[name=app].env[name=DB_PASSWORD].value',
        secret: { fingerprint: fingerprint(DB_PASSWORD) },
      },
    });
    expect(db?.status?.codeVulnerabilityDetails?.secret?.redacted).toMatch(/\*/);
    expect(byRule.get('stripe-secret-key')?.status?.codeVulnerabilityDetails?.fieldPath).toBe(
      'spec.template.spec.containers[name=app].args[1]',
    );
    // Excluded from code scanning: its template's secrets are not reported.
    const excluded = await findingsOf(codeName('no-code'));
    expect(excluded.filter((f) => f.status?.status === 'ACTIVE')).toEqual([]);
  });

  it('a bare Pod’s own spec is scanned: its secrets are findings of its CODE coverage, by the pod’s field path', async () => {
    const name = coveredResourceName.workloadCode(NS, 'Pod', 'solo');
    const found = await eventually(
      'the bare Pod’s findings',
      async () => {
        const f = (await findingsOf(name)).filter(
          (x) => x.status?.type === 'CODE_VULNERABILITY' && x.status.status === 'ACTIVE',
        );
        return f.length >= 2 ? f : undefined;
      },
      90_000,
    );
    const paths = found.map((f) => f.status?.codeVulnerabilityDetails?.fieldPath).sort();
    expect(paths).toEqual([
      'spec.containers[name=app].args[1]',
      'spec.containers[name=app].env[name=DB_PASSWORD].value',
    ]);
    expect(found[0]!.status?.resource).toMatchObject({
      type: 'WORKLOAD',
      kind: 'Pod',
      namespace: NS,
      name: 'solo',
    });
    expect((await covered(name))?.status?.scanStatus.reason).toBe('SUCCESSFUL');
  });

  it('a secret taken out of the pod template closes its finding; the others stay', async () => {
    const path = objectPath(core.deployments, 'api', NS);
    const current = await env.client.get<KubeObject>(path);
    const spec = current.spec as { template: { spec: { containers: { args?: string[] }[] } } };
    delete spec.template.spec.containers[0]!.args;
    await env.client.request('PUT', path, {
      body: current,
      query: { fieldManager: 'kubectl-edit' },
    });
    const status = (all: Finding[], rule: string) =>
      all.find((f) => f.status?.ruleId === rule)?.status?.status;
    const after = await eventually(
      'the Stripe key’s finding CLOSED',
      async () => {
        const all = await findingsOf(codeName('api'));
        return status(all, 'stripe-secret-key') === 'CLOSED' ? all : undefined;
      },
      60_000,
    );
    expect(status(after, 'github-token')).toBe('ACTIVE');
  });

  it('the secrets’ text is in no Finding, CoveredResource, Event, log line or metric', async () => {
    const [findings, coverage, events, metrics] = await Promise.all([
      env.kubectl('get', 'findings', '-A', '-o', 'json'),
      env.kubectl('get', 'coverage', '-o', 'json'),
      env.kubectl('get', 'events', '-A', '-o', 'json'),
      controller.metrics(),
    ]);
    expect(findings).toContain('DB_PASSWORD');
    expect(logLines.length).toBeGreaterThan(0);
    const places = { findings, coverage, events, metrics, logs: logLines.join('') };
    for (const [where, text] of Object.entries(places)) {
      for (const secret of SECRETS) {
        expect(text.includes(secret), `${where} holds a secret`).toBe(false);
        expect(text.includes(secret.slice(8)), `${where} holds part of a secret`).toBe(false);
      }
    }
  });

  it('kubectl get coverage shows the scan type, and the statistics and the metric count CODE apart', async () => {
    const out = await env.kubectl('get', 'coverage', codeName('api'), packageName('api'));
    expect(out).toMatch(
      new RegExp(
        `^${codeName('api')}\\s+WORKLOAD\\s+${NS}/Deployment/api\\s+ACTIVE\\s+SUCCESSFUL\\s+\\S+\\s+CODE\\s`,
        'm',
      ),
    );
    expect(out).toMatch(new RegExp(`^${packageName('api')}\\s.*\\sPACKAGE\\s`, 'm'));
    const selected = await env.kubectl(
      'get',
      'coverage',
      '-l',
      `${LABELS.scanType}=CODE`,
      '-o',
      'name',
    );
    expect(selected.trim().split('\n')).toHaveLength(9);

    await eventually(
      'the statistics to count the CODE coverage',
      async () => {
        const sc = JSON.parse(
          await env.kubectl('get', 'scanconfiguration', 'default', '-o', 'json'),
        ) as ScanConfiguration;
        const code = (sc.status?.statistics?.byResourceType ?? []).filter(
          (c) => c.scanType === 'CODE',
        );
        const count = (reason: string) => code.find((c) => c.reason === reason)?.count;
        return count('EXCLUDED_BY_TAG') === 2 &&
          count('SUCCESSFUL') === 2 &&
          count('UNSUPPORTED_RUNTIME') === 1
          ? true
          : undefined;
      },
      60_000,
    );
    const metrics = await controller.metrics();
    expect(metrics).toMatch(
      /^kubeinspector_coverage_resources\{resource_type="WORKLOAD",status_code="INACTIVE",reason="EXCLUDED_BY_TAG",scan_type="CODE"\} 2$/m,
    );
    // The code exclusion label leaves the package coverage of those workloads alone.
    expect(metrics).not.toMatch(/reason="EXCLUDED_BY_TAG",scan_type="PACKAGE"\} [1-9]/);
    expect(metrics).toMatch(
      /^kubeinspector_coverage_resources\{resource_type="WORKLOAD",status_code="ACTIVE",reason="SUCCESSFUL",scan_type="PACKAGE"\} [1-9]/m,
    );

    const { stdout } = await execFileAsync(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', main, 'coverage', '--type', 'WORKLOAD'],
      { env: { PATH: process.env.PATH, KUBECONFIG: env.plane.kubeconfig } },
    );
    const lines = stdout.split('\n');
    const at = lines.indexOf('CODE SCANNING');
    expect(at, stdout).toBeGreaterThan(0);
    expect(lines[at + 2]).toMatch(/^WORKLOAD\s+9\s+3\s+6$/);
    expect(stdout).toMatch(/^ {2}INACTIVE\s+EXCLUDED_BY_TAG\s+2$/m);
  });

  it('a steady cluster sees no write from the controller, CODE coverage included', async () => {
    const writes = (text: string): number => {
      let sum = 0;
      for (const line of text.split('\n')) {
        if (!line.startsWith('rest_client_requests_total{')) continue;
        if (/method="(PATCH|POST|PUT|DELETE)"/.test(line))
          sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return sum;
    };
    const versions = async () =>
      (
        JSON.parse(
          await env.kubectl('get', 'coverage', '-l', `${LABELS.scanType}=CODE`, '-o', 'json'),
        ) as { items: Covered[] }
      ).items
        .map((c) => `${c.metadata.name}@${c.metadata.resourceVersion}`)
        .sort();
    let last = writes(await controller.metrics());
    let quietSince = Date.now();
    await eventually(
      'the controller to stop writing',
      async () => {
        const now = writes(await controller.metrics());
        if (now !== last) {
          last = now;
          quietSince = Date.now();
        }
        return Date.now() - quietSince >= 5000 ? true : undefined;
      },
      90_000,
      500,
    );
    const before = { writes: writes(await controller.metrics()), versions: await versions() };
    await new Promise((r) => setTimeout(r, 10_000));
    const after = { writes: writes(await controller.metrics()), versions: await versions() };
    const perObject = [...changes.values()];
    console.info(
      `controller writes: ${before.writes} to converge (9 workloads, 2 scan types), ${after.writes - before.writes} in the next 10 s; ` +
        `CODE CoveredResource changes seen by a watch: ${perObject.reduce((a, b) => a + b, 0)} for ${perObject.length} objects ` +
        `(most ${Math.max(...perObject)} for one)`,
    );
    expect(perObject).toHaveLength(9);
    expect(before.versions).toHaveLength(9);
    expect(after.versions).toEqual(before.versions);
    expect(after.writes - before.writes).toBe(0);
  }, 150_000);

  it('without image scanning the CODE coverage says what is missing; switched off it goes, with its findings', async () => {
    await configure(['Node', 'Workload', 'WorkloadCode']);
    const cr = await reasonOf(codeName('api'), 'NO_SCAN_CONFIGURATION_ASSOCIATED');
    expect(cr.status?.scanStatus.message).toMatch(/add Image to spec\.activation\.scanTypes/);
    await eventually(
      'the template findings CLOSED while it is not scanned',
      async () => {
        const f = await findingsOf(codeName('api'));
        return f.length > 0 && f.every((x) => x.status?.status === 'CLOSED') ? true : undefined;
      },
      60_000,
    );

    await configure(['Node', 'Image', 'Workload']);
    await eventually(
      'the CODE CoveredResources and their findings gone',
      async () => {
        const left = await env.kubectl(
          'get',
          'coverage',
          '-l',
          `${LABELS.scanType}=CODE`,
          '-o',
          'name',
        );
        const findings = await findingsOf(codeName('api'));
        return left.trim() === '' && findings.length === 0 ? true : undefined;
      },
      90_000,
    );
    const pkg = await reasonOf(packageName('api'), 'SUCCESSFUL');
    expect(pkg.status?.scanType).toBe('PACKAGE');
  });
});
