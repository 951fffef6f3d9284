/**
 * Findings API benchmark at the target size (`make bench`): the real findings API server on the
 * SQLite store, registered behind a real kube-apiserver through the aggregation layer, measured
 * with the kubectl built with the control plane; then the same on the PostgreSQL store (a
 * server of its own on loopback, Debian's postgresql as the tests use), and three serving
 * replicas on that database behind one Service with BENCH_REPLICA_WATCHERS (20) watches; then
 * today's CRD path (Finding as a custom resource in etcd) in the same run, for the ratios.
 * BENCH_STORES=sqlite (or postgres) measures one store only.
 *
 * The serving process is a child of this one (this file, run with BENCH_ROLE=server), so its
 * resident memory is the server's alone; it runs with the controller Deployment's NODE_OPTIONS
 * (V8's heap limits), as the controller that serves the API does. It:
 *   1. fills the store with 2,000 images × ~250 plus 5,000 nodes × ~30 findings (about 650,000)
 *      in one batch per resource, as an evaluation writes them. Advisories are shared as in a
 *      real cluster: images are built on a few dozen base images and share most of their OS
 *      vulnerabilities, language packages add their own; node pools are homogeneous. Advisory
 *      text has real lengths (200–1,500 characters), real-looking CVE ids, CVSS vectors and
 *      several binary packages of one source package;
 *   2. serves them while it fills (a read through kube-apiserver every 5 s) and after; this
 *      process measures, through kube-apiserver: `kubectl get findings -A -l
 *      kubeinspector.io/severity=CRITICAL`, one page of 500 (kubectl --raw and one request), one
 *      CRITICAL page, a full list in pages of 500 as kubectl and informers read it (for at most
 *      BENCH_LIST_SECONDS), one list without limit (streamed; kube-apiserver may cut it at its
 *      request timeout, which is reported), 10 concurrent watches receiving a burst of changes
 *      (delivery latency from the write to each watcher), the server's RSS (peak), and etcd's
 *      size and key counts before and after;
 *   3. installs the Finding CRD and writes findings through kube-apiserver for a fixed time,
 *      create then status as the controller does, as fast as the API server accepts (16 in
 *      flight, no client rate limit); measures the same reads and etcd's growth.
 *
 * Sizes (environment): BENCH_IMAGES (2000), BENCH_FINDINGS_PER_IMAGE (250), BENCH_NODES (5000),
 * BENCH_FINDINGS_PER_NODE (30), BENCH_CRD_SECONDS (150: how long the CRD path writes),
 * BENCH_RUNS (5 timings of each kubectl command), BENCH_BURST (1000 changed findings),
 * BENCH_WATCHERS (10), BENCH_REPLICA_WATCHERS (20), BENCH_LIST_SECONDS (240). A quick look:
 *   BENCH_IMAGES=100 BENCH_NODES=200 BENCH_CRD_SECONDS=20 node --expose-gc bench/findings-api.bench.ts
 *
 * BENCH_CRD_SECONDS=0 leaves the CRD path out. At the end, the CPU seconds of each process (the
 * serving processes, PostgreSQL with its backends, etcd, kube-apiserver, kubectl) in each phase,
 * with the phase's wall time and load average: the machine may be shared.
 *
 * Prints a table and appends one JSON line to bench/results/findings-api.jsonl.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import {
  type ClientRequest,
  get as httpGet,
  type IncomingMessage,
  request as httpRequest,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { parse } from 'yaml';
import { startControlPlane, type ControlPlane } from '../hack/control-plane/control-plane.ts';
import { API_VERSION, FINDINGS_API_VERSION, LABELS } from '../src/api/v1alpha1/common.ts';
import { createFindingsApiServer } from '../src/findings-api/server.ts';
import { SubjectAccessReviewAuthorizer } from '../src/findings-api/subject-access-review.ts';
import { PostgresFindingStore } from '../src/findings-store/postgres.ts';
import { SqliteFindingStore } from '../src/findings-store/sqlite.ts';
import type { BatchWrite, FindingStore, StoredFinding } from '../src/findings-store/store.ts';
import { KubeClient } from '../src/kube/client.ts';
import { issueServingCertificate, type ServingCertificate } from '../hack/control-plane/pki.ts';
import {
  registerAggregatedApi,
  serveAggregatedApi,
} from '../test/integration/findings-api-harness.ts';
import { startPostgres, type TestPostgres } from '../test/support/postgres.ts';
import { population, resourceFindings, type Population } from './findings-population.ts';

const sizes = {
  images: Number(process.env.BENCH_IMAGES ?? 2000),
  perImage: Number(process.env.BENCH_FINDINGS_PER_IMAGE ?? 250),
  nodes: Number(process.env.BENCH_NODES ?? 5000),
  perNode: Number(process.env.BENCH_FINDINGS_PER_NODE ?? 30),
  crdSeconds: Number(process.env.BENCH_CRD_SECONDS ?? 150),
  runs: Number(process.env.BENCH_RUNS ?? 5),
  burst: Number(process.env.BENCH_BURST ?? 1000),
  watchers: Number(process.env.BENCH_WATCHERS ?? 10),
  replicaWatchers: Number(process.env.BENCH_REPLICA_WATCHERS ?? 20),
};
/** The stores measured, in order: sqlite, postgres (BENCH_STORES, comma-separated). */
const stores = (process.env.BENCH_STORES ?? 'sqlite,postgres')
  .split(',')
  .map((s) => s.trim())
  .filter((s): s is 'sqlite' | 'postgres' => s === 'sqlite' || s === 'postgres');
