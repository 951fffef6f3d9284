// The controller's RBAC is exactly what its code uses. The controller runs as a process with
// the Deployment's own arguments, authenticated as its service account (the kubeconfig
// impersonates system:serviceaccount:kube-inspector-system:kube-inspector-controller, so the
// real API server enforces the ClusterRole and Role of manifests/), against a control plane
// that writes an audit log. A scenario makes every controller work: a node with an agent and
// an inventory, a Deployment whose image needs a pull secret, a suppression rule, an assessment
// run, and a Finding custom resource of an earlier version to import; the process serves its
// findings API, registered with the control plane. Then the audit log says which requests the
// controller made: none may be refused, each
// must be granted, and every granted verb must have been used or be listed below with the
// reason this scenario does not use it.
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { type ControlPlane, startControlPlane } from '../../hack/control-plane/control-plane.ts';
import { issueServingCertificate } from '../../hack/control-plane/pki.ts';
import { kinds } from '../../src/controllers/informers.ts';
import { coveredResourceName } from '../../src/coverage/names.ts';
import { KubeClient, isNotFound } from '../../src/kube/client.ts';
import { core, objectPath, type KubeObject } from '../../src/kube/resources.ts';
import { freePort, pushImage, startRegistry, type TestRegistry } from '../support/registry.ts';
import {
  AGENT_LABELS,
  type PushedImage,
  Writer,
  kubeletNodeStatus,
  namespaceObject,
  nodeObject,
  pullSecret,
  runPod,
  runWorkload,
  testImage,
} from './coverage-fixtures.ts';
import { BOOKWORM_PACKAGES, applyNodeInventory } from './findings-fixtures.ts';
import {
  type AggregatedApi,
  findingsGroup,
  findingsVersion,
  registerAggregatedApi,
} from './findings-api-harness.ts';
import { eventually } from './helpers.ts';
import {
  ADMIN_NAMESPACE,
  CONTROLLER_SA,
  type Manifest,
  applyManifests,
  kubectlOf,
  expandedArgs,
  find,
  podSpec,
  renderManifests,
  repoRoot,
} from './manifests.ts';

const SA_USER = `system:serviceaccount:${ADMIN_NAMESPACE}:${CONTROLLER_SA}`;
const APP_NAMESPACE = 'shop';
const NODE = 'node-a';

/**
 * Granted verbs this scenario does not (or not always) exercise, with the reason they are
 * granted. A verb that is neither used nor listed fails the test: drop it from the role, or say
 * here why it stays.
 */
const NOT_EXERCISED: Record<string, string> = {
  'events.k8s.io/events:patch':
    'an Event that repeats is folded into a series whose count is patched; whether one repeats here depends on timing',
  'kubeinspector.io/assessmentruns:patch':
    'with concurrencyPolicy Replace, a scheduled run still going at the next tick is stopped by a patch of spec.stop: two schedule ticks',
  'gateway.networking.k8s.io/httproutes:watch':
    "the Gateway API's CRDs are not installed here: the list is answered 404 and no watch starts (rules-packages.test.ts installs them and follows a route)",
  'gateway.networking.k8s.io/gateways:watch':
    "the Gateway API's CRDs are not installed here: the list is answered 404 and no watch starts (rules-packages.test.ts installs them and follows a route through a Gateway)",
  'kubeinspector.io/assessmentruns:delete':
    "finished scheduled runs beyond the template's history limits are deleted; a run collects for at least 180 s",
};

/** The registry wants credentials: the controller has to read the pull secrets. */
const PULL = { username: 'scanner', password: 'pull-secret-password' };

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

interface AuditEvent {
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  impersonatedUser?: { username: string };
  objectRef?: { apiGroup?: string; resource?: string; subresource?: string; namespace?: string };
  responseStatus?: { code?: number };
}

