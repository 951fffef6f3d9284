import { describe, expect, it } from 'vitest';
import type { CoveredResource } from '../../api/v1alpha1/covered-resource.ts';
import type { KubeObject } from '../../kube/resources.ts';
import { planFor, retentionOf } from './reconciler.ts';

function covered(
  resourceType: 'NODE' | 'CONTAINER_IMAGE' | 'WORKLOAD',
  statusCode: 'ACTIVE' | 'INACTIVE',
  reason: string,
): CoveredResource & KubeObject {
  return {
    apiVersion: 'kubeinspector.io/v1alpha1',
    kind: 'CoveredResource',
    metadata: { name: 'x' },
    status: {
      resourceType,
      resourceId: 'x',
      scanStatus: { statusCode, reason } as NonNullable<CoveredResource['status']>['scanStatus'],
    },
  };
}

describe('what a coverage status asks of the findings', () => {
  it.each<[string, CoveredResource & KubeObject, string]>([
    ['a scanned node is matched', covered('NODE', 'ACTIVE', 'SUCCESSFUL'), 'match'],
    [
      'a node past its package limit is matched',
      covered('NODE', 'ACTIVE', 'DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED'),
      'match',
    ],
    [
      'a scan-on-push image is matched',
      covered('CONTAINER_IMAGE', 'ACTIVE', 'SCAN_FREQUENCY_SCAN_ON_PUSH'),
      'match',
    ],
    ['a stopped node keeps its findings', covered('NODE', 'INACTIVE', 'RESOURCE_STOPPED'), 'keep'],
    ['a pending first scan keeps them', covered('NODE', 'ACTIVE', 'PENDING_INITIAL_SCAN'), 'keep'],
    ['disabling deletes them', covered('CONTAINER_IMAGE', 'INACTIVE', 'PENDING_DISABLE'), 'delete'],
    ['a terminated node closes them', covered('NODE', 'INACTIVE', 'RESOURCE_TERMINATED'), 'close'],
    [
      'an excluded image closes them',
      covered('CONTAINER_IMAGE', 'INACTIVE', 'EXCLUDED_BY_TAG'),
      'close',
    ],
    ['a stale inventory closes them', covered('NODE', 'INACTIVE', 'STALE_INVENTORY'), 'close'],
    [
      'a scanned workload has its rules evaluated',
      covered('WORKLOAD', 'ACTIVE', 'SUCCESSFUL'),
      'match',
    ],
    [
      'a workload whose images wait for a scan has its rules evaluated',
      covered('WORKLOAD', 'ACTIVE', 'PENDING_INITIAL_SCAN'),
      'match',
    ],
    [
      'a workload whose images cannot be pulled has its rules evaluated',
      covered('WORKLOAD', 'INACTIVE', 'ACCESS_DENIED'),
      'match',
    ],
    [
      'an excluded workload closes them',
      covered('WORKLOAD', 'INACTIVE', 'EXCLUDED_BY_TAG'),
      'close',
    ],
    [
      'an expired workload closes them',
      covered('WORKLOAD', 'INACTIVE', 'SCAN_ELIGIBILITY_EXPIRED'),
      'close',
    ],
    [
      'disabling a workload deletes them',
      covered('WORKLOAD', 'INACTIVE', 'PENDING_DISABLE'),
      'delete',
    ],
  ])('%s', (_name, cr, kind) => {
    expect(planFor(cr).kind).toBe(kind);
  });

  it('closes the findings of a CoveredResource that is gone or being deleted', () => {
    expect(planFor(undefined).kind).toBe('close');
    const deleting = covered('NODE', 'ACTIVE', 'SUCCESSFUL');
    deleting.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    expect(planFor(deleting).kind).toBe('close');
  });
});

describe('retention settings', () => {
  it('default to 30, 3 and 7 days and follow the default ScanConfiguration', () => {
    expect(retentionOf(undefined)).toEqual({
      closedDays: 30,
      resourceGoneDays: 3,
      reopenWindowDays: 7,
    });
    expect(
      retentionOf({
        apiVersion: 'kubeinspector.io/v1alpha1',
        kind: 'ScanConfiguration',
        metadata: { name: 'default' },
        spec: { findingRetention: { closedDays: 10, resourceGoneDays: 1, reopenWindowDays: 2 } },
      } as never),
    ).toEqual({ closedDays: 10, resourceGoneDays: 1, reopenWindowDays: 2 });
  });
});