const SERVICE = { name: 'kube-inspector-findings', namespace: 'kube-inspector-system' };
const ADMIN = 'kube-inspector-system';
const AGG_PATH = `/apis/${FINDINGS_API_VERSION}`;
const CRD_PATH = `/apis/${API_VERSION}`;
const CRITICAL = `${LABELS.severity}=CRITICAL`;

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
function seconds(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
function line(label: string, value: string): void {
  console.log(`${label.padEnd(58)} ${value}`);
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? NaN;
}

// ---------------------------------------------------------------- the serving process

type ToServer =
  { type: 'burst'; count: number } | { type: 'rss'; reset: boolean } | { type: 'stop' };
type FromServer =
  | { type: 'progress'; findings: number; ms: number }
  | {
      type: 'filled';
      findings: number;
      ms: number;
      bytesOnDisk: number;
      checkpointedBytes: number;
      advisories: number;
      rss: number;
      peakRss: number;
    }
  | { type: 'ready'; port: number }
  | { type: 'burst-written'; count: number; ms: number }
  | { type: 'rss'; rss: number; peak: number }
  | { type: 'error'; message: string };

function send(message: FromServer): void {
  process.send!(message);
}

/** Fills the store one resource at a time (one batch each), as the controller converges. */
async function fill(
  store: FindingStore,
  pop: Population,
  peak: () => number,
  sampleRss: () => void,
): Promise<void> {
  let count = 0;
  const t = performance.now();
  for (let i = 0; i < pop.count; i++) {
    const writes: BatchWrite[] = resourceFindings(pop, i, FINDINGS_API_VERSION).map((finding) => ({
      op: 'upsert',
      finding,
    }));
    await store.batch(writes);
    sampleRss();
    // Let the server answer between evaluations, as the controller's event-driven writes do.
    await new Promise((r) => setImmediate(r));
    count += writes.length;
    if (count % 50_000 < writes.length)
      send({ type: 'progress', findings: count, ms: performance.now() - t });
  }
  const ms = performance.now() - t;
  (globalThis as { gc?: () => void }).gc?.();
  const stats = await store.stats();
  if (store instanceof SqliteFindingStore) store.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  send({
    type: 'filled',
    findings: count,
    ms,
    bytesOnDisk: stats.bytesOnDisk,
    checkpointedBytes: (await store.stats()).bytesOnDisk,
    advisories: stats.advisories,
    rss: process.memoryUsage().rss,
    peakRss: peak(),
  });
}

/** Changes `count` findings (one write each, as separate evaluations would), stamping updatedAt. */
async function burst(store: FindingStore, count: number): Promise<void> {
  const targets = (await store.list({ limit: count })).items;
  const t = performance.now();
  for (const f of targets) {
    const status = f.status as Record<string, unknown>;
    await store.batch([
      {
        op: 'update',
        finding: { ...f, status: { ...status, updatedAt: new Date().toISOString() } },
      },
    ]);
  }
  send({ type: 'burst-written', count: targets.length, ms: performance.now() - t });
}

async function serve(): Promise<void> {
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200);
  const kc = new KubeConfig();
  kc.loadFromFile(process.env.BENCH_KUBECONFIG!);
  // BENCH_STORE=postgres: a replica on the database at BENCH_POSTGRES_URL, with the serving
  // certificate every replica shares (BENCH_SERVING); BENCH_FILL=0 for one that only serves.
  const store: FindingStore =
    process.env.BENCH_STORE === 'postgres'
      ? await PostgresFindingStore.open({ url: process.env.BENCH_POSTGRES_URL! })
      : new SqliteFindingStore({ path: process.env.BENCH_DB! });
  const serving = process.env.BENCH_SERVING;
  const served = await serveAggregatedApi({
    kubeConfig: kc,
    log: pino({ level: 'silent' }),
    service: SERVICE,
    ...(serving ? { serving: JSON.parse(serving) as ServingCertificate } : {}),
    handler: (authenticator, client) =>
      createFindingsApiServer({
        store,
        authenticator,
        authorizer: new SubjectAccessReviewAuthorizer(client),
        controllerUsernames: [],
        deleterUsernames: [],
      }).handler,
  });
  // The benchmark process went away (it crashed or was killed): nothing is left to serve.
  process.once('disconnect', () => process.exit(1));
  send({ type: 'ready', port: served.port });
  if (process.env.BENCH_FILL !== '0')
    await fill(
      store,
      population(sizes),
      () => peak,
      () => (peak = Math.max(peak, process.memoryUsage.rss())),
    );
  process.on('message', (m: ToServer) => {
    const run = async (): Promise<void> => {
      if (m.type === 'burst') await burst(store, m.count);
      else if (m.type === 'rss') {
        send({ type: 'rss', rss: process.memoryUsage().rss, peak });
        if (m.reset) peak = 0;
      } else {
        clearInterval(sampler);
        try {
          await served.stop();
          await store.close();
        } finally {
          process.exit(0);
        }
      }
    };
    run().catch((err: unknown) =>
      send({ type: 'error', message: String((err as Error)?.stack ?? err) }),
    );
  });
}

// ---------------------------------------------------------------- measuring from outside

/**
 * The V8 flags the controller Deployment runs with (its NODE_OPTIONS): the findings API is served
 * by the controller's process, so the server here runs as that process does.
 */
function deploymentNodeOptions(): string[] {
  const file = join(import.meta.dirname, '..', 'manifests', 'controller', 'deployment.yaml');
  const deployment = parse(readFileSync(file, 'utf8')) as {
    spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } };
  };
  const env = deployment.spec.template.spec.containers.flatMap((c) => c.env ?? []);
  const value = env.find((e) => e.name === 'NODE_OPTIONS')?.value;
  if (value === undefined) throw new Error(`${file}: the controller has no NODE_OPTIONS`);
  return value.split(/\s+/).filter((f) => f !== '');
}

class ServerProcess {
  private readonly queue: FromServer[] = [];
  private waiter: (() => void) | undefined;
  readonly child: ChildProcess;
  exited = false;

  constructor(env: NodeJS.ProcessEnv, name: string) {
    this.child = fork(import.meta.filename, [], {
      env: { ...process.env, ...env, BENCH_ROLE: 'server' },
      execArgv: [...process.execArgv, ...deploymentNodeOptions()],
    });
    if (this.child.pid !== undefined) processNames.set(this.child.pid, name);
    this.child.on('message', (m: FromServer) => {
      this.queue.push(m);
      this.waiter?.();
    });
    this.child.on('exit', () => {
      this.exited = true;
      this.waiter?.();
    });
  }

  /** The next message of this type (progress messages are printed on the way). */
  async next<T extends FromServer['type']>(type: T): Promise<Extract<FromServer, { type: T }>> {
    for (;;) {
      const i = this.queue.findIndex(
        (m) => m.type === type || m.type === 'error' || m.type === 'progress',
      );
      if (i >= 0) {
        const [m] = this.queue.splice(i, 1);
        if (m!.type === 'error') throw new Error(`server: ${m!.message}`);
        if (m!.type === 'progress') {
          line(`  ${m!.findings} findings written`, seconds(m!.ms));
          continue;
        }
        return m as Extract<FromServer, { type: T }>;
      }
      if (this.exited) throw new Error('the serving process exited');
      await new Promise<void>((r) => (this.waiter = r));
      this.waiter = undefined;
    }
  }

  ask(m: ToServer): void {
    this.child.send(m);
  }
}

