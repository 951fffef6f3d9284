/**
 * Which SuppressionRule, if any, suppresses a finding. Pure.
 *
 * - Every criterion that is set must match (AND across keys).
 * - Within a key, the EQUALS and PREFIX filters are alternatives (any one may match), and the
 *   NOT_EQUALS filters are exclusions (each must hold): `severity NOT_EQUALS LOW, NOT_EQUALS
 *   MEDIUM` reads "neither LOW nor MEDIUM", as people mean it.
 * - Multi-valued fields match when any value matches (a vulnerability id or any alias, any
 *   vulnerable package); an exclusion holds when no value equals it.
 * - Scope: a rule in the administrator namespace applies to every finding; a rule in another
 *   namespace only to findings in that namespace or about a resource of that namespace.
 */
import type { Finding, FindingStatus } from '../api/v1alpha1/finding.ts';
import type { FilterCriteria, SuppressionRule } from '../api/v1alpha1/suppression-rule.ts';

/** The parts of a Finding the filters read. */
export interface SuppressibleFinding {
  metadata?: { namespace?: string | undefined } | undefined;
  labels?: Record<string, string> | undefined;
  status: Pick<
    FindingStatus,
    | 'severity'
    | 'type'
    | 'vulnerabilityId'
    | 'ruleId'
    | 'aliases'
    | 'packages'
    | 'resource'
    | 'fixAvailable'
    | 'inspectorScore'
  > &
    Partial<Pick<FindingStatus, 'ruleId' | 'codeVulnerabilityDetails'>> &
    Partial<Pick<FindingStatus, 'status'>>;
}

export interface SuppressionOptions {
  /** The administrator namespace; without it every rule given is taken as in scope. */
  adminNamespace?: string;
  /** Labels of the finding's resource (CoveredResource status.resourceLabels). */
  resourceLabels?: Record<string, string> | undefined;
}

type StringFilter = { comparison: 'EQUALS' | 'PREFIX' | 'NOT_EQUALS'; value: string };

function matchesKey(
  filters: readonly StringFilter[] | undefined,
  values: readonly string[],
): boolean {
  if (filters === undefined) return true;
  const positive = filters.filter((f) => f.comparison !== 'NOT_EQUALS');
  const excluded = filters.filter((f) => f.comparison === 'NOT_EQUALS');
  if (excluded.some((f) => values.includes(f.value))) return false;
  if (positive.length === 0) return true;
  return positive.some((f) =>
    values.some((v) => (f.comparison === 'EQUALS' ? v === f.value : v.startsWith(f.value))),
  );
}

const globCache = new Map<string, RegExp>();

/**
 * A path glob as a regular expression: `**` matches across `/`, `*` and `?` within one
 * segment, everything else literally. A leading `/` is optional on both sides.
 */
export function globRegex(glob: string): RegExp {
  let re = globCache.get(glob);
  if (re !== undefined) return re;
  const g = glob.replace(/^\/+/, '');
  let out = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i]!;
    if (c === '*' && g[i + 1] === '*') {
      const slash = g[i + 2] === '/';
      out += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  re = new RegExp(`^${out}$`);
  if (globCache.size > 1000) globCache.clear();
  globCache.set(glob, re);
  return re;
}

function matchesGlobs(globs: readonly string[] | undefined, path: string | undefined): boolean {
  if (globs === undefined) return true;
  if (path === undefined) return false;
  const p = path.replace(/^\/+/, '');
  return globs.some((g) => globRegex(g).test(p));
}

/** The rule id and file path criteria (code and configuration findings). */
function matchesCode(c: FilterCriteria, s: SuppressibleFinding['status']): boolean {
  const code = s.codeVulnerabilityDetails;
  return (
    matchesKey(c.ruleId, present(s.ruleId, code?.detectorId)) &&
    matchesGlobs(c.filePathGlobs, code?.filePath?.filePath)
  );
}

function present(...values: (string | undefined)[]): string[] {
  return values.filter((v): v is string => v !== undefined && v !== '');
}

/** Whether the criteria match the finding (scope aside). */
export function matchesCriteria(
  c: FilterCriteria,
  finding: SuppressibleFinding,
  resourceLabels?: Record<string, string>,
): boolean {
  const s = finding.status;
  const r = s.resource;
  if (!matchesKey(c.severity, present(s.severity))) return false;
  if (!matchesKey(c.findingType, present(s.type))) return false;
  if (!matchesKey(c.vulnerabilityId, present(s.vulnerabilityId, s.ruleId, ...(s.aliases ?? []))))
    return false;
  if (!matchesKey(c.packageName, present(...(s.packages ?? []).map((p) => p.name)))) return false;
  if (!matchesKey(c.resourceType, present(r?.type))) return false;
  if (!matchesKey(c.resourceName, present(r?.name ?? r?.id))) return false;
  if (!matchesKey(c.resourceNamespace, present(r?.namespace))) return false;
  if (!matchesKey(c.repository, present(r?.imageRepository))) return false;
  if (!matchesKey(c.fixAvailable, present(s.fixAvailable))) return false;
  if (c.inspectorScore !== undefined) {
    const score = s.inspectorScore;
    const inRange = c.inspectorScore.some(
      (r) =>
        score !== undefined &&
        (r.lowerInclusive === undefined || score >= r.lowerInclusive) &&
        (r.upperInclusive === undefined || score <= r.upperInclusive),
    );
    if (!inRange) return false;
  }
  if (!matchesCode(c, s)) return false;
  if (c.resourceLabels !== undefined) {
    const labels = resourceLabels ?? {};
    const any = c.resourceLabels.some((f) =>
      f.value === undefined ? f.key in labels : labels[f.key] === f.value,
    );
    if (!any) return false;
  }
  return true;
}

/** Whether a rule of this namespace may suppress the finding. */
export function inScope(
  ruleNamespace: string | undefined,
  finding: SuppressibleFinding,
  adminNamespace: string | undefined,
): boolean {
  if (adminNamespace === undefined || ruleNamespace === adminNamespace) return true;
  if (ruleNamespace === undefined) return false;
  return (
    finding.metadata?.namespace === ruleNamespace ||
    finding.status.resource?.namespace === ruleNamespace
  );
}

/**
 * The rule that suppresses the finding, or undefined. When several match, the first by
 * namespace and name, so the answer does not depend on cache order. Rules being deleted
 * suppress nothing.
 */
export function suppressingRule(
  rules: readonly SuppressionRule[],
  finding: SuppressibleFinding | Finding,
  options: SuppressionOptions = {},
): SuppressionRule | undefined {
  const f = finding as SuppressibleFinding;
  if (f.status === undefined) return undefined;
  let best: SuppressionRule | undefined;
  for (const rule of rules) {
    if (rule.metadata.deletionTimestamp !== undefined) continue;
    if (!inScope(rule.metadata.namespace, f, options.adminNamespace)) continue;
    if (!matchesCriteria(rule.spec.filterCriteria, f, options.resourceLabels)) continue;
    if (best === undefined || ruleKey(rule) < ruleKey(best)) best = rule;
  }
  return best;
}

/** `namespace/name` of a rule. */
export function ruleKey(rule: SuppressionRule): string {
  return `${rule.metadata.namespace ?? ''}/${rule.metadata.name ?? ''}`;
}
