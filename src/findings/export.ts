/**
 * Findings export formatting (pure): Finding objects in, CSV or JSON text out.
 *
 * Columns:
 * - `visible`: `Namespace`, `Name`, then the Finding CRD's printer columns (read from the kind
 *   table, so `kubectl get findings -o wide` and the export stay in sync).
 * - `all`: `namespace`, `name`, `creationTimestamp`, `attributes`, then every status field in
 *   schema order, flattened to dotted paths (the bookkeeping fields `observedGeneration` and
 *   `conditions` excepted). Derived from the schema, so a new status field becomes a new column
 *   at its place in the schema.
 *
 * CSV cells: every datetime is epoch seconds; lists are joined with `; ` (a list of objects
 * gives one column per field, the i-th value of each belonging to the i-th element); maps are
 * `key=value` pairs sorted by key. Cells that a spreadsheet would run as a formula (starting
 * with `=`, `+`, `-`, `@`, tab or carriage return) are prefixed with a single quote; cells are
 * quoted as RFC 4180 says, rows end with CRLF.
 */
import { openApiSchema, type JsonSchema } from '../api/crd.ts';
import { FindingStatusSchema } from '../api/v1alpha1/finding.ts';
import { kindInfo, type PrinterColumn } from '../api/v1alpha1/kinds.ts';

export const COLUMN_SETS = ['all', 'visible'] as const;
export type ColumnSet = (typeof COLUMN_SETS)[number];
export const EXPORT_FORMATS = ['csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** What export reads of a Finding: the API object, loosely typed. */
export interface FindingObject {
  metadata: {
    name: string;
    namespace?: string;
    creationTimestamp?: string;
    managedFields?: unknown;
    [key: string]: unknown;
  };
  spec?: { attributes?: Record<string, string> } & Record<string, unknown>;
  status?: Record<string, unknown>;
  [key: string]: unknown;
}

type Shape = 'scalar' | 'datetime' | 'list' | 'map';

export interface Column {
  /** Header of the column. */
  header: string;
  /** Path in the object; `[]` marks a list whose elements are visited. */
  path: readonly string[];
  shape: Shape;
}

/** Separator of the values of a list in one cell. */
export const LIST_SEPARATOR = '; ';
/** Status fields that are bookkeeping, not part of the finding. */
const SKIPPED_STATUS_FIELDS = new Set(['observedGeneration', 'conditions']);

function leafShape(schema: JsonSchema): Shape {
  if (schema.format === 'date-time') return 'datetime';
  if (schema.type === 'object' && schema.additionalProperties !== undefined) return 'map';
  if (schema.type === 'array') return 'list';
  return 'scalar';
}

/** Columns of a schema: one per leaf; lists of objects give one column per element field. */
function flatten(schema: JsonSchema, path: string[], header: string[], out: Column[]): void {
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  if (schema.type === 'object' && properties !== undefined) {
    for (const [key, child] of Object.entries(properties)) {
      flatten(child, [...path, key], [...header, key], out);
    }
    return;
  }
  const items = schema.items as JsonSchema | undefined;
  if (schema.type === 'array' && items?.type === 'object' && items.properties !== undefined) {
    flatten(items, [...path, '[]'], header, out);
    return;
  }
  out.push({ header: header.join('.'), path, shape: leafShape(schema) });
}

let allColumnsMemo: readonly Column[] | undefined;

/** The `all` columns, in their documented order. */
export function allColumns(): readonly Column[] {
  if (allColumnsMemo !== undefined) return allColumnsMemo;
  const out: Column[] = [
    { header: 'namespace', path: ['metadata', 'namespace'], shape: 'scalar' },
    { header: 'name', path: ['metadata', 'name'], shape: 'scalar' },
    { header: 'creationTimestamp', path: ['metadata', 'creationTimestamp'], shape: 'datetime' },
    { header: 'attributes', path: ['spec', 'attributes'], shape: 'map' },
  ];
  const status = openApiSchema(FindingStatusSchema);
  for (const [key, child] of Object.entries(status.properties as Record<string, JsonSchema>)) {
    if (!SKIPPED_STATUS_FIELDS.has(key)) flatten(child, ['status', key], [key], out);
  }
  allColumnsMemo = Object.freeze(out);
  return allColumnsMemo;
}

/** A printer column's simple JSONPath (`.a.b.c`) as a path; other forms are refused. */
export function printerColumnPath(jsonPath: string): string[] {
  if (!/^(\.[A-Za-z0-9_]+)+$/.test(jsonPath)) {
    throw new Error(`printer column path ${jsonPath} is not a plain field path`);
  }
  return jsonPath.slice(1).split('.');
}

function fromPrinterColumn(c: PrinterColumn): Column {
  return {
    header: c.name,
    path: printerColumnPath(c.jsonPath),
    shape: c.type === 'date' ? 'datetime' : 'scalar',
  };
}

/** The `visible` columns: namespace, name and the Finding CRD's printer columns. */
export function visibleColumns(): readonly Column[] {
  return [
    { header: 'Namespace', path: ['metadata', 'namespace'], shape: 'scalar' },
    { header: 'Name', path: ['metadata', 'name'], shape: 'scalar' },
    ...kindInfo('Finding').printerColumns.map(fromPrinterColumn),
  ];
}

export function columnsOf(set: ColumnSet): readonly Column[] {
  return set === 'all' ? allColumns() : visibleColumns();
}

/** Values at a path; `[]` fans out over a list (missing elements give `undefined`). */
function valuesAt(value: unknown, path: readonly string[]): unknown[] {
  let current: unknown[] = [value];
  let fanned = false;
  for (const step of path) {
    if (step === '[]') {
      fanned = true;
      current = current.flatMap((v) => (Array.isArray(v) ? (v as unknown[]) : []));
    } else {
      current = current.map((v) =>
        v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[step] : undefined,
      );
    }
  }
  return fanned ? current : current.filter((v) => v !== undefined);
}

/** An RFC 3339 time as whole epoch seconds; text that is not a time is kept as it is. */
export function epochSeconds(value: string): string {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : String(Math.floor(ms / 1000));
}

function scalarText(v: unknown, shape: Shape): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return shape === 'datetime' ? epochSeconds(v) : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** The text of one cell, before CSV escaping. */
export function cellText(obj: FindingObject, column: Column): string {
  const values = valuesAt(obj, column.path);
  const fanned = column.path.includes('[]');
  const one = (v: unknown): string => {
    if (column.shape === 'map' && v !== null && typeof v === 'object') {
      return Object.entries(v as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, x]) => `${k}=${scalarText(x, 'scalar')}`)
        .join(LIST_SEPARATOR);
    }
    if (column.shape === 'list' && Array.isArray(v)) {
      return v.map((x) => scalarText(x, 'scalar')).join(LIST_SEPARATOR);
    }
    return scalarText(v, column.shape);
  };
  if (fanned) return values.map(one).join(LIST_SEPARATOR);
  return values.length === 0 ? '' : one(values[0]);
}

