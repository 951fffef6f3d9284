/**
 * From matches to Finding objects, and how a Finding's status moves between evaluations.
 * Pure: no Kubernetes calls, no clock of its own. The continuous findings controller and the
 * assessment runs both build their findings here.
 *
 * - One Finding per resource, vulnerability and *advisory package* (the source package of
 *   Debian/Ubuntu/Alpine binaries, the package itself elsewhere): `libssl3` and `openssl` of one
 *   image are one finding for a CVE of `openssl`, listing both binaries, as Inspector lists
 *   every vulnerable package of a vulnerability on a resource.
 * - Names are deterministic ({@link findingName}), so a re-evaluation updates in place.
 * - {@link mergeFinding} keeps `firstObservedAt`, moves `lastObservedAt`, moves `updatedAt`
 *   only when something else changed, closes what is no longer seen and reopens a CLOSED one
 *   that reappears within the reopen window.
 */
import { createHash } from 'node:crypto';
import { LABELS, type ResourceType, type Severity } from '../api/v1alpha1/common.ts';
import type { Finding, FindingStatus } from '../api/v1alpha1/finding.ts';
import { advisoryNames, normalizeEcosystem } from '../vulndb/ecosystem.ts';
import type { FixAvailable, PackageFinding } from '../vulndb/match.ts';
import { severityRank } from '../vulndb/scoring.ts';
import { toApiTime } from '../util/time.ts';

/** The resource a finding is about, as the Finding's status.resource records it. */
export interface FindingResource {
  resourceType: ResourceType;
  /** As CoveredResource status.resourceId: node name, `ns/Kind/name`, `registry/repo@digest`. */
  id: string;
  kind?: string;
  namespace?: string;
  name?: string;
  imageRepository?: string;
  imageDigest?: string;
  imageTags?: string[];
  platform?: string;
}

/** Where a matched package was found. */
export interface PackageLocation {
  filePath?: string;
  layerDigest?: string;
}

export type FindingStatusValue = NonNullable<FindingStatus['status']>;

/** What an evaluation computes for one finding: everything but its lifecycle fields. */
export type ComputedStatus = Omit<
  FindingStatus,
  | 'firstObservedAt'
  | 'lastObservedAt'
  | 'updatedAt'
  | 'status'
  | 'conditions'
  | 'observedGeneration'
>;

export interface BuiltFinding {
  /** Deterministic object name. */
  name: string;
  /** Selection labels; the status label says ACTIVE until {@link withStatusLabel} sets it. */
  labels: Record<string, string>;
  status: ComputedStatus;
}

// ---------------------------------------------------------------- names and labels

const MAX_NAME = 253;

function hash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

function slug(text: string, max: number): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/, '');
}

/**
 * The Finding's object name: a readable prefix (vulnerability id and package) and a hash of the
 * exact identity, so distinct resources, vulnerabilities and packages never share a name and
 * the same ones always do. At most 253 characters, a valid DNS subdomain.
 */
export function findingName(
  resourceId: string,
  vulnerabilityId: string,
  packageKey: string,
): string {
  const digest = hash(`${resourceId}\u0000${vulnerabilityId}\u0000${packageKey}`, 16);
  const pkg = packageKey.slice(packageKey.lastIndexOf('/') + 1);
  const readable = [slug(vulnerabilityId, 80), slug(pkg, 80)].filter((p) => p !== '').join('-');
  const name = readable === '' ? digest : `${readable}-${digest}`;
  return name.slice(0, MAX_NAME);
}

