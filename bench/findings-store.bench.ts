/**
 * Findings store benchmark (`make bench`): the SQLite FindingStore at the target size of
 * docs/operations.md, without a cluster.
 *
 * Writes 2,000 images × ~250 findings plus 5,000 nodes × ~30 (about 650,000 Findings shaped as
 * the findings controller builds them: labels, packages, resource, recommendation, a
 * managedFields entry, and advisory text and scores shared by every resource with the same
 * vulnerability) in one batch per resource, as an evaluation writes them. Then measures:
 *
 *   1. insert time and rate, bytes on disk (database and WAL), bytes per finding, advisories
 *      kept, RSS and heap;
 *   2. the CRITICAL findings of all namespaces by label selector, 500 a page: time to the first
 *      page and to the last;
 *   3. one page of 500 with no selector, and the page after it (continue);
 *   4. a full list streamed from one snapshot (listPages), with the RSS at its end;
 *   5. a re-evaluation that finds nothing changed (upserts of the same objects: no new
 *      resourceVersion), and one that changes a finding of each of 1,000 resources, with
 *      10 watchers consuming the changes;
 *   6. the slowest single statement of the reads above (how long the event loop is held).
 *
 * Sizes (environment): BENCH_IMAGES (2000), BENCH_FINDINGS_PER_IMAGE (250), BENCH_NODES (5000),
 * BENCH_FINDINGS_PER_NODE (30); BENCH_CACHE_KIB sets the SQLite page cache (8192). The default
 * needs about 4 minutes of CPU (11 minutes of wall time on 2 cores shared with other work); for
 * a quick look:  BENCH_IMAGES=200 BENCH_NODES=500 node --expose-gc bench/findings-store.bench.ts
 *
 * Prints a table and appends one JSON line to bench/results/findings-store.jsonl.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FINDINGS_API_VERSION, LABELS } from '../src/api/v1alpha1/common.ts';
import { parseLabelSelector } from '../src/findings-store/selectors.ts';
import { SqliteFindingStore } from '../src/findings-store/sqlite.ts';
import type { BatchWrite, StoredFinding } from '../src/findings-store/store.ts';
import { seededRandom, type Random } from '../src/vulndb/testing/random.ts';

const sizes = {
  images: Number(process.env.BENCH_IMAGES ?? 2000),
  perImage: Number(process.env.BENCH_FINDINGS_PER_IMAGE ?? 250),
  nodes: Number(process.env.BENCH_NODES ?? 5000),
  perNode: Number(process.env.BENCH_FINDINGS_PER_NODE ?? 30),
};
const ADMIN = 'kube-inspector-system';
const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNTRIAGED'];
/** Share of each severity among image findings (public scanner statistics: few critical). */
const SEVERITY_WEIGHTS = [0.04, 0.2, 0.4, 0.3, 0.03, 0.03];
const WORDS =
  'a heap based buffer overflow in the parser allows remote attackers to execute arbitrary code or cause a denial of service via a crafted certificate when the library processes untrusted input from the network because a length field is not validated before copying memory'.split(
    ' ',
  );

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
function line(label: string, value: string): void {
  console.log(`${label.padEnd(52)} ${value}`);
}
function seconds(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

// ---------------------------------------------------------------- realistic findings

interface Advisory {
  id: string;
  severity: string;
  status: Record<string, unknown>;
  pkg: string;
}

function pickSeverity(rng: Random): string {
  let x = rng.next();
  for (let i = 0; i < SEVERITIES.length; i++) {
    x -= SEVERITY_WEIGHTS[i]!;
    if (x < 0) return SEVERITIES[i]!;
  }
  return 'LOW';
}

function sentence(rng: Random, words: number): string {
  return Array.from({ length: words }, () => rng.pick(WORDS)).join(' ');
}

/** One advisory: description, scores, references and aliases of a real Debian CVE's size. */
function makeAdvisory(rng: Random, n: number): Advisory {
  const id = `CVE-${2015 + (n % 10)}-${10000 + n}`;
  const severity = pickSeverity(rng);
  const score = { CRITICAL: 9.8, HIGH: 7.5, MEDIUM: 5.3, LOW: 3.1 }[severity] ?? 0;
  const status: Record<string, unknown> = {
    description: `${sentence(rng, 30 + rng.int(90))}.`,
    cvss: [
      {
        version: '3.1',
        scoringVector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
        baseScore: score,
        source: 'NVD',
      },
      ...(rng.chance(0.5)
        ? [
            {
              version: '3.1',
              scoringVector: 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N',
              baseScore: 5.5,
              source: 'DEBIAN_CVE',
            },
          ]
        : []),
    ],
    referenceUrls: Array.from(
      { length: 2 + rng.int(6) },
      (_, i) => `https://security-tracker.debian.org/tracker/${id}${i === 0 ? '' : `/ref-${i}`}`,
    ),
    vulnerabilitySource: 'DEBIAN_CVE',
    aliases: [`DSA-${5000 + n}-1`, ...(rng.chance(0.3) ? [`GHSA-xxxx-${n}`] : [])],
    exploitAvailable: rng.chance(0.05) ? 'YES' : 'NO',
    epss: { score: Math.round(rng.next() * 10_000) / 10_000 },
  };
  return { id, severity, status, pkg: `lib${sentence(rng, 1)}${n % 700}` };
}

interface Resource {
  type: 'CONTAINER_IMAGE' | 'NODE';
  id: string;
  covered: string;
  extra: Record<string, unknown>;
}

function imageResource(i: number): Resource {
  const digest = `sha256:${i.toString(16).padStart(8, '0').repeat(8)}`;
  const repository = `registry.example.com/team-${i % 40}/service-${i}`;
  return {
    type: 'CONTAINER_IMAGE',
    id: `${repository}@${digest}`,
    covered: `image-${digest.slice(7, 23)}`,
    extra: {
      imageRepository: repository,
      imageDigest: digest,
      imageTags: [`v1.${i % 30}.0`],
      platform: 'DEBIAN_12',
    },
  };
}

function nodeResource(i: number): Resource {
  const name = `node-${String(i).padStart(5, '0')}.pool-${i % 8}.example.internal`;
  return {
    type: 'NODE',
    id: name,
    covered: `node-${name}`.slice(0, 63),
    extra: { kind: 'Node', name, platform: 'UBUNTU_22_04' },
  };
}

function managedFields(time: string) {
  const fields = [
    'f:type',
    'f:title',
    'f:severity',
    'f:status',
    'f:vulnerabilityId',
    'f:packages',
    'f:resource',
    'f:recommendation',
    'f:fixAvailable',
    'f:firstObservedAt',
    'f:updatedAt',
  ];
  return [
    {
      manager: 'kube-inspector',
      operation: 'Apply',
      apiVersion: FINDINGS_API_VERSION,
      time,
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:status': Object.fromEntries(fields.map((f) => [f, {}])) },
      subresource: 'status',
    },
  ];
}

function makeFinding(resource: Resource, a: Advisory, rng: Random): StoredFinding {
  const version = `1.${rng.int(20)}.${rng.int(20)}-1`;
  const fixed = rng.chance(0.7) ? `1.${20 + rng.int(5)}.0-1` : undefined;
  const name = `${a.id.toLowerCase()}-${a.pkg}-${createHash('sha256').update(resource.id).digest('hex').slice(0, 16)}`;
  const observed = '2026-11-30T08:00:00Z';
  return {
    apiVersion: FINDINGS_API_VERSION,
    kind: 'Finding',
    metadata: {
      namespace: ADMIN,
      name,
      labels: {
        [LABELS.severity]: a.severity,
        [LABELS.type]: 'PACKAGE_VULNERABILITY',
        [LABELS.status]: 'ACTIVE',
        [LABELS.resourceType]: resource.type,
        [LABELS.vulnerabilityId]: a.id,
        [LABELS.coveredResource]: resource.covered,
      },
      managedFields: managedFields(observed),
    },
    status: {
      type: 'PACKAGE_VULNERABILITY',
      title: `${a.id} - ${a.pkg}`,
      severity: a.severity,
      status: 'ACTIVE',
      vulnerabilityId: a.id,
      ...a.status,
      packages: [
        {
          name: a.pkg,
          version,
          ...(fixed ? { fixedInVersion: fixed } : {}),
          ecosystem: resource.type === 'NODE' ? 'Ubuntu:22.04' : 'Debian:12',
          packageManager: 'OS',
          arch: 'amd64',
          purl: `pkg:deb/debian/${a.pkg}@${version}?arch=amd64`,
        },
      ],
      fixAvailable: fixed ? 'YES' : 'NO',
      inspectorScore: (a.status.cvss as { baseScore: number }[])[0]!.baseScore,
      resource: { type: resource.type, id: resource.id, ...resource.extra },
      rulesPackage: 'cve',
      recommendation: {
        text: fixed
          ? `Upgrade ${a.pkg} to ${fixed} or later.`
          : 'No fixed version is known yet; watch the advisory.',
        url: (a.status.referenceUrls as string[])[0],
      },
      firstObservedAt: observed,
      updatedAt: observed,
    },
  };
}

/** The findings of one resource: `count` distinct advisories from its pool. */
function resourceFindings(
  resource: Resource,
  pool: Advisory[],
  count: number,
  rng: Random,
): StoredFinding[] {
  const picked = new Set<number>();
  const n = Math.max(1, Math.round(count * (0.6 + rng.next() * 0.8)));
  while (picked.size < Math.min(n, pool.length)) picked.add(rng.int(pool.length));
  return [...picked].map((i) => makeFinding(resource, pool[i]!, rng));
}

// ---------------------------------------------------------------- the run

const dir = mkdtempSync(join(tmpdir(), 'findings-store-bench-'));
const path = join(dir, 'findings.db');
const results: Record<string, number | string> = { ...sizes };
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  });
let slowest = 0;
function timed<T>(fn: () => T): T {
  const t = performance.now();
  const out = fn();
  slowest = Math.max(slowest, performance.now() - t);
  return out;
}

