/**
 * CODE_VULNERABILITY findings from code-scanning matches: one finding per resource, rule and
 * place. A secret's place is its file (or pod template field) and its fingerprint, so the
 * finding survives the secret moving to another line; the secret itself is never an input.
 * Pure, like build.ts, whose names, labels and lifecycle these findings share.
 */
import { LABELS } from '../api/v1alpha1/common.ts';
import type { FindingStatus } from '../api/v1alpha1/finding.ts';
import { codeRule, type CodeRuleInfo } from '../code-scan/flaws.ts';
import { severityRank } from '../vulndb/scoring.ts';
import {
  findingName,
  labelValue,
  resourceStatus,
  type BuiltFinding,
  type ComputedStatus,
  type FindingResource,
} from './build.ts';

/** One match, from an image file (`path`) or from the pod template (`fieldPath`). */
export interface CodeMatchInput {
  ruleId: string;
  /** Root-relative path in the image. */
  path?: string;
  line?: number;
  endLine?: number;
  layerDigest?: string;
  /** Pod template field path. */
  fieldPath?: string;
  redacted?: string;
  fingerprint?: string;
}

type Details = NonNullable<FindingStatus['codeVulnerabilityDetails']>;

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function where(m: CodeMatchInput): string {
  if (m.path !== undefined) return `/${m.path}${m.line === undefined ? '' : `:${m.line}`}`;
  return m.fieldPath ?? 'unknown place';
}

function details(m: CodeMatchInput, rule: CodeRuleInfo): Details {
  const d: Details = {
    detectorId: m.ruleId,
    detectorName: cut(rule.title, 256),
    detectorTags: rule.language === undefined ? [rule.kind] : [rule.kind, rule.language],
    cwes: [...rule.cwes].slice(0, 10),
  };
  if (m.path !== undefined) {
    const line = m.line ?? 1;
    d.filePath = {
      fileName: cut(m.path.slice(m.path.lastIndexOf('/') + 1), 255),
      filePath: cut(`/${m.path}`, 4096),
      startLine: line,
      endLine: Math.max(line, m.endLine ?? line),
    };
  }
  if (m.fieldPath !== undefined) d.fieldPath = cut(m.fieldPath, 1024);
  if (m.layerDigest !== undefined) d.sourceLayerDigest = m.layerDigest;
  if (m.redacted !== undefined && m.fingerprint !== undefined)
    d.secret = { redacted: cut(m.redacted, 64), fingerprint: m.fingerprint };
  return d;
}

/** Builds one finding; undefined for a rule id this release does not know. */
export function buildCodeFinding(
  resource: FindingResource,
  m: CodeMatchInput,
): BuiltFinding | undefined {
  const rule = codeRule(m.ruleId);
  if (rule === undefined) return undefined;
  const place = where(m);
  const inImage = m.path !== undefined;
  const status: ComputedStatus = {
    type: 'CODE_VULNERABILITY',
    title: cut(`${rule.title} - ${m.path !== undefined ? `/${m.path}` : place}`, 1024),
    description: cut(
      rule.kind === 'code-flaw'
        ? `${rule.title} at ${place}${m.layerDigest === undefined ? '' : ` in layer ${m.layerDigest}`} (${rule.cwes.join(', ')}).`
        : `${rule.title} hardcoded at ${place}${
            inImage
              ? `${m.layerDigest === undefined ? '' : ` in layer ${m.layerDigest}`}: anyone who can pull the image can read it, even if a later layer deletes the file.`
              : ': anyone who can read the workload object can read it.'
          }`,
      4096,
    ),
    recommendation: { text: cut(rule.remediation, 1024) },
    severity: rule.severity,
    ruleId: rule.id,
    codeVulnerabilityDetails: details(m, rule),
    resource: resourceStatus(resource),
  };
  const labels: Record<string, string> = {
    [LABELS.severity]: rule.severity,
    [LABELS.type]: 'CODE_VULNERABILITY',
    [LABELS.status]: 'ACTIVE',
    [LABELS.resourceType]: resource.resourceType,
    [LABELS.vulnerabilityId]: labelValue(rule.id),
  };
  if (resource.namespace !== undefined)
    labels[LABELS.resourceNamespace] = labelValue(resource.namespace);
  // Identity: the rule, the file or field, and the secret's fingerprint or a code flaw's line
  // fingerprint (or the line for a match without one), so an edit elsewhere in the file does
  // not make a new finding.
  const at = m.path ?? m.fieldPath ?? '';
  const key = `${at}\u0000${m.fingerprint ?? String(m.line ?? '')}`;
  return { name: findingName(resource.id, rule.id, key), labels, status };
}

/** The findings of one resource, highest severity first, then by name; one per identity. */
export function buildCodeFindings(
  resource: FindingResource,
  matches: readonly CodeMatchInput[],
): BuiltFinding[] {
  const byName = new Map<string, BuiltFinding>();
  for (const m of matches) {
    const f = buildCodeFinding(resource, m);
    if (f !== undefined && !byName.has(f.name)) byName.set(f.name, f);
  }
  return [...byName.values()].sort(
    (a, b) =>
      severityRank(b.status.severity ?? 'UNTRIAGED') -
        severityRank(a.status.severity ?? 'UNTRIAGED') || (a.name < b.name ? -1 : 1),
  );
}
