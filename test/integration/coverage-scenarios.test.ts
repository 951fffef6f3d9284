// Coverage as a user sees it: a cluster of Nodes, Pods and workloads written as a kubelet and
// the workload controllers would write them, images with real package databases in a
// loopback registry, and the coverage controller running against it. Every row of the
// scenario table names one resource and the {statusCode, reason} it must end up with; the
// sections after it check what follows from the table (kubectl output, metrics, statistics,
// zero writes once steady) and what changes it (deadlines, deletion, deactivation).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupCoverage } from '../../src/controllers/coverage/index.ts';
import type { StoredFinding } from '../../src/findings-store/store.ts';
import { REASON_IGNORED } from '../../src/api/v1alpha1/common.ts';
import { coveredResourceName as names } from '../../src/coverage/names.ts';
import { core, type KubeObject } from '../../src/kube/resources.ts';
import {
  sha256,
  startRegistry,
  startTokenFront,
  type TestRegistry,
  type TokenFront,
} from '../support/registry.ts';
import {
  AGENT_LABELS,
  CoverageHistory,
  DAY,
  HOUR,
  type CoveredResourceView,
  type InventoryOptions,
  type NodeOptions,
  type PushedImage,
  SECOND,
  Writer,
  coveredResource,
  deleteBlob,
  heldFinding,
  iso,
  kubeletNodeStatus,
  listCoveredResources,
  namespaceObject,
  nodeObject,
  pullSecret,
  push,
  pushArtifact,
  runPod,
  runWorkload,
  createWorkload,
  testImage,
  writeInventory,
  type PodOptions,
  type PodPhase,
  type WorkloadKind,
  type WorkloadOptions,
} from './coverage-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

// ---------------------------------------------------------------- the scenario

const SCAN_LABEL = 'coverage.example/scan';
const EXCLUDE = 'kubeinspector.io/exclude';
const NS = {
  apps: 'cov-apps',
  second: 'cov-second',
  outside: 'cov-outside',
  excluded: 'cov-excluded',
  toggle: 'cov-toggle',
} as const;
const USER = 'puller';
const PASSWORD = 'pull-secret-password';
/** Every node of the table runs its pods on this one. */
const WORKER = 'node-ready';

type ImageKey =
  | 'debian'
  | 'alpine'
  | 'onPush'
  | 'manual'
  | 'manualKept'
  | 'noOs'
  | 'windows'
  | 'artifact'
  | 'big'
  | 'missingLayer'
  | 'badDiffId'
  | 'privatePod'
  | 'privateAccount'
  | 'privateNone'
  | 'privateLate'
  | 'slow'
  | 'old'
  | 'outside'
  | 'excludedWorkload'
  | 'excludedNamespace'
  | 'toggle';

interface Scenario {
  env: ProductEnvironment;
  w: Writer;
  registry: TestRegistry;
  /** Token-auth front that hands out tokens only for USER/PASSWORD: private images. */
  front: TokenFront;
  /** Token front for anyone, with every response delayed: a scan that takes a while. */
  slowFront: TokenFront;
  images: Record<ImageKey, PushedImage>;
  controller: RunningController;
  history: CoverageHistory;
  /** Resource versions of the inputs once written (for "no further object change"). */
  created: number;
}

function configSpec(
  s: Pick<Scenario, 'registry'>,
  extra: { scanTypes?: string[]; badRule?: boolean } = {},
) {
  const host = s.registry.host;
  return {
    activation: {
      namespaceSelector: { matchLabels: { [SCAN_LABEL]: 'enabled' } },
      // Every apply states the whole configuration, scan types included.
      scanTypes: extra.scanTypes ?? ['Node', 'Image', 'Workload'],
    },
    node: { notReadyGraceSeconds: 60 },
    image: {
      repositoryRules: [
        { filter: `${host}/onpush/*`, frequency: 'SCAN_ON_PUSH' },
        { filter: `${host}/manual/keep-*`, frequency: 'CONTINUOUS_SCAN' },
        { filter: `${host}/manual/**`, frequency: 'MANUAL' },
        ...(extra.badRule ? [{ filter: `${host}/***`, frequency: 'MANUAL' }] : []),
      ],
      rescanDuration: 'DAYS_3',
      pullDateRescanDuration: 'DAYS_3',
      maxImageSize: '256Ki',
    },
    workload: { eligibilityDays: 7 },
  };
}

function scanConfiguration(name: string, spec: object): object {
  return {
    apiVersion: 'kubeinspector.io/v1alpha1',
    kind: 'ScanConfiguration',
    metadata: { name },
    spec,
  };
}

async function pushImages(
  registry: TestRegistry,
  front: TokenFront,
  slowFront: TokenFront,
): Promise<Record<ImageKey, PushedImage>> {
  const url = registry.url;
  const host = registry.host;
  const local = (repo: string, tag: string, image: ReturnType<typeof testImage>) =>
    push(url, host, repo, tag, image);
  // Private images live in the same registry, but pods name them through the token front.
  const behind = (repo: string, image: ReturnType<typeof testImage>) =>
    push(url, front.host, repo, '1.0', image);

  const missingLayerImage = testImage('debian', 'broken-missing-layer');
  const missingLayer = await local('broken/app', 'missing-layer', missingLayerImage);
  await deleteBlob(url, 'broken/app', missingLayerImage.layers[0]!.digest);
  // The config's diff_id names other content than the layer holds: a corrupt image.
  const badDiffId = await local(
    'broken/app',
    'bad-diff-id',
    testImage('debian', 'broken-bad-diff-id', { diffIds: [sha256('other content')] }),
  );

  return {
    debian: await local('apps/debian', '12', testImage('debian', 'debian')),
    alpine: await local('apps/alpine', '3.20', testImage('alpine', 'alpine')),
    onPush: await local('onpush/web', '1.0', testImage('debian', 'on-push')),
    manual: await local('manual/tool', '1.0', testImage('debian', 'manual')),
    manualKept: await local('manual/keep-scanning', '1.0', testImage('alpine', 'manual-kept')),
    noOs: await local('odd/static', '1.0', testImage('no-os', 'no-os')),
    windows: await local(
      'odd/windows',
      'ltsc2022',
      testImage('debian', 'windows', { platform: 'windows/amd64' }),
    ),
    artifact: await pushArtifact(url, host, 'odd/sbom', '1.0'),
    big: await local('big/data', '1.0', testImage('big', 'big')),
    missingLayer,
    badDiffId,
    privatePod: await behind('private/pod-secret', testImage('debian', 'private-pod')),
    privateAccount: await behind('private/account-secret', testImage('debian', 'private-sa')),
    privateNone: await behind('private/no-secret', testImage('debian', 'private-none')),
    privateLate: await behind('private/late', testImage('alpine', 'private-late')),
    slow: await push(url, slowFront.host, 'apps/slow', '1.0', testImage('alpine', 'slow')),
    old: await local('apps/old-batch', '1.0', testImage('debian', 'old')),
    outside: await local('apps/outside', '1.0', testImage('debian', 'outside')),
    excludedWorkload: await local('apps/excluded', '1.0', testImage('alpine', 'excluded-wl')),
    excludedNamespace: await local(
      'apps/in-excluded-ns',
      '1.0',
      testImage('alpine', 'excluded-ns'),
    ),
    toggle: await local('apps/toggle', '1.0', testImage('debian', 'toggle')),
  };
}

interface NodeCase {
  node?: NodeOptions;
  /** Bind an agent pod to it (default true). */
  agent?: boolean;
  /** undefined: no NodeInventory. Default: collected a minute ago. */
  inventory?: InventoryOptions | 'none';
}

async function addNode(
  s: Pick<Scenario, 'w' | 'env' | 'images'>,
  name: string,
  c: NodeCase,
  agentSet: KubeObject,
): Promise<void> {
  const now = Date.now();
  const node = await s.w.create(core.nodes, nodeObject(name, c.node));
  await s.w.setStatus(core.nodes, node, kubeletNodeStatus(c.node ?? {}, now), 'kubelet');
  if (c.agent ?? true) {
    await runPod(
      s.w,
      s.env.adminNamespace,
      `kube-inspector-agent-${name.slice(5)}`,
      name,
      [{ name: 'agent', image: s.images.debian }],
      'Running',
      now - HOUR,
      { labels: { ...AGENT_LABELS }, owner: agentSet },
    );
  }
  const inv = c.inventory ?? { collectedAt: now - 60 * SECOND };
  // The agent runs on the node: it reports the node's own architecture and kernel.
  if (inv !== 'none') {
    await writeInventory(s.w, name, {
      ...(c.node?.architecture !== undefined ? { architecture: c.node.architecture } : {}),
      ...(c.node?.kernelVersion !== undefined ? { kernelVersion: c.node.kernelVersion } : {}),
      ...inv,
    });
  }
}

