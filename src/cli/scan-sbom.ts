import { readFile } from 'node:fs/promises';
import {
  makeEnrichment,
  matchPackages,
  parseEpssCsv,
  parseKevJson,
  readSbom,
  severityOrder,
  type Enrichment,
  type PackageFinding,
} from '../vulndb/index.ts';
import { scanTargets } from './scan-image.ts';
import {
  atOrAbove,
  findingsTable,
  InputError,
  openDatabase,
  parseScanArgs,
  parseThreshold,
  runReportingInputErrors,
} from './scan-output.ts';

const help = `Usage: kube-inspector scan sbom <file> --db <dir|zip|url> [options]
       kube-inspector scan sbom <file> [options]   (the index of the last --db or db update)

Matches the packages of a CycloneDX (1.4-1.6) or SPDX 2.3 JSON SBOM against the OSV advisory
index (kept in the cache directory and reused across runs) and reports the findings.

Options:
  --db SOURCE                 OSV source: a directory of *.json, a zip or JSON file, or an http(s)
                              URL (repeatable; default: the sources the index was last updated from)
  --db-dir DIR                where the index lives (default $XDG_CACHE_HOME/kube-inspector/vulndb
                              or ~/.cache/kube-inspector/vulndb)
  --db-refresh DURATION       ask the sources for changes first when the index is older than
                              this, like 30m, 1h or 0s (always) (default 1h)
  --skip-db-update            use the index as it is, without asking the sources (offline)
  --format table|json         output format (default table)
  --severity-threshold LEVEL  exit 1 when a finding is at or above LEVEL: CRITICAL, HIGH,
                              MEDIUM, LOW, INFORMATIONAL or UNTRIAGED (default UNTRIAGED:
                              any finding)
  --epss FILE                 EPSS scores (CSV: cve,epss,percentile)
  --kev FILE                  known-exploited vulnerabilities (KEV JSON)
  -h, --help                  show this help

Exit codes: 0 nothing at or above the threshold, 1 something is, 2 bad usage or input.`;

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new InputError(`${what} ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function loadEnrichment(
  epss: string | undefined,
  kev: string | undefined,
): Promise<Enrichment | undefined> {
  if (epss === undefined && kev === undefined) return undefined;
  const scores =
    epss === undefined ? undefined : parseEpssCsv(await readText(epss, '--epss')).scores;
  let known: Set<string> | undefined;
  if (kev !== undefined) {
    try {
      known = parseKevJson(await readText(kev, '--kev'));
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError(`--kev ${kev}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return makeEnrichment({
    ...(scores && { epss: scores }),
    ...(known && { knownExploited: known }),
  });
}

/** The JSON form of one finding; documented in docs/vulnerability-database.md. */
export function findingJson(f: PackageFinding): Record<string, unknown> {
  return {
    id: f.id,
    aliases: f.aliases,
    records: f.records,
    purl: f.package.purl ?? null,
    package: {
      name: f.package.name,
      sourceName: f.package.sourceName ?? null,
      ecosystem: f.package.ecosystem,
    },
    installedVersion: f.installedVersion,
    fixedVersion: f.fixedVersion ?? null,
    fixAvailable: f.fixAvailable,
    severity: f.severity,
    cvss:
      f.cvss === undefined
        ? null
        : { version: f.cvss.version, vector: f.cvss.vector, baseScore: f.cvss.baseScore },
    scores: f.scores.map((s) => ({ version: s.version, vector: s.vector, baseScore: s.baseScore })),
    invalidVectors: f.invalidVectors,
    epss: f.epss ?? null,
    exploitAvailable: f.exploitAvailable,
    summary: f.summary,
    references: f.references,
  };
}

