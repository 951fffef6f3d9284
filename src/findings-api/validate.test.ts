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
