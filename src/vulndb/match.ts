/**
 * Matching installed packages against the database.
 *
 * For each package: look it up under the names its ecosystem's advisories use (source package,
 * origin, ...) in its own release's ecosystem only; evaluate each entry's ranges in the
 * ecosystem's version order (OSV semantics: sorted events, `introduced` opens, `fixed` closes at
 * the fix, `last_affected` closes after it, `limit` bounds from above) or its explicit
 * `versions` list; then collapse advisories that name each other (ids and aliases) into one
 * finding per package carrying all ids.
 */
import {
  prefetchKey,
  type CompiledRange,
  type IndexedEntry,
  type VulnDatabase,
} from './database.ts';
import { advisoryNames, type InstalledPackage } from './ecosystem.ts';
import type { Enrichment } from './enrichment.ts';
import type { Advisory } from './osv.ts';
import { appliesToPlatform } from './platform.ts';
import {
  assess,
  severityRank,
  type Assessment,
  type CvssScore,
  type SeverityLevel,
} from './scoring.ts';
import {
  baseEcosystem,
  normalizeGoVersion,
  semverOrder,
  versionOrderFor,
  type VersionOrder,
} from './version/index.ts';

export type FixAvailable = 'YES' | 'NO' | 'PARTIAL';

export interface PackageFinding {
  /** The finding's vulnerability id: a CVE when one is known, else the first record id. */
  id: string;
  /** Every other id of the collapsed advisories (record ids and their aliases), sorted. */
  aliases: string[];
  /** Ids of the OSV records that matched. */
  records: string[];
  package: InstalledPackage;
  installedVersion: string;
  /** The smallest fixed version above the installed one, when any advisory names one. */
  fixedVersion: string | undefined;
  /** YES: every matching advisory has a fix above the installed version; NO: none; PARTIAL: some. */
  fixAvailable: FixAvailable;
  severity: SeverityLevel;
  /** The vector the severity comes from. */
  cvss: CvssScore | undefined;
  /** Every valid vector of the matching advisories. */
  scores: CvssScore[];
  /** Vectors that failed validation (reported, not scored). */
  invalidVectors: { id: string; vector: string; error: string }[];
  summary: string;
  references: string[];
  /** EPSS probability (0..1), when an EPSS file was given and knows one of the CVEs. */
  epss: number | undefined;
  /** YES when one of the CVEs is in the known-exploited list. */
  exploitAvailable: 'YES' | 'NO';
}

interface EntryMatch {
  entry: IndexedEntry;
  /** The entry's advisory, read once (an on-disk database reads it from the file). */
  advisory: Advisory;
  /** Fixed versions above the installed version, from the ranges that matched. */
  fixes: string[];
}

function installedFor(base: string, version: string): string {
  return base === 'Go' ? normalizeGoVersion(version) : version.trim();
}

/** What {@link evaluateRange} returns for a version outside the range (shared, never changed). */
const notAffected: { affected: boolean; fixes: string[] } = Object.freeze({
  affected: false,
  fixes: Object.freeze([]) as unknown as string[],
});

/** Evaluates one compiled range: affected or not, and the fixes above `v` in that range. */
export function evaluateRange(
  range: CompiledRange,
  v: string,
): { affected: boolean; fixes: string[] } {
  const { order } = range;
  if (!order.valid(v)) return notAffected;
  let affected = false;
  for (const e of range.events) {
    if (e.kind === 'introduced') {
      if (e.version === '0' || order.compare(v, e.version) >= 0) affected = true;
    } else if (e.kind === 'fixed') {
      if (order.compare(v, e.version) >= 0) affected = false;
    } else if (e.kind === 'last_affected') {
      if (order.compare(v, e.version) > 0) affected = false;
    }
  }
  if (affected && range.limits.length > 0 && !range.limits.some((l) => order.compare(v, l) < 0)) {
    affected = false;
  }
  if (!affected) return notAffected;
  const fixes = range.events
    .filter((e) => e.kind === 'fixed' && order.compare(e.version, v) > 0)
    .map((e) => e.version);
  return { affected, fixes };
}

/** Whether `v` sorts outside the bounds of the entry's `versions` list (so equals none of it). */
function outsideBounds(entry: IndexedEntry, v: string): boolean {
  const { versionBounds: b, order } = entry;
  if (b === undefined || order === undefined || !order.valid(v)) return false;
  return order.compare(v, b[0]) < 0 || order.compare(v, b[1]) > 0;
}

function matchEntry(entry: IndexedEntry, v: string): { fixes: string[] } | undefined {
  let matched = false;
  const fixes: string[] = [];
  for (const range of entry.ranges) {
    const r = evaluateRange(range, v);
    if (r.affected) {
      matched = true;
      fixes.push(...r.fixes);
    }
  }
  if (!matched && !outsideBounds(entry, v) && entry.versions.length > 0) {
    const order = entry.order;
    matched = entry.versions.some((x) =>
      order !== undefined && order.valid(x) && order.valid(v) ? order.compare(x, v) === 0 : x === v,
    );
  }
  return matched ? { fixes } : undefined;
}