const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A CSV cell: prefixed with `'` when a spreadsheet would read it as a formula (OWASP CSV
 * injection), then quoted when it holds a comma, a quote, CR or LF (RFC 4180).
 */
export function csvCell(text: string): string {
  const safe = FORMULA_START.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** Namespace, then name: the export's stable row order. */
export function sortFindings<T extends FindingObject>(findings: readonly T[]): T[] {
  const key = (f: FindingObject): string => `${f.metadata.namespace ?? ''}\u0000${f.metadata.name}`;
  return [...findings].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The CSV text: a header row, then one row per finding, CRLF line ends. */
export function toCsv(findings: readonly FindingObject[], set: ColumnSet): string {
  const columns = columnsOf(set);
  const rows = [columns.map((c) => csvCell(c.header)).join(',')];
  for (const f of sortFindings(findings)) {
    rows.push(columns.map((c) => csvCell(cellText(f, c))).join(','));
  }
  return rows.join('\r\n') + '\r\n';
}

/** A Finding as exported in JSON: the API object without managedFields. */
function withoutManagedFields(f: FindingObject): FindingObject {
  const { managedFields: _dropped, ...metadata } = f.metadata;
  return { ...f, metadata };
}

/**
 * The JSON text. `all`: an array of the Finding objects as the API returns them (timestamps
 * stay RFC 3339), without managedFields. `visible`: an array of rows keyed by column header,
 * numbers as numbers and dates as RFC 3339, like `kubectl get findings` would show them.
 */
export function toJson(findings: readonly FindingObject[], set: ColumnSet): string {
  const sorted = sortFindings(findings);
  if (set === 'all') return JSON.stringify(sorted.map(withoutManagedFields), null, 2) + '\n';
  const columns = visibleColumns();
  const rows = sorted.map((f) =>
    Object.fromEntries(columns.map((c) => [c.header, valuesAt(f, c.path)[0] ?? null])),
  );
  return JSON.stringify(rows, null, 2) + '\n';
}

export function formatFindings(
  findings: readonly FindingObject[],
  format: ExportFormat,
  set: ColumnSet,
): string {
  return format === 'csv' ? toCsv(findings, set) : toJson(findings, set);
}
