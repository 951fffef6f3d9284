/**
 * `kube-inspector db update` and `kube-inspector db status`: the CLI's advisory index, kept in
 * the user's cache directory and reused by every scan.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IndexReader, type IndexedSource } from '../vulndb/advisory-index.ts';
import { INDEX_FILE, readStatusFile, type PersistedStatus } from '../vulndb/store.ts';
import { defaultIndexDir, indexedSources, openCachedIndex } from './db-index.ts';
import { InputError } from './errors.ts';

const help = (cmd: string): string => `Usage: ${cmd} db update [--db SOURCE]... [options]
       ${cmd} db status [options]

update  asks every source what changed since the last update (conditional requests, OSV change
        lists) and rebuilds the index from the changes; a source that cannot be read keeps its
        last good records, and the command exits 1 saying why.
status  prints the index: sources, records per ecosystem, age, the last error.

Options:
  --db SOURCE       OSV source: a directory of *.json, a zip or JSON file, an http(s) URL, "osv"
                    (the OSV project's exports of every ecosystem kube-inspector reads) or
                    "osv:BASE" (a mirror of them); repeatable or comma-separated (update;
                    default: the sources the index was last updated from, else osv)
  --db-dir DIR      where the index lives (default $XDG_CACHE_HOME/kube-inspector/vulndb or
                    ~/.cache/kube-inspector/vulndb)
  -o, --output FMT  text or json (default text)
  -h, --help        show this help

Exit codes: 0 ok, 1 no index or a source failed, 2 bad usage.`;

/** What `db status -o json` prints; documented in docs/cli.md. */
export interface DbStatusJson {
  dir: string;
  index: {
    path: string;
    bytes: number;
    builtAt: string | null;
    records: number;
    malformed: number;
    withdrawn: number;
    newestModified: string | null;
    byEcosystem: Record<string, number>;
  } | null;
  sources: {
    source: string;
    records: number | null;
    byEcosystem: Record<string, number>;
    loadedAt: string | null;
    mode: string | null;
    lastCheck: string | null;
    lastSuccess: string | null;
    lastError: string | null;
    consecutiveFailures: number;
  }[];
  lastRefresh: {
    at: string | null;
    outcome: string | null;
    error: string | null;
  };
}

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: {
        db: { type: 'string', multiple: true },
        'db-dir': { type: 'string' },
        output: { type: 'string', short: 'o', default: 'text' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new InputError(err instanceof Error ? err.message : String(err));
  }
}

/** The index and the state of its sources, as `db status` shows them. */
export async function describeIndex(dir: string): Promise<DbStatusJson> {
  const saved: PersistedStatus | undefined = await readStatusFile(dir);
  const path = join(dir, INDEX_FILE);
  let reader: IndexReader | undefined;
  try {
    reader = new IndexReader(path);
  } catch {
    reader = undefined;
  }
  try {
    const indexed: IndexedSource[] = reader?.sources ?? [];
    const names = [
      ...indexed.map((s) => s.spec),
      ...(saved?.sources ?? []).map((s) => s.source),
    ].filter((s, i, all) => all.indexOf(s) === i);
    const st = reader?.stats;
    return {
      dir,
      index:
        reader === undefined || st === undefined
          ? null
          : {
              path,
              bytes: statSync(path).size,
              builtAt: reader.builtAt ?? null,
              records: st.records,
              malformed: st.malformed,
              withdrawn: st.withdrawn,
              newestModified: st.newestModified ?? null,
              byEcosystem: st.byEcosystem,
            },
      sources: names.map((source) => {
        const i = indexed.find((s) => s.spec === source);
        const s = saved?.sources?.find((x) => x.source === source);
        return {
          source,
          records: i?.stats.records ?? null,
          byEcosystem: i?.stats.byEcosystem ?? {},
          loadedAt: i?.stats.loadedAt ?? null,
          mode: i?.stats.mode ?? null,
          lastCheck: s?.lastCheck ?? null,
          lastSuccess: s?.lastSuccess ?? null,
          lastError: s?.lastError ?? null,
          consecutiveFailures: s?.consecutiveFailures ?? 0,
        };
      }),
      lastRefresh: {
        at: saved?.lastCheck ?? null,
        outcome: saved?.lastOutcome ?? null,
        error: saved?.lastError ?? null,
      },
    };
  } finally {
    reader?.close();
  }
}

