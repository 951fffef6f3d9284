/**
 * The vulnerability database on a cluster object: the `default` ScanConfiguration's
 * `status.vulnerabilityDatabase` (sources, records per ecosystem, age, last error), written
 * under its own field manager when the object changes and every {@link STATUS_INTERVAL_MS}
 * (a refresh shows within that time), and only when the value differs from what the object
 * holds.
 */
import {
  SCAN_CONFIGURATION_NAME,
  type VulnerabilityDatabaseStatus,
} from '../../api/v1alpha1/scan-configuration.ts';
import { API_VERSION } from '../../api/v1alpha1/common.ts';
import { apply } from '../../kube/apply.ts';
import { Controller } from '../../runtime/controller.ts';
import { IndexReader } from '../../vulndb/advisory-index.ts';
import type { DatabaseSource } from '../../vulndb/source.ts';
import type { ControllerDeps } from '../deps.ts';
import { FIELD_MANAGERS, informers, kinds } from '../informers.ts';

const MAX_ERROR = 1024;

/** How often the status is compared with the database's state. */
export const STATUS_INTERVAL_MS = 15_000;

const iso = (d: Date | undefined): string | undefined =>
  d === undefined || Number.isNaN(d.getTime()) ? undefined : d.toISOString();

const bounded = (s: string | undefined): string | undefined =>
  s === undefined ? undefined : s.length <= MAX_ERROR ? s : `${s.slice(0, MAX_ERROR - 3)}...`;

/** Drops undefined values, so the object compares equal to what the API server returns. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The status of a database source (undefined: none configured). */
export function databaseStatus(source: DatabaseSource | undefined): VulnerabilityDatabaseStatus {
  if (source === undefined) return { loaded: false };
  const db = source.current;
  const st = db?.stats;
  const indexed = db instanceof IndexReader ? db.sources : undefined;
  const status = source.status;
  return defined({
    loaded: db !== undefined,
    records: st?.records,
    malformedRecords: st?.malformed,
    indexBytes: st?.diskBytes,
    builtAt: iso(st?.loadedAt),
    newestModified: st?.newestModified === undefined ? undefined : iso(new Date(st.newestModified)),
    lastRefreshTime: iso(status.lastCheck),
    lastError: bounded(status.lastError),
    sources: status.sources.slice(0, 64).map((s) => {
      const i = indexed?.find((x) => x.spec === s.source);
      return defined({
        source: s.source.slice(0, 2048),
        records: i?.stats.records,
        loadedAt: i === undefined ? undefined : iso(new Date(i.stats.loadedAt)),
        lastCheckTime: iso(s.lastCheck),
        lastSuccessTime: iso(s.lastSuccess),
        lastError: bounded(s.lastError),
        consecutiveFailures: s.consecutiveFailures,
      });
    }),
    ecosystems:
      st === undefined
        ? undefined
        : Object.entries(st.byEcosystem)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .slice(0, 512)
            .map(([ecosystem, records]) => ({ ecosystem: ecosystem.slice(0, 128), records })),
  });
}

export function setupVulnDbStatus(deps: ControllerDeps): Controller {
  const { manager, log } = deps;
  const configs = informers.scanConfigurations(manager);
  const controller = new Controller({
    name: 'vulndb-status',
    log,
    registry: manager.registry,
    reconciler: {
      async reconcile(name) {
        const sc = configs.get(name);
        if (sc === undefined || name !== SCAN_CONFIGURATION_NAME) return undefined;
        await apply(
          manager.client,
          kinds.scanConfigurations,
          {
            apiVersion: API_VERSION,
            kind: 'ScanConfiguration',
            metadata: { name },
            status: { vulnerabilityDatabase: databaseStatus(deps.database) },
          },
          { current: sc, status: true, fieldManager: FIELD_MANAGERS.vulndb },
        );
        return { requeueAfterMs: STATUS_INTERVAL_MS };
      },
    },
  });
  manager.addController(controller);
  const enqueue = (): void => controller.enqueue(SCAN_CONFIGURATION_NAME);
  configs.addHandlers({
    add: (sc) => sc.metadata.name === SCAN_CONFIGURATION_NAME && enqueue(),
    update: (_o, n) => n.metadata.name === SCAN_CONFIGURATION_NAME && enqueue(),
    delete: () => undefined,
  });
  return controller;
}
