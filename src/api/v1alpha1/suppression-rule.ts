// SuppressionRule: findings matching its filter become SUPPRESSED (Inspector's
// filters with action SUPPRESS). Namespaced.
import { z } from 'zod';
import {
  API_VERSION,
  FINDING_TYPES,
  FIX_AVAILABLE,
  ObjectMetaSchema,
  RESOURCE_TYPES,
  SEVERITIES,
  boundedString,
  conditions,
  observedGeneration,
  timestamp,
} from './common.ts';

export const STRING_COMPARISONS = ['EQUALS', 'PREFIX', 'NOT_EQUALS'] as const;
export const ENUM_COMPARISONS = ['EQUALS', 'NOT_EQUALS'] as const;
/** Values per filter key, as in Inspector (1..10). */
export const MAX_FILTERS_PER_KEY = 10;

function stringFilters(what: string) {
  return z
    .array(
      z
        .object({
          comparison: z.enum(STRING_COMPARISONS).describe('EQUALS, PREFIX or NOT_EQUALS.'),
          value: boundedString(1024, 1).describe(`The ${what} compared.`),
        })
        .describe(`A filter on the ${what}.`),
    )
    .min(1)
    .max(MAX_FILTERS_PER_KEY)
    .optional()
    .describe(
      `Filters on the ${what}: a finding matches when one of the EQUALS or PREFIX filters matches (if there are any) and none of the NOT_EQUALS filters does.`,
    );
}

function enumFilters<const T extends readonly [string, ...string[]]>(what: string, values: T) {
  return z
    .array(
      z
        .object({
          comparison: z.enum(ENUM_COMPARISONS).describe('EQUALS or NOT_EQUALS.'),
          value: z.enum(values).describe(`The ${what}: ${values.join(', ')}.`),
        })
        .describe(`A filter on the ${what}.`),
    )
    .min(1)
    .max(MAX_FILTERS_PER_KEY)
    .optional()
    .describe(
      `Filters on the ${what}: a finding matches when one of the EQUALS or PREFIX filters matches (if there are any) and none of the NOT_EQUALS filters does.`,
    );
}

export const FilterCriteriaSchema = z
  .object({
    severity: enumFilters('severity', SEVERITIES),
    findingType: enumFilters('finding type', FINDING_TYPES),
    vulnerabilityId: stringFilters(
      'vulnerability id (or any alias; the rule id of a rule finding)',
    ),
    packageName: stringFilters('name of a vulnerable package'),
    resourceType: enumFilters('resource type', RESOURCE_TYPES),
    resourceName: stringFilters('resource name'),
    resourceNamespace: stringFilters('resource namespace'),
    resourceLabels: z
      .array(
        z
          .object({
            comparison: z.enum(['EQUALS']).describe('EQUALS.'),
            key: boundedString(316, 1).describe('Label key.'),
            value: boundedString(63).optional().describe('Label value; absent matches any value.'),
          })
          .describe('A filter on a resource label.'),
      )
      .min(1)
      .max(MAX_FILTERS_PER_KEY)
      .optional()
      .describe(
        'Filters on the labels of the resource; a finding matches when any of them matches.',
      ),
    repository: stringFilters('image repository (`registry/repository`)'),
    fixAvailable: enumFilters('fix availability', FIX_AVAILABLE),
    inspectorScore: z
      .array(
        z
          .object({
            lowerInclusive: z.number().min(0).max(10).optional().describe('Lowest score matched.'),
            upperInclusive: z.number().min(0).max(10).optional().describe('Highest score matched.'),
          })
          .describe('A range of scores; an absent bound is open.'),
      )
      .min(1)
      .max(MAX_FILTERS_PER_KEY)
      .optional()
      .describe(
        'Filters on inspectorScore, the exposure-adjusted score: a finding matches when its score lies in one of the ranges (a finding without a score matches none).',
      ),
    ruleId: stringFilters('rule id (CODE_VULNERABILITY detector id, CONFIGURATION rule id)'),
    filePathGlobs: z
      .array(boundedString(1024, 1))
      .min(1)
      .max(MAX_FILTERS_PER_KEY)
      .optional()
      .describe(
        'Globs on the file path of a CODE_VULNERABILITY finding (`/app/test/**`, `**/*.min.js`; `*` stays within a path segment, `**` crosses them); a finding matches when any glob matches its path. Findings without a file path never match.',
      ),
  })
  .refine((c) => Object.values(c).some((v) => v !== undefined), {
    message: 'filterCriteria must set at least one criterion',
  })
  .meta({ minProperties: 1 })
  .describe(
    'Which findings are suppressed: every key that is set must match (AND across keys); within a key any filter may match (OR).',
  );
export type FilterCriteria = z.infer<typeof FilterCriteriaSchema>;

export const SuppressionRuleSpecSchema = z
  .object({
    filterCriteria: FilterCriteriaSchema,
    reason: boundedString(512, 1).describe(
      'Why matching findings are suppressed; shown on the findings.',
    ),
    description: boundedString(512).optional().describe('Longer description of the rule.'),
  })
  .describe('The rule, written by people.');
export type SuppressionRuleSpec = z.infer<typeof SuppressionRuleSpecSchema>;

export const SuppressionRuleStatusSchema = z
  .object({
    observedGeneration: observedGeneration(),
    conditions: conditions().optional(),
    matchedFindings: z
      .int()
      .min(0)
      .max(1_000_000_000)
      .optional()
      .describe('Findings the rule suppresses now.'),
    lastAppliedAt: timestamp()
      .optional()
      .describe('When the rule was last applied to the findings.'),
  })
  .describe('Observed state, written by the controller.');
export type SuppressionRuleStatus = z.infer<typeof SuppressionRuleStatusSchema>;

export const SuppressionRuleSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('SuppressionRule'),
  metadata: ObjectMetaSchema,
  spec: SuppressionRuleSpecSchema,
  status: SuppressionRuleStatusSchema.optional(),
});
export type SuppressionRule = z.infer<typeof SuppressionRuleSchema>;
