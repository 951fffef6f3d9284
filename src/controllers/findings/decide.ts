/**
 * The decisions of one evaluation of a covered resource's continuous findings. Pure: facts in
 * (the resource's plan, its stored findings, what the inventory and the database compute now,
 * suppression, retention, the clock), writes out (one batch), with the finding counts the
 * resource should show, when to look again, and whether the evaluation counts as an
 * observation (recorded once per resource; the store derives `lastObservedAt` of open findings
 * from it, so a finding that did not change costs no write).
 *
 * The reconciler (reconciler.ts) gathers the facts and applies the decision; tests table-test
 * this module without an API server.
 */
import { FINDINGS_API_VERSION, LABEL_PREFIX, LABELS } from '../../api/v1alpha1/common.ts';
import type { CoveredResource } from '../../api/v1alpha1/covered-resource.ts';
import type { Finding, FindingStatus } from '../../api/v1alpha1/finding.ts';
import {
  ScanConfigurationSpecSchema,
  type ScanConfiguration,
} from '../../api/v1alpha1/scan-configuration.ts';
import {
  countBySeverity,
  deleteAt,
  mergeFinding,
  resuppress,
  sameJson,
  withStatusLabel,
  type BuiltFinding,
} from '../../findings/build.ts';
import type { BatchWrite, StoredFinding } from '../../findings-store/store.ts';
import type { KubeObject } from '../../kube/resources.ts';
import type { EvaluationResult } from './metrics.ts';
import { recordControllerWrite } from './ownership.ts';
import { labelValueFor } from '../../util/label-value.ts';

const DAY_MS = 86_400_000;

/** Reasons whose findings are matched (contract with the coverage controller). */
const MATCHED_REASONS = new Set([
  'SUCCESSFUL',
  'SCAN_FREQUENCY_SCAN_ON_PUSH',
  'DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED',
  'DEEP_INSPECTION_COLLECTION_TIME_LIMIT_EXCEEDED',
  'DEEP_INSPECTION_NO_INVENTORY',
]);
/** Reasons whose findings are kept as they are: no re-match, nothing closed. */
const KEPT_REASONS = new Set(['RESOURCE_STOPPED', 'PENDING_INITIAL_SCAN']);

export type Plan =
  | { kind: 'match' }
  | { kind: 'keep'; result: EvaluationResult }
  | { kind: 'close'; result: EvaluationResult }
  | { kind: 'delete' };

/**
 * Reasons for which a workload's rule findings close: it is not (or no longer) scanned. Every
 * other reason is about its images (pending, access denied, unsupported), not its pod template,
 * so its configuration is evaluated anyway.
 */
const WORKLOAD_NOT_SCANNED = new Set([
  'NO_SCAN_CONFIGURATION_ASSOCIATED',
  'EXCLUDED_BY_TAG',
  'SCAN_ELIGIBILITY_EXPIRED',
]);

function workloadPlan(reason: string): Plan {
  if (reason === 'PENDING_DISABLE') return { kind: 'delete' };
  if (WORKLOAD_NOT_SCANNED.has(reason)) return { kind: 'close', result: 'closed' };
  return { kind: 'match' };
}

/** What the coverage status of a resource asks of its findings. */
export function planFor(cr: (CoveredResource & KubeObject) | undefined): Plan {
  const s = cr?.status;
  if (cr === undefined || cr.metadata.deletionTimestamp !== undefined || s === undefined)
    return { kind: 'close', result: 'closed' };
  const reason = s.scanStatus.reason;
  if (s.resourceType === 'WORKLOAD') return workloadPlan(reason);
  if (s.resourceType !== 'NODE' && s.resourceType !== 'CONTAINER_IMAGE')
    return { kind: 'close', result: 'closed' };
  if (reason === 'PENDING_DISABLE') return { kind: 'delete' };
  if (KEPT_REASONS.has(reason)) return { kind: 'keep', result: 'kept' };
  if (s.scanStatus.statusCode === 'ACTIVE' && MATCHED_REASONS.has(reason)) return { kind: 'match' };
  return { kind: 'close', result: 'closed' };
}

export interface Retention {
  closedDays: number;
  resourceGoneDays: number;
  reopenWindowDays: number;
}

