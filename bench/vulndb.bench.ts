/**
 * Vulnerability database benchmark: OSV records shaped like real ones (Debian and Ubuntu records
 * naming several releases, with binary package lists; GitHub advisories with ranges, `versions`
 * lists, CVSS vectors and long details), written to a zip as the OSV project publishes them.
 *
 * Each measurement runs in a process of its own, so its RSS is its own:
 * - index: build the on-disk index from the zip (time, bytes on disk, peak RSS), then open it as
 *   a fresh process would and match 10,000 installed packages (time, RSS after);
 * - images: open the index again in a fresh process and match the same packages as 20 images
 *   (RSS, CPU), once with each of three V8 settings (the controller's shipped flags, smaller
 *   semi-spaces, a capped old generation);
 * - memory: today's in-memory database from the same zip (load time, heap, RSS, match time);
 * then raw version comparisons per order. Prints numbers; asserts nothing.
 *
 *   node --expose-gc bench/vulndb.bench.ts [records] [packages]
 *   node --expose-gc bench/vulndb.bench.ts --sizes 100000,500000   (index and memory at each)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InstalledPackage } from '../src/vulndb/ecosystem.ts';
import { loadZipFile } from '../src/vulndb/loader.ts';
import { matchPackages } from '../src/vulndb/match.ts';
import { AdvisoryStore } from '../src/vulndb/store.ts';
import { seededRandom, type Random } from '../src/vulndb/testing/random.ts';
import { writeZipFile } from '../src/vulndb/testing/zip-writer.ts';
import type { VulnDatabase } from '../src/vulndb/database.ts';
import { versionOrderFor } from '../src/vulndb/version/index.ts';

const namesPerEcosystem = 4_000;

interface Eco {
  ecosystem: string;
  /** Version for "release" n and "patch" p, in the ecosystem's syntax. */
  version(n: number, p: number): string;
  rangeType: 'ECOSYSTEM' | 'SEMVER';
}

const ecosystems: Eco[] = [
  {
    ecosystem: 'Debian:12',
    rangeType: 'ECOSYSTEM',
    version: (n, p) => `1:${n}.${p}-1+deb12u${p % 7}`,
  },
  {
    ecosystem: 'Ubuntu:22.04:LTS',
    rangeType: 'ECOSYSTEM',
    version: (n, p) => `${n}.${p}-0ubuntu0.22.04.${p % 5}`,
  },
  {
    ecosystem: 'Alpine:v3.20',
    rangeType: 'ECOSYSTEM',
    version: (n, p) => `${n}.${p}_p${p % 3}-r${p % 9}`,
  },
  {
    ecosystem: 'AlmaLinux:9',
    rangeType: 'ECOSYSTEM',
    version: (n, p) => `${n}.${p}-${p % 40}.el9_${p % 4}`,
  },
  { ecosystem: 'npm', rangeType: 'SEMVER', version: (n, p) => `${n}.${p}.${p % 11}` },
  {
    ecosystem: 'PyPI',
    rangeType: 'ECOSYSTEM',
    version: (n, p) => `${n}.${p}${p % 5 === 0 ? 'rc1' : ''}`,
  },
  {
    ecosystem: 'Maven',
    rangeType: 'ECOSYSTEM',
    version: (n, p) => `${n}.${p}.${p % 13}${p % 6 === 0 ? '-beta' : ''}`,
  },
  { ecosystem: 'Go', rangeType: 'SEMVER', version: (n, p) => `${n}.${p}.${p % 17}` },
  { ecosystem: 'crates.io', rangeType: 'SEMVER', version: (n, p) => `${n}.${p}.${p % 3}` },
];

const prose =
  'A flaw was found in the handling of crafted input that allows a remote attacker to cause ' +
  'a denial of service or possibly execute arbitrary code. ';

