// Label and field selectors as SQL over the findings table (alias `f`). Pure. The SQL must
// select exactly what matchesLabels / matchesFields select: a missing label fails every
// requirement but !=, notin and !key; a missing field reads as "".
//
// One translation for both backends: a Dialect says what differs (the always-true condition and
// how a label value is read as an integer). Parameters are written `?`; the PostgreSQL backend
// numbers them ($1, $2, ...) with numberParams (no literal here contains a `?`).
import { LABEL_COLUMNS, STATUS_COLUMNS } from './row.ts';
import type {
  FieldRequirement,
  FieldSelector,
  LabelRequirement,
  LabelSelector,
} from './selectors.ts';
import { StoreError } from './store.ts';

/** A value bound to a `?` (node:sqlite and pg both take these). */
export type SqlValue = string | number | bigint | null | Buffer;

export interface SqlFilter {
  /** Conditions joined with AND; the dialect's always-true condition when there are none. */
  where: string;
  params: SqlValue[];
}

/** What the SQL of the two backends does differently. */
export interface SqlDialect {
  /** A condition that is always true. */
  readonly always: string;
  /** An expression reading a label value (text) as a 64-bit integer, NULL when it is not one. */
  int(expression: string): string;
  /** The parameter compared with int(): the requirement's value. */
  intParam(value: string): SqlValue;
}

/** SQLite: ki_int is registered on every connection (schema.ts). */
export const SQLITE_DIALECT: SqlDialect = {
  always: '1',
  int: (e) => `ki_int(${e})`,
  intParam: (v) => BigInt(v),
};

/** PostgreSQL: ki_int is created by the migrations (postgres-schema.ts) and returns numeric. */
export const POSTGRES_DIALECT: SqlDialect = {
  always: 'TRUE',
  int: (e) => `ki_int(${e})`,
  intParam: (v) => String(BigInt(v)),
};

/** `?` placeholders as PostgreSQL's $1, $2, ... starting after `offset`. */
export function numberParams(sql: string, offset = 0): string {
  let n = offset;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** Selectable field -> column. */
export const FIELD_COLUMNS: Readonly<Record<string, string>> = {
  'metadata.name': 'f.name',
  'metadata.namespace': 'f.namespace',
  'status.severity': `f.${STATUS_COLUMNS.severity}`,
  'status.status': `f.${STATUS_COLUMNS.status}`,
  'status.type': `f.${STATUS_COLUMNS.type}`,
  'status.vulnerabilityId': `f.${STATUS_COLUMNS.vulnerabilityId}`,
  'status.rulesPackage': `f.${STATUS_COLUMNS.rulesPackage}`,
  'status.resource.type': 'f.resource_type',
  'status.resource.id': 'f.resource_id',
};

function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(',');
}

/** A requirement on a well-known label held in an indexed column. */
function columnCondition(column: string, r: LabelRequirement, d: SqlDialect): SqlFilter {
  const c = `f.${column}`;
  switch (r.operator) {
    case 'Equals':
      return { where: `${c} = ?`, params: [r.value] };
    case 'NotEquals':
      return { where: `(${c} IS NULL OR ${c} <> ?)`, params: [r.value] };
    case 'In':
      return { where: `${c} IN (${placeholders(r.values.length)})`, params: r.values };
    case 'NotIn':
      return {
        where: `(${c} IS NULL OR ${c} NOT IN (${placeholders(r.values.length)}))`,
        params: r.values,
      };
    case 'Exists':
      return { where: `${c} IS NOT NULL`, params: [] };
    case 'DoesNotExist':
      return { where: `${c} IS NULL`, params: [] };
    case 'GreaterThan':
    case 'LessThan':
      return {
        where: `${d.int(c)} ${r.operator === 'GreaterThan' ? '>' : '<'} ?`,
        params: [d.intParam(r.value)],
      };
  }
}

/** A requirement on any other label: the label table, indexed on (key, value). */
function tableCondition(r: LabelRequirement, d: SqlDialect): SqlFilter {
  const inTable = (cond: string, params: SqlValue[], negate = false): SqlFilter => ({
    where: `f.id ${negate ? 'NOT IN' : 'IN'} (SELECT finding_id FROM finding_labels WHERE key = ?${cond})`,
    params: [r.key, ...params],
  });
  switch (r.operator) {
    case 'Equals':
      return inTable(' AND value = ?', [r.value]);
    case 'NotEquals':
      return inTable(' AND value = ?', [r.value], true);
    case 'In':
      return inTable(` AND value IN (${placeholders(r.values.length)})`, r.values);
    case 'NotIn':
      return inTable(` AND value IN (${placeholders(r.values.length)})`, r.values, true);
    case 'Exists':
      return inTable('', []);
    case 'DoesNotExist':
      return inTable('', [], true);
    case 'GreaterThan':
    case 'LessThan':
      return inTable(` AND ${d.int('value')} ${r.operator === 'GreaterThan' ? '>' : '<'} ?`, [
        d.intParam(r.value),
      ]);
  }
}

function labelCondition(r: LabelRequirement, d: SqlDialect): SqlFilter {
  const column = LABEL_COLUMNS[r.key];
  return column !== undefined ? columnCondition(column, r, d) : tableCondition(r, d);
}

/** A field term; NULL (no such field) reads as "". */
function fieldCondition(r: FieldRequirement): SqlFilter {
  const c = FIELD_COLUMNS[r.field];
  if (c === undefined) throw new StoreError('Invalid', `field label not supported: ${r.field}`);
  if (r.operator === 'Equals')
    return r.value === ''
      ? { where: `(${c} IS NULL OR ${c} = '')`, params: [] }
      : { where: `${c} = ?`, params: [r.value] };
  return r.value === ''
    ? { where: `(${c} IS NOT NULL AND ${c} <> '')`, params: [] }
    : { where: `(${c} IS NULL OR ${c} <> ?)`, params: [r.value] };
}

/** The WHERE conditions for a namespace and selectors. Unknown fields throw 'Invalid'. */
export function filterSql(
  options: {
    namespace?: string | undefined;
    labelSelector?: LabelSelector | undefined;
    fieldSelector?: FieldSelector | undefined;
  },
  dialect: SqlDialect = SQLITE_DIALECT,
): SqlFilter {
  const parts: SqlFilter[] = [];
  if (options.namespace !== undefined)
    parts.push({ where: 'f.namespace = ?', params: [options.namespace] });
  for (const r of options.labelSelector?.requirements ?? []) parts.push(labelCondition(r, dialect));
  for (const r of options.fieldSelector?.requirements ?? []) parts.push(fieldCondition(r));
  if (parts.length === 0) return { where: dialect.always, params: [] };
  return { where: parts.map((p) => p.where).join(' AND '), params: parts.flatMap((p) => p.params) };
}

/** Label value read as a 64-bit integer as Kubernetes does (strconv.ParseInt), else null. */
export function labelInt(value: unknown): bigint | null {
  if (typeof value !== 'string' || !/^[+-]?\d+$/.test(value)) return null;
  const n = BigInt(value);
  return n >= -(2n ** 63n) && n < 2n ** 63n ? n : null;
}