// eslint-disable-next-line max-lines-per-function -- one check per flag of scan sbom, then the output
async function scanSbom(args: string[]): Promise<number> {
  const { values, positionals } = parseScanArgs(args, {
    epss: { type: 'string' },
    kev: { type: 'string' },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  if (positionals.length !== 1) throw new InputError('expected exactly one SBOM file');
  const file = positionals[0]!;
  if (values.format !== 'table' && values.format !== 'json') {
    throw new InputError(`--format ${values.format}: expected table or json`);
  }
  const threshold = parseThreshold(values['severity-threshold']);

  const text = await readText(file, 'SBOM');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError(
      `SBOM ${file}: not JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  let sbom;
  try {
    sbom = readSbom(doc);
  } catch (err) {
    throw new InputError(`SBOM ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const enrichment = await loadEnrichment(values.epss, values.kev);
  const db = await openDatabase(values);
  if (db === undefined) {
    throw new InputError(
      '--db is required: there is no vulnerability database yet (give --db SOURCE, or run `kube-inspector db update --db SOURCE` once)',
    );
  }
  const started = performance.now();
  const { findings, unreadableVersions } = matchPackages(db, sbom.packages, enrichment);
  const matchSeconds = (performance.now() - started) / 1000;
  const failing = atOrAbove(findings, threshold);

  const { stats } = db;
  if (values.format === 'json') {
    console.log(
      JSON.stringify(
        {
          sbom: { file, format: sbom.format, specVersion: sbom.specVersion },
          database: {
            source: stats.source,
            records: stats.records,
            malformed: stats.malformed,
            withdrawn: stats.withdrawn,
            errors: stats.errors,
          },
          packages: sbom.packages.length,
          skipped: sbom.skipped,
          unreadableVersions,
          severityThreshold: threshold,
          findings: findings.map(findingJson),
        },
        null,
        2,
      ),
    );
  } else {
    if (findings.length > 0) console.log(findingsTable(findings));
    const counts = severityOrder
      .slice()
      .reverse()
      .map((s) => [s, findings.filter((f) => f.severity === s).length] as const)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${s}`);
    console.log(
      `${findings.length} findings${counts.length > 0 ? ` (${counts.join(', ')})` : ''} in ` +
        `${sbom.packages.length} packages; ${sbom.skipped.length} components skipped; ` +
        `${failing.length} at or above ${threshold}`,
    );
  }
  console.error(
    `database ${stats.source}: ${stats.records} records, ${stats.malformed} malformed skipped, ` +
      `index built ${stats.loadedAt.toISOString()}; matched in ${matchSeconds.toFixed(3)}s`,
  );
  for (const e of stats.errors.slice(0, 3)) console.error(`  malformed: ${e.source}: ${e.message}`);
  for (const u of unreadableVersions.slice(0, 3)) {
    console.error(`  version not readable in ${u.ecosystem}, not matched: ${u.name} ${u.version}`);
  }
  return failing.length > 0 ? 1 : 0;
}

/** One `scan` target: gets the arguments after the target word, returns the exit code. */
export type ScanTarget = (args: string[]) => Promise<number>;

function scanHelp(targets: Record<string, ScanTarget>): string {
  return [
    'Usage: kube-inspector scan <target> [options]',
    '',
    `Targets: ${Object.keys(targets).sort().join(', ')}`,
    '',
    'Run `kube-inspector scan <target> --help` for the options of a target.',
  ].join('\n');
}

/** Runs `scan sbom …` (args start after the target word). */
export function runScanSbom(args: string[]): Promise<number> {
  return runReportingInputErrors('sbom', () => scanSbom(args));
}

/**
 * The `scan` command: dispatches to the targets it is given, and lists them in its help.
 * Exit 2 for a missing or unknown target.
 */
export function scanCommand(
  targets: Record<string, ScanTarget>,
): (args: string[]) => Promise<number> {
  return async (args) => {
    const [target, ...rest] = args;
    if (target === '--help' || target === '-h') {
      console.log(scanHelp(targets));
      return 0;
    }
    const run = target === undefined ? undefined : targets[target];
    if (run === undefined) {
      const what = target === undefined ? 'missing scan target' : `unknown scan target "${target}"`;
      console.error(`kube-inspector scan: ${what}\n\n${scanHelp(targets)}`);
      return 2;
    }
    return run(rest);
  };
}

/** `kube-inspector scan <target>`: `image` and `rootfs` (scan-image.ts) and `sbom` (here). */
export const runScan = scanCommand({ ...scanTargets, sbom: runScanSbom });
