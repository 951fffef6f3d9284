/**
 * `kube-inspector findings export`: lists Finding objects from the API (page by page) and writes
 * them as CSV or JSON (formatting in src/findings/export.ts).
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { kinds } from '../api/v1alpha1/resources.ts';
import {
  COLUMN_SETS,
  EXPORT_FORMATS,
  formatFindings,
  type ColumnSet,
  type ExportFormat,
  type FindingObject,
} from '../findings/export.ts';
import { LABELS } from '../api/v1alpha1/common.ts';
import { listAll, withClient } from './api.ts';
import { InputError } from './errors.ts';
import { isDnsSubdomain, labelValueFor } from '../util/label-value.ts';

export const findingsHelp = (
  cmd = 'kube-inspector',
): string => `Usage: ${cmd} findings export [options]

Writes Finding objects as CSV or JSON: continuous findings (in the administrator
namespace) and assessment run findings (in their runs' namespaces). Every status is
exported (ACTIVE, SUPPRESSED and CLOSED); select with -l, e.g.
-l kubeinspector.io/status=ACTIVE.

Options:
  -n, --namespace NS       findings of this namespace only
  -A, --all-namespaces     findings of every namespace (the default)
      --run NAME           findings of this AssessmentRun (label kubeinspector.io/run)
  -l, --selector SELECTOR  label selector, e.g. kubeinspector.io/severity=CRITICAL
      --format FORMAT      csv or json (default csv)
      --columns SET        visible (the kubectl get columns) or all (every status field)
                           (default all)
  -o, --output FILE        write here instead of standard output
      --chunk-size N       findings read per API request (default 500)
      --kubeconfig PATH    kubeconfig file to use
  -h, --help               show this help

CSV: every datetime is epoch seconds; cells a spreadsheet would run as a formula are
prefixed with a single quote; quoting per RFC 4180. Columns are listed in docs/cli.md.

Exit codes: 0 written, 1 the API could not be read, 2 bad usage.`;

export interface ExportOptions {
  namespace: string | undefined;
  labelSelector: string | undefined;
  format: ExportFormat;
  columns: ColumnSet;
  output: string | undefined;
  /** Findings per list request (limit/continue). */
  pageSize: number;
  kubeconfig: string | undefined;
  help: boolean;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  const v = allowed.find((a) => a === value.toLowerCase());
  if (v === undefined) {
    throw new InputError(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  }
  return v;
}

/** A label value: at most 63 characters of alphanumerics, '-', '_' and '.'. */

export function parseExportArgs(args: string[]): ExportOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        'all-namespaces': { type: 'boolean', short: 'A', default: false },
        run: { type: 'string' },
        selector: { type: 'string', short: 'l' },
        format: { type: 'string', default: 'csv' },
        columns: { type: 'string', default: 'all' },
        output: { type: 'string', short: 'o' },
        'chunk-size': { type: 'string', default: '500' },
        kubeconfig: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new InputError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (positionals.length > 0) {
    throw new InputError(`unexpected argument "${positionals[0]}"`);
  }
  if (values.namespace !== undefined && values['all-namespaces']) {
    throw new InputError('-n/--namespace and -A/--all-namespaces cannot be used together');
  }
  if (values.namespace === '') throw new InputError('-n/--namespace must not be empty');
  if (values.output === '') throw new InputError('-o/--output must not be empty');
  const selectors: string[] = [];
  if (values.run !== undefined) {
    if (!isDnsSubdomain(values.run)) {
      throw new InputError(`--run "${values.run}" is not a valid AssessmentRun name`);
    }
    selectors.push(`${LABELS.run}=${labelValueFor(values.run)}`);
  }
  if (values.selector !== undefined && values.selector !== '') selectors.push(values.selector);
  const pageSize = Number(values['chunk-size']);
  if (!/^\d+$/.test(values['chunk-size']) || pageSize < 1 || pageSize > 10_000) {
    throw new InputError(
      `--chunk-size must be an integer from 1 to 10000, got "${values['chunk-size']}"`,
    );
  }
  return {
    namespace: values.namespace,
    labelSelector: selectors.length > 0 ? selectors.join(',') : undefined,
    format: oneOf(values.format, EXPORT_FORMATS, '--format'),
    columns: oneOf(values.columns, COLUMN_SETS, '--columns'),
    output: values.output,
    pageSize,
    kubeconfig: values.kubeconfig,
    help: values.help,
  };
}

export async function runFindingsExport(args: string[], cmd = 'kube-inspector'): Promise<number> {
  const options = parseExportArgs(args);
  if (options.help) {
    console.log(findingsHelp(cmd));
    return 0;
  }
  const findings = await withClient(options.kubeconfig, (client) =>
    listAll<FindingObject>(client, kinds.findings, options),
  );
  const text = formatFindings(findings, options.format, options.columns);
  if (options.output === undefined) {
    process.stdout.write(text);
  } else {
    await writeFile(options.output, text);
    console.error(`wrote ${findings.length} findings to ${options.output}`);
  }
  return 0;
}

/** `findings <subcommand>`: only `export` for now. */
export function runFindings(args: string[], cmd = 'kube-inspector'): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'export') return runFindingsExport(rest, cmd);
  if (sub === '--help' || sub === '-h') {
    console.log(findingsHelp(cmd));
    return Promise.resolve(0);
  }
  if (sub === undefined) {
    console.error(findingsHelp(cmd));
    return Promise.resolve(2);
  }
  throw new InputError(`unknown subcommand "findings ${sub}" (expected: findings export)`);
}
