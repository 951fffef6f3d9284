/**
 * ScanConfiguration: the object named `default` is the configuration (conditions say whether
 * it is usable; statistics count the CoveredResources); any other is reported as ignored.
 * status.configurationInEffect keeps the last spec that validated: a spec that does not leaves
 * it in effect (Stalled says so), and a restarted controller finds it there.
 * Statistics are written only when a count changed, at most once per STATS_INTERVAL_MS.
 */
import { API_VERSION, REASON_IGNORED, RESOURCE_TYPES } from '../../api/v1alpha1/common.ts';
import {
  SCAN_CONFIGURATION_NAME,
  type ScanConfigurationStatus,
} from '../../api/v1alpha1/scan-configuration.ts';
import { apply, isSubset } from '../../kube/apply.ts';
import { type ScanConfigurationObject, effectiveConfiguration } from '../../coverage/config.ts';
import type { Reconciler, Result } from '../../runtime/controller.ts';
import { type StepsResult, reconcileWithStatus } from '../../runtime/status.ts';
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
    // Code-scanning coverage is counted apart: a workload has one object per scan type.
    const code = s.scanType === 'CODE' ? 'CODE' : '';
    const k = `${s.resourceType}\u0000${s.scanStatus.statusCode}\u0000${s.scanStatus.reason}\u0000${code}`;
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
      const [resourceType, statusCode, reason, code] = k.split('\u0000') as [
        (typeof RESOURCE_TYPES)[number],
        'ACTIVE' | 'INACTIVE',
        string,
        string,
      ];
      return code === 'CODE'
        ? { resourceType, statusCode, reason, scanType: 'CODE' as const, count }
        : { resourceType, statusCode, reason, count };
    })
    .sort(
      (a, b) =>
        typeOrder(a.resourceType) - typeOrder(b.resourceType) ||
        Number('scanType' in a) - Number('scanType' in b) ||
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

export const REASON_INVALID_CONFIGURATION = 'InvalidConfiguration';

/**
 * The conditions' word on the configuration, and the configuration in effect to keep in status:
 * the spec when it validates, else the last valid one (unchanged), else none.
 */
export function configurationOutcome(sc: ScanConfigurationObject | undefined): {
  outcome: StepsResult;
  inEffect: ScanConfigurationStatus['configurationInEffect'];
} {
  const effective = effectiveConfiguration(sc);
  if (effective.source === 'spec') {
    return {
      outcome: { summary: 'ready', reason: 'Applied', message: 'the configuration is in effect' },
      inEffect: { generation: effective.generation ?? 0, spec: effective.config.spec },
    };
  }
  const fix = `fix the configuration: ${effective.problems.join('; ')}`;
  const message =
    effective.source === 'lastValid'
      ? `${fix}. The last valid configuration (generation ${effective.generation}) stays in effect`
      : `${fix}. No configuration has validated yet: nothing is activated until one does`;
  return {
    outcome: { summary: 'stalled', reason: REASON_INVALID_CONFIGURATION, message },
    inEffect:
      effective.source === 'lastValid'
        ? { generation: effective.generation ?? 0, spec: effective.config.spec }
        : undefined,
  };
}

export function scanConfigurationReconciler(ctx: CoverageContext): Reconciler {
  let lastStatsWrite = 0;

  /** Conditions, the configuration in effect and the statistics of the `default` one. */
  function steps(sc: ScanConfigurationObject, draft: ScanConfigurationStatus): StepsResult {
    const now = ctx.deps.clock.now();
    const { outcome, inEffect } = configurationOutcome(sc);
    if (inEffect === undefined) delete draft.configurationInEffect;
    else draft.configurationInEffect = inEffect;
    let result: Result | undefined;
    const counts = statistics(ctx);
    if (!sameCounts(draft.statistics, counts)) {
      const wait = lastStatsWrite + STATS_INTERVAL_MS - now.getTime();
      if (wait > 0) result = { requeueAfterMs: wait };
      else {
        draft.statistics = { ...counts, updatedAt: iso(now.getTime())! };
      }
    }
    return { ...outcome, ...(result ? { result } : {}) };
  }

  return {
    async reconcile(name, rctx): Promise<Result | undefined> {
      const sc = ctx.scanConfigurations.get(name);
      if (sc === undefined) return undefined;
      return reconcileWithStatus<ScanConfigurationStatus>({
        previous: sc.status,
        generation: sc.metadata.generation,
        now: () => ctx.deps.clock.now(),
        log: rctx.log,
        steps: (draft) =>
          Promise.resolve().then(() =>
            name === SCAN_CONFIGURATION_NAME
              ? steps(sc, draft)
              : {
                  summary: 'notReady' as const,
                  reason: REASON_IGNORED,
                  message: `only the ScanConfiguration named "${SCAN_CONFIGURATION_NAME}" is used; this one is ignored`,
                },
          ),
        write: async (status) => {
          // vulnerabilityDatabase belongs to the database status controller (its own manager).
          const { vulnerabilityDatabase: _db, ...own } = status;
          await apply(
            ctx.deps.manager.client,
            kinds.scanConfigurations,
            { apiVersion: API_VERSION, kind: 'ScanConfiguration', metadata: { name }, status: own },
            { current: sc, status: true, fieldManager: FIELD_MANAGERS.coverage },
          );
          // The interval counts from statistics the API server took, not from an attempt.
          if (status.statistics?.updatedAt !== sc.status?.statistics?.updatedAt)
            lastStatsWrite = ctx.deps.clock.now().getTime();
        },
      });
    },
  };
}
