import { describe, expect, it } from 'vitest';
import { forbiddenChanges, mayDelete, mergeForUpdate, roleOf } from './write-rules.ts';

const policy = { controllerUsernames: ['ctl'], deleterUsernames: ['gc', 'ns'] };
type Obj = Record<string, unknown>;

const stored: Obj = {
  apiVersion: 'findings.kubeinspector.io/v1alpha1',
  kind: 'Finding',
  metadata: {
    name: 'f',
    namespace: 'ns',
    uid: 'u1',
    resourceVersion: '5',
    generation: 2,
    creationTimestamp: '2026-01-01T00:00:00Z',
    labels: { 'kubeinspector.io/severity': 'HIGH' },
    managedFields: [{ manager: 'ctl' }],
  },
  spec: { attributes: { a: '1' } },
  status: { severity: 'HIGH' },
};

function edit(change: (o: Obj & { metadata: Obj; spec: Obj; status: Obj }) => void): Obj {
  const o = structuredClone(stored) as Obj & { metadata: Obj; spec: Obj; status: Obj };
  change(o);
  return o;
}

describe('roles', () => {
  it.each([
    ['ctl', 'controller', true],
    ['gc', 'system', true],
    ['alice', 'user', false],
  ] as const)('%s is %s (may delete: %s)', (user, role, del) => {
    expect(roleOf(user, policy)).toBe(role);
    expect(mayDelete(role)).toBe(del);
  });
});

describe('forbiddenChanges', () => {
  it.each([
    ['an attribute', (o: Obj & { spec: Obj }) => ((o.spec.attributes as Obj).b = '2')],
    ['an own label', (o: Obj & { metadata: Obj }) => ((o.metadata.labels as Obj).team = 'x')],
    ['an own annotation', (o: Obj & { metadata: Obj }) => (o.metadata.annotations = { note: 'x' })],
  ])('lets a person change %s', (_name, change) => {
    expect(forbiddenChanges(stored, edit(change), 'user')).toEqual([]);
  });

  it.each([
    [
      'a controller label',
      (o: Obj & { metadata: Obj }) =>
        ((o.metadata.labels as Obj)['kubeinspector.io/severity'] = 'LOW'),
      'metadata.labels[kubeinspector.io/severity]',
    ],
    [
      'ownerReferences',
      (o: Obj & { metadata: Obj }) => (o.metadata.ownerReferences = []),
      'metadata.ownerReferences',
    ],
    ['status', (o: Obj & { status: Obj }) => (o.status.severity = 'LOW'), 'status'],
    ['another spec field', (o: Obj & { spec: Obj }) => (o.spec.other = 1), 'spec'],
  ])('refuses a person changing %s', (_name, change, field) => {
    expect(forbiddenChanges(stored, edit(change), 'user').map((c) => c.field)).toEqual([field]);
  });

  it('lets the garbage collector change ownerReferences and finalizers, and the controller anything', () => {
    const gcEdit = edit((o) => {
      o.metadata.ownerReferences = [];
      o.metadata.finalizers = ['foregroundDeletion'];
    });
    expect(forbiddenChanges(stored, gcEdit, 'system')).toEqual([]);
    expect(
      forbiddenChanges(
        stored,
        edit((o) => (o.status.severity = 'LOW')),
        'controller',
      ),
    ).toEqual([]);
  });
});

describe('mergeForUpdate', () => {
  it('keeps status and server metadata on the main resource', () => {
    const incoming = edit((o) => {
      o.status.severity = 'LOW';
      o.metadata.uid = 'other';
      o.metadata.generation = 99;
      delete o.metadata.resourceVersion;
    });
    const out = mergeForUpdate(stored, incoming, undefined) as Obj & { metadata: Obj; status: Obj };
    expect(out.status.severity).toBe('HIGH');
    expect(out.metadata).toMatchObject({
      uid: 'u1',
      generation: 2,
      managedFields: [{ manager: 'ctl' }],
    });
    expect(out.metadata.resourceVersion).toBeUndefined();
  });

  it('takes only status (and the precondition) through /status', () => {
    const incoming = edit((o) => {
      o.status.severity = 'LOW';
      o.spec.attributes = {};
      (o.metadata.labels as Obj).x = 'y';
      o.metadata.resourceVersion = '4';
    });
    const out = mergeForUpdate(stored, incoming, 'status') as Obj & {
      metadata: Obj;
      status: Obj;
      spec: Obj;
    };
    expect(out.status.severity).toBe('LOW');
    expect(out.spec).toEqual({ attributes: { a: '1' } });
    expect(out.metadata.labels).toEqual({ 'kubeinspector.io/severity': 'HIGH' });
    expect(out.metadata.resourceVersion).toBe('4');
  });
});
