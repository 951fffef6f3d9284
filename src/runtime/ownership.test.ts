import { describe, expect, it } from 'vitest';
import {
  AlreadyOwnedError,
  controllerOf,
  controllerReference,
  DeletingObjectError,
  finalizerApplyBody,
  hasFinalizer,
  InvalidOwnerError,
  isControlledBy,
  mayRemoveFinalizer,
  needsFinalizer,
  type ObjectLike,
  OwnershipError,
  validateOwner,
  withControllerReference,
  withFinalizer,
  withoutFinalizer,
} from './ownership.ts';

const run: ObjectLike = {
  apiVersion: 'kubeinspector.io/v1alpha1',
  kind: 'AssessmentRun',
  metadata: { name: 'nightly', namespace: 'team-a', uid: 'uid-run' },
};
const clusterConfig: ObjectLike = {
  apiVersion: 'kubeinspector.io/v1alpha1',
  kind: 'ScanConfiguration',
  metadata: { name: 'default', uid: 'uid-config' },
};
const finding = (ns: string | undefined, owners: ObjectLike['metadata'] = {}): ObjectLike => ({
  apiVersion: 'kubeinspector.io/v1alpha1',
  kind: 'Finding',
  metadata: { name: 'f1', ...(ns !== undefined ? { namespace: ns } : {}), ...owners },
});

describe('controllerReference', () => {
  it('marks the owner as controller and blocks its deletion until the child is gone', () => {
    expect(controllerReference(run)).toEqual({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'AssessmentRun',
      name: 'nightly',
      uid: 'uid-run',
      controller: true,
      blockOwnerDeletion: true,
    });
  });

  it('refuses an owner without a uid, which only a stored object has', () => {
    expect(() => controllerReference({ ...run, metadata: { name: 'x', namespace: 'a' } })).toThrow(
      /has no uid/,
    );
  });
});

describe('validateOwner', () => {
  const cases: { name: string; owner: ObjectLike; child: ObjectLike; error: RegExp | undefined }[] =
    [
      {
        name: 'a namespaced owner may own a child of its namespace',
        owner: run,
        child: finding('team-a'),
        error: undefined,
      },
      {
        name: 'a cluster-scoped owner may own a namespaced child',
        owner: clusterConfig,
        child: finding('team-a'),
        error: undefined,
      },
      {
        name: 'a cluster-scoped owner may own a cluster-scoped child',
        owner: clusterConfig,
        child: finding(undefined),
        error: undefined,
      },
      {
        name: 'a namespaced owner may not own a child in another namespace',
        owner: run,
        child: finding('team-b'),
        error: /cross-namespace owner references are not allowed/,
      },
      {
        name: 'a namespaced owner may not own a cluster-scoped child',
        owner: run,
        child: finding(undefined),
        error:
          /cluster-scoped Finding f1 cannot be owned by namespaced AssessmentRun team-a\/nightly/,
      },
    ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.error === undefined) expect(() => validateOwner(c.owner, c.child)).not.toThrow();
      else {
        expect(() => validateOwner(c.owner, c.child)).toThrow(InvalidOwnerError);
        expect(() => validateOwner(c.owner, c.child)).toThrow(c.error);
      }
    });
  }
});

describe('withControllerReference', () => {
  it('adds the controller reference to a child without owners', () => {
    expect(withControllerReference(run, finding('team-a'))).toEqual([controllerReference(run)]);
  });

  it('keeps non-controller owners and refreshes an existing reference to the same owner', () => {
    const other = { apiVersion: 'v1', kind: 'ConfigMap', name: 'c', uid: 'u1' };
    const stale = { ...controllerReference(run), apiVersion: 'kubeinspector.io/v1alpha0' };
    const child = finding('team-a', { ownerReferences: [other, stale] });
    expect(withControllerReference(run, child)).toEqual([other, controllerReference(run)]);
  });

  it('refuses to make a second object the controller and names the current one', () => {
    const otherRun = { ...controllerReference(run), name: 'weekly', uid: 'uid-weekly' };
    const child = finding('team-a', { ownerReferences: [otherRun] });
    expect(() => withControllerReference(run, child)).toThrow(AlreadyOwnedError);
    expect(() => withControllerReference(run, child)).toThrow(
      /already controlled by AssessmentRun weekly/,
    );
  });

  it('refuses a cross-namespace owner before looking at existing references', () => {
    expect(() => withControllerReference(run, finding('team-b'))).toThrow(InvalidOwnerError);
  });

  it('controllerOf and isControlledBy find the controller by uid', () => {
    const child = finding('team-a', {
      ownerReferences: withControllerReference(run, finding('team-a')),
    });
    expect(controllerOf(child)?.uid).toBe('uid-run');
    expect(isControlledBy(child, run)).toBe(true);
    expect(isControlledBy(child, clusterConfig)).toBe(false);
  });
});