const TABLE_NODES: Record<string, NodeCase> = {
  'node-ready': {},
  'node-arm64': { node: { architecture: 'arm64', kernelVersion: '6.1.0-28-arm64' } },
  'node-excluded': { node: { labels: { [EXCLUDE]: 'true' }, ready: 'False' } },
  'node-not-ready': { node: { ready: 'False', readySince: Date.now() - HOUR } },
  'node-unknown-windows': {
    node: { ready: 'Unknown', readySince: Date.now() - HOUR, operatingSystem: 'windows' },
  },
  'node-windows': {
    node: { operatingSystem: 'windows', osImage: 'Windows Server 2022 Datacenter' },
    agent: false,
    inventory: 'none',
  },
  'node-s390x': { node: { architecture: 's390x' } },
  'node-inventory-unsupported': {
    inventory: {
      collectedAt: Date.now() - 60 * SECOND,
      packages: 'none',
      errors: [{ code: 'UNSUPPORTED_OS', message: 'os-release ID "plan9" is not supported' }],
    },
  },
  'node-unmanaged': { agent: false },
  'node-no-inventory': { inventory: 'none' },
  'node-stale': {
    inventory: {
      collectedAt: Date.now() - 8 * DAY,
      packages: 'none',
      errors: [{ code: 'READ_ERROR', message: 'var/lib/dpkg/status: permission denied' }],
    },
  },
  'node-read-error': {
    inventory: {
      collectedAt: Date.now() - 60 * SECOND,
      packages: 'none',
      errors: [{ code: 'READ_ERROR', message: 'var/lib/dpkg/status: permission denied' }],
    },
  },
  'node-read-error-partial': {
    inventory: {
      collectedAt: Date.now() - 60 * SECOND,
      errors: [{ code: 'READ_ERROR', message: 'usr/lib/python3: permission denied' }],
    },
  },
  'node-registered': { inventory: {} },
  'node-package-limit': {
    inventory: {
      collectedAt: Date.now() - 60 * SECOND,
      truncated: true,
      errors: [
        { code: 'PACKAGE_COLLECTION_LIMIT_EXCEEDED', message: '112 packages over the limit of 12' },
      ],
    },
  },
  'node-time-limit': {
    inventory: {
      collectedAt: Date.now() - 60 * SECOND,
      errors: [
        { code: 'COLLECTION_TIME_LIMIT_EXCEEDED', message: 'collection stopped after 900 s' },
      ],
    },
  },
  'node-to-delete': {},
  'node-to-delete-held': {},
};

async function buildScenario(
  env: ProductEnvironment,
  registry: TestRegistry,
  front: TokenFront,
  slowFront: TokenFront,
): Promise<Omit<Scenario, 'controller' | 'history' | 'created'>> {
  const w = new Writer(env.client);
  const images = await pushImages(registry, front, slowFront);
  const s = { env, w, registry, front, slowFront, images };
  const now = Date.now();
  const selected = { [SCAN_LABEL]: 'enabled' };

  await env.apply(scanConfiguration('default', configSpec(s)));
  for (const ns of [
    namespaceObject(NS.apps, selected),
    namespaceObject(NS.second, selected),
    namespaceObject(NS.outside),
    namespaceObject(NS.excluded, { ...selected, [EXCLUDE]: 'yes' }),
    namespaceObject(NS.toggle, selected),
  ]) {
    await w.create(core.namespaces, ns);
  }
  await w.create(core.secrets, pullSecret(NS.apps, 'regcred', front.host, USER, PASSWORD));
  await w.create(core.secrets, pullSecret(NS.second, 'team-regcred', front.host, USER, PASSWORD));
  await w.create(core.serviceAccounts, {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'builder', namespace: NS.second },
    imagePullSecrets: [{ name: 'team-regcred' }],
  });
  await w.create(core.serviceAccounts, {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'late', namespace: NS.second },
  });

  // The agent DaemonSet in the administrator namespace; its pods are bound node by node.
  const agentSet = await createWorkload(
    w,
    'DaemonSet',
    env.adminNamespace,
    'kube-inspector-agent',
    [{ name: 'agent', image: images.debian }],
  );
  for (const [name, c] of Object.entries(TABLE_NODES)) await addNode(s, name, c, agentSet);
  // Not agents of node-unmanaged: a pod of the administrator namespace without the agent
  // labels, and a pod with the agent labels in another namespace.
  const notAgents = [
    [env.adminNamespace, 'debug-shell', { app: 'debug-shell' }],
    [NS.apps, 'fake-agent', AGENT_LABELS],
  ] as const;
  for (const [ns, name, labels] of notAgents) {
    const containers = [{ name: 'c0', image: images.debian }];
    await runPod(w, ns, name, 'node-unmanaged', containers, 'Running', now - HOUR, {
      labels: { ...labels },
    });
  }

  // Pods on the worker, Running since two hours ago unless said otherwise.
  type Start = { phase?: PodPhase; startedAt?: number };
  const containers = (imgs: PushedImage[]) => imgs.map((image, i) => ({ name: `c${i}`, image }));
  const started = (o: Start) => [o.phase ?? 'Running', o.startedAt ?? now - 2 * HOUR] as const;
  const run = (
    kind: WorkloadKind,
    ns: string,
    name: string,
    imgs: PushedImage[],
    o: WorkloadOptions & Start = {},
  ) => runWorkload(w, kind, ns, name, WORKER, containers(imgs), ...started(o), o);
  const bare = (ns: string, name: string, imgs: PushedImage[], o: PodOptions & Start = {}) =>
    runPod(w, ns, name, WORKER, containers(imgs), ...started(o), o);

  // cov-apps: one workload of every kind, and one per image outcome.
  await run('Deployment', NS.apps, 'web', [images.debian]);
  await run('StatefulSet', NS.apps, 'db', [images.alpine]);
  await run('DaemonSet', NS.apps, 'logs', [images.debian, images.alpine]);
  await run('Job', NS.apps, 'migrate', [images.alpine]);
  await run('CronJob', NS.apps, 'report', [images.onPush]);
  await bare(NS.apps, 'debug', [images.debian]);
  await run('Deployment', NS.apps, 'excluded', [images.excludedWorkload], {
    labels: { [EXCLUDE]: 'true' },
  });
  const idle = await createWorkload(
    w,
    'Deployment',
    NS.apps,
    'idle',
    [{ name: 'c0', image: images.debian }],
    {
      replicas: 0,
    },
  );
  await w.ageManagedFields(core.deployments, idle, now - 30 * DAY);
  const nightly = await createWorkload(
    w,
    'CronJob',
    NS.apps,
    'nightly',
    [{ name: 'c0', image: images.alpine }],
    {
      suspend: true,
    },
  );
  await w.setStatus(
    core.cronJobs,
    nightly,
    { lastScheduleTime: iso(now - 30 * DAY) },
    'kube-controller-manager',
  );
  await w.ageManagedFields(core.cronJobs, nightly, now - 30 * DAY);
  await run('Deployment', NS.apps, 'denied', [images.privateNone]);
  await run('Deployment', NS.apps, 'denied-and-odd', [images.noOs, images.privateNone]);
  await run('Deployment', NS.apps, 'odd', [images.noOs, images.artifact, images.windows]);
  await run('Deployment', NS.apps, 'broken', [images.missingLayer]);
  await run('Deployment', NS.apps, 'corrupt', [images.debian, images.badDiffId]);
  await bare(NS.apps, 'bulky', [images.big]);
  await run('Deployment', NS.apps, 'starting', [images.alpine], { phase: 'Starting' });
  await run('Deployment', NS.apps, 'slow', [images.slow]);
  await bare(NS.apps, 'private', [images.privatePod], { imagePullSecrets: ['regcred'] });
  await run('Job', NS.apps, 'finished', [images.old], {
    phase: 'Succeeded',
    startedAt: now - 10 * DAY,
  });
  // cov-second: a service account's pull secret, repository rules.
  await run('Deployment', NS.second, 'sa-app', [images.privateAccount], {
    serviceAccountName: 'builder',
  });
  await run('Deployment', NS.second, 'late', [images.privateLate], { serviceAccountName: 'late' });
  await bare(NS.second, 'tool', [images.manual]);
  await bare(NS.second, 'keeper', [images.manualKept]);
  // cov-outside is not selected; cov-excluded carries the exclusion label.
  await run('Deployment', NS.outside, 'elsewhere', [images.outside]);
  await bare(NS.outside, 'shared', [images.debian]);
  await bare(NS.excluded, 'inside', [images.excludedNamespace]);
  await run('Deployment', NS.toggle, 'toggle', [images.toggle]);
  return s;
}

// ---------------------------------------------------------------- the table

type Code = 'ACTIVE' | 'INACTIVE';
interface Case {
  sentence: string;
  type: 'NODE' | 'CONTAINER_IMAGE' | 'IMAGE_REPOSITORY' | 'WORKLOAD' | 'NAMESPACE';
  name: (s: Scenario) => string;
  code: Code;
  reason: string;
  check?: (cr: CoveredResourceView, s: Scenario) => void | Promise<void>;
}

