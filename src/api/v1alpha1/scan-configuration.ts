// ScanConfiguration: the cluster's activation and scan settings (Inspector's
// account configuration). Cluster-scoped; the object named `default` is the
// configuration, any other is reported as ignored.
import { z } from 'zod';
import {
  API_VERSION,
  DNS1123_LABEL,
  LABEL_KEY,
  ObjectMetaSchema,
  RESOURCE_TYPES,
  RulesPackageSchema,
  boundedString,
  conditions,
  labelSelector,
  observedGeneration,
  type Rule,
  timestamp,
  withRules,
} from './common.ts';

/** The name of the ScanConfiguration that is in effect. */
export const SCAN_CONFIGURATION_NAME = 'default';

export const SCAN_TYPES = ['Node', 'Image', 'Workload', 'WorkloadCode'] as const;
/** Inspector's ECR scan frequencies. */
export const SCAN_FREQUENCIES = ['CONTINUOUS_SCAN', 'SCAN_ON_PUSH', 'MANUAL'] as const;
/** Inspector's EcrRescanDuration values (push date). */
export const RESCAN_DURATIONS = [
  'LIFETIME',
  'DAYS_3',
  'DAYS_7',
  'DAYS_14',
  'DAYS_30',
  'DAYS_60',
  'DAYS_90',
  'DAYS_180',
] as const;
/** Inspector's EcrPullDateRescanDuration values (no LIFETIME). */
export const PULL_DATE_RESCAN_DURATIONS = [
  'DAYS_3',
  'DAYS_7',
  'DAYS_14',
  'DAYS_30',
  'DAYS_60',
  'DAYS_90',
  'DAYS_180',
] as const;
export const PULL_DATE_RESCAN_MODES = ['LAST_PULL_DATE', 'LAST_IN_USE_AT'] as const;

/** A Kubernetes quantity such as 10Gi or 500M. */
export const QUANTITY = '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$';

const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Bytes of a quantity accepted by the schema (`10Gi` -> 10737418240). */
export function quantityToBytes(quantity: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)$/.exec(quantity);
  const unit = m ? UNITS[m[2] ?? ''] : undefined;
  if (!m || unit === undefined) throw new Error(`not a quantity: ${quantity}`);
  return Math.ceil(Number(m[1]) * unit);
}

const days = (what: string, def: number, max: number) =>
  z.int().min(1).max(max).default(def).describe(`${what} Default ${def}.`);

/** The characters a repository glob may hold. */
export const GLOB_CHARACTERS = '^[A-Za-z0-9._/:*@-]+$';
const globCharacters = new RegExp(GLOB_CHARACTERS);

/** What makes a string a repository glob, for the API server (CEL) and for zod alike. */
export const GLOB_RULES: Rule<string>[] = [
  {
    rule: `self.matches('${GLOB_CHARACTERS}')`,
    message: 'must contain only letters, digits and `.` `_` `-` `/` `:` `@` `*`',
    check: (g) => globCharacters.test(g),
  },
  {
    rule: "!self.contains('***')",
    message: 'must not contain `***` (use `*` or `**`)',
    check: (g) => !g.includes('***'),
  },
  {
    rule: "!self.startsWith('/') && !self.endsWith('/') && !self.contains('//')",
    message: 'must not have an empty path segment (a leading or trailing `/`, or `//`)',
    check: (g) => !g.startsWith('/') && !g.endsWith('/') && !g.includes('//'),
  },
];

export const RepositoryRuleSchema = z
  .object({
    filter: withRules(boundedString(256, 1), GLOB_RULES).describe(
      'Glob over `registry/repository` (for example `registry.example/library/*` or `*/prod/**`); `*` stays within one path segment, `**` crosses segments.',
    ),
    frequency: z
      .enum(SCAN_FREQUENCIES)
      .describe(
        'Scan frequency of matching repositories: CONTINUOUS_SCAN (rescanned on every database or inventory change), SCAN_ON_PUSH (scanned once when first seen or pushed) or MANUAL (not scanned).',
      ),
  })
  .describe('A repository rule: the first rule whose filter matches sets the frequency.');

