/**
 * Building blocks of the coverage scenarios: images with real package databases pushed to a
 * loopback registry, and cluster objects written the way their owners write them — Nodes and
 * Pods with the status a kubelet reports, workloads with the ownerReferences their controllers
 * set, NodeInventories applied by the agent's field manager. Nothing here runs a kubelet or a
 * workload controller; the objects are what the API server would hold if one did.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fetch } from 'undici';
import { isNotFound, type KubeClient } from '../../src/kube/client.ts';
import {
  core,
  objectPath,
  collectionPath,
  type KubeObject,
  type ManagedFieldsEntry,
  type OwnerReference,
  type ResourceType,
} from '../../src/kube/resources.ts';
import { kinds } from '../../src/controllers/informers.ts';
import {
  buildImage,
  pushBlob,
  pushImage,
  pushManifest,
  sha256,
  type BuiltImage,
  type ImageSpec,
  type TarEntry,
} from '../support/registry.ts';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'images');
const fixture = (p: string): string => readFileSync(join(fixtures, p), 'utf8');

/** Debian 12's dpkg status file of the fixtures: twelve real packages. */
export const DPKG_STATUS = fixture('dpkg/status');

// ---------------------------------------------------------------- images

/** What goes into an image's single layer. */
export type ImageContent = 'debian' | 'alpine' | 'no-os' | 'big';

function contentEntries(content: ImageContent, marker: string): TarEntry[] {
  // Every image carries a file naming it, so no two test images share a digest.
  const own: TarEntry = { path: 'etc/test-image', content: `${marker}\n` };
  switch (content) {
    case 'debian':
      return [
        { path: 'etc/', type: 'dir' },
        { path: 'etc/os-release', content: fixture('dpkg/os-release') },
        { path: 'var/lib/dpkg/status', content: DPKG_STATUS },
        own,
      ];
    case 'alpine':
      return [
        { path: 'etc/', type: 'dir' },
        { path: 'etc/os-release', content: fixture('apk/os-release') },
        { path: 'lib/apk/db/installed', content: fixture('apk/installed') },
        own,
      ];
    case 'no-os':
      // A static binary and nothing else: no os-release, no package database.
      return [{ path: 'app', content: randomBytes(2048), mode: 0o755 }, own];
    case 'big':
      // Random bytes do not compress: the layer's compressed size is about its content size.
      return [
        { path: 'etc/', type: 'dir' },
        { path: 'etc/os-release', content: fixture('dpkg/os-release') },
        { path: 'var/lib/dpkg/status', content: DPKG_STATUS },
        { path: 'opt/blob.bin', content: randomBytes(600 * 1024) },
        own,
      ];
  }
}

/** An image of one layer; `created` is the config's creation time (the push date the controller sees). */
export function testImage(
  content: ImageContent,
  marker: string,
  options: { created?: string; platform?: string; diffIds?: string[] } = {},
): BuiltImage {
  const spec: ImageSpec = { layers: [contentEntries(content, marker)] };
  if (options.platform !== undefined) spec.platform = options.platform;
  if (options.diffIds !== undefined) spec.diffIds = options.diffIds;
  const image = buildImage(spec);
  return options.created === undefined ? image : withCreated(image, options.created);
}

/** The same image with another config `created` time (and so another config and manifest digest). */
export function withCreated(image: BuiltImage, created: string): BuiltImage {
  const doc = JSON.parse(image.config.toString('utf8')) as Record<string, unknown>;
  doc.created = created;
  const config = Buffer.from(JSON.stringify(doc));
  const configDigest = sha256(config);
  const m = JSON.parse(image.manifest.toString('utf8')) as {
    config: { digest: string; size: number };
  };
  m.config.digest = configDigest;
  m.config.size = config.length;
  const manifest = Buffer.from(JSON.stringify(m));
  return { ...image, config, configDigest, manifest, manifestDigest: sha256(manifest) };
}

/** A pushed image as pods name it. */
export interface PushedImage {
  /** `host/repository`, the repository as the controller normalises it. */
  repository: string;
  /** `host/repository:tag`, the pod's spec image. */
  reference: string;
  digest: string;
  /** `host/repository@digest`, what the kubelet reports as imageID. */
  imageID: string;
}

function pushed(host: string, repository: string, tag: string, digest: string): PushedImage {
  return {
    repository: `${host}/${repository}`,
    reference: `${host}/${repository}:${tag}`,
    digest,
    imageID: `${host}/${repository}@${digest}`,
  };
}

