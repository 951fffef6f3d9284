import { describe, expect, it } from 'vitest';
import { conflictMessage, serverSideApply } from './apply.ts';
import { type Obj, fromFieldsV1, readEntries, recordUpdate, toFieldsV1 } from './managed-fields.ts';
import { applyAllowed } from './write-rules.ts';

const now = new Date('2026-12-01T10:00:00.000Z');
const main = { force: false, now, allowed: applyAllowed(undefined) };

function finding(attributes: Record<string, string>, extra: Obj = {}): Obj {
  return {
    apiVersion: 'findings.kubeinspector.io/v1alpha1',
    kind: 'Finding',
    metadata: {
      name: 'f',
      namespace: 'ns',
      labels: { 'kubeinspector.io/severity': 'HIGH' },
      ...extra,
    },
    spec: { attributes },
    status: { severity: 'HIGH' },
  };
}

const config = (attributes: Record<string, string>): Obj => ({
  apiVersion: 'findings.kubeinspector.io/v1alpha1',
  kind: 'Finding',
  metadata: { name: 'f' },
  spec: { attributes },
});

function applied(result: ReturnType<typeof serverSideApply>): Obj {
  if (!result.ok) throw new Error(`conflicts: ${JSON.stringify(result.conflicts)}`);
  return result.object;
}

describe('FieldsV1', () => {
  it('round-trips paths, keys with dots and slashes included', () => {
    const fields = ['spec\0attributes\0team.io/owner', 'metadata\0labels\0a', 'status\0severity'];
    const v1 = toFieldsV1(fields);
    expect(v1).toEqual({
      'f:spec': { 'f:attributes': { 'f:team.io/owner': {} } },
      'f:metadata': { 'f:labels': { 'f:a': {} } },
      'f:status': { 'f:severity': {} },
    });
    expect([...fromFieldsV1(v1)].sort()).toEqual([...fields].sort());
  });
});