export const ScanConfigurationSpecSchema = z
  .object({
    activation: z
      .object({
        namespaceSelector: labelSelector(
          'Namespaces whose resources are scanned; empty selects every namespace. Nodes are cluster-wide and not affected.',
        ).optional(),
        // atomic, not set: the list is one value that whoever applies it replaces. With a
        // set, items defaulted by the API server belong to nobody, so applying
        // [Node, Workload] later would leave Image in the list.
        scanTypes: withRules(
          z
            .array(z.enum(SCAN_TYPES))
            .max(SCAN_TYPES.length)
            .meta({ 'x-kubernetes-list-type': 'atomic' }),
          [
            {
              rule: 'self.all(x, self.exists_one(y, y == x))',
              message: 'scanTypes must not repeat a value',
              reason: 'FieldValueDuplicate',
              check: (l) => new Set(l).size === l.length,
            },
          ],
        )
          .default(['Node', 'Image', 'Workload'])
          .describe(
            'Active scan types: Node, Image, Workload and/or WorkloadCode (hardcoded secrets and code flaws in the application files of the images workloads run, and secrets in their pod templates; needs Image; each workload then has a second CoveredResource with scanType CODE). Default Node, Image and Workload.',
          ),
      })
      .prefault({})
      .describe('What is scanned: which namespaces and which scan types are active.'),
    exclusionLabel: z
      .string()
      .min(1)
      .max(316)
      .regex(new RegExp(LABEL_KEY))
      .default('kubeinspector.io/exclude')
      .describe(
        'Label key that excludes a node, workload or namespace from scanning (like InspectorEc2Exclusion); any value. Default kubeinspector.io/exclude.',
      ),
    node: z
      .object({
        staleInventoryDays: days(
          'Days without a new NodeInventory after which a node is INACTIVE with STALE_INVENTORY.',
          7,
          365,
        ),
        packageLimit: z
          .int()
          .min(1)
          .max(5000)
          .default(5000)
          .describe(
            'Maximum number of packages an agent writes into a NodeInventory; beyond it the node reports DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED. Default and maximum 5000.',
          ),
        collectionTimeLimitSeconds: z
          .int()
          .min(10)
          .max(3600)
          .default(900)
          .describe(
            'Time limit of one inventory collection; beyond it the node reports DEEP_INSPECTION_COLLECTION_TIME_LIMIT_EXCEEDED. Default 900 (15 minutes).',
          ),
        customPaths: z
          .array(
            z
              .string()
              .min(2)
              .max(256)
              .regex(/^\/[^\0]*$/)
              .describe('An absolute path on the node.'),
          )
          .max(5)
          .meta({ 'x-kubernetes-list-type': 'set' })
          .optional()
          .describe(
            'Up to 5 extra directories searched for language packages (deep inspection), in addition to /usr/lib, /usr/lib64, /usr/local/lib and /usr/local/lib64.',
          ),
        notReadyGraceSeconds: z
          .int()
          .min(0)
          .max(86400)
          .default(300)
          .describe(
            'How long a node may be NotReady (or Unknown) before it counts as stopped (RESOURCE_STOPPED). Default 300.',
          ),
      })
      .prefault({})
      .describe('Node (host) scanning settings.'),
    image: z
      .object({
        repositoryRules: z
          .array(RepositoryRuleSchema)
          .max(100)
          .optional()
          .describe(
            'Ordered repository rules; the first match wins. A repository no rule matches is scanned continuously (CONTINUOUS_SCAN).',
          ),
        rescanDuration: z
          .enum(RESCAN_DURATIONS)
          .default('DAYS_90')
          .describe(
            'How long after its push date an image stays eligible: LIFETIME, DAYS_3, DAYS_7, DAYS_14, DAYS_30, DAYS_60, DAYS_90 or DAYS_180. Default DAYS_90.',
          ),
        pullDateRescanDuration: z
          .enum(PULL_DATE_RESCAN_DURATIONS)
          .default('DAYS_14')
          .describe(
            'How long after its pull date (or last use) an image stays eligible: DAYS_3 to DAYS_180. Default DAYS_14.',
          ),
        pullDateRescanMode: z
          .enum(PULL_DATE_RESCAN_MODES)
          .default('LAST_IN_USE_AT')
          .describe(
            'Which date the pull window counts from: LAST_PULL_DATE (a pod last started with the image) or LAST_IN_USE_AT (a running pod last used it). Default LAST_IN_USE_AT.',
          ),
        maxImageSize: z
          .string()
          .max(32)
          .regex(new RegExp(QUANTITY))
          .default('10Gi')
          .describe(
            'Largest image (sum of compressed layers) that is scanned, as a quantity; larger images report IMAGE_SIZE_EXCEEDED. Default 10Gi.',
          ),
      })
      .prefault({})
      .describe('Container image scanning settings.'),
    workload: z
      .object({
        eligibilityDays: days(
          'Days since a workload last ran or was updated after which it is INACTIVE with SCAN_ELIGIBILITY_EXPIRED.',
          90,
          3650,
        ),
        codeExclusionLabel: z
          .string()
          .min(1)
          .max(316)
          .regex(new RegExp(LABEL_KEY))
          .default('kubeinspector.io/exclude-code')
          .describe(
            'Label key that excludes a workload (or every workload of a namespace) from code scanning only, like the Lambda tag InspectorCodeExclusion=LambdaCodeScanning: its code coverage is INACTIVE with EXCLUDED_BY_TAG while its package coverage goes on. Any value. Default kubeinspector.io/exclude-code.',
          ),
      })
      .prefault({})
      .describe('Workload scanning settings.'),
    rulesPackages: withRules(
      z.array(RulesPackageSchema).max(4).meta({ 'x-kubernetes-list-type': 'atomic' }),
      [
        {
          rule: 'self.all(x, self.exists_one(y, y == x))',
          message: 'rulesPackages must not repeat a value',
          reason: 'FieldValueDuplicate',
          check: (l) => new Set(l).size === l.length,
        },
        {
          rule: "!self.exists(x, x == 'code')",
          message:
            'code is not a continuous rules package: switch code scanning on with the WorkloadCode scan type in spec.activation.scanTypes (code is for assessment templates)',
          check: (l) => !l.includes('code'),
        },
      ],
    )
      .default(['cve'])
      .describe(
        'Rules packages evaluated continuously: cve (package vulnerabilities of nodes and images), security-best-practices (Pod Security Standards and hardening rules on workloads), network-reachability (exposure of workloads) and/or cis (CIS benchmark checks of nodes, evaluated by the node agent). A package left out produces no continuous findings, and those it produced close. Default [cve].',
      ),
    findingRetention: z
      .object({
        closedDays: days('Days a CLOSED finding is kept before it is deleted.', 30, 3650),
        resourceGoneDays: days(
          'Days a CLOSED finding is kept when its resource no longer exists or is no longer eligible.',
          3,
          3650,
        ),
        reopenWindowDays: z
          .int()
          .min(0)
          .max(365)
          .default(7)
          .describe(
            'A CLOSED finding that reappears within this many days is reopened (same object, same firstObservedAt). Default 7.',
          ),
      })
      .prefault({})
      .describe('How long closed findings are kept, and when they are reopened.'),
  })
  .describe('Scan configuration, written by the cluster administrator.');
