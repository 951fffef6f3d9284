/**
 * ScanConfiguration: the object named `default` is the configuration (conditions say whether
 * it is usable; statistics count the CoveredResources); any other is reported as ignored.
 * Statistics are written only when a count changed, at most once per STATS_INTERVAL_MS.
 */
import {
  API_VERSION,
  CONDITION_TYPES,
  REASON_IGNORED,
  RESOURCE_TYPES,
} from '../../api/v1alpha1/common.ts';
import {
  SCAN_CONFIGURATION_NAME,
  type ScanConfigurationStatus,
} from '../../api/v1alpha1/scan-configuration.ts';
import { apply, isSubset } from '../../kube/apply.ts';
import { type Condition, setCondition } from '../../runtime/conditions.ts';
import type { Reconciler, Result } from '../../runtime/controller.ts';
import { FIELD_MANAGERS, kinds } from '../informers.ts';
import { type CoverageContext, iso } from './context.ts';

export const STATS_INTERVAL_MS = 2_000;

type Statistics = NonNullable<ScanConfigurationStatus['statistics']>;

/** Counts of the CoveredResources, in a stable order. */
export function statistics(ctx: CoverageContext): Omit<Statistics, 'updatedAt'> {
  const byType = new Map<string, number>();
  const byNs = new Map<string, { active: number; inactive: number }>();
  let active = 0;
  let inactive = 0;
  for (const cr of ctx.covered.list()) {
    const s = cr.status;
    if (s === undefined) continue;
    const k = `${s.resourceType}\u0000${s.scanStatus.statusCode}\u0000${s.scanStatus.reason}`;
    byType.set(k, (byType.get(k) ?? 0) + 1);
    const isActive = s.scanStatus.statusCode === 'ACTIVE';
    if (isActive) active++;
    else inactive++;
    const ns = s.resourceType === 'NAMESPACE' ? s.resourceId : s.resource?.namespace;
    if (ns !== undefined) {
      const c = byNs.get(ns) ?? { active: 0, inactive: 0 };
      if (isActive) c.active++;
      else c.inactive++;
      byNs.set(ns, c);
    }
  }
  const typeOrder = (t: string) => RESOURCE_TYPES.indexOf(t as (typeof RESOURCE_TYPES)[number]);
  const byResourceType = [...byType.entries()]
    .map(([k, count]) => {
      const [resourceType, statusCode, reason] = k.split('\u0000') as [
        (typeof RESOURCE_TYPES)[number],
        'ACTIVE' | 'INACTIVE',
        string,
      ];
      return { resourceType, statusCode, reason, count };
    })
    .sort(
      (a, b) =>
        typeOrder(a.resourceType) - typeOrder(b.resourceType) ||
        a.statusCode.localeCompare(b.statusCode) ||
        a.reason.localeCompare(b.reason),
    )
    .slice(0, 256);
  const byNamespace = [...byNs.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .slice(0, 5000)
    .map(([namespace, c]) => ({ namespace, ...c }));
  return { total: active + inactive, active, inactive, byResourceType, byNamespace };
}

/** Equal counts, whatever the key order (the API server returns keys sorted). */
export function sameCounts(a: Statistics | undefined, b: Omit<Statistics, 'updatedAt'>): boolean {
  if (a === undefined) return false;
  const { updatedAt: _u, ...rest } = a;
  return isSubset(rest, b) && isSubset(b, rest);
}

export function scanConfigurationReconciler(ctx: CoverageContext): Reconciler {
  let lastStatsWrite = 0;
  return {
    async reconcile(name): Promise<Result | undefined> {
      const sc = ctx.scanConfigurations.get(name);
      if (sc === undefined) return undefined;
      const now = ctx.deps.clock.now();
      const generation = sc.metadata.generation;
      const gen = generation !== undefined ? { observedGeneration: generation } : {};
      let conditions: Condition[] = (sc.status?.conditions ?? []) as Condition[];
      let stats: Statistics | undefined = sc.status?.statistics;
      let result: Result | undefined;
      if (name !== SCAN_CONFIGURATION_NAME) {
        conditions = setCondition(
          conditions,
          {
            type: CONDITION_TYPES.Ready,
            status: 'False',
            reason: REASON_IGNORED,
            message: `only the ScanConfiguration named "${SCAN_CONFIGURATION_NAME}" is used; this one is ignored`,
            ...gen,
          },
          now,
        );
      } else {
        const { problems } = ctx.config();
        if (problems.length > 0) {
          const message = `fix the configuration: ${problems.join('; ')}`;
          conditions = setCondition(
            conditions,
            {
              type: CONDITION_TYPES.Stalled,
              status: 'True',
              reason: 'InvalidConfiguration',
              message,
              ...gen,
            },
            now,
          );
          conditions = setCondition(
            conditions,
            {
              type: CONDITION_TYPES.Ready,
              status: 'False',
              reason: 'InvalidConfiguration',
              message,
              ...gen,
            },
            now,
          );
        } else {
          conditions = setCondition(
            conditions,
            {
              type: CONDITION_TYPES.Stalled,
              status: 'False',
              reason: 'Valid',
              message: '',
              ...gen,
            },
            now,
          );
          conditions = setCondition(
            conditions,
            {
              type: CONDITION_TYPES.Ready,
              status: 'True',
              reason: 'Applied',
              message: 'the configuration is in effect',
              ...gen,
            },
            now,
          );
        }
        const counts = statistics(ctx);
        if (!sameCounts(stats, counts)) {
          const wait = lastStatsWrite + STATS_INTERVAL_MS - now.getTime();
          if (wait > 0) result = { requeueAfterMs: wait };
          else {
            stats = { ...counts, updatedAt: iso(now.getTime())! };
            lastStatsWrite = now.getTime();
          }
        }
      }
      const status: ScanConfigurationStatus = {
        ...(generation !== undefined ? { observedGeneration: generation } : {}),
        conditions,
        ...(stats !== undefined ? { statistics: stats } : {}),
      };
      await apply(
        ctx.deps.manager.client,
        kinds.scanConfigurations,
        { apiVersion: API_VERSION, kind: 'ScanConfiguration', metadata: { name }, status },
        { current: sc, status: true, fieldManager: FIELD_MANAGERS.coverage },
      );
      return result;
    },
  };
}
