import { describe, expect, it } from 'vitest';
import { FINDINGS_API_VERSION } from '../api/v1alpha1/common.ts';
import { checkFinding, fieldPath } from './validate.ts';

describe('field paths are written as kube-apiserver writes them', () => {
  it.each([
    ['a top-level field', 'status', ['severity'], 'status.severity'],
    ['an item of a list', 'status', ['cvss', 0, 'baseScore'], 'status.cvss[0].baseScore'],
    ['nested lists', 'status', ['packages', 2, 'x', 10], 'status.packages[2].x[10]'],
    ['the root alone', 'spec', [], 'spec'],
  ] as const)('%s', (_what, root, segments, expected) => {
    expect(fieldPath(root, segments)).toBe(expected);
  });

  it('a CVSS base score above 10 is refused naming status.cvss[0].baseScore', () => {
    const checked = checkFinding({
      apiVersion: FINDINGS_API_VERSION,
      kind: 'Finding',
      metadata: { name: 'f', namespace: 'n' },
      status: {
        cvss: [{ version: '3.1', scoringVector: 'CVSS:3.1/AV:N', baseScore: 11, source: 'NVD' }],
      },
    });
    expect(checked.causes.map((c) => c.field)).toEqual(['status.cvss[0].baseScore']);
  });
});

describe('metadata is checked as kube-apiserver checks it', () => {
  const finding = (metadata: Record<string, unknown>) =>
    checkFinding({ apiVersion: FINDINGS_API_VERSION, kind: 'Finding', metadata });

  it('refuses a label value over 63 characters or of the wrong characters, and a bad key', () => {
    const long = 'x'.repeat(64);
    const checked = finding({
      name: 'f',
      labels: { ok: 'fine', long, 'bad key': 'v', 'kubeinspector.io/x': 'a b' },
    });
    expect(checked.causes.map((c) => c.field)).toEqual(Array(3).fill('metadata.labels'));
    const [first, second, third] = checked.causes.map((c) => c.message);
    expect(first).toBe(`Invalid value: "${long}": must be no more than 63 bytes`);
    expect(second).toMatch(/^Invalid value: "bad key": name part must consist/);
    expect(third).toMatch(/^Invalid value: "a b": a valid label must be/);
    expect(checked.causes.every((c) => c.reason === 'FieldValueInvalid')).toBe(true);
  });

  it('refuses a bad annotation key and annotations over 256 KiB in all', () => {
    expect(finding({ name: 'f', annotations: { 'Example.COM/Note': 'v' } }).causes).toEqual([]);
    expect(finding({ name: 'f', annotations: { '-x': 'v' } }).causes.map((c) => c.field)).toEqual([
      'metadata.annotations',
    ]);
    const big = finding({
      name: 'f',
      annotations: { a: 'x'.repeat(200_000), b: 'y'.repeat(70_000) },
    });
    expect(big.causes).toEqual([
      {
        reason: 'FieldValueTooLong',
        field: 'metadata.annotations',
        message: 'Too long: may not be more than 262144 bytes',
      },
    ]);
  });
});
