/**
 * `kube-inspector scan image <ref>` and `kube-inspector scan rootfs <dir>`: the image scanner
 * as a CI tool. Prints the inventory (and, with --db, the vulnerabilities) as a table, JSON,
 * CycloneDX 1.6 or SPDX 2.3; exits 0 when nothing is at or above the severity threshold, 1
 * when something is, 2 on bad usage or when the target cannot be scanned.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parsePlatform, RegistryClient, type Platform } from '../registry/client.ts';
import { parseDockerConfig, type CredentialStore } from '../registry/credentials.ts';
import { codeAnalyzer } from '../code-scan/analyzer.ts';
import { codeRule } from '../code-scan/flaws.ts';
import { toSarif } from '../code-scan/sarif.ts';
import type { Analyzer } from '../scanner/analyzers/analyzer.ts';
import { ANALYZERS, analyzersVersion } from '../scanner/analyzers/index.ts';
import { LayerCache } from '../scanner/cache.ts';
import { scanImage } from '../scanner/image.ts';
import { scanRootfs } from '../scanner/rootfs.ts';
import { toCycloneDx, toSpdx, type SbomVulnerability } from '../scanner/sbom.ts';
import { DEFAULT_LIMITS, type Inventory, type Package, type ScanLimits } from '../scanner/types.ts';
import { version } from '../version.ts';
import { ecosystemForOs, type InstalledPackage } from '../vulndb/ecosystem.ts';
import { matchPackages, type PackageFinding } from '../vulndb/match.ts';
import { severityRank, type SeverityLevel } from '../vulndb/scoring.ts';
import {
  atOrAbove,
  findingsTable,
  InputError,
  openDatabase,
  parseScanArgs,
  parseThreshold,
  runReportingInputErrors,
  table,
} from './scan-output.ts';

const FORMATS = ['table', 'json', 'cyclonedx', 'spdx', 'sarif'] as const;
type Format = (typeof FORMATS)[number];

/** What a scan looks for: package vulnerabilities, hardcoded secrets, code flaws. */
const SCANNERS = ['vuln', 'secret', 'code'] as const;
type Scanner = (typeof SCANNERS)[number];

export function parseScanners(value: string): Set<Scanner> {
  const out = new Set<Scanner>();
  for (const raw of value.split(',')) {
    const s = raw.trim();
    const known = SCANNERS.find((k) => k === s);
    if (known === undefined) {
      throw new InputError(
        `--scanners ${value}: unknown scanner "${s}"; expected a comma-separated list of ${SCANNERS.join(', ')}`,
      );
    }
    out.add(known);
  }
  return out;
}

const help = (
  target: 'image' | 'rootfs',
): string => `Usage: kube-inspector scan ${target} ${target === 'image' ? '<reference>' : '<directory>'} [options]

${
  target === 'image'
    ? 'Reads an image straight from its registry (no container engine, nothing unpacked to disk),\nlists its OS and language packages'
    : 'Walks an unpacked root filesystem, lists its OS and language packages'
}, and matches them against the OSV advisory index (see \`kube-inspector db\`) when there is one.

Options:
  --db SOURCE                 OSV source: a directory of *.json, a zip or JSON file, or an http(s)
                              URL (repeatable; default: the sources the index was last updated from)
  --db-dir DIR                where the index lives (default $XDG_CACHE_HOME/kube-inspector/vulndb
                              or ~/.cache/kube-inspector/vulndb)
  --db-refresh DURATION       ask the sources for changes first when the index is older than
                              this, like 30m, 1h or 0s (always) (default 1h)
  --skip-db-update            use the index as it is, without asking the sources (offline)
  --scanners LIST             what to look for, comma-separated: vuln (package vulnerabilities),
                              secret (hardcoded secrets in application files), code (code flaws
                              in Python, JavaScript/TypeScript and shell files) (default vuln)
  --format FORMAT             table, json, cyclonedx (1.6), spdx (2.3) or sarif (2.1.0, secrets
                              and code flaws: needs --scanners secret or code) (default table)
  --severity-threshold LEVEL  exit 1 when a finding is at or above LEVEL: CRITICAL, HIGH, MEDIUM,
                              LOW, INFORMATIONAL or UNTRIAGED (default UNTRIAGED: any finding)
${
  target === 'image'
    ? `  --platform OS/ARCH[/VAR]    platform to pick from a multi-platform image (default linux/amd64)
  --insecure-registry HOST    reach HOST[:PORT] over plain HTTP (repeatable)
  --docker-config FILE        credentials (default $DOCKER_CONFIG/config.json or ~/.docker/config.json)
  --ca-file FILE              extra PEM certificates to trust for registries
  --cache-dir DIR             keep per-layer results here (safe to delete)
  --max-image-size BYTES      largest compressed image scanned (default ${DEFAULT_LIMITS.maxCompressedBytes})
