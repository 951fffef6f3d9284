// Field ownership for Finding (managedFields, FieldsV1) and server-side apply. A Finding has
// few fields anyone writes, so ownership is tracked at the granularity the API server uses for
// them: each key of metadata.labels, metadata.annotations and spec.attributes (maps of
// strings), and each top-level field of status (the controller's, written whole). Apply takes
// ownership of what the applied configuration names, fails with a conflict when another manager
// owns a field whose value would change (unless force), and removes fields the manager no
// longer applies and nobody else owns. An update (PUT, merge or JSON patch) takes ownership of
// the fields it changes. Pure; the clock is passed in.
import { FINDINGS_API_VERSION } from '../api/v1alpha1/common.ts';

export type Obj = { [key: string]: unknown };

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Obj;
  subresource?: string;
}

/** A tracked field: its path and its value (JSON text, for comparison). */
export type FieldValues = Map<string, string>;

const MAPS = [
  ['metadata', 'labels'],
  ['metadata', 'annotations'],
  ['spec', 'attributes'],
] as const;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Path segments joined with NUL (keys may contain dots and slashes). */
export const pathKey = (segments: string[]) => segments.join('\u0000');
const segmentsOf = (key: string) => key.split('\u0000');

/**
 * The tracked fields of an object with their values as they are (not copied); members that are
 * undefined are absent, as in the JSON that is stored.
 */
function trackedValues(obj: Obj): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const add = (key: string, v: unknown) => v !== undefined && out.set(key, v);
  for (const [top, map] of MAPS) {
    const m = (obj[top] as Obj | undefined)?.[map];
    if (isObject(m)) for (const [k, v] of Object.entries(m)) add(pathKey([top, map, k]), v);
  }
  if (isObject(obj.status)) {
    for (const [k, v] of Object.entries(obj.status)) add(pathKey(['status', k]), v);
  }
  return out;
}

/** The tracked fields of an object with their values. */
export function trackedFields(obj: Obj): FieldValues {
  const out: FieldValues = new Map();
  for (const [k, v] of trackedValues(obj)) out.set(k, JSON.stringify(v));
  return out;
}

/** Equal as JSON; the same value (most fields between two versions) without encoding it. */
const sameValue = (a: unknown, b: unknown): boolean =>
  a === b || JSON.stringify(a) === JSON.stringify(b);

export function toFieldsV1(fields: Iterable<string>): Obj {
  const root: Obj = {};
  for (const key of fields) {
    let cur = root;
    for (const seg of segmentsOf(key)) cur = (cur[`f:${seg}`] ??= {}) as Obj;
  }
  return root;
}

export function fromFieldsV1(fieldsV1: unknown, prefix: string[] = []): Set<string> {
  const out = new Set<string>();
  if (!isObject(fieldsV1)) return out;
  for (const [k, v] of Object.entries(fieldsV1)) {
    if (!k.startsWith('f:')) continue;
    const path = [...prefix, k.slice(2)];
    const children = fromFieldsV1(v, path);
    if (children.size === 0) out.add(pathKey(path));
    for (const c of children) out.add(c);
  }
  return out;
}

/** Sets (or with undefined, deletes) a tracked field on an object, creating parents. */
export function setField(obj: Obj, key: string, value: unknown): void {
  const segs = segmentsOf(key);
  let cur = obj;
  for (const s of segs.slice(0, -1)) {
    if (!isObject(cur[s])) {
      if (value === undefined) return;
      cur[s] = {};
    }
    cur = cur[s] as Obj;
  }
  const last = segs[segs.length - 1]!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
}

export function readEntries(obj: Obj): ManagedFieldsEntry[] {
  const mf = (obj.metadata as Obj | undefined)?.managedFields;
  return Array.isArray(mf) ? (mf.filter(isObject) as unknown as ManagedFieldsEntry[]) : [];
}

export interface Manager {
  name: string;
  operation: 'Apply' | 'Update';
  subresource?: string;
}

const sameManager = (e: ManagedFieldsEntry, m: Manager) =>
  e.manager === m.name &&
  e.operation === m.operation &&
  (e.subresource ?? '') === (m.subresource ?? '');

/** Entries with `fields` given to `manager` (merged into its entry) and taken from every other. */
export function assignOwnership(
  entries: ManagedFieldsEntry[],
  manager: Manager,
  owned: Set<string>,
  taken: Set<string>,
  now: Date,
): ManagedFieldsEntry[] {
  const out: ManagedFieldsEntry[] = [];
  for (const e of entries) {
    if (sameManager(e, manager)) continue;
    const left = [...fromFieldsV1(e.fieldsV1)].filter((f) => !taken.has(f));
    if (left.length > 0) out.push({ ...e, fieldsV1: toFieldsV1(left) });
  }
  if (owned.size > 0) {
    out.push({
      manager: manager.name,
      operation: manager.operation,
      apiVersion: FINDINGS_API_VERSION,
      time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1([...owned].sort()),
      ...(manager.subresource ? { subresource: manager.subresource } : {}),
    });
  }
  return out;
}

/** After an update from `before` to `after`: the writer owns what it changed, in addition. */
export function recordUpdate(
  before: Obj | undefined,
  after: Obj,
  manager: Manager,
  now: Date,
): ManagedFieldsEntry[] {
  const entries = before ? readEntries(before) : [];
  const old = before ? trackedValues(before) : new Map<string, unknown>();
  const cur = trackedValues(after);
  const changed = new Set<string>();
  for (const [k, v] of cur) if (!old.has(k) || !sameValue(old.get(k), v)) changed.add(k);
  for (const k of old.keys()) if (!cur.has(k)) changed.add(k);
  const mine = entries.find((e) => sameManager(e, manager));
  const owned = new Set(
    [...(mine ? fromFieldsV1(mine.fieldsV1) : []), ...changed].filter((f) => cur.has(f)),
  );
  if (changed.size === 0 && !mine) return entries;
  return assignOwnership(entries, manager, owned, changed, now);
}
