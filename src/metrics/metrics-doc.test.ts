// docs/metrics.md lists every metric the controller registers, and nothing else; the alerts
// and the Grafana dashboard in manifests/monitoring use only metrics the code registers and
// the page lists.
import { SqliteFindingStore } from '../findings-store/sqlite.ts';
import { agentMetrics } from '../agent/agent.ts';
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Cache } from '../kube/cache.ts';
import { defaultDeps, setupControllers } from '../controllers/index.ts';
import { EventRecorder } from '../kube/events.ts';
import { Reflector } from '../kube/reflector.ts';
import { core } from '../kube/resources.ts';
import { Controller } from '../runtime/controller.ts';
import { systemClock } from '../runtime/clock.ts';
import { LeaderElector } from '../runtime/leader-election.ts';
import { Manager } from '../runtime/manager.ts';
import { createImageScanner } from '../scanner/index.ts';
import { WorkQueue } from '../runtime/workqueue.ts';
import {
  alertExpressions,
  dashboard,
  dashboardExpressions,
  labelMatchers,
  metricNames,
  prometheusRule,
} from '../../test/monitoring/monitoring.ts';
import { registerVulnDbMetrics } from './vulndb.ts';

const log = pino({ level: 'silent' });

function documented(): Set<string> {
  const page = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
  return new Set([...page.matchAll(/^\|\s*`([a-z_:]+)`\s*\|/gm)].map((m) => m[1]!));
}

/** prom-client's default process and Node.js metrics: served, listed on the page only by prefix. */
const DEFAULT_METRICS = /^(process|nodejs)_/;

/**
 * Every metric the controller process registers, by name and type: the Manager (API client,
 * caches, default process metrics) with every product controller set up exactly as the
 * controller command does, the vulnerability-database metrics, plus the runtime parts a
 * controller may create later (reflector, queue, controller, leader election, events).
 */
async function controllerRegistry(): Promise<Registry> {
  const registry = new Registry();
  const kc = new KubeConfig();
  // No request is made: the client only needs a cluster to exist.
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: false }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const manager = await Manager.create({ kubeConfig: kc, log, registry });
  const client = manager.client;
  setupControllers(
    defaultDeps({
      manager,
      log,
      clock: systemClock,
      adminNamespace: 'kube-inspector-system',
      scanner: createImageScanner({}),
      database: undefined,
      findingsStore: new SqliteFindingStore({ path: ':memory:' }),
    }),
  );
  new Reflector({ client, resource: core.pods, cache: new Cache(), log, registry });
  new WorkQueue({ name: 'q', registry });
  new Controller({
    name: 'c',
    log,
    registry,
    reconciler: { reconcile: () => Promise.resolve(undefined) },
  });
  const unused = (): Promise<never> => Promise.reject(new Error('not called'));
  new LeaderElector({
    client: {
      readNamespacedLease: unused,
      createNamespacedLease: unused,
      replaceNamespacedLease: unused,
    },
    namespace: 'n',
    name: 'l',
    registry,
  });
  const recorder = new EventRecorder({
    sink: { create: unused, patchSeries: unused },
    reportingInstance: 'test',
    registry,
  });
  await recorder.close(100);
  registerVulnDbMetrics(registry, () => undefined);
  agentMetrics(registry);
  await client.close();
  return registry;
}

