// Owner references and finalizers, with the rules of controller-runtime's
// controllerutil (SetControllerReference, validateOwner, AddFinalizer) adapted
// to server-side apply: helpers return apply-body fragments instead of mutating
// a fetched object. Pure functions.

/** metav1.OwnerReference. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** The parts of an object these helpers read. Timestamps may be strings or Dates. */
export interface ObjectLike {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  metadata?:
    | {
        name?: string | undefined;
        namespace?: string | undefined;
        uid?: string | undefined;
        ownerReferences?: readonly OwnerReference[] | undefined;
        finalizers?: readonly string[] | undefined;
        deletionTimestamp?: string | Date | undefined;
      }
    | undefined;
}

/** An object identified for server-side apply. */
export interface ApplyTarget {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string | undefined;
}

/** Base class of the refusals below, so callers can treat them as terminal errors. */
export class OwnershipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OwnershipError';
  }
}

/** The child already has a controller other than the owner (controllerutil.AlreadyOwnedError). */
export class AlreadyOwnedError extends OwnershipError {
  readonly existing: OwnerReference;
  constructor(child: string, existing: OwnerReference, wanted: OwnerReference) {
    super(
      `${child} is already controlled by ${existing.kind} ${existing.name} (uid ${existing.uid}); ` +
        `refusing to make ${wanted.kind} ${wanted.name} a second controller`,
    );
    this.name = 'AlreadyOwnedError';
    this.existing = existing;
  }
}

/** The owner may not own the child because of namespaces (controllerutil.validateOwner). */
export class InvalidOwnerError extends OwnershipError {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidOwnerError';
  }
}

/** A finalizer may not be added to an object that is being deleted. */
export class DeletingObjectError extends OwnershipError {
  constructor(object: string, finalizer: string) {
    super(`${object} is being deleted; refusing to add finalizer ${finalizer}`);
    this.name = 'DeletingObjectError';
  }
}

function describe(obj: ObjectLike): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '<unnamed>';
  return `${obj.kind ?? 'object'} ${ns !== undefined && ns !== '' ? `${ns}/` : ''}${name}`;
}

function required(obj: ObjectLike, field: 'apiVersion' | 'kind' | 'name' | 'uid'): string {
  const value = field === 'apiVersion' || field === 'kind' ? obj[field] : obj.metadata?.[field];
  if (value === undefined || value === '') {
    throw new OwnershipError(`${describe(obj)} has no ${field}; cannot reference it as an owner`);
  }
  return value;
}

/**
 * The controller reference a child carries for its owner: controller and
 * blockOwnerDeletion set, so garbage collection deletes the child with the
 * owner and foreground deletion waits for it.
 */
