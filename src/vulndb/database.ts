/**
 * The vulnerability database as matching sees it: advisories looked up by (ecosystem, package
 * name), each affected entry's ranges compiled (events sorted in the ecosystem's version order).
 *
 * Two implementations: the on-disk index (`advisory-index.ts`, what the controller and the CLI
 * use) and the in-memory {@link MemoryDatabase} built here (tests, and loading a directory or
 * zip once without an index). Either is immutable once built; a refresh builds a new one and
 * swaps it in whole.
 */
import { normalizeEcosystem, packageKey } from './ecosystem.ts';
import type { Assessment } from './scoring.ts';
import { parseOsvRecord, type Advisory, type AffectedPackage, type RangeEvent } from './osv.ts';
import {
  baseEcosystem,
  normalizeGoVersion,
  semverOrder,
  versionOrderFor,
  type VersionOrder,
} from './version/index.ts';

export interface CompiledRange {
  order: VersionOrder;
  /** introduced/fixed/last_affected events sorted by version; introduced "0" first. */
  events: RangeEvent[];
  limits: string[];
}

export interface IndexedEntry {
  advisory: Advisory;
  affected: AffectedPackage;
  ranges: CompiledRange[];
  /** The order of the package's ecosystem, used for `versions` lists and fixed versions. */
  order: VersionOrder | undefined;
  /** Explicit affected versions. */
  versions: string[];
  /**
   * The lowest and the highest version of `versions` in `order`, when the order reads them
   * all (the on-disk index stores them): a version outside them is in none of the list.
   */
  versionBounds?: readonly [low: string, high: string] | undefined;
  /** The entry's severity and scores, kept by matching once computed. */
  assessment?: Assessment | undefined;
}

export interface LoadIssue {
  /** File, zip entry or URL the record came from. */
  source: string;
  message: string;
}

export interface DatabaseStats {
  /** Where the database came from: a directory, a zip or a URL. */
  source: string;
  /** Records kept (withdrawn ones excluded). */
  records: number;
  withdrawn: number;
  /** Records that failed validation and were skipped. */
  malformed: number;
  /** Records whose id was seen before; the one modified last is kept. */
  duplicates: number;
  /** Ranges we cannot evaluate (GIT ranges, ecosystems without a known order). */
  unsupportedRanges: number;
  /** The first validation errors, for the operator to look at. */
  errors: LoadIssue[];
  /** Records per (normalised) affected ecosystem; a record with two ecosystems counts in both. */
  byEcosystem: Record<string, number>;
  /** The newest `modified` time among the records kept (RFC 3339), when there is one. */
  newestModified: string | undefined;
  /** Wall time of the load, in seconds. */
  loadSeconds: number;
  /**
   * Growth of the V8 heap during the load, in bytes (an estimate of an in-memory database's
   * size); 0 for the on-disk index, whose size is {@link DatabaseStats.diskBytes}.
   */
  heapBytes: number;
  /** Size of the on-disk index file, in bytes; 0 for an in-memory database. */
  diskBytes?: number;
  loadedAt: Date;
}

export const maxReportedErrors = 20;

function normalizeEventVersion(base: string, type: string, version: string): string {
  return base === 'Go' || (type === 'SEMVER' && version.startsWith('v'))
    ? normalizeGoVersion(version)
    : version;
}

export function compileRanges(
  affected: AffectedPackage,
  onUnsupported: () => void = () => undefined,
): CompiledRange[] {
  const base = baseEcosystem(affected.ecosystem);
  const out: CompiledRange[] = [];
  for (const range of affected.ranges) {
    const order =
      range.type === 'SEMVER'
        ? semverOrder
        : range.type === 'ECOSYSTEM'
          ? versionOrderFor(affected.ecosystem)
          : undefined;
    if (order === undefined) {
      onUnsupported();
      continue;
    }
    const events: RangeEvent[] = [];
    const limits: string[] = [];
    for (const e of range.events) {
      const version = normalizeEventVersion(base, range.type, e.version);
      if (e.kind === 'limit') {
        if (version !== '*') limits.push(version);
      } else events.push(version === e.version ? e : { kind: e.kind, version });
    }
    const isZero = (e: RangeEvent): boolean => e.kind === 'introduced' && e.version === '0';
    events.sort((a, b) => {
      if (isZero(a) || isZero(b)) return isZero(a) === isZero(b) ? 0 : isZero(a) ? -1 : 1;
      return order.compare(a.version, b.version);
    });
    out.push({ order, events, limits });
  }
  return out;
}

/** One affected entry of an advisory, ready for matching. */
export function indexedEntry(
  advisory: Advisory,
  affected: AffectedPackage,
  onUnsupported?: () => void,
): IndexedEntry {
  return {
    advisory,
    affected,
    ranges: compileRanges(affected, onUnsupported),
    order: versionOrderFor(affected.ecosystem),
    versions: affected.versions,
  };
}

/** What matching, the controllers and the CLI read from a database. */
export interface VulnDatabase {
  readonly stats: DatabaseStats;
  /** Records kept (withdrawn ones excluded). */
  readonly size: number;
  /** Entries filed under one (ecosystem, name); ecosystem and name are normalised here. */
  lookup(ecosystem: string, name: string): readonly IndexedEntry[];
  /** One advisory by its id. */
  get(id: string): Advisory | undefined;
  /**
   * The entries of many (ecosystem, name) pairs at once, keyed by {@link prefetchKey}, so an
   * on-disk database reads them in a few batched queries. With the installed version (as
   * matching reads it: trimmed, a Go version normalised), a database may leave out entries
   * that cannot affect that version; every entry that can is among those returned. Optional;
   * lookups work without it.
   */
  prefetch?(
    keys: Iterable<readonly [ecosystem: string, name: string, version?: string | undefined]>,
  ): ReadonlyMap<string, readonly IndexedEntry[]>;
  /**
   * The advisories of many entries at once (the entries that matched), so an on-disk database
   * reads them in a few batched queries. Optional.
   */
  prefetchAdvisories?(entries: readonly IndexedEntry[]): ReadonlyMap<IndexedEntry, Advisory>;
}

