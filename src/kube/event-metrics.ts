// The events recorder's own metrics, registered once per registry.
import { Counter, type Registry } from 'prom-client';

export type DropReason = 'spam_filter' | 'queue_full' | 'write_failed' | 'invalid' | 'closed';
const DROP_REASONS: readonly DropReason[] = [
  'spam_filter',
  'queue_full',
  'write_failed',
  'invalid',
  'closed',
];

export interface RecorderMetrics {
  writes: Counter<'verb' | 'result'>;
  dropped: Counter<'reason'>;
  folded: Counter;
}

function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  return (
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter({ name, help, labelNames, registers: [registry] })
  );
}

export function recorderMetrics(registry: Registry): RecorderMetrics {
  const writes = counter(
    registry,
    'kubeinspector_event_writes_total',
    'Writes of events.k8s.io Events by verb (create, patch) and result (success, error).',
    ['verb', 'result'],
  );
  const dropped = counter(
    registry,
    'kubeinspector_events_dropped_total',
    'Events not written, by reason: spam_filter, queue_full, write_failed, invalid, closed.',
    ['reason'],
  );
  const folded = counter(
    registry,
    'kubeinspector_events_folded_total',
    'Occurrences of an event counted into an existing series without a write of their own.',
    [],
  );
  for (const verb of ['create', 'patch'])
    for (const result of ['success', 'error']) writes.inc({ verb, result }, 0);
  for (const reason of DROP_REASONS) dropped.inc({ reason }, 0);
  folded.inc(0);
  return { writes, dropped, folded };
}
