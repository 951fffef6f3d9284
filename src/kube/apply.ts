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
  const own = ownEntry(current, subresource, manager);
  if (own?.fieldsV1 !== undefined) {
    // Compare within the part this request writes: status for /status, the rest otherwise.
    const scoped =
      subresource === 'status'
        ? { 'f:status': own.fieldsV1['f:status'] ?? {} }
        : Object.fromEntries(Object.entries(own.fieldsV1).filter(([k]) => k !== 'f:status'));
    if (ownsFieldsNotIn(scoped, desired)) return true;
  }
  return false;
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