function age(iso: string | null, now: number): string {
  if (iso === null) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  const text =
    s < 120
      ? `${s}s`
      : s < 7200
        ? `${Math.round(s / 60)}m`
        : s < 172_800
          ? `${Math.round(s / 3600)}h`
          : `${Math.round(s / 86_400)}d`;
  return `${iso} (${text} ago)`;
}

/** `db status` as text. */
export function statusText(d: DbStatusJson, now = Date.now()): string {
  const lines: string[] = [];
  if (d.index === null) {
    lines.push(`No index in ${d.dir}: run \`kube-inspector db update --db SOURCE\`.`);
  } else {
    const mib = (d.index.bytes / 2 ** 20).toFixed(1);
    lines.push(`Index:    ${d.index.path} (${mib} MiB)`);
    lines.push(`Built:    ${age(d.index.builtAt, now)}`);
    lines.push(
      `Records:  ${d.index.records} (${d.index.malformed} malformed skipped, ${d.index.withdrawn} withdrawn)`,
    );
    lines.push(`Newest:   ${d.index.newestModified ?? 'none'} (newest record modified)`);
  }
  if (d.lastRefresh.at !== null) {
    lines.push(
      `Refresh:  ${d.lastRefresh.outcome ?? ''} at ${age(d.lastRefresh.at, now)}` +
        (d.lastRefresh.error === null ? '' : `: ${d.lastRefresh.error}`),
    );
  }
  if (d.sources.length > 0) {
    lines.push('', 'Sources:');
    for (const s of d.sources) {
      lines.push(`  ${s.source}`);
      lines.push(
        `    records ${s.records ?? 0}, loaded ${age(s.loadedAt, now)}${s.mode === null ? '' : ` (${s.mode})`}`,
      );
      lines.push(
        `    last check ${age(s.lastCheck, now)}, last success ${age(s.lastSuccess, now)}`,
      );
      if (s.lastError !== null) {
        lines.push(`    last error (${s.consecutiveFailures} in a row): ${s.lastError}`);
      }
    }
  }
  const eco = Object.entries(d.index?.byEcosystem ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  if (eco.length > 0) {
    const width = Math.max(...eco.map(([e]) => e.length));
    lines.push('', 'Records per ecosystem:');
    for (const [e, n] of eco) lines.push(`  ${e.padEnd(width)}  ${n}`);
  }
  return lines.join('\n');
}

export async function runDb(args: string[], cmd = 'kube-inspector'): Promise<number> {
  const { values, positionals } = parse(args);
  const sub = positionals[0];
  if (values.help || sub === undefined) {
    console.log(help(cmd));
    return sub === undefined && !values.help ? 2 : 0;
  }
  if (values.output !== 'text' && values.output !== 'json') {
    throw new InputError(`--output ${values.output}: expected text or json`);
  }
  if (positionals.length > 1) throw new InputError(`unexpected argument "${positionals[1]}"`);
  const dir = values['db-dir'] ?? defaultIndexDir();
  if (sub === 'status') {
    if (values.db !== undefined) throw new InputError('--db is for `db update`');
    const d = await describeIndex(dir);
    console.log(values.output === 'json' ? JSON.stringify(d, null, 2) : statusText(d));
    return d.index === null ? 1 : 0;
  }
  if (sub !== 'update') throw new InputError(`unknown db command "${sub}" (use update or status)`);
  // With no source given or recorded: the OSV project's exports.
  const sources = values.db ?? (indexedSources(dir) === undefined ? ['osv'] : undefined);
  const opened = await openCachedIndex({ sources, dir, update: true, flag: '--db' });
  if (opened.store === undefined) {
    throw new InputError(`no source: give --db SOURCE (the index in ${dir} has none recorded)`);
  }
  for (const w of opened.warnings) console.error(w);
  const d = await describeIndex(dir);
  opened.store.close();
  console.log(values.output === 'json' ? JSON.stringify(d, null, 2) : statusText(d));
  return opened.warnings.length > 0 ? 1 : 0;
}