/** A distribution record: one source package, several releases, binary package lists. */
function distroRecord(i: number, eco: Eco, rng: Random): object {
  const name = `pkg-${rng.int(namesPerEcosystem)}`;
  const major = 1 + rng.int(5);
  const [family] = eco.ecosystem.split(':');
  const releases =
    family === 'Debian'
      ? ['Debian:11', 'Debian:12', 'Debian:13']
      : family === 'Ubuntu'
        ? ['Ubuntu:20.04:LTS', 'Ubuntu:22.04:LTS', 'Ubuntu:24.04:LTS']
        : [eco.ecosystem];
  const binaries = Array.from({ length: 3 + rng.int(8) }, (_, b) => `${name}-bin${b}`);
  return {
    schema_version: '1.6.0',
    id: `${family!.toUpperCase()}-CVE-2024-${String(100000 + i)}`,
    modified: '2024-06-01T00:00:00Z',
    published: '2024-05-01T00:00:00Z',
    upstream: [`CVE-2024-${100000 + i}`],
    summary: '',
    details: `${prose.repeat(2 + rng.int(4))}`,
    affected: releases.map((release) => ({
      package: { ecosystem: release, name, purl: `pkg:deb/${family!.toLowerCase()}/${name}` },
      ranges: [
        {
          type: 'ECOSYSTEM',
          events: [{ introduced: '0' }, { fixed: eco.version(major, 1 + rng.int(60)) }],
        },
      ],
      ecosystem_specific: {
        urgency: 'medium',
        binaries: binaries.map((b) => ({
          binary_name: b,
          binary_version: eco.version(major, rng.int(60)),
        })),
      },
      database_specific: { source: `https://security-tracker.invalid/${family}/${i}.json` },
    })),
    references: [
      { type: 'ADVISORY', url: `https://security-tracker.invalid/CVE-2024-${100000 + i}` },
    ],
  };
}

/** A GitHub advisory: ranges, a `versions` list, a CVSS vector, references. */
function githubRecord(i: number, eco: Eco, rng: Random): object {
  const name = `pkg-${rng.int(namesPerEcosystem)}`;
  const major = 1 + rng.int(5);
  const fixedPatch = 1 + rng.int(60);
  const introduced = rng.chance(0.7) ? 0 : rng.int(fixedPatch);
  return {
    schema_version: '1.6.0',
    id: `GHSA-${String(i).padStart(4, '0').slice(-4)}-${(i * 7919).toString(36).padStart(4, '0').slice(-4)}-${i.toString(36).padStart(4, '0')}`,
    modified: '2024-06-01T00:00:00Z',
    published: '2024-05-01T00:00:00Z',
    aliases: [`CVE-2024-${100000 + i}`],
    summary: `Synthetic advisory ${i} for ${name}`,
    details: `${prose.repeat(4 + rng.int(10))}\n\n### Impact\n${prose}\n\n### Patches\nUpgrade.`,
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:L/A:N' }],
    affected: [
      {
        package: { ecosystem: eco.ecosystem, name },
        ranges: [
          {
            type: eco.rangeType,
            events: [
              { introduced: introduced === 0 ? '0' : eco.version(major, introduced) },
              { fixed: eco.version(major, fixedPatch) },
            ],
          },
        ],
        versions: Array.from({ length: Math.min(fixedPatch - introduced, 25) }, (_, k) =>
          eco.version(major, introduced + k),
        ),
        database_specific: { source: `https://github.invalid/advisories/${i}` },
      },
    ],
    references: Array.from({ length: 3 + rng.int(5) }, (_, r) => ({
      type: r === 0 ? 'ADVISORY' : 'WEB',
      url: `https://advisories.invalid/${i}/${r}`,
    })),
    database_specific: { severity: 'HIGH', github_reviewed: true, cwe_ids: ['CWE-79'] },
  };
}

