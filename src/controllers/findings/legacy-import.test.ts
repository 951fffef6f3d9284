import { describe, expect, it } from 'vitest';
import { importedFinding } from './legacy-import.ts';

describe('a Finding custom resource imported into the store', () => {
  it('keeps labels, annotations, owners, attributes and the whole status, under the new group', () => {
    const legacy = {
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'Finding',
      metadata: {
        name: 'f',
        namespace: 'team-a',
        uid: 'old-uid',
        resourceVersion: '12345',
        creationTimestamp: '2026-01-01T00:00:00Z',
        managedFields: [{ manager: 'kube-inspector' }],
        labels: { 'kubeinspector.io/status': 'CLOSED', team: 'x' },
        annotations: { note: 'y' },
        ownerReferences: [
          { apiVersion: 'kubeinspector.io/v1alpha1', kind: 'AssessmentRun', name: 'r', uid: 'u' },
        ],
      },
      spec: { attributes: { ticket: 'SEC-1' } },
      status: {
        status: 'CLOSED',
        firstObservedAt: '2026-01-01T00:00:00Z',
        updatedAt: '2026-02-01T00:00:00Z',
      },
    };
    expect(importedFinding(legacy)).toEqual({
      apiVersion: 'findings.kubeinspector.io/v1alpha1',
      kind: 'Finding',
      metadata: {
        name: 'f',
        namespace: 'team-a',
        labels: legacy.metadata.labels,
        annotations: legacy.metadata.annotations,
        ownerReferences: legacy.metadata.ownerReferences,
      },
      spec: legacy.spec,
      status: legacy.status,
    });
  });
});
