/**
 * Coverage and findings at scale (`make bench`).
 *
 * Starts a control plane of its own (kube-apiserver, etcd, kube-controller-manager on
 * loopback) and a loopback OCI registry, then writes a cluster the way its owners would:
 * Nodes with the status a kubelet reports, an agent DaemonSet with one Running agent pod a
 * node, a NodeInventory a node (the agent's field manager, real Debian 12 package names and
 * versions), Deployments with a ReplicaSet each and Running pods with kubelet status whose
 * imageID is `repo@digest` of small distinct Debian images pushed to the registry. Then it
 * starts the coverage and findings controllers in this process, exactly as
 * `kube-inspector controller` wires them, with the bundled OSV fixture database, and measures:
 *
 *   1. the time until coverage converges (every expected CoveredResource present, none
 *      PENDING_INITIAL_SCAN) and until findings settle (count stable, work queues empty),
 *      with the controller's own API requests by verb (rest_client_requests_total);
 *   2. the requests by verb over a steady period (the target: zero writes), with watch restarts
 *      in it;
 *   3. the controller's memory after a forced GC, its cache object counts, image scans and
 *      their duration, and the number and JSON bytes of CoveredResources and Findings;
 *   4. from a watch of its own: the CoveredResource and Finding write events by resource type,
 *      and which fields they changed (to see where the writes of convergence go).
 *
 * Sizes (environment): BENCH_NODES (500), BENCH_PODS (5000), BENCH_WORKLOADS (1000
 * Deployments), BENCH_IMAGES (200), BENCH_STEADY_SECONDS (60), BENCH_TIMEOUT_SECONDS (1800,
 * for each wait). BENCH_FINDINGS=0 runs the coverage controllers alone (no findings: nothing
 * else shares the controller's API client limit, so the time is coverage's own).
 * BENCH_KUBE_API_QPS (50) is the controller's --kube-api-qps (the burst is twice it). The default
 * takes about 6 minutes on 2 busy cores. The target size of docs/operations.md (on 2 busy cores:
 * about 13 minutes to write the cluster, then 15 for coverage alone to converge):
 *
 *   BENCH_NODES=5000 BENCH_PODS=50000 BENCH_WORKLOADS=10000 BENCH_IMAGES=2000 BENCH_FINDINGS=0 \
 *     node --expose-gc bench/coverage-scale.bench.ts
 *
 * Prints a table and appends one JSON line to bench/results/coverage-scale.jsonl.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { setupCoverage } from '../src/controllers/coverage/index.ts';
import { setupFindings } from '../src/controllers/findings/index.ts';
import { IMAGE_PACKAGES, writeBenchAdvisories } from './findings-advisories.ts';
import { resourceTypeOfName } from '../src/coverage/names.ts';
import { kinds } from '../src/controllers/informers.ts';
import { KubeClient } from '../src/kube/client.ts';
import {
  collectionPath,
  core,
  objectPath,
  type KubeObject,
  type ResourceType,
} from '../src/kube/resources.ts';
import {
  AGENT_LABELS,
  HOUR,
  namespaceObject,
  nodeObject,
  kubeletNodeStatus,
  kubeletPodStatus,
  podObject,
  push,
  workloadObject,
  WORKLOAD_RESOURCES,
  type ContainerSpec,
  type PushedImage,
} from '../test/integration/coverage-fixtures.ts';
import {
  BOOKWORM_PACKAGES,
  applyNodeInventory,
  bookwormDpkgStatus,
  databaseCopy,
} from '../test/integration/findings-fixtures.ts';
import {
  startController,
  startProductEnvironment,
  type ProductEnvironment,
  type RunningController,
} from '../test/integration/product.ts';
import { buildImage, startRegistry, type TestRegistry } from '../test/support/registry.ts';

const size = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${name} must be a positive integer, not ${raw}`);
  return n;
};
const NODES = size('BENCH_NODES', 500);
const PODS = size('BENCH_PODS', 5000);
const WORKLOADS = size('BENCH_WORKLOADS', 1000);
const IMAGES = size('BENCH_IMAGES', 200);
const STEADY_SECONDS = size('BENCH_STEADY_SECONDS', 60);
const TIMEOUT_MS = size('BENCH_TIMEOUT_SECONDS', 1800) * 1000;
const FINDINGS = process.env.BENCH_FINDINGS !== '0';
/**
 * Findings a finished scan makes, when set: synthetic advisories (bench/findings-advisories.ts)
 * give every image this many and every node BENCH_FINDINGS_PER_NODE (30), as in a real cluster.
 * Unset, the bundled fixture database matches a handful per resource.
 */