const node = (
  sentence: string,
  nodeName: string,
  code: Code,
  reason: string,
  check?: Case['check'],
): Case => ({
  sentence,
  type: 'NODE',
  name: () => names.node(nodeName),
  code,
  reason,
  ...(check ? { check } : {}),
});
const image = (
  sentence: string,
  key: ImageKey,
  code: Code,
  reason: string,
  check?: Case['check'],
): Case => ({
  sentence,
  type: 'CONTAINER_IMAGE',
  name: (s) => names.image(s.images[key].repository, s.images[key].digest),
  code,
  reason,
  check: async (cr, s) => {
    expect(cr.status?.resourceId).toBe(s.images[key].imageID);
    expect(cr.status?.image?.digest).toBe(s.images[key].digest);
    expect(cr.status?.image?.repository).toBe(s.images[key].repository);
    expect(cr.metadata.labels?.['kubeinspector.io/resource-namespace']).toBeUndefined();
    await check?.(cr, s);
  },
});
const repository = (
  sentence: string,
  key: ImageKey,
  code: Code,
  reason: string,
  frequency: string,
): Case => ({
  sentence,
  type: 'IMAGE_REPOSITORY',
  name: (s) => names.repository(s.images[key].repository),
  code,
  reason,
  check: (cr, s) => {
    expect(cr.status?.resourceId).toBe(s.images[key].repository);
    expect(cr.status?.repository).toEqual({
      name: s.images[key].repository,
      scanFrequency: frequency,
    });
  },
});
const workload = (
  sentence: string,
  ns: string,
  kind: string,
  workloadName: string,
  code: Code,
  reason: string,
  check?: Case['check'],
): Case => ({
  sentence,
  type: 'WORKLOAD',
  name: () => names.workload(ns, kind, workloadName),
  code,
  reason,
  check: async (cr, s) => {
    expect(cr.status?.resourceId).toBe(`${ns}/${kind}/${workloadName}`);
    expect(cr.status?.resource).toMatchObject({ kind, namespace: ns, name: workloadName });
    expect(cr.status?.resource?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(cr.status?.workload?.kind).toBe(kind);
    expect(cr.metadata.labels?.['kubeinspector.io/resource-namespace']).toBe(ns);
    await check?.(cr, s);
  },
});
const namespace = (sentence: string, ns: string, code: Code, reason: string): Case => ({
  sentence,
  type: 'NAMESPACE',
  name: () => names.namespace(ns),
  code,
  reason,
  check: (cr) => expect(cr.status?.resourceId).toBe(ns),
});

/** The workload lists its image by digest, as `registry/repository@digest`. */
const scannedImageOf = (key: ImageKey) => (cr: CoveredResourceView, s: Scenario) =>
  expect(cr.status?.workload?.images).toContain(s.images[key].imageID);

const CASES: Case[] = [
  // ---- nodes
  node(
    'a Ready Debian node with an agent and a fresh inventory is SUCCESSFUL in the write that records its inventory, with no PENDING_INITIAL_SCAN step',
    'node-ready',
    'ACTIVE',
    'SUCCESSFUL',
    (cr, s) => {
      expect(cr.status?.resourceId).toBe('node-ready');
      expect(cr.status?.scanType).toBe('PACKAGE');
      expect(cr.status?.scanMode).toBe('AGENT_BASED');
      expect(cr.status?.node).toMatchObject({
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        kernelVersion: '6.1.0-28-amd64',
        architecture: 'amd64',
        platform: 'DEBIAN_12',
      });
      expect(cr.status?.resource).toMatchObject({ kind: 'Node', name: 'node-ready' });
      // lastScannedAt is when the inventory used was collected.
      expect(Date.now() - Date.parse(cr.status?.lastScannedAt ?? '')).toBeGreaterThanOrEqual(
        55 * SECOND,
      );
      // Its agent, pod and inventory were there before the controller started: the first
      // state written is the final one.
      expect(s.history.of(cr.metadata.name).map((o) => o.state)).toEqual(['ACTIVE/SUCCESSFUL']);
    },
  ),
  node('an arm64 node is supported and SUCCESSFUL', 'node-arm64', 'ACTIVE', 'SUCCESSFUL', (cr) =>
    expect(cr.status?.node?.architecture).toBe('arm64'),
  ),
  node(
    'a node with the exclusion label is EXCLUDED_BY_TAG even while NotReady',
    'node-excluded',
    'INACTIVE',
    'EXCLUDED_BY_TAG',
  ),
  node(
    'a node NotReady for an hour, past the 60 s grace, is RESOURCE_STOPPED',
    'node-not-ready',
    'INACTIVE',
    'RESOURCE_STOPPED',
  ),
  node(
    'a node whose Ready is Unknown past the grace is RESOURCE_STOPPED before its OS is looked at',
    'node-unknown-windows',
    'INACTIVE',
    'RESOURCE_STOPPED',
  ),
  node(
    'a Windows node is UNSUPPORTED_OS, whether or not an agent runs there',
    'node-windows',
    'INACTIVE',
    'UNSUPPORTED_OS',
  ),
  node('an s390x node is UNSUPPORTED_OS', 'node-s390x', 'INACTIVE', 'UNSUPPORTED_OS'),
  node(
    'a node whose agent reports UNSUPPORTED_OS is UNSUPPORTED_OS',
    'node-inventory-unsupported',
    'INACTIVE',
    'UNSUPPORTED_OS',
  ),
  node(
    'a node with no agent pod bound (only a plain pod of the admin namespace and an agent-labelled pod elsewhere) is RESOURCE_UNMANAGED',
    'node-unmanaged',
    'INACTIVE',
    'RESOURCE_UNMANAGED',
  ),
  node(
    'a managed node without a NodeInventory is NO_INVENTORY',
    'node-no-inventory',
    'INACTIVE',
    'NO_INVENTORY',
  ),
  node(
    'a node whose inventory is 8 days old (stale after 7) is STALE_INVENTORY before its read error counts',
    'node-stale',
    'INACTIVE',
    'STALE_INVENTORY',
  ),
  node(
    'a node whose agent could read no package database is INTERNAL_ERROR',
    'node-read-error',
    'INACTIVE',
    'INTERNAL_ERROR',
  ),
  node(
    'a node with a read error but packages collected is SUCCESSFUL',
    'node-read-error-partial',
    'ACTIVE',
    'SUCCESSFUL',
  ),
  node(
    'a node whose agent registered but never finished a collection is DEEP_INSPECTION_NO_INVENTORY',
    'node-registered',
    'ACTIVE',
    'DEEP_INSPECTION_NO_INVENTORY',
  ),
  node(
    'a node whose inventory hit the package limit is DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED',
    'node-package-limit',
    'ACTIVE',
    'DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED',
  ),
  node(
    'a node whose collection hit the time limit is DEEP_INSPECTION_COLLECTION_TIME_LIMIT_EXCEEDED',
    'node-time-limit',
    'ACTIVE',
    'DEEP_INSPECTION_COLLECTION_TIME_LIMIT_EXCEEDED',
  ),
  // ---- images
  image(
    'a Debian image running in a selected namespace is PENDING_INITIAL_SCAN, then scanned: SUCCESSFUL',
    'debian',
    'ACTIVE',
    'SUCCESSFUL',
    async (cr, s) => {
      expect(cr.status?.image?.platform).toBe('DEBIAN_12');
      expect(cr.status?.image?.architecture).toBe('amd64');
      expect(cr.status?.image?.tags).toEqual(['12']);
      expect(cr.status?.image?.pushedAt).toBe('2026-01-01T00:00:00Z');
      expect(cr.status?.image?.inUseCount).toBeGreaterThanOrEqual(4);
      expect(cr.status?.repository).toEqual({
        name: s.images.debian.repository,
        scanFrequency: 'CONTINUOUS_SCAN',
      });
      expect(cr.status?.lastScannedAt).toBeDefined();
      await expectPassed(s, cr.metadata.name, 'ACTIVE/PENDING_INITIAL_SCAN', 'ACTIVE/SUCCESSFUL');
    },
  ),
  image(
    'an Alpine image is scanned: SUCCESSFUL with platform ALPINE_3_20',
    'alpine',
    'ACTIVE',
    'SUCCESSFUL',
    (cr) => expect(cr.status?.image?.platform).toMatch(/^ALPINE_3_20/),
  ),
  image(
    'an image of a SCAN_ON_PUSH repository is SCAN_FREQUENCY_SCAN_ON_PUSH once scanned',
    'onPush',
    'ACTIVE',
    'SCAN_FREQUENCY_SCAN_ON_PUSH',
    (cr) => expect(cr.status?.lastScannedAt).toBeDefined(),
  ),
  image(
    'an image of a MANUAL repository is SCAN_FREQUENCY_MANUAL and never scanned',
    'manual',
    'INACTIVE',
    'SCAN_FREQUENCY_MANUAL',
    (cr) => expect(cr.status?.lastScannedAt).toBeUndefined(),
  ),
  image(
    'the first matching rule wins: manual/keep-* is CONTINUOUS_SCAN before manual/** is MANUAL',
    'manualKept',
    'ACTIVE',
    'SUCCESSFUL',
    (cr) => expect(cr.status?.repository?.scanFrequency).toBe('CONTINUOUS_SCAN'),
  ),
  image(
    'an image with no os-release and no packages is UNSUPPORTED_OS',
    'noOs',
    'INACTIVE',
    'UNSUPPORTED_OS',
  ),
  image('a Windows image is UNSUPPORTED_OS', 'windows', 'INACTIVE', 'UNSUPPORTED_OS'),
  image(
    'an OCI artifact (an SBOM) run as an image is UNSUPPORTED_MEDIA_TYPE',
    'artifact',
    'INACTIVE',
    'UNSUPPORTED_MEDIA_TYPE',
  ),
  image(
    'an image over spec.image.maxImageSize (256Ki) is IMAGE_SIZE_EXCEEDED',
    'big',
    'INACTIVE',
    'IMAGE_SIZE_EXCEEDED',
  ),
  image(
    'an image whose layer blob is missing from the registry is INTERNAL_ERROR',
    'missingLayer',
    'INACTIVE',
    'INTERNAL_ERROR',
  ),
  image(
    'an image whose layer does not match its config diff_id is INTERNAL_ERROR',
    'badDiffId',
    'INACTIVE',
    'INTERNAL_ERROR',
  ),
  image(
    'a private image pulled with the pod’s imagePullSecret is SUCCESSFUL',
    'privatePod',
    'ACTIVE',
    'SUCCESSFUL',
  ),
  image(
    'a private image pulled with the service account’s imagePullSecret is SUCCESSFUL',
    'privateAccount',
    'ACTIVE',
    'SUCCESSFUL',
  ),
  image(
    'a private image with no pull secret is ACCESS_DENIED',
    'privateNone',
    'INACTIVE',
    'ACCESS_DENIED',
  ),
  image(
    'a private image whose service account names no pull secret is ACCESS_DENIED',
    'privateLate',
    'INACTIVE',
    'ACCESS_DENIED',
  ),
  image(
    'an image used only by a completed Job, pushed long before the 3-day window, is SCAN_ELIGIBILITY_EXPIRED',
    'old',
    'INACTIVE',
    'SCAN_ELIGIBILITY_EXPIRED',
    (cr) => expect(cr.status?.image?.inUseCount ?? 0).toBe(0),
  ),
  image(
    'an image used only in a namespace that is not selected is NO_SCAN_CONFIGURATION_ASSOCIATED',
    'outside',
    'INACTIVE',
    'NO_SCAN_CONFIGURATION_ASSOCIATED',
  ),
  image(
    'an image used only by an excluded workload is EXCLUDED_BY_TAG',
    'excludedWorkload',
    'INACTIVE',
    'EXCLUDED_BY_TAG',
  ),
  image(
    'an image used only in an excluded namespace is EXCLUDED_BY_TAG',
    'excludedNamespace',
    'INACTIVE',
    'EXCLUDED_BY_TAG',
  ),
  image(
    'an image behind a slow registry ends SUCCESSFUL after showing PENDING_INITIAL_SCAN',
    'slow',
    'ACTIVE',
    'SUCCESSFUL',
    (cr, s) =>
      expectPassed(s, cr.metadata.name, 'ACTIVE/PENDING_INITIAL_SCAN', 'ACTIVE/SUCCESSFUL'),
  ),
  // ---- repositories
  repository(
    'a repository no rule matches is SUCCESSFUL (CONTINUOUS_SCAN)',
    'debian',
    'ACTIVE',
    'SUCCESSFUL',
    'CONTINUOUS_SCAN',
  ),
  repository(
    'a repository matched by a SCAN_ON_PUSH rule is SCAN_FREQUENCY_SCAN_ON_PUSH',
    'onPush',
    'ACTIVE',
    'SCAN_FREQUENCY_SCAN_ON_PUSH',
    'SCAN_ON_PUSH',
  ),
  repository(
    'a repository matched by a MANUAL rule is SCAN_FREQUENCY_MANUAL',
    'manual',
    'INACTIVE',
    'SCAN_FREQUENCY_MANUAL',
    'MANUAL',
  ),
  repository(
    'a repository matched first by a CONTINUOUS_SCAN rule is SUCCESSFUL',
    'manualKept',
    'ACTIVE',
    'SUCCESSFUL',
    'CONTINUOUS_SCAN',
  ),
  repository(
    'a repository whose every image was refused is ACCESS_DENIED',
    'privateNone',
    'INACTIVE',
    'ACCESS_DENIED',
    'CONTINUOUS_SCAN',
  ),
  repository(
    'a repository whose every image failed is INTERNAL_ERROR',
    'missingLayer',
    'INACTIVE',
    'INTERNAL_ERROR',
    'CONTINUOUS_SCAN',
  ),
  // ---- workloads
  workload(
    'a Deployment (pods through its ReplicaSet) whose image is scanned is SUCCESSFUL',
    NS.apps,
    'Deployment',
    'web',
    'ACTIVE',
    'SUCCESSFUL',
    (cr, s) => {
      expect(cr.status?.resource?.apiVersion).toBe('apps/v1');
      expect(cr.status?.workload?.images).toEqual([s.images.debian.imageID]);
      expect(cr.status?.workload?.runtime).toBe('DEBIAN_12');
      expect(cr.status?.workload?.lastInvokedAt).toBeDefined();
      expect(cr.status?.workload?.lastUpdatedAt).toBeDefined();
    },
  ),
  workload(
    'a StatefulSet whose image is scanned is SUCCESSFUL',
    NS.apps,
    'StatefulSet',
    'db',
    'ACTIVE',
    'SUCCESSFUL',
    scannedImageOf('alpine'),
  ),
  workload(
    'a DaemonSet with two scanned images is SUCCESSFUL',
    NS.apps,
    'DaemonSet',
    'logs',
    'ACTIVE',
    'SUCCESSFUL',
    (cr, s) =>
      expect([...((cr.status?.workload?.images as string[]) ?? [])].sort()).toEqual(
        [s.images.debian.imageID, s.images.alpine.imageID].sort(),
      ),
  ),
  workload('a running Job is SUCCESSFUL', NS.apps, 'Job', 'migrate', 'ACTIVE', 'SUCCESSFUL', (cr) =>
    expect(cr.status?.resource?.apiVersion).toBe('batch/v1'),
  ),
  workload(
    'a CronJob (pods through its Job) is SUCCESSFUL',
    NS.apps,
    'CronJob',
    'report',
    'ACTIVE',
    'SUCCESSFUL',
    scannedImageOf('onPush'),
  ),
  workload(
    'a bare Pod is a workload of kind Pod: SUCCESSFUL',
    NS.apps,
    'Pod',
    'debug',
    'ACTIVE',
    'SUCCESSFUL',
    (cr) => expect(cr.status?.resource?.apiVersion).toBe('v1'),
  ),
  workload(
    'a Deployment with the exclusion label is EXCLUDED_BY_TAG',
    NS.apps,
    'Deployment',
    'excluded',
    'INACTIVE',
    'EXCLUDED_BY_TAG',
  ),
  workload(
    'a Deployment scaled to zero and last changed 30 days ago (window 7) is SCAN_ELIGIBILITY_EXPIRED',
    NS.apps,
    'Deployment',
    'idle',
    'INACTIVE',
    'SCAN_ELIGIBILITY_EXPIRED',
  ),
  workload(
    'a suspended CronJob last scheduled 30 days ago is SCAN_ELIGIBILITY_EXPIRED',
    NS.apps,
    'CronJob',
    'nightly',
    'INACTIVE',
    'SCAN_ELIGIBILITY_EXPIRED',
  ),
  workload(
    'a workload whose image is refused is ACCESS_DENIED',
    NS.apps,
    'Deployment',
    'denied',
    'INACTIVE',
    'ACCESS_DENIED',
  ),
  workload(
    'ACCESS_DENIED wins over UNSUPPORTED_RUNTIME for a workload with both kinds of images',
    NS.apps,
    'Deployment',
    'denied-and-odd',
    'INACTIVE',
    'ACCESS_DENIED',
  ),
  workload(
    'a workload whose images are an OS-less image, an artifact and a Windows image is UNSUPPORTED_RUNTIME',
    NS.apps,
    'Deployment',
    'odd',
    'INACTIVE',
    'UNSUPPORTED_RUNTIME',
  ),
  workload(
    'a workload whose image could not be read is INTERNAL_ERROR',
    NS.apps,
    'Deployment',
    'broken',
    'INACTIVE',
    'INTERNAL_ERROR',
  ),
  workload(
    'a workload with one good and one corrupt image is INTERNAL_ERROR',
    NS.apps,
    'Deployment',
    'corrupt',
    'INACTIVE',
    'INTERNAL_ERROR',
  ),
  workload(
    'a workload whose pod has not reported an image digest yet is PENDING_INITIAL_SCAN',
    NS.apps,
    'Deployment',
    'starting',
    'ACTIVE',
    'PENDING_INITIAL_SCAN',
  ),
  workload(
    'a workload whose image scan is slow ends SUCCESSFUL',
    NS.apps,
    'Deployment',
    'slow',
    'ACTIVE',
    'SUCCESSFUL',
    (cr, s) =>
      expectPassed(s, cr.metadata.name, 'ACTIVE/PENDING_INITIAL_SCAN', 'ACTIVE/SUCCESSFUL'),
  ),
  workload(
    'a pod pulling a private image with its own pull secret is SUCCESSFUL',
    NS.apps,
    'Pod',
    'private',
    'ACTIVE',
    'SUCCESSFUL',
  ),
  workload(
    'a Job that completed 10 days ago but was created today is still eligible: SUCCESSFUL',
    NS.apps,
    'Job',
    'finished',
    'ACTIVE',
    'SUCCESSFUL',
    scannedImageOf('old'),
  ),
  workload(
    'a Deployment whose service account holds the pull secret is SUCCESSFUL',
    NS.second,
    'Deployment',
    'sa-app',
    'ACTIVE',
    'SUCCESSFUL',
  ),
  workload(
    'a Deployment whose service account names no pull secret for its private image is ACCESS_DENIED',
    NS.second,
    'Deployment',
    'late',
    'INACTIVE',
    'ACCESS_DENIED',
  ),
  workload(
    'a Deployment in a namespace that is not selected is NO_SCAN_CONFIGURATION_ASSOCIATED',
    NS.outside,
    'Deployment',
    'elsewhere',
    'INACTIVE',
    'NO_SCAN_CONFIGURATION_ASSOCIATED',
  ),
  workload(
    'a bare Pod in an excluded namespace is EXCLUDED_BY_TAG',
    NS.excluded,
    'Pod',
    'inside',
    'INACTIVE',
    'EXCLUDED_BY_TAG',
  ),
  workload(
    'the agent DaemonSet in the unselected administrator namespace is NO_SCAN_CONFIGURATION_ASSOCIATED',
    'kube-inspector-system',
    'DaemonSet',
    'kube-inspector-agent',
    'INACTIVE',
    'NO_SCAN_CONFIGURATION_ASSOCIATED',
  ),
  // ---- namespaces
  namespace('a namespace the selector matches is SUCCESSFUL', NS.apps, 'ACTIVE', 'SUCCESSFUL'),
  namespace(
    'a namespace the selector does not match is NO_SCAN_CONFIGURATION_ASSOCIATED',
    NS.outside,
    'INACTIVE',
    'NO_SCAN_CONFIGURATION_ASSOCIATED',
  ),
  namespace(
    'the default namespace, not selected, is NO_SCAN_CONFIGURATION_ASSOCIATED',
    'default',
    'INACTIVE',
    'NO_SCAN_CONFIGURATION_ASSOCIATED',
  ),
  namespace(
    'a selected namespace with the exclusion label is EXCLUDED_BY_TAG',
    NS.excluded,
    'INACTIVE',
    'EXCLUDED_BY_TAG',
  ),
];

// ---------------------------------------------------------------- helpers of the checks

/** Waits (briefly: the history follows a watch) until `name` went from `first` to `then`. */
async function expectPassed(s: Scenario, name: string, first: string, then: string): Promise<void> {
  await eventually(
    `${name} to go from ${first} to ${then}`,
    () => {
      if (s.history.passed(name, first, then)) return Promise.resolve(true);
      throw new Error(
        `went through ${s.history
          .of(name)
          .map((o) => o.state)
          .join(', ')}`,
      );
    },
    5000,
  );
}

/** Waits until the CoveredResource has this status; fails with what it has instead. */
async function waitFor(
  s: Scenario,
  name: string,
  code: Code,
  reason: string,
  timeoutMs = 90_000,
): Promise<CoveredResourceView> {
  return eventually(
    `${name} to be ${code}/${reason}`,
    async () => {
      const cr = await coveredResource(s.env.client, name);
      const got = cr?.status?.scanStatus;
      if (got?.statusCode === code && got.reason === reason) return cr;
      throw new Error(
        `${name} is ${got ? `${got.statusCode}/${got.reason}` : cr ? 'without status' : 'absent'}`,
      );
    },
    timeoutMs,
    500,
  );
}

async function waitGone(s: Scenario, name: string, timeoutMs = 60_000): Promise<void> {
  await eventually(
    `${name} to be deleted`,
    async () => {
      const cr = await coveredResource(s.env.client, name);
      if (cr === undefined) return true;
      throw new Error(`${name} is still there: ${JSON.stringify(cr.status?.scanStatus)}`);
    },
    timeoutMs,
    500,
  );
}

function sumMetric(
  text: string,
  name: string,
  filter: (labels: Record<string, string>) => boolean = () => true,
): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels = parseLabels(line);
    if (filter(labels)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

function parseLabels(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const body = /\{(.*)\}/.exec(line)?.[1] ?? '';
  for (const m of body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

const WRITE_METHODS = new Set(['PATCH', 'POST', 'PUT', 'DELETE']);
const writes = (metrics: string): number =>
  sumMetric(metrics, 'rest_client_requests_total', (l) => WRITE_METHODS.has(l.method ?? ''));

/** Counts of CoveredResources by `type|code|reason`. */
function countByReason(items: CoveredResourceView[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const cr of items) {
    const s = cr.status;
    if (s?.scanStatus === undefined) continue;
    const key = `${s.resourceType}|${s.scanStatus.statusCode}|${s.scanStatus.reason}`;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

const sorted = (m: Map<string, number>): [string, number][] =>
  [...m.entries()].sort(([a], [b]) => a.localeCompare(b));

/** Creates an ACTIVE Finding on a CoveredResource in the findings store, as the findings controller would. */
async function hold(
  s: Scenario,
  findingName: string,
  coveredResourceName: string,
): Promise<KubeObject> {
  return s.controller.store.create({
    ...heldFinding(s.env.adminNamespace, findingName, coveredResourceName),
    status: { status: 'ACTIVE' },
  } as StoredFinding);
}

/** Deletes a Finding of the administrator namespace from the store, as retention would. */
async function release(s: Scenario, findingName: string): Promise<void> {
  await s.controller.store.delete(s.env.adminNamespace, findingName);
}

// ---------------------------------------------------------------- the tests

describe('coverage of a cluster, resource by resource', () => {
  const s = {} as Scenario;
  beforeAll(async () => {
    const env = await startProductEnvironment();
    const registry = await startRegistry();
    const front = await startTokenFront(registry, { username: USER, password: PASSWORD });
    const slowFront = await startTokenFront(registry);
    Object.assign(s, await buildScenario(env, registry, front, slowFront));
    // Every forwarded response of the slow registry waits: its one scan takes ~15 s.
    slowFront.setDelay(4000);
    s.history = new CoverageHistory(env.client);
    await s.history.start();
    s.controller = await startController(env, {
      insecureRegistries: [registry.host, front.host, slowFront.host],
      scanConcurrency: 2,
      reflector: { minWatchTimeoutSeconds: 5 },
      // Coverage alone: the Findings that hold resources in PENDING_DISABLE are the test's own.
      setups: [setupCoverage],
    });
    s.created = Date.now();
  }, 300_000);

  afterAll(async () => {
    await s.history?.stop();
    await s.controller?.stop();
    await s.slowFront?.stop();
    await s.front?.stop();
    await s.registry?.stop();
    await s.env?.stop();
  });

  it('holds its inputs as the kubelet, the agent and the workload controllers write them', async () => {
    const pods = await s.env.client.get<{ items: KubeObject[] }>('/api/v1/pods');
    const running = pods.items.filter((p) => (p.status as { phase?: string }).phase === 'Running');
    expect(running.length).toBeGreaterThanOrEqual(30);
    for (const p of running) {
      for (const c of (p.status as { containerStatuses: { imageID: string }[] })
        .containerStatuses) {
        expect(c.imageID).toMatch(/^127\.0\.0\.1:\d+\/[a-z0-9/.-]+@sha256:[0-9a-f]{64}$/);
      }
    }
    const web = pods.items.find((p) => p.metadata.name.startsWith('web-'));
    expect(web?.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'ReplicaSet',
      controller: true,
    });
    const inventory = await s.env.client.get<KubeObject>(
      '/apis/kubeinspector.io/v1alpha1/nodeinventories/node-ready',
    );
    expect(inventory.metadata.managedFields?.map((m) => m.manager)).toContain(
      'kube-inspector-agent',
    );
    expect((inventory.status as { packages: unknown[] }).packages).toHaveLength(12);
    const nodeReady = await s.env.client.get<KubeObject>('/api/v1/nodes/node-not-ready');
    expect(
      (nodeReady.status as { conditions: { type: string; status: string }[] }).conditions,
    ).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'False' }));
    const idle = await s.env.client.get<KubeObject>(
      `/apis/apps/v1/namespaces/${NS.apps}/deployments/idle`,
    );
    for (const m of idle.metadata.managedFields ?? [])
      expect(Date.parse(m.time!)).toBeLessThan(Date.now() - 29 * DAY);
    for (const i of Object.values(s.images)) {
      const [host, rest] = [
        i.repository.slice(0, i.repository.indexOf('/')),
        i.repository.slice(i.repository.indexOf('/') + 1),
      ];
      if (host !== s.registry.host) continue;
      const res = await fetch(`${s.registry.url}/v2/${rest}/manifests/${i.digest}`, {
        method: 'HEAD',
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      expect(res.status, i.reference).toBe(200);
    }
  });

  describe('the scenario table', () => {
    it.each(CASES)('$type: $sentence', async (c) => {
      const name = c.name(s);
      const cr = await waitFor(s, name, c.code, c.reason);
      expect(cr.status?.resourceType).toBe(c.type);
      expect(cr.metadata.labels).toMatchObject({
        'kubeinspector.io/resource-type': c.type,
        'kubeinspector.io/status-code': c.code,
        'kubeinspector.io/reason': c.reason,
      });
      await c.check?.(cr, s);
    });

    it('a Job owned by a CronJob is covered through its CronJob, not on its own', async () => {
      await waitFor(s, names.workload(NS.apps, 'CronJob', 'report'), 'ACTIVE', 'SUCCESSFUL');
      expect(
        await coveredResource(s.env.client, names.workload(NS.apps, 'Job', 'report-29370000')),
      ).toBeUndefined();
      expect(
        await coveredResource(s.env.client, names.workload(NS.apps, 'Pod', 'web')),
      ).toBeUndefined();
    });

    it('every resource has one CoveredResource: one per node, digest, repository, workload and namespace', async () => {
      const items = await listCoveredResources(s.env.client);
      const byType = (t: string) =>
        items.filter((cr) => cr.status?.resourceType === t).map((cr) => cr.status?.resourceId);
      const sortedSet = (values: Iterable<string | undefined>) => [...new Set(values)].sort();
      expect(sortedSet(byType('NODE'))).toEqual(sortedSet(Object.keys(TABLE_NODES)));
      const images = Object.values(s.images);
      expect(sortedSet(byType('CONTAINER_IMAGE'))).toEqual(sortedSet(images.map((i) => i.imageID)));
      // Repositories of images in use in activated namespaces (apps/outside is used only outside).
      expect(sortedSet(byType('IMAGE_REPOSITORY'))).toEqual(
        sortedSet(images.filter((i) => i !== s.images.outside).map((i) => i.repository)),
      );
      const namespaces = await s.env.client.get<{ items: KubeObject[] }>('/api/v1/namespaces');
      expect(sortedSet(byType('NAMESPACE'))).toEqual(
        sortedSet(namespaces.items.map((n) => n.metadata.name)),
      );
      // Every name is the deterministic one.
      for (const cr of items) {
        const st = cr.status!;
        const expected =
          st.resourceType === 'NODE'
            ? names.node(st.resourceId!)
            : st.resourceType === 'NAMESPACE'
              ? names.namespace(st.resourceId!)
              : st.resourceType === 'IMAGE_REPOSITORY'
                ? names.repository(st.resourceId!)
                : st.resourceType === 'CONTAINER_IMAGE'
                  ? names.image(st.resourceId!.split('@')[0]!, st.resourceId!.split('@')[1]!)
                  : names.workload(...(st.resourceId!.split('/') as [string, string, string]));
        expect(cr.metadata.name).toBe(expected);
      }
    });
  });

  describe('what a user sees once the table has converged', () => {
    // Converged: every row of the table in its state (the table reports the rows that are not).
    beforeAll(async () => {
      await Promise.allSettled(CASES.map((c) => waitFor(s, c.name(s), c.code, c.reason, 120_000)));
    }, 150_000);

    it('kubectl get coverage shows type, resource, status, reason and last scan', async () => {
      const rows = [
        [names.node('node-ready'), 'NODE', 'node-ready', 'ACTIVE', 'SUCCESSFUL'],
        [names.node('node-stale'), 'NODE', 'node-stale', 'INACTIVE', 'STALE_INVENTORY'],
        [
          names.workload(NS.apps, 'Deployment', 'web'),
          'WORKLOAD',
          `${NS.apps}/Deployment/web`,
          'ACTIVE',
          'SUCCESSFUL',
        ],
        [
          names.image(s.images.privateNone.repository, s.images.privateNone.digest),
          'CONTAINER_IMAGE',
          s.images.privateNone.imageID,
          'INACTIVE',
          'ACCESS_DENIED',
        ],
        [
          names.repository(s.images.manual.repository),
          'IMAGE_REPOSITORY',
          s.images.manual.repository,
          'INACTIVE',
          'SCAN_FREQUENCY_MANUAL',
        ],
        [
          names.namespace(NS.outside),
          'NAMESPACE',
          NS.outside,
          'INACTIVE',
          'NO_SCAN_CONFIGURATION_ASSOCIATED',
        ],
      ] as const;
      const out = await s.env.kubectl('get', 'coverage', ...rows.map((r) => r[0]));
      const lines = out.trimEnd().split('\n');
      const header = lines[0]!;
      expect(header).toMatch(
        /^NAME\s+TYPE\s+RESOURCE\s+STATUS\s+REASON\s+LAST SCANNED\s+SCAN TYPE\s+AGE$/,
      );
      // kubectl aligns columns under their headings: cut each row at the headings' offsets.
      const starts = [
        'NAME',
        'TYPE',
        'RESOURCE',
        'STATUS',
        'REASON',
        'LAST SCANNED',
        'SCAN TYPE',
        'AGE',
      ].map((h) => header.indexOf(h));
      const cells = (name: string): string[] => {
        const line = lines.find((l) => l.startsWith(`${name} `));
        expect(line, name).toBeDefined();
        return starts.map((start, i) => line!.slice(start, starts[i + 1]).trim());
      };
      for (const [name, ...columns] of rows) expect(cells(name).slice(1, 5)).toEqual(columns);
      // A node shows how long ago its inventory was collected; a manual repository was never scanned.
      expect(cells(names.node('node-ready'))[5]).toMatch(/^\d+[smh]/);
      expect(cells(names.repository(s.images.manual.repository))[5]).toBe('');
    });

    it('the default ScanConfiguration has its defaults applied, is Ready, and counts what the CoveredResources say', async () => {
      type Stats = {
        total?: number;
        active?: number;
        inactive?: number;
        byResourceType?: {
          resourceType: string;
          statusCode: string;
          reason: string;
          count: number;
        }[];
        byNamespace?: { namespace: string; active: number; inactive: number }[];
      };
      const path = '/apis/kubeinspector.io/v1alpha1/scanconfigurations/default';
      const cfg = await s.env.client.get<KubeObject & { spec: object }>(path);
      expect(cfg.spec).toMatchObject({
        exclusionLabel: 'kubeinspector.io/exclude',
        activation: { scanTypes: ['Node', 'Image', 'Workload'] },
        node: {
          staleInventoryDays: 7,
          packageLimit: 5000,
          collectionTimeLimitSeconds: 900,
          notReadyGraceSeconds: 60,
        },
        image: { pullDateRescanMode: 'LAST_IN_USE_AT', maxImageSize: '256Ki' },
        workload: { eligibilityDays: 7 },
        findingRetention: { closedDays: 30, resourceGoneDays: 3, reopenWindowDays: 7 },
      });
      await eventually(
        'the statistics to match the CoveredResources',
        async () => {
          const [config, items] = await Promise.all([
            s.env.client.get<
              KubeObject & { status?: { conditions?: object[]; statistics?: Stats } }
            >(path),
            listCoveredResources(s.env.client),
          ]);
          expect(config.status?.conditions).toContainEqual(
            expect.objectContaining({ type: 'Ready', status: 'True' }),
          );
          const stats = config.status?.statistics ?? {};
          const fromStats = new Map(
            (stats.byResourceType ?? []).map((c) => [
              `${c.resourceType}|${c.statusCode}|${c.reason}`,
              c.count,
            ]),
          );
          expect(sorted(fromStats)).toEqual(sorted(countByReason(items)));
          const active = items.filter(
            (cr) => cr.status?.scanStatus?.statusCode === 'ACTIVE',
          ).length;
          expect({ total: stats.total, active: stats.active, inactive: stats.inactive }).toEqual({
            total: items.length,
            active,
            inactive: items.length - active,
          });
          const byNamespace = new Map<string, { active: number; inactive: number }>();
          for (const cr of items) {
            const ns = cr.metadata.labels?.['kubeinspector.io/resource-namespace'];
            if (ns === undefined) continue;
            const entry = byNamespace.get(ns) ?? { active: 0, inactive: 0 };
            if (cr.status?.scanStatus?.statusCode === 'ACTIVE') entry.active++;
            else entry.inactive++;
            byNamespace.set(ns, entry);
          }
          expect(
            new Map(
              (stats.byNamespace ?? []).map((n) => [
                n.namespace,
                { active: n.active, inactive: n.inactive },
              ]),
            ),
          ).toEqual(byNamespace);
          return true;
        },
        60_000,
        1000,
      );
    });

    it('a ScanConfiguration with another name is reported Ignored and changes nothing', async () => {
      const before = await listCoveredResources(s.env.client);
      // No namespace selector and another exclusion label: were it used, every namespace's
      // coverage would change.
      await s.env.apply(scanConfiguration('other', { exclusionLabel: 'example.com/skip' }));
      try {
        const path = '/apis/kubeinspector.io/v1alpha1/scanconfigurations/other';
        const other = await eventually('other to be Ignored', async () => {
          const other = await s.env.client.get<KubeObject & { status?: { conditions?: object[] } }>(
            path,
          );
          expect(other.status?.conditions).toContainEqual(
            expect.objectContaining({ type: 'Ready', status: 'False', reason: REASON_IGNORED }),
          );
          return other;
        });
        // The defaults the API applies (scanTypes here) are those of any ScanConfiguration.
        expect((other as { spec?: { activation?: object } }).spec?.activation).toEqual({
          scanTypes: ['Node', 'Image', 'Workload'],
        });
        const after = await listCoveredResources(s.env.client);
        expect(sorted(countByReason(after))).toEqual(sorted(countByReason(before)));
      } finally {
        await s.env.kubectl('delete', 'scanconfiguration', 'other');
      }
    });

    it('kubeinspector_coverage_resources counts the CoveredResources by type, status code and reason', async () => {
      await eventually(
        'the gauge to match the objects',
        async () => {
          const [text, items] = await Promise.all([
            s.controller.metrics(),
            listCoveredResources(s.env.client),
          ]);
          const gauge = new Map<string, number>();
          for (const line of text.split('\n')) {
            if (!line.startsWith('kubeinspector_coverage_resources{')) continue;
            const l = parseLabels(line);
            const value = Number(line.slice(line.lastIndexOf(' ') + 1));
            if (value !== 0) gauge.set(`${l.resource_type}|${l.status_code}|${l.reason}`, value);
          }
          expect(sorted(gauge)).toEqual(sorted(countByReason(items)));
          return true;
        },
        30_000,
        1000,
      );
    });
  });

  describe('a steady cluster', () => {
    it('sees no writes from the controller over 20 s with watch restarts in between', async () => {
      // Converged: no write for 5 s in a row.
      let last = writes(await s.controller.metrics());
      let quietSince = Date.now();
      await eventually(
        'the controller to stop writing',
        async () => {
          const now = writes(await s.controller.metrics());
          if (now !== last) {
            last = now;
            quietSince = Date.now();
          }
          return Date.now() - quietSince >= 5000 ? true : undefined;
        },
        60_000,
        500,
      );
      const before = await s.controller.metrics();
      await new Promise((r) => setTimeout(r, 20_000));
      const after = await s.controller.metrics();
      const restarts = (m: string) => sumMetric(m, 'kubeinspector_watch_restarts_total');
      console.info(
        `coverage writes: ${writes(before)} during convergence, ${writes(after) - writes(before)} in the next 20 s ` +
          `(watch restarts in that time: ${restarts(after) - restarts(before)})`,
      );
      expect(writes(before)).toBeGreaterThan(CASES.length);
      expect(restarts(after)).toBeGreaterThan(restarts(before));
      expect(writes(after) - writes(before)).toBe(0);
    }, 120_000);
  });

  describe('time moves statuses on its own', () => {
    /** When each case's deadline falls (epoch ms), and the inputs' resource versions once written. */
    const deadlines = new Map<string, number>();
    const inputs: { path: string; resourceVersion: string }[] = [];
    let flipImage: PushedImage;
    const remember = (path: string, obj: KubeObject) =>
      inputs.push({ path, resourceVersion: obj.metadata.resourceVersion! });

    beforeAll(async () => {
      const w = s.w;
      const now = Date.now();
      const agentSet = await w.client.get<KubeObject>(
        `/apis/apps/v1/namespaces/${s.env.adminNamespace}/daemonsets/kube-inspector-agent`,
      );
      // Inventory collected 7 days minus 25 s ago: stale 25 s from now.
      await addNode(
        s,
        'node-flip-stale',
        { inventory: { collectedAt: now - 7 * DAY + 25 * SECOND } },
        agentSet,
      );
      deadlines.set(names.node('node-flip-stale'), now + 25 * SECOND);
      // NotReady since 35 s ago, with a 60 s grace: stopped 25 s from now.
      await addNode(
        s,
        'node-flip-not-ready',
        { node: { ready: 'False', readySince: now - 35 * SECOND } },
        agentSet,
      );
      deadlines.set(names.node('node-flip-not-ready'), now + 25 * SECOND);
      for (const n of ['node-flip-stale', 'node-flip-not-ready']) {
        remember(`/api/v1/nodes/${n}`, await w.client.get(`/api/v1/nodes/${n}`));
        remember(
          `/apis/kubeinspector.io/v1alpha1/nodeinventories/${n}`,
          await w.client.get(`/apis/kubeinspector.io/v1alpha1/nodeinventories/${n}`),
        );
      }
      // An image pushed 3 days minus 30 s ago (window DAYS_3), used only by a pod that completed.
      flipImage = await push(
        s.registry.url,
        s.registry.host,
        'flip/pushed',
        '1.0',
        testImage('alpine', 'flip-pushed', { created: iso(now - 3 * DAY + 30 * SECOND) }),
      );
      remember(
        `/api/v1/namespaces/${NS.apps}/pods/flip-pushed`,
        await runPod(
          w,
          NS.apps,
          'flip-pushed',
          WORKER,
          [{ name: 'c0', image: flipImage }],
          'Succeeded',
          now - 10 * DAY,
        ),
      );
      deadlines.set(
        names.image(flipImage.repository, flipImage.digest),
        Date.parse(iso(now - 3 * DAY + 30 * SECOND)) + 3 * DAY,
      );
      // A Job last changed 8 days ago whose pod started 7 days minus 25 s ago (window 7 days).
      const job = await runWorkload(
        w,
        'Job',
        NS.apps,
        'flip-job',
        WORKER,
        [{ name: 'c0', image: s.images.alpine }],
        'Succeeded',
        now - 7 * DAY + 25 * SECOND,
      );
      remember(
        `/apis/batch/v1/namespaces/${NS.apps}/jobs/flip-job`,
        await w.ageManagedFields(core.jobs, job, now - 8 * DAY),
      );
      deadlines.set(
        names.workload(NS.apps, 'Job', 'flip-job'),
        Date.parse(iso(now - 7 * DAY + 25 * SECOND)) + 7 * DAY,
      );
      // A Deployment scaled to zero, last changed 7 days minus 25 s ago.
      const idle = await createWorkload(
        w,
        'Deployment',
        NS.apps,
        'flip-idle',
        [{ name: 'c0', image: s.images.debian }],
        { replicas: 0 },
      );
      remember(
        `/apis/apps/v1/namespaces/${NS.apps}/deployments/flip-idle`,
        await w.ageManagedFields(core.deployments, idle, now - 7 * DAY + 25 * SECOND),
      );
      deadlines.set(
        names.workload(NS.apps, 'Deployment', 'flip-idle'),
        Date.parse(iso(now - 7 * DAY + 25 * SECOND)) + 7 * DAY,
      );
    });

    const flip = async (name: string, before: string | RegExp, after: string): Promise<void> => {
      const [code, reason] = after.split('/') as [Code, string];
      await waitFor(s, name, code, reason, 90_000);
      // The history samples on its own schedule: wait until it has seen the new state too.
      const history = await eventually(`the history of ${name} to reach ${after}`, () =>
        Promise.resolve(
          s.history.of(name).some((o) => o.state === after) ? s.history.of(name) : undefined,
        ),
      );
      const final = history.findIndex((o) => o.state === after);
      const earlier = history.slice(0, final).map((o) => o.state);
      const deadline = deadlines.get(name)!;
      const seen = history.map(
        (o) => `${o.state} at deadline${o.at >= deadline ? '+' : ''}${o.at - deadline} ms`,
      );
      expect(
        earlier.some((st) => (typeof before === 'string' ? st === before : before.test(st))),
        `${name} went through: ${seen.join(', ')}`,
      ).toBe(true);
      // Not before the deadline, and soon after it (the history samples every 750 ms).
      expect(history[final]!.at).toBeGreaterThanOrEqual(deadline - 1000);
      expect(history[final]!.at).toBeLessThan(deadline + 10_000);
      for (const input of inputs) {
        const now = await s.env.client.get<KubeObject>(input.path);
        expect(now.metadata.resourceVersion, input.path).toBe(input.resourceVersion);
      }
    };

    it('a node whose inventory turns 7 days old becomes STALE_INVENTORY at that moment, with no object changing', () =>
      flip(names.node('node-flip-stale'), 'ACTIVE/SUCCESSFUL', 'INACTIVE/STALE_INVENTORY'));

    it('a node NotReady for longer than notReadyGraceSeconds becomes RESOURCE_STOPPED at the deadline', () =>
      flip(names.node('node-flip-not-ready'), 'ACTIVE/SUCCESSFUL', 'INACTIVE/RESOURCE_STOPPED'));

    it('an unused image becomes SCAN_ELIGIBILITY_EXPIRED when its push date leaves the 3-day window', () =>
      flip(
        names.image(flipImage.repository, flipImage.digest),
        'ACTIVE/SUCCESSFUL',
        'INACTIVE/SCAN_ELIGIBILITY_EXPIRED',
      ));

    it('a finished Job becomes SCAN_ELIGIBILITY_EXPIRED 7 days after its pod started', () =>
      flip(
        names.workload(NS.apps, 'Job', 'flip-job'),
        'ACTIVE/SUCCESSFUL',
        'INACTIVE/SCAN_ELIGIBILITY_EXPIRED',
      ));

    it('a Deployment scaled to zero becomes SCAN_ELIGIBILITY_EXPIRED 7 days after its last change', () =>
      flip(
        names.workload(NS.apps, 'Deployment', 'flip-idle'),
        /^ACTIVE\//,
        'INACTIVE/SCAN_ELIGIBILITY_EXPIRED',
      ));
  });

  describe('resources that go away or change', () => {
    it('a deleted node without findings loses its CoveredResource at once', async () => {
      await waitFor(s, names.node('node-to-delete'), 'ACTIVE', 'SUCCESSFUL');
      await s.w.remove(core.nodes, 'node-to-delete');
      await waitGone(s, names.node('node-to-delete'), 30_000);
    });

    it('a deleted node with an ACTIVE finding is RESOURCE_TERMINATED until its finding is CLOSED', async () => {
      const name = names.node('node-to-delete-held');
      await waitFor(s, name, 'ACTIVE', 'SUCCESSFUL');
      await hold(s, 'hold-terminated-node', name);
      await s.w.remove(core.nodes, 'node-to-delete-held');
      await waitFor(s, name, 'INACTIVE', 'RESOURCE_TERMINATED', 30_000);
      await new Promise((r) => setTimeout(r, 3000));
      expect((await coveredResource(s.env.client, name))?.status?.scanStatus?.reason).toBe(
        'RESOURCE_TERMINATED',
      );
      // The findings controller closes the findings of a resource that is gone; the CLOSED
      // Finding stays (retention), the CoveredResource does not.
      const held = (await s.controller.store.get(s.env.adminNamespace, 'hold-terminated-node'))!;
      await s.controller.store.update({
        ...held,
        metadata: {
          ...held.metadata,
          labels: { ...held.metadata.labels, 'kubeinspector.io/status': 'CLOSED' },
        },
        status: { status: 'CLOSED' },
      });
      await waitGone(s, name, 30_000);
      await release(s, 'hold-terminated-node');
    });

    it('a private image refused without credentials is scanned once its pods’ service account gets the pull secret', async () => {
      const img = s.images.privateLate;
      await waitFor(s, names.image(img.repository, img.digest), 'INACTIVE', 'ACCESS_DENIED');
      await s.env.client.request('PATCH', `/api/v1/namespaces/${NS.second}/serviceaccounts/late`, {
        body: { imagePullSecrets: [{ name: 'team-regcred' }] },
        contentType: 'application/merge-patch+json',
      });
      await waitFor(s, names.image(img.repository, img.digest), 'ACTIVE', 'SUCCESSFUL', 60_000);
      await waitFor(
        s,
        names.workload(NS.second, 'Deployment', 'late'),
        'ACTIVE',
        'SUCCESSFUL',
        30_000,
      );
      await waitFor(s, names.repository(img.repository), 'ACTIVE', 'SUCCESSFUL', 30_000);
    });
  });

  describe('deactivation', () => {
    const setScanTypes = (scanTypes?: string[]) =>
      s.env.apply(
        scanConfiguration('default', configSpec(s, scanTypes !== undefined ? { scanTypes } : {})),
      );
    const ofType = async (...types: string[]) =>
      (await listCoveredResources(s.env.client)).filter((cr) =>
        types.includes(cr.status?.resourceType ?? ''),
      );
    /**
     * Turns scan types off while a Finding holds `held`: it shows PENDING_DISABLE while every
     * other CoveredResource of `types` goes; once the Finding is deleted it goes too. Then all
     * scan types are turned back on.
     */
    const offHolding = async (scanTypes: string[], types: string[], held: string) => {
      await waitFor(s, held, 'ACTIVE', 'SUCCESSFUL');
      await hold(s, `hold-${held}`, held);
      await setScanTypes(scanTypes);
      await waitFor(s, held, 'INACTIVE', 'PENDING_DISABLE', 30_000);
      await eventually(`every other ${types.join(' and ')} to go`, async () => {
        const left = (await ofType(...types)).map((cr) => cr.metadata.name);
        if (left.length === 1 && left[0] === held) return true;
        throw new Error(`still there: ${left.join(', ')}`);
      });
      await release(s, `hold-${held}`);
      await waitGone(s, held, 30_000);
      await setScanTypes(undefined);
    };

    it('turning Image off removes image and repository coverage, holding an image with findings in PENDING_DISABLE; turning it on restores it', async () => {
      const debian = names.image(s.images.debian.repository, s.images.debian.digest);
      await offHolding(['Node', 'Workload'], ['CONTAINER_IMAGE', 'IMAGE_REPOSITORY'], debian);
      await waitFor(s, debian, 'ACTIVE', 'SUCCESSFUL', 60_000);
      const repository = names.repository(s.images.debian.repository);
      await waitFor(s, repository, 'ACTIVE', 'SUCCESSFUL', 30_000);
      const denied = names.image(s.images.privateNone.repository, s.images.privateNone.digest);
      await waitFor(s, denied, 'INACTIVE', 'ACCESS_DENIED', 60_000);
    });

    it('turning Node off removes node coverage, holding a node with findings in PENDING_DISABLE; turning it on restores it', async () => {
      const ready = names.node('node-ready');
      await offHolding(['Image', 'Workload'], ['NODE'], ready);
      await waitFor(s, ready, 'ACTIVE', 'SUCCESSFUL', 30_000);
      await waitFor(s, names.node('node-stale'), 'INACTIVE', 'STALE_INVENTORY', 30_000);
      await waitFor(s, names.node('node-unmanaged'), 'INACTIVE', 'RESOURCE_UNMANAGED', 30_000);
    });

    it('turning Workload off removes every workload’s coverage at once; turning it on restores it', async () => {
      await setScanTypes(['Node', 'Image']);
      await eventually('every workload to go', async () => {
        const left = await ofType('WORKLOAD');
        if (left.length === 0) return true;
        throw new Error(`${left.length} still there`);
      });
      // Namespaces are always covered.
      await waitFor(s, names.namespace(NS.apps), 'ACTIVE', 'SUCCESSFUL');
      await setScanTypes(undefined);
      await waitFor(
        s,
        names.workload(NS.apps, 'Deployment', 'web'),
        'ACTIVE',
        'SUCCESSFUL',
        30_000,
      );
      await waitFor(
        s,
        names.workload(NS.apps, 'Deployment', 'denied'),
        'INACTIVE',
        'ACCESS_DENIED',
        30_000,
      );
    });

    it('a namespace no longer selected takes its workloads out, its image held in PENDING_DISABLE while it has findings; selecting it again restores them', async () => {
      const ns = names.namespace(NS.toggle);
      const wl = names.workload(NS.toggle, 'Deployment', 'toggle');
      const img = names.image(s.images.toggle.repository, s.images.toggle.digest);
      await waitFor(s, wl, 'ACTIVE', 'SUCCESSFUL');
      await waitFor(s, img, 'ACTIVE', 'SUCCESSFUL');
      await hold(s, 'hold-toggle-image', img);
      await s.env.client.request('PATCH', `/api/v1/namespaces/${NS.toggle}`, {
        body: { metadata: { labels: { [SCAN_LABEL]: null } } },
        contentType: 'application/merge-patch+json',
      });
      await waitFor(s, ns, 'INACTIVE', 'NO_SCAN_CONFIGURATION_ASSOCIATED', 30_000);
      await waitFor(s, wl, 'INACTIVE', 'NO_SCAN_CONFIGURATION_ASSOCIATED', 30_000);
      await waitFor(s, img, 'INACTIVE', 'PENDING_DISABLE', 30_000);
      await release(s, 'hold-toggle-image');
      await waitFor(s, img, 'INACTIVE', 'NO_SCAN_CONFIGURATION_ASSOCIATED', 30_000);
      await s.env.client.request('PATCH', `/api/v1/namespaces/${NS.toggle}`, {
        body: { metadata: { labels: { [SCAN_LABEL]: 'enabled' } } },
        contentType: 'application/merge-patch+json',
      });
      await waitFor(s, ns, 'ACTIVE', 'SUCCESSFUL', 30_000);
      await waitFor(s, wl, 'ACTIVE', 'SUCCESSFUL', 30_000);
      await waitFor(s, img, 'ACTIVE', 'SUCCESSFUL', 30_000);
    });
  });

  describe('a configuration with a mistake', () => {
    it('a repository rule that is not a glob is refused at apply time with a message naming it, and the configuration stays in effect', async () => {
      const path = '/apis/kubeinspector.io/v1alpha1/scanconfigurations/default';
      type Conditions = {
        status?: {
          conditions?: { type: string; status: string; message?: string }[];
          configurationInEffect?: { generation: number };
        };
      };
      const before = await s.env.client.get<KubeObject & Conditions>(path);
      const refusal = await s.env
        .apply(scanConfiguration('default', configSpec(s, { badRule: true })))
        .then(
          () => undefined,
          (err: unknown) => String((err as { stderr?: string }).stderr ?? err),
        );
      expect(refusal).toBeDefined();
      expect(refusal).toContain('spec.image.repositoryRules[3]');
      expect(refusal).toContain('***');
      const cfg = await s.env.client.get<KubeObject & Conditions>(path);
      expect(cfg.metadata.generation).toBe(before.metadata.generation);
      expect(cfg.status?.configurationInEffect?.generation).toBe(before.metadata.generation);
      expect(cfg.status?.conditions).toContainEqual(
        expect.objectContaining({ type: 'Ready', status: 'True' }),
      );
      expect(cfg.status?.conditions?.find((x) => x.type === 'Stalled')?.status ?? 'False').toBe(
        'False',
      );
    });
  });
});