/** The schema's defaults of the retention settings (the one home of those numbers). */
const DEFAULT_RETENTION: Retention =
  ScanConfigurationSpecSchema.shape.findingRetention.parse(undefined);

/** The retention settings of the `default` ScanConfiguration, with the schema's defaults. */
export function retentionOf(config: ScanConfiguration | undefined): Retention {
  const r = config?.spec.findingRetention;
  return {
    closedDays: r?.closedDays ?? DEFAULT_RETENTION.closedDays,
    resourceGoneDays: r?.resourceGoneDays ?? DEFAULT_RETENTION.resourceGoneDays,
    reopenWindowDays: r?.reopenWindowDays ?? DEFAULT_RETENTION.reopenWindowDays,
  };
}

export type StoredFindingOf = StoredFinding & Finding;

export interface EvaluationFacts {
  namespace: string;
  coveredResource: string;
  /** The plan after the desired findings were computed ('keep' when they could not be). */
  plan: Plan;
  /** The stored findings of the resource, by name. */
  existing: ReadonlyMap<string, StoredFindingOf>;
  /** What the evaluation computes (plan 'match' only), already capped. */
  desired?: { built: readonly BuiltFinding[]; observe: boolean };
  /** The key (namespace/name) of the rule that suppresses a finding with this status. */
  suppressedBy: (status: FindingStatus) => string | undefined;
  retention: Retention;
  now: Date;
}

export interface EvaluationDecision {
  writes: BatchWrite[];
  verbs: { create: number; update: number; delete: number };
  /** Open findings' severities after the writes, for the resource's counts. */
  counts: ReturnType<typeof countBySeverity>;
  /** When a CLOSED finding is due for deletion (ms), if any. */
  deleteDeadline?: number;
  /** The evaluation observed the resource's findings at `now`. */
  observed: boolean;
}

/** The labels the controller writes (a person's own labels stay theirs). */
export function ownLabels(f: KubeObject): Record<string, string> {
  return Object.fromEntries(
    Object.entries(f.metadata.labels ?? {}).filter(([k]) => k.startsWith(LABEL_PREFIX)),
  );
}

/** The object to write: the stored one with the controller's labels and status replaced. */
export function desiredObject(
  namespace: string,
  name: string,
  existing: StoredFindingOf | undefined,
  labels: Record<string, string>,
  status: FindingStatus,
): StoredFinding {
  if (existing === undefined)
    return {
      apiVersion: FINDINGS_API_VERSION,
      kind: 'Finding',
      metadata: { name, namespace, labels },
      status,
    };
  const theirs = Object.entries(existing.metadata.labels ?? {}).filter(
    ([k]) => !k.startsWith(LABEL_PREFIX),
  );
  return {
    ...existing,
    metadata: { ...existing.metadata, labels: { ...Object.fromEntries(theirs), ...labels } },
    status,
  };
}

class Decision {
  readonly writes: BatchWrite[] = [];
  readonly verbs = { create: 0, update: 0, delete: 0 };
  readonly states = new Map<string, FindingStatus | undefined>();
  deleteDeadline: number | undefined;
  private readonly facts: EvaluationFacts;
  constructor(facts: EvaluationFacts) {
    this.facts = facts;
  }

  write(name: string, labels: Record<string, string>, status: FindingStatus): void {
    const existing = this.facts.existing.get(name);
    this.states.set(name, status);
    if (
      existing !== undefined &&
      sameJson(ownLabels(existing), labels) &&
      sameJson(existing.status, status)
    )
      return;
    const finding = recordControllerWrite(
      existing,
      desiredObject(this.facts.namespace, name, existing, labels, status),
      this.facts.now,
    );
    this.writes.push(
      existing === undefined ? { op: 'create', finding } : { op: 'update', finding },
    );
    this.verbs[existing === undefined ? 'create' : 'update']++;
  }

  remove(name: string): void {
    this.states.set(name, undefined);
    this.writes.push({ op: 'delete', namespace: this.facts.namespace, name });
    this.verbs.delete++;
  }

  dueAt(ms: number): void {
    this.deleteDeadline = Math.min(this.deleteDeadline ?? Infinity, ms);
  }
}