interface Tls {
  server: URL;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

function tlsOf(kubeconfig: string): Tls {
  const kc = parse(readFileSync(kubeconfig, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  };
  const b = (s: string) => Buffer.from(s, 'base64');
  return {
    server: new URL(kc.clusters[0]!.cluster.server),
    ca: b(kc.clusters[0]!.cluster['certificate-authority-data']),
    cert: b(kc.users[0]!.user['client-certificate-data']),
    key: b(kc.users[0]!.user['client-key-data']),
  };
}

interface Fetched {
  status: number;
  ms: number;
  firstByteMs: number;
  bytes: number;
  /** The body, only when keep is set. */
  body: string;
  /** The connection ended before the response did. */
  aborted: boolean;
}

/** A GET through kube-apiserver, streamed: bytes are counted, kept only when asked. */
function fetchApi(tls: Tls, path: string, keep = false, accept?: string): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const req = httpsRequest(
      {
        host: tls.server.hostname,
        port: tls.server.port,
        path,
        ...(accept !== undefined ? { headers: { Accept: accept } } : {}),
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        agent: false,
      },
      (res) => {
        const firstByteMs = performance.now() - t;
        let bytes = 0;
        const chunks: Buffer[] = [];
        const done = (aborted: boolean) =>
          resolve({
            status: res.statusCode ?? 0,
            ms: performance.now() - t,
            firstByteMs,
            bytes,
            body: Buffer.concat(chunks).toString(),
            aborted,
          });
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if (keep) chunks.push(c);
        });
        res.on('end', () => done(false));
        res.on('error', () => done(true));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A full list the way kubectl and informers read it: pages of 500 with continue, for at most `budgetMs`. */
async function pagedWalk(
  tls: Tls,
  path: string,
  budgetMs: number,
): Promise<{ ms: number; bytes: number; items: number; pages: number; complete: boolean }> {
  const t = performance.now();
  let token: string | undefined;
  let bytes = 0;
  let items = 0;
  let pages = 0;
  do {
    const query = `limit=500${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
    const got = await fetchApi(tls, `${path}/findings?${query}`, true);
    const list = JSON.parse(got.body) as { items: unknown[]; metadata: { continue?: string } };
    bytes += got.bytes;
    items += list.items.length;
    pages++;
    token = list.metadata.continue || undefined;
  } while (token !== undefined && performance.now() - t < budgetMs);
  return { ms: performance.now() - t, bytes, items, pages, complete: token === undefined };
}

/** Runs kubectl once: wall time and bytes of output (not kept). */
function kubectlTimed(
  plane: ControlPlane,
  args: string[],
): Promise<{ ms: number; bytes: number; lines: number }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfig, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let bytes = 0;
    let lines = 0;
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      bytes += c.length;
      for (const x of c) if (x === 10) lines++;
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve({ ms: performance.now() - t, bytes, lines })
        : reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`)),
    );
  });
}

/** `runs` timings of one kubectl command: median, min, and the output size of the last. */
async function kubectlRepeated(plane: ControlPlane, args: string[], runs: number) {
  const times: number[] = [];
  let last = { ms: 0, bytes: 0, lines: 0 };
  for (let i = 0; i < runs; i++) {
    last = await kubectlTimed(plane, args);
    times.push(last.ms);
  }
  return { median: median(times), min: Math.min(...times), lines: last.lines, bytes: last.bytes };
}

// ---------------------------------------------------------------- etcd

interface EtcdSize {
  dbBytes: number;
  inUseBytes: number;
  keys: number;
}

function httpText(url: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const done = (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
      res.on('error', reject);
    };
    if (body === undefined) httpGet(url, done).on('error', reject);
    else {
      const req = httpRequest(
        url,
        { method: 'POST', headers: { 'content-type': 'application/json' } },
        done,
      );
      req.on('error', reject);
      req.end(body);
    }
  });
}

async function etcdSize(plane: ControlPlane): Promise<EtcdSize> {
  const text = await httpText(`${plane.etcdUrl}/metrics`);
  const metric = (name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    dbBytes: metric('etcd_mvcc_db_total_size_in_bytes'),
    inUseBytes: metric('etcd_mvcc_db_total_size_in_use_in_bytes'),
    keys: metric('etcd_debugging_mvcc_keys_total'),
  };
}

function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix);
  b[b.length - 1]! += 1;
  return b.toString('base64');
}

/** Keys under a prefix, and the bytes of the values of the first `sampleSize` of them. */
async function etcdKeys(
  plane: ControlPlane,
  prefix: string,
  sampleSize = 0,
): Promise<{ count: number; sampleAvgBytes: number }> {
  const key = Buffer.from(prefix).toString('base64');
  const counted = JSON.parse(
    await httpText(
      `${plane.etcdUrl}/v3/kv/range`,
      JSON.stringify({ key, range_end: prefixEnd(prefix), count_only: true }),
    ),
  ) as { count?: string };
  let sampleAvgBytes = 0;
  if (sampleSize > 0) {
    const got = JSON.parse(
      await httpText(
        `${plane.etcdUrl}/v3/kv/range`,
        JSON.stringify({ key, range_end: prefixEnd(prefix), limit: sampleSize }),
      ),
    ) as { kvs?: { value: string }[] };
    const kvs = got.kvs ?? [];
    sampleAvgBytes =
      kvs.reduce((s, kv) => s + Buffer.from(kv.value, 'base64').length, 0) /
      Math.max(1, kvs.length);
  }
  return { count: Number(counted.count ?? 0), sampleAvgBytes };
}

/** Resident memory of kube-apiserver of this control plane (from /proc). */
function apiServerRss(plane: ControlPlane): number {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes(plane.dir) || !cmd.split('\0')[0]!.endsWith('kube-apiserver')) continue;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
    } catch {
      // The process ended while being read.
    }
  }
  return NaN;
}

// ---------------------------------------------------------------- reads and watches

const results: Record<string, number | string> = {};

// ---------------------------------------------------------------- CPU seconds

/** Names of the serving processes by pid, for the CPU table. */
const processNames = new Map<number, string>();
const CLOCK_TICKS = 100;

interface ProcCpu {
  ppid: number;
  comm: string;
  /** Seconds of this process and of its children it has waited for. */
  own: number;
  reaped: number;
}

function procCpu(): Map<number, ProcCpu> {
  const all = new Map<number, ProcCpu>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat
        .slice(stat.lastIndexOf(')') + 2)
        .split(' ')
        .map(Number);
      all.set(Number(pid), {
        ppid: f[1]!,
        comm,
        own: (f[11]! + f[12]!) / CLOCK_TICKS,
        reaped: (f[13]! + f[14]!) / CLOCK_TICKS,
      });
    } catch {
      // The process ended while being read.
    }
  }
  return all;
}