function record(i: number, rng: Random): object {
  const eco = ecosystems[i % ecosystems.length]!;
  return eco.rangeType === 'ECOSYSTEM' && i % ecosystems.length < 4
    ? distroRecord(i, eco, rng)
    : githubRecord(i, eco, rng);
}

function installedPackages(n: number): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  const prng = seededRandom(7);
  for (let i = 0; i < n; i++) {
    const eco = ecosystems[i % ecosystems.length]!;
    const name = `pkg-${prng.int(namesPerEcosystem)}`;
    const ecosystem = eco.ecosystem.replace(':LTS', '');
    out.push({ ecosystem, name, version: eco.version(1 + prng.int(5), prng.int(70)) });
  }
  return out;
}

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const line = (label: string, value: string): void => console.log(`${label.padEnd(46)} ${value}`);
const cpuSeconds = (since: NodeJS.CpuUsage): string => {
  const u = process.cpuUsage(since);
  return ((u.user + u.system) / 1e6).toFixed(1);
};
const peakRss = (): number => process.resourceUsage().maxRSS * 1024;

interface MatchTimes {
  /** Median wall time of five matches, in seconds. */
  median: number;
  /** Median CPU time (user and system, every thread of the process) of the same five. */
  cpuMedian: number;
  /** The first match, before any cache held the packages' entries. */
  first: number;
  findings: number;
}

function matchTimes(db: VulnDatabase, installed: InstalledPackage[]): MatchTimes {
  const runs: number[] = [];
  const cpu: number[] = [];
  let findings = 0;
  for (let r = 0; r < 6; r++) {
    const t = performance.now();
    const c = process.cpuUsage();
    findings = matchPackages(db, installed).findings.length;
    runs.push((performance.now() - t) / 1000);
    const u = process.cpuUsage(c);
    cpu.push((u.user + u.system) / 1e6);
  }
  const first = runs.shift()!;
  cpu.shift();
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[2]!;
  return { median: median(runs), cpuMedian: median(cpu), first, findings };
}

// ---------------------------------------------------------------- phases (child processes)
function phaseMake(zip: string, records: number): void {
  const rng = seededRandom(42);
  const encoder = new TextEncoder();
  let json = 0;
  const t = performance.now();
  const size = writeZipFile(
    zip,
    (function* () {
      for (let i = 0; i < records; i++) {
        const bytes = encoder.encode(JSON.stringify(record(i, rng)));
        json += bytes.byteLength;
        yield [`${i}.json`, bytes] as [string, Uint8Array];
      }
    })(),
    true,
  );
  line(
    'input',
    `${records} records, ${mb(json)} JSON, ${mb(size)} zip (written in ${((performance.now() - t) / 1000).toFixed(1)} s)`,
  );
}

