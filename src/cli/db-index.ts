/**
 * The CLI's advisory index: where it lives (the user's cache directory, or `--db-dir`), which
 * sources feed it (`--db`, or the ones it was last updated from), and opening it for a scan or
 * for `kube-inspector db`.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { IndexReader } from '../vulndb/advisory-index.ts';
import type { VulnDatabase } from '../vulndb/database.ts';
import { expandSource } from '../vulndb/osv-exports.ts';
import { AdvisoryStore, INDEX_FILE, readStatusFile } from '../vulndb/store.ts';
import { InputError } from './errors.ts';

/** `$XDG_CACHE_HOME/kube-inspector/vulndb`, else `~/.cache/kube-inspector/vulndb`. */
export function defaultIndexDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== ''
      ? env.XDG_CACHE_HOME
      : join(homedir(), '.cache');
  return join(base, 'kube-inspector', 'vulndb');
}

/**
 * Sources as given on the command line (repeated, or comma-separated), checked, with `osv` and
 * `osv:BASE` expanded into the OSV project's per-ecosystem exports (or a mirror of them).
 */
export function checkSources(specs: readonly string[], flag: string): string[] {
  return specs
    .flatMap((v) => v.split(','))
    .flatMap((s) => {
      if (s.startsWith('osv:')) checkSource(s.slice(4), flag);
      return expandSource(s);
    })
    .map((s) => checkSource(s, flag));
}

/**
 * A source as given on the command line, checked: an http(s) URL as is, a path made absolute
 * (the index remembers its sources, and a later run may start elsewhere).
 */
export function checkSource(spec: string, flag: string): string {
  if (spec === '') throw new InputError(`${flag} must not be empty`);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec)?.[1];
  if (scheme === undefined) return resolve(spec);
  if (!/^https?$/i.test(scheme)) {
    throw new InputError(
      `${flag} ${spec}: unsupported scheme "${scheme}" (use a path or an http(s) URL)`,
    );
  }
  try {
    new URL(spec);
  } catch {
    throw new InputError(`${flag} ${spec}: not a valid URL`);
  }
  return spec;
}

/** The sources the index in `dir` was built from; undefined when it has no readable index. */
export function indexedSources(dir: string): string[] | undefined {
  const path = join(dir, INDEX_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const reader = new IndexReader(path);
    try {
      return reader.sources.map((s) => s.spec);
    } finally {
      reader.close();
    }
  } catch {
    return undefined;
  }
}

export interface OpenIndexOptions {
  /** Sources given on the command line; undefined: the ones the index was built from. */
  sources: readonly string[] | undefined;
  dir: string | undefined;
  /** Ask the sources for changes first (false: offline, use the index as it is). */
  update: boolean;
  /**
   * With `update`: ask only when the index is older than this, in milliseconds — when a source
   * was last loaded or confirmed unchanged longer ago (undefined: always ask).
   */
  maxAgeMs?: number | undefined;
  now?: (() => Date) | undefined;
  /** The flag the sources came from, for messages. */
  flag: string;
}

export interface OpenedIndex {
  database: VulnDatabase | undefined;
  store: AdvisoryStore | undefined;
  /** Lines for stderr: sources that could not be read, an index older than wanted. */
  warnings: string[];
}

const same = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration such as `30m`, `1h`, `1h30m` or `0s`, in milliseconds. */
export function parseMaxAge(value: string, flag: string): number {
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/gy)];
  if (value === '' || parts.map((p) => p[0]).join('') !== value) {
    throw new InputError(`${flag} must be a duration such as 30m, 1h or 1h30m, got "${value}"`);
  }
  return parts.reduce((ms, p) => ms + Number(p[1]) * UNIT_MS[p[2]!]!, 0);
}

/**
 * Whether every source of the index in `dir` was loaded or confirmed unchanged less than
 * `maxAgeMs` ago (the state the last update wrote beside the index).
 */
export async function indexIsFresh(
  dir: string,
  sources: readonly string[],
  maxAgeMs: number,
  now: Date,
): Promise<boolean> {
  const saved = await readStatusFile(dir);
  return sources.every((source) => {
    const at = saved?.sources?.find((s) => s.source === source)?.lastSuccess;
    const ms = at === undefined ? NaN : Date.parse(at);
    return Number.isFinite(ms) && now.getTime() - ms < maxAgeMs && ms <= now.getTime();
  });
}

/** Whether the store serves an index of `sources` younger than the allowed age. */
async function servedAndFresh(
  store: AdvisoryStore,
  options: OpenIndexOptions,
  sources: readonly string[],
): Promise<boolean> {
  const served = store.index?.sources.map((s) => s.spec);
  return (
    options.maxAgeMs !== undefined &&
    served !== undefined &&
    same(served, sources) &&
    (await indexIsFresh(
      store.dir,
      sources,
      options.maxAgeMs,
      (options.now ?? (() => new Date()))(),
    ))
  );
}

/**
 * Opens (and unless offline, updates) the index. Undefined database when no source is given
 * and there is no index yet. An {@link InputError} when the given sources cannot be read and
 * there is no index of them to fall back on, or when offline with no index of them.
 */
export async function openCachedIndex(options: OpenIndexOptions): Promise<OpenedIndex> {
  const dir = options.dir ?? defaultIndexDir();
  const given =
    options.sources === undefined ? undefined : checkSources(options.sources, options.flag);
  const recorded = indexedSources(dir);
  const sources = given ?? recorded;
  if (!options.update && recorded === undefined) {
    throw new InputError(
      `no vulnerability database in ${dir}: run \`kube-inspector db update\` once before scanning offline`,
    );
  }
  if (sources === undefined || sources.length === 0) {
    return { database: undefined, store: undefined, warnings: [] };
  }
  if (!options.update && recorded !== undefined) {
    if (!same(recorded, sources)) {
      throw new InputError(
        `the database in ${dir} was built from ${recorded.join(', ')}, not ${sources.join(', ')}: update it first`,
      );
    }
  }
  const store = new AdvisoryStore({ dir, sources, timeoutMs: 120_000 });
  await store.open();
  const warnings: string[] = [];
  if (options.update && !(await servedAndFresh(store, options, sources))) {
    const outcome = await store.refresh();
    const held =
      store.index !== undefined &&
      same(
        store.index.sources.map((s) => s.spec),
        sources,
      );
    if (outcome === 'failed') {
      if (!held) {
        throw new InputError(
          `${options.flag} ${sources.join(', ')}: ${store.status.lastError ?? 'not loaded'}`,
        );
      }
      warnings.push(
        `database update failed, using the index built ${store.index.builtAt ?? 'earlier'}: ${store.status.lastError ?? ''}`,
      );
    }
    for (const s of store.status.sources) {
      if (s.lastError !== undefined && outcome !== 'failed') {
        warnings.push(
          `database source ${s.source}: ${s.lastError} (its last good records are used)`,
        );
      }
    }
  }
  return { database: store.index, store, warnings };
}