const PER_IMAGE =
  process.env.BENCH_FINDINGS_PER_IMAGE === undefined ? 0 : size('BENCH_FINDINGS_PER_IMAGE', 250);
const PER_NODE = size('BENCH_FINDINGS_PER_NODE', 30);
/** The controller's --kube-api-qps (its default, 50, unless set); burst is twice that. */
const KUBE_API_QPS = size('BENCH_KUBE_API_QPS', 50);
/** Requests the bench keeps in flight while it writes the cluster. */
const IN_FLIGHT = 32;
/** Images a repository holds (tags v0, v1, …). */
const IMAGES_A_REPOSITORY = 4;
/** Deployments a namespace holds. */
const WORKLOADS_A_NAMESPACE = 50;
if (WORKLOADS > PODS) throw new Error('BENCH_WORKLOADS must not exceed BENCH_PODS');

const started = Date.now();
const elapsed = (from: number): string => `${((Date.now() - from) / 1000).toFixed(1)} s`;
const log = (line: string): void => console.log(`[${elapsed(started).padStart(8)}] ${line}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>) {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

// ---------------------------------------------------------------- metrics text

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The samples of metric `name` (exact name, e.g. a histogram's `_sum`) in Prometheus text. */
function samples(text: string, name: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m?.[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of metric `name` grouped by label `by`. */
function sumBy(text: string, name: string, by: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples(text, name)) {
    const k = s.labels[by] ?? '';
    out[k] = (out[k] ?? 0) + s.value;
  }
  return out;
}

const total = (xs: Record<string, number>): number => Object.values(xs).reduce((a, b) => a + b, 0);

function difference(after: Record<string, number>, before: Record<string, number>) {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after))
    if (v - (before[k] ?? 0) !== 0) out[k] = v - (before[k] ?? 0);
  return out;
}

const WRITES = ['POST', 'PUT', 'PATCH', 'DELETE'];
const writes = (byVerb: Record<string, number>): number =>
  WRITES.reduce((a, v) => a + (byVerb[v] ?? 0), 0);
const verbs = (byVerb: Record<string, number>): string =>
  Object.entries(byVerb)
    .sort()
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

// ---------------------------------------------------------------- the cluster

/** Small distinct Debian images: one layer each, a marker file making every digest unique. */
async function pushImages(registry: TestRegistry, n: number, repository: (i: number) => string) {
  const osRelease = readFileSync(
    join(import.meta.dirname, '..', 'test', 'fixtures', 'images', 'dpkg', 'os-release'),
    'utf8',
  );
  const libraries = IMAGE_PACKAGES.map((p) =>
    [
      `Package: ${p.name}`,
      'Status: install ok installed',
      'Architecture: amd64',
      `Version: ${p.version}`,
      `Description: ${p.name}`,
      '',
    ].join('\n'),
  );
  const status =
    PER_IMAGE > 0 ? [bookwormDpkgStatus(), ...libraries].join('\n') : bookwormDpkgStatus();
  const images: PushedImage[] = new Array<PushedImage>(n);
  await pool(range(n), 8, async (i) => {
    const image = buildImage({
      layers: [
        [
          { path: 'etc/', type: 'dir' },
          { path: 'etc/os-release', content: osRelease },
          { path: 'var/lib/dpkg/status', content: status },
          { path: 'etc/bench-image', content: `${repository(i)} ${i}\n` },
        ],
      ],
    });
    images[i] = await push(registry.url, registry.host, repository(i), `v${i}`, image);
  });
  return images;
}

interface Cluster {
  namespaces: number;
  repositories: number;
  requests: number;
}

async function writeCluster(
  env: ProductEnvironment,
  registry: TestRegistry,
  w: KubeClient,
): Promise<Cluster> {
  let requests = 0;
  const create = async <T extends KubeObject>(
    resource: ResourceType,
    obj: KubeObject,
  ): Promise<T> => {
    requests++;
    return w.request<T>('POST', collectionPath(resource, obj.metadata.namespace), {
      body: obj,
      query: { fieldManager: 'kubectl-create' },
    });
  };
  /** The owner's status write (kubelet, or a workload controller) with the created object. */
  const setStatus = async (
    resource: ResourceType,
    obj: KubeObject,
    status: unknown,
    fieldManager: string,
  ): Promise<void> => {
    requests++;
    await w.request(
      'PUT',
      objectPath(resource, obj.metadata.name, obj.metadata.namespace, 'status'),
      {
        body: { ...obj, status },
        query: { fieldManager },
      },
    );
  };

  const t0 = Date.now();
  const repositories = Math.ceil(IMAGES / IMAGES_A_REPOSITORY);
  const images = await pushImages(registry, IMAGES, (i) => `bench/app-${i % repositories}`);
  const [agentImage] = await pushImages(registry, 1, () => 'kube-inspector/agent');
  log(
    `pushed ${IMAGES} images in ${repositories} repositories and the agent image (${elapsed(t0)})`,
  );

  const now = Date.now();
  const t1 = Date.now();
  const nodeNames = range(NODES).map((i) => `node-${String(i).padStart(5, '0')}`);
  const agent: ContainerSpec[] = [{ name: 'agent', image: agentImage! }];
  const daemonSet = await create(
    WORKLOAD_RESOURCES.DaemonSet,
    workloadObject('DaemonSet', env.adminNamespace, 'kube-inspector-agent', agent, {
      labels: { ...AGENT_LABELS },
    }),
  );
  await pool(nodeNames, IN_FLIGHT, async (name) => {
    const node = await create(core.nodes, nodeObject(name));
    await setStatus(core.nodes, node, kubeletNodeStatus({}, now), 'kubelet');
    const pod = await create(
      core.pods,
      podObject(env.adminNamespace, `kube-inspector-agent-${name}`, name, agent, {
        labels: { ...AGENT_LABELS },
        owner: daemonSet,
      }),
    );
    await setStatus(core.pods, pod, kubeletPodStatus(agent, 'Running', now - HOUR), 'kubelet');
    requests += 2;
    await applyNodeInventory(w, name, BOOKWORM_PACKAGES, new Date(now - 60_000));
  });
  log(`wrote ${NODES} nodes, agent pods and NodeInventories (${elapsed(t1)})`);

  const t2 = Date.now();
  const namespaces = Math.ceil(WORKLOADS / WORKLOADS_A_NAMESPACE);
  await pool(range(namespaces), IN_FLIGHT, async (i) => {
    await create(core.namespaces, namespaceObject(`bench-${String(i).padStart(4, '0')}`));
  });
  let pods = 0;
  let workloadsDone = 0;
  await pool(range(WORKLOADS), IN_FLIGHT, async (i) => {
    const namespace = `bench-${String(Math.floor(i / WORKLOADS_A_NAMESPACE)).padStart(4, '0')}`;
    const name = `app-${String(i).padStart(6, '0')}`;
    const containers: ContainerSpec[] = [{ name: 'app', image: images[i % IMAGES]! }];
    // Pods spread evenly: the first PODS % WORKLOADS Deployments run one more.
    const replicas = Math.floor(PODS / WORKLOADS) + (i < PODS % WORKLOADS ? 1 : 0);
    const deployment = await create(
      WORKLOAD_RESOURCES.Deployment,
      workloadObject('Deployment', namespace, name, containers, { replicas }),
    );
    const replicaSet = await create(
      WORKLOAD_RESOURCES.ReplicaSet,
      workloadObject('ReplicaSet', namespace, `${name}-7c9d8f6b5`, containers, {
        replicas,
        labels: { app: name },
        owner: deployment,
      }),
    );
    for (let r = 0; r < replicas; r++) {
      const node = nodeNames[(i * 7 + r) % NODES]!;
      const pod = await create(
        core.pods,
        podObject(namespace, `${name}-7c9d8f6b5-${String(r).padStart(5, '0')}`, node, containers, {
          labels: { app: name },
          owner: replicaSet,
        }),
      );
      await setStatus(
        core.pods,
        pod,
        kubeletPodStatus(containers, 'Running', now - 10 * 60_000),
        'kubelet',
      );
      pods++;
    }
    if (++workloadsDone % Math.ceil(WORKLOADS / 10) === 0) {
      log(`  ${workloadsDone} Deployments, ${pods} pods (${requests} requests)`);
    }
  });
  log(
    `wrote ${namespaces} namespaces, ${WORKLOADS} Deployments and ReplicaSets, ${pods} pods (${elapsed(t2)})`,
  );
  return { namespaces, repositories, requests };
}

// ---------------------------------------------------------------- measuring

/** CoveredResources expected a resource type, once everything is covered. */
function expectedCoverage(cluster: Cluster, namespaces: number): Record<string, number> {
  return {
    NODE: NODES,
    CONTAINER_IMAGE: IMAGES + 1,
    IMAGE_REPOSITORY: cluster.repositories + 1,
    WORKLOAD: WORKLOADS + 1,
    NAMESPACE: namespaces,
  };
}

/** Polls `check` until it returns a value; every 30 s logs the progress it last noted. */
async function until<T>(
  what: string,
  check: (note: (progress: string) => void) => Promise<T | undefined>,
  everyMs = 2000,
) {
  const deadline = Date.now() + TIMEOUT_MS;
  let last = Date.now();
  let progress = '';
  const note = (p: string): void => {
    progress = p;
  };
  for (;;) {
    const v = await check(note);
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(`${what}: not reached within ${TIMEOUT_MS / 1000} s (${progress})`);
    if (Date.now() - last > 30_000) {
      last = Date.now();
      log(`waiting for ${what}: ${progress}`);
    }
    await sleep(everyMs);
  }
}

interface ObjectSizes {
  count: number;
  bytes: number;
  largest: number;
  largestName: string;
}

/** Every item of a collection, paged, with its JSON size. */
async function objectSizes(client: KubeClient, path: string): Promise<ObjectSizes> {
  const out: ObjectSizes = { count: 0, bytes: 0, largest: 0, largestName: '' };
  let token: string | undefined;
  do {
    const page = await client.get<{ items: KubeObject[]; metadata: { continue?: string } }>(path, {
      query: { limit: 500, ...(token !== undefined ? { continue: token } : {}) },
    });
    for (const item of page.items) {
      const bytes = Buffer.byteLength(JSON.stringify(item));
      out.count++;
      out.bytes += bytes;
      if (bytes > out.largest) {
        out.largest = bytes;
        out.largestName = item.metadata.name;
      }
    }
    token = page.metadata.continue || undefined;
  } while (token !== undefined);
  return out;
}

/** CPU seconds (user and system) of this process since `from`. */
function cpuSeconds(from: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(from);
  return Math.round((u.user + u.system) / 1e4) / 100;
}

function memory(): { rssMiB: number; heapUsedMiB: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc (make bench does)');
  gc();
  const m = process.memoryUsage();
  return {
    rssMiB: Math.round(m.rss / 2 ** 20),
    heapUsedMiB: Math.round(m.heapUsed / 2 ** 20),
  };
}

/**
 * Counts the write events of a collection by event type and status.resourceType (every write
 * that changed an object is one event; a PATCH that changed nothing makes none).
 */
class EventCounter {
  readonly counts: Record<string, number> = {};
  /** What MODIFIED events changed: `resourceType field` (status fields, `labels`, `spec`). */
  readonly changed: Record<string, number> = {};
  private readonly last = new Map<string, Record<string, string>>();
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private readonly client: KubeClient;
  private readonly path: string;

  constructor(client: KubeClient, path: string) {
    this.client = client;
    this.path = path;
  }

  async start(): Promise<void> {
    const list = await this.client.get<{ metadata: { resourceVersion: string } }>(this.path, {
      query: { limit: 1 },
    });
    this.running = this.watch(list.metadata.resourceVersion).catch((err: unknown) => {
      if (!this.abort.signal.aborted) log(`event counter of ${this.path}: ${String(err)}`);
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private compare(type: string, event: string, o: KubeObject): void {
    const fields: Record<string, string> = {
      labels: JSON.stringify(o.metadata.labels ?? {}),
      spec: JSON.stringify(o.spec ?? {}),
      annotations: JSON.stringify(o.metadata.annotations ?? {}),
      finalizers: JSON.stringify(o.metadata.finalizers ?? []),
      // Who owns what: a write that changes only this moved field ownership.
      managedFields: JSON.stringify(
        (o.metadata.managedFields ?? []).map((e) => [e.manager, e.subresource, e.fieldsV1]),
      ),
    };
    for (const [f, v] of Object.entries((o.status ?? {}) as Record<string, unknown>)) {
      fields[f] = JSON.stringify(v);
    }
    const before = this.last.get(o.metadata.name);
    this.last.set(o.metadata.name, fields);
    if (event !== 'MODIFIED' || before === undefined) return;
    const changed = [...new Set([...Object.keys(before), ...Object.keys(fields)])].filter(
      (f) => before[f] !== fields[f],
    );
    // A write that changed no value and only moved field ownership shows as `ownership-only`.
    const named = changed.filter((f) => f !== 'managedFields');
    for (const f of named.length > 0 ? named : ['ownership-only']) {
      const k = `${type} ${f}`;
      this.changed[k] = (this.changed[k] ?? 0) + 1;
    }
  }

  private async watch(from: string): Promise<void> {
    let resourceVersion = from;
    while (!this.abort.signal.aborted) {
      const res = await this.client.raw('GET', this.path, {
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
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (line.trim() === '') continue;
          const event = JSON.parse(line) as {
            type: string;
            object: KubeObject & { status?: { resourceType?: string } };
          };
          if (event.type === 'ERROR') throw new Error(`watch: ${line}`);
          resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
          if (event.type === 'BOOKMARK') continue;
          // By name: an object created without its status yet has no status.resourceType.
          const type =
            event.object.status?.resourceType ??
            resourceTypeOfName(event.object.metadata.name) ??
            '-';
          const k = `${event.type} ${type}`;
          this.counts[k] = (this.counts[k] ?? 0) + 1;
          this.compare(type, event.type, event.object);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- run

let env: ProductEnvironment | undefined;
let registry: TestRegistry | undefined;
let controller: RunningController | undefined;
let writer: KubeClient | undefined;
let db: Awaited<ReturnType<typeof databaseCopy>> | undefined;
let failed = false;
let cleaning: Promise<void> | undefined;
const counters: EventCounter[] = [];
/** Stops the controller, the registry and the control plane; once, whoever asks first. */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    await controller?.stop().catch((e: unknown) => console.error('controller stop:', e));
    for (const c of counters) await c.stop();
    await writer?.close();
    await registry?.stop().catch((e: unknown) => console.error('registry stop:', e));
    await env?.stop().catch((e: unknown) => console.error('control plane stop:', e));
    db?.remove();
  })();
  return cleaning;
}
// An interrupted run (Ctrl-C, `timeout`) still stops what it started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    void cleanUp().finally(() => process.exit(130));
  });
}
try {
  console.log(
    `coverage scale: ${NODES} nodes, ${PODS} pods in ${WORKLOADS} Deployments, ${IMAGES} images; ${cpus().length} CPUs; ${FINDINGS ? 'coverage and findings' : 'coverage alone'}`,
  );
  env = await startProductEnvironment();
  registry = await startRegistry();
  db = await databaseCopy();
  if (PER_IMAGE > 0) {
    const n = writeBenchAdvisories(db.dir, BOOKWORM_PACKAGES, PER_NODE, PER_IMAGE);
    if ((await db.source.refresh()) !== 'updated')
      throw new Error('the benchmark advisories did not load');
    log(`${n} benchmark advisories: ~${PER_IMAGE} findings an image, ~${PER_NODE} a node`);
  }
  writer = await KubeClient.create(env.kubeConfig, { qps: 0 });
  log('control plane, registry and database ready');
  const tWrite = Date.now();
  const cluster = await writeCluster(env, registry, writer);
  const writeSeconds = (Date.now() - tWrite) / 1000;
  const namespaceList = await writer.get<{ items: unknown[] }>(collectionPath(core.namespaces));
  const expected = expectedCoverage(cluster, namespaceList.items.length);
  const expectedTotal = total(expected);
  /** Requests of these verbs a CoveredResource. */
  const perResource = (byVerb: Record<string, number>, only: string[]) =>
    Object.fromEntries(
      Object.entries(byVerb)
        .filter(([v]) => only.includes(v))
        .map(([v, n]) => [v, Number((n / expectedTotal).toFixed(2))]),
    );
  /** Watch events (ADDED + MODIFIED) a CoveredResource of each type. */
  const eventsPerResource = (counts: Record<string, number>) => {
    const byType: Record<string, number> = {};
    for (const [k, n] of Object.entries(counts)) {
      const [event, type] = k.split(' ');
      if (event !== 'ADDED' && event !== 'MODIFIED') continue;
      byType[type!] = (byType[type!] ?? 0) + n;
    }
    return Object.fromEntries(
      Object.entries(byType).map(([t, n]) => [t, Number((n / (expected[t] ?? n)).toFixed(2))]),
    );
  };
  log(`cluster written: ${cluster.requests} requests in ${writeSeconds.toFixed(1)} s`);

  const baseline = memory();
  // The ScanConfiguration comes before the controller starts: the controller meets a full
  // cluster, as after an install or a restart.
  await env.apply({
    apiVersion: 'kubeinspector.io/v1alpha1',
    kind: 'ScanConfiguration',
    metadata: { name: 'default' },
    spec: {},
  });
  const coveredEvents = new EventCounter(writer, collectionPath(kinds.coveredResources));
  const findingEvents = new EventCounter(
    writer,
    collectionPath(kinds.findings, env.adminNamespace),
  );
  counters.push(coveredEvents, findingEvents);
  await coveredEvents.start();
  const tStart = Date.now();
  const cpuStart = process.cpuUsage();
  controller = await startController(env, {
    setups: FINDINGS ? [setupCoverage, setupFindings] : [setupCoverage],
    database: db.source,
    insecureRegistries: [registry.host],
    // Watches end within 20-40 s, so the steady period includes watch restarts.
    reflector: { minWatchTimeoutSeconds: 20 },
    client: { qps: KUBE_API_QPS, burst: Math.max(1, 2 * KUBE_API_QPS) },
  });
  // Findings are served by the controller's own API: they can be watched once it runs (no
  // finding is written before a scan ends, so nothing is missed).
  // At a real cluster's finding count the watch would cost more than what it measures.
  if (FINDINGS && PER_IMAGE === 0) await findingEvents.start();
  const readySeconds = (Date.now() - tStart) / 1000;
  const readyMemory = memory();
  log(
    `controller ready (caches synced) in ${readySeconds.toFixed(1)} s; rss ${readyMemory.rssMiB} MiB, heapUsed ${readyMemory.heapUsedMiB} MiB after GC`,
  );
  const c = controller;

  let peakRssMiB = 0;
  const coverage = await until('coverage to converge', async (note) => {
    const text = await c.metrics();
    const byType = sumBy(text, 'kubeinspector_coverage_resources', 'resource_type');
    const pending = samples(text, 'kubeinspector_coverage_resources')
      .filter((s) => s.labels.reason === 'PENDING_INITIAL_SCAN')
      .reduce((a, s) => a + s.value, 0);
    const done = Object.entries(expected).every(([t, n]) => (byType[t] ?? 0) >= n);
    const requests = sumBy(text, 'rest_client_requests_total', 'method');
    const rss = Math.round(process.memoryUsage().rss / 2 ** 20);
    peakRssMiB = Math.max(peakRssMiB, rss);
    note(
      `${verbs(byType)}; ${pending} PENDING_INITIAL_SCAN; requests ${verbs(requests)}; rss ${rss} MiB`,
    );
    return done && pending === 0 ? text : undefined;
  });
  const convergeSeconds = (Date.now() - tStart) / 1000;
  const convergeCpu = cpuSeconds(cpuStart);
  const convergeRequests = sumBy(coverage, 'rest_client_requests_total', 'method');
  const convergeCoveredEvents = { ...coveredEvents.counts };
  const convergeMemory = memory();
  log(`coverage converged in ${convergeSeconds.toFixed(1)} s`);

  let previous = -1;
  let stableSince = 0;
  const findingsText = await until('findings to settle', async (note) => {
    if (!FINDINGS) {
      stableSince = Date.now();
      return c.metrics();
    }
    const text = await c.metrics();
    const findings = total(sumBy(text, 'kubeinspector_findings', 'status'));
    const depth = total(sumBy(text, 'workqueue_depth', 'name'));
    const scanning = total(sumBy(text, 'kubeinspector_image_scans_in_flight', 'x'));
    const requests = sumBy(text, 'rest_client_requests_total', 'method');
    note(
      `${findings} findings, queue depth ${depth}, ${scanning} scans in flight; requests ${verbs(requests)}`,
    );
    if (findings !== previous || depth > 0 || scanning > 0) {
      previous = findings;
      stableSince = Date.now();
      return undefined;
    }
    return Date.now() - stableSince >= 10_000 ? text : undefined;
  });
  const settleSeconds = (stableSince - tStart) / 1000;
  const settleRequests = sumBy(findingsText, 'rest_client_requests_total', 'method');
  const settleCoveredEvents = { ...coveredEvents.counts };
  const settleCoveredChanges = { ...coveredEvents.changed };
  const settleFindingEvents = { ...findingEvents.counts };
  const findingWrites = sumBy(findingsText, 'kubeinspector_finding_writes_total', 'verb');
  log(`findings settled ${settleSeconds.toFixed(1)} s after the start`);

  const settleCpu = cpuSeconds(cpuStart);
  const steadyCpuStart = process.cpuUsage();
  const steadyBefore = await c.metrics();
  const eventsBefore = { ...coveredEvents.counts, ...findingEvents.counts };
  await sleep(STEADY_SECONDS * 1000);
  const steadyAfter = await c.metrics();
  const steadyCpu = cpuSeconds(steadyCpuStart);
  const steadyEvents = total(
    difference({ ...coveredEvents.counts, ...findingEvents.counts }, eventsBefore),
  );
  const steady = difference(
    sumBy(steadyAfter, 'rest_client_requests_total', 'method'),
    sumBy(steadyBefore, 'rest_client_requests_total', 'method'),
  );
  const restarts =
    total(sumBy(steadyAfter, 'kubeinspector_watch_restarts_total', 'resource')) -
    total(sumBy(steadyBefore, 'kubeinspector_watch_restarts_total', 'resource'));
  const relists =
    total(sumBy(steadyAfter, 'kubeinspector_relists_total', 'resource')) -
    total(sumBy(steadyBefore, 'kubeinspector_relists_total', 'resource'));

  const mem = memory();
  const caches = sumBy(steadyAfter, 'kubeinspector_cache_objects', 'resource');
  const scans = sumBy(steadyAfter, 'kubeinspector_image_scans_total', 'result');
  const scanSeconds = total(
    sumBy(steadyAfter, 'kubeinspector_image_scan_duration_seconds_sum', 'x'),
  );
  const scanCount = total(
    sumBy(steadyAfter, 'kubeinspector_image_scan_duration_seconds_count', 'x'),
  );
  const reasons = samples(steadyAfter, 'kubeinspector_coverage_resources')
    .filter((s) => s.value > 0)
    .map((s) => `${s.labels.resource_type}/${s.labels.reason} ${s.value}`)
    .sort();
  const findingsByStatus = sumBy(steadyAfter, 'kubeinspector_findings', 'status');
  const covered = await objectSizes(writer, collectionPath(kinds.coveredResources));
  const findings =
    PER_IMAGE > 0
      ? undefined
      : await objectSizes(writer, collectionPath(kinds.findings, env.adminNamespace));

  const rows: [string, string][] = [
    [
      'size',
      `${NODES} nodes, ${PODS} pods, ${WORKLOADS} Deployments, ${IMAGES} images, ${cpus().length} CPUs`,
    ],
    [
      'cluster written',
      `${cluster.requests} requests in ${writeSeconds.toFixed(1)} s (${IN_FLIGHT} in flight)`,
    ],
    ['controller ready (caches synced)', `${readySeconds.toFixed(1)} s`],
    [
      'coverage converged',
      `${convergeSeconds.toFixed(1)} s after start; ${convergeCpu} CPU seconds in this process (the controller and the watch of the benchmark)`,
    ],
    ['  requests until then', `${total(convergeRequests)}: ${verbs(convergeRequests)}`],
    [
      '  writes a CoveredResource',
      `${(writes(convergeRequests) / expectedTotal).toFixed(2)} requests (${verbs(perResource(convergeRequests, WRITES))}); watch events ${verbs(eventsPerResource(convergeCoveredEvents))}`,
    ],
    [
      '  memory at convergence',
      `rss ${convergeMemory.rssMiB} MiB, heapUsed ${convergeMemory.heapUsedMiB} MiB after GC; peak rss seen while converging ${peakRssMiB} MiB`,
    ],
    [
      'findings settled',
      `${settleSeconds.toFixed(1)} s after start; ${settleCpu} CPU seconds (until the check)`,
    ],
    ['  requests until then', `${total(settleRequests)}: ${verbs(settleRequests)}`],
    ['  CoveredResource watch events', verbs(settleCoveredEvents)],
    ['  fields those MODIFIED changed', verbs(settleCoveredChanges)],
    ['  Finding watch events', verbs(settleFindingEvents)],
    ['  finding writes (controller)', verbs(findingWrites)],
    [
      `steady ${STEADY_SECONDS} s`,
      `${writes(steady)} writes, ${steadyEvents} watch events; requests ${verbs(steady)}; ${restarts} watch restarts, ${relists} relists; ${steadyCpu} CPU seconds`,
    ],
    [
      'memory after GC',
      `rss ${mem.rssMiB} MiB, heapUsed ${mem.heapUsedMiB} MiB (before the controller: rss ${baseline.rssMiB}, heapUsed ${baseline.heapUsedMiB})`,
    ],
    ['cache objects', verbs(caches)],
    ['coverage', reasons.join(', ')],
    [
      'CoveredResources',
      `${covered.count}, ${(covered.bytes / 2 ** 20).toFixed(2)} MiB, largest ${covered.largest} B (${covered.largestName})`,
    ],
    [
      'Findings',
      findings === undefined
        ? `${verbs(findingsByStatus)} (not listed at this size)`
        : `${findings.count} (${verbs(findingsByStatus)}), ${(findings.bytes / 2 ** 20).toFixed(2)} MiB, largest ${findings.largest} B (${findings.largestName})`,
    ],
    [
      'image scans',
      `${verbs(scans)}; ${scanCount} timed, ${scanSeconds.toFixed(1)} s in total, ${scanCount > 0 ? ((scanSeconds / scanCount) * 1000).toFixed(0) : '-'} ms each`,
    ],
  ];
  if (!FINDINGS) {
    // No findings controllers: their rows say nothing (the watch counts stay: coverage's).
    rows.splice(
      rows.findIndex(([k]) => k === 'findings settled'),
      2,
    );
    for (const k of ['  Finding watch events', '  finding writes (controller)', 'Findings'])
      rows.splice(
        rows.findIndex(([r]) => r === k),
        1,
      );
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log('');
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);

  const results = join(import.meta.dirname, 'results');
  mkdirSync(results, { recursive: true });
  appendFileSync(
    join(results, 'coverage-scale.jsonl'),
    JSON.stringify({
      at: new Date().toISOString(),
      cpus: cpus().length,
      size: { nodes: NODES, pods: PODS, workloads: WORKLOADS, images: IMAGES },
      writeSeconds,
      readySeconds,
      convergeSeconds,
      convergeRequests,
      convergeCoveredEvents,
      convergeMemory,
      peakRssMiB,
      findingsControllers: FINDINGS,
      findingsPerImage: PER_IMAGE,
      findingsPerNode: PER_NODE,
      kubeApiQps: KUBE_API_QPS,
      convergeCpu,
      settleCpu,
      steadyCpu,
      settleSeconds,
      settleRequests,
      settleCoveredEvents,
      settleCoveredChanges,
      settleFindingEvents,
      findingWrites,
      steadySeconds: STEADY_SECONDS,
      steady,
      steadyEvents,
      steadyWatchRestarts: restarts,
      memory: mem,
      baselineMemory: baseline,
      readyMemory,
      caches,
      scans,
      scanSeconds,
      coveredResources: covered,
      findings,
    }) + '\n',
  );
} catch (err) {
  failed = true;
  console.error(err);
} finally {
  await cleanUp();
}
process.exit(failed ? 1 : 0);
