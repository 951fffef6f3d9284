// Every kind of kubeinspector.io/v1alpha1 with what its CRD needs beyond the
// schema: names, scope, printer columns. The CRD generator and the docs read
// this table.
import type { z } from 'zod';
import {
  AssessmentRunSchema,
  AssessmentRunSpecSchema,
  AssessmentRunStatusSchema,
} from './assessment-run.ts';
import {
  AssessmentTargetSchema,
  AssessmentTargetSpecSchema,
  AssessmentTargetStatusSchema,
} from './assessment-target.ts';
import {
  AssessmentTemplateSchema,
  AssessmentTemplateSpecSchema,
  AssessmentTemplateStatusSchema,
} from './assessment-template.ts';
import { FINDINGS_GROUP } from './common.ts';
import { CoveredResourceSchema, CoveredResourceStatusSchema } from './covered-resource.ts';
import { FindingSchema, FindingSpecSchema, FindingStatusSchema } from './finding.ts';
import { NodeInventorySchema, NodeInventoryStatusSchema } from './node-inventory.ts';
import {
  ScanConfigurationSchema,
  ScanConfigurationSpecSchema,
  ScanConfigurationStatusSchema,
} from './scan-configuration.ts';
import {
  SuppressionRuleSchema,
  SuppressionRuleSpecSchema,
  SuppressionRuleStatusSchema,
} from './suppression-rule.ts';

/** `kubectl get inspector` lists every kind. */
export const CATEGORY = 'inspector';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface KindInfo {
  kind: string;
  /**
   * The API group when it is not kubeinspector.io: Finding is served by kube-inspector's own
   * aggregated API (findings.kubeinspector.io), not by a CustomResourceDefinition.
   */
  group?: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: 'Cluster' | 'Namespaced';
  /** What the kind is for: the CRD's description and the first line of its docs page. */
  description: string;
  /** The whole object: apiVersion, kind, metadata, spec and status. */
  object: z.ZodType;
  spec?: z.ZodType;
  /** True when spec must be present. */
  specRequired: boolean;
  status: z.ZodType;
  /**
   * Whether status is a subresource (default true). False for a kind only the controller
   * writes, so one server-side apply creates or changes the object with its status (ADR 505).
   */
  statusSubresource?: boolean;
  printerColumns: PrinterColumn[];
}

const ready: PrinterColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  description: 'Status of the Ready condition.',
};
const age: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since the object was created.',
};

