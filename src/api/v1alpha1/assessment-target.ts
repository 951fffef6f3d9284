// AssessmentTarget: which resources an assessment covers (Inspector Classic's
// assessment target). Namespaced.
import { z } from 'zod';
import {
  API_VERSION,
  ObjectMetaSchema,
  conditions,
  labelSelector,
  observedGeneration,
  timestamp,
} from './common.ts';

/** Resource types an assessment can cover. */
export const TARGET_RESOURCE_TYPES = ['NODE', 'WORKLOAD', 'CONTAINER_IMAGE'] as const;

export const AssessmentTargetSpecSchema = z
  .object({
    resourceTypes: z
      .array(z.enum(TARGET_RESOURCE_TYPES))
      .min(1)
      .max(3)
      .refine((l) => new Set(l).size === l.length, {
        message: 'resourceTypes must not repeat a value',
      })
      .meta({ 'x-kubernetes-list-type': 'set' })
      .default(['WORKLOAD', 'CONTAINER_IMAGE'])
      .describe(
        'Kinds of resources covered: NODE, WORKLOAD and/or CONTAINER_IMAGE (the images of the selected workloads). Default WORKLOAD and CONTAINER_IMAGE. NODE needs a target in the administrator namespace.',
      ),
    selectors: z
      .array(
        labelSelector(
          'A label selector; a resource matches when its labels (a workload: its own labels) satisfy it.',
        ),
      )
      .max(16)
      .optional()
      .describe(
        'Label selectors ORed together, like the tag pairs of a Classic resource group: a resource is covered when any selector matches. Empty or absent covers every resource of the selected kinds.',
      ),
    namespaceSelector: labelSelector(
      'Namespaces whose workloads are covered. Honoured only for a target in the administrator namespace; a target elsewhere covers its own namespace only.',
    ).optional(),
  })
  .describe('Which resources are assessed, written by people.');
export type AssessmentTargetSpec = z.infer<typeof AssessmentTargetSpecSchema>;

export const AssessmentTargetStatusSchema = z
  .object({
    observedGeneration: observedGeneration(),
    conditions: conditions().optional(),
    matched: z
      .object({
        nodes: z.int().min(0).max(1_000_000).optional().describe('Nodes covered.'),
        workloads: z.int().min(0).max(1_000_000).optional().describe('Workloads covered.'),
        images: z.int().min(0).max(1_000_000).optional().describe('Distinct images covered.'),
      })
      .optional()
      .describe('What the target covers now (like Classic PreviewAgents).'),
    evaluatedAt: timestamp().optional().describe('When matched was computed.'),
  })
  .describe('Observed state, written by the controller.');
export type AssessmentTargetStatus = z.infer<typeof AssessmentTargetStatusSchema>;

export const AssessmentTargetSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('AssessmentTarget'),
  metadata: ObjectMetaSchema,
  spec: AssessmentTargetSpecSchema,
  status: AssessmentTargetStatusSchema.optional(),
});
export type AssessmentTarget = z.infer<typeof AssessmentTargetSchema>;