export type ScanConfigurationSpec = z.infer<typeof ScanConfigurationSpecSchema>;

const count = (what: string) => z.int().min(0).max(1_000_000_000).describe(what);

export const CoverageCountSchema = z
  .object({
    resourceType: z.enum(RESOURCE_TYPES).describe('Resource type counted.'),
    statusCode: z.enum(['ACTIVE', 'INACTIVE']).describe('Scan status code counted.'),
    reason: boundedString(64, 1).describe('Scan status reason counted.'),
    scanType: z
      .enum(['CODE'])
      .optional()
      .describe(
        'CODE for the code-scanning coverage of workloads (the WorkloadCode scan type, counted apart from their package coverage); absent for the standard scan.',
      ),
    count: count('Number of resources with this type, status code and reason.'),
  })
  .describe('Number of covered resources with one resource type, status code and reason.');

export const NamespaceCoverageSchema = z
  .object({
    namespace: z
      .string()
      .min(1)
      .max(63)
      .regex(new RegExp(DNS1123_LABEL))
      .describe('Namespace counted.'),
    active: count('Resources of the namespace that are scanned (ACTIVE).'),
    inactive: count('Resources of the namespace that are not scanned (INACTIVE).'),
  })
  .describe('Coverage of one namespace.');

export const VulnerabilityDatabaseSourceStatusSchema = z
  .object({
    source: boundedString(2048, 1).describe('The source: a URL or a path in the controller.'),
    records: count('Records of this source in the index (withdrawn ones excluded).').optional(),
    loadedAt: timestamp()
      .optional()
      .describe('When the records of this source in the index were loaded.'),
    lastCheckTime: timestamp().optional().describe('When the source was last asked for changes.'),
    lastSuccessTime: timestamp()
      .optional()
      .describe('When the source was last read (loaded, or confirmed unchanged).'),
    lastError: boundedString(1024)
      .optional()
      .describe(
        'Why the last refresh could not read the source; its last good records are still served. Absent when the last refresh read it.',
      ),
    consecutiveFailures: count('Refreshes in a row that could not read the source.').optional(),
  })
  .describe('The state of one vulnerability database source.');