/** A label value from any text: invalid characters become `_`, at most 63 characters. */
export function labelValue(text: string): string {
  return text
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/** The labels with the status label set. */
export function withStatusLabel(
  labels: Record<string, string>,
  status: FindingStatusValue,
): Record<string, string> {
  return { ...labels, [LABELS.status]: status };
}

/**
 * The key that groups matched packages into one finding: the normalised ecosystem and the name
 * advisories file the package under (source package, origin or the package itself).
 */
export function packageKey(match: PackageFinding): string {
  const name = advisoryNames(match.package)[0] ?? match.package.name;
  return `${normalizeEcosystem(match.package.ecosystem)}/${name}`;
}

// ---------------------------------------------------------------- status fields

const PACKAGE_MANAGERS: Readonly<Record<string, string>> = {
  Debian: 'OS',
  Ubuntu: 'OS',
  Alpine: 'OS',
  'Red Hat': 'OS',
  AlmaLinux: 'OS',
  'Rocky Linux': 'OS',
  Wolfi: 'OS',
  Chainguard: 'OS',
  npm: 'NPM',
  PyPI: 'PIP',
  Go: 'GOBINARY',
  Maven: 'JAR',
  'crates.io': 'CARGO',
};

function baseOf(ecosystem: string): string {
  const i = ecosystem.indexOf(':');
  return i < 0 ? ecosystem : ecosystem.slice(0, i);
}

/** Record id prefixes and the source Inspector would name. */
const SOURCES: readonly [RegExp, string][] = [
  [/^DEBIAN-|^DSA-|^DLA-|^DTSA-/, 'DEBIAN_CVE'],
  [/^UBUNTU-|^USN-/, 'UBUNTU_CVE'],
  [/^ALPINE-/, 'ALPINE_SECDB'],
  [/^RHSA-|^RHBA-|^RHEA-/, 'REDHAT_CVE'],
  [/^ALSA-|^ALBA-|^ALEA-/, 'ALMALINUX'],
  [/^RLSA-|^RXSA-/, 'ROCKY_LINUX'],
  [/^GHSA-/, 'GITHUB'],
  [/^PYSEC-/, 'PYPA'],
  [/^GO-/, 'GO_VULNDB'],
  [/^RUSTSEC-/, 'RUSTSEC'],
  [/^CVE-/, 'NVD'],
];

function sourceOf(recordId: string): string {
  for (const [re, name] of SOURCES) if (re.test(recordId)) return name;
  const prefix = /^([A-Za-z]+)-/.exec(recordId)?.[1];
  return (prefix ?? 'OSV').toUpperCase().slice(0, 64);
}

const cut = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max - 1)}…`;

const URL_RE = /^https?:\/\/\S+$/;

function remediation(ecosystem: string, name: string, fixed: string | undefined): string {
  if (fixed === undefined) return 'No fixed version is known yet.';
  switch (baseOf(ecosystem)) {
    case 'Debian':
    case 'Ubuntu':
      return cut(`apt-get install --only-upgrade ${name}`, 1024);
    case 'Alpine':
    case 'Wolfi':
    case 'Chainguard':
      return cut(`apk upgrade ${name}`, 1024);
    case 'Red Hat':
    case 'AlmaLinux':
    case 'Rocky Linux':
      return cut(`dnf update ${name}`, 1024);
    default:
      return cut(`Upgrade ${name} to ${fixed} or later.`, 1024);
  }
}

function combineFix(values: FixAvailable[]): FixAvailable {
  if (values.every((v) => v === 'YES')) return 'YES';
  if (values.every((v) => v === 'NO')) return 'NO';
  return 'PARTIAL';
}

type VulnerablePackage = NonNullable<FindingStatus['packages']>[number];

function vulnerablePackage(match: PackageFinding, location: PackageLocation): VulnerablePackage {
  const p = match.package;
  const out: VulnerablePackage = {
    name: cut(p.name, 1024),
    version: cut(match.installedVersion, 1024),
    ecosystem: cut(p.ecosystem, 64),
  };
  if (match.fixedVersion !== undefined) out.fixedInVersion = cut(match.fixedVersion, 1024);
  const manager = PACKAGE_MANAGERS[baseOf(p.ecosystem)];
  if (manager !== undefined) out.packageManager = manager;
  if (p.purl !== undefined && p.purl.length <= 2048) out.purl = p.purl;
  if (location.filePath !== undefined && manager !== 'OS')
    out.filePath = cut(location.filePath, 1024);
  if (location.layerDigest !== undefined && /^[a-z0-9]+:[a-f0-9]+$/.test(location.layerDigest))
    out.sourceLayerHash = location.layerDigest.slice(0, 135);
  out.remediation = remediation(p.ecosystem, p.name, match.fixedVersion);
  return out;
}

export function resourceStatus(r: FindingResource): NonNullable<FindingStatus['resource']> {
  return {
    type: r.resourceType,
    id: cut(r.id, 1024),
    ...(r.kind !== undefined ? { kind: r.kind } : {}),
    ...(r.namespace !== undefined ? { namespace: r.namespace } : {}),
    ...(r.name !== undefined ? { name: r.name } : {}),
    ...(r.imageRepository !== undefined ? { imageRepository: r.imageRepository } : {}),
    ...(r.imageDigest !== undefined ? { imageDigest: r.imageDigest } : {}),
    ...(r.imageTags !== undefined && r.imageTags.length > 0
      ? { imageTags: r.imageTags.slice(0, 16) }
      : {}),
    ...(r.platform !== undefined ? { platform: r.platform } : {}),
  };
}

function title(id: string, names: string[]): string {
  const shown = names.slice(0, 3).join(', ');
  const more = names.length > 3 ? ` and ${names.length - 3} more` : '';
  return cut(`${id} - ${shown}${more}`, 1024);
}

/** Builds one finding from the matches of one vulnerability and one advisory package. */
// eslint-disable-next-line max-lines-per-function -- one object literal: every status field of a package finding
function buildGroup(
  resource: FindingResource,
  key: string,
  group: { match: PackageFinding; location: PackageLocation }[],
): BuiltFinding {
  const sorted = [...group].sort(
    (a, b) =>
      cmp(a.match.package.name, b.match.package.name) ||
      cmp(a.location.filePath ?? '', b.location.filePath ?? ''),
  );
  const first = sorted[0]!.match;
  const strongest = sorted.reduce((best, g) => {
    const d = severityRank(g.match.severity) - severityRank(best.severity);
    return d > 0 || (d === 0 && (g.match.cvss?.baseScore ?? -1) > (best.cvss?.baseScore ?? -1))
      ? g.match
      : best;
  }, first);
  const severity: Severity = strongest.severity;
  const id = first.id;
  const aliases = [...new Set(sorted.flatMap((g) => g.match.aliases))].sort();
  const records = [...new Set(sorted.flatMap((g) => g.match.records))].sort();
  const scores = new Map<
    string,
    { version: '2.0' | '3.0' | '3.1' | '4.0'; vector: string; baseScore: number }
  >();
  for (const g of sorted) for (const s of g.match.scores) scores.set(s.vector, s);
  const source = sourceOf(records[0] ?? id);
  const cvss = [...scores.values()]
    .sort((a, b) => b.baseScore - a.baseScore || cmp(a.vector, b.vector))
    .slice(0, 8)
    .map((s) => ({
      version: s.version,
      scoringVector: cut(s.vector, 256),
      baseScore: s.baseScore,
      source,
    }));
  const packages = sorted.slice(0, 64).map((g) => vulnerablePackage(g.match, g.location));
  const names = [...new Set(packages.map((p) => p.name))];
  const references = [...new Set(sorted.flatMap((g) => g.match.references))]
    .filter((u) => u.length <= 2048 && URL_RE.test(u))
    .slice(0, 32);
  const fixed = packages.filter((p) => p.fixedInVersion !== undefined);
  const epss = sorted.find((g) => g.match.epss !== undefined)?.match.epss;
  const status: ComputedStatus = {
    type: 'PACKAGE_VULNERABILITY',
    title: title(id, names),
    severity,
    vulnerabilityId: cut(id, 128),
    vulnerabilitySource: source,
    fixAvailable: combineFix(sorted.map((g) => g.match.fixAvailable)),
    exploitAvailable: sorted.some((g) => g.match.exploitAvailable === 'YES') ? 'YES' : 'NO',
    packages,
    resource: resourceStatus(resource),
    rulesPackage: 'cve',
  };
  const description = sorted.find((g) => g.match.summary !== '')?.match.summary;
  if (description !== undefined) status.description = cut(description, 4096);
  const recommendation = {
    text:
      fixed.length === 0
        ? 'No fixed version is known yet; watch the advisory.'
        : cut(
            `Upgrade ${fixed.map((p) => `${p.name} to ${p.fixedInVersion}`).join(', ')} or later.`,
            1024,
          ),
    ...(references[0] !== undefined ? { url: references[0] } : {}),
  };
  status.recommendation = recommendation;
  if (aliases.length > 0) status.aliases = aliases.slice(0, 32).map((a) => cut(a, 128));
  if (cvss.length > 0) {
    status.cvss = cvss;
    const best = strongest.cvss ?? [...scores.values()][0];
    if (best !== undefined) status.inspectorScore = best.baseScore;
  }
  if (epss !== undefined) status.epss = { score: epss };
  if (references.length > 0) status.referenceUrls = references;

  const labels: Record<string, string> = {
    [LABELS.severity]: severity,
    [LABELS.type]: 'PACKAGE_VULNERABILITY',
    [LABELS.status]: 'ACTIVE',
    [LABELS.resourceType]: resource.resourceType,
    [LABELS.vulnerabilityId]: labelValue(id),
  };
  if (resource.namespace !== undefined)
    labels[LABELS.resourceNamespace] = labelValue(resource.namespace);
  return { name: findingName(resource.id, id, key), labels, status };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Builds the findings of one resource from its matches: one per vulnerability and advisory
 * package, sorted by severity (highest first), then name.
 */
export function buildPackageFindings(
  resource: FindingResource,
  matches: readonly { match: PackageFinding; location?: PackageLocation }[],
): BuiltFinding[] {
  const groups = new Map<
    string,
    { key: string; items: { match: PackageFinding; location: PackageLocation }[] }
  >();
  for (const m of matches) {
    const key = packageKey(m.match);
    const id = `${m.match.id}\u0000${key}`;
    let g = groups.get(id);
    if (g === undefined) groups.set(id, (g = { key, items: [] }));
    g.items.push({ match: m.match, location: m.location ?? {} });
  }
  const built = [...groups.values()].map((g) => buildGroup(resource, g.key, g.items));
  return built.sort(
    (a, b) =>
      severityRank(b.status.severity ?? 'UNTRIAGED') -
        severityRank(a.status.severity ?? 'UNTRIAGED') || cmp(a.name, b.name),
  );
}

/** Builds the finding of one matched package. */
export function buildPackageFinding(
  resource: FindingResource,
  match: PackageFinding,
  location: PackageLocation,
): BuiltFinding {
  return buildPackageFindings(resource, [{ match, location }])[0]!;
}

// ---------------------------------------------------------------- lifecycle

const DAY_MS = 86_400_000;
export const DEFAULT_REOPEN_WINDOW_DAYS = 7;

export interface MergeOptions {
  /** Name of the SuppressionRule that matches the finding, if any: the status is SUPPRESSED. */
  suppressedBy?: string | undefined;
  /** A CLOSED finding seen again within this many days is reopened (default 7). */
  reopenWindowDays?: number;
}

/** Deep equality of JSON values, ignoring key order. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => sameJson(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => sameJson(ao[k], bo[k]));
}

const LIFECYCLE_KEYS = new Set([
  'firstObservedAt',
  'lastObservedAt',
  'updatedAt',
  'status',
  'conditions',
  'observedGeneration',
]);

/** The computed part of a stored status (everything but the lifecycle fields). */
export function computedPart(status: FindingStatus | undefined): ComputedStatus {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(status ?? {})) if (!LIFECYCLE_KEYS.has(k)) out[k] = v;
  return out;
}

/**
 * The status a finding should have after an evaluation.
 *
 * - `computed` present (the evaluation sees it): a new finding starts ACTIVE (or SUPPRESSED)
 *   with `firstObservedAt` = `lastObservedAt` = `updatedAt` = now; an existing one keeps
 *   `firstObservedAt` and moves `lastObservedAt` to now; a CLOSED one is reopened when it was
 *   closed within the reopen window (same `firstObservedAt`), else it starts over;
 * - `computed` undefined (the evaluation no longer sees it): the finding is CLOSED, keeping
 *   everything else; an already CLOSED one is left as it is.
 *
 * `updatedAt` moves only when the computed fields or the status change.
 */
export function mergeFinding(
  existing: Finding | undefined,
  computed: ComputedStatus | undefined,
  now: Date,
  opts: MergeOptions = {},
): FindingStatus {
  const at = toApiTime(now);
  const prev = existing?.status;
  if (computed === undefined) {
    if (prev === undefined) throw new Error('mergeFinding: nothing to close');
    if (prev.status === 'CLOSED') return prev;
    return { ...lifecycleFree(prev), ...lifecycle(prev), status: 'CLOSED', updatedAt: at };
  }
  const status: FindingStatusValue = opts.suppressedBy !== undefined ? 'SUPPRESSED' : 'ACTIVE';
  const windowMs = (opts.reopenWindowDays ?? DEFAULT_REOPEN_WINDOW_DAYS) * DAY_MS;
  const closedAt = prev?.status === 'CLOSED' ? Date.parse(prev.updatedAt ?? '') : undefined;
  const startsOver =
    prev === undefined ||
    prev.firstObservedAt === undefined ||
    (closedAt !== undefined && !(now.getTime() - closedAt <= windowMs));
  if (startsOver) {
    return { ...computed, status, firstObservedAt: at, lastObservedAt: at, updatedAt: at };
  }
  const changed = prev.status !== status || !sameJson(computedPart(prev), computed);
  return {
    ...computed,
    status,
    firstObservedAt: prev.firstObservedAt!,
    lastObservedAt: at,
    updatedAt: changed ? at : (prev.updatedAt ?? at),
  };
}

function lifecycleFree(s: FindingStatus): ComputedStatus {
  return computedPart(s);
}

function lifecycle(s: FindingStatus): Partial<FindingStatus> {
  return {
    ...(s.firstObservedAt !== undefined ? { firstObservedAt: s.firstObservedAt } : {}),
    ...(s.lastObservedAt !== undefined ? { lastObservedAt: s.lastObservedAt } : {}),
  };
}

/**
 * The status with only its SUPPRESSED/ACTIVE state changed (a suppression rule changed, not
 * the finding): `updatedAt` moves, `lastObservedAt` does not. CLOSED findings stay CLOSED.
 */
export function resuppress(
  status: FindingStatus,
  suppressedBy: string | undefined,
  now: Date,
): FindingStatus {
  if (status.status === 'CLOSED' || status.status === undefined) return status;
  const next: FindingStatusValue = suppressedBy !== undefined ? 'SUPPRESSED' : 'ACTIVE';
  if (next === status.status) return status;
  return { ...status, status: next, updatedAt: toApiTime(now) };
}

/** When a CLOSED finding is deleted: `updatedAt` (when it closed) plus the retention. */
export function deleteAt(status: FindingStatus, retentionDays: number): Date | undefined {
  if (status.status !== 'CLOSED') return undefined;
  const closed = Date.parse(status.updatedAt ?? '');
  if (Number.isNaN(closed)) return undefined;
  return new Date(closed + retentionDays * DAY_MS);
}

/** Finding counts by severity, as CoveredResource and AssessmentRun status carry them. */
export function countBySeverity(severities: Iterable<Severity | undefined>): {
  critical: number;
  high: number;
  medium: number;
  low: number;
  informational: number;
  untriaged: number;
  total: number;
} {
  const c = { critical: 0, high: 0, medium: 0, low: 0, informational: 0, untriaged: 0, total: 0 };
  for (const s of severities) {
    c.total++;
    switch (s) {
      case 'CRITICAL':
        c.critical++;
        break;
      case 'HIGH':
        c.high++;
        break;
      case 'MEDIUM':
        c.medium++;
        break;
      case 'LOW':
        c.low++;
        break;
      case 'INFORMATIONAL':
        c.informational++;
        break;
      default:
        c.untriaged++;
    }
  }
  return c;
}