async function insertAll(store: SqliteFindingStore): Promise<number> {
  const rng = seededRandom(42);
  const imagePool = Array.from({ length: 20_000 }, (_, n) => makeAdvisory(rng, n));
  const nodePool = Array.from({ length: 400 }, (_, n) => makeAdvisory(rng, 100_000 + n));
  const resources: [Resource, Advisory[], number][] = [
    ...Array.from({ length: sizes.images }, (_, i): [Resource, Advisory[], number] => [
      imageResource(i),
      imagePool,
      sizes.perImage,
    ]),
    ...Array.from({ length: sizes.nodes }, (_, i): [Resource, Advisory[], number] => [
      nodeResource(i),
      nodePool,
      sizes.perNode,
    ]),
  ];
  let count = 0;
  const t = performance.now();
  const cpu = process.cpuUsage();
  for (const [resource, pool, per] of resources) {
    const writes: BatchWrite[] = resourceFindings(resource, pool, per, rng).map((finding) => ({
      op: 'upsert',
      finding,
    }));
    await store.batch(writes);
    count += writes.length;
    if (count % 100_000 < writes.length)
      line(`  ${count} findings`, seconds(performance.now() - t));
  }
  const ms = performance.now() - t;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  line(
    'insert: CPU seconds of this process',
    `${cpuSeconds.toFixed(1)} s (${Math.round(count / cpuSeconds)} findings per CPU second)`,
  );
  results.insertCpuSeconds = cpuSeconds;
  line(
    'insert (one batch per resource)',
    `${count} findings in ${seconds(ms)} (${Math.round(count / (ms / 1000))}/s)`,
  );
  results.findings = count;
  results.insertSeconds = ms / 1000;
  return count;
}

