/**
 * Rules packages beyond `cve`: each one is a {@link FindingProducer}, a pure function from the
 * facts it reads (workloads, services, node files...) to the findings it computes. Producers
 * never write: the continuous findings controller and the assessment runs persist what they
 * return through the same path as package vulnerabilities (lifecycle, suppression, attributes,
 * export, metrics), because what they return is the same {@link BuiltFinding}.
 *
 * A violation becomes a finding with {@link buildRuleFinding}: a deterministic name from the
 * resource, the rule and the violation's identity (so a re-evaluation updates in place and a
 * fixed violation closes), the same selection labels as every finding, and the rule's details.
 */
import {
  LABELS,
  type FindingType,
  type RulesPackage,
  type Severity,
} from '../api/v1alpha1/common.ts';
import type { FindingStatus } from '../api/v1alpha1/finding.ts';
import {
  findingName,
  labelValue,
  type BuiltFinding,
  type ComputedStatus,
  type FindingResource,
} from '../findings/build.ts';
import { severityRank } from '../vulndb/scoring.ts';

/** A resource a producer could not evaluate, and why (a run reports it, then ends with errors). */
export interface NotEvaluated {
  /** Node name, `namespace/Kind/name` of a workload, image reference. */
  id: string;
  reason: string;
}

/** What a producer returns for one evaluation. */
export interface ProducedFindings {
  findings: BuiltFinding[];
  notEvaluated: NotEvaluated[];
}

/** One rules package: facts in, findings out; no I/O, no clock. */
export interface FindingProducer<Facts> {
  readonly rulesPackage: RulesPackage;
  readonly findingType: FindingType;
  produce(facts: Facts): ProducedFindings;
}

export type RuleDetails = NonNullable<FindingStatus['ruleDetails']>;

/** One broken rule on one resource. */
export interface RuleViolation {
  /** Stable id of the rule, for example PSS-BASELINE-PRIVILEGED. */
  ruleId: string;
  /** Distinguishes several findings of one rule on one resource (a port, a path); '' if one. */
  identity: string;
  title: string;
  description: string;
  severity: Severity;
  recommendation: { text: string; url?: string };
  details: RuleDetails;
  /** Type-specific fields (networkReachabilityDetails, inspectorScore...). */
  extra?: Partial<ComputedStatus>;
}

const cut = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max - 1)}…`;

function resourceStatus(r: FindingResource): NonNullable<FindingStatus['resource']> {
  return {
    type: r.resourceType,
    id: cut(r.id, 1024),
    ...(r.kind !== undefined ? { kind: r.kind } : {}),
    ...(r.namespace !== undefined ? { namespace: r.namespace } : {}),
    ...(r.name !== undefined ? { name: r.name } : {}),
    ...(r.imageRepository !== undefined ? { imageRepository: r.imageRepository } : {}),
    ...(r.imageDigest !== undefined ? { imageDigest: r.imageDigest } : {}),
    ...(r.platform !== undefined ? { platform: r.platform } : {}),
  };
}

function boundedDetails(d: RuleDetails): RuleDetails {
  const out: RuleDetails = { ...d };
  if (d.fieldPaths !== undefined)
    out.fieldPaths = d.fieldPaths.slice(0, 32).map((p) => cut(p, 512));
  if (d.found !== undefined) out.found = cut(d.found, 1024);
  return out;
}

/** The finding of one violation, as every finding is built: name, labels, computed status. */
export function buildRuleFinding(
  producer: { rulesPackage: RulesPackage; findingType: FindingType },
  resource: FindingResource,
  v: RuleViolation,
): BuiltFinding {
  const status: ComputedStatus = {
    type: producer.findingType,
    title: cut(v.title, 1024),
    description: cut(v.description, 4096),
    severity: v.severity,
    recommendation: {
      text: cut(v.recommendation.text, 1024),
      ...(v.recommendation.url !== undefined ? { url: v.recommendation.url } : {}),
    },
    resource: resourceStatus(resource),
    rulesPackage: producer.rulesPackage,
    ruleId: cut(v.ruleId, 128),
    ruleDetails: boundedDetails(v.details),
    ...(v.extra ?? {}),
  };
  const labels: Record<string, string> = {
    [LABELS.severity]: v.severity,
    [LABELS.type]: producer.findingType,
    [LABELS.status]: 'ACTIVE',
    [LABELS.resourceType]: resource.resourceType,
    [LABELS.vulnerabilityId]: labelValue(v.ruleId),
  };
  if (resource.namespace !== undefined)
    labels[LABELS.resourceNamespace] = labelValue(resource.namespace);
  return { name: findingName(resource.id, v.ruleId, v.identity), labels, status };
}

/** Findings in the order every evaluation writes them: highest severity first, then name. */
export function sortFindings(findings: BuiltFinding[]): BuiltFinding[] {
  return findings.sort(
    (a, b) =>
      severityRank(b.status.severity ?? 'UNTRIAGED') -
        severityRank(a.status.severity ?? 'UNTRIAGED') ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}