export function controllerReference(owner: ObjectLike): OwnerReference {
  return {
    apiVersion: required(owner, 'apiVersion'),
    kind: required(owner, 'kind'),
    name: required(owner, 'name'),
    uid: required(owner, 'uid'),
    controller: true,
    blockOwnerDeletion: true,
  };
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Same object: same group, kind and name (the version may differ), as controllerutil compares. */
function sameReferent(a: OwnerReference, b: OwnerReference): boolean {
  return groupOf(a.apiVersion) === groupOf(b.apiVersion) && a.kind === b.kind && a.name === b.name;
}

/**
 * Checks that owner may own child. Scope is read from metadata.namespace: a
 * namespaced object must carry its namespace (objects from the cache do).
 * A cluster-scoped owner may own anything; a namespaced owner only objects of
 * its own namespace, never a cluster-scoped one.
 */
export function validateOwner(owner: ObjectLike, child: ObjectLike): void {
  const ownerNs = owner.metadata?.namespace ?? '';
  const childNs = child.metadata?.namespace ?? '';
  if (ownerNs === '') return;
  if (childNs === '') {
    throw new InvalidOwnerError(
      `cluster-scoped ${describe(child)} cannot be owned by namespaced ${describe(owner)}`,
    );
  }
  if (childNs !== ownerNs) {
    throw new InvalidOwnerError(
      `cross-namespace owner references are not allowed: ${describe(owner)} cannot own ${describe(child)}`,
    );
  }
}

/**
 * The ownerReferences the child should carry with owner as its controller:
 * the child's existing references with the owner's reference added or
 * refreshed. Throws AlreadyOwnedError when another object is the controller
 * and InvalidOwnerError for namespace violations. Put the result in the
 * child's apply body.
 */
export function withControllerReference(owner: ObjectLike, child: ObjectLike): OwnerReference[] {
  validateOwner(owner, child);
  const ref = controllerReference(owner);
  const existing = child.metadata?.ownerReferences ?? [];
  const otherController = existing.find((r) => r.controller === true && !sameReferent(r, ref));
  if (otherController !== undefined) {
    throw new AlreadyOwnedError(describe(child), otherController, ref);
  }
  const index = existing.findIndex((r) => sameReferent(r, ref));
  const out = [...existing];
  if (index >= 0) out[index] = ref;
  else out.push(ref);
  return out;
}

/** The controller reference of an object, if any: what an owner-UID index keys on. */
export function controllerOf(obj: ObjectLike): OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

/** True when owner is the controller of obj (by UID). */
export function isControlledBy(obj: ObjectLike, owner: ObjectLike): boolean {
  const uid = owner.metadata?.uid;
  return uid !== undefined && controllerOf(obj)?.uid === uid;
}

// ---------------------------------------------------------------- finalizers

/** Finalizer names are qualified names: `<domain>/<name>`. */
const FINALIZER_PATTERN =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

function checkFinalizer(finalizer: string): void {
  if (!FINALIZER_PATTERN.test(finalizer)) {
    throw new OwnershipError(
      `finalizer ${JSON.stringify(finalizer)} must be a qualified name such as kubeinspector.io/cleanup`,
    );
  }
}

export function isBeingDeleted(obj: ObjectLike): boolean {
  const ts = obj.metadata?.deletionTimestamp;
  return ts !== undefined && ts !== '';
}

export function hasFinalizer(obj: ObjectLike, finalizer: string): boolean {
  return obj.metadata?.finalizers?.includes(finalizer) ?? false;
}

/** Add only to live objects that lack it (controllerutil: never add while deleting). */
export function needsFinalizer(obj: ObjectLike, finalizer: string): boolean {
  return !isBeingDeleted(obj) && !hasFinalizer(obj, finalizer);
}

/** Remove when the object is being deleted, our cleanup is done, and it is still there. */
export function mayRemoveFinalizer(obj: ObjectLike, finalizer: string): boolean {
  return isBeingDeleted(obj) && hasFinalizer(obj, finalizer);
}

/** An apply body: apiVersion, kind, metadata (with name) and whatever else the manager owns. */
export interface ApplyBody {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; finalizers?: string[]; [key: string]: unknown };
  [key: string]: unknown;
}

/**
 * The apply body that states our finalizer on an object whose other fields we
 * do not own (a user's primary object): `{metadata:{finalizers:[f]}}` with our
 * field manager adds it; the same body without finalizers (present = false)
 * releases our ownership, which removes it while leaving every other
 * manager's finalizers alone. `current` is the object from the cache; adding
 * to an object that is being deleted is refused, as the API server would.
 */
export function finalizerApplyBody(
  target: ApplyTarget,
  finalizer: string,
  present: boolean,
  current?: ObjectLike,
): ApplyBody {
  checkFinalizer(finalizer);
  if (
    present &&
    current !== undefined &&
    isBeingDeleted(current) &&
    !hasFinalizer(current, finalizer)
  ) {
    throw new DeletingObjectError(describe(current), finalizer);
  }
  return {
    apiVersion: target.apiVersion,
    kind: target.kind,
    metadata: {
      name: target.name,
      ...(target.namespace !== undefined && target.namespace !== ''
        ? { namespace: target.namespace }
        : {}),
      ...(present ? { finalizers: [finalizer] } : {}),
    },
  };
}

/**
 * Adds a finalizer to an apply body the manager sends anyway (an object it
 * owns more of). Returns a new body. Under one field manager every apply must
 * repeat the finalizer for as long as it should stay.
 */
export function withFinalizer<B extends ApplyBody>(body: B, finalizer: string): B {
  checkFinalizer(finalizer);
  const current = body.metadata.finalizers ?? [];
  if (current.includes(finalizer)) return body;
  return { ...body, metadata: { ...body.metadata, finalizers: [...current, finalizer] } };
}

/** Removes a finalizer from an apply body; drops the list when it becomes empty. */
export function withoutFinalizer<B extends ApplyBody>(body: B, finalizer: string): B {
  const current = body.metadata.finalizers;
  if (current === undefined || !current.includes(finalizer)) return body;
  const rest = current.filter((f) => f !== finalizer);
  const { finalizers: _dropped, ...metadata } = body.metadata;
  return {
    ...body,
    metadata: rest.length > 0 ? { ...metadata, finalizers: rest } : metadata,
  };
}