/**
 * CPU seconds so far of this process's children by name (each with its own descendants: the
 * PostgreSQL server with its backends, etcd, kube-apiserver, each serving process), this process
 * alone, and what it has waited for (kubectl runs, and serving processes that have ended).
 */
function cpuByGroup(): Record<string, number> {
  const all = procCpu();
  const children = new Map<number, number[]>();
  for (const [pid, p] of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const tree = (pid: number): number => {
    const p = all.get(pid);
    const below = (children.get(pid) ?? []).reduce((s, c) => s + tree(c), 0);
    return (p ? p.own + p.reaped : 0) + below;
  };
  const self = all.get(process.pid);
  const groups: Record<string, number> = {
    benchmark: self?.own ?? 0,
    'kubectl and ended processes': self?.reaped ?? 0,
  };
  for (const pid of children.get(process.pid) ?? []) {
    const name = processNames.get(pid) ?? all.get(pid)!.comm;
    groups[name] = (groups[name] ?? 0) + tree(pid);
  }
  return groups;
}

interface CpuMark {
  phase: string;
  at: number;
  load: number[];
  groups: Record<string, number>;
}
const cpuMarks: CpuMark[] = [];

/** Starts a phase of the CPU table (a phase named `-…` is not printed: a server stopping). */
function cpuPhase(phase: string): void {
  cpuMarks.push({ phase, at: performance.now(), load: [], groups: cpuByGroup() });
}

/** CPU seconds by process and wall time of each phase, with the phase's load average. */
function cpuTable(): void {
  cpuPhase('-end');
  console.log('\nCPU seconds by process, each phase (wall time, load average 1 min mean/max)');
  for (let i = 0; i + 1 < cpuMarks.length; i++) {
    const [a, b] = [cpuMarks[i]!, cpuMarks[i + 1]!];
    if (a.phase.startsWith('-')) continue;
    const cpu = Object.entries(b.groups)
      .map(([k, v]) => [k, v - (a.groups[k] ?? 0)] as const)
      .filter(([, v]) => v >= 0.05);
    const total = cpu.reduce((s, [, v]) => s + v, 0);
    const load = a.load.length ? a.load : [loadavg()[0]!];
    const loadText = `${(load.reduce((s, x) => s + x, 0) / load.length).toFixed(1)}/${Math.max(...load).toFixed(1)}`;
    line(
      `${a.phase}`,
      `wall ${seconds(b.at - a.at)}, CPU ${total.toFixed(1)} s, load ${loadText}: ${cpu.map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`,
    );
    results[`cpu_${a.phase.replace(/\W+/g, '_')}`] = Number(total.toFixed(1));
  }
}

/** What kubectl get sends (k8s.io/kubectl's get command): Table, then JSON. */
const TABLE_ACCEPT =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

/**
 * CPU milliseconds one request costs each process (the serving process, kube-apiserver, …):
 * after three requests to warm up, `n` requests one after the other, the CPU of each process
 * group read from /proc before and after (10 ms ticks, hence many requests), and the median
 * wall time. Other work of those processes in that time counts too (kube-controller-manager's
 * is its own controllers').
 */
async function cpuPerRequest(
  tls: Tls,
  path: string,
  accept: string | undefined,
  n = Number(process.env.BENCH_CPU_REQUESTS ?? 40),
): Promise<{ cpu: Record<string, number>; wallMs: number; bytes: number }> {
  for (let i = 0; i < 3; i++) await fetchApi(tls, path, false, accept);
  const before = cpuByGroup();
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const got = await fetchApi(tls, path, false, accept);
    if (got.status !== 200) throw new Error(`${path}: HTTP ${got.status}`);
    times.push(got.ms);
    bytes = got.bytes;
  }
  const after = cpuByGroup();
  const cpu: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const ms = ((v - (before[k] ?? 0)) * 1000) / n;
    if (ms >= 0.05 && k !== 'kubectl and ended processes') cpu[k] = Number(ms.toFixed(1));
  }
  return { cpu, wallMs: median(times), bytes };
}

/** The reads of the task, against one resource path (aggregated or CRD). */
async function measureReads(
  plane: ControlPlane,
  tls: Tls,
  label: string,
  path: string,
  resource: string,
): Promise<void> {
  const critical = await kubectlRepeated(
    plane,
    ['get', resource, '-A', '-l', CRITICAL],
    sizes.runs,
  );
  line(
    `${label}: kubectl get -A -l severity=CRITICAL`,
    `median ${seconds(critical.median)}, min ${seconds(critical.min)} (${critical.lines - 1} rows)`,
  );
  // The same in one request: kubectl's pages of 500 wait on its client's own rate limit (5
  // requests a second after a burst of 10), whatever the server.
  const whole = await kubectlRepeated(
    plane,
    ['get', resource, '-A', '-l', CRITICAL, '--chunk-size=0'],
    sizes.runs,
  );
  line(
    `${label}: the same with --chunk-size=0 (one request)`,
    `median ${seconds(whole.median)}, min ${seconds(whole.min)} (${whole.lines - 1} rows)`,
  );
  const raw = await kubectlRepeated(
    plane,
    ['get', '--raw', `${path}/findings?limit=500`],
    sizes.runs,
  );
  const direct: number[] = [];
  for (let i = 0; i < sizes.runs; i++)
    direct.push((await fetchApi(tls, `${path}/findings?limit=500`)).ms);
  line(
    `${label}: one page of 500, kubectl get --raw`,
    `median ${seconds(raw.median)}, min ${seconds(raw.min)} (${mb(raw.bytes)})`,
  );
  line(
    `${label}: one page of 500, one HTTPS request`,
    `median ${seconds(median(direct))}, min ${seconds(Math.min(...direct))}`,
  );
  const criticalPage: number[] = [];
  for (let i = 0; i < sizes.runs; i++)
    criticalPage.push(
      (
        await fetchApi(
          tls,
          `${path}/findings?labelSelector=${encodeURIComponent(CRITICAL)}&limit=500`,
        )
      ).ms,
    );
  line(
    `${label}: one CRITICAL page of 500, one HTTPS request`,
    `median ${seconds(median(criticalPage))}`,
  );
  const walk = await pagedWalk(tls, path, Number(process.env.BENCH_LIST_SECONDS ?? 240) * 1000);
  line(
    `${label}: full list in pages of 500 (as kubectl, informers)`,
    `${walk.complete ? '' : 'stopped after '}${seconds(walk.ms)}: ${walk.items} items, ${walk.pages} pages, ${mb(walk.bytes)} (${Math.round(walk.items / (walk.ms / 1000))}/s)`,
  );
  const full = await fetchApi(tls, `${path}/findings`);
  line(
    `${label}: full list streamed (JSON, no limit)`,
    `${full.aborted ? 'cut by the connection after ' : ''}${seconds(full.ms)}, ${mb(full.bytes)} (first byte ${seconds(full.firstByteMs)}, HTTP ${full.status})`,
  );
  // Last, when kube-controller-manager's garbage collector and quota monitor have listed the
  // new resource (their first lists run on the server at the same time as the reads above).
  const key = label.replace(/\W+/g, '_');
  const costs = {
    page500Json: await cpuPerRequest(tls, `${path}/findings?limit=500`, undefined),
    page500Table: await cpuPerRequest(tls, `${path}/findings?limit=500`, TABLE_ACCEPT),
    criticalPage500Table: await cpuPerRequest(
      tls,
      `${path}/findings?labelSelector=${encodeURIComponent(CRITICAL)}&limit=500`,
      TABLE_ACCEPT,
    ),
  };
  for (const [what, c] of Object.entries(costs)) {
    line(
      `${label}: CPU ms a request, ${what}`,
      `${Object.entries(c.cpu)
        .map(([k, v]) => `${k} ${v}`)
        .join(
          ', ',
        )} (median wall ${seconds(c.wallMs)}, ${mb(c.bytes)}, load ${loadavg()[0]!.toFixed(1)})`,
    );
    for (const [k, v] of Object.entries(c.cpu))
      results[`${key}_${what}_cpuMs_${k.replace(/\W+/g, '_')}`] = v;
    results[`${key}_${what}_wallMs`] = c.wallMs;
  }
  Object.assign(results, {
    [`${key}_criticalMs`]: critical.median,
    [`${key}_criticalRows`]: critical.lines - 1,
    [`${key}_page500KubectlMs`]: raw.median,
    [`${key}_page500RequestMs`]: median(direct),
    [`${key}_criticalPageMs`]: median(criticalPage),
    [`${key}_walkMs`]: walk.ms,
    [`${key}_walkItems`]: walk.items,
    [`${key}_walkBytes`]: walk.bytes,
    [`${key}_fullListMs`]: full.ms,
    [`${key}_fullListBytes`]: full.bytes,
    [`${key}_fullListCut`]: String(full.aborted),
  });
}