/** Pushes an image to `registryUrl`; `host` is how pods name the registry (it may be a front). */
export async function push(
  registryUrl: string,
  host: string,
  repository: string,
  tag: string,
  image: BuiltImage,
): Promise<PushedImage> {
  const digest = await pushImage(registryUrl, repository, tag, image);
  return pushed(host, repository, tag, digest);
}

/** An OCI artifact (an SBOM document), not an image: the scanner reports UNSUPPORTED_MEDIA_TYPE. */
export async function pushArtifact(
  registryUrl: string,
  host: string,
  repository: string,
  tag: string,
): Promise<PushedImage> {
  const artifactType = 'application/spdx+json';
  const empty = Buffer.from('{}');
  const document = Buffer.from(
    JSON.stringify({ spdxVersion: 'SPDX-2.3', name: repository, nonce: randomHex() }),
  );
  await pushBlob(registryUrl, repository, empty);
  await pushBlob(registryUrl, repository, document);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType,
      config: {
        mediaType: 'application/vnd.oci.empty.v1+json',
        digest: sha256(empty),
        size: empty.length,
      },
      layers: [{ mediaType: artifactType, digest: sha256(document), size: document.length }],
    }),
  );
  await pushManifest(
    registryUrl,
    repository,
    tag,
    manifest,
    'application/vnd.oci.image.manifest.v1+json',
  );
  return pushed(host, repository, tag, sha256(manifest));
}

/** Deletes a blob from a repository (the registry runs with deletes enabled). */
export async function deleteBlob(
  registryUrl: string,
  repository: string,
  digest: string,
): Promise<void> {
  const res = await fetch(`${registryUrl}/v2/${repository}/blobs/${digest}`, {
    method: 'DELETE',
  });
  if (res.status !== 202) {
    throw new Error(`delete ${repository}@${digest}: HTTP ${res.status} ${await res.text()}`);
  }
  const gone = await fetch(`${registryUrl}/v2/${repository}/blobs/${digest}`, { method: 'HEAD' });
  if (gone.status !== 404) throw new Error(`blob ${digest} still served: HTTP ${gone.status}`);
}

export function randomHex(): string {
  return randomBytes(4).toString('hex');
}

/** A `kubernetes.io/dockerconfigjson` Secret for one registry. */
export function pullSecret(
  namespace: string,
  name: string,
  registryHost: string,
  username: string,
  password: string,
): KubeObject {
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  const config = JSON.stringify({ auths: { [registryHost]: { username, password, auth } } });
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(config).toString('base64') },
  };
}

// ---------------------------------------------------------------- cluster objects

export const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export const AGENT_LABELS = {
  'app.kubernetes.io/name': 'kube-inspector',
  'app.kubernetes.io/component': 'agent',
} as const;

/** Writes objects the way their owners do: create, then status through the status subresource. */
export class Writer {
  readonly client: KubeClient;
  constructor(client: KubeClient) {
    this.client = client;
  }

  async create<T extends KubeObject>(resource: ResourceType, obj: KubeObject): Promise<T> {
    return this.client.request<T>('POST', collectionPath(resource, obj.metadata.namespace), {
      body: obj,
      query: { fieldManager: 'kubectl-create' },
    });
  }

  /** Replaces the status, as the kubelet (or a controller) does, under `fieldManager`. */
  async setStatus<T extends KubeObject>(
    resource: ResourceType,
    obj: KubeObject,
    status: unknown,
    fieldManager: string,
  ): Promise<T> {
    const path = objectPath(resource, obj.metadata.name, obj.metadata.namespace, 'status');
    const current = await this.client.get<KubeObject>(path);
    return this.client.request<T>('PUT', path, {
      body: { ...current, status },
      query: { fieldManager },
    });
  }

  /** Server-side apply as `fieldManager` (optionally of the status subresource). */
  async apply<T extends KubeObject>(
    resource: ResourceType,
    obj: KubeObject,
    fieldManager: string,
    subresource?: 'status',
  ): Promise<T> {
    return this.client.request<T>(
      'PATCH',
      objectPath(resource, obj.metadata.name, obj.metadata.namespace, subresource),
      {
        body: obj,
        contentType: 'application/apply-patch+yaml',
        query: { fieldManager, force: true },
      },
    );
  }

  async remove(resource: ResourceType, name: string, namespace?: string): Promise<void> {
    await this.client.request('DELETE', objectPath(resource, name, namespace));
  }