/** `group/resource[/subresource]:verb`, the unit a rule grants. */
const permission = (group: string, resource: string, verb: string): string =>
  `${group === '' ? 'core' : group}/${resource}:${verb}`;

let plane: ControlPlane;
let scratch: string;
let objects: Manifest[];
let admin: KubeClient;
let registry: TestRegistry;
let databaseDir: string;
let controller: ChildProcess | undefined;
let findingsApi: AggregatedApi | undefined;
let controllerLog = '';
let metricsText = '';
let requests: AuditEvent[] = [];

/** The admin kubeconfig, impersonating the controller's service account. */
async function serviceAccountKubeconfig(): Promise<string> {
  const config = parse(await readFile(plane.kubeconfig, 'utf8')) as {
    users: { name: string; user: Record<string, unknown> }[];
  };
  for (const u of config.users) u.user.as = SA_USER;
  const path = join(scratch, 'controller.kubeconfig');
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}

async function startControllerProcess(): Promise<{ metrics: number; probes: number }> {
  const container = podSpec(find(objects, 'Deployment', 'kube-inspector-controller'))
    .containers[0]!;
  const [command, ...flags] = expandedArgs(objects, container);
  expect(command).toBe('controller');
  const ports = { metrics: await freePort(), probes: await freePort(), findings: await freePort() };
  // The findings API on loopback, behind a Service of the test's own (ExternalName: no
  // kube-proxy here) with a serving certificate for it.
  const service = { name: 'findings-api-test', namespace: ADMIN_NAMESPACE };
  const serving = await issueServingCertificate(join(scratch, 'serving'), service);
  // The Deployment's flags, then what differs in a test: where the cluster, the database,
  // the cache and the registry are, and ports on loopback (a later flag wins).
  const args = [
    '--disable-warning=ExperimentalWarning',
    join(repoRoot, 'src', 'cli', 'main.ts'),
    'controller',
    ...flags,
    `--kubeconfig=${await serviceAccountKubeconfig()}`,
    `--metrics-bind-address=127.0.0.1:${ports.metrics}`,
    `--health-probe-bind-address=127.0.0.1:${ports.probes}`,
    `--vulnerability-db=${databaseDir}`,
    `--scan-cache-dir=${join(scratch, 'cache')}`,
    `--insecure-registry=${registry.host}`,
    `--findings-db=${join(scratch, 'findings', 'findings.db')}`,
    `--findings-api-bind-address=127.0.0.1:${ports.findings}`,
    `--tls-cert-file=${serving.cert}`,
    `--tls-private-key-file=${serving.key}`,
    '--findings-deleter=system:kube-controller-manager',
  ];
  controller = spawn(process.execPath, args, {
    env: {
      ...process.env,
      POD_NAMESPACE: ADMIN_NAMESPACE,
      POD_NAME: 'kube-inspector-controller-0',
      KUBECONFIG: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer): void => {
    controllerLog = (controllerLog + chunk.toString()).slice(-200_000);
  };
  controller.stdout?.on('data', keep);
  controller.stderr?.on('data', keep);
  await eventually(
    'the controller to be ready',
    async () => {
      if (controller?.exitCode !== null) {
        throw new Error(`controller exited with ${controller?.exitCode}:\n${controllerLog}`);
      }
      const res = await fetch(`http://127.0.0.1:${ports.probes}/readyz`);
      return res.ok ? true : undefined;
    },
    90_000,
  );
  findingsApi = await registerAggregatedApi(admin, {
    group: findingsGroup,
    version: findingsVersion,
    service,
    port: ports.findings,
    caBundle: serving.caBundle,
  });
  return ports;
}

async function stopControllerProcess(): Promise<number | null> {
  const child = controller;
  if (child === undefined || child.exitCode !== null) return child?.exitCode ?? null;
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  return exited;
}

let lastState = '';

/** eventually(), with the controller's warnings and errors in the message when it times out. */
async function step<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  try {
    return await eventually(what, check, timeoutMs);
  } catch (err) {
    const problems = controllerLog
      .split('\n')
      .filter((l) => /"level":(40|50|60)/.test(l))
      .slice(-10)
      .map((l) => l.slice(0, 400))
      .join('\n');
    throw new Error(
      `${(err as Error).message} (${lastState})\ncontroller warnings and errors:\n${problems}`,
      {
        cause: err,
      },
    );
  }
}

async function get<T extends KubeObject>(path: string): Promise<T | undefined> {
  try {
    return await admin.get<T>(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** One of our kinds, as a person writes it. */
function ours(kind: string, name: string, namespace: string | undefined, spec: object): KubeObject {
  return {
    apiVersion: 'kubeinspector.io/v1alpha1',
    kind,
    metadata: { name, ...(namespace !== undefined ? { namespace } : {}) },
    spec,
  };
}

const scanConfiguration = (scanTypes: string[]): KubeObject =>
  ours('ScanConfiguration', 'default', undefined, { activation: { scanTypes } });

/** What the scenario needs of every controller; returns the image pods run. */
async function writeScenario(w: Writer): Promise<PushedImage> {
  const now = Date.now();
  const digest = await pushImage(registry.url, 'apps/debian', '12', testImage('debian', 'rbac'), {
    auth: PULL,
  });
  const repository = `${registry.host}/apps/debian`;
  const image: PushedImage = {
    repository,
    reference: `${repository}:12`,
    digest,
    imageID: `${repository}@${digest}`,
  };
  // Scan types listed rather than defaulted, so that a later apply without Node removes it.
  await w.apply(
    kinds.scanConfigurations,
    scanConfiguration(['Node', 'Image', 'Workload']),
    'kubectl',
  );
  await w.create(core.namespaces, namespaceObject(APP_NAMESPACE));
  const node = await w.create(core.nodes, nodeObject(NODE));
  await w.setStatus(core.nodes, node, kubeletNodeStatus({}, now), 'kubelet');
  // The node agent on the node, and the inventory it wrote.
  await runPod(
    w,
    ADMIN_NAMESPACE,
    'kube-inspector-agent-x1',
    NODE,
    [{ name: 'agent', image }],
    'Running',
    now,
    {
      labels: { ...AGENT_LABELS },
    },
  );
  // Debian 12.0's packages, several affected by the advisories of the OSV fixtures.
  await applyNodeInventory(admin, NODE, BOOKWORM_PACKAGES, new Date(now - 60_000));
  // A Deployment whose image is read with the pull secrets of the pod and its service account.
  for (const name of ['regcred', 'sa-regcred']) {
    await w.create(
      core.secrets,
      pullSecret(APP_NAMESPACE, name, registry.host, PULL.username, PULL.password),
    );
  }
  await w.create(core.serviceAccounts, {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'web', namespace: APP_NAMESPACE },
    imagePullSecrets: [{ name: 'sa-regcred' }],
  });
  await runWorkload(
    w,
    'Deployment',
    APP_NAMESPACE,
    'web',
    NODE,
    [{ name: 'web', image }],
    'Running',
    now,
    {
      serviceAccountName: 'web',
      imagePullSecrets: ['regcred'],
      labels: { app: 'web', team: 'payments' },
    },
  );
  await w.apply(
    kinds.suppressionRules,
    ours('SuppressionRule', 'accepted-low', ADMIN_NAMESPACE, {
      reason: 'Low-severity issues are accepted on this test node.',
      filterCriteria: { severity: [{ comparison: 'EQUALS', value: 'LOW' }] },
    }),
    'kubectl',
  );
  await w.apply(
    kinds.assessmentTargets,
    ours('AssessmentTarget', 'payments', APP_NAMESPACE, {
      resourceTypes: ['WORKLOAD', 'CONTAINER_IMAGE'],
      selectors: [{ matchLabels: { team: 'payments' } }],
    }),
    'kubectl',
  );
  await w.apply(
    kinds.assessmentTemplates,
    ours('AssessmentTemplate', 'payments-cve', APP_NAMESPACE, {
      targetRef: { name: 'payments' },
      rulesPackages: ['cve'],
      durationSeconds: 180,
      findingAttributes: { owner: 'team-payments' },
      // Every minute: the controller creates a run within the test.
      schedule: '* * * * *',
      concurrencyPolicy: 'Allow',
    }),
    'kubectl',
  );
  await w.apply(
    kinds.assessmentRuns,
    ours('AssessmentRun', 'payments-adhoc', APP_NAMESPACE, {
      templateRef: { name: 'payments-cve' },
    }),
    'kubectl',
  );
  return image;
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'kube-inspector-rbac-'));
  const policy = join(scratch, 'audit-policy.yaml');
  await writeFile(
    policy,
    stringify({
      apiVersion: 'audit.k8s.io/v1',
      kind: 'Policy',
      omitStages: ['RequestReceived'],
      rules: [{ level: 'Metadata' }],
    }),
  );
  plane = await startControlPlane({
    log: () => {},
    apiServerArgs: [
      `--audit-policy-file=${policy}`,
      '--audit-log-path={dir}/audit.log',
      '--audit-log-mode=blocking',
    ],
  });
  objects = await renderManifests(plane.binaries.kubectl);
  const kc = new KubeConfig();
  kc.loadFromFile(plane.kubeconfig);
  admin = await KubeClient.create(kc);
  registry = await startRegistry({ basicAuth: PULL });
  // The OSV fixtures (real advisories), without the deliberately malformed record.
  databaseDir = join(scratch, 'osv');
  cpSync(join(repoRoot, 'src', 'vulndb', 'testdata', 'osv'), databaseDir, {
    recursive: true,
    filter: (src) => !src.endsWith('malformed.json'),
  });

  await applyManifests(kubectlOf(plane));
  // A cluster upgraded from a version that kept findings as custom resources: the old CRD and
  // one Finding, imported by the controller at its first start.
  await kubectlOf(plane)(
    'apply',
    '--server-side',
    '-f',
    join(import.meta.dirname, 'fixtures', 'finding-crd-v1alpha1.yaml'),
  );
  await kubectlOf(plane)(
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/findings.kubeinspector.io',
  );
  await admin.request(
    'POST',
    `/apis/kubeinspector.io/v1alpha1/namespaces/${ADMIN_NAMESPACE}/findings`,
    {
      body: {
        apiVersion: 'kubeinspector.io/v1alpha1',
        kind: 'Finding',
        metadata: { name: 'imported-finding', namespace: ADMIN_NAMESPACE },
        spec: { attributes: { ticket: 'SEC-1' } },
      },
    },
  );
}, 300_000);