interface WatchResult {
  latencies: number[];
  received: number[];
  allMs: number;
}

/** `watchers` watches through kube-apiserver; the server changes `burst` findings; delivery latency. */
async function measureWatches(
  tls: Tls,
  server: ServerProcess,
  watchers = sizes.watchers,
): Promise<WatchResult> {
  const list = JSON.parse((await fetchApi(tls, `${AGG_PATH}/findings?limit=1`, true)).body) as {
    metadata: { resourceVersion: string };
  };
  const rv = list.metadata.resourceVersion;
  const latencies: number[] = [];
  const received = Array.from({ length: watchers }, () => 0);
  const requests: ClientRequest[] = [];
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const opened = Array.from(
    { length: watchers },
    (_, w) =>
      new Promise<void>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: tls.server.hostname,
            port: tls.server.port,
            path: `${AGG_PATH}/findings?watch=true&resourceVersion=${rv}`,
            ca: tls.ca,
            cert: tls.cert,
            key: tls.key,
            agent: false,
          },
          (res) => {
            resolve();
            let buffered = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              buffered += chunk;
              let nl: number;
              while ((nl = buffered.indexOf('\n')) >= 0) {
                const event = JSON.parse(buffered.slice(0, nl)) as {
                  type: string;
                  object: StoredFinding;
                };
                buffered = buffered.slice(nl + 1);
                if (event.type !== 'MODIFIED') continue;
                latencies.push(
                  Date.now() - Date.parse((event.object.status as { updatedAt: string }).updatedAt),
                );
                if (++received[w]! === sizes.burst && received.every((n) => n >= sizes.burst))
                  resolveAll();
              }
            });
            res.on('error', () => {});
          },
        );
        req.on('error', reject);
        req.end();
        requests.push(req);
      }),
  );
  await Promise.all(opened);
  const t = performance.now();
  server.ask({ type: 'burst', count: sizes.burst });
  const written = await server.next('burst-written');
  await Promise.race([all, new Promise((r) => setTimeout(r, 120_000))]);
  const allMs = performance.now() - t;
  for (const req of requests) req.destroy();
  line(`${sizes.burst} changes written by the server (one write each)`, seconds(written.ms));
  return { latencies, received, allMs };
}

// ---------------------------------------------------------------- today's CRD path

function findingsCrd(): { metadata: { name: string } } {
  const path = 'crds/kubeinspector.io_findings.yaml';
  const root = join(import.meta.dirname, '..');
  if (existsSync(join(root, path)))
    return parse(readFileSync(join(root, path), 'utf8')) as { metadata: { name: string } };
  const removedIn = execFileSync('git', ['rev-list', '-n', '1', 'HEAD', '--', path], {
    cwd: root,
    encoding: 'utf8',
  }).trim();
  return parse(
    execFileSync('git', ['show', `${removedIn}^:${path}`], { cwd: root, encoding: 'utf8' }),
  ) as { metadata: { name: string } };
}

async function installCrd(client: KubeClient): Promise<void> {
  const crd = findingsCrd();
  await client.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
    body: crd,
  });
  for (;;) {
    const got = await client.request<{
      status?: { conditions?: { type: string; status: string }[] };
    }>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
    if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 2000));
}

/** Creates findings as custom resources for `budgetMs` (create, then status), 16 in flight. */
async function writeCrds(
  client: KubeClient,
  budgetMs: number,
): Promise<{ written: number; ms: number; conflicts: number }> {
  const pop = population(sizes);
  const deadline = performance.now() + budgetMs;
  let resource = 0;
  let pending: StoredFinding[] = [];
  const nextFinding = (): StoredFinding | undefined => {
    while (pending.length === 0 && resource < pop.count)
      pending = resourceFindings(pop, resource++, API_VERSION);
    return pending.shift();
  };
  let written = 0;
  let conflicts = 0;
  const collection = `${CRD_PATH}/namespaces/${ADMIN}/findings`;
  const worker = async (): Promise<void> => {
    for (
      let f = nextFinding();
      f !== undefined && performance.now() < deadline;
      f = nextFinding()
    ) {
      const { status, ...rest } = f;
      let created: StoredFinding;
      try {
        created = await client.request<StoredFinding>('POST', collection, {
          body: { ...rest, spec: {} },
        });
      } catch (err) {
        if ((err as { status?: number }).status === 409) {
          conflicts++;
          continue;
        }
        throw err;
      }
      await client.request('PUT', `${collection}/${created.metadata.name}/status`, {
        body: { ...created, status },
      });
      written++;
    }
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: 16 }, worker));
  return { written, ms: performance.now() - t, conflicts };
}

