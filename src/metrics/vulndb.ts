/**
 * Metrics of the vulnerability database the controller matches against: whether one is loaded,
 * how many advisories it holds (in all and per ecosystem), how large its index is on disk, how
 * fresh it is, and how its refreshes went, in all and per source. The gauges read the source at
 * scrape time; the refresh counter is fed by the source's `onRefresh` callback. A timestamp that
 * is not known (never loaded) reads 0, so `time() - x` alerts fire on it.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RefreshOutcome } from '../vulndb/refreshing.ts';
import type { DatabaseSource } from '../vulndb/source.ts';

/** The `result` label of `kubeinspector_vulndb_refreshes_total`. */
export const REFRESH_RESULTS = ['loaded', 'not_modified', 'error'] as const;
export type RefreshResult = (typeof REFRESH_RESULTS)[number];

const RESULT_OF: Readonly<Record<RefreshOutcome, RefreshResult>> = {
  updated: 'loaded',
  'not-modified': 'not_modified',
  failed: 'error',
};

export interface VulnDbMetrics {
  /** Counts one refresh; pass it as the source's `onRefresh`. */
  onRefresh: (outcome: RefreshOutcome) => void;
}

const seconds = (d: Date | undefined): number | undefined =>
  d === undefined ? undefined : d.getTime() / 1000;

/** The gauges with labels: advisories per ecosystem, and the state of each source. */
function registerLabelledGauges(
  registry: Registry,
  source: () => DatabaseSource | undefined,
): void {
  new Gauge({
    name: 'kubeinspector_vulndb_ecosystem_advisories',
    help: 'Advisories in the loaded database per ecosystem (a record naming two counts in both).',
    labelNames: ['ecosystem'],
    registers: [registry],
    collect() {
      this.reset();
      const by = source()?.current?.stats.byEcosystem ?? {};
      for (const [ecosystem, n] of Object.entries(by)) this.set({ ecosystem }, n);
    },
  });
  new Gauge({
    name: 'kubeinspector_vulndb_source_up',
    help: 'Whether the last refresh could read the source (1) or not (0: its last good records are served).',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const st of source()?.status.sources ?? []) {
        if (st.lastCheck !== undefined)
          this.set({ source: st.source }, st.lastError === undefined ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'kubeinspector_vulndb_source_last_success_timestamp_seconds',
    help: 'When the source was last read (loaded or confirmed unchanged), as a Unix time.',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const st of source()?.status.sources ?? []) {
        this.set({ source: st.source }, seconds(st.lastSuccess) ?? 0);
      }
    },
  });
}

/**
 * Registers the database metrics on `registry`. `source` is read at every scrape; it is a
 * function so the metrics can exist before the source (whose `onRefresh` they provide) does,
 * and so "no database configured" reads as not loaded.
 */
export function registerVulnDbMetrics(
  registry: Registry,
  source: () => DatabaseSource | undefined,
): VulnDbMetrics {
  const gauge = (name: string, help: string, value: (s: DatabaseSource) => number | undefined) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const s = source();
        const v = s === undefined ? undefined : value(s);
        if (v !== undefined && Number.isFinite(v)) this.set(v);
      },
    });
  new Gauge({
    name: 'kubeinspector_vulndb_loaded',
    help: 'Whether a vulnerability database is loaded (1) or not (0).',
    registers: [registry],
    collect() {
      this.set(source()?.current === undefined ? 0 : 1);
    },
  });
  gauge(
    'kubeinspector_vulndb_advisories',
    'Advisories in the loaded vulnerability database.',
    (s) => s.current?.size,
  );
  gauge(
    'kubeinspector_vulndb_last_refresh_success_timestamp_seconds',
    'When the database was last loaded or confirmed unchanged, as a Unix time.',
    (s) => seconds(s.status.lastSuccess),
  );
  gauge(
    'kubeinspector_vulndb_modified_timestamp_seconds',
    'Newest `modified` time among the advisories of the loaded database, as a Unix time.',
    (s) => {
      const newest = s.current?.stats.newestModified;
      return newest === undefined ? undefined : Date.parse(newest) / 1000;
    },
  );
  gauge(
    'kubeinspector_vulndb_index_bytes',
    'Size of the on-disk advisory index file, in bytes.',
    (s) => s.current?.stats.diskBytes,
  );
  gauge(
    'kubeinspector_vulndb_malformed_records',
    'Records of the loaded database that failed validation and were skipped.',
    (s) => s.current?.stats.malformed,
  );
  registerLabelledGauges(registry, source);
  const refreshes = new Counter({
    name: 'kubeinspector_vulndb_refreshes_total',
    help: 'Database refreshes by result: loaded, not_modified or error.',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of REFRESH_RESULTS) refreshes.inc({ result }, 0);
  return {
    onRefresh: (outcome) => refreshes.inc({ result: RESULT_OF[outcome] ?? 'error' }),
  };
}