`
    : ''
}  --timeout SECONDS           give up after this long (default ${DEFAULT_LIMITS.timeoutMs / 1000})
  -h, --help                  show this help

Exit codes: 0 nothing at or above the threshold, 1 something is, 2 bad usage or not scannable.`;

const LANGUAGE_ECOSYSTEMS: Readonly<Record<string, string>> = {
  npm: 'npm',
  pypi: 'PyPI',
  golang: 'Go',
  maven: 'Maven',
};

/** The scanner's packages in the terms the vulnerability database matches. */
export function installedPackages(inv: Inventory): InstalledPackage[] {
  const osEco =
    inv.os === undefined
      ? undefined
      : ecosystemForOs({ id: inv.os.family, versionId: inv.os.version });
  const out: InstalledPackage[] = [];
  for (const p of inv.packages) {
    const ecosystem = LANGUAGE_ECOSYSTEMS[p.type] ?? osEco;
    if (ecosystem === undefined) continue;
    out.push({
      ecosystem,
      name: p.type === 'maven' && p.namespace !== undefined ? `${p.namespace}:${p.name}` : p.name,
      sourceName: p.sourceName,
      version: p.version,
      purl: p.purl,
    });
  }
  return out;
}

function shortDigest(d: string | undefined): string {
  return d === undefined ? '' : d.slice(7, 19);
}

function renderTable(inv: Inventory, findings: PackageFinding[] | undefined): string {
  const lines: string[] = [];
  const os =
    inv.os === undefined
      ? 'unknown OS'
      : `${inv.os.prettyName ?? inv.os.name}${inv.os.supported ? '' : ' (not supported)'}`;
  if (inv.image !== undefined) {
    lines.push(`${inv.target}  ${inv.image.digest}  ${inv.image.platform}  ${os}`);
  } else {
    lines.push(`${inv.target}  ${os}`);
  }
  if (inv.runtimes.length > 0)
    lines.push(`runtimes: ${inv.runtimes.map((r) => `${r.name} ${r.version}`).join(', ')}`);
  lines.push('');
  if (findings === undefined) {
    const rows = [['TYPE', 'NAME', 'VERSION', 'SOURCE', 'LAYER', 'PATH']];
    for (const p of inv.packages) {
      rows.push([
        p.type,
        p.type === 'maven' && p.namespace !== undefined ? `${p.namespace}:${p.name}` : p.name,
        p.version,
        p.sourceName !== undefined && p.sourceName !== p.name ? p.sourceName : '',
        shortDigest(p.layerDigest),
        p.filePath,
      ]);
    }
    if (rows.length > 1) lines.push(table(rows));
  } else if (findings.length > 0) {
    lines.push(findingsTable(findings));
  }
  if (inv.code !== undefined && inv.code.findings.length > 0) {
    const rows = [['SEVERITY', 'RULE', 'SECRET', 'FINGERPRINT', 'LAYER', 'PATH']];
    for (const f of inv.code.findings) {
      const secret = f.redacted !== undefined;
      rows.push([
        codeRule(f.ruleId)?.severity ?? '',
        f.ruleId,
        f.redacted ?? '',
        secret ? (f.fingerprint ?? '') : '',
        shortDigest(f.layerDigest),
        `/${f.path}:${f.line}`,
      ]);
    }
    lines.push('', table(rows));
  }
  return lines.join('\n');
}

