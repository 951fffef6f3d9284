// Objects the API server must refuse, each with the field its message must
// name. Shared by the unit tests (zod and the generated schema agree) and the
// integration tests (the real API server refuses them).

/**
 * What refuses the object: the OpenAPI schema, a CEL rule, the list type
 * (duplicates in a set), or strict field validation (unknown fields).
 */
export type EnforcedBy = 'schema' | 'cel' | 'list-type' | 'unknown-field';

export interface InvalidObject {
  /** Reads as a sentence after "refuses ...". */
  name: string;
  kind: string;
  /** `spec` is written on create; `status` through the status subresource of a valid object. */
  part: 'spec' | 'status';
  /** The spec or status to write. */
  value: Record<string, unknown>;
  /** A substring of the error message: the field path. */
  field: string;
  enforcedBy: EnforcedBy;
}

const template = { targetRef: { name: 'web' }, rulesPackages: ['cve'] };
const attrs = (n: number) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`key${i}`, 'v']));
const selector = (s: Record<string, unknown>) => ({ activation: { namespaceSelector: s } });

/** A valid spec or status per kind, which the invalid objects vary. */
export const VALID_PARTS: Record<
  string,
  { spec?: Record<string, unknown>; status?: Record<string, unknown> }
> = {
  ScanConfiguration: { spec: {} },
  CoveredResource: {
    status: {
      resourceType: 'NODE',
      resourceId: 'node-a',
      scanStatus: { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' },
    },
  },
  NodeInventory: {
    status: {
      packages: [{ name: 'libc6', version: '2.36-9+deb12u4', ecosystem: 'Debian:12' }],
      packageCount: 1,
    },
  },
  AssessmentTarget: { spec: {} },
  AssessmentTemplate: { spec: template },
  AssessmentRun: { spec: { templateRef: { name: 'weekly' } } },
  Finding: {
    spec: {},
    // YES and NO are booleans in YAML 1.1: the CRD must quote them.
    status: { severity: 'HIGH', status: 'ACTIVE', fixAvailable: 'NO', exploitAvailable: 'YES' },
  },
  SuppressionRule: {
    spec: {
      filterCriteria: { severity: [{ comparison: 'EQUALS', value: 'LOW' }] },
      reason: 'accepted risk',
    },
  },
};

export const INVALID_OBJECTS: InvalidObject[] = [
  // AssessmentTemplate
  {
    name: 'a run duration below 180 seconds',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { ...template, durationSeconds: 179 },
    field: 'spec.durationSeconds',
    enforcedBy: 'schema',
  },
  {
    name: 'a run duration above 86400 seconds',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { ...template, durationSeconds: 86401 },
    field: 'spec.durationSeconds',
    enforcedBy: 'schema',
  },
  {
    name: 'a run duration given as a string',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { ...template, durationSeconds: '3600' },
    field: 'spec.durationSeconds',
    enforcedBy: 'schema',
  },
  {
    name: 'more than 10 finding attributes',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { ...template, findingAttributes: attrs(11) },
    field: 'spec.findingAttributes',
    enforcedBy: 'schema',
  },
  {
    name: 'an attribute key longer than 128 characters',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { ...template, findingAttributes: { ['k'.repeat(129)]: 'v' } },
    field: 'spec.findingAttributes',
    enforcedBy: 'cel',
  },
  {
    name: 'an empty attribute value',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { ...template, findingAttributes: { team: '' } },
    field: 'spec.findingAttributes.team',
    enforcedBy: 'schema',
  },
  {
    name: 'an attribute value longer than 256 characters',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { ...template, findingAttributes: { team: 'v'.repeat(257) } },
    field: 'spec.findingAttributes.team',
    enforcedBy: 'schema',
  },
  {
    name: 'an unknown rules package',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { ...template, rulesPackages: ['runtime-behavior-analysis'] },
    field: 'spec.rulesPackages[0]',
    enforcedBy: 'schema',
  },
  {
    name: 'an empty list of rules packages',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { ...template, rulesPackages: [] },
    field: 'spec.rulesPackages',
    enforcedBy: 'schema',
  },
  {
    name: 'a repeated rules package',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { ...template, rulesPackages: ['cve', 'cve'] },
    field: 'spec.rulesPackages[1]',
    enforcedBy: 'list-type',
  },
  {
    name: 'a schedule with four cron fields',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { ...template, schedule: '0 3 * *' },
    field: 'spec.schedule',
    enforcedBy: 'cel',
  },
  {
    name: 'a schedule with minute 61',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { ...template, schedule: '61 3 * * *' },
    field: 'spec.schedule',
    enforcedBy: 'cel',
  },
  {
    name: 'a schedule that is a macro instead of five fields',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { ...template, schedule: '@daily' },
    field: 'spec.schedule',
    enforcedBy: 'cel',
  },
  {
    name: 'an unknown concurrency policy',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { ...template, concurrencyPolicy: 'Queue' },
    field: 'spec.concurrencyPolicy',
    enforcedBy: 'schema',
  },
  {
    name: 'a template without a targetRef',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { rulesPackages: ['cve'] },
    field: 'spec.targetRef',
    enforcedBy: 'schema',
  },
  {
    name: 'a targetRef name that is not a DNS subdomain',
    kind: 'AssessmentTemplate',
    part: 'spec',
    value: { ...template, targetRef: { name: 'Web_Servers' } },
    field: 'spec.targetRef.name',
    enforcedBy: 'schema',
  },
  // AssessmentRun
  {
    name: 'an unknown stop action',
    kind: 'AssessmentRun',
    part: 'spec',
    value: { templateRef: { name: 'weekly' }, stop: { action: 'PAUSE' } },
    field: 'spec.stop.action',
    enforcedBy: 'schema',
  },
  {
    name: 'a run without a templateRef',
    kind: 'AssessmentRun',
    part: 'spec',
    value: {},
    field: 'spec.templateRef',
    enforcedBy: 'schema',
  },
  {
    name: 'an unknown run state written by a controller',
    kind: 'AssessmentRun',
    part: 'status',
    value: { state: 'RUNNING' },
    field: 'status.state',
    enforcedBy: 'schema',
  },
  {
    name: 'more than 50 state changes',
    kind: 'AssessmentRun',
    part: 'status',
    value: {
      stateChanges: Array.from({ length: 51 }, () => ({
        state: 'CREATED',
        stateChangedAt: '2026-01-01T00:00:00Z',
      })),
    },
    field: 'status.stateChanges',
    enforcedBy: 'schema',
  },
  // ScanConfiguration
  {
    name: 'more than 5 deep-inspection custom paths',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: { node: { customPaths: ['/a', '/b', '/c', '/d', '/e', '/f'] } },
    field: 'spec.node.customPaths',
    enforcedBy: 'schema',
  },
  {
    name: 'a relative custom path',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: { node: { customPaths: ['opt/app'] } },
    field: 'spec.node.customPaths[0]',
    enforcedBy: 'schema',
  },
  {
    name: 'a package limit above 5000',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: { node: { packageLimit: 5001 } },
    field: 'spec.node.packageLimit',
    enforcedBy: 'schema',
  },
  {
    name: 'an unknown repository scan frequency',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: { image: { repositoryRules: [{ filter: '*', frequency: 'DAILY' }] } },
    field: 'spec.image.repositoryRules[0].frequency',
    enforcedBy: 'schema',
  },
  {
    name: 'an empty repository filter',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: { image: { repositoryRules: [{ filter: '', frequency: 'MANUAL' }] } },
    field: 'spec.image.repositoryRules[0].filter',
    enforcedBy: 'schema',
  },
  {
    name: 'a repository filter with a character a glob may not hold',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: {
      image: { repositoryRules: [{ filter: 'registry.example/[abc]', frequency: 'MANUAL' }] },
    },
    field: 'spec.image.repositoryRules[0].filter',
    enforcedBy: 'cel',
  },
  {
    name: 'a repository filter with "***"',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: {
      image: {
        repositoryRules: [
          { filter: 'registry.example/*', frequency: 'SCAN_ON_PUSH' },
          { filter: 'registry.example/***', frequency: 'MANUAL' },
        ],
      },
    },
    field: 'spec.image.repositoryRules[1].filter',
    enforcedBy: 'cel',
  },
  {
    name: 'a repository filter with an empty path segment',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: {
      image: { repositoryRules: [{ filter: 'registry.example//app', frequency: 'MANUAL' }] },
    },
    field: 'spec.image.repositoryRules[0].filter',
    enforcedBy: 'cel',
  },
  {
    name: 'more than 100 repository rules',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: {
      image: {
        repositoryRules: Array.from({ length: 101 }, (_, i) => ({
          filter: `r${i}/*`,
          frequency: 'MANUAL',
        })),
      },
    },
    field: 'spec.image.repositoryRules',
    enforcedBy: 'schema',
  },
  {
    name: 'an unknown push-date rescan duration',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: { image: { rescanDuration: 'DAYS_1' } },
    field: 'spec.image.rescanDuration',
    enforcedBy: 'schema',
  },
  {
    name: 'LIFETIME as pull-date rescan duration',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: { image: { pullDateRescanDuration: 'LIFETIME' } },
    field: 'spec.image.pullDateRescanDuration',
    enforcedBy: 'schema',
  },
  {
    name: 'an unknown pull-date rescan mode',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: { image: { pullDateRescanMode: 'LAST_PUSH_DATE' } },
    field: 'spec.image.pullDateRescanMode',
    enforcedBy: 'schema',
  },
  {
    name: 'a maximum image size that is not a quantity',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: { image: { maxImageSize: '10 gigabytes' } },
    field: 'spec.image.maxImageSize',
    enforcedBy: 'schema',
  },
  {
    name: 'an unknown scan type',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: { activation: { scanTypes: ['Node', 'Lambda'] } },
    field: 'spec.activation.scanTypes[1]',
    enforcedBy: 'schema',
  },
  {
    name: 'a continuous rules package named twice',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: { rulesPackages: ['cve', 'cve'] },
    field: 'spec.rulesPackages',
    enforcedBy: 'cel',
  },
  {
    name: 'code as a continuous rules package (continuous code scanning is the WorkloadCode scan type)',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: { rulesPackages: ['cve', 'code'] },
    field: 'spec.rulesPackages',
    enforcedBy: 'cel',
  },
  {
    name: 'an unknown continuous rules package',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: { rulesPackages: ['malware'] },
    field: 'spec.rulesPackages[0]',
    enforcedBy: 'schema',
  },
  {
    name: 'an exclusion label that is not a label key',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: { exclusionLabel: 'skip me!' },
    field: 'spec.exclusionLabel',
    enforcedBy: 'schema',
  },
  {
    name: 'an unknown label selector operator',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: selector({ matchExpressions: [{ key: 'team', operator: 'Contains', values: ['a'] }] }),
    field: 'spec.activation.namespaceSelector.matchExpressions[0].operator',
    enforcedBy: 'schema',
  },
  {
    name: 'an In requirement without values',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: selector({ matchExpressions: [{ key: 'team', operator: 'In' }] }),
    field: 'spec.activation.namespaceSelector.matchExpressions[0]',
    enforcedBy: 'cel',
  },
  {
    name: 'a selector label key with a space',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: selector({ matchLabels: { 'my team': 'a' } }),
    field: 'spec.activation.namespaceSelector.matchLabels',
    enforcedBy: 'cel',
  },
  {
    name: 'a selector label value with a slash',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: selector({ matchLabels: { team: 'a/b' } }),
    field: 'spec.activation.namespaceSelector.matchLabels.team',
    enforcedBy: 'schema',
  },
  {
    name: 'a retention of zero days',
    kind: 'ScanConfiguration',
    part: 'spec',
    value: { findingRetention: { closedDays: 0 } },
    field: 'spec.findingRetention.closedDays',
    enforcedBy: 'schema',
  },
  // AssessmentTarget
  {
    name: 'an unknown target resource type',
    kind: 'AssessmentTarget',
    part: 'spec',
    value: { resourceTypes: ['LAMBDA_FUNCTION'] },
    field: 'spec.resourceTypes[0]',
    enforcedBy: 'schema',
  },
  {
    name: 'an Exists requirement with values',
    kind: 'AssessmentTarget',
    part: 'spec',
    value: {
      selectors: [{ matchExpressions: [{ key: 'app', operator: 'Exists', values: ['web'] }] }],
    },
    field: 'spec.selectors[0].matchExpressions[0]',
    enforcedBy: 'cel',
  },
  {
    name: 'more than 16 selectors',
    kind: 'AssessmentTarget',
    part: 'spec',
    value: { selectors: Array.from({ length: 17 }, (_, i) => ({ matchLabels: { app: `a${i}` } })) },
    field: 'spec.selectors',
    enforcedBy: 'schema',
  },
  {
    name: 'a requirement key that is not a label key',
    kind: 'AssessmentTarget',
    part: 'spec',
    value: { selectors: [{ matchExpressions: [{ key: '-app', operator: 'Exists' }] }] },
    field: 'spec.selectors[0].matchExpressions[0].key',
    enforcedBy: 'schema',
  },
  // Finding
  {
    name: 'more than 10 attributes on a finding',
    kind: 'Finding',
    part: 'spec',
    value: { attributes: attrs(11) },
    field: 'spec.attributes',
    enforcedBy: 'schema',
  },
  {
    name: 'a severity in the spec of a finding',
    kind: 'Finding',
    part: 'spec',
    value: { severity: 'LOW' },
    field: 'spec.severity',
    enforcedBy: 'unknown-field',
  },
  {
    name: 'an unknown severity written by a controller',
    kind: 'Finding',
    part: 'status',
    value: { severity: 'SEVERE' },
    field: 'status.severity',
    enforcedBy: 'schema',
  },
  {
    name: 'a CVSS base score above 10',
    kind: 'Finding',
    part: 'status',
    value: {
      cvss: [{ version: '3.1', scoringVector: 'CVSS:3.1/AV:N', baseScore: 11, source: 'NVD' }],
    },
    field: 'status.cvss[0].baseScore',
    enforcedBy: 'schema',
  },
  {
    name: 'an unknown fix availability',
    kind: 'Finding',
    part: 'status',
    value: { fixAvailable: 'MAYBE' },
    field: 'status.fixAvailable',
    enforcedBy: 'schema',
  },
  // CoveredResource and NodeInventory
  {
    name: 'an unknown scan status reason',
    kind: 'CoveredResource',
    part: 'status',
    value: {
      resourceType: 'NODE',
      resourceId: 'n',
      scanStatus: { statusCode: 'INACTIVE', reason: 'EC2_INSTANCE_STOPPED' },
    },
    field: 'status.scanStatus.reason',
    enforcedBy: 'schema',
  },
  {
    name: 'an unknown coverage resource type',
    kind: 'CoveredResource',
    part: 'status',
    value: {
      resourceType: 'AWS_EC2_INSTANCE',
      resourceId: 'n',
      scanStatus: { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' },
    },
    field: 'status.resourceType',
    enforcedBy: 'schema',
  },
  {
    name: 'an inventory package without a version',
    kind: 'NodeInventory',
    part: 'status',
    value: { packages: [{ name: 'libc6', ecosystem: 'Debian:12' }] },
    field: 'status.packages[0].version',
    enforcedBy: 'schema',
  },
  // SuppressionRule
  {
    name: 'empty filter criteria',
    kind: 'SuppressionRule',
    part: 'spec',
    value: { filterCriteria: {}, reason: 'r' },
    field: 'spec.filterCriteria',
    enforcedBy: 'schema',
  },
  {
    name: 'an unknown severity in a filter',
    kind: 'SuppressionRule',
    part: 'spec',
    value: {
      filterCriteria: { severity: [{ comparison: 'EQUALS', value: 'SEVERE' }] },
      reason: 'r',
    },
    field: 'spec.filterCriteria.severity[0].value',
    enforcedBy: 'schema',
  },
  {
    name: 'an unknown string comparison',
    kind: 'SuppressionRule',
    part: 'spec',
    value: {
      filterCriteria: { vulnerabilityId: [{ comparison: 'CONTAINS', value: 'CVE-2024' }] },
      reason: 'r',
    },
    field: 'spec.filterCriteria.vulnerabilityId[0].comparison',
    enforcedBy: 'schema',
  },
  {
    name: 'more than 10 filters on one key',
    kind: 'SuppressionRule',
    part: 'spec',
    value: {
      filterCriteria: {
        packageName: Array.from({ length: 11 }, (_, i) => ({
          comparison: 'EQUALS',
          value: `p${i}`,
        })),
      },
      reason: 'r',
    },
    field: 'spec.filterCriteria.packageName',
    enforcedBy: 'schema',
  },
  {
    name: 'a rule without a reason',
    kind: 'SuppressionRule',
    part: 'spec',
    value: { filterCriteria: { fixAvailable: [{ comparison: 'EQUALS', value: 'NO' }] } },
    field: 'spec.reason',
    enforcedBy: 'schema',
  },
  {
    name: 'an unknown fix availability in a filter',
    kind: 'SuppressionRule',
    part: 'spec',
    value: {
      filterCriteria: { fixAvailable: [{ comparison: 'EQUALS', value: 'MAYBE' }] },
      reason: 'r',
    },
    field: 'spec.filterCriteria.fixAvailable[0].value',
    enforcedBy: 'schema',
  },
];
