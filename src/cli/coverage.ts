/**
 * `kube-inspector coverage`: Inspector-style coverage summaries from the CoveredResource objects,
 * one per resource type, like the tabs of Inspector's coverage page: All / Scanning (ACTIVE) /
 * Not scanning (INACTIVE), and the count of each status reason; the code scanning of workloads
 * (scan type CODE) in a table of its own.
 */
import { parseArgs } from 'node:util';
import { RESOURCE_TYPES, type ResourceType } from '../api/v1alpha1/common.ts';
import type { CoveredResource } from '../api/v1alpha1/covered-resource.ts';
import { kinds } from '../api/v1alpha1/resources.ts';
import { listAll, withClient } from './api.ts';
import { InputError, table } from './scan-output.ts';

export const coverageHelp = (cmd = 'kube-inspector'): string => `Usage: ${cmd} coverage [options]

Summarises coverage per resource type from the CoveredResource objects, like the
tabs of Inspector's coverage page: how many resources there are (All), how many are
scanned (Scanning, status ACTIVE) and how many are not (Not scanning, INACTIVE),
and how many have each status reason. With the WorkloadCode scan type, the
code scanning of workloads (CoveredResources of scan type CODE) is a table of
its own, like the second table of Inspector's Lambda tab.

Options:
  -l, --selector SELECTOR  label selector on CoveredResources, e.g.
                           kubeinspector.io/resource-namespace=shop
      --type TYPE[,TYPE]   only these resource types: ${RESOURCE_TYPES.join(', ')}
  -o, --output FORMAT      table or json (default table)
      --kubeconfig PATH    kubeconfig file to use
  -h, --help               show this help

Exit codes: 0 printed, 1 the API could not be read, 2 bad usage.`;

export interface ReasonCount {
  statusCode: string;
  reason: string;
  count: number;
}

export interface TypeSummary {
  resourceType: ResourceType;
  all: number;
  scanning: number;
  notScanning: number;
  /** Most frequent first; ties by status code (ACTIVE first), then reason. */
  reasons: ReasonCount[];
}

export interface CoverageSummary {
  resourceTypes: TypeSummary[];
  /**
   * The code-scanning coverage of workloads (CoveredResources of scan type CODE, the
   * WorkloadCode scan type), counted apart like the second table of Inspector's Lambda tab;
   * absent when there is none. Not in `resourceTypes` nor in `total`.
   */
  codeScanning?: TypeSummary;
  total: { all: number; scanning: number; notScanning: number };
}

interface Tally {
  summary: TypeSummary;
  reasons: Map<string, ReasonCount>;
}

function tally(resourceType: ResourceType): Tally {
  return {
    summary: { resourceType, all: 0, scanning: 0, notScanning: 0, reasons: [] },
    reasons: new Map(),
  };
}

function count(entry: Tally, statusCode: string, reason: string): void {
  entry.summary.all++;
  if (statusCode === 'ACTIVE') entry.summary.scanning++;
  else entry.summary.notScanning++;
  const key = `${statusCode}/${reason}`;
  const c = entry.reasons.get(key) ?? { statusCode, reason, count: 0 };
  c.count++;
  entry.reasons.set(key, c);
}

function summaryOf({ summary, reasons }: Tally): TypeSummary {
  return {
    ...summary,
    reasons: [...reasons.values()].sort(
      (a, b) =>
        b.count - a.count ||
        a.statusCode.localeCompare(b.statusCode) ||
        a.reason.localeCompare(b.reason),
    ),
  };
}

/**
 * Summaries of `types` (every type, in their usual order, by default), zeros included.
 * Objects with no status yet (not reconciled) are not counted.
 */