  /**
   * Moves the times of the object's non-status managedFields entries to `at`, as if a deploy
   * tool last wrote its spec then. The API server drops an update that changes nothing but
   * managedFields times, so the entries also move to the manager `deploy-tool` (which makes
   * the update one it keeps: the managedFields given in a request replace the stored ones).
   */
  async ageManagedFields(resource: ResourceType, obj: KubeObject, at: number): Promise<KubeObject> {
    const path = objectPath(resource, obj.metadata.name, obj.metadata.namespace);
    const current = await this.client.get<KubeObject>(path);
    let n = 0;
    const entries = (current.metadata.managedFields ?? []).map((e: ManagedFieldsEntry) =>
      e.subresource === 'status'
        ? e
        : { ...e, manager: n++ === 0 ? 'deploy-tool' : `deploy-tool-${n}`, time: iso(at) },
    );
    const updated = await this.client.request<KubeObject>('PUT', path, {
      body: { ...current, metadata: { ...current.metadata, managedFields: entries } },
    });
    const times = (updated.metadata.managedFields ?? [])
      .filter((e) => e.subresource !== 'status')
      .map((e) => e.time);
    if (times.length === 0 || times.some((t) => t !== iso(at))) {
      throw new Error(
        `managedFields of ${obj.metadata.name} not aged: ${JSON.stringify(updated.metadata.managedFields)}`,
      );
    }
    return updated;
  }
}

// ---- nodes

export interface NodeOptions {
  labels?: Record<string, string>;
  ready?: 'True' | 'False' | 'Unknown';
  /** lastTransitionTime of the Ready condition (epoch ms); default an hour ago. */
  readySince?: number;
  operatingSystem?: string;
  architecture?: string;
  osImage?: string;
  kernelVersion?: string;
}

export function nodeObject(name: string, o: NodeOptions = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...o.labels } },
    spec: {},
  };
}

/** The status a kubelet reports for a node. */
export function kubeletNodeStatus(o: NodeOptions, now: number): Record<string, unknown> {
  const ready = o.ready ?? 'True';
  const since = iso(o.readySince ?? now - HOUR);
  const reasons = {
    True: ['KubeletReady', 'kubelet is posting ready status'],
    False: ['KubeletNotReady', 'container runtime network not ready'],
    Unknown: ['NodeStatusUnknown', 'Kubelet stopped posting node status.'],
  } as const;
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: iso(now),
    lastTransitionTime: since,
  });
  return {
    conditions: [
      condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'ok'),
      condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'ok'),
      condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'ok'),
      condition('Ready', ready, reasons[ready][0], reasons[ready][1]),
    ],
    addresses: [{ type: 'InternalIP', address: '10.0.0.10' }],
    nodeInfo: {
      machineID: randomHex().repeat(4),
      systemUUID: randomHex().repeat(4),
      bootID: randomHex().repeat(4),
      kernelVersion: o.kernelVersion ?? '6.1.0-28-amd64',
      osImage: o.osImage ?? 'Debian GNU/Linux 12 (bookworm)',
      containerRuntimeVersion: 'containerd://1.7.24',
      kubeletVersion: 'v1.36.3',
      kubeProxyVersion: '',
      operatingSystem: o.operatingSystem ?? 'linux',
      architecture: o.architecture ?? 'amd64',
    },
  };
}

// ---- NodeInventory

export interface InventoryOptions {
  /** The node's CPU architecture and kernel, as the agent reads them (default amd64). */
  architecture?: string;
  kernelVersion?: string;
  /** Epoch ms; undefined: the agent registered but has not finished a collection. */
  collectedAt?: number;
  errors?: { code: string; message: string }[];
  /** Packages to list; default the Debian packages of the dpkg fixture. */
  packages?: 'debian' | 'none';
  truncated?: boolean;
}

/** Binary packages of the Debian fixture as the agent lists them. */
export function debianPackages(): Record<string, string>[] {
  return DPKG_STATUS.split('\n\n')
    .filter((s) => s.includes('Package: '))
    .map((stanza) => {
      const field = (k: string): string | undefined =>
        new RegExp(`^${k}: (.+)$`, 'm').exec(stanza)?.[1];
      const name = field('Package')!;
      const version = field('Version')!;
      const source = field('Source');
      const sourceName = source?.split(' ')[0] ?? name;
      const sourceVersion = /\((.+)\)/.exec(source ?? '')?.[1] ?? version;
      const arch = field('Architecture') ?? 'amd64';
      return {
        name,
        version,
        sourceName,
        sourceVersion,
        arch,
        ecosystem: 'Debian:12',
        purl: `pkg:deb/debian/${name}@${encodeURIComponent(version)}?arch=${arch}&distro=debian-12`,
      };
    });
}