/** Secrets and code flaws whose rule severity is at or above the threshold. */
function codeAtOrAbove(inv: Inventory, threshold: SeverityLevel): unknown[] {
  return (inv.code?.findings ?? []).filter(
    (f) => severityRank(codeRule(f.ruleId)?.severity ?? 'UNTRIAGED') >= severityRank(threshold),
  );
}

/** The summary's count of code-scanning results by kind. */
function codeCounts(inv: Inventory, scanners: ReadonlySet<Scanner>): string {
  const flaws = (inv.code?.findings ?? []).filter((f) => f.redacted === undefined).length;
  const secrets = (inv.code?.findings.length ?? 0) - flaws;
  return [
    ...(scanners.has('secret') ? [`${secrets} secrets`] : []),
    ...(scanners.has('code') ? [`${flaws} code flaws`] : []),
  ].join(', ');
}

function byType(pkgs: readonly Package[]): string {
  const counts = new Map<string, number>();
  for (const p of pkgs) counts.set(p.type, (counts.get(p.type) ?? 0) + 1);
  return [...counts].map(([t, n]) => `${n} ${t}`).join(', ') || 'none';
}

// eslint-disable-next-line max-lines-per-function, complexity -- one check per flag of scan image|rootfs, then the output
async function run(target: 'image' | 'rootfs', args: string[]): Promise<number> {
  const { values, positionals } = parseScanArgs(args, {
    platform: { type: 'string' },
    'insecure-registry': { type: 'string', multiple: true, default: [] },
    'docker-config': { type: 'string' },
    'ca-file': { type: 'string' },
    'cache-dir': { type: 'string' },
    'max-image-size': { type: 'string' },
    timeout: { type: 'string' },
    scanners: { type: 'string', default: 'vuln' },
  });
  if (values.help) {
    console.log(help(target));
    return 0;
  }
  if (positionals.length !== 1) {
    throw new InputError(
      `expected exactly one ${target === 'image' ? 'image reference' : 'directory'}`,
    );
  }
  const subject = positionals[0]!;
  const format = FORMATS.find((f) => f === values.format);
  if (format === undefined)
    throw new InputError(`--format ${values.format}: expected ${FORMATS.join(', ')}`);
  const scanners = parseScanners(values.scanners);
  const secrets = scanners.has('secret');
  const flaws = scanners.has('code');
  if (format === 'sarif' && !secrets && !flaws)
    throw new InputError(
      '--format sarif reports code-scanning results: add secret or code to --scanners',
    );
  const analyzers: readonly Analyzer[] =
    secrets || flaws ? [...ANALYZERS, codeAnalyzer({ secrets, flaws })] : ANALYZERS;
  const threshold = parseThreshold(values['severity-threshold']);
  const limits: Partial<ScanLimits> = {};
  if (values.timeout !== undefined) {
    const s = Number(values.timeout);
    if (!Number.isFinite(s) || s <= 0)
      throw new InputError(`--timeout ${values.timeout}: expected seconds`);
    limits.timeoutMs = s * 1000;
  }
  if (values['max-image-size'] !== undefined) {
    const n = Number(values['max-image-size']);
    if (!Number.isSafeInteger(n) || n <= 0)
      throw new InputError(`--max-image-size ${values['max-image-size']}: expected bytes`);
    limits.maxCompressedBytes = n;
  }
  let platform: Platform | undefined;
  if (values.platform !== undefined) {
    try {
      platform = parsePlatform(values.platform);
    } catch (err) {
      throw new InputError(err instanceof Error ? err.message : String(err));
    }
  }
  // Open the database first: a bad --db is a usage error, found before any download.
  const db = scanners.has('vuln') ? await openDatabase(values) : undefined;

  let outcome;
  if (target === 'image') {
    const credentials: CredentialStore[] = [];
    const configPath =
      values['docker-config'] ??
      [
        process.env.DOCKER_CONFIG && join(process.env.DOCKER_CONFIG, 'config.json'),
        join(homedir(), '.docker/config.json'),
      ].find((p): p is string => typeof p === 'string' && existsSync(p));
    if (configPath !== undefined) {
      try {
        credentials.push(parseDockerConfig(await readFile(configPath, 'utf8')));
      } catch (err) {
        throw new InputError(
          `docker config ${configPath}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    let caBundle: string | undefined;
    if (values['ca-file'] !== undefined) {
      try {
        caBundle = await readFile(values['ca-file'], 'utf8');
      } catch (err) {
        throw new InputError(
          `--ca-file ${values['ca-file']}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    const client = new RegistryClient({
      credentials,
      insecureRegistries: values['insecure-registry'],
      userAgent: `kube-inspector/${version}`,
      ...(caBundle === undefined ? {} : { caBundle }),
    });
    try {
      outcome = await scanImage(subject, {
        client,
        limits,
        analyzers,
        ...(platform === undefined ? {} : { platform }),
        ...(values['cache-dir'] === undefined
          ? {}
          : {
              cache: new LayerCache(
                values['cache-dir'],
                { ...DEFAULT_LIMITS, ...limits },
                analyzersVersion(analyzers),
              ),
            }),
      });
    } finally {
      await client.close();
    }
  } else {
    outcome = await scanRootfs(subject, { limits, analyzers });
  }
  if (outcome.status === 'failed') {
    console.error(`kube-inspector scan ${target}: ${outcome.reason}: ${outcome.message}`);
    return 2;
  }
  const inv = outcome.inventory;
  const findings =
    db === undefined ? undefined : matchPackages(db, installedPackages(inv)).findings;
  const failing = [...atOrAbove(findings ?? [], threshold), ...codeAtOrAbove(inv, threshold)];
  print(format, inv, findings);
  for (const w of inv.warnings.slice(0, 5)) console.error(`warning: ${w}`);
  console.error(
    `${inv.packages.length} packages (${byType(inv.packages)}) in ${(inv.stats.durationMs / 1000).toFixed(2)}s; ` +
      `${inv.stats.bytesDownloaded} bytes downloaded, ${inv.stats.uncompressedBytes} read, ${inv.stats.entries} entries` +
      (inv.code === undefined
        ? ''
        : `; ${inv.code.files} application files read (${inv.code.skippedBinary} binary, ${inv.code.skippedSize} over the size cap skipped), ${codeCounts(inv, scanners)}`) +
      (findings === undefined && inv.code === undefined
        ? ''
        : `; ${(findings?.length ?? 0) + (inv.code?.findings.length ?? 0)} findings, ${failing.length} at or above ${threshold}`),
  );
  return failing.length > 0 ? 1 : 0;
}

function print(format: Format, inv: Inventory, findings: PackageFinding[] | undefined): void {
  const vulns: SbomVulnerability[] = (findings ?? []).flatMap((f) =>
    f.package.purl === undefined
      ? []
      : [
          {
            id: f.id,
            purl: f.package.purl,
            severity: f.severity,
            description: f.summary,
            ...(f.fixedVersion === undefined ? {} : { fixedVersion: f.fixedVersion }),
            ...(f.cvss === undefined
              ? {}
              : {
                  cvss: {
                    version: f.cvss.version,
                    vector: f.cvss.vector,
                    baseScore: f.cvss.baseScore,
                  },
                }),
          },
        ],
  );
  switch (format) {
    case 'table':
      console.log(renderTable(inv, findings));
      return;
    case 'json':
      console.log(
        JSON.stringify(
          findings === undefined ? { inventory: inv } : { inventory: inv, findings },
          null,
          2,
        ),
      );
      return;
    case 'cyclonedx':
      console.log(JSON.stringify(toCycloneDx(inv, vulns, { toolVersion: version }), null, 2));
      return;
    case 'spdx':
      console.log(JSON.stringify(toSpdx(inv, { toolVersion: version }), null, 2));
      return;
    case 'sarif':
      console.log(
        JSON.stringify(
          toSarif(inv.code?.findings ?? [], { toolVersion: version, target: inv.target }),
          null,
          2,
        ),
      );
      return;
  }
}

/** Runs `scan image …` or `scan rootfs …` (args start after the target word). */
export function runScanTarget(target: 'image' | 'rootfs', args: string[]): Promise<number> {
  return runReportingInputErrors(target, () => run(target, args));
}

/** The scan targets this file serves, for the `scan` command's dispatcher. */
export const scanTargets = {
  image: (args: string[]) => runScanTarget('image', args),
  rootfs: (args: string[]) => runScanTarget('rootfs', args),
} as const;
