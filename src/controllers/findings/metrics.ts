/**
 * Metrics of the findings controller. The gauge is computed from the Finding cache at scrape
 * time (every finding in the cache: continuous and run findings), so it is never stale and
 * costs nothing between scrapes.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Finding } from '../../api/v1alpha1/finding.ts';
import type { Cache } from '../../kube/cache.ts';
import type { KubeObject } from '../../kube/resources.ts';

/** Outcomes of one reconcile of a resource's findings. */
export const EVALUATION_RESULTS = [
  'matched',
  'unchanged',
  'kept',
  'no_inventory',
  'no_database',
  'closed',
  'disabled',
  'error',
] as const;
export type EvaluationResult = (typeof EVALUATION_RESULTS)[number];

export const WRITE_VERBS = ['create', 'update', 'delete'] as const;

export interface FindingsMetrics {
  evaluations: Counter<'result'>;
  writes: Counter<'verb'>;
  capped: Counter;
}

export function findingsMetrics(
  registry: Registry,
  findings: Cache<Finding & KubeObject>,
): FindingsMetrics {
  const registers = [registry];
  new Gauge({
    name: 'kubeinspector_findings',
    help: 'Findings by severity, type and status (ACTIVE, SUPPRESSED, CLOSED), from the cache.',
    labelNames: ['severity', 'type', 'status'],
    registers,
    collect() {
      this.reset();
      const counts = new Map<
        string,
        { severity: string; type: string; status: string; n: number }
      >();
      for (const f of findings.list()) {
        // Created a moment ago, its status not written yet: not a finding to count.
        if (f.status?.status === undefined) continue;
        const severity = f.status?.severity ?? 'UNTRIAGED';
        const type = f.status?.type ?? 'PACKAGE_VULNERABILITY';
        const status = f.status.status;
        const key = `${severity}|${type}|${status}`;
        const c = counts.get(key);
        if (c === undefined) counts.set(key, { severity, type, status, n: 1 });
        else c.n++;
      }
      for (const { severity, type, status, n } of counts.values())
        this.set({ severity, type, status }, n);
    },
  });
  const evaluations = new Counter({
    name: 'kubeinspector_finding_evaluations_total',
    help: "Reconciles of a covered resource's continuous findings, by result (matched, unchanged, kept, no_inventory, no_database, closed, disabled, error).",
    labelNames: ['result'],
    registers,
  });
  for (const result of EVALUATION_RESULTS) evaluations.inc({ result }, 0);
  const writes = new Counter({
    name: 'kubeinspector_finding_writes_total',
    help: 'Writes of Finding objects by the findings controller, by verb (create, update, delete).',
    labelNames: ['verb'],
    registers,
  });
  for (const verb of WRITE_VERBS) writes.inc({ verb }, 0);
  const capped = new Counter({
    name: 'kubeinspector_finding_cap_exceeded_total',
    help: 'Evaluations that left findings out because the resource reached --max-findings-per-resource.',
    registers,
  });
  return { evaluations, writes, capped };
}
