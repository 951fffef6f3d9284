import { describe, expect, it } from 'vitest';
import type { FilterCriteria, SuppressionRule } from '../api/v1alpha1/suppression-rule.ts';
import { suppressingRule, type SuppressibleFinding } from './suppression.ts';

const admin = 'kube-inspector-system';

function rule(namespace: string, name: string, filterCriteria: FilterCriteria): SuppressionRule {
  return {
    apiVersion: 'kubeinspector.io/v1alpha1',
    kind: 'SuppressionRule',
    metadata: { namespace, name },
    spec: { filterCriteria, reason: 'accepted risk' },
  };
}

const finding: SuppressibleFinding = {
  metadata: { namespace: admin },
  status: {
    severity: 'HIGH',
    type: 'PACKAGE_VULNERABILITY',
    vulnerabilityId: 'CVE-2023-4911',
    aliases: ['DEBIAN-CVE-2023-4911'],
    packages: [
      { name: 'libc6', version: '2.36-9' },
      { name: 'libc-bin', version: '2.36-9' },
    ],
    resource: {
      type: 'CONTAINER_IMAGE',
      id: 'registry.test/team/app@sha256:abc',
      imageRepository: 'registry.test/team/app',
    },
    fixAvailable: 'YES',
  },
};

const workloadFinding: SuppressibleFinding = {
  metadata: { namespace: 'team-a' },
  status: {
    ...finding.status,
    resource: { type: 'WORKLOAD', id: 'team-a/Deployment/web', namespace: 'team-a', name: 'web' },
  },
};

const suppressedBy = (c: FilterCriteria, f = finding, labels?: Record<string, string>) =>
  suppressingRule([rule(admin, 'r', c)], f, { adminNamespace: admin, resourceLabels: labels })
    ?.metadata.name;

describe('suppressingRule', () => {
  it.each<[string, FilterCriteria, boolean]>([
    ['severity EQUALS matches', { severity: [{ comparison: 'EQUALS', value: 'HIGH' }] }, true],
    [
      'severity EQUALS another does not',
      { severity: [{ comparison: 'EQUALS', value: 'LOW' }] },
      false,
    ],
    [
      'values of one key are alternatives',
      {
        severity: [
          { comparison: 'EQUALS', value: 'LOW' },
          { comparison: 'EQUALS', value: 'HIGH' },
        ],
      },
      true,
    ],
    [
      'NOT_EQUALS filters of one key are exclusions that must all hold',
      {
        severity: [
          { comparison: 'NOT_EQUALS', value: 'LOW' },
          { comparison: 'NOT_EQUALS', value: 'HIGH' },
        ],
      },
      false,
    ],
    [
      'a NOT_EQUALS that holds matches',
      { severity: [{ comparison: 'NOT_EQUALS', value: 'CRITICAL' }] },
      true,
    ],
    [
      'keys are AND-ed',
      {
        severity: [{ comparison: 'EQUALS', value: 'HIGH' }],
        fixAvailable: [{ comparison: 'EQUALS', value: 'NO' }],
      },
      false,
    ],
    [
      'the vulnerability id matches through an alias',
      { vulnerabilityId: [{ comparison: 'EQUALS', value: 'DEBIAN-CVE-2023-4911' }] },
      true,
    ],
    [
      'PREFIX on the vulnerability id',
      { vulnerabilityId: [{ comparison: 'PREFIX', value: 'CVE-2023-' }] },
      true,
    ],
    [
      'any vulnerable package may match the package name',
      { packageName: [{ comparison: 'EQUALS', value: 'libc-bin' }] },
      true,
    ],
    [
      'a package NOT_EQUALS fails when any package equals it',
      { packageName: [{ comparison: 'NOT_EQUALS', value: 'libc-bin' }] },
      false,
    ],
    [
      'repository PREFIX',
      { repository: [{ comparison: 'PREFIX', value: 'registry.test/team/' }] },
      true,
    ],
    [
      'a namespace filter never matches a resource without one',
      { resourceNamespace: [{ comparison: 'EQUALS', value: 'team-a' }] },
      false,
    ],
    ['resource type', { resourceType: [{ comparison: 'EQUALS', value: 'CONTAINER_IMAGE' }] }, true],
  ])('%s', (_name, criteria, expected) => {
    expect(suppressedBy(criteria) === 'r').toBe(expected);
  });

  it('matches resource labels by key and value, or by key alone', () => {
    const c: FilterCriteria = {
      resourceLabels: [{ comparison: 'EQUALS', key: 'tier', value: 'dev' }],
    };
    expect(suppressedBy(c, finding, { tier: 'dev' })).toBe('r');
    expect(suppressedBy(c, finding, { tier: 'prod' })).toBeUndefined();
    expect(suppressedBy(c, finding)).toBeUndefined();
    expect(
      suppressedBy({ resourceLabels: [{ comparison: 'EQUALS', key: 'tier' }] }, finding, {
        tier: 'x',
      }),
    ).toBe('r');
  });

  it('applies a rule of the administrator namespace to every finding', () => {
    const r = rule(admin, 'all', { severity: [{ comparison: 'EQUALS', value: 'HIGH' }] });
    expect(suppressingRule([r], workloadFinding, { adminNamespace: admin })).toBe(r);
  });

  it('applies a rule of another namespace only to that namespace', () => {
    const r = rule('team-a', 'mine', { severity: [{ comparison: 'EQUALS', value: 'HIGH' }] });
    expect(suppressingRule([r], workloadFinding, { adminNamespace: admin })).toBe(r);
    expect(suppressingRule([r], finding, { adminNamespace: admin })).toBeUndefined();
    const other = rule('team-b', 'theirs', { severity: [{ comparison: 'EQUALS', value: 'HIGH' }] });
    expect(suppressingRule([other], workloadFinding, { adminNamespace: admin })).toBeUndefined();
  });

  it('picks the first matching rule by namespace and name, whatever the order given', () => {
    const c: FilterCriteria = { severity: [{ comparison: 'EQUALS', value: 'HIGH' }] };
    const a = rule(admin, 'a', c);
    const b = rule(admin, 'b', c);
    expect(suppressingRule([b, a], finding, { adminNamespace: admin })).toBe(a);
    expect(suppressingRule([a, b], finding, { adminNamespace: admin })).toBe(a);
  });

  it('ignores a rule being deleted', () => {
    const r = rule(admin, 'gone', { severity: [{ comparison: 'EQUALS', value: 'HIGH' }] });
    r.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    expect(suppressingRule([r], finding, { adminNamespace: admin })).toBeUndefined();
  });
});
