import { describe, expect, it } from 'vitest';
import { foldStatusEntries, wouldChange } from './apply.ts';
import type { KubeObject, ManagedFieldsEntry } from './resources.ts';

const entry = (
  manager: string,
  fieldsV1: Record<string, unknown>,
  extra: Partial<ManagedFieldsEntry> = {},
): ManagedFieldsEntry => ({
  manager,
  operation: 'Apply',
  apiVersion: 'kubeinspector.io/v1alpha1',
  time: '2026-12-07T10:00:00Z',
  fieldsType: 'FieldsV1',
  fieldsV1,
  ...extra,
});

/** A CoveredResource as the old shape left it: labels on the object, status through /status. */
const old: KubeObject = {
  metadata: {
    name: 'node-a',
    labels: { 'kubeinspector.io/reason': 'UNSUPPORTED_OS' },
    managedFields: [
      entry('kube-inspector', {
        'f:metadata': { 'f:labels': { 'f:kubeinspector.io/reason': {} } },
      }),
      entry(
        'kube-inspector',
        { 'f:status': { 'f:scanStatus': { 'f:reason': {}, 'f:message': {} } } },
        { subresource: 'status', time: '2026-12-07T10:00:05Z' },
      ),
      entry(
        'kube-inspector-findings',
        { 'f:status': { 'f:findingCounts': { 'f:total': {} } } },
        { subresource: 'status' },
      ),
      entry('kubectl', { 'f:metadata': { 'f:annotations': {} } }, { operation: 'Update' }),
    ],
  },
  status: {
    scanStatus: { reason: 'UNSUPPORTED_OS', message: 'not supported' },
    findingCounts: { total: 3 },
  },
};

describe('the status entries of a dropped status subresource', () => {
  it('are folded into the same managers’ entries on the object, fields united, the later time kept', () => {
    expect(foldStatusEntries(old.metadata.managedFields)).toEqual([
      entry(
        'kube-inspector',
        {
          'f:metadata': { 'f:labels': { 'f:kubeinspector.io/reason': {} } },
          'f:status': { 'f:scanStatus': { 'f:reason': {}, 'f:message': {} } },
        },
        { time: '2026-12-07T10:00:05Z' },
      ),
      entry('kube-inspector-findings', { 'f:status': { 'f:findingCounts': { 'f:total': {} } } }),
      entry('kubectl', { 'f:metadata': { 'f:annotations': {} } }, { operation: 'Update' }),
    ]);
  });

  it('leave nothing to fold when there is none', () => {
    expect(foldStatusEntries([entry('kube-inspector', {})])).toBeUndefined();
    expect(foldStatusEntries(undefined)).toBeUndefined();
  });

  it('count as the manager’s own when status goes to the object: a field it no longer sends is a change', () => {
    const desired: KubeObject = {
      metadata: { name: 'node-a', labels: { 'kubeinspector.io/reason': 'UNSUPPORTED_OS' } },
      status: { scanStatus: { reason: 'UNSUPPORTED_OS' } },
    };
    expect(wouldChange(desired, old)).toBe(true);
    const same: KubeObject = {
      ...desired,
      status: { scanStatus: { reason: 'UNSUPPORTED_OS', message: 'not supported' } },
    };
    expect(wouldChange(same, old)).toBe(false);
  });

  it('do not count for a write of the object without status (a kind that keeps the subresource)', () => {
    const labelsOnly: KubeObject = {
      metadata: { name: 'node-a', labels: { 'kubeinspector.io/reason': 'UNSUPPORTED_OS' } },
    };
    expect(wouldChange(labelsOnly, old)).toBe(false);
  });
});
