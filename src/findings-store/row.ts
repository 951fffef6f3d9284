// How a Finding is split into a SQL row and put back together. Pure.
//
// - The advisory part of the status (the same for every resource with that vulnerability) is
//   stored once, content-addressed by a hash of its canonical JSON.
// - The values people select on are columns (and come out of the JSON body, so they are not
//   stored twice): namespace, name, uid, resourceVersion, the status fields of the field
//   selectors, and the well-known labels. Other labels go to a label table and stay in the body.
// - Everything else is the JSON body.
import { createHash } from 'node:crypto';
import { LABELS } from '../api/v1alpha1/common.ts';
import type { StoredFinding } from './store.ts';

/**
 * Status fields that depend only on the vulnerability, not on the resource: kept once per
 * distinct content. title (names the packages) and recommendation (names fixed versions) depend
 * on the resource and stay in the row.
 */
export const ADVISORY_FIELDS = [
  'description',
  'cvss',
  'referenceUrls',
  'epss',
  'exploitAvailable',
  'vulnerabilitySource',
  'aliases',
] as const;

/** Status fields held in columns (strings only; anything else stays in the body). */
export const STATUS_COLUMNS = {
  severity: 'severity',
  status: 'status',
  type: 'type',
  vulnerabilityId: 'vulnerability_id',
  rulesPackage: 'rules_package',
} as const;

/** Well-known labels held in indexed columns. */
export const LABEL_COLUMNS: Readonly<Record<string, string>> = {
  [LABELS.severity]: 'l_severity',
  [LABELS.type]: 'l_type',
  [LABELS.status]: 'l_status',
  [LABELS.resourceType]: 'l_resource_type',
  [LABELS.vulnerabilityId]: 'l_vulnerability_id',
  [LABELS.resourceNamespace]: 'l_resource_namespace',
  [LABELS.run]: 'l_run',
  [LABELS.coveredResource]: 'l_covered_resource',
};

/** Every column a row carries besides id, body and advisory_id, in insert order. */
export const ROW_COLUMNS = [
  'namespace',
  'name',
  'uid',
  'rv',
  ...Object.values(STATUS_COLUMNS),
  'resource_type',
  'resource_id',
  ...Object.values(LABEL_COLUMNS),
] as const;

export type RowValue = string | number | null;

export interface SplitFinding {
  /** Column name -> value, for every name in ROW_COLUMNS. */
  columns: Record<string, RowValue>;
  /** Labels that are not well-known, also kept in the body. */
  extraLabels: [string, string][];
  /** Canonical JSON of the advisory part and its hash; undefined when there is none. */
  advisory?: { hash: Buffer; body: string };
  /** JSON of everything else. */
  body: string;
  /** JSON of the whole object minus the advisory part (the event log's copy). */
  eventBody: string;
}

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON with object keys sorted, so equal content gives equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Splits the status into the advisory part and the rest. */
function splitStatus(status: Json): { advisory?: Json; rest: Json } {
  const rest: Json = { ...status };
  const advisory: Json = {};
  for (const f of ADVISORY_FIELDS) {
    if (rest[f] === undefined) continue;
    advisory[f] = rest[f];
    delete rest[f];
  }
  return Object.keys(advisory).length > 0 ? { advisory, rest } : { rest };
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** Splits a Finding (with namespace, name, uid and resourceVersion set) into its row. */
export function splitFinding(finding: StoredFinding): SplitFinding {
  const meta = finding.metadata;
  const status = isRecord(finding.status) ? finding.status : undefined;
  const { advisory, rest } = status ? splitStatus(status) : { rest: undefined };
  const resource = isRecord(rest?.resource) ? rest.resource : {};
  const columns: Record<string, RowValue> = {
    namespace: meta.namespace,
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    rv: Number(meta.resourceVersion),
    resource_type: str(resource.type),
    resource_id: str(resource.id),
  };
  const bodyStatus = rest ? { ...rest } : undefined;
  for (const [field, column] of Object.entries(STATUS_COLUMNS)) {
    columns[column] = str(rest?.[field]);
    if (bodyStatus && columns[column] !== null) delete bodyStatus[field];
  }
  const extraLabels: [string, string][] = [];
  for (const column of Object.values(LABEL_COLUMNS)) columns[column] = null;
  for (const [key, value] of Object.entries(meta.labels ?? {})) {
    const column = LABEL_COLUMNS[key];
    if (column !== undefined) columns[column] = value;
    else extraLabels.push([key, value]);
  }
  const { name: _n, namespace: _ns, uid: _u, resourceVersion: _rv, labels: _l, ...rest0 } = meta;
  const bodyMeta: Record<string, unknown> = rest0;
  if (extraLabels.length > 0) bodyMeta.labels = Object.fromEntries(extraLabels);
  const withoutAdvisory = { ...finding, ...(rest ? { status: rest } : {}) };
  const body = { ...finding, metadata: bodyMeta, ...(bodyStatus ? { status: bodyStatus } : {}) };
  const split: SplitFinding = {
    columns,
    extraLabels,
    body: JSON.stringify(body),
    eventBody: JSON.stringify(withoutAdvisory),
  };
  if (advisory) {
    const text = canonicalJson(advisory);
    split.advisory = {
      hash: createHash('sha256').update(text).digest().subarray(0, 16),
      body: text,
    };
  }
  return split;
}

/** A row as read back: the columns, the body and the advisory JSON when there is one. */
export interface StoredRow {
  namespace: string;
  name: string;
  uid: string;
  rv: number | bigint;
  body: string;
  advisory: string | null;
  [column: string]: unknown;
}

/** Puts a row back together into the Finding it was split from. */
export function joinRow(row: StoredRow): StoredFinding {
  const body = JSON.parse(row.body) as StoredFinding & { status?: Json };
  const { labels: extra, ...meta } = body.metadata;
  const labels: Record<string, string> = {};
  for (const [key, column] of Object.entries(LABEL_COLUMNS)) {
    const v = row[column];
    if (typeof v === 'string') labels[key] = v;
  }
  Object.assign(labels, extra);
  const metadata: StoredFinding['metadata'] = {
    ...meta,
    name: row.name,
    namespace: row.namespace,
    uid: row.uid,
    resourceVersion: String(row.rv),
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
  };
  const out: StoredFinding = { ...body, metadata };
  if (body.status !== undefined) {
    const status: Json = {};
    for (const [field, column] of Object.entries(STATUS_COLUMNS)) {
      const v = row[column];
      if (typeof v === 'string') status[field] = v;
    }
    Object.assign(status, row.advisory !== null ? (JSON.parse(row.advisory) as Json) : {});
    out.status = Object.assign(status, body.status);
  }
  return out;
}

/** Puts an event log entry back together (its body lacks only the advisory part). */
export function joinEvent(eventBody: string, advisory: string | null): StoredFinding {
  const object = JSON.parse(eventBody) as StoredFinding;
  if (advisory !== null && isRecord(object.status))
    object.status = { ...(JSON.parse(advisory) as Json), ...object.status };
  return object;
}
