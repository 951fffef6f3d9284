// AssessmentRun: one execution of an AssessmentTemplate, with Inspector
// Classic's state machine. Namespaced.
import { z } from 'zod';
import {
  API_VERSION,
  ObjectMetaSchema,
  RulesPackageSchema,
  conditions,
  findingAttributes,
  findingCounts,
  localRef,
  observedGeneration,
  timestamp,
  withRules,
} from './common.ts';

/** Inspector Classic's AssessmentRunState values, in model order. */
export const ASSESSMENT_RUN_STATES = [
  'CREATED',
  'START_DATA_COLLECTION_PENDING',
  'START_DATA_COLLECTION_IN_PROGRESS',
  'COLLECTING_DATA',
  'STOP_DATA_COLLECTION_PENDING',
  'DATA_COLLECTED',
  'START_EVALUATING_RULES_PENDING',
  'EVALUATING_RULES',
  'FAILED',
  'ERROR',
  'COMPLETED',
  'COMPLETED_WITH_ERRORS',
  'CANCELED',
] as const;
export type AssessmentRunState = (typeof ASSESSMENT_RUN_STATES)[number];
export const TERMINAL_RUN_STATES: readonly AssessmentRunState[] = [
  'COMPLETED',
  'COMPLETED_WITH_ERRORS',
  'FAILED',
  'ERROR',
  'CANCELED',
];
export const STOP_ACTIONS = ['START_EVALUATION', 'SKIP_EVALUATION'] as const;

export const AssessmentRunSpecSchema = withRules(
  z.object({
    templateRef: localRef('AssessmentTemplate'),
    stop: z
      .object({
        action: z
          .enum(STOP_ACTIONS)
          .default('START_EVALUATION')
          .describe(
            'START_EVALUATION evaluates what was collected so far; SKIP_EVALUATION ends the run CANCELED with no findings. Default START_EVALUATION.',
          ),
      })
      .optional()
      .describe('Set to stop the run before its duration has elapsed (StopAssessmentRun).'),
  }),
  [
    {
      rule: 'self.templateRef == oldSelf.templateRef',
      message: 'templateRef is immutable',
      fieldPath: '.templateRef',
    },
    {
      rule: '!has(oldSelf.stop) || (has(self.stop) && self.stop == oldSelf.stop)',
      message: 'stop cannot be changed or removed once set',
      fieldPath: '.stop',
    },
  ],
).describe('The run, written by people (or by the schedule of the template).');
export type AssessmentRunSpec = z.infer<typeof AssessmentRunSpecSchema>;

export const StateChangeSchema = z
  .object({
    state: z.enum(ASSESSMENT_RUN_STATES).describe('State entered.'),
    stateChangedAt: timestamp().describe('When the state was entered.'),
  })
  .describe('One transition of the state machine.');

export const AssessmentRunStatusSchema = z
  .object({
    observedGeneration: observedGeneration(),
    conditions: conditions().optional(),
    state: z
      .enum(ASSESSMENT_RUN_STATES)
      .optional()
      .describe(
        'State of the run: CREATED, START_DATA_COLLECTION_PENDING, START_DATA_COLLECTION_IN_PROGRESS, COLLECTING_DATA, STOP_DATA_COLLECTION_PENDING, DATA_COLLECTED, START_EVALUATING_RULES_PENDING, EVALUATING_RULES, and the terminal COMPLETED, COMPLETED_WITH_ERRORS, FAILED, ERROR or CANCELED.',
      ),
    stateChangedAt: timestamp().optional().describe('When the state last changed.'),
    stateChanges: z
      .array(StateChangeSchema)
      .max(50)
      .optional()
      .describe('History of state transitions, oldest first, at most 50.'),
    startedAt: timestamp().optional().describe('When data collection started.'),
    completedAt: timestamp()
      .optional()
      .describe('When rules evaluation completed or the run failed.'),
    dataCollected: z.boolean().optional().describe('True once data collection completed.'),
    durationSeconds: z
      .int()
      .min(180)
      .max(86400)
      .optional()
      .describe('Data collection duration, copied from the template when the run started.'),
    rulesPackages: z
      .array(RulesPackageSchema)
      .max(4)
      .optional()
      .describe('Rules packages, copied from the template when the run started.'),
    findingAttributes: findingAttributes(
      'Finding attributes, copied from the template when the run started.',
    ).optional(),
    resourceCounts: z
      .object({
        nodes: z.int().min(0).max(1_000_000).optional().describe('Nodes assessed.'),
        workloads: z.int().min(0).max(1_000_000).optional().describe('Workloads assessed.'),
        images: z.int().min(0).max(1_000_000).optional().describe('Images assessed.'),
      })
      .optional()
      .describe('Resources whose data the run collected.'),
    findingCounts: findingCounts('Findings of the run by severity.').optional(),
  })
  .describe('Observed state, written by the controller.');
export type AssessmentRunStatus = z.infer<typeof AssessmentRunStatusSchema>;

export const AssessmentRunSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('AssessmentRun'),
  metadata: ObjectMetaSchema,
  spec: AssessmentRunSpecSchema,
  status: AssessmentRunStatusSchema.optional(),
});
export type AssessmentRun = z.infer<typeof AssessmentRunSchema>;
