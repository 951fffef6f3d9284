/**
 * Metrics of the findings controller. The gauge is counted by the findings store at scrape
 * time (one grouped count over indexed columns: continuous and run findings), so it is never
 * stale and costs nothing between scrapes. While the store is not open here (a standby
 * replica) the gauge has no series.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { FindingStore } from '../../findings-store/store.ts';

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
  store: FindingStore,
  open: () => boolean = () => true,
): FindingsMetrics {
  const registers = [registry];
  new Gauge({
    name: 'kubeinspector_findings',
    help: 'Findings by severity, type and status (ACTIVE, SUPPRESSED, CLOSED), counted by the findings store.',
    labelNames: ['severity', 'type', 'status'],
    registers,
    async collect() {
      this.reset();
      if (!open()) return;
      let groups;
      try {
        groups = await store.countBy({}, ['severity', 'type', 'status'] as const);
      } catch {
        return; // the store closed between the check and the count (shutdown, failover)
      }
      for (const { key, count } of groups) {
        // Created a moment ago with no status yet: not a finding to count.
        if (key.status === '') continue;
        this.inc(
          {
            severity: key.severity || 'UNTRIAGED',
            type: key.type || 'PACKAGE_VULNERABILITY',
            status: key.status,
          },
          count,
        );
      }
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
