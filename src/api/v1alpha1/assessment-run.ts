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
  boundedString,
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

/** Most resources of each kind a run records while collecting (Classic: 500 instances per run). */
export const MAX_COLLECTED_NODES = 500;
export const MAX_COLLECTED_WORKLOADS = 1000;
export const MAX_COLLECTED_IMAGES = 500;

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
    collected: z
      .object({
        nodes: z
          .array(boundedString(253, 1))
          .max(MAX_COLLECTED_NODES)
          .optional()
          .describe('Names of the nodes seen matching the target while collecting.'),
        workloads: z
          .array(
            z
              .object({
                namespace: boundedString(63, 1).describe('Namespace of the workload.'),
                kind: boundedString(63, 1).describe(
                  'Deployment, StatefulSet, DaemonSet, Job, CronJob or Pod.',
                ),
                name: boundedString(253, 1).describe('Name of the workload.'),
              })
              .describe('A workload seen matching the target.'),
          )
          .max(MAX_COLLECTED_WORKLOADS)
          .optional()
          .describe('Workloads seen matching the target while collecting.'),
        images: z
          .array(
            z
              .object({
                reference: boundedString(512, 1).describe(
                  'Image reference as the pod or workload names it.',
                ),
                digest: z
                  .string()
                  .max(135)
                  .regex(/^sha256:[a-f0-9]{64}$/)
                  .optional()
                  .describe('Manifest digest, when known while collecting.'),
                namespace: boundedString(63)
                  .optional()
                  .describe('Namespace of a pod or workload that uses it (for pull secrets).'),
                pod: boundedString(253)
                  .optional()
                  .describe('Name of a pod seen using it (its pull secrets are used to scan it).'),
              })
              .describe('An image of a workload seen matching the target.'),
          )
          .max(MAX_COLLECTED_IMAGES)
          .optional()
          .describe('Images of the matching workloads seen while collecting.'),
        truncated: z
          .boolean()
          .optional()
          .describe('True when more resources matched than a run records; the rest were left out.'),
      })
      .optional()
      .describe(
        'What data collection recorded: every resource seen matching the target during the collection window, including ones that came and went. Kept in status so a controller restart loses nothing.',
      ),
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
