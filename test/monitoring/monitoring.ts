// Reads the monitoring manifests (PrometheusRule, Grafana dashboard) for the tests in
// src/metrics, and finds the metric names a PromQL expression uses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '..', '..');

export function repoFile(path: string): string {
  return join(root, path);
}

export interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface PrometheusRule {
  spec: { groups: { name: string; rules: AlertRule[] }[] };
}

export function prometheusRule(): PrometheusRule {
  return parse(
    readFileSync(repoFile('manifests/monitoring/prometheus-rule.yaml'), 'utf8'),
  ) as PrometheusRule;
}

interface Panel {
  title?: string;
  type?: string;
  panels?: Panel[];
  targets?: { expr?: string }[];
}

export interface Dashboard {
  title: string;
  uid: string;
  panels: Panel[];
  templating?: { list?: { query?: unknown; definition?: string }[] };
}

export function dashboard(): Dashboard {
  return JSON.parse(
    readFileSync(repoFile('manifests/monitoring/dashboard.json'), 'utf8'),
  ) as Dashboard;
}

/** Every panel of the dashboard, rows' nested panels included. */
export function panels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every PromQL expression of the dashboard: panel targets and query variables. */
export function dashboardExpressions(d: Dashboard): string[] {
  const fromPanels = panels(d).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
  const fromVariables = (d.templating?.list ?? []).flatMap((v) => {
    const q = typeof v.query === 'string' ? v.query : (v.definition ?? '');
    // label_values(metric{...}, label) and query_result(expr)
    const inner = /^\s*(?:label_values|query_result)\((.*)\)\s*$/s.exec(q)?.[1];
    return inner === undefined ? [] : [inner.replace(/,\s*\w+\s*$/, '')];
  });
  return [...fromPanels, ...fromVariables].filter((e) => e.trim() !== '');
}

export function alertExpressions(r: PrometheusRule): string[] {
  return r.spec.groups.flatMap((g) => g.rules.map((rule) => rule.expr));
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'inf',
  'nan',
]);

/**
 * The metric names an expression selects. Strings, comments, label matchers, range and offset
 * durations, grouping label lists and Grafana variables are removed; what is left that is not a function
 * call or a keyword is a metric name.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/#[^\n]*/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+-?[0-9a-z]+/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?/g)) {
    const word = m[0].replace(/\s*\($/, '');
    if (m[1] !== undefined || KEYWORDS.has(word.toLowerCase())) continue;
    if (/^\d/.test(word)) continue;
    names.add(word);
  }
  return [...names].sort();
}

/** The label names each selector of an expression matches on: `x{a="1", b=~"2"}` -> x.a, x.b. */
export function labelMatchers(expr: string): { metric: string; label: string }[] {
  const out: { metric: string; label: string }[] = [];
  for (const m of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
    const body = m[2]!.replace(/"(?:[^"\\]|\\.)*"/g, '""');
    for (const l of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) {
      out.push({ metric: m[1]!, label: l[1]! });
    }
  }
  return out;
}

/** GitHub's anchors of a Markdown page's headings. */
export function headingAnchors(markdown: string): string[] {
  return [...markdown.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) =>
    m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\w\- ]/g, '')
      .replace(/ /g, '-'),
  );
}