export function inventoryStatus(node: string, o: InventoryOptions): Record<string, unknown> {
  const packages = o.packages === 'none' ? [] : debianPackages();
  return {
    nodeName: node,
    agentVersion: '0.1.0',
    os: {
      id: 'debian',
      versionId: '12',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
      platform: 'DEBIAN_12',
    },
    kernelVersion: o.kernelVersion ?? '6.1.0-28-amd64',
    architecture: o.architecture ?? 'amd64',
    ...(o.collectedAt !== undefined
      ? {
          collectedAt: iso(o.collectedAt),
          collectionDurationMilliseconds: 1200,
          packages,
          packageCount: o.truncated ? packages.length + 100 : packages.length,
          ...(o.truncated ? { truncated: true } : {}),
        }
      : {}),
    ...(o.errors !== undefined ? { errors: o.errors } : {}),
  };
}

export const AGENT_FIELD_MANAGER = 'kube-inspector-agent';

/** Writes a NodeInventory as the agent does: apply the object, then apply its status. */
export async function writeInventory(
  w: Writer,
  node: string,
  o: InventoryOptions,
): Promise<KubeObject> {
  const obj = {
    apiVersion: 'kubeinspector.io/v1alpha1',
    kind: 'NodeInventory',
    metadata: { name: node },
  } as KubeObject;
  await w.apply(kinds.nodeInventories, obj, AGENT_FIELD_MANAGER);
  return w.apply(
    kinds.nodeInventories,
    { ...obj, status: inventoryStatus(node, o) },
    AGENT_FIELD_MANAGER,
    'status',
  );
}

// ---- pods and workloads

export interface ContainerSpec {
  name: string;
  image: PushedImage;
}

export function ownerRef(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion ?? '',
    kind: owner.kind ?? '',
    name: owner.metadata.name,
    uid: owner.metadata.uid ?? '',
    controller: true,
  };
}

export interface PodOptions {
  labels?: Record<string, string>;
  owner?: KubeObject;
  serviceAccountName?: string;
  imagePullSecrets?: string[];
  restartPolicy?: 'Always' | 'Never' | 'OnFailure';
}

export function podSpec(containers: ContainerSpec[], o: PodOptions = {}): Record<string, unknown> {
  return {
    containers: containers.map((c) => ({ name: c.name, image: c.image.reference })),
    restartPolicy: o.restartPolicy ?? 'Always',
    ...(o.serviceAccountName !== undefined ? { serviceAccountName: o.serviceAccountName } : {}),
    ...(o.imagePullSecrets !== undefined
      ? { imagePullSecrets: o.imagePullSecrets.map((name) => ({ name })) }
      : {}),
  };
}

export function podObject(
  namespace: string,
  name: string,
  nodeName: string,
  containers: ContainerSpec[],
  o: PodOptions = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: o.labels ?? { app: name },
      ...(o.owner !== undefined ? { ownerReferences: [ownerRef(o.owner)] } : {}),
    },
    spec: { ...podSpec(containers, o), nodeName },
  };
}

export type PodPhase = 'Running' | 'Succeeded' | 'Starting';

/** The status a kubelet reports: Running (started at `startedAt`), Succeeded, or still pulling. */
export function kubeletPodStatus(
  containers: ContainerSpec[],
  phase: PodPhase,
  startedAt: number,
): Record<string, unknown> {
  const started = iso(startedAt);
  const statuses = containers.map((c) => {
    if (phase === 'Starting') {
      return {
        name: c.name,
        image: c.image.reference,
        imageID: '',
        ready: false,
        restartCount: 0,
        started: false,
        state: { waiting: { reason: 'ContainerCreating' } },
      };
    }
    return {
      name: c.name,
      image: c.image.reference,
      imageID: c.image.imageID,
      containerID: `containerd://${randomHex().repeat(8)}`,
      ready: phase === 'Running',
      restartCount: 0,
      started: phase === 'Running',
      state:
        phase === 'Running'
          ? { running: { startedAt: started } }
          : {
              terminated: {
                exitCode: 0,
                reason: 'Completed',
                startedAt: started,
                finishedAt: iso(startedAt + 30 * SECOND),
              },
            },
    };
  });
  return {
    phase: phase === 'Starting' ? 'Pending' : phase,
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: started },
      {
        type: 'Ready',
        status: phase === 'Running' ? 'True' : 'False',
        lastTransitionTime: started,
      },
    ],
    hostIP: '10.0.0.10',
    podIP: `10.244.0.${1 + Math.floor(Math.random() * 250)}`,
    startTime: started,
    containerStatuses: statuses,
  };
}