/** Groups matches whose advisories share an id or alias (union-find over ids). */
function collapse(matches: EntryMatch[]): EntryMatch[][] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r) ?? r;
    parent.set(x, r);
    return r;
  };
  const union = (a: string, b: string): void => {
    if (!parent.has(a)) parent.set(a, a);
    if (!parent.has(b)) parent.set(b, b);
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
  };
  for (const m of matches) {
    const { id, aliases, upstream } = m.advisory;
    union(id, id);
    for (const alias of aliases) union(id, alias);
    // A record derived from exactly one upstream id is that vulnerability seen by a
    // distribution; one derived from several (a DSA fixing five CVEs) joins none of them.
    if (upstream.length === 1) union(id, upstream[0]!);
  }
  const groups = new Map<string, EntryMatch[]>();
  for (const m of matches) {
    const root = find(m.advisory.id);
    const g = groups.get(root);
    if (g === undefined) groups.set(root, [m]);
    else g.push(m);
  }
  return [...groups.values()];
}

function primaryId(recordIds: string[], allIds: string[]): string {
  const cve = (ids: string[]): string | undefined =>
    ids.filter((i) => i.startsWith('CVE-')).sort()[0];
  return cve(recordIds) ?? cve(allIds) ?? [...recordIds].sort()[0]!;
}

function smallest(order: VersionOrder, versions: string[]): string | undefined {
  let best: string | undefined;
  for (const v of versions) if (best === undefined || order.compare(v, best) < 0) best = v;
  return best;
}

function strongest(assessments: Assessment[]): Assessment | undefined {
  let best: Assessment | undefined;
  for (const a of assessments) {
    if (best === undefined) {
      best = a;
      continue;
    }
    const d = severityRank(a.severity) - severityRank(best.severity);
    if (d > 0 || (d === 0 && (a.cvss?.baseScore ?? -1) > (best.cvss?.baseScore ?? -1))) best = a;
  }
  return best;
}

/** Scoring is per advisory entry, not per package: computed once, kept on the entry. */
function assessed(m: EntryMatch): Assessment {
  return (m.entry.assessment ??= assess(m.advisory, m.entry.affected));
}

function toFinding(
  pkg: InstalledPackage,
  group: EntryMatch[],
  order: VersionOrder,
  enrichment: Enrichment | undefined,
): PackageFinding {
  const sorted = [...group].sort((a, b) => (a.advisory.id < b.advisory.id ? -1 : 1));
  const records = [...new Set(sorted.map((m) => m.advisory.id))];
  const allIds = [
    ...new Set(
      sorted.flatMap((m) => {
        const a = m.advisory;
        return [a.id, ...a.aliases, ...(a.upstream.length === 1 ? a.upstream : [])];
      }),
    ),
  ];
  const id = primaryId(records, allIds);
  const withFix = sorted.filter((m) => m.fixes.length > 0).length;
  const fixAvailable: FixAvailable =
    withFix === 0 ? 'NO' : withFix === sorted.length ? 'YES' : 'PARTIAL';
  const assessments = sorted.map((m) => ({ id: m.advisory.id, a: assessed(m) }));
  const best = strongest(assessments.map((x) => x.a));
  const scores = new Map<string, CvssScore>();
  for (const { a } of assessments) for (const s of a.scores) scores.set(s.vector, s);
  const first = sorted.find((m) => m.advisory.summary !== '')?.advisory ?? sorted[0]!.advisory;
  const enriched = enrichment?.lookup(allIds);
  return {
    id,
    aliases: allIds.filter((x) => x !== id).sort(),
    records,
    package: pkg,
    installedVersion: pkg.version,
    fixedVersion: smallest(
      order,
      sorted.flatMap((m) => m.fixes),
    ),
    fixAvailable,
    severity: best?.severity ?? 'UNTRIAGED',
    cvss: best?.cvss,
    scores: [...scores.values()],
    invalidVectors: assessments.flatMap(({ id: rid, a }) =>
      a.invalidVectors.map((iv) => ({ id: rid, ...iv })),
    ),
    summary: first.summary !== '' ? first.summary : (first.details.split('\n')[0] ?? ''),
    references: [...new Set(sorted.flatMap((m) => m.advisory.references))].slice(0, 20),
    epss: enriched?.epss,
    exploitAvailable: enriched?.knownExploited === true ? 'YES' : 'NO',
  };
}

/** The entries filed under (ecosystem, name), for a package whose version matching reads as `v`. */
type Lookup = (ecosystem: string, name: string, v: string) => readonly IndexedEntry[];