/** One finding the evaluation computes: created, reopened, changed, or left as it is. */
function upsert(d: Decision, f: EvaluationFacts, b: BuiltFinding): void {
  const existing = f.existing.get(b.name);
  const status = mergeFinding(existing, b.status, f.now, {
    suppressedBy: f.suppressedBy(b.status),
    reopenWindowDays: f.retention.reopenWindowDays,
  });
  const prev = existing?.status;
  if (
    prev?.lastObservedAt !== undefined &&
    prev.status !== 'CLOSED' &&
    status.updatedAt === prev.updatedAt
  ) {
    // Unchanged: its lastObservedAt is derived from the resource's evaluation record (moved
    // below when this evaluation observes), so nothing is written for it.
    status.lastObservedAt = prev.lastObservedAt;
  }
  const labels = withStatusLabel(
    { ...b.labels, [LABELS.coveredResource]: labelValueFor(f.coveredResource) },
    status.status ?? 'ACTIVE',
  );
  d.write(b.name, labels, status);
}

/** A stored finding the evaluation does not compute: closed, resuppressed, or deleted. */
function settle(d: Decision, f: EvaluationFacts, name: string, existing: StoredFindingOf): void {
  const status = existing.status;
  const gone = f.plan.kind === 'close';
  if (status === undefined) {
    // Never given a status: not a finding anyone saw; removed unless the resource only waits.
    if (f.plan.kind !== 'keep') d.remove(name);
    return;
  }
  if (status.status !== 'CLOSED') {
    if (f.plan.kind === 'match' || f.plan.kind === 'close') {
      const closed = mergeFinding(existing, undefined, f.now);
      d.write(name, withStatusLabel(ownLabels(existing), 'CLOSED'), closed);
      const days = gone ? f.retention.resourceGoneDays : f.retention.closedDays;
      d.dueAt(f.now.getTime() + days * DAY_MS);
    } else {
      const next = resuppress(status, f.suppressedBy(status), f.now);
      d.write(name, withStatusLabel(ownLabels(existing), next.status ?? 'ACTIVE'), next);
    }
    return;
  }
  const at = deleteAt(status, gone ? f.retention.resourceGoneDays : f.retention.closedDays);
  if (at === undefined) return;
  if (at.getTime() <= f.now.getTime()) d.remove(name);
  else d.dueAt(at.getTime());
}

/** The writes of one evaluation, and what they leave. */
export function decideEvaluation(f: EvaluationFacts): EvaluationDecision {
  const d = new Decision(f);
  if (f.plan.kind === 'delete') {
    for (const name of f.existing.keys()) d.remove(name);
  } else {
    const seen = new Set<string>();
    for (const b of f.desired?.built ?? []) {
      seen.add(b.name);
      upsert(d, f, b);
    }
    for (const [name, existing] of f.existing) if (!seen.has(name)) settle(d, f, name, existing);
  }
  const active: FindingStatus['severity'][] = [];
  for (const [name, existing] of f.existing)
    if (!d.states.has(name) && existing.status?.status === 'ACTIVE')
      active.push(existing.status.severity);
  for (const s of d.states.values()) if (s?.status === 'ACTIVE') active.push(s.severity);
  return {
    writes: d.writes,
    verbs: d.verbs,
    counts: countBySeverity(active),
    ...(d.deleteDeadline !== undefined ? { deleteDeadline: d.deleteDeadline } : {}),
    observed: f.plan.kind === 'match' && f.desired?.observe === true,
  };
}

/**
 * At most `cap` open findings: the ones that exist stay, new ones are added by severity
 * (highest first, the order `built` comes in) until the cap. Returns what is kept and how many
 * were left out.
 */
export function capFindings(
  built: readonly BuiltFinding[],
  existing: ReadonlyMap<string, StoredFindingOf>,
  cap: number,
): { kept: BuiltFinding[]; left: number } {
  if (built.length <= cap) return { kept: [...built], left: 0 };
  const isOpen = (b: BuiltFinding) => {
    const f = existing.get(b.name);
    return f !== undefined && f.status?.status !== 'CLOSED';
  };
  const kept = built.filter(isOpen);
  for (const b of built) {
    if (kept.length >= cap) break;
    if (!isOpen(b)) kept.push(b);
  }
  return { kept, left: built.length - kept.length };
}