async function phaseIndex(zip: string, dir: string, packages: number): Promise<void> {
  const rss0 = process.memoryUsage().rss;
  const build = new AdvisoryStore({ dir, sources: [zip] });
  const cpu0 = process.cpuUsage();
  let t = performance.now();
  const outcome = await build.refresh();
  const seconds = (performance.now() - t) / 1000;
  const cpu = cpuSeconds(cpu0);
  const db = build.current!;
  line(
    'index: build (stream zip, validate, write)',
    `${seconds.toFixed(1)} s (${cpu} s CPU), ${outcome}`,
  );
  line('index: records / bytes on disk', `${db.stats.records} / ${mb(db.stats.diskBytes ?? 0)}`);
  line('index: peak RSS of the building process', `${mb(peakRss())} (at start ${mb(rss0)})`);
  build.close();
  // A fresh reader, as a controller restarting on the volume or the next CLI run.
  gc();
  const reader = new AdvisoryStore({ dir, sources: [zip] });
  t = performance.now();
  await reader.open();
  line(
    'index: open',
    `${((performance.now() - t) * 1000).toFixed(0)} µs`.replace(/^(\d+)\d{3} µs$/, '$1 ms'),
  );
  const installed = installedPackages(packages);
  // An image's worth of packages first: what a controller holding the index does per scan.
  matchPackages(reader.current!, installed.slice(0, 500));
  gc();
  line('index: RSS holding the index, 500 packages matched', mb(process.memoryUsage().rss));
  // Then image after image, each match's findings dropped once written, as the controller
  // covering a cluster does: the peak RSS of the process is the figure.
  const images = Math.ceil(installed.length / 500);
  const tImages = performance.now();
  for (let i = 0; i < installed.length; i += 500) {
    matchPackages(reader.current!, installed.slice(i, i + 500));
  }
  line(
    `index: ${images} images of 500 packages, one by one`,
    `${((performance.now() - tImages) / 1000).toFixed(2)} s, peak RSS so far ${mb(peakRss())}`,
  );
  const m = matchTimes(reader.current!, installed);
  line(`index: match ${packages} packages, first (cold)`, `${m.first.toFixed(3)} s`);
  line(
    `index: match ${packages} packages (median of 5)`,
    `${m.median.toFixed(3)} s wall, ${m.cpuMedian.toFixed(3)} s CPU, ${m.findings} findings`,
  );
  line('index: peak RSS while matching', mb(peakRss()));
  gc();
  line('index: RSS after matching, after GC', mb(process.memoryUsage().rss));
  reader.close();
}

/**
 * The V8 flags of the processes matching images: the controller's shipped `NODE_OPTIONS`
 * (`--max-old-space-size=1536`), the same with semi-spaces of 4 MiB (V8's default grows them
 * to 16 MiB), and a process whose old generation is capped too.
 */
const IMAGE_V8 = [
  ['--max-old-space-size=1536'],
  ['--max-old-space-size=1536', '--max-semi-space-size=4'],
  ['--max-old-space-size=160', '--max-semi-space-size=4'],
];

async function phaseImages(zip: string, dir: string, packages: number): Promise<void> {
  const reader = new AdvisoryStore({ dir, sources: [zip] });
  await reader.open();
  const installed = installedPackages(packages);
  const label = `images (${process.execArgv.filter((a) => a.startsWith('--max-')).join(' ')})`;
  matchPackages(reader.current!, installed.slice(0, 500));
  gc();
  line(`${label}: RSS, 500 packages matched`, mb(process.memoryUsage().rss));
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < installed.length; i += 500) {
    matchPackages(reader.current!, installed.slice(i, i + 500));
  }
  line(
    `${label}: ${Math.ceil(installed.length / 500)} images of 500`,
    `${cpuSeconds(cpu0)} s CPU, peak RSS ${mb(peakRss())}`,
  );
  gc();
  line(`${label}: RSS after, after GC`, mb(process.memoryUsage().rss));
  reader.close();
}

async function phaseMemory(zip: string, packages: number): Promise<void> {
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  const db = await loadZipFile(zip);
  const seconds = (performance.now() - t) / 1000;
  const cpu = cpuSeconds(cpu0);
  gc();
  line('memory: load (read zip, validate, index)', `${seconds.toFixed(1)} s (${cpu} s CPU)`);
  line(
    'memory: heap held / RSS',
    `${mb(process.memoryUsage().heapUsed - heap0)} / ${mb(process.memoryUsage().rss)}`,
  );
  line('memory: peak RSS', mb(peakRss()));
  const m = matchTimes(db, installedPackages(packages));
  line(
    `memory: match ${packages} packages (median of 5)`,
    `${m.median.toFixed(3)} s wall, ${m.cpuMedian.toFixed(3)} s CPU, ${m.findings} findings`,
  );
}

function child(args: string[], v8: string[] = []): void {
  execFileSync(process.execPath, [...process.execArgv, ...v8, import.meta.filename, ...args], {
    stdio: 'inherit',
  });
}

