// meta.k8s.io Table rows for `kubectl get`, from the printer columns of the Finding kind, cell
// by cell as apiextensions-apiserver's table convertor computes them for a CRD (date columns
// as a human-readable age, numbers as numbers, missing values as null). And the
// PartialObjectMetadata view the metadata client asks for. Pure; `now` is injected.
import { kindInfo, type PrinterColumn } from '../api/v1alpha1/kinds.ts';
import type { StoredFinding } from '../findings-store/store.ts';

export type IncludeObject = 'None' | 'Metadata' | 'Object';
export type MetaVersion = 'v1' | 'v1beta1';

export interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

const NAME_DESCRIPTION =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';

export function columnDefinitions(
  columns: readonly PrinterColumn[] = kindInfo('Finding').printerColumns,
): ColumnDefinition[] {
  return [
    { name: 'Name', type: 'string', format: 'name', description: NAME_DESCRIPTION, priority: 0 },
    ...columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: '',
      description: c.description,
      priority: c.priority ?? 0,
    })),
  ];
}

const splitPath = (jsonPath: string) => jsonPath.split('.').filter((k) => k !== '');

function valueAtPath(obj: unknown, path: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const key of path) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** The value at a simple JSONPath (`.status.resource.id`), undefined when absent. */
export function valueAt(obj: unknown, jsonPath: string): unknown {
  return valueAtPath(obj, splitPath(jsonPath));
}

const FINDING_COLUMNS = kindInfo('Finding').printerColumns;
const compiled = new WeakMap<
  readonly PrinterColumn[],
  { type: PrinterColumn['type']; path: string[] }[]
>();

/** Columns with their paths split once (a list renders hundreds of thousands of rows). */
function compile(columns: readonly PrinterColumn[]) {
  let out = compiled.get(columns);
  if (!out) {
    out = columns.map((c) => ({ type: c.type, path: splitPath(c.jsonPath) }));
    compiled.set(columns, out);
  }
  return out;
}

/** duration.HumanDuration of k8s.io/apimachinery: ~2-3 significant figures. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8)
    return hours % 24 === 0 ? `${hours / 24}d` : `${Math.trunc(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 365 * 8) {
    const dy = days % 365;
    return dy === 0 ? `${Math.trunc(days / 365)}y` : `${Math.trunc(days / 365)}y${dy}d`;
  }
  return `${Math.trunc(days / 365)}y`;
}

/** One cell, typed as the column says (apiextensions' cellForJSONValue). */
export function cell(type: PrinterColumn['type'], value: unknown, now: Date): unknown {
  if (value === undefined || value === null) return null;
  switch (type) {
    case 'string':
      return typeof value === 'string' ? value : JSON.stringify(value);
    case 'integer':
      return typeof value === 'number' ? Math.trunc(value) : null;
    case 'number':
      return typeof value === 'number' ? value : null;
    case 'boolean':
      return typeof value === 'boolean' ? value : null;
    case 'date': {
      if (typeof value !== 'string') return null;
      const t = Date.parse(value);
      return Number.isNaN(t) ? '<invalid>' : humanDuration(now.getTime() - t);
    }
  }
}

/** PartialObjectMetadata of an object (the metadata client's view). */
export function partialMetadata(obj: StoredFinding, version: MetaVersion): Record<string, unknown> {
  return {
    kind: 'PartialObjectMetadata',
    apiVersion: `meta.k8s.io/${version}`,
    metadata: obj.metadata,
  };
}

export interface TableRow {
  cells: unknown[];
  object?: unknown;
}

/**
 * The metadata a Table row carries: the object's metadata without managedFields. kubectl prints
 * none of them and they are about 40 % of a finding's metadata; decoding them was half of
 * kubectl's time on a long `get`. Clients that need them ask for the object or for
 * PartialObjectMetadata, which keep them.
 */
function rowMetadata(obj: StoredFinding, version: MetaVersion): Record<string, unknown> {
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata };
}

export function tableRow(
  obj: StoredFinding,
  include: IncludeObject,
  version: MetaVersion,
  now: Date,
  columns: readonly PrinterColumn[] = FINDING_COLUMNS,
): TableRow {
  const cells: unknown[] = [obj.metadata.name ?? ''];
  for (const c of compile(columns)) cells.push(cell(c.type, valueAtPath(obj, c.path), now));
  if (include === 'None') return { cells };
  return { cells, object: include === 'Object' ? obj : rowMetadata(obj, version) };
}

/** The opening of a Table (everything but rows and metadata, which a stream writes after). */
export function tableHead(version: MetaVersion, withHeaders: boolean): Record<string, unknown> {
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${version}`,
    ...(withHeaders ? { columnDefinitions: columnDefinitions() } : { columnDefinitions: null }),
  };
}

export function parseIncludeObject(value: string | null): IncludeObject | undefined {
  if (value === null || value === '') return 'Metadata';
  return value === 'None' || value === 'Metadata' || value === 'Object' ? value : undefined;
}