async function measureSize(store: SqliteFindingStore, count: number): Promise<void> {
  const before = await store.stats();
  line('bytes on disk (database + WAL)', `${mb(before.bytesOnDisk)}`);
  store.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  const stats = await store.stats();
  const pragma = (name: string) =>
    (store.db.prepare(`PRAGMA ${name}`).get() as Record<string, number>)[name]!;
  const used = (pragma('page_count') - pragma('freelist_count')) * pragma('page_size');
  line(
    'bytes on disk after checkpoint',
    `${mb(statSync(path).size)} (in use ${mb(used)}; event log ${mb(eventLogBytes(store))})`,
  );
  line(
    'bytes per finding (file / in use)',
    `${Math.round(stats.bytesOnDisk / count)} / ${Math.round(used / count)}`,
  );
  line('advisories kept once', `${stats.advisories}`);
  const parts = store.db
    .prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC')
    .all() as { name: string; bytes: number }[];
  line('bytes by table and index', parts.map((p) => `${p.name} ${mb(p.bytes)}`).join(', '));
  const sample = await store.list({ limit: 1 });
  line('JSON bytes of one finding as served', `${JSON.stringify(sample.items[0]).length}`);
  results.bytesOnDisk = stats.bytesOnDisk;
  results.bytesPerFinding = Math.round(stats.bytesOnDisk / count);
  results.advisories = stats.advisories;
}

function eventLogBytes(store: SqliteFindingStore): number {
  const row = store.db
    .prepare('SELECT count(*) AS n, sum(length(object)) AS b FROM events')
    .get() as { n: number; b: number | null };
  return row.b ?? 0;
}

function memory(label: string): void {
  gc();
  const m = process.memoryUsage();
  line(
    label,
    `RSS ${mb(m.rss)}, heap ${mb(m.heapUsed)} of ${mb(m.heapTotal)}, external ${mb(m.external)}`,
  );
  results[`rss ${label}`] = Math.round(m.rss / 2 ** 20);
}

