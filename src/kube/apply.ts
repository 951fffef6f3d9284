// Writes by server-side apply under one field manager, skipped when they would
// change nothing: a steady cluster sees no writes from the controller.
//
// "Would change nothing" is decided against the cached object: every field we
// send already has that value (lists must match element by element), and no
// field our manager owns (from its managedFields entry, kept by the cache's
// transform) is missing from what we send — because SSA would remove it.
import type { KubeClient } from './client.ts';
import { isNotFound } from './client.ts';
import {
  collectionPath,
  type KubeObject,
  type ManagedFieldsEntry,
  objectPath,
  type ResourceType,
} from './resources.ts';

export const fieldManager = 'kube-inspector';

const ignoredTopLevel = new Set(['apiVersion', 'kind']);

/** True when every value in `desired` is present and equal in `current`. */
export function isSubset(desired: unknown, current: unknown, top = false): boolean {
  if (desired === null || typeof desired !== 'object') return desired === current;
  if (Array.isArray(desired)) {
    return (
      Array.isArray(current) &&
      desired.length === current.length &&
      desired.every((d, i) => isSubset(d, (current as unknown[])[i]))
    );
  }
  if (current === null || typeof current !== 'object' || Array.isArray(current)) return false;
  const cur = current as Record<string, unknown>;
  return Object.entries(desired as Record<string, unknown>).every(
    ([k, v]) => v === undefined || (top && ignoredTopLevel.has(k)) || isSubset(v, cur[k]),
  );
}

/** True when a field in the manager's fieldsV1 set is absent from `desired` (list elements excluded). */
export function ownsFieldsNotIn(fields: Record<string, unknown>, desired: unknown): boolean {
  for (const [k, child] of Object.entries(fields)) {
    if (!k.startsWith('f:')) continue; // ".", and k:/v:/i: list members: lists compare whole
    const name = k.slice(2);
    if (desired === null || typeof desired !== 'object' || Array.isArray(desired)) return true;
    const value = (desired as Record<string, unknown>)[name];
    if (value === undefined) return true;
    if (child !== null && typeof child === 'object' && !Array.isArray(value)) {
      if (ownsFieldsNotIn(child as Record<string, unknown>, value)) return true;
    }
  }
  return false;
}

function ownEntry(
  current: KubeObject,
  subresource: string | undefined,
  manager: string,
): ManagedFieldsEntry | undefined {
  return current.metadata.managedFields?.find(
    (m) =>
      m.manager === manager &&
      m.operation === 'Apply' &&
      (m.subresource ?? '') === (subresource ?? ''),
  );
}

/** Whether applying `desired` over `current` would change the object. */
export function wouldChange(
  desired: KubeObject,
  current: KubeObject | undefined,
  subresource?: string,
  manager: string = fieldManager,
): boolean {
  if (current === undefined) return true;
  if (!isSubset(desired, current, true)) return true;
  let owned = ownEntry(current, subresource, manager)?.fieldsV1;
  // Status written to the main resource (a kind without the status subresource): what the
  // manager wrote through /status before the subresource was dropped is its own too.
  const statusInMain = subresource === undefined && desired.status !== undefined;
  if (statusInMain) {
    const legacy = ownEntry(current, 'status', manager)?.fieldsV1;
    if (legacy !== undefined) owned = unionFields(owned ?? {}, legacy);
  }
  if (owned !== undefined) {
    // Compare within the part this request writes: status for /status, the rest otherwise.
    const scoped =
      subresource === 'status'
        ? { 'f:status': owned['f:status'] ?? {} }
        : statusInMain
          ? owned
          : Object.fromEntries(Object.entries(owned).filter(([k]) => k !== 'f:status'));
    if (ownsFieldsNotIn(scoped, desired)) return true;
  }
  return false;
}