export function summarizeCoverage(
  resources: readonly Pick<CoveredResource, 'status'>[],
  types: readonly ResourceType[] = RESOURCE_TYPES,
): CoverageSummary {
  const byType = new Map<ResourceType, Tally>(types.map((t) => [t, tally(t)]));
  const code = types.includes('WORKLOAD') ? tally('WORKLOAD') : undefined;
  for (const r of resources) {
    const status = r.status;
    if (status === undefined) continue;
    const entry = status.scanType === 'CODE' ? code : byType.get(status.resourceType);
    if (entry === undefined || entry.summary.resourceType !== status.resourceType) continue;
    count(entry, status.scanStatus.statusCode, status.scanStatus.reason);
  }
  const resourceTypes = [...byType.values()].map(summaryOf);
  const total = { all: 0, scanning: 0, notScanning: 0 };
  for (const t of resourceTypes) {
    total.all += t.all;
    total.scanning += t.scanning;
    total.notScanning += t.notScanning;
  }
  return code !== undefined && code.summary.all > 0
    ? { resourceTypes, codeScanning: summaryOf(code), total }
    : { resourceTypes, total };
}

/** The summary as text: a table of the types, then each type's reasons. */
export function renderCoverage(summary: CoverageSummary): string {
  const n = String;
  const out = [
    table([
      ['RESOURCE TYPE', 'ALL', 'SCANNING', 'NOT SCANNING'],
      ...summary.resourceTypes.map((t) => [
        t.resourceType,
        n(t.all),
        n(t.scanning),
        n(t.notScanning),
      ]),
      ['TOTAL', n(summary.total.all), n(summary.total.scanning), n(summary.total.notScanning)],
    ]),
  ];
  const reasons = (t: TypeSummary, what: string) => {
    if (t.reasons.length === 0) return;
    out.push(
      '',
      `${what}: ${t.all} ${t.all === 1 ? 'resource' : 'resources'}, ${t.scanning} scanning, ${t.notScanning} not scanning`,
      table([
        ['  STATUS', 'REASON', 'COUNT'],
        ...t.reasons.map((r) => [`  ${r.statusCode}`, r.reason, n(r.count)]),
      ]),
    );
  };
  for (const t of summary.resourceTypes) reasons(t, t.resourceType);
  const code = summary.codeScanning;
  if (code !== undefined) {
    out.push(
      '',
      'CODE SCANNING',
      table([
        ['RESOURCE TYPE', 'ALL', 'SCANNING', 'NOT SCANNING'],
        [code.resourceType, n(code.all), n(code.scanning), n(code.notScanning)],
      ]),
    );
    reasons(code, `${code.resourceType} code scanning`);
  }
  return out.join('\n');
}

export interface CoverageOptions {
  labelSelector: string | undefined;
  types: ResourceType[];
  output: 'table' | 'json';
  kubeconfig: string | undefined;
  help: boolean;
}

export function parseCoverageArgs(args: string[]): CoverageOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        selector: { type: 'string', short: 'l' },
        type: { type: 'string', multiple: true, default: [] },
        output: { type: 'string', short: 'o', default: 'table' },
        kubeconfig: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new InputError(err instanceof Error ? err.message : String(err));
  }
  const types: ResourceType[] = [];
  for (const raw of values.type.flatMap((t) => t.split(','))) {
    const t = RESOURCE_TYPES.find((r) => r === raw.trim().toUpperCase());
    if (t === undefined) {
      throw new InputError(
        `--type must be one of ${RESOURCE_TYPES.join(', ')}, got "${raw.trim()}"`,
      );
    }
    if (!types.includes(t)) types.push(t);
  }
  const output = values.output;
  if (output !== 'table' && output !== 'json') {
    throw new InputError(`-o/--output must be table or json, got "${output}"`);
  }
  return {
    labelSelector: values.selector === '' ? undefined : values.selector,
    types: types.length > 0 ? RESOURCE_TYPES.filter((t) => types.includes(t)) : [...RESOURCE_TYPES],
    output,
    kubeconfig: values.kubeconfig,
    help: values.help,
  };
}

export async function runCoverage(args: string[], cmd = 'kube-inspector'): Promise<number> {
  const options = parseCoverageArgs(args);
  if (options.help) {
    console.log(coverageHelp(cmd));
    return 0;
  }
  const resources = await withClient(options.kubeconfig, (client) =>
    listAll<CoveredResource>(client, kinds.coveredResources, {
      labelSelector: options.labelSelector,
    }),
  );
  const summary = summarizeCoverage(resources, options.types);
  console.log(
    options.output === 'json' ? JSON.stringify(summary, null, 2) : renderCoverage(summary),
  );
  return 0;
}
