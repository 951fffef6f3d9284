// Who may write what on a Finding. Findings are computed by the controller: people may change
// only spec.attributes and the labels and annotations outside the project's prefix; the garbage
// collector and namespace controller may also change ownerReferences and finalizers; the
// controller may change everything. The main resource ignores status and /status ignores
// everything but status, as for a CRD with the status subresource. Pure.
import { LABEL_PREFIX } from '../api/v1alpha1/common.ts';
import type { StatusCause } from './status.ts';

type Obj = { [key: string]: unknown };

/** controller: the project's service account; system: GC and namespace controller; user: anyone else. */
export type Role = 'controller' | 'system' | 'user';

export interface WritePolicy {
  /** Usernames of the controller (create, /status, every field). */
  controllerUsernames: readonly string[];
  /** Usernames besides the controller's that may delete (garbage collector, namespace controller). */
  deleterUsernames: readonly string[];
}

export function roleOf(username: string, policy: WritePolicy): Role {
  if (policy.controllerUsernames.includes(username)) return 'controller';
  if (policy.deleterUsernames.includes(username)) return 'system';
  return 'user';
}

export function mayDelete(role: Role): boolean {
  return role !== 'user';
}

/** Metadata the server owns: always taken from the stored object. */
const SERVER_METADATA = [
  'uid',
  'creationTimestamp',
  'generation',
  'managedFields',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'selfLink',
];

function meta(o: Obj): Obj {
  return (o.metadata ?? {}) as Obj;
}

/** The object an update of the main resource or of /status would store (before policy checks). */
export function mergeForUpdate(stored: Obj, incoming: Obj, subresource: 'status' | undefined): Obj {
  const rv = meta(incoming).resourceVersion;
  if (subresource === 'status') {
    const out: Obj = { ...stored, metadata: { ...meta(stored) } };
    if (incoming.status === undefined) delete out.status;
    else out.status = incoming.status;
    if (rv !== undefined) (out.metadata as Obj).resourceVersion = rv;
    else delete (out.metadata as Obj).resourceVersion;
    return out;
  }
  const metadata: Obj = { ...meta(incoming) };
  for (const k of SERVER_METADATA) {
    if (meta(stored)[k] === undefined) delete metadata[k];
    else metadata[k] = meta(stored)[k];
  }
  const out: Obj = { ...incoming, metadata };
  if (stored.status === undefined) delete out.status;
  else out.status = stored.status;
  return out;
}

const ownKey = (k: string) => !k.startsWith(LABEL_PREFIX);

function mapChanges(
  before: unknown,
  after: unknown,
  field: string,
  allowed: (k: string) => boolean,
): StatusCause[] {
  const b = (before ?? {}) as Record<string, unknown>;
  const a = (after ?? {}) as Record<string, unknown>;
  const keys = new Set([...Object.keys(b), ...Object.keys(a)]);
  return [...keys]
    .filter((k) => b[k] !== a[k] && !allowed(k))
    .map((k) => ({
      reason: 'FieldValueForbidden',
      field: `${field}[${k}]`,
      message: `Forbidden: ${LABEL_PREFIX} keys are set by the controller`,
    }));
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** Changes from `stored` to `next` that `role` may not make (empty when allowed). */
export function forbiddenChanges(stored: Obj, next: Obj, role: Role): StatusCause[] {
  if (role === 'controller') return [];
  const b = meta(stored);
  const a = meta(next);
  const causes = [
    ...mapChanges(b.labels, a.labels, 'metadata.labels', ownKey),
    ...mapChanges(b.annotations, a.annotations, 'metadata.annotations', ownKey),
  ];
  const systemFields = role === 'system' ? ['ownerReferences', 'finalizers'] : [];
  const skip = new Set([
    'labels',
    'annotations',
    'resourceVersion',
    ...SERVER_METADATA,
    ...systemFields,
  ]);
  for (const k of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (!skip.has(k) && !same(b[k], a[k])) {
      causes.push({
        reason: 'FieldValueForbidden',
        field: `metadata.${k}`,
        message: 'Forbidden: set by the controller',
      });
    }
  }
  const { attributes: _sa, ...specBefore } = (stored.spec ?? {}) as Obj;
  const { attributes: _na, ...specAfter } = (next.spec ?? {}) as Obj;
  if (!same(specBefore, specAfter))
    causes.push({
      reason: 'FieldValueForbidden',
      field: 'spec',
      message: 'Forbidden: only spec.attributes may be changed',
    });
  if (!same(stored.status, next.status))
    causes.push({
      reason: 'FieldValueForbidden',
      field: 'status',
      message: 'Forbidden: status is written by the controller',
    });
  return causes;
}

/**
 * Which tracked fields (managed-fields.ts keys) an apply may set: status only through /status,
 * everything else only through the main resource. What the role may change is checked after.
 */
export function applyAllowed(subresource: 'status' | undefined): (field: string) => boolean {
  return (field) => (field.split('\u0000')[0] === 'status') === (subresource === 'status');
}