function compareVersions(): void {
  const pairs = 200_000;
  for (const eco of ecosystems) {
    const order = versionOrderFor(eco.ecosystem)!;
    const vr = seededRandom(3);
    const vs = Array.from({ length: 1000 }, () => eco.version(1 + vr.int(5), vr.int(70)));
    const t = performance.now();
    let sink = 0;
    for (let i = 0; i < pairs; i++) sink += order.compare(vs[i % 1000]!, vs[(i * 7 + 3) % 1000]!);
    const s = (performance.now() - t) / 1000;
    line(
      `compare ${order.name} (${eco.ecosystem})`,
      `${Math.round(pairs / s / 1000)}k comparisons/s${sink === 0.5 ? '' : ''}`,
    );
  }
}

/**
 * Start-up of the CLI: `kube-inspector --help` and `kube-inspector version`, against a bare
 * `node -e 0`. With hyperfine on the PATH (Debian's `hyperfine`), its means; else the median of
 * 20 runs of each.
 */
function cliStartup(work: string): void {
  const main = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
  const node = process.execPath;
  const commands: [string, string[]][] = [
    ['CLI start-up: --help', [main, '--help']],
    ['CLI start-up: version', [main, 'version']],
    ['CLI start-up: node -e 0 (the floor)', ['-e', '0']],
  ];
  const hyperfine = spawnSync('hyperfine', ['--version'], { encoding: 'utf8' });
  if (hyperfine.status === 0) {
    const out = join(work, 'hyperfine.json');
    const quoted = commands.map(([, args]) => [node, ...args].join(' '));
    execFileSync('hyperfine', [
      '-N',
      '--warmup',
      '3',
      '--runs',
      '20',
      '--export-json',
      out,
      '--style',
      'none',
      ...quoted,
    ]);
    const { results } = JSON.parse(readFileSync(out, 'utf8')) as {
      results: { mean: number; median: number; user: number; system: number }[];
    };
    results.forEach((r, i) => {
      line(
        commands[i]![0],
        `${(r.median * 1000).toFixed(0)} ms median, ${(r.mean * 1000).toFixed(0)} ms mean, ` +
          `${((r.user + r.system) * 1000).toFixed(0)} ms CPU (hyperfine)`,
      );
    });
    return;
  }
  for (const [label, args] of commands) {
    const runs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      spawnSync(node, args, { stdio: 'ignore' });
      runs.push(performance.now() - t);
    }
    runs.sort((a, b) => a - b);
    line(label, `${runs[10]!.toFixed(0)} ms median of 20 (no hyperfine on the PATH)`);
  }
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === '--phase') {
  const [phase, zip, arg1, arg2] = rest;
  if (phase === 'make') phaseMake(zip!, Number(arg1));
  else if (phase === 'index') await phaseIndex(zip!, arg1!, Number(arg2));
  else if (phase === 'images') await phaseImages(zip!, arg1!, Number(arg2));
  else if (phase === 'memory') await phaseMemory(zip!, Number(arg1));
} else {
  const sizes = mode === '--sizes' ? rest[0]!.split(',').map(Number) : [Number(mode ?? 200_000)];
  const packages = Number((mode === '--sizes' ? rest[1] : rest[0]) ?? 10_000);
  const work = mkdtempSync(join(tmpdir(), 'vulndb-bench-'));
  try {
    for (const records of sizes) {
      console.log(`-- ${records} records`);
      const zip = join(work, `osv-${records}.zip`);
      child(['--phase', 'make', zip, String(records)]);
      child(['--phase', 'index', zip, join(work, `index-${records}`), String(packages)]);
      for (const v8 of IMAGE_V8) {
        child(['--phase', 'images', zip, join(work, `index-${records}`), String(packages)], v8);
      }
      child(['--phase', 'memory', zip, String(packages)]);
      rmSync(zip, { force: true });
      rmSync(join(work, `index-${records}`), { recursive: true, force: true });
    }
    compareVersions();
    cliStartup(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
