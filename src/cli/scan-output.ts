/**
 * What the `scan` targets (`image`, `rootfs`, `sbom`) share: the options every target takes
 * (`--db`, `--db-dir`, `--db-refresh`, `--skip-db-update`, `--format`, `--severity-threshold`,
 * `--help`),
 * opening the database, the findings table, the threshold that decides exit code 1, and turning
 * a usage or input error into exit code 2.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import type { VulnDatabase } from '../vulndb/database.ts';
import type { PackageFinding } from '../vulndb/match.ts';
import { severityOrder, severityRank, type SeverityLevel } from '../vulndb/scoring.ts';
import { openCachedIndex, parseMaxAge } from './db-index.ts';

import { InputError } from './errors.ts';

export { InputError };

/** How old the index may be before a scan asks its sources for changes. */
export const DEFAULT_DB_REFRESH = '1h';

/** The `parseArgs` options every scan target takes. */
const COMMON_SCAN_OPTIONS = {
  db: { type: 'string', multiple: true },
  'db-dir': { type: 'string' },
  'db-refresh': { type: 'string', default: DEFAULT_DB_REFRESH },
  'skip-db-update': { type: 'boolean', default: false },
  format: { type: 'string', default: 'table' },
  'severity-threshold': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/**
 * A target's arguments: the common options (`--db`, `--format`, `--severity-threshold`,
 * `--help`) and the target's own, with positionals. A parse error is an {@link InputError}.
 */
export function parseScanArgs<O extends ParseArgsOptionsConfig>(args: string[], options: O) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: { ...COMMON_SCAN_OPTIONS, ...options },
    });
  } catch (err) {
    throw new InputError(err instanceof Error ? err.message : String(err));
  }
}

/** `--severity-threshold`, case-insensitive; UNTRIAGED (any finding) when not given. */
export function parseThreshold(value: string | undefined): SeverityLevel {
  if (value === undefined) return 'UNTRIAGED';
  const level = severityOrder.find((s) => s === value.toUpperCase());
  if (level === undefined) {
    throw new InputError(
      `--severity-threshold ${value}: expected one of ${[...severityOrder].reverse().join(', ')}`,
    );
  }
  return level;
}

/** The database options of a scan, as parsed. */
export interface DatabaseArgs {
  db?: string[] | undefined;
  'db-dir'?: string | undefined;
  'db-refresh'?: string | undefined;
  'skip-db-update'?: boolean | undefined;
}

/**
 * The database of a scan: the index in the cache directory (or `--db-dir`), updated from the
 * `--db` sources (or the sources it was last updated from) when it is older than
 * `--db-refresh` (or was built from other sources), unless `--skip-db-update`.
 * Undefined when no source is given and no index exists yet; an {@link InputError} when the
 * sources cannot be read and no index of them exists.
 */
export async function openDatabase(args: DatabaseArgs): Promise<VulnDatabase | undefined> {
  const opened = await openCachedIndex({
    sources: args.db,
    dir: args['db-dir'],
    update: args['skip-db-update'] !== true,
    maxAgeMs: parseMaxAge(args['db-refresh'] ?? DEFAULT_DB_REFRESH, '--db-refresh'),
    flag: '--db',
  });
  for (const line of opened.warnings) console.error(line);
  return opened.database;
}

/** Rows as aligned columns, two spaces apart; the last column is not padded. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
    .join('\n');
}

/** The findings as a table with a header row. */
export function findingsTable(findings: readonly PackageFinding[]): string {
  return table([
    ['SEVERITY', 'ID', 'PACKAGE', 'INSTALLED', 'FIXED', 'ECOSYSTEM'],
    ...findings.map((f) => [
      f.severity,
      f.id,
      f.package.name,
      f.installedVersion,
      f.fixedVersion ?? (f.fixAvailable === 'NO' ? '(none)' : ''),
      f.package.ecosystem,
    ]),
  ]);
}

/** The findings at or above the threshold: any of them makes the exit code 1. */
export function atOrAbove(
  findings: readonly PackageFinding[],
  threshold: SeverityLevel,
): PackageFinding[] {
  return findings.filter((f) => severityRank(f.severity) >= severityRank(threshold));
}

/** Runs one target; an {@link InputError} is printed and becomes exit code 2. */
export async function runReportingInputErrors(
  target: string,
  run: () => Promise<number>,
): Promise<number> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof InputError) {
      console.error(`kube-inspector scan ${target}: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