/** The union of two fieldsV1 sets. */
export function unionFields(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const mine = out[k];
    out[k] =
      mine !== null && typeof mine === 'object' && v !== null && typeof v === 'object'
        ? unionFields(mine as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** How the API server tells two entries of the main resource apart (their time aside). */
function managerKey(e: ManagedFieldsEntry): string {
  return JSON.stringify([
    e.manager ?? '',
    e.operation ?? '',
    e.operation === 'Update' ? (e.apiVersion ?? '') : '',
  ]);
}

/**
 * managedFields with every entry of the status subresource folded into the main resource's
 * entry of the same manager (fields united, the later time kept); undefined when there is no
 * such entry. For a kind whose status subresource was dropped: an entry of `/status` can no
 * longer be written, so the fields it owns would stay owned by it for ever, and a field its
 * manager stops sending would never be removed.
 */
export function foldStatusEntries(
  entries: readonly ManagedFieldsEntry[] | undefined,
): ManagedFieldsEntry[] | undefined {
  if (entries === undefined || !entries.some((e) => e.subresource === 'status')) return undefined;
  const out = new Map<string, ManagedFieldsEntry>();
  for (const e of entries) {
    const { subresource: _s, ...main } = e;
    const key = managerKey(e);
    const same = out.get(key);
    if (same === undefined) {
      out.set(key, main);
      continue;
    }
    out.set(key, {
      ...same,
      ...(same.time === undefined || (main.time !== undefined && main.time > same.time)
        ? { time: main.time }
        : {}),
      fieldsV1: unionFields(same.fieldsV1 ?? {}, main.fieldsV1 ?? {}),
    });
  }
  return [...out.values()];
}

/**
 * Folds the object's `/status` managedFields entries into its main ones (`foldStatusEntries`):
 * it is read whole (a cache keeps only the product's own entries) by a list of that one name
 * (the verbs a controller with a cache already has: list, patch) and patched with a
 * resourceVersion test, so a concurrent write makes it fail and the caller retry. Returns
 * whether anything was written.
 */
export async function foldStatusManagedFields(
  client: KubeClient,
  resource: ResourceType,
  name: string,
  namespace?: string,
): Promise<boolean> {
  const list = await client.get<{ items: KubeObject[] }>(collectionPath(resource, namespace), {
    query: { fieldSelector: `metadata.name=${name}` },
  });
  const live = list.items[0];
  if (live === undefined) return false;
  const folded = foldStatusEntries(live.metadata.managedFields);
  if (folded === undefined) return false;
  await client.request('PATCH', objectPath(resource, name, namespace), {
    body: [
      { op: 'test', path: '/metadata/resourceVersion', value: live.metadata.resourceVersion },
      { op: 'replace', path: '/metadata/managedFields', value: folded },
    ],
    contentType: 'application/json-patch+json',
  });
  return true;
}

export interface ApplyOptions {
  /** The cached object, to skip writes that would change nothing. */
  current?: KubeObject | undefined;
  /** Apply to the status subresource. */
  status?: boolean;
  dryRun?: boolean;
  /**
   * Field manager of the write (default `kube-inspector`). Two controllers that write
   * different fields of one object use different managers, so neither removes the other's.
   */
  fieldManager?: string;
}

export interface ApplyResult<T> {
  /** False when the write was skipped because nothing would change. */
  written: boolean;
  object: T | undefined;
}

/** Server-side apply of the fields we own, as our field manager (default `kube-inspector`) with force. */
export async function apply<T extends KubeObject>(
  client: KubeClient,
  resource: ResourceType,
  desired: KubeObject,
  options: ApplyOptions = {},
): Promise<ApplyResult<T>> {
  const subresource = options.status ? 'status' : undefined;
  const manager = options.fieldManager ?? fieldManager;
  if (!wouldChange(desired, options.current, subresource, manager))
    return { written: false, object: undefined };
  // Status to the main resource over entries of a dropped status subresource: fold them first,
  // so this apply owns (and can remove) every field its manager wrote before.
  if (
    subresource === undefined &&
    desired.status !== undefined &&
    options.current?.metadata.managedFields?.some((e) => e.subresource === 'status') === true &&
    options.dryRun !== true
  ) {
    await foldStatusManagedFields(
      client,
      resource,
      desired.metadata.name,
      desired.metadata.namespace,
    );
  }
  const body = {
    ...desired,
    apiVersion:
      desired.apiVersion ??
      (resource.group ? `${resource.group}/${resource.version}` : resource.version),
    kind: desired.kind ?? resource.kind,
  };
  const object = await client.request<T>(
    'PATCH',
    objectPath(resource, desired.metadata.name, desired.metadata.namespace, subresource),
    {
      body,
      contentType: 'application/apply-patch+yaml',
      query: {
        fieldManager: manager,
        force: true,
        fieldValidation: 'Strict',
        dryRun: options.dryRun ? 'All' : undefined,
      },
    },
  );
  return { written: true, object };
}

/** Deletes an object; a missing one counts as deleted. Preconditions guard against deleting a newer object of the same name. */
export async function remove(
  client: KubeClient,
  resource: ResourceType,
  name: string,
  namespace?: string,
  options: { uid?: string; propagationPolicy?: 'Background' | 'Foreground' | 'Orphan' } = {},
): Promise<boolean> {
  try {
    await client.request('DELETE', objectPath(resource, name, namespace), {
      body: {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        ...(options.propagationPolicy ? { propagationPolicy: options.propagationPolicy } : {}),
        ...(options.uid ? { preconditions: { uid: options.uid } } : {}),
      },
    });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
