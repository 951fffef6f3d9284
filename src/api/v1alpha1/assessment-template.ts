// AssessmentTemplate: how an assessment runs (Inspector Classic's assessment
// template), with an optional cron schedule. Namespaced.
import { z } from 'zod';
import {
  API_VERSION,
  ObjectMetaSchema,
  RulesPackageSchema,
  boundedString,
  conditions,
  findingAttributes,
  localRef,
  objectName,
  observedGeneration,
  timestamp,
  withRules,
} from './common.ts';
import { CRON_PATTERN, isCronSchedule } from './cron.ts';

export const MIN_DURATION_SECONDS = 180;
export const MAX_DURATION_SECONDS = 86400;
export const DEFAULT_DURATION_SECONDS = 3600;
export const CONCURRENCY_POLICIES = ['Allow', 'Forbid', 'Replace'] as const;

export const AssessmentTemplateSpecSchema = z
  .object({
    targetRef: localRef('AssessmentTarget'),
    rulesPackages: z
      .array(RulesPackageSchema)
      .min(1)
      .max(5)
      .refine((l) => new Set(l).size === l.length, {
        message: 'rulesPackages must not repeat a value',
      })
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe(
        'Rules packages evaluated by each run: cve, cis, network-reachability, security-best-practices and/or code (hardcoded secrets in the pod templates of the workloads collected and secrets and code flaws in the application files of the images collected).',
      ),
    durationSeconds: z
      .int()
      .min(MIN_DURATION_SECONDS)
      .max(MAX_DURATION_SECONDS)
      .default(DEFAULT_DURATION_SECONDS)
      .describe('How long a run collects data, 180 to 86400 seconds. Default 3600.'),
    findingAttributes: findingAttributes(
      'Up to 10 attributes (key 1-128 characters, value 1-256) added to every finding of its runs.',
    ).optional(),
    schedule: withRules(z.string().max(256), [
      {
        rule: `self.matches(r'${CRON_PATTERN}')`,
        message:
          'schedule must be a 5-field cron expression: minute hour day-of-month month day-of-week',
        check: isCronSchedule,
      },
    ])
      .optional()
      .describe(
        'Cron schedule in five fields (minute hour day-of-month month day-of-week) on which a run is started; absent means runs are created by hand.',
      ),
    timeZone: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z][A-Za-z0-9_+\-/]*$/)
      .optional()
      .describe('IANA time zone of the schedule, for example Europe/Berlin. Default UTC.'),
    concurrencyPolicy: z
      .enum(CONCURRENCY_POLICIES)
      .default('Forbid')
      .describe(
        'What a scheduled start does while a run of the template is still running: Allow (start another), Forbid (skip this start) or Replace (stop the running one with SKIP_EVALUATION). Default Forbid.',
      ),
    suspend: z
      .boolean()
      .default(false)
      .describe('When true, the schedule starts no new runs; runs already started continue.'),
    successfulRunsHistoryLimit: z
      .int()
      .min(0)
      .max(100)
      .default(3)
      .describe('Completed scheduled runs kept (with their findings). Default 3.'),
    failedRunsHistoryLimit: z
      .int()
      .min(0)
      .max(100)
      .default(1)
      .describe('Failed, errored or canceled scheduled runs kept. Default 1.'),
  })
  .describe('How assessments of the target run, written by people.');
export type AssessmentTemplateSpec = z.infer<typeof AssessmentTemplateSpecSchema>;

export const AssessmentTemplateStatusSchema = z
  .object({
    observedGeneration: observedGeneration(),
    conditions: conditions().optional(),
    lastRunName: objectName()
      .optional()
      .describe('Name of the most recent run started from the template.'),
    lastScheduleTime: timestamp()
      .optional()
      .describe(
        'The last scheduled time the controller acted on: a run was started then, or the start was skipped by the concurrency policy.',
      ),
    nextScheduleTime: timestamp().optional().describe('When the schedule will start the next run.'),
    activeRuns: z
      .array(boundedString(253))
      .max(64)
      .optional()
      .describe('Names of runs of the template that have not finished.'),
    runCount: z
      .int()
      .min(0)
      .max(1_000_000_000)
      .optional()
      .describe('Runs of the template that exist now.'),
  })
  .describe('Observed state, written by the controller.');
export type AssessmentTemplateStatus = z.infer<typeof AssessmentTemplateStatusSchema>;

export const AssessmentTemplateSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('AssessmentTemplate'),
  metadata: ObjectMetaSchema,
  spec: AssessmentTemplateSpecSchema,
  status: AssessmentTemplateStatusSchema.optional(),
});
export type AssessmentTemplate = z.infer<typeof AssessmentTemplateSchema>;
