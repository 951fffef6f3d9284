// The PrometheusRule in manifests/monitoring: promtool checks it and runs its unit tests
// (test/monitoring/prometheus-rule.test.yaml); every alert has the annotations a person on
// call needs, with a runbook_url anchor that exists in docs/operations.md.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SCAN_STATUS_REASONS } from '../api/v1alpha1/covered-resource.ts';
import {
  dashboard,
  dashboardExpressions,
  headingAnchors,
  prometheusRule,
  repoFile,
  type AlertRule,
} from '../../test/monitoring/monitoring.ts';

const execFileAsync = promisify(execFile);

async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync('promtool', args, { cwd: scratch });
    return stdout + stderr;
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error(
        "promtool not found: install Debian's prometheus package (hack/install-debian-packages.sh)",
        { cause: err },
      );
    }
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`, {
      cause: err,
    });
  }
}

let scratch = '';
const rule = prometheusRule();
const alerts = rule.spec.groups.flatMap((g) => g.rules.filter((r) => r.alert !== undefined));

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'kube-inspector-alerts-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

// promtool runs take a few seconds each on a shared machine.
describe('the PrometheusRule', { timeout: 30_000 }, () => {
  it('passes promtool check rules', async () => {
    await writeFile(join(scratch, 'full.yaml'), stringify({ groups: rule.spec.groups }));
    expect(await promtool('check', 'rules', 'full.yaml')).toMatch(
      new RegExp(`SUCCESS: ${alerts.length} rules found`),
    );
  });

  it('passes its promtool unit tests, and every alert has one', async () => {
    // Only `summary` stays: it carries the value; the rest is checked below.
    const onlySummary = (r: AlertRule): AlertRule =>
      r.alert === undefined ? r : { ...r, annotations: { summary: r.annotations?.summary ?? '' } };
    const groups = rule.spec.groups.map((g) => ({ ...g, rules: g.rules.map(onlySummary) }));
    await writeFile(join(scratch, 'prometheus-rules.yaml'), stringify({ groups }));
    const tests = await readFile(repoFile('test/monitoring/prometheus-rule.test.yaml'), 'utf8');
    await writeFile(join(scratch, 'tests.yaml'), tests);
    expect(await promtool('test', 'rules', 'tests.yaml')).toContain('SUCCESS');

    const tested = new Set([...tests.matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    expect(alerts.map((a) => a.alert).filter((a) => !tested.has(a))).toEqual([]);
    // promtool evaluates hours of series at one-minute steps: seconds on a busy machine.
  }, 60_000);

  it('gives every alert a severity, a summary, a description, a runbook and a runbook_url', async () => {
    const anchors = headingAnchors(await readFile(repoFile('docs/operations.md'), 'utf8'));
    expect(alerts.length).toBeGreaterThanOrEqual(9);
    for (const a of alerts) {
      expect(['info', 'warning', 'critical'], a.alert).toContain(a.labels?.severity);
      const ann = a.annotations ?? {};
      for (const key of ['summary', 'description', 'runbook', 'runbook_url']) {
        expect(ann[key]?.trim().length ?? 0, `${a.alert} ${key}`).toBeGreaterThan(10);
      }
      const url = ann.runbook_url ?? '';
      expect(url, a.alert).toBe(`docs/operations.md#${a.alert!.toLowerCase()}`);
      expect(anchors, `docs/operations.md has no heading for ${a.alert}`).toContain(
        a.alert!.toLowerCase(),
      );
    }
  });
});

describe('the Grafana dashboard', { timeout: 30_000 }, () => {
  it('has only queries Prometheus parses', async () => {
    // Each query becomes a recording rule, with Grafana's variables as Prometheus would see them.
    const exprs = dashboardExpressions(dashboard());
    expect(exprs.length).toBeGreaterThan(30);
    const rules = exprs.map((expr, i) => ({
      record: `dashboard:query_${i}`,
      expr: expr
        .replaceAll('$__rate_interval', '5m')
        .replaceAll('$job', 'kube-inspector-controller-metrics'),
    }));
    await writeFile(
      join(scratch, 'dashboard.yaml'),
      stringify({ groups: [{ name: 'dashboard', rules }] }),
    );
    expect(await promtool('check', 'rules', 'dashboard.yaml')).toContain(
      `SUCCESS: ${rules.length} rules found`,
    );
  });
});

describe('docs/operations.md', () => {
  it('explains every coverage reason the API has, in its own section', async () => {
    const page = await readFile(repoFile('docs/operations.md'), 'utf8');
    const sections = new Map(
      [...page.matchAll(/^### ([A-Z_]+)\n\n([^#]+)/gm)].map((m) => [m[1]!, m[2]!]),
    );
    for (const reason of SCAN_STATUS_REASONS) {
      const text = sections.get(reason) ?? '';
      expect(text, reason).toMatch(/^(ACTIVE|INACTIVE)\b/);
      expect(text.length, reason).toBeGreaterThan(80);
    }
    expect(
      [...sections.keys()].filter((r) => !(SCAN_STATUS_REASONS as readonly string[]).includes(r)),
    ).toEqual([]);
  });
});