/** Creates a pod bound to `nodeName` and reports its status as the node's kubelet would. */
export async function runPod(
  w: Writer,
  namespace: string,
  name: string,
  nodeName: string,
  containers: ContainerSpec[],
  phase: PodPhase,
  startedAt: number,
  o: PodOptions = {},
): Promise<KubeObject> {
  const created = await w.create(core.pods, podObject(namespace, name, nodeName, containers, o));
  return w.setStatus(core.pods, created, kubeletPodStatus(containers, phase, startedAt), 'kubelet');
}

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob';

export const WORKLOAD_RESOURCES: Record<WorkloadKind | 'ReplicaSet', ResourceType> = {
  Deployment: core.deployments,
  StatefulSet: core.statefulSets,
  DaemonSet: core.daemonSets,
  Job: core.jobs,
  CronJob: core.cronJobs,
  ReplicaSet: core.replicaSets,
};

export interface WorkloadOptions extends PodOptions {
  replicas?: number;
  suspend?: boolean;
  owner?: KubeObject;
}

/** The object a person would write for a workload of `kind`. */
export function workloadObject(
  kind: WorkloadKind | 'ReplicaSet',
  namespace: string,
  name: string,
  containers: ContainerSpec[],
  o: WorkloadOptions = {},
): KubeObject {
  const selector = { matchLabels: { app: name } };
  const template = {
    metadata: { labels: { app: name } },
    spec: podSpec(containers, {
      ...o,
      restartPolicy: kind === 'Job' || kind === 'CronJob' ? 'Never' : 'Always',
    }),
  };
  const apiVersion = kind === 'Job' || kind === 'CronJob' ? 'batch/v1' : 'apps/v1';
  const metadata = {
    name,
    namespace,
    ...(o.labels !== undefined ? { labels: o.labels } : {}),
    ...(o.owner !== undefined ? { ownerReferences: [ownerRef(o.owner)] } : {}),
  };
  const spec: Record<string, unknown> = (() => {
    switch (kind) {
      case 'Deployment':
      case 'ReplicaSet':
        return { replicas: o.replicas ?? 1, selector, template };
      case 'StatefulSet':
        return { replicas: o.replicas ?? 1, serviceName: name, selector, template };
      case 'DaemonSet':
        return { selector, template };
      case 'Job':
        return { backoffLimit: 0, template };
      case 'CronJob':
        return {
          schedule: '0 3 * * *',
          suspend: o.suspend ?? false,
          jobTemplate: { spec: { backoffLimit: 0, template } },
        };
    }
  })();
  return { apiVersion, kind, metadata, spec };
}

export async function createWorkload(
  w: Writer,
  kind: WorkloadKind | 'ReplicaSet',
  namespace: string,
  name: string,
  containers: ContainerSpec[],
  o: WorkloadOptions = {},
): Promise<KubeObject> {
  return w.create(WORKLOAD_RESOURCES[kind], workloadObject(kind, namespace, name, containers, o));
}

/**
 * A workload with one pod, attributed the way its controller attributes it: a Deployment
 * through a ReplicaSet, a CronJob through a Job, the others directly. Returns the workload.
 */
export async function runWorkload(
  w: Writer,
  kind: WorkloadKind,
  namespace: string,
  name: string,
  nodeName: string,
  containers: ContainerSpec[],
  phase: PodPhase,
  startedAt: number,
  o: WorkloadOptions = {},
): Promise<KubeObject> {
  const workload = await createWorkload(w, kind, namespace, name, containers, o);
  let owner = workload;
  if (kind === 'Deployment') {
    owner = await createWorkload(w, 'ReplicaSet', namespace, `${name}-7c9d8f6b5`, containers, {
      ...o,
      labels: { app: name },
      owner: workload,
    });
  } else if (kind === 'CronJob') {
    owner = await createWorkload(w, 'Job', namespace, `${name}-29370000`, containers, {
      ...o,
      labels: { app: name },
      owner: workload,
    });
  }
  const podName = `${name}-${kind === 'StatefulSet' ? '0' : randomHex().slice(0, 5)}`;
  await runPod(w, namespace, podName, nodeName, containers, phase, startedAt, {
    ...o,
    labels: { app: name },
    owner,
    restartPolicy: kind === 'Job' || kind === 'CronJob' ? 'Never' : 'Always',
  });
  return workload;
}