export const KINDS: readonly KindInfo[] = [
  {
    kind: 'ScanConfiguration',
    object: ScanConfigurationSchema,
    plural: 'scanconfigurations',
    singular: 'scanconfiguration',
    shortNames: ['scancfg'],
    scope: 'Cluster',
    description:
      'ScanConfiguration activates scanning (namespaces and scan types) and holds the node, image, workload and retention settings, like the configuration of an Inspector account. Only the object named "default" is in effect; others are reported as ignored.',
    spec: ScanConfigurationSpecSchema,
    specRequired: true,
    status: ScanConfigurationStatusSchema,
    printerColumns: [
      ready,
      {
        name: 'Scan Types',
        type: 'string',
        jsonPath: '.spec.activation.scanTypes',
        description: 'Active scan types.',
      },
      {
        name: 'Active',
        type: 'integer',
        jsonPath: '.status.statistics.active',
        description: 'Resources that are scanned.',
      },
      {
        name: 'Inactive',
        type: 'integer',
        jsonPath: '.status.statistics.inactive',
        description: 'Resources that are not scanned.',
      },
      age,
    ],
  },
  {
    kind: 'CoveredResource',
    object: CoveredResourceSchema,
    plural: 'coveredresources',
    singular: 'coveredresource',
    shortNames: ['coverage', 'cov'],
    scope: 'Cluster',
    description:
      'CoveredResource is the coverage of one node, image, image repository, workload or namespace: whether it is scanned (ACTIVE) or not (INACTIVE) and why, like an item of Inspector ListCoverage. Written by the controller.',
    specRequired: false,
    statusSubresource: false,
    status: CoveredResourceStatusSchema,
    printerColumns: [
      {
        name: 'Type',
        type: 'string',
        jsonPath: '.status.resourceType',
        description: 'Resource type.',
      },
      {
        name: 'Resource',
        type: 'string',
        jsonPath: '.status.resourceId',
        description: 'Resource identity.',
      },
      {
        name: 'Status',
        type: 'string',
        jsonPath: '.status.scanStatus.statusCode',
        description: 'ACTIVE or INACTIVE.',
      },
      {
        name: 'Reason',
        type: 'string',
        jsonPath: '.status.scanStatus.reason',
        description: 'Scan status reason.',
      },
      {
        name: 'Last Scanned',
        type: 'date',
        jsonPath: '.status.lastScannedAt',
        description: 'When the resource was last scanned.',
      },
      {
        name: 'Scan Type',
        type: 'string',
        jsonPath: '.status.scanType',
        description:
          'PACKAGE, NETWORK or CODE (a workload has a PACKAGE and, with WorkloadCode, a CODE CoveredResource).',
      },
      {
        name: 'Critical',
        type: 'integer',
        jsonPath: '.status.findingCounts.critical',
        description: 'Active CRITICAL findings.',
        priority: 1,
      },
      {
        name: 'High',
        type: 'integer',
        jsonPath: '.status.findingCounts.high',
        description: 'Active HIGH findings.',
        priority: 1,
      },
      {
        name: 'Message',
        type: 'string',
        jsonPath: '.status.scanStatus.message',
        description: 'Why the last scan failed, when it did.',
        priority: 1,
      },
      age,
    ],
  },
  {
    kind: 'NodeInventory',
    object: NodeInventorySchema,
    plural: 'nodeinventories',
    singular: 'nodeinventory',
    shortNames: ['ninv'],
    scope: 'Cluster',
    description:
      "NodeInventory is the software inventory of one node (OS, kernel, packages), written by the kube-inspector agent on that node; its name is the node's name.",
    specRequired: false,
    status: NodeInventoryStatusSchema,
    printerColumns: [
      {
        name: 'OS',
        type: 'string',
        jsonPath: '.status.os.prettyName',
        description: 'Operating system.',
      },
      {
        name: 'Arch',
        type: 'string',
        jsonPath: '.status.architecture',
        description: 'CPU architecture.',
      },
      {
        name: 'Packages',
        type: 'integer',
        jsonPath: '.status.packageCount',
        description: 'Packages found.',
      },
      {
        name: 'Collected',
        type: 'date',
        jsonPath: '.status.collectedAt',
        description: 'When the inventory was collected.',
      },
      {
        name: 'Kernel',
        type: 'string',
        jsonPath: '.status.kernelVersion',
        description: 'Kernel version.',
        priority: 1,
      },
      age,
    ],
  },
  {
    kind: 'AssessmentTarget',
    object: AssessmentTargetSchema,
    plural: 'assessmenttargets',
    singular: 'assessmenttarget',
    shortNames: ['atarget'],
    scope: 'Namespaced',
    description:
      'AssessmentTarget selects the resources an assessment covers: resource types and label selectors ORed together (empty selects all), like an Inspector Classic assessment target.',
    spec: AssessmentTargetSpecSchema,
    specRequired: true,
    status: AssessmentTargetStatusSchema,
    printerColumns: [
      {
        name: 'Types',
        type: 'string',
        jsonPath: '.spec.resourceTypes',
        description: 'Resource types covered.',
      },
      {
        name: 'Workloads',
        type: 'integer',
        jsonPath: '.status.matched.workloads',
        description: 'Workloads covered now.',
      },
      {
        name: 'Nodes',
        type: 'integer',
        jsonPath: '.status.matched.nodes',
        description: 'Nodes covered now.',
      },
      ready,
      age,
    ],
  },
  {
    kind: 'AssessmentTemplate',
    object: AssessmentTemplateSchema,
    plural: 'assessmenttemplates',
    singular: 'assessmenttemplate',
    shortNames: ['atemplate'],
    scope: 'Namespaced',
    description:
      'AssessmentTemplate says how an assessment of a target runs: rules packages, duration, attributes for its findings and an optional cron schedule, like an Inspector Classic assessment template.',
    spec: AssessmentTemplateSpecSchema,
    specRequired: true,
    status: AssessmentTemplateStatusSchema,
    printerColumns: [
      {
        name: 'Target',
        type: 'string',
        jsonPath: '.spec.targetRef.name',
        description: 'AssessmentTarget assessed.',
      },
      {
        name: 'Duration',
        type: 'integer',
        jsonPath: '.spec.durationSeconds',
        description: 'Data collection duration in seconds.',
      },
      {
        name: 'Schedule',
        type: 'string',
        jsonPath: '.spec.schedule',
        description: 'Cron schedule.',
      },
      {
        name: 'Last Run',
        type: 'string',
        jsonPath: '.status.lastRunName',
        description: 'Most recent run.',
      },
      age,
    ],
  },
  {
    kind: 'AssessmentRun',
    object: AssessmentRunSchema,
    plural: 'assessmentruns',
    singular: 'assessmentrun',
    shortNames: ['arun'],
    scope: 'Namespaced',
    description:
      "AssessmentRun is one run of an AssessmentTemplate through Inspector Classic's states, from CREATED to COMPLETED; its findings live in its namespace and are deleted with it.",
    spec: AssessmentRunSpecSchema,
    specRequired: true,
    status: AssessmentRunStatusSchema,
    printerColumns: [
      {
        name: 'State',
        type: 'string',
        jsonPath: '.status.state',
        description: 'State of the run.',
      },
      {
        name: 'Template',
        type: 'string',
        jsonPath: '.spec.templateRef.name',
        description: 'AssessmentTemplate run.',
      },
      {
        name: 'Critical',
        type: 'integer',
        jsonPath: '.status.findingCounts.critical',
        description: 'CRITICAL findings.',
      },
      {
        name: 'High',
        type: 'integer',
        jsonPath: '.status.findingCounts.high',
        description: 'HIGH findings.',
      },
      {
        name: 'Started',
        type: 'date',
        jsonPath: '.status.startedAt',
        description: 'When data collection started.',
      },
      age,
    ],
  },
  {
    kind: 'Finding',
    group: FINDINGS_GROUP,
    object: FindingSchema,
    plural: 'findings',
    singular: 'finding',
    shortNames: ['fnd'],
    scope: 'Namespaced',
    description:
      'Finding is one vulnerability, network exposure or configuration problem on one resource, like an Inspector finding. spec holds only attributes that people set; everything the controller computes is in status.',
    spec: FindingSpecSchema,
    specRequired: false,
    status: FindingStatusSchema,
    printerColumns: [
      {
        name: 'Severity',
        type: 'string',
        jsonPath: '.status.severity',
        description: 'Severity.',
      },
      { name: 'Type', type: 'string', jsonPath: '.status.type', description: 'Finding type.' },
      { name: 'Title', type: 'string', jsonPath: '.status.title', description: 'Title.' },
      {
        name: 'Resource',
        type: 'string',
        jsonPath: '.status.resource.id',
        description: 'Resource the finding is about.',
      },
      {
        name: 'Status',
        type: 'string',
        jsonPath: '.status.status',
        description: 'ACTIVE, SUPPRESSED or CLOSED.',
      },
      {
        name: 'Score',
        type: 'number',
        jsonPath: '.status.inspectorScore',
        description: 'Environment-adjusted score.',
        priority: 1,
      },
      {
        name: 'Fix',
        type: 'string',
        jsonPath: '.status.fixAvailable',
        description: 'Fix available.',
        priority: 1,
      },
      age,
    ],
  },
  {
    kind: 'SuppressionRule',
    object: SuppressionRuleSchema,
    plural: 'suppressionrules',
    singular: 'suppressionrule',
    shortNames: ['suppression'],
    scope: 'Namespaced',
    description:
      "SuppressionRule marks the findings that match its filter criteria SUPPRESSED, like an Inspector filter with the SUPPRESS action; deleting or narrowing it makes them ACTIVE again. Rules in the administrator namespace apply to every finding, rules elsewhere to that namespace's findings.",
    spec: SuppressionRuleSpecSchema,
    specRequired: true,
    status: SuppressionRuleStatusSchema,
    printerColumns: [
      {
        name: 'Matched',
        type: 'integer',
        jsonPath: '.status.matchedFindings',
        description: 'Findings suppressed now.',
      },
      {
        name: 'Reason',
        type: 'string',
        jsonPath: '.spec.reason',
        description: 'Why they are suppressed.',
      },
      ready,
      age,
    ],
  },
];

/** The kinds installed as CustomResourceDefinitions (every kind of group kubeinspector.io). */
export const CRD_KINDS: readonly KindInfo[] = KINDS.filter((k) => k.group === undefined);

export function kindInfo(kind: string): KindInfo {
  const info = KINDS.find((k) => k.kind === kind);
  if (!info) throw new Error(`unknown kind ${kind}`);
  return info;
}
