/**
 * Findings store benchmark (`make bench`): the SQLite FindingStore and then the PostgreSQL one,
 * in the same run, at the target size of docs/operations.md, without a cluster
 * (BENCH_STORE=sqlite or BENCH_STORE=postgres for one of them).
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
 * PostgreSQL: the same measures on a PostgreSQL store, at BENCH_POSTGRES_URL (an empty
 * database) or else on a server of its own on loopback (Debian's postgresql package, as the
 * tests); the watchers of step 5 are then spread over three store instances (three serving
 * replicas). There are BENCH_WATCHERS of them (default 10) on either backend. With both
 * backends the run ends with their main figures side by side.
 *
 * Sizes (environment): BENCH_IMAGES (2000), BENCH_FINDINGS_PER_IMAGE (250), BENCH_NODES (5000),
 * BENCH_FINDINGS_PER_NODE (30); BENCH_CACHE_KIB sets the SQLite page cache (8192). The default
 * needs about 4 minutes of CPU (11 minutes of wall time on 2 cores shared with other work); for
 * a quick look:  BENCH_IMAGES=200 BENCH_NODES=500 node --expose-gc bench/findings-store.bench.ts
 *
 * Prints a table and appends one JSON line a backend to bench/results/findings-store.jsonl.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FINDINGS_API_VERSION, LABELS } from '../src/api/v1alpha1/common.ts';
import { parseLabelSelector } from '../src/findings-store/selectors.ts';
import { startPostgres, type TestPostgres } from '../test/support/postgres.ts';
import { PostgresFindingStore } from '../src/findings-store/postgres.ts';
import { SqliteFindingStore } from '../src/findings-store/sqlite.ts';
import type { BatchWrite, FindingStore } from '../src/findings-store/store.ts';
import { population, resourceFindings } from './findings-population.ts';

const sizes = {
  images: Number(process.env.BENCH_IMAGES ?? 2000),
  perImage: Number(process.env.BENCH_FINDINGS_PER_IMAGE ?? 250),
  nodes: Number(process.env.BENCH_NODES ?? 5000),
  perNode: Number(process.env.BENCH_FINDINGS_PER_NODE ?? 30),
};
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

// ---------------------------------------------------------------- the run

const dir = mkdtempSync(join(tmpdir(), 'findings-store-bench-'));
const path = join(dir, 'findings.db');
const watcherCount = Number(process.env.BENCH_WATCHERS ?? 10);
let results: Record<string, number | string> = { ...sizes };
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

async function insertAll(store: FindingStore): Promise<number> {
  const pop = population(sizes);
  let count = 0;
  const t = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < pop.count; i++) {
    const writes: BatchWrite[] = resourceFindings(pop, i, FINDINGS_API_VERSION).map((finding) => ({
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

async function measurePostgresSize(store: PostgresFindingStore, count: number): Promise<void> {
  const stats = await store.stats();
  line('bytes in the database (tables and indexes)', mb(stats.bytesOnDisk));
  line('bytes per finding', `${Math.round(stats.bytesOnDisk / count)}`);
  line('advisories kept once', `${stats.advisories}`);
  const { rows } = await store.pool.query<{ name: string; bytes: number }>(
    `SELECT c.relname AS name, pg_relation_size(c.oid)::bigint AS bytes FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i', 't') ORDER BY bytes DESC LIMIT 12`,
  );
  line('bytes by table and index', rows.map((p) => `${p.name} ${mb(p.bytes)}`).join(', '));
  results.bytesOnDisk = stats.bytesOnDisk;
  results.bytesPerFinding = Math.round(stats.bytesOnDisk / count);
  results.advisories = stats.advisories;
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

async function measureCritical(store: FindingStore): Promise<void> {
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

async function measurePages(store: FindingStore): Promise<void> {
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

async function measureStream(store: FindingStore): Promise<void> {
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

async function measureReevaluation(store: FindingStore, replicas: FindingStore[]): Promise<void> {
  const rv = store.currentResourceVersion();
  const sample = (await store.list({ limit: 250 })).items;
  let t = performance.now();
  await store.batch(sample.map((f) => ({ op: 'upsert', finding: f })));
  results.unchangedMs = performance.now() - t;
  line(
    're-evaluation of 250 unchanged findings',
    `${seconds(performance.now() - t)} (resourceVersion ${rv} -> ${store.currentResourceVersion()})`,
  );
  const from = store.currentResourceVersion();
  const watchers = await Promise.all(
    Array.from({ length: watcherCount }, (_, i) =>
      replicas[i % replicas.length]!.watch({ resourceVersion: from }),
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
  const delivered = performance.now() - t;
  line(
    `1,000 changed findings, one batch each, ${watcherCount} watchers on ${replicas.length} instances`,
    `${seconds(written)} written, ${seconds(delivered)} until every watcher had all (${counts.join('/')})`,
  );
  results.changedWriteMs = written;
  results.changedDeliveredMs = delivered;
}

/** The PostgreSQL database of the run: BENCH_POSTGRES_URL, or a server of its own. */
async function postgresUrl(): Promise<{ url: string; server?: TestPostgres }> {
  const given = process.env.BENCH_POSTGRES_URL;
  if (given !== undefined && given !== '') return { url: given };
  const server = await startPostgres();
  return { url: (await server.createDatabase()).url, server };
}

