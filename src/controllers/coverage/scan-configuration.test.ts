import { describe, expect, it } from 'vitest';
import { sameCounts } from './scan-configuration.ts';

describe('ScanConfiguration statistics', () => {
  const counts = {
    total: 2,
    active: 1,
    inactive: 1,
    byResourceType: [
      {
        resourceType: 'NODE' as const,
        statusCode: 'ACTIVE' as const,
        reason: 'SUCCESSFUL',
        count: 1,
      },
      {
        resourceType: 'NAMESPACE' as const,
        statusCode: 'INACTIVE' as const,
        reason: 'EXCLUDED_BY_TAG',
        count: 1,
      },
    ],
    byNamespace: [{ namespace: 'a', active: 0, inactive: 1 }],
  };

  it('are the same whatever the key order the API server returns them in', () => {
    const fromServer = JSON.parse(
      JSON.stringify({
        active: 1,
        byNamespace: [{ active: 0, inactive: 1, namespace: 'a' }],
        byResourceType: [
          { count: 1, reason: 'SUCCESSFUL', resourceType: 'NODE', statusCode: 'ACTIVE' },
          {
            count: 1,
            reason: 'EXCLUDED_BY_TAG',
            resourceType: 'NAMESPACE',
            statusCode: 'INACTIVE',
          },
        ],
        inactive: 1,
        total: 2,
        updatedAt: '2026-11-22T06:00:00Z',
      }),
    ) as Parameters<typeof sameCounts>[0];
    expect(sameCounts(fromServer, counts)).toBe(true);
  });

  it('differ when a count changed, or nothing was written yet', () => {
    expect(sameCounts({ ...counts, active: 2, updatedAt: 'x' }, counts)).toBe(false);
    expect(sameCounts({ ...counts, byNamespace: [], updatedAt: 'x' }, counts)).toBe(false);
    expect(sameCounts(undefined, counts)).toBe(false);
  });
});
