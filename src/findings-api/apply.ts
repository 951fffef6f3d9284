// Server-side apply of a Finding (application/apply-patch+yaml): merges the applied
// configuration into the live object under one field manager, as described in
// managed-fields.ts. Pure.
import {
  type FieldValues,
  type Manager,
  type Obj,
  assignOwnership,
  fromFieldsV1,
  readEntries,
  setField,
  trackedFields,
} from './managed-fields.ts';

export interface Conflict {
  manager: string;
  field: string;
}

export type ApplyResult = { ok: true; object: Obj } | { ok: false; conflicts: Conflict[] };

/** `.spec.attributes.owner`, as kube-apiserver prints a conflicting field. */
export function fieldPath(key: string): string {
  return '.' + key.split('\u0000').join('.');
}

function conflictsOf(
  live: Obj,
  applied: FieldValues,
  liveValues: FieldValues,
  manager: Manager,
): Conflict[] {
  const conflicts: Conflict[] = [];
  for (const e of readEntries(live)) {
    if (e.manager === manager.name && e.operation === 'Apply') continue;
    for (const f of fromFieldsV1(e.fieldsV1)) {
      const value = applied.get(f);
      if (value !== undefined && liveValues.has(f) && liveValues.get(f) !== value) {
        conflicts.push({ manager: e.manager, field: fieldPath(f) });
      }
    }
  }
  return conflicts;
}

/** Fields the manager applied before and leaves out now that no other manager owns. */
function removedFields(live: Obj, applied: FieldValues, manager: Manager): Set<string> {
  const entries = readEntries(live);
  const mine = entries.find(
    (e) =>
      e.manager === manager.name &&
      e.operation === 'Apply' &&
      (e.subresource ?? '') === (manager.subresource ?? ''),
  );
  const before = mine ? fromFieldsV1(mine.fieldsV1) : new Set<string>();
  const others = new Set<string>();
  for (const e of entries) if (e !== mine) for (const f of fromFieldsV1(e.fieldsV1)) others.add(f);
  return new Set([...before].filter((f) => !applied.has(f) && !others.has(f)));
}

/**
 * Applies `config` (only its tracked fields count) to `live` as `manager` (operation Apply).
 * `allowed` limits which tracked fields the caller may own (the rest of the configuration is
 * ignored, like status on the main resource).
 */
export function serverSideApply(
  live: Obj,
  config: Obj,
  manager: Manager,
  options: { force: boolean; now: Date; allowed: (field: string) => boolean },
): ApplyResult {
  const applied: FieldValues = new Map(
    [...trackedFields(config)].filter(([f]) => options.allowed(f)),
  );
  const liveValues = trackedFields(live);
  const conflicts = conflictsOf(live, applied, liveValues, manager);
  if (conflicts.length > 0 && !options.force) return { ok: false, conflicts };
  const object = structuredClone(live);
  for (const f of removedFields(live, applied, manager)) setField(object, f, undefined);
  for (const [f, v] of applied) setField(object, f, JSON.parse(v));
  const taken = new Set(options.force ? conflicts.map((c) => c.field) : []);
  const takenKeys = new Set([...applied.keys()].filter((f) => taken.has(fieldPath(f))));
  const entries = assignOwnership(
    readEntries(live),
    { ...manager, operation: 'Apply' },
    new Set(applied.keys()),
    takenKeys,
    options.now,
  );
  (object.metadata as Obj).managedFields = entries;
  return { ok: true, object };
}

/** The 409 message kube-apiserver gives an apply with conflicts. */
export function conflictMessage(conflicts: Conflict[], apiVersion: string): string {
  const n = conflicts.length;
  const lines = conflicts.map(
    (c) => `- conflict with "${c.manager}" using ${apiVersion}: ${c.field}`,
  );
  return `Apply failed with ${n} conflict${n === 1 ? '' : 's'}: ${n === 1 ? lines[0]!.slice(2) : '\n' + lines.join('\n')}`;
}