describe('serverSideApply', () => {
  it('adds the applied attributes and records the manager as Apply', () => {
    const out = applied(
      serverSideApply(
        finding({}),
        config({ owner: 'alice' }),
        { name: 'kubectl', operation: 'Apply' },
        main,
      ),
    );
    expect((out.spec as Obj).attributes).toEqual({ owner: 'alice' });
    const entries = readEntries(out);
    expect(entries).toEqual([
      expect.objectContaining({
        manager: 'kubectl',
        operation: 'Apply',
        fieldsV1: { 'f:spec': { 'f:attributes': { 'f:owner': {} } } },
      }),
    ]);
    expect((out.status as Obj).severity).toBe('HIGH');
  });

  it('conflicts when another manager owns a field whose value would change', () => {
    let obj = finding({});
    obj = applied(
      serverSideApply(
        obj,
        config({ owner: 'alice' }),
        { name: 'gitops', operation: 'Apply' },
        main,
      ),
    );
    const result = serverSideApply(
      obj,
      config({ owner: 'bob' }),
      { name: 'kubectl', operation: 'Apply' },
      main,
    );
    expect(result).toEqual({
      ok: false,
      conflicts: [{ manager: 'gitops', field: '.spec.attributes.owner' }],
    });
    expect(
      conflictMessage(
        [{ manager: 'gitops', field: '.spec.attributes.owner' }],
        'findings.kubeinspector.io/v1alpha1',
      ),
    ).toBe(
      'Apply failed with 1 conflict: conflict with "gitops" using findings.kubeinspector.io/v1alpha1: .spec.attributes.owner',
    );
  });

  it('shares ownership without conflict when the value is the same', () => {
    let obj = applied(
      serverSideApply(
        finding({}),
        config({ owner: 'alice' }),
        { name: 'gitops', operation: 'Apply' },
        main,
      ),
    );
    obj = applied(
      serverSideApply(
        obj,
        config({ owner: 'alice' }),
        { name: 'kubectl', operation: 'Apply' },
        main,
      ),
    );
    expect(
      readEntries(obj)
        .map((e) => e.manager)
        .sort(),
    ).toEqual(['gitops', 'kubectl']);
  });

  it('with force takes the field away from the other manager', () => {
    let obj = applied(
      serverSideApply(
        finding({}),
        config({ owner: 'alice', team: 'a' }),
        { name: 'gitops', operation: 'Apply' },
        main,
      ),
    );
    obj = applied(
      serverSideApply(
        obj,
        config({ owner: 'bob' }),
        { name: 'kubectl', operation: 'Apply' },
        { ...main, force: true },
      ),
    );
    expect((obj.spec as Obj).attributes).toEqual({ owner: 'bob', team: 'a' });
    const byManager = Object.fromEntries(
      readEntries(obj).map((e) => [e.manager, [...fromFieldsV1(e.fieldsV1)]]),
    );
    expect(byManager).toEqual({
      gitops: ['spec\0attributes\0team'],
      kubectl: ['spec\0attributes\0owner'],
    });
  });

  it('removes a field the manager stops applying when nobody else owns it', () => {
    let obj = applied(
      serverSideApply(
        finding({}),
        config({ owner: 'alice', team: 'a' }),
        { name: 'kubectl', operation: 'Apply' },
        main,
      ),
    );
    obj = applied(
      serverSideApply(
        obj,
        config({ owner: 'alice' }),
        { name: 'kubectl', operation: 'Apply' },
        main,
      ),
    );
    expect((obj.spec as Obj).attributes).toEqual({ owner: 'alice' });
  });

  it('keeps a field the manager stops applying while another manager owns it', () => {
    let obj = applied(
      serverSideApply(
        finding({}),
        config({ team: 'a' }),
        { name: 'kubectl', operation: 'Apply' },
        main,
      ),
    );
    obj = applied(
      serverSideApply(obj, config({ team: 'a' }), { name: 'gitops', operation: 'Apply' }, main),
    );
    obj = applied(serverSideApply(obj, config({}), { name: 'kubectl', operation: 'Apply' }, main));
    expect((obj.spec as Obj).attributes).toEqual({ team: 'a' });
  });

  it('ignores status on the main resource and everything but status on /status', () => {
    const withStatus = { ...config({ owner: 'x' }), status: { severity: 'LOW' } };
    const out = applied(
      serverSideApply(finding({}), withStatus, { name: 'm', operation: 'Apply' }, main),
    );
    expect((out.status as Obj).severity).toBe('HIGH');
    const status = applied(
      serverSideApply(
        finding({}),
        withStatus,
        { name: 'c', operation: 'Apply', subresource: 'status' },
        { ...main, allowed: applyAllowed('status') },
      ),
    );
    expect((status.status as Obj).severity).toBe('LOW');
    expect((status.spec as Obj).attributes).toEqual({});
    expect(readEntries(status)[0]).toMatchObject({ manager: 'c', subresource: 'status' });
  });
});

describe('recordUpdate', () => {
  it('gives the writer the fields it changed and takes them from their previous owner', () => {
    const before = applied(
      serverSideApply(
        finding({}),
        config({ owner: 'alice', team: 'a' }),
        { name: 'gitops', operation: 'Apply' },
        main,
      ),
    );
    const after = structuredClone(before);
    ((after.spec as Obj).attributes as Obj).owner = 'bob';
    const entries = recordUpdate(before, after, { name: 'kubectl-edit', operation: 'Update' }, now);
    const byManager = Object.fromEntries(
      entries.map((e) => [`${e.manager}/${e.operation}`, [...fromFieldsV1(e.fieldsV1)]]),
    );
    expect(byManager).toEqual({
      'gitops/Apply': ['spec\0attributes\0team'],
      'kubectl-edit/Update': ['spec\0attributes\0owner'],
    });
    expect(entries[1]!.time).toBe('2026-12-01T10:00:00Z');
  });

  it('records nothing for a write that changes nothing', () => {
    const obj = finding({ a: '1' });
    expect(
      recordUpdate(obj, structuredClone(obj), { name: 'x', operation: 'Update' }, now),
    ).toEqual([]);
  });
});