describe('finalizers', () => {
  const f = 'kubeinspector.io/cleanup';
  const live = finding('team-a', { finalizers: ['other.io/keep'] });
  const deleting = finding('team-a', {
    finalizers: [f],
    deletionTimestamp: '2026-01-01T00:00:00Z',
  });
  const target = {
    apiVersion: 'kubeinspector.io/v1alpha1',
    kind: 'Finding',
    name: 'f1',
    namespace: 'team-a',
  };

  const decisions: { name: string; obj: ObjectLike; needs: boolean; mayRemove: boolean }[] = [
    {
      name: 'a live object without our finalizer needs it',
      obj: live,
      needs: true,
      mayRemove: false,
    },
    {
      name: 'a live object with our finalizer needs nothing',
      obj: finding('team-a', { finalizers: [f] }),
      needs: false,
      mayRemove: false,
    },
    {
      name: 'a deleting object with our finalizer may have it removed',
      obj: deleting,
      needs: false,
      mayRemove: true,
    },
    {
      name: 'a deleting object without our finalizer is left alone',
      obj: finding('team-a', { deletionTimestamp: new Date() }),
      needs: false,
      mayRemove: false,
    },
  ];
  for (const d of decisions) {
    it(d.name, () => {
      expect(needsFinalizer(d.obj, f)).toBe(d.needs);
      expect(mayRemoveFinalizer(d.obj, f)).toBe(d.mayRemove);
    });
  }

  it('the apply body to add states only our finalizer, not the others', () => {
    expect(finalizerApplyBody(target, f, true, live)).toEqual({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'Finding',
      metadata: { name: 'f1', namespace: 'team-a', finalizers: [f] },
    });
  });

  it('the apply body to remove omits finalizers so our manager gives up the entry', () => {
    const body = finalizerApplyBody(target, f, false, deleting);
    expect(body).toEqual({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'Finding',
      metadata: { name: 'f1', namespace: 'team-a' },
    });
    expect('finalizers' in body.metadata).toBe(false);
  });

  it('the apply body of a cluster-scoped object has no namespace', () => {
    expect(finalizerApplyBody({ ...target, namespace: undefined }, f, true).metadata).toEqual({
      name: 'f1',
      finalizers: [f],
    });
  });

  it('refuses to add a finalizer to an object that is being deleted', () => {
    const gone = finding('team-a', { deletionTimestamp: '2026-01-01T00:00:00Z' });
    expect(() => finalizerApplyBody(target, f, true, gone)).toThrow(DeletingObjectError);
  });

  it('refuses a finalizer name that is not qualified', () => {
    expect(() => finalizerApplyBody(target, 'cleanup', true)).toThrow(OwnershipError);
  });

  it('withFinalizer and withoutFinalizer edit a larger apply body without touching the rest', () => {
    const body = { ...finalizerApplyBody(target, f, false), spec: { attributes: { a: 'b' } } };
    const added = withFinalizer(body, f);
    expect(added.metadata.finalizers).toEqual([f]);
    expect(added.spec).toEqual({ attributes: { a: 'b' } });
    expect(withFinalizer(added, f)).toBe(added);
    const removed = withoutFinalizer(added, f);
    expect(removed.metadata).toEqual({ name: 'f1', namespace: 'team-a' });
    expect(removed.spec).toEqual({ attributes: { a: 'b' } });
  });

  it('hasFinalizer reads the object', () => {
    expect(hasFinalizer(live, 'other.io/keep')).toBe(true);
    expect(hasFinalizer(live, f)).toBe(false);
  });
});