async function registered(): Promise<Map<string, string>> {
  const registry = await controllerRegistry();
  return new Map((await registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
}

/** Labels Prometheus adds to every scraped series (the ServiceMonitor's target labels). */
const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod', 'service', 'endpoint', 'container'];

/** The registered metric a series name belongs to (`x_bucket` of the histogram `x`). */
function definedAs(series: string, inCode: Map<string, string>): string | undefined {
  if (inCode.has(series)) return series;
  const m = /^(.*)_(bucket|sum|count)$/.exec(series);
  const base = m?.[1];
  return base !== undefined && ['histogram', 'summary'].includes(inCode.get(base) ?? '')
    ? base
    : undefined;
}

describe('the metrics page', () => {
  it('lists exactly the metrics the controller registers', async () => {
    const inCode = await registered();
    const inDocs = documented();
    expect(
      [...inCode.keys()].filter((n) => !inDocs.has(n) && !DEFAULT_METRICS.test(n)).sort(),
    ).toEqual([]);
    expect([...inDocs].filter((n) => !inCode.has(n)).sort()).toEqual([]);
    expect(inCode.size).toBeGreaterThanOrEqual(25);
  });
});

describe('the alerts and the dashboard', () => {
  const used = new Map<string, string[]>();
  const use = (where: string, exprs: string[]): void => {
    for (const e of exprs) {
      for (const name of metricNames(e)) used.set(name, [...(used.get(name) ?? []), where]);
    }
  };
  use('manifests/monitoring/prometheus-rule.yaml', alertExpressions(prometheusRule()));
  use('manifests/monitoring/dashboard.json', dashboardExpressions(dashboard()));

  it('use only metrics the code registers', async () => {
    const inCode = await registered();
    const missing = [...used]
      .filter(([name]) => definedAs(name, inCode) === undefined)
      .map(([name, where]) => `${name} (${[...new Set(where)].join(', ')})`);
    expect(missing.sort()).toEqual([]);
  });

  it('use only metrics docs/metrics.md lists', async () => {
    const inCode = await registered();
    const inDocs = documented();
    const undocumented = [...used.keys()].filter(
      (name) => !inDocs.has(definedAs(name, inCode) ?? name),
    );
    expect(undocumented.sort()).toEqual([]);
  });

  it('select only labels the metrics have (or that Prometheus adds to every target)', async () => {
    const registry = await controllerRegistry();
    const exprs = [...alertExpressions(prometheusRule()), ...dashboardExpressions(dashboard())];
    const wrong = new Set<string>();
    let checked = 0;
    for (const { metric, label } of exprs.flatMap(labelMatchers)) {
      const base = /^(.*)_(bucket|sum|count)$/.exec(metric)?.[1];
      const m = (registry.getSingleMetric(metric) ?? registry.getSingleMetric(base ?? '')) as
        { labelNames?: readonly string[] } | undefined;
      if (m === undefined) continue; // reported by the test above
      const known = [...(m.labelNames ?? []), ...(base !== undefined ? ['le'] : [])];
      checked++;
      if (!known.includes(label) && !TARGET_LABELS.includes(label))
        wrong.add(`${metric}{${label}}`);
    }
    expect(checked).toBeGreaterThan(40);
    expect([...wrong].sort()).toEqual([]);
  });

  it('cover coverage, findings, scans, the database and the controller', () => {
    for (const name of [
      'kubeinspector_coverage_resources',
      'kubeinspector_findings',
      'kubeinspector_image_scans_total',
      'kubeinspector_vulndb_last_refresh_success_timestamp_seconds',
      'controller_runtime_reconcile_errors_total',
      'workqueue_depth',
      'leader_election_master_status',
    ]) {
      expect(used.has(name), name).toBe(true);
    }
  });
});

describe('metricNames', () => {
  it.each([
    ['a bare selector', 'up', ['up']],
    [
      'label matchers, strings and a range are not names',
      'rate(http_requests_total{job="api", code=~"5.."}[5m])',
      ['http_requests_total'],
    ],
    [
      'grouping labels and functions are not names',
      'sum by (le, controller) (rate(x_bucket{a="b"}[1m])) / on (controller) group_left y',
      ['x_bucket', 'y'],
    ],
    [
      'offsets, numbers, keywords and Grafana variables are not names',
      'a offset 1h > 0.5 and on () count(b{job=~"$job"}[$__rate_interval]) or vector(0)',
      ['a', 'b'],
    ],
    ['time() is a function', 'time() - max(ts_seconds) > 3 * 3600', ['ts_seconds']],
    ['comments are not names', 'a # the first hour is "new"\n> 0', ['a']],
  ])('%s', (_, expr, names) => {
    expect(metricNames(expr)).toEqual(names);
  });
});