// ---------------------------------------------------------------- the run

/** The keys of one store's figures: SQLite's unprefixed (as before), PostgreSQL's `postgres_`. */
function prefixed(prefix: string, figures: Record<string, number | string>) {
  return Object.fromEntries(Object.entries(figures).map(([k, v]) => [`${prefix}${k}`, v]));
}

async function aggregatedPath(
  plane: ControlPlane,
  tls: Tls,
  serverEnv: NodeJS.ProcessEnv,
  label: string,
): Promise<{ server: ServerProcess; port: number }> {
  const prefix = label === 'aggregated' ? '' : `${label}_`;
  console.log(`\n${label === 'aggregated' ? 'SQLite' : 'PostgreSQL'} store`);
  const etcd0 = await etcdSize(plane);
  const store = label === 'aggregated' ? 'SQLite' : 'PostgreSQL';
  const server = new ServerProcess(
    { BENCH_KUBECONFIG: plane.kubeconfig, ...serverEnv },
    `${store} server`,
  );
  cpuPhase(`${store}: fill`);
  const ready = await server.next('ready');
  const etcd1 = await etcdSize(plane);
  line(
    'etcd: keys added by registering the API (Service, APIService)',
    `${etcd1.keys - etcd0.keys}`,
  );
  const probes = { ok: 0, failed: 0, slowest: 0 };
  let filling = true;
  const probing = (async () => {
    while (filling) {
      await new Promise((r) => setTimeout(r, 5000));
      const got = await fetchApi(tls, `${AGG_PATH}/namespaces/${ADMIN}/findings?limit=1`).catch(
        () => undefined,
      );
      if (got?.status === 200) probes.ok++;
      else probes.failed++;
      probes.slowest = Math.max(probes.slowest, got?.ms ?? 0);
    }
  })();
  const filled = await server.next('filled');
  cpuPhase(`${store}: reads and watches`);
  filling = false;
  await probing;
  line(
    'reads through kube-apiserver during the fill (every 5 s)',
    `${probes.ok} answered, ${probes.failed} failed, slowest ${seconds(probes.slowest)}`,
  );
  const discovered = performance.now();
  for (;;) {
    const got = await kubectlTimed(plane, [
      'api-resources',
      '--api-group=findings.kubeinspector.io',
      '-o',
      'name',
    ]).catch(() => undefined);
    if (got !== undefined && got.lines > 0) break;
    if (performance.now() - discovered > 180_000) throw new Error('findings API not in discovery');
    await new Promise((r) => setTimeout(r, 2000));
  }
  line(
    'findings API in discovery after the fill',
    `after ${seconds(performance.now() - discovered)}`,
  );
  const etcd2 = await etcdSize(plane);
  line(
    'fill: findings written (one batch per resource)',
    `${filled.findings} in ${seconds(filled.ms)} (${Math.round(filled.findings / (filled.ms / 1000))}/s)`,
  );
  line(
    'fill: bytes on disk / per finding',
    `${mb(filled.bytesOnDisk)} / ${Math.round(filled.bytesOnDisk / filled.findings)} B (${filled.advisories} advisories kept once)`,
  );
  line(
    'fill: bytes on disk / per finding after a WAL checkpoint',
    `${mb(filled.checkpointedBytes)} / ${Math.round(filled.checkpointedBytes / filled.findings)} B`,
  );
  line(
    'fill: server RSS at the end / peak during the fill',
    `${mb(filled.rss)} / ${mb(filled.peakRss)}`,
  );
  const keys = await etcdKeys(plane, '/registry/findings.kubeinspector.io');
  line(
    'etcd during the fill: keys added / in-use bytes added',
    `${etcd2.keys - etcd1.keys} / ${etcd2.inUseBytes - etcd1.inUseBytes} B (findings keys ${keys.count}; db ${mb(etcd2.dbBytes)})`,
  );
  server.ask({ type: 'rss', reset: true });
  await server.next('rss');
  Object.assign(
    results,
    prefixed(prefix, {
      findings: filled.findings,
      fillSeconds: filled.ms / 1000,
      bytesOnDisk: filled.bytesOnDisk,
      bytesPerFinding: Math.round(filled.bytesOnDisk / filled.findings),
      checkpointedBytesPerFinding: Math.round(filled.checkpointedBytes / filled.findings),
      fillPeakRssMiB: Math.round(filled.peakRss / 2 ** 20),
      etcdKeysAddedByFill: etcd2.keys - etcd1.keys,
      etcdInUseBytesAddedByFill: etcd2.inUseBytes - etcd1.inUseBytes,
      etcdFindingKeys: keys.count,
      fillProbesFailed: probes.failed,
      fillProbeSlowestMs: probes.slowest,
    }),
  );
  const healthz = await kubectlRepeated(plane, ['get', '--raw', '/healthz'], sizes.runs);
  line(
    'kubectl get --raw /healthz (process start and TLS, for scale)',
    `median ${seconds(healthz.median)}`,
  );
  results[`${prefix}kubectlFloorMs`] = healthz.median;
  await measureReads(plane, tls, label, AGG_PATH, `findings.${FINDINGS_API_VERSION.split('/')[0]}`);
  const watch = await measureWatches(tls, server);
  line(
    `${sizes.watchers} watchers: delivery latency p50 / p99 / max`,
    `${seconds(percentile(watch.latencies, 50))} / ${seconds(percentile(watch.latencies, 99))} / ${seconds(Math.max(...watch.latencies))}`,
  );
  line(
    `${sizes.watchers} watchers: every event at every watcher after`,
    `${seconds(watch.allMs)} (received ${watch.received.join('/')})`,
  );
  server.ask({ type: 'rss', reset: false });
  const rss = await server.next('rss');
  line('server RSS now / peak while serving all of the above', `${mb(rss.rss)} / ${mb(rss.peak)}`);
  const etcd3 = await etcdSize(plane);
  line(
    'etcd while serving: keys added / in-use bytes added',
    `${etcd3.keys - etcd2.keys} / ${etcd3.inUseBytes - etcd2.inUseBytes} B`,
  );
  Object.assign(
    results,
    prefixed(prefix, {
      watchP50Ms: percentile(watch.latencies, 50),
      watchP99Ms: percentile(watch.latencies, 99),
      watchAllMs: watch.allMs,
      watchEvents: watch.latencies.length,
      servePeakRssMiB: Math.round(rss.peak / 2 ** 20),
    }),
  );
  return { server, port: ready.port };
}

