import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { DatabaseSource } from '../vulndb/source.ts';
import { closedAfterTest } from '../vulndb/testing/source.ts';
import { registerVulnDbMetrics } from './vulndb.ts';

const testdata = new URL('../vulndb/testdata/osv/debian', import.meta.url).pathname;

/** The newest `modified` among the fixture records, read independently of the loader. */
function newestModifiedSeconds(dir: string): number {
  return Math.max(
    ...readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => {
        const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { modified: string };
        return Date.parse(r.modified) / 1000;
      }),
  );
}

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('vulnerability database metrics', () => {
  it('read 0 when no database is configured (timestamps 0: never)', async () => {
    const registry = new Registry();
    registerVulnDbMetrics(registry, () => undefined);
    const text = await registry.metrics();
    expect(value(text, 'kubeinspector_vulndb_loaded')).toBe(0);
    expect(value(text, 'kubeinspector_vulndb_advisories')).toBe(0);
    expect(value(text, 'kubeinspector_vulndb_modified_timestamp_seconds')).toBe(0);
    expect(value(text, 'kubeinspector_vulndb_refreshes_total{result="error"}')).toBe(0);
    expect(value(text, 'kubeinspector_vulndb_refreshes_total{result="loaded"}')).toBe(0);
  });

  it('show a loaded directory: size, newest modified time, last success, refresh results', async () => {
    const registry = new Registry();
    const metrics = registerVulnDbMetrics(registry, () => source);
    const at = new Date('2026-05-01T10:00:00Z');
    const source: DatabaseSource = closedAfterTest(testdata, {
      onRefresh: metrics.onRefresh,
      now: () => at,
    });
    expect(await source.refresh()).toBe('updated');
    expect(await source.refresh()).toBe('not-modified');

    const text = await registry.metrics();
    const files = readdirSync(testdata).filter((f) => f.endsWith('.json')).length;
    expect(value(text, 'kubeinspector_vulndb_loaded')).toBe(1);
    expect(value(text, 'kubeinspector_vulndb_advisories')).toBe(files);
    expect(value(text, 'kubeinspector_vulndb_modified_timestamp_seconds')).toBe(
      newestModifiedSeconds(testdata),
    );
    expect(value(text, 'kubeinspector_vulndb_last_refresh_success_timestamp_seconds')).toBe(
      at.getTime() / 1000,
    );
    expect(value(text, 'kubeinspector_vulndb_refreshes_total{result="loaded"}')).toBe(1);
    expect(value(text, 'kubeinspector_vulndb_refreshes_total{result="not_modified"}')).toBe(1);
    expect(value(text, 'kubeinspector_vulndb_refreshes_total{result="error"}')).toBe(0);
  });

  it('count a failed load as an error and stay unloaded', async () => {
    const registry = new Registry();
    const metrics = registerVulnDbMetrics(registry, () => source);
    const source: DatabaseSource = closedAfterTest(join(testdata, 'no-such-dir'), {
      onRefresh: metrics.onRefresh,
    });
    expect(await source.refresh()).toBe('failed');
    const text = await registry.metrics();
    expect(value(text, 'kubeinspector_vulndb_loaded')).toBe(0);
    expect(value(text, 'kubeinspector_vulndb_refreshes_total{result="error"}')).toBe(1);
    expect(value(text, 'kubeinspector_vulndb_last_refresh_success_timestamp_seconds')).toBe(0);
  });
});