type Backend = 'sqlite' | 'postgres';

/** One backend's run: insert, then the reads and the re-evaluation; appends its JSON line. */
async function runBackend(backend: Backend): Promise<Record<string, number | string>> {
  results = { store: backend, ...sizes };
  console.log(`\n${backend === 'sqlite' ? 'SQLite' : 'PostgreSQL'}`);
  memory('before');
  const cache = process.env.BENCH_CACHE_KIB;
  const pg = backend === 'postgres' ? await postgresUrl() : undefined;
  const store: FindingStore =
    pg === undefined
      ? new SqliteFindingStore({
          path,
          ...(cache !== undefined ? { cacheSizeKiB: Number(cache) } : {}),
        })
      : await PostgresFindingStore.open({ url: pg.url });
  const replicas: FindingStore[] = [store];
  try {
    if (pg !== undefined)
      for (let i = 0; i < 2; i++) replicas.push(await PostgresFindingStore.open({ url: pg.url }));
    const count = await insertAll(store);
    memory('after insert');
    if (store instanceof SqliteFindingStore) await measureSize(store, count);
    else await measurePostgresSize(store as PostgresFindingStore, count);
    await measureCritical(store);
    await measurePages(store);
    memory('after lists');
    await measureStream(store);
    await measureReevaluation(store, replicas);
    line('slowest single read statement above', seconds(slowest));
    memory('at the end');
  } finally {
    for (const r of replicas) await r.close();
    await pg?.server?.stop();
    rmSync(path, { force: true });
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });
  }
  const out = join(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  appendFileSync(
    join(out, 'findings-store.jsonl'),
    `${JSON.stringify({ at: new Date().toISOString(), ...results })}\n`,
  );
  return results;
}

/** The main figures of each backend side by side. */
function compare(runs: Record<string, number | string>[]): void {
  const figures: [string, string, (v: number) => string][] = [
    ['insertSeconds', 'insert, one batch per resource', (v) => seconds(v * 1000)],
    ['insertCpuSeconds', 'CPU seconds of this process while inserting', (v) => `${v.toFixed(1)} s`],
    ['criticalFirstPageMs', 'CRITICAL by label: first page', seconds],
    ['criticalAllMs', 'CRITICAL by label: all pages', seconds],
    ['pageMs', 'a page of 500', seconds],
    ['streamSeconds', 'full list streamed', (v) => seconds(v * 1000)],
    ['unchangedMs', '250 unchanged upserts', seconds],
    ['changedWriteMs', '1,000 changes written (one batch each)', seconds],
    ['changedDeliveredMs', '... until every watcher had all', seconds],
    ['bytesPerFinding', 'bytes a finding', (v) => String(v)],
  ];
  console.log(`\n${''.padEnd(52)} ${runs.map((r) => String(r.store).padEnd(12)).join(' ')}`);
  for (const [key, label, show] of figures)
    line(
      label,
      runs.map((r) => (typeof r[key] === 'number' ? show(r[key]) : '-').padEnd(12)).join(' '),
    );
}

async function main(): Promise<void> {
  const chosen = process.env.BENCH_STORE ?? 'both';
  const backends: Backend[] =
    chosen === 'both' ? ['sqlite', 'postgres'] : chosen === 'postgres' ? ['postgres'] : ['sqlite'];
  const runs: Record<string, number | string>[] = [];
  try {
    for (const b of backends) runs.push(await runBackend(b));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (runs.length > 1) compare(runs);
}

await main();