/** Stops a serving process (it unregisters the API first). */
async function stopServer(server: ServerProcess): Promise<void> {
  if (server.exited) return;
  const child = server.child;
  const exited = new Promise((r) => child.once('exit', r));
  server.ask({ type: 'stop' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The Service of several replicas: a TCP relay on 127.0.0.1 that sends each new connection to the
 * next replica in turn (as kube-proxy spreads a Service's connections); counts them per replica.
 */
async function replicaRelay(
  ports: number[],
): Promise<{ server: Server; port: number; counts: number[] }> {
  const counts = ports.map(() => 0);
  let next = 0;
  const server = createServer((client) => {
    const i = next++ % ports.length;
    counts[i]!++;
    const upstream = connect(ports[i]!, '127.0.0.1');
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, counts };
}

/**
 * Three serving replicas on the PostgreSQL store (the filled one writes, two more only serve),
 * behind kube-apiserver through one Service spread over them; `replicaWatchers` watches receive
 * the burst of changes the writer makes.
 */
async function replicasPath(
  plane: ControlPlane,
  tls: Tls,
  client: KubeClient,
  writer: ServerProcess,
  writerPort: number,
  serverEnv: NodeJS.ProcessEnv,
): Promise<void> {
  cpuPhase('PostgreSQL, 3 replicas');
  const others = [2, 3].map(
    (n) =>
      new ServerProcess(
        { BENCH_KUBECONFIG: plane.kubeconfig, ...serverEnv, BENCH_FILL: '0' },
        `replica ${n}`,
      ),
  );
  try {
    const ports = [writerPort];
    for (const o of others) ports.push((await o.next('ready')).port);
    const relay = await replicaRelay(ports);
    try {
      const serving = JSON.parse(serverEnv.BENCH_SERVING!) as ServingCertificate;
      await registerAggregatedApi(client, {
        group: 'findings.kubeinspector.io',
        version: 'v1alpha1',
        service: SERVICE,
        port: relay.port,
        caBundle: serving.caBundle,
      });
      const watch = await measureWatches(tls, writer, sizes.replicaWatchers);
      line(
        `3 replicas, ${sizes.replicaWatchers} watchers: delivery latency p50 / p99 / max`,
        `${seconds(percentile(watch.latencies, 50))} / ${seconds(percentile(watch.latencies, 99))} / ${seconds(Math.max(...watch.latencies))}`,
      );
      line(
        `3 replicas, ${sizes.replicaWatchers} watchers: every event at every watcher after`,
        `${seconds(watch.allMs)} (received ${watch.received.join('/')}; connections per replica ${relay.counts.join('/')})`,
      );
      Object.assign(results, {
        replicas_watchP50Ms: percentile(watch.latencies, 50),
        replicas_watchP99Ms: percentile(watch.latencies, 99),
        replicas_watchAllMs: watch.allMs,
        replicas_watchEvents: watch.latencies.length,
      });
      await measureReads(plane, tls, 'replicas', AGG_PATH, 'findings.findings.kubeinspector.io');
      line('3 replicas: connections from kube-apiserver per replica', relay.counts.join('/'));
      results.replicas_connections = relay.counts.join('/');
      await replicaRss([writer, ...others]);
    } finally {
      relay.server.close();
    }
  } finally {
    cpuPhase('-stop replicas');
    for (const o of others) await stopServer(o);
  }
}

/** Each replica's RSS now and its peak since the last reset. */
async function replicaRss(replicas: ServerProcess[]): Promise<void> {
  const figures: string[] = [];
  for (const r of replicas) {
    r.ask({ type: 'rss', reset: false });
    const rss = await r.next('rss');
    figures.push(`${mb(rss.rss)} / ${mb(rss.peak)}`);
  }
  line('3 replicas: RSS now / peak of each (the writer first)', figures.join(', '));
  results.replicas_rssMiB = figures.join(', ');
}

/** PostgreSQL's own sizes of the findings database: each table with its indexes, and in all. */
async function postgresSizes(postgres: TestPostgres, database: string): Promise<void> {
  const tables = await postgres.admin(
    `SELECT c.relname AS name, pg_total_relation_size(c.oid)::bigint AS bytes FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      ORDER BY 2 DESC`,
    database,
  );
  const [db] = (
    await postgres.admin(`SELECT pg_database_size(current_database())::bigint AS bytes`, database)
  ).rows as { bytes: string }[];
  const rows = tables.rows as { name: string; bytes: string }[];
  line(
    'PostgreSQL: pg_total_relation_size by table',
    rows
      .filter((r) => Number(r.bytes) > 2 ** 20)
      .map((r) => `${r.name} ${mb(Number(r.bytes))}`)
      .join(', '),
  );
  line('PostgreSQL: pg_database_size', mb(Number(db!.bytes)));
  results.postgres_databaseBytes = Number(db!.bytes);
  for (const r of rows) results[`postgres_table_${r.name}`] = Number(r.bytes);
}

async function crdPath(plane: ControlPlane, tls: Tls, client: KubeClient): Promise<void> {
  cpuPhase('CRD path');
  await installCrd(client);
  const etcd0 = await etcdSize(plane);
  const rss0 = apiServerRss(plane);
  const w = await writeCrds(client, sizes.crdSeconds * 1000);
  const etcd1 = await etcdSize(plane);
  const keys = await etcdKeys(plane, '/registry/kubeinspector.io/findings/', 200);
  const rss1 = apiServerRss(plane);
  const perFinding = w.ms / w.written;
  line(
    'CRD: findings written (create + status, 16 in flight)',
    `${w.written} in ${seconds(w.ms)} (${(w.written / (w.ms / 1000)).toFixed(1)}/s${w.conflicts ? `, ${w.conflicts} name clashes skipped` : ''})`,
  );
  line(
    'CRD: etcd keys / in-use bytes added / per finding',
    `${keys.count} / ${mb(etcd1.inUseBytes - etcd0.inUseBytes)} / ${Math.round((etcd1.inUseBytes - etcd0.inUseBytes) / w.written)} B (value ${Math.round(keys.sampleAvgBytes)} B)`,
  );
  line('CRD: etcd db file', `${mb(etcd0.dbBytes)} -> ${mb(etcd1.dbBytes)}`);
  line('CRD: kube-apiserver RSS before / after', `${mb(rss0)} / ${mb(rss1)}`);
  await measureReads(plane, tls, 'CRD', CRD_PATH, `findings.${API_VERSION.split('/')[0]}`);
  Object.assign(results, {
    crdFindings: w.written,
    crdWriteMsPerFinding: perFinding,
    crdEtcdBytesPerFinding: Math.round((etcd1.inUseBytes - etcd0.inUseBytes) / w.written),
    crdEtcdValueBytes: Math.round(keys.sampleAvgBytes),
    crdApiServerRssAddedMiB: Math.round((rss1 - rss0) / 2 ** 20),
  });
}

function ratios(): void {
  const r = results as Record<string, number>;
  const aggPerFinding = (r.fillSeconds! * 1000) / r.findings!;
  line(
    'ratio: write time per finding, CRD / aggregated',
    `${(r.crdWriteMsPerFinding! / aggPerFinding).toFixed(0)}× (${r.crdWriteMsPerFinding!.toFixed(2)} ms vs ${aggPerFinding.toFixed(3)} ms)`,
  );
  line(
    'ratio: etcd bytes per finding, CRD / aggregated',
    `${r.crdEtcdBytesPerFinding} B vs ${r.etcdFindingKeys} keys (0 B)`,
  );
  line(
    'ratio: store bytes per finding, etcd (CRD) / SQLite',
    `${(r.crdEtcdBytesPerFinding! / r.bytesPerFinding!).toFixed(2)}`,
  );
  const scale = r.findings! / r.crdFindings!;
  line(
    'ratio: CRITICAL list time, CRD / aggregated',
    `${(r.CRD_criticalMs! / r.aggregated_criticalMs!).toFixed(2)} with ${scale.toFixed(0)}× fewer findings in the CRD`,
  );
  line(
    'ratio: paged list time per item, CRD / aggregated',
    `${(r.CRD_walkMs! / r.CRD_walkItems! / (r.aggregated_walkMs! / r.aggregated_walkItems!)).toFixed(2)}`,
  );
  line(
    `CRD path for all ${r.findings} findings: measured rate / 50 req/s`,
    `${((r.crdWriteMsPerFinding! * r.findings!) / 3_600_000).toFixed(1)} h / ${((2 * r.findings!) / 50 / 3600).toFixed(1)} h`,
  );
}

/** The main figures of both stores side by side. */
function compareStores(): void {
  const figures: [string, string, (v: number) => string][] = [
    ['fillSeconds', 'convergence: every finding written', (v) => seconds(v * 1000)],
    ['bytesPerFinding', 'bytes a finding in the store', (v) => String(v)],
    ['_criticalMs', 'kubectl get -A -l severity=CRITICAL', seconds],
    ['_page500RequestMs', 'one page of 500, one request', seconds],
    ['_walkMs', 'full list in pages of 500', seconds],
    ['_fullListMs', 'full list streamed', seconds],
    ['_fullListBytes', 'bytes of the full list', mb],
    ['watchP50Ms', `${sizes.watchers} watchers: latency p50`, seconds],
    ['watchP99Ms', `${sizes.watchers} watchers: latency p99`, seconds],
    ['watchAllMs', `${sizes.watchers} watchers: every event everywhere`, seconds],
  ];
  const key = (store: string, k: string) =>
    k.startsWith('_')
      ? `${store === 'sqlite' ? 'aggregated' : 'postgres'}${k}`
      : store === 'sqlite'
        ? k
        : `postgres_${k}`;
  console.log(`\n${''.padEnd(60)} ${'SQLite'.padEnd(14)} PostgreSQL`);
  for (const [k, label, show] of figures) {
    const cells = ['sqlite', 'postgres'].map((store) => {
      const v = results[key(store, k)];
      return (typeof v === 'number' ? show(v) : '-').padEnd(14);
    });
    line(label, cells.join(' '));
  }
}

async function main(): Promise<void> {
  const load: number[] = [];
  const loadSampler = setInterval(() => {
    load.push(loadavg()[0]!);
    cpuMarks.at(-1)?.load.push(loadavg()[0]!);
  }, 10_000);
  line('sizes', JSON.stringify({ ...sizes, stores }));
  line('load average (1 min) at the start, 2 cores', loadavg()[0]!.toFixed(1));
  const dir = mkdtempSync(join(tmpdir(), 'findings-api-bench-'));
  const plane = await startControlPlane({ log: () => {} });
  const tls = tlsOf(plane.kubeconfig);
  const kc = new KubeConfig();
  kc.loadFromFile(plane.kubeconfig);
  const client = await KubeClient.create(kc, { qps: 0 });
  const servers: ServerProcess[] = [];
  let postgres: TestPostgres | undefined;
  try {
    await client.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ADMIN } } });
    if (stores.includes('sqlite')) {
      const { server } = await aggregatedPath(
        plane,
        tls,
        { BENCH_DB: join(dir, 'findings.db') },
        'aggregated',
      );
      servers.push(server);
      cpuPhase('-stop');
      await stopServer(server);
    }
    if (stores.includes('postgres')) {
      postgres = await startPostgres();
      const serving = await issueServingCertificate(join(dir), SERVICE);
      const database = await postgres.createDatabase();
      const serverEnv = {
        BENCH_STORE: 'postgres',
        BENCH_POSTGRES_URL: database.url,
        BENCH_SERVING: JSON.stringify(serving),
      };
      const { server, port } = await aggregatedPath(plane, tls, serverEnv, 'postgres');
      servers.push(server);
      await postgresSizes(postgres, database.database);
      await replicasPath(plane, tls, client, server, port, serverEnv);
      cpuPhase('-stop');
      await stopServer(server);
    }
    if (sizes.crdSeconds > 0) await crdPath(plane, tls, client);
    cpuTable();
    if (stores.includes('sqlite') && sizes.crdSeconds > 0) ratios();
    if (stores.length > 1) compareStores();
    line(
      'load average (1 min) during the run: mean / max',
      `${(load.reduce((a, b) => a + b, 0) / Math.max(1, load.length)).toFixed(1)} / ${Math.max(...load).toFixed(1)}`,
    );
    results.loadMean = load.reduce((a, b) => a + b, 0) / Math.max(1, load.length);
  } finally {
    clearInterval(loadSampler);
    for (const server of servers) await stopServer(server);
    await client.close();
    await plane.stop();
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const out = join(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  appendFileSync(
    join(out, 'findings-api.jsonl'),
    `${JSON.stringify({ at: new Date().toISOString(), ...sizes, stores: stores.join(','), ...results })}\n`,
  );
}

if (process.env.BENCH_ROLE === 'server') await serve();
else await main();