/** The entries of a package's advisories that affect its installed version (no advisory read). */
function affectingEntries(
  lookup: Lookup,
  pkg: InstalledPackage,
): { entry: IndexedEntry; fixes: string[] }[] {
  const v = installedFor(baseEcosystem(pkg.ecosystem), pkg.version);
  const seen = new Set<IndexedEntry>();
  const matches: { entry: IndexedEntry; fixes: string[] }[] = [];
  for (const name of advisoryNames(pkg)) {
    for (const entry of lookup(pkg.ecosystem, name, v)) {
      if (seen.has(entry)) continue;
      seen.add(entry);
      const m = matchEntry(entry, v);
      if (m !== undefined && appliesToPlatform(entry.affected, pkg)) {
        matches.push({ entry, fixes: m.fixes });
      }
    }
  }
  return matches;
}

/** The findings of a package from its affecting entries, one per collapsed vulnerability. */
function findingsOf(
  pkg: InstalledPackage,
  affecting: { entry: IndexedEntry; fixes: string[] }[],
  enrichment: Enrichment | undefined,
  advisories?: ReadonlyMap<IndexedEntry, Advisory>,
): PackageFinding[] {
  if (affecting.length === 0) return [];
  const matches = affecting.map((m) => ({
    ...m,
    advisory: advisories?.get(m.entry) ?? m.entry.advisory,
  }));
  const order = versionOrderFor(pkg.ecosystem) ?? semverOrder;
  return collapse(matches).map((g) => toFinding(pkg, g, order, enrichment));
}

/** All findings for one installed package, one per collapsed vulnerability. */
export function matchPackage(
  db: VulnDatabase,
  pkg: InstalledPackage,
  enrichment?: Enrichment,
): PackageFinding[] {
  return findingsOf(
    pkg,
    affectingEntries((e, n) => db.lookup(e, n), pkg),
    enrichment,
  );
}

export interface MatchSummary {
  findings: PackageFinding[];
  packages: number;
  /** Packages whose ecosystem has no version order (only `versions` lists could match them). */
  unsupportedEcosystem: number;
  /** Packages whose installed version their ecosystem's order cannot read (ranges not evaluated). */
  unreadableVersions: { name: string; ecosystem: string; version: string }[];
}

/**
 * Packages matched together: the on-disk database reads their entries (some thousands), then
 * the advisories of the entries that matched, in a few batched queries; what is read for one
 * chunk is garbage once its findings are built.
 */
const PREFETCH_CHUNK = 500;

/** Matches many packages; findings sorted by severity (highest first), then id and package. */
export function matchPackages(
  db: VulnDatabase,
  packages: Iterable<InstalledPackage>,
  enrichment?: Enrichment,
): MatchSummary {
  const findings: PackageFinding[] = [];
  let count = 0;
  let unsupportedEcosystem = 0;
  const unreadableVersions: MatchSummary['unreadableVersions'] = [];
  const list = [...packages];
  for (let i = 0; i < list.length; i += PREFETCH_CHUNK) {
    const chunk = list.slice(i, i + PREFETCH_CHUNK);
    const found = db.prefetch?.(
      chunk.flatMap((p) => {
        const v = installedFor(baseEcosystem(p.ecosystem), p.version);
        return advisoryNames(p).map((n) => [p.ecosystem, n, v] as const);
      }),
    );
    const lookup: Lookup = (e, n, v) => found?.get(prefetchKey(e, n, v)) ?? db.lookup(e, n);
    const affecting = chunk.map((pkg) => affectingEntries(lookup, pkg));
    const advisories = db.prefetchAdvisories?.(affecting.flatMap((l) => l.map((m) => m.entry)));
    chunk.forEach((pkg, k) => {
      count++;
      const order = versionOrderFor(pkg.ecosystem);
      if (order === undefined) unsupportedEcosystem++;
      else if (!order.valid(installedFor(baseEcosystem(pkg.ecosystem), pkg.version))) {
        unreadableVersions.push({ name: pkg.name, ecosystem: pkg.ecosystem, version: pkg.version });
      }
      findings.push(...findingsOf(pkg, affecting[k]!, enrichment, advisories));
    });
  }
  return {
    findings: bySeverity(findings),
    packages: count,
    unsupportedEcosystem,
    unreadableVersions,
  };
}

/**
 * Findings sorted by severity (highest first), then id and package name: one sort per
 * severity, so the comparison of tens of thousands of findings does not rank severities.
 */
function bySeverity(findings: PackageFinding[]): PackageFinding[] {
  const levels: PackageFinding[][] = [];
  for (const f of findings) (levels[severityRank(f.severity) + 1] ??= []).push(f);
  const sorted: PackageFinding[] = [];
  for (let i = levels.length - 1; i >= 0; i--) {
    const level = levels[i];
    if (level === undefined) continue;
    level.sort(
      (a, b) =>
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) ||
        (a.package.name < b.package.name ? -1 : a.package.name > b.package.name ? 1 : 0),
    );
    for (const f of level) sorted.push(f);
  }
  return sorted;
}
