import { describe, expect, it } from 'vitest';
import { FINDINGS_API_VERSION, LABELS } from '../api/v1alpha1/common.ts';
import {
  canonicalJson,
  eventBody,
  joinEvent,
  joinRow,
  splitFinding,
  type StoredRow,
} from './row.ts';
import type { StoredFinding } from './store.ts';

function base(extra: Partial<StoredFinding> = {}): StoredFinding {
  return {
    apiVersion: FINDINGS_API_VERSION,
    kind: 'Finding',
    metadata: { namespace: 'ns', name: 'n', uid: 'u-1', resourceVersion: '7' },
    ...extra,
  };
}

/** What reading the row back gives: the split's columns, body and parts. */
function roundTrip(f: StoredFinding): StoredFinding {
  const s = splitFinding(f);
  const row: StoredRow = {
    ...(s.columns as Record<string, unknown>),
    namespace: s.columns.namespace as string,
    name: s.columns.name as string,
    uid: s.columns.uid as string,
    rv: s.columns.rv as number,
    managed_times: s.columns.managed_times as string | null,
    body: s.body,
    advisory: s.advisory?.body ?? null,
    context: s.context?.body ?? null,
  };
  return joinRow(row);
}

describe('splitFinding and joinRow', () => {
  const cases: [string, StoredFinding][] = [
    ['no status, no labels', base({ spec: { attributes: { a: 'b' } } })],
    ['an empty status', base({ status: {} })],
    [
      'well-known and other labels',
      base({
        metadata: {
          namespace: 'ns',
          name: 'n',
          uid: 'u',
          resourceVersion: '1',
          labels: { [LABELS.severity]: 'LOW', [LABELS.run]: 'r1', team: 'a', 'x.io/y': '' },
        },
      }),
    ],
    [
      'managedFields with and without a time',
      base({
        metadata: {
          namespace: 'ns',
          name: 'n',
          uid: 'u',
          resourceVersion: '1',
          managedFields: [
            {
              manager: 'a',
              operation: 'Apply',
              time: '2026-01-01T00:00:00Z',
              fieldsType: 'FieldsV1',
            },
            { manager: 'b', operation: 'Update', fieldsType: 'FieldsV1' },
          ],
        },
      }),
    ],
    [
      'a full status with advisory and resource parts',
      base({
        status: {
          severity: 'HIGH',
          status: 'ACTIVE',
          type: 'PACKAGE_VULNERABILITY',
          vulnerabilityId: 'CVE-1',
          rulesPackage: 'cve',
          title: 'CVE-1 - p',
          description: 'd',
          cvss: [{ version: '3.1', scoringVector: 'v', baseScore: 1, source: 'NVD' }],
          aliases: ['A'],
          resource: { type: 'NODE', id: 'node-1' },
          packages: [{ name: 'p', version: '1' }],
        },
      }),
    ],
    ['a status field that is not a string stays in the body', base({ status: { severity: 3 } })],
  ];
  it.each(cases)('gives back the same object: %s', (_, f) => {
    expect(roundTrip(f)).toStrictEqual(JSON.parse(JSON.stringify(f)));
  });

  it('takes selected values out of the body and shares advisory and context parts', () => {
    const f = cases[4]![1];
    const a = splitFinding(f);
    const b = splitFinding({ ...f, metadata: { ...f.metadata, name: 'other', uid: 'u-2' } });
    expect(a.advisory!.hash).toEqual(b.advisory!.hash);
    expect(a.context!.hash).toEqual(b.context!.hash);
    expect(a.body).not.toMatch(/CVE-1"|"description"|node-1|"namespace"|"apiVersion"/);
    expect(a.columns).toMatchObject({
      severity: 'HIGH',
      resource_id: 'node-1',
      vulnerability_id: 'CVE-1',
    });
    expect(a.extraLabels).toEqual([]);
  });

  it('hashes content, not key order', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
    const f = cases[4]![1];
    const status = f.status as Record<string, unknown>;
    const reordered = Object.fromEntries(Object.entries(status).reverse());
    const a = splitFinding(f);
    const b = splitFinding({ ...f, status: reordered });
    expect(b.advisory).toEqual(a.advisory);
    expect(b.context).toEqual(a.context);
    // Other content, other parts (also when the same text was hashed before).
    const other = splitFinding({ ...f, status: { ...status, description: 'another text' } });
    expect(other.advisory!.hash).not.toEqual(a.advisory!.hash);
    expect(splitFinding(f).advisory).toEqual(a.advisory);
  });

  it('keeps event bodies without the advisory part and puts them back together', () => {
    const f = cases[4]![1];
    const body = eventBody(f);
    expect(body).not.toContain('"description"');
    expect(joinEvent(body, splitFinding(f).advisory!.body)).toEqual(f);
  });
});
