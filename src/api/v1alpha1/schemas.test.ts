import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { INVALID_OBJECTS, VALID_PARTS } from '../testing/invalid-objects.ts';
import {
  ASSESSMENT_RUN_STATES,
  AssessmentTemplateSpecSchema,
  type Condition,
  ConditionSchema,
  type Finding,
  FindingSchema,
  KINDS,
  PULL_DATE_RESCAN_DURATIONS,
  RESCAN_DURATIONS,
  SCAN_FREQUENCIES,
  SCAN_STATUS_REASONS,
  SEVERITIES,
  ScanConfigurationSpecSchema,
  isCronSchedule,
  kindInfo,
  quantityToBytes,
} from './index.ts';

function partSchema(kind: string, part: 'spec' | 'status'): z.ZodType {
  const schema = kindInfo(kind)[part];
  if (!schema) throw new Error(`${kind} has no ${part}`);
  return schema;
}

describe('the zod schemas refuse what the API server refuses:', () => {
  for (const c of INVALID_OBJECTS) {
    it(c.name, () => {
      const result = partSchema(c.kind, c.part).safeParse(c.value);
      if (c.enforcedBy === 'unknown-field') {
        // zod drops unknown fields where the API server (strict) refuses them.
        const field = c.field.split('.').at(-1) ?? '';
        expect(result.success && field in (result.data as object)).toBe(false);
      } else {
        expect(result.success).toBe(false);
      }
    });
  }
});

describe('the zod schemas accept', () => {
  for (const [kind, parts] of Object.entries(VALID_PARTS)) {
    it(`the valid ${kind}`, () => {
      for (const part of ['spec', 'status'] as const) {
        const value = parts[part];
        if (value) expect(partSchema(kind, part).safeParse(value).error).toBeUndefined();
      }
    });
  }

  it('an empty ScanConfiguration spec and fill in the documented defaults', () => {
    const spec = ScanConfigurationSpecSchema.parse({});
    expect(spec).toMatchObject({
      activation: { scanTypes: ['Node', 'Image', 'Workload'] },
      exclusionLabel: 'kubeinspector.io/exclude',
      rulesPackages: ['cve'],
      node: { staleInventoryDays: 7, packageLimit: 5000, collectionTimeLimitSeconds: 900 },
      image: {
        rescanDuration: 'DAYS_90',
        pullDateRescanDuration: 'DAYS_14',
        pullDateRescanMode: 'LAST_IN_USE_AT',
        maxImageSize: '10Gi',
      },
      workload: { eligibilityDays: 90 },
      findingRetention: { closedDays: 30, resourceGoneDays: 3, reopenWindowDays: 7 },
    });
  });

  it('a template with 10 attributes, a schedule and the default duration of 3600 seconds', () => {
    const spec = AssessmentTemplateSpecSchema.parse({
      targetRef: { name: 'web' },
      rulesPackages: ['cve', 'cis'],
      schedule: '0 3 * * MON-FRI',
      findingAttributes: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'v'])),
    });
    expect(spec.durationSeconds).toBe(3600);
    expect(spec.concurrencyPolicy).toBe('Forbid');
  });
});

