import { describe, expect, it } from 'vitest';
import type { SuppressionRule } from '../api/v1alpha1/suppression-rule.ts';
import { mergeFinding } from '../findings/build.ts';
import { toCsv, toJson } from '../findings/export.ts';
import { suppressingRule } from '../findings/suppression.ts';
import { buildRuleFinding } from './producer.ts';

const producer = { rulesPackage: 'security-best-practices', findingType: 'CONFIGURATION' } as const;
const resource = {
  resourceType: 'WORKLOAD',
  id: 'shop/Deployment/web',
  kind: 'Deployment',
  namespace: 'shop',
  name: 'web',
} as const;

function built(severity: 'HIGH' | 'LOW' = 'HIGH') {
  return buildRuleFinding(producer, resource, {
    ruleId: 'PSS-BASELINE-HOST-NAMESPACES',
    identity: '',
    title: 'Host namespaces - Deployment shop/web',
    description: 'Sharing the host namespaces must be disallowed.',
    severity,
    recommendation: { text: 'Remove hostNetwork.' },
    details: { level: 'baseline', fieldPaths: ['spec.template.spec.hostNetwork'], found: 'true' },
  });
}

function rule(criteria: SuppressionRule['spec']['filterCriteria']): SuppressionRule {
  return {
    apiVersion: 'kubeinspector.io/v1alpha1',
    kind: 'SuppressionRule',
    metadata: { namespace: 'shop', name: 'accepted' },
    spec: { filterCriteria: criteria, reason: 'accepted risk' },
  };
}

describe('rule findings go through the same finding path as package findings', () => {
  it('labels say type, severity, resource and rule id', () => {
    expect(built().labels).toEqual({
      'kubeinspector.io/severity': 'HIGH',
      'kubeinspector.io/type': 'CONFIGURATION',
      'kubeinspector.io/status': 'ACTIVE',
      'kubeinspector.io/resource-type': 'WORKLOAD',
      'kubeinspector.io/vulnerability-id': 'PSS-BASELINE-HOST-NAMESPACES',
      'kubeinspector.io/resource-namespace': 'shop',
    });
  });

  it('a suppression rule matches them by finding type and by rule id', () => {
    const f = { metadata: { namespace: 'shop' }, status: built().status };
    const byType = rule({ findingType: [{ comparison: 'EQUALS', value: 'CONFIGURATION' }] });
    const byRule = rule({ vulnerabilityId: [{ comparison: 'PREFIX', value: 'PSS-BASELINE-' }] });
    const other = rule({ vulnerabilityId: [{ comparison: 'EQUALS', value: 'CVE-2024-6387' }] });
    expect(suppressingRule([byType], f)).toBe(byType);
    expect(suppressingRule([byRule], f)).toBe(byRule);
    expect(suppressingRule([other], f)).toBeUndefined();
  });

  it('a suppression rule matches a finding by its (adjusted) score range', () => {
    const f = {
      metadata: { namespace: 'shop' },
      status: { ...built().status, inspectorScore: 8.8 },
    };
    const low = rule({ inspectorScore: [{ upperInclusive: 8.9 }] });
    const high = rule({
      inspectorScore: [{ lowerInclusive: 9 }, { lowerInclusive: 0, upperInclusive: 1 }],
    });
    expect(suppressingRule([low], f)).toBe(low);
    expect(suppressingRule([high], f)).toBeUndefined();
    // No score: no range matches.
    expect(
      suppressingRule([low], { metadata: { namespace: 'shop' }, status: built().status }),
    ).toBeUndefined();
  });

  it('the lifecycle moves them: ACTIVE, changed, CLOSED, reopened', () => {
    const t0 = new Date('2026-03-01T00:00:00Z');
    const t1 = new Date('2026-03-02T00:00:00Z');
    const first = mergeFinding(undefined, built().status, t0);
    expect(first).toMatchObject({ status: 'ACTIVE', firstObservedAt: '2026-03-01T00:00:00Z' });
    const existing = {
      apiVersion: 'x',
      kind: 'Finding',
      metadata: { name: 'n' },
      status: first,
    } as never;
    const changed = mergeFinding(existing, built('LOW').status, t1);
    expect(changed).toMatchObject({ severity: 'LOW', updatedAt: '2026-03-02T00:00:00Z' });
    const closed = mergeFinding(existing, undefined, t1);
    expect(closed.status).toBe('CLOSED');
  });

  it('export writes them with their rule id', () => {
    const f = {
      apiVersion: 'findings.kubeinspector.io/v1alpha1',
      kind: 'Finding',
      metadata: { name: built().name, namespace: 'shop' },
      status: mergeFinding(undefined, built().status, new Date('2026-03-01T00:00:00Z')),
    } as const;
    const [header, row] = toCsv([f], 'all').trim().split('\n');
    const cells = Object.fromEntries(header!.split(',').map((h, i) => [h, row!.split(',')[i]]));
    expect(cells.type).toBe('CONFIGURATION');
    expect(cells.ruleId).toBe('PSS-BASELINE-HOST-NAMESPACES');
    expect(cells['ruleDetails.level']).toBe('baseline');
    expect(toJson([f as never], 'all')).toContain('"fieldPaths"');
  });
});