export function namespaceObject(name: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

/** A Finding held on a CoveredResource, as the findings controller would label it. */
export function heldFinding(namespace: string, name: string, coveredResource: string): KubeObject {
  return {
    apiVersion: 'kubeinspector.io/v1alpha1',
    kind: 'Finding',
    metadata: {
      name,
      namespace,
      labels: {
        'kubeinspector.io/covered-resource': coveredResource,
        'kubeinspector.io/status': 'ACTIVE',
        'kubeinspector.io/severity': 'HIGH',
        'kubeinspector.io/type': 'PACKAGE_VULNERABILITY',
      },
    },
    spec: {},
  };
}

// ---------------------------------------------------------------- reading coverage

export interface CoveredResourceView extends KubeObject {
  status?: {
    resourceType?: string;
    resourceId?: string;
    scanStatus?: { statusCode: string; reason: string };
    lastScannedAt?: string;
    resource?: Record<string, string>;
    node?: Record<string, string>;
    image?: Record<string, unknown>;
    repository?: { name: string; scanFrequency: string };
    workload?: Record<string, unknown>;
    scanType?: string;
    scanMode?: string;
  };
}

export async function coveredResource(
  client: KubeClient,
  name: string,
): Promise<CoveredResourceView | undefined> {
  try {
    return await client.get<CoveredResourceView>(objectPath(kinds.coveredResources, name));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function listCoveredResources(client: KubeClient): Promise<CoveredResourceView[]> {
  const list = await client.get<{ items: CoveredResourceView[] }>(
    collectionPath(kinds.coveredResources),
  );
  return list.items;
}

/** One observed state of a CoveredResource: `CODE/REASON`, or `gone`. */
export interface Observation {
  state: string;
  at: number;
}

/**
 * Records every state each CoveredResource passes through, from a watch: every write the
 * controller makes is one event, so short-lived states (PENDING_INITIAL_SCAN) are seen too,
 * and so are transitions that happen on their own (deadlines).
 */
export class CoverageHistory {
  private readonly client: KubeClient;
  private readonly seen = new Map<string, Observation[]>();
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;

  constructor(client: KubeClient) {
    this.client = client;
  }

  /** Starts watching; resolves once the watch is open. */
  async start(): Promise<void> {
    const list = await this.client.get<{
      metadata: { resourceVersion: string };
      items: CoveredResourceView[];
    }>(collectionPath(kinds.coveredResources));
    for (const cr of list.items) this.record('MODIFIED', cr);
    this.running = this.watch(list.metadata.resourceVersion);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  private async watch(from: string): Promise<void> {
    let resourceVersion = from;
    while (!this.abort.signal.aborted) {
      try {
        const res = await this.client.raw('GET', collectionPath(kinds.coveredResources), {
          query: { watch: 1, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 3600 },
          signal: this.abort.signal,
          timeoutMs: 0,
        });
        const decoder = new TextDecoder();
        let buffered = '';
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          buffered += decoder.decode(chunk, { stream: true });
          let newline: number;
          while ((newline = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            if (line === '') continue;
            const event = JSON.parse(line) as { type: string; object: CoveredResourceView };
            if (event.type === 'ERROR') throw new Error(`watch: ${line}`);
            resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
            if (event.type !== 'BOOKMARK') this.record(event.type, event.object);
          }
        }
      } catch (err) {
        if (this.abort.signal.aborted) return;
        throw err;
      }
    }
  }

  private record(type: string, cr: CoveredResourceView): void {
    const s = cr.status?.scanStatus;
    const state = type === 'DELETED' ? 'gone' : s ? `${s.statusCode}/${s.reason}` : undefined;
    if (state === undefined) return;
    const list = this.seen.get(cr.metadata.name) ?? [];
    if (list.at(-1)?.state !== state) list.push({ state, at: Date.now() });
    this.seen.set(cr.metadata.name, list);
  }

  /** The states `name` went through, oldest first. */
  of(name: string): Observation[] {
    return this.seen.get(name) ?? [];
  }

  /** Whether `name` went through `first` and later `then`. */
  passed(name: string, first: string, then: string): boolean {
    const states = this.of(name).map((o) => o.state);
    const i = states.indexOf(first);
    return i >= 0 && states.indexOf(then, i + 1) > i;
  }
}
