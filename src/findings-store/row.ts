// How a Finding is split into a SQL row and put back together. Pure.
//
// - The advisory part of the status (the same for every resource with that vulnerability) is
//   stored once, content-addressed by a hash of its canonical JSON.
// - So is the context: status.resource and the managedFields entries without their times (the
//   same for every finding of one resource written by the same managers).
// - The values people select on are columns (and come out of the JSON body, so they are not
//   stored twice): namespace, name, uid, resourceVersion, the status fields of the field
//   selectors, and the well-known labels. Other labels go to a label table and stay in the body.
// - Everything else is the JSON body (apiVersion and kind are implied).
import { createHash } from 'node:crypto';
import { FINDINGS_API_VERSION, LABELS } from '../api/v1alpha1/common.ts';
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
  'managed_times',
] as const;

export type RowValue = string | number | null;

/** The two tables above as pairs, made once (rows are put back together by the hundred thousand). */
const STATUS_COLUMN_PAIRS = Object.entries(STATUS_COLUMNS);
const LABEL_COLUMN_PAIRS = Object.entries(LABEL_COLUMNS);

export interface SplitFinding {
  /** Column name -> value, for every name in ROW_COLUMNS. */
  columns: Record<string, RowValue>;
  /** Labels that are not well-known, also kept in the body. */
  extraLabels: [string, string][];
  /** Canonical JSON of the advisory part and its hash; undefined when there is none. */
  advisory?: SharedPart;
  /** status.resource and the managedFields shape: the same for the findings of a resource. */
  context?: SharedPart;
  /** JSON of everything else. */
  body: string;
}

/** A part of the status stored once per distinct content. */
export interface SharedPart {
  hash: Buffer;
  body: string;
}

type Json = Record<string, unknown>;

/**
 * Shared parts by their plain JSON text: the findings of one evaluation repeat a resource's
 * context and, across resources, the same advisories, built the same way each time, so the
 * canonical text and its hash are computed once. Bounded; the oldest entry goes.
 */
const SHARED_PARTS_MADE = 2048;
const madeParts = new Map<string, SharedPart>();

