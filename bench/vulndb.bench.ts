/**
 * Vulnerability database benchmark: load time and memory for 200,000 OSV records (from a zip,
 * as the OSV project publishes them), then matching 10,000 installed packages across OS and
 * language ecosystems, then raw version comparisons per order. Prints numbers; asserts nothing.
 *
 *   node --expose-gc bench/vulndb.bench.ts [records] [packages]
 */
import type { InstalledPackage } from '../src/vulndb/ecosystem.ts';
import { loadZipBytes } from '../src/vulndb/loader.ts';
import { matchPackages } from '../src/vulndb/match.ts';
import { seededRandom, type Random } from '../src/vulndb/testing/random.ts';
import { writeZip } from '../src/vulndb/testing/zip-writer.ts';
import { versionOrderFor } from '../src/vulndb/version/index.ts';

const records = Number(process.argv[2] ?? 200_000);
const packages = Number(process.argv[3] ?? 10_000);
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

function record(i: number, rng: Random): object {
  const eco = ecosystems[i % ecosystems.length]!;
  const name = `pkg-${rng.int(namesPerEcosystem)}`;
  const major = 1 + rng.int(5);
  const fixed = eco.version(major, 1 + rng.int(60));
  const events: object[] = [
    { introduced: rng.chance(0.7) ? '0' : eco.version(major, 0) },
    { fixed },
  ];
  return {
    schema_version: '1.6.0',
    id: `BENCH-${String(i).padStart(7, '0')}`,
    modified: '2024-06-01T00:00:00Z',
    published: '2024-05-01T00:00:00Z',
    aliases: [`CVE-2024-${100000 + i}`],
    summary: `Synthetic advisory ${i} for ${name}`,
    details: 'A synthetic advisory for the benchmark. '.repeat(4),
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:L/A:N' }],
    affected: [
      {
        package: { ecosystem: eco.ecosystem, name },
        ranges: [{ type: eco.rangeType, events }],
      },
    ],
    references: [{ type: 'ADVISORY', url: `https://advisories.invalid/${i}` }],
  };
}

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function line(label: string, value: string): void {
  console.log(`${label.padEnd(44)} ${value}`);
}

// ---------------------------------------------------------------- build the input
const rng = seededRandom(42);
let t = performance.now();
const encoder = new TextEncoder();
const files: [string, Uint8Array][] = [];
for (let i = 0; i < records; i++) {
  files.push([`BENCH-${i}.json`, encoder.encode(JSON.stringify(record(i, rng)))]);
}
const zip = writeZip(files, true);
const jsonBytes = files.reduce((n, [, f]) => n + f.byteLength, 0);
files.length = 0;
line(
  'input',
  `${records} records, ${mb(jsonBytes)} JSON, ${mb(zip.byteLength)} zip (built in ${((performance.now() - t) / 1000).toFixed(1)} s)`,
);

// ---------------------------------------------------------------- load
gc();
const heapBefore = process.memoryUsage().heapUsed;
const rssBefore = process.memoryUsage().rss;
t = performance.now();
const db = loadZipBytes(zip, 'bench.zip');
const loadSeconds = (performance.now() - t) / 1000;
gc();
const heapAfter = process.memoryUsage().heapUsed;
line(
  'load (unzip + validate + index)',
  `${loadSeconds.toFixed(2)} s (${Math.round(records / loadSeconds)} records/s)`,
);
line('database heap after GC', mb(heapAfter - heapBefore));
line('process RSS growth', mb(process.memoryUsage().rss - rssBefore));
line('records kept / malformed', `${db.stats.records} / ${db.stats.malformed}`);
line('records by ecosystem', JSON.stringify(db.stats.byEcosystem));

// ---------------------------------------------------------------- match
const installed: InstalledPackage[] = [];
const prng = seededRandom(7);
for (let i = 0; i < packages; i++) {
  const eco = ecosystems[i % ecosystems.length]!;
  const name = `pkg-${prng.int(namesPerEcosystem)}`;
  const ecosystem = eco.ecosystem.replace(':LTS', '');
  installed.push({ ecosystem, name, version: eco.version(1 + prng.int(5), prng.int(70)) });
}
matchPackages(db, installed.slice(0, 500)); // warm up
const runs: number[] = [];
let findings = 0;
for (let r = 0; r < 5; r++) {
  t = performance.now();
  findings = matchPackages(db, installed).findings.length;
  runs.push((performance.now() - t) / 1000);
}
runs.sort((a, b) => a - b);
const median = runs[2]!;
const candidates = installed.reduce((n, p) => n + db.lookup(p.ecosystem, p.name).length, 0);
line(
  `match ${packages} packages (median of 5)`,
  `${median.toFixed(3)} s (${Math.round(packages / median)} packages/s)`,
);
line('advisory entries examined / findings', `${candidates} / ${findings}`);

// ---------------------------------------------------------------- version order
const pairs = 200_000;
for (const eco of ecosystems) {
  const order = versionOrderFor(eco.ecosystem)!;
  const vr = seededRandom(3);
  const vs = Array.from({ length: 1000 }, () => eco.version(1 + vr.int(5), vr.int(70)));
  t = performance.now();
  let sink = 0;
  for (let i = 0; i < pairs; i++) sink += order.compare(vs[i % 1000]!, vs[(i * 7 + 3) % 1000]!);
  const s = (performance.now() - t) / 1000;
  line(
    `compare ${order.name} (${eco.ecosystem})`,
    `${Math.round(pairs / s / 1000)}k comparisons/s${sink === 0.5 ? '' : ''}`,
  );
}