async function measureCritical(store: SqliteFindingStore): Promise<void> {
  const labelSelector = parseLabelSelector(`${LABELS.severity}=CRITICAL`);
  slowest = 0;
  const t = performance.now();
  let page = await timed(() => store.list({ labelSelector, limit: 500 }));
  const first = performance.now() - t;
  let n = page.items.length;
  while (page.continue !== undefined) {
    const token = page.continue;
    page = await timed(() => store.list({ labelSelector, limit: 500, continue: token }));
    n += page.items.length;
  }
  const all = performance.now() - t;
  line('CRITICAL by label, all namespaces: first page', seconds(first));
  line(
    'CRITICAL by label, all namespaces: all pages',
    `${seconds(all)} (${n} findings, slowest page ${seconds(slowest)})`,
  );
  const unpaged = performance.now();
  const everything = await store.list({ labelSelector });
  line(
    'CRITICAL by label, one list without limit',
    `${seconds(performance.now() - unpaged)} (${everything.items.length})`,
  );
  results.criticalFirstPageMs = first;
  results.criticalAllMs = all;
  results.critical = n;
}

async function measurePages(store: SqliteFindingStore): Promise<void> {
  let t = performance.now();
  const page = await store.list({ limit: 500 });
  const first = performance.now() - t;
  t = performance.now();
  await store.list({ limit: 500, continue: page.continue! });
  const second = performance.now() - t;
  line(
    'one page of 500 / the next one',
    `${seconds(first)} / ${seconds(second)} (remainingItemCount ${page.remainingItemCount ?? 'not counted'})`,
  );
  results.pageMs = first;
}

async function measureStream(store: SqliteFindingStore): Promise<void> {
  const t = performance.now();
  const { pages } = await store.listPages({});
  let n = 0;
  let bytes = 0;
  let peak = 0;
  for await (const items of pages) {
    n += items.length;
    for (const f of items) bytes += JSON.stringify(f).length;
    if (n % 50_000 < items.length) peak = Math.max(peak, process.memoryUsage().rss);
  }
  const ms = performance.now() - t;
  line(
    'full list streamed from a snapshot',
    `${n} findings, ${mb(bytes)} JSON in ${seconds(ms)}; peak RSS ${mb(peak)}`,
  );
  results.streamSeconds = ms / 1000;
}

async function measureReevaluation(store: SqliteFindingStore): Promise<void> {
  const rv = store.currentResourceVersion();
  const sample = (await store.list({ limit: 250 })).items;
  let t = performance.now();
  await store.batch(sample.map((f) => ({ op: 'upsert', finding: f })));
  line(
    're-evaluation of 250 unchanged findings',
    `${seconds(performance.now() - t)} (resourceVersion ${rv} -> ${store.currentResourceVersion()})`,
  );
  const watchers = await Promise.all(
    Array.from({ length: 10 }, () =>
      store.watch({ resourceVersion: store.currentResourceVersion() }),
    ),
  );
  const received = watchers.map(async (w) => {
    let n = 0;
    for await (const e of w) if (e.type === 'MODIFIED' && ++n === 1000) break;
    return n;
  });
  const targets = (
    await store.list({ limit: 1000, labelSelector: parseLabelSelector(`${LABELS.severity}=LOW`) })
  ).items;
  t = performance.now();
  for (const f of targets) {
    const status = f.status as Record<string, unknown>;
    await store.batch([
      { op: 'update', finding: { ...f, status: { ...status, updatedAt: '2026-12-01T00:00:00Z' } } },
    ]);
  }
  const written = performance.now() - t;
  const counts = await Promise.all(received);
  line(
    '1,000 changed findings, one batch each, 10 watchers',
    `${seconds(written)} written, ${seconds(performance.now() - t)} until every watcher had all (${counts.join('/')})`,
  );
  results.changedWriteMs = written;
}

async function main(): Promise<void> {
  memory('before');
  const cache = process.env.BENCH_CACHE_KIB;
  const store = new SqliteFindingStore({
    path,
    ...(cache !== undefined ? { cacheSizeKiB: Number(cache) } : {}),
  });
  try {
    const count = await insertAll(store);
    memory('after insert');
    await measureSize(store, count);
    await measureCritical(store);
    await measurePages(store);
    memory('after lists');
    await measureStream(store);
    await measureReevaluation(store);
    line('slowest single read statement above', seconds(slowest));
    memory('at the end');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const out = join(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  appendFileSync(
    join(out, 'findings-store.jsonl'),
    `${JSON.stringify({ at: new Date().toISOString(), ...results })}\n`,
  );
}

await main();