describe("Inspector's enum values are spelled as Inspector spells them:", () => {
  it('severities', () => {
    expect([...SEVERITIES].sort()).toEqual(
      ['CRITICAL', 'HIGH', 'INFORMATIONAL', 'LOW', 'MEDIUM', 'UNTRIAGED'].sort(),
    );
  });
  it('the 13 assessment run states', () => {
    expect(ASSESSMENT_RUN_STATES).toHaveLength(13);
    expect(ASSESSMENT_RUN_STATES).toContain('START_EVALUATING_RULES_PENDING');
    expect(ASSESSMENT_RUN_STATES).toContain('CANCELED');
  });
  it('rescan durations, with LIFETIME only for the push date', () => {
    expect(RESCAN_DURATIONS).toContain('LIFETIME');
    expect(PULL_DATE_RESCAN_DURATIONS).not.toContain('LIFETIME');
    expect(RESCAN_DURATIONS.filter((d) => d !== 'LIFETIME')).toEqual([
      ...PULL_DATE_RESCAN_DURATIONS,
    ]);
  });
  it('scan frequencies', () => {
    expect([...SCAN_FREQUENCIES].sort()).toEqual(['CONTINUOUS_SCAN', 'MANUAL', 'SCAN_ON_PUSH']);
  });
  it('scan status reasons, all from Inspector ScanStatusReason', () => {
    const inspector = new Set(
      'PENDING_INITIAL_SCAN ACCESS_DENIED INTERNAL_ERROR UNMANAGED_EC2_INSTANCE UNSUPPORTED_OS SCAN_ELIGIBILITY_EXPIRED RESOURCE_TERMINATED SUCCESSFUL NO_RESOURCES_FOUND IMAGE_SIZE_EXCEEDED SCAN_FREQUENCY_MANUAL SCAN_FREQUENCY_SCAN_ON_PUSH EC2_INSTANCE_STOPPED PENDING_DISABLE NO_INVENTORY STALE_INVENTORY EXCLUDED_BY_TAG UNSUPPORTED_RUNTIME UNSUPPORTED_MEDIA_TYPE UNSUPPORTED_CONFIG_FILE DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED DEEP_INSPECTION_DAILY_SSM_INVENTORY_LIMIT_EXCEEDED DEEP_INSPECTION_COLLECTION_TIME_LIMIT_EXCEEDED DEEP_INSPECTION_NO_INVENTORY AGENTLESS_INSTANCE_STORAGE_LIMIT_EXCEEDED AGENTLESS_INSTANCE_COLLECTION_TIME_LIMIT_EXCEEDED PENDING_REVIVAL_SCAN INTEGRATION_CONNECTION_LOST ACCESS_DENIED_TO_ENCRYPTION_KEY UNSUPPORTED_LANGUAGE NO_SCAN_CONFIGURATION_ASSOCIATED SCAN_IN_PROGRESS IMAGE_ARCHIVED UNSUPPORTED_CODE_ARTIFACTS RESOURCE_UNMANAGED RESOURCE_STOPPED'.split(
        ' ',
      ),
    );
    expect(inspector.size).toBe(36);
    expect(SCAN_STATUS_REASONS.filter((r) => !inspector.has(r))).toEqual([]);
    expect(SCAN_STATUS_REASONS).toHaveLength(22);
  });
});

describe('isCronSchedule', () => {
  const cases: [string, boolean][] = [
    ['0 3 * * *', true],
    ['*/15 * * * *', true],
    ['0 3 1,15 * MON-FRI', true],
    ['30 2 * JAN-MAR sun', true],
    ['0 3 * *', false],
    ['0 3 * * * *', false],
    ['61 3 * * *', false],
    ['0 24 * * *', false],
    ['@daily', false],
    ['0  3 * * *', false],
  ];
  for (const [expression, ok] of cases) {
    it(`says ${ok ? 'yes' : 'no'} to "${expression}"`, () => {
      expect(isCronSchedule(expression)).toBe(ok);
    });
  }
});

describe('quantityToBytes', () => {
  it('reads binary and decimal suffixes', () => {
    expect(quantityToBytes('10Gi')).toBe(10 * 2 ** 30);
    expect(quantityToBytes('500M')).toBe(500e6);
    expect(quantityToBytes('1.5Ki')).toBe(1536);
    expect(quantityToBytes('42')).toBe(42);
  });
  it('refuses what is not a quantity', () => {
    expect(() => quantityToBytes('10 gigabytes')).toThrow(/not a quantity/);
  });
});

describe('the condition schema', () => {
  it('accepts a metav1 condition and refuses a reason that is not CamelCase', () => {
    const ok: Condition = {
      type: 'Ready',
      status: 'True',
      lastTransitionTime: '2026-01-01T00:00:00Z',
      reason: 'Succeeded',
      message: '',
    };
    expect(ConditionSchema.safeParse(ok).success).toBe(true);
    expect(ConditionSchema.safeParse({ ...ok, reason: 'not ok' }).success).toBe(false);
  });
});

describe('the inferred types', () => {
  it('give Finding a spec of attributes only and a typed status', () => {
    expectTypeOf<NonNullable<Finding['spec']>>().toEqualTypeOf<{
      attributes?: Record<string, string> | undefined;
    }>();
    expectTypeOf<NonNullable<Finding['status']>['severity']>().toEqualTypeOf<
      'INFORMATIONAL' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL' | 'UNTRIAGED' | undefined
    >();
    const f: Finding = FindingSchema.parse({
      apiVersion: 'findings.kubeinspector.io/v1alpha1',
      kind: 'Finding',
      metadata: { name: 'f' },
      spec: { attributes: { owner: 'team-a' } },
    });
    expect(f.spec?.attributes).toEqual({ owner: 'team-a' });
  });

  it('cover all eight kinds', () => {
    expect(KINDS.map((k) => k.kind).sort()).toEqual(
      [
        'AssessmentRun',
        'AssessmentTarget',
        'AssessmentTemplate',
        'CoveredResource',
        'Finding',
        'NodeInventory',
        'ScanConfiguration',
        'SuppressionRule',
      ].sort(),
    );
  });
});