afterAll(async () => {
  await findingsApi?.unregister();
  await stopControllerProcess();
  await admin?.close();
  await registry?.stop();
  await plane?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the controller RBAC in manifests/', () => {
  it('lets the controller do its whole job as its service account', async () => {
    const ports = await startControllerProcess();
    const w = new Writer(admin);
    const image = await writeScenario(w);

    await step(
      'this replica to lead',
      async () => {
        const lease = await get<KubeObject & { spec?: { holderIdentity?: string } }>(
          `/apis/coordination.k8s.io/v1/namespaces/${ADMIN_NAMESPACE}/leases/kube-inspector-controller`,
        );
        return lease?.spec?.holderIdentity?.startsWith('kube-inspector-controller-0')
          ? true
          : undefined;
      },
      60_000,
    );
    const nodeCoverage = objectPath(kinds.coveredResources, coveredResourceName.node(NODE));
    await step(
      'the node to be covered with findings',
      async () => {
        const cr = await get<KubeObject & { status?: { scanStatus?: { reason?: string } } }>(
          nodeCoverage,
        );
        return cr?.status?.scanStatus?.reason === 'SUCCESSFUL' ? true : undefined;
      },
      120_000,
    );
    const imageCoverage = objectPath(
      kinds.coveredResources,
      coveredResourceName.image(image.repository, image.digest),
    );
    await step(
      'the image to be scanned',
      async () => {
        const cr = await get<KubeObject & { status?: { scanStatus?: { reason?: string } } }>(
          imageCoverage,
        );
        return cr?.status?.scanStatus?.reason === 'SUCCESSFUL' ? true : undefined;
      },
      120_000,
    );
    await step(
      'findings of the node',
      async () => {
        const list = await admin.get<{ items: KubeObject[] }>(
          `/apis/findings.kubeinspector.io/v1alpha1/namespaces/${ADMIN_NAMESPACE}/findings`,
          { query: { labelSelector: 'kubeinspector.io/covered-resource' } },
        );
        return list.items.length > 0 ? true : undefined;
      },
      120_000,
    );
    await step(
      'the assessment run to start',
      async () => {
        const run = await get<KubeObject & { status?: { state?: string } }>(
          objectPath(kinds.assessmentRuns, 'payments-adhoc', APP_NAMESPACE),
        );
        return run?.status?.state !== undefined ? true : undefined;
      },
      60_000,
    );

    await step(
      'a scheduled run',
      async () => {
        const runs = await admin.get<{ items: KubeObject[] }>(
          `/apis/kubeinspector.io/v1alpha1/namespaces/${APP_NAMESPACE}/assessmentruns`,
        );
        return runs.items.length >= 2 ? true : undefined;
      },
      90_000,
    );
    const imported = await step(
      'the Finding custom resource imported, and its CRD removed',
      async () => {
        const imported = await get<KubeObject & { spec?: { attributes?: object } }>(
          `/apis/findings.kubeinspector.io/v1alpha1/namespaces/${ADMIN_NAMESPACE}/findings/imported-finding`,
        );
        const crd = await get(
          '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/findings.kubeinspector.io',
        );
        lastState = `imported: ${JSON.stringify(imported?.spec)}, CRD ${crd ? 'present' : 'gone'}`;
        return imported !== undefined && crd === undefined ? imported : undefined;
      },
      60_000,
    );
    expect(imported.spec?.attributes).toEqual({ ticket: 'SEC-1' });
    // Node scanning switched off: the node's findings are deleted, then its CoveredResource.
    await w.apply(kinds.scanConfigurations, scanConfiguration(['Image', 'Workload']), 'kubectl');
    const nodeFindings = `/apis/findings.kubeinspector.io/v1alpha1/namespaces/${ADMIN_NAMESPACE}/findings?labelSelector=${encodeURIComponent(`kubeinspector.io/covered-resource=${coveredResourceName.node(NODE)}`)}`;
    await step(
      'the node to leave coverage',
      async () => {
        const cr = await get<KubeObject & { status?: { scanStatus?: { reason?: string } } }>(
          nodeCoverage,
        );
        const findings = await admin.get<{ items: KubeObject[] }>(nodeFindings);
        lastState = `CoveredResource ${cr?.status?.scanStatus?.reason ?? 'gone'}, ${findings.items.length} findings`;
        return cr === undefined ? true : undefined;
      },
      120_000,
    );

    metricsText = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
    expect(await stopControllerProcess(), controllerLog.slice(-5000)).toBe(0);

    const log = await readFile(join(plane.dir, 'audit.log'), 'utf8');
    requests = log
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as AuditEvent)
      .filter((e) => e.stage === 'ResponseComplete' && e.impersonatedUser?.username === SA_USER);
    expect(requests.length).toBeGreaterThan(20);
  }, 400_000);

  it('refuses none of its requests', () => {
    expect(requests.length).toBeGreaterThan(20);
    const refused = requests
      .filter((e) => e.responseStatus?.code === 403)
      .map((e) => `${e.verb} ${e.requestURI}`);
    expect(refused).toEqual([]);
  });

  it('grants every verb the controller used, and uses every verb it grants', () => {
    const rules = (kind: string, name: string): Rule[] =>
      (find(objects, kind, name) as unknown as { rules: Rule[] }).rules;
    const clusterWide = new Set(
      rules('ClusterRole', 'kube-inspector-controller').flatMap((r) =>
        r.apiGroups.flatMap((g) =>
          r.resources.flatMap((res) => r.verbs.map((v) => permission(g, res, v))),
        ),
      ),
    );
    const inAdminNamespace = new Set(
      rules('Role', 'kube-inspector-controller-leader-election').flatMap((r) =>
        r.apiGroups.flatMap((g) =>
          r.resources.flatMap((res) => r.verbs.map((v) => permission(g, res, v))),
        ),
      ),
    );

    // Bindings to roles every cluster has, which the findings API needs as any extension API
    // server does: system:auth-delegator (reviews) and, in kube-system only,
    // extension-apiserver-authentication-reader (the front-proxy settings).
    const delegated = new Set([
      permission('authentication.k8s.io', 'tokenreviews', 'create'),
      permission('authorization.k8s.io', 'subjectaccessreviews', 'create'),
    ]);
    const authenticationReader = new Set(
      ['get', 'list', 'watch'].map((v) => permission('', 'configmaps', v)),
    );

    const used = new Set<string>();
    const ungranted: string[] = [];
    for (const e of requests) {
      const ref = e.objectRef;
      if (ref?.resource === undefined) continue; // /version, /api discovery: open to every user
      const resource = ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource;
      const p = permission(ref.apiGroup ?? '', resource, e.verb);
      // A server-side apply that creates the object (201) is authorized as create as well.
      const needed =
        e.verb === 'patch' && e.responseStatus?.code === 201
          ? [p, permission(ref.apiGroup ?? '', resource, 'create')]
          : [p];
      for (const n of needed) {
        used.add(n);
        const granted =
          clusterWide.has(n) ||
          delegated.has(n) ||
          (ref.namespace === ADMIN_NAMESPACE && inAdminNamespace.has(n)) ||
          (ref.namespace === 'kube-system' && authenticationReader.has(n));
        if (!granted) ungranted.push(`${n} (${e.requestURI})`);
      }
    }
    expect([...new Set(ungranted)].sort()).toEqual([]);

    const unused = [...clusterWide, ...inAdminNamespace].filter(
      (p) => !used.has(p) && NOT_EXERCISED[p] === undefined,
    );
    expect(unused.sort(), `used: ${[...used].sort().join(', ')}`).toEqual([]);
    // A reason listed for a verb the role does not grant is stale.
    expect(
      Object.keys(NOT_EXERCISED).filter((p) => !(clusterWide.has(p) || inAdminNamespace.has(p))),
    ).toEqual([]);
  });

  it('never lists or watches Secrets; reads exactly the pull secrets the pod and its service account name', () => {
    const secrets = requests.filter((e) => e.objectRef?.resource === 'secrets');
    expect(secrets.filter((e) => e.verb !== 'get')).toEqual([]);
    expect(new Set(secrets.map((e) => e.requestURI.replace(/\?.*$/, '')))).toEqual(
      new Set([
        `/api/v1/namespaces/${APP_NAMESPACE}/secrets/regcred`,
        `/api/v1/namespaces/${APP_NAMESPACE}/secrets/sa-regcred`,
      ]),
    );
  });

  it('reports its memory while it works (the operations page quotes it)', () => {
    const rss = Number(/^process_resident_memory_bytes (\S+)$/m.exec(metricsText)?.[1]);
    expect(rss).toBeGreaterThan(10 * 1024 * 1024);
    console.log(`controller RSS during the RBAC scenario: ${(rss / 1024 / 1024).toFixed(0)} MiB`);
  });
});