/** The key of a prefetched (ecosystem, name[, installed version]) in what `prefetch` returns. */
export function prefetchKey(ecosystem: string, name: string, version?: string): string {
  const key = packageKey(ecosystem, name);
  return version === undefined ? key : `${key}\u0000${version}`;
}

export const VulnDatabase = {
  /** Builds an in-memory database from advisories; used by tests. */
  fromAdvisories(advisories: Iterable<Advisory>, base: Partial<DatabaseStats> = {}): VulnDatabase {
    return MemoryDatabase.fromAdvisories(advisories, base);
  },
};

/** The database held in the heap: advisories indexed by (ecosystem, package name). */
export class MemoryDatabase implements VulnDatabase {
  readonly stats: DatabaseStats;
  private readonly index: Map<string, IndexedEntry[]>;
  private readonly advisories: Map<string, Advisory>;

  /** Use {@link DatabaseBuilder} or {@link VulnDatabase.fromAdvisories}. */
  constructor(
    index: Map<string, IndexedEntry[]>,
    advisories: Map<string, Advisory>,
    stats: DatabaseStats,
  ) {
    this.index = index;
    this.advisories = advisories;
    this.stats = stats;
  }

  /** Entries filed under one (ecosystem, name); ecosystem and name are normalised here. */
  lookup(ecosystem: string, name: string): readonly IndexedEntry[] {
    return this.index.get(packageKey(ecosystem, name)) ?? [];
  }

  /** One advisory by its id. */
  get(id: string): Advisory | undefined {
    return this.advisories.get(id);
  }

  get size(): number {
    return this.advisories.size;
  }

  /** Builds a database from advisories; used by {@link DatabaseBuilder} and by tests. */
  static fromAdvisories(
    advisories: Iterable<Advisory>,
    base: Partial<DatabaseStats> = {},
  ): MemoryDatabase {
    const builder = new DatabaseBuilder(base.source ?? 'memory');
    for (const a of advisories) builder.addAdvisory(a);
    return builder.build();
  }
}

/**
 * Collects records (valid, malformed, duplicated, withdrawn) and builds one {@link MemoryDatabase}.
 * Loaders feed it record by record, so one bad record never spoils a load.
 */
export class DatabaseBuilder {
  private readonly source: string;
  private readonly started = performance.now();
  private readonly heapBefore = process.memoryUsage().heapUsed;
  private readonly advisories = new Map<string, Advisory>();
  private malformed = 0;
  private duplicates = 0;
  private withdrawn = 0;
  private readonly errors: LoadIssue[] = [];

  constructor(source: string) {
    this.source = source;
  }

  /** Adds one parsed JSON value: a record, or an array of records. */
  addJson(value: unknown, where: string): void {
    if (Array.isArray(value)) {
      value.forEach((v, i) => this.addRecord(v, `${where}[${i}]`));
    } else {
      this.addRecord(value, where);
    }
  }

  addRecord(value: unknown, where: string): void {
    const r = parseOsvRecord(value);
    if (r.ok) this.addAdvisory(r.advisory);
    else this.addError(where, r.error);
  }

  /** Counts a record (or a file) that could not be read. */
  addError(where: string, message: string): void {
    this.malformed++;
    if (this.errors.length < maxReportedErrors) this.errors.push({ source: where, message });
  }

  addAdvisory(a: Advisory): void {
    if (a.withdrawn !== undefined && a.withdrawn !== '') {
      this.withdrawn++;
      return;
    }
    const seen = this.advisories.get(a.id);
    if (seen !== undefined) {
      this.duplicates++;
      if (seen.modified >= a.modified) return;
    }
    this.advisories.set(a.id, a);
  }

  get count(): number {
    return this.advisories.size;
  }

  get malformedCount(): number {
    return this.malformed;
  }

  build(): MemoryDatabase {
    const index = new Map<string, IndexedEntry[]>();
    const byEcosystem: Record<string, number> = {};
    let unsupportedRanges = 0;
    let newestModified: string | undefined;
    let newestMs = -Infinity;
    for (const advisory of this.advisories.values()) {
      const modifiedMs = Date.parse(advisory.modified);
      if (modifiedMs > newestMs) {
        newestMs = modifiedMs;
        newestModified = advisory.modified;
      }
      const ecosystems = new Set<string>();
      for (const affected of advisory.affected) {
        const entry = indexedEntry(advisory, affected, () => unsupportedRanges++);
        const key = packageKey(affected.ecosystem, affected.name);
        const list = index.get(key);
        if (list === undefined) index.set(key, [entry]);
        else list.push(entry);
        ecosystems.add(normalizeEcosystem(affected.ecosystem));
      }
      for (const e of ecosystems) byEcosystem[e] = (byEcosystem[e] ?? 0) + 1;
    }
    const stats: DatabaseStats = {
      source: this.source,
      records: this.advisories.size,
      withdrawn: this.withdrawn,
      malformed: this.malformed,
      duplicates: this.duplicates,
      unsupportedRanges,
      errors: this.errors,
      byEcosystem,
      newestModified,
      loadSeconds: (performance.now() - this.started) / 1000,
      heapBytes: Math.max(0, process.memoryUsage().heapUsed - this.heapBefore),
      loadedAt: new Date(),
    };
    return new MemoryDatabase(index, this.advisories, stats);
  }
}