export const VulnerabilityDatabaseStatusSchema = z
  .object({
    loaded: z.boolean().describe('Whether the controller has an advisory index to match against.'),
    records: count('Advisories in the index (withdrawn ones excluded).').optional(),
    malformedRecords: count('Records that failed validation and were skipped.').optional(),
    indexBytes: z.int().min(0).optional().describe('Size of the on-disk advisory index, in bytes.'),
    builtAt: timestamp().optional().describe('When the index being served was built.'),
    newestModified: timestamp()
      .optional()
      .describe('The newest `modified` time among the advisories: how fresh the data is.'),
    lastRefreshTime: timestamp().optional().describe('When the controller last refreshed.'),
    lastError: boundedString(1024)
      .optional()
      .describe(
        'Why the last refresh failed as a whole (for example a full disk); the last good index is still served.',
      ),
    sources: z
      .array(VulnerabilityDatabaseSourceStatusSchema)
      .max(64)
      .optional()
      .describe('Per configured source, in order.'),
    ecosystems: z
      .array(
        z
          .object({
            ecosystem: boundedString(128, 1).describe('Ecosystem, as normalised for matching.'),
            records: count('Advisories naming this ecosystem.'),
          })
          .describe('Advisories of one ecosystem.'),
      )
      .max(512)
      .optional()
      .describe('Advisories per ecosystem (a record naming two counts in both).'),
  })
  .describe(
    'The vulnerability database of the controller: sources, records per ecosystem, age and errors. Written by the controller when it changes.',
  );
export type VulnerabilityDatabaseStatus = z.infer<typeof VulnerabilityDatabaseStatusSchema>;

export const ScanConfigurationStatusSchema = z
  .object({
    observedGeneration: observedGeneration(),
    conditions: conditions().optional(),
    configurationInEffect: z
      .object({
        generation: z
          .int()
          .min(0)
          .describe('The metadata.generation of the spec this configuration was taken from.'),
        spec: ScanConfigurationSpecSchema.describe(
          'The last spec that validated, with its defaults: what the controller applies while the spec does not validate, across restarts too.',
        ),
      })
      .optional()
      .describe(
        'The configuration in effect, written by the controller. It follows the spec whenever the spec validates; a spec that does not validate leaves it as it was, and the Ready and Stalled conditions say so.',
      ),
    statistics: z
      .object({
        total: count('Resources known to the coverage controller.').optional(),
        active: count('Resources that are scanned (ACTIVE).').optional(),
        inactive: count('Resources that are not scanned (INACTIVE).').optional(),
        byResourceType: z
          .array(CoverageCountSchema)
          .max(256)
          .optional()
          .describe('Counts by resource type, status code and reason.'),
        byNamespace: z
          .array(NamespaceCoverageSchema)
          .max(5000)
          .optional()
          .describe('Counts by namespace.'),
        updatedAt: timestamp().optional().describe('When the statistics were computed.'),
      })
      .optional()
      .describe('Coverage statistics, like Inspector ListCoverageStatistics.'),
    vulnerabilityDatabase: VulnerabilityDatabaseStatusSchema.optional(),
  })
  .describe('Observed state, written by the controller.');
export type ScanConfigurationStatus = z.infer<typeof ScanConfigurationStatusSchema>;

export const ScanConfigurationSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('ScanConfiguration'),
  metadata: ObjectMetaSchema,
  spec: ScanConfigurationSpecSchema,
  status: ScanConfigurationStatusSchema.optional(),
});
export type ScanConfiguration = z.infer<typeof ScanConfigurationSchema>;