function sharedPart(kind: string, value: unknown): SharedPart {
  const key = `${kind}\0${JSON.stringify(value)}`;
  const made = madeParts.get(key);
  if (made !== undefined) return made;
  const body = canonicalJson(value);
  const hash = createHash('sha256').update(kind).update('\0').update(body).digest();
  const part = { hash: hash.subarray(0, 16), body };
  if (madeParts.size >= SHARED_PARTS_MADE)
    madeParts.delete(madeParts.keys().next().value as string);
  madeParts.set(key, part);
  return part;
}

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
export function splitStatus(status: Json): { advisory?: Json; rest: Json } {
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

/** The part shared by the findings of one resource written the same way. */
interface Context {
  resource?: unknown;
  /** managedFields entries without their `time`. */
  managedFields?: Json[];
}

/** Splits managedFields into their shape (shared) and their times (per row). */
function splitManagedFields(entries: unknown): { shape?: Json[]; times: string | null } {
  if (!Array.isArray(entries) || !entries.every(isRecord)) return { times: null };
  const times = entries.map((e) => (typeof e.time === 'string' ? e.time : null));
  const shape = entries.map(({ time: _t, ...rest }) => rest);
  return { shape, times: JSON.stringify(times) };
}

function labelColumns(labels: Readonly<Record<string, string>> | undefined) {
  const columns: Record<string, RowValue> = {};
  const extra: [string, string][] = [];
  for (const column of Object.values(LABEL_COLUMNS)) columns[column] = null;
  for (const [key, value] of Object.entries(labels ?? {})) {
    const column = LABEL_COLUMNS[key];
    if (column !== undefined) columns[column] = value;
    else extra.push([key, value]);
  }
  return { columns, extra };
}

/** The status columns, taken out of the body's status. */
function statusColumns(rest: Json | undefined, body: Json | undefined): Record<string, RowValue> {
  const resource = isRecord(rest?.resource) ? rest.resource : {};
  const columns: Record<string, RowValue> = {
    resource_type: str(resource.type),
    resource_id: str(resource.id),
  };
  for (const [field, column] of Object.entries(STATUS_COLUMNS)) {
    columns[column] = str(rest?.[field]);
    if (body && columns[column] !== null) delete body[field];
  }
  return columns;
}

/** Splits a Finding (with namespace, name, uid and resourceVersion set) into its row. */
export function splitFinding(finding: StoredFinding): SplitFinding {
  const meta = finding.metadata;
  const status = isRecord(finding.status) ? finding.status : undefined;
  const { advisory, rest } = status ? splitStatus(status) : { rest: undefined };
  const bodyStatus = rest ? { ...rest } : undefined;
  const labels = labelColumns(meta.labels);
  const managed = splitManagedFields(meta.managedFields);
  const columns: Record<string, RowValue> = {
    namespace: meta.namespace,
    name: meta.name,
    uid: meta.uid ?? '',
    rv: Number(meta.resourceVersion),
    ...statusColumns(rest, bodyStatus),
    ...labels.columns,
    managed_times: managed.times,
  };
  const context: Context = {};
  if (bodyStatus && isRecord(bodyStatus.resource)) {
    context.resource = bodyStatus.resource;
    delete bodyStatus.resource;
  }
  if (managed.shape) context.managedFields = managed.shape;
  const { name: _n, namespace: _ns, uid: _u, resourceVersion: _rv, labels: _l, ...kept } = meta;
  const bodyMeta: Json = kept;
  if (managed.shape) delete bodyMeta.managedFields;
  if (labels.extra.length > 0) bodyMeta.labels = Object.fromEntries(labels.extra);
  const { apiVersion: _a, kind: _k, ...others } = finding;
  const body = { ...others, metadata: bodyMeta, ...(bodyStatus ? { status: bodyStatus } : {}) };
  const split: SplitFinding = { columns, extraLabels: labels.extra, body: JSON.stringify(body) };
  if (advisory) split.advisory = sharedPart('advisory', advisory);
  if (Object.keys(context).length > 0) split.context = sharedPart('context', context);
  return split;
}

/** A row as read back: the columns, the body and the shared parts' JSON when there are. */
export interface StoredRow {
  namespace: string;
  name: string;
  uid: string;
  rv: number | bigint;
  body: string;
  advisory: string | null;
  context: string | null;
  managed_times: string | null;
  /** The shared parts' hashes in hex, when the backend gives them (a cheaper cache key). */
  advisory_key?: string | null;
  context_key?: string | null;
  [column: string]: unknown;
}

function joinMetadata(row: StoredRow, meta: Json, context: Context): StoredFinding['metadata'] {
  const { labels: extra, ...kept } = meta as { labels?: Record<string, string> } & Json;
  const labels: Record<string, string> = {};
  for (const [key, column] of LABEL_COLUMN_PAIRS) {
    const v = row[column];
    if (typeof v === 'string') labels[key] = v;
  }
  Object.assign(labels, extra);
  const metadata: Json = {
    ...kept,
    name: row.name,
    namespace: row.namespace,
    uid: row.uid,
    resourceVersion: String(row.rv),
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
  };
  if (context.managedFields) {
    const times = JSON.parse(row.managed_times ?? '[]') as (string | null)[];
    metadata.managedFields = context.managedFields.map((e, i) => {
      const time = times[i];
      return typeof time === 'string' ? { ...e, time } : e;
    });
  }
  return metadata as unknown as StoredFinding['metadata'];
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Parsed shared parts (advisory, context), by their hash in hex when the row gives it (SQLite),
 * else by their JSON text. A page of findings repeats a few advisories and resources many times;
 * parsing each once per page was most of a page's CPU, and finding a part by its 1–2 KB of text
 * (hashing and comparing the text of every row) was a third of what was left. A hash is of the
 * part's kind and content, so it names the same part in every file. The parsed values are
 * frozen: a served object shares them, and a caller that changes one fails loudly instead of
 * changing every other finding's copy. Bounded; the oldest entry goes.
 */
const SHARED_PARTS_KEPT = 4096;
const sharedParts = new Map<string, unknown>();

function parseShared<T>(json: string, key: string = json): T {
  let value = sharedParts.get(key);
  if (value === undefined) {
    value = deepFreeze(JSON.parse(json) as unknown);
    if (sharedParts.size >= SHARED_PARTS_KEPT)
      sharedParts.delete(sharedParts.keys().next().value as string);
    sharedParts.set(key, value);
  }
  return value as T;
}

/** A row's shared part: found by its hash when the row has one, else by its text. */
function rowPart<T>(json: string | null, hash: unknown): T | undefined {
  if (json === null) return undefined;
  return parseShared<T>(json, typeof hash === 'string' && hash !== '' ? hash : json);
}

/** Puts a row back together into the Finding it was split from. */
export function joinRow(row: StoredRow): StoredFinding {
  const body = JSON.parse(row.body) as Json & { metadata: Json; status?: Json };
  const context = rowPart<Context>(row.context, row.context_key) ?? {};
  const out: StoredFinding = {
    apiVersion: FINDINGS_API_VERSION,
    kind: 'Finding',
    ...body,
    metadata: joinMetadata(row, body.metadata, context),
  };
  if (body.status !== undefined) {
    const status: Json = {};
    for (const [field, column] of STATUS_COLUMN_PAIRS) {
      const v = row[column];
      if (typeof v === 'string') status[field] = v;
    }
    const advisory = rowPart<Json>(row.advisory, row.advisory_key);
    if (advisory !== undefined) Object.assign(status, advisory);
    Object.assign(status, body.status);
    if (context.resource !== undefined) status.resource = context.resource;
    out.status = status;
  }
  return out;
}

/**
 * The event log's copy of an object: everything but the advisory part, which the event refers
 * to by the id the row has, so advisory text is not repeated in the log either.
 */
export function eventBody(finding: StoredFinding): string {
  if (!isRecord(finding.status)) return JSON.stringify(finding);
  return JSON.stringify({ ...finding, status: splitStatus(finding.status).rest });
}

/** Puts an event log entry back together. */
export function joinEvent(body: string, advisory: string | null): StoredFinding {
  const object = JSON.parse(body) as StoredFinding;
  if (advisory !== null && isRecord(object.status))
    object.status = { ...parseShared<Json>(advisory), ...object.status };
  return object;
}
