// Building blocks shared by every kind of kubeinspector.io/v1alpha1: bounded
// strings, timestamps, metav1-style conditions and label selectors, the
// Inspector enums, and the helper that attaches a CEL rule to a schema
// together with the zod refinement that mirrors it.
import { z } from 'zod';

export const GROUP = 'kubeinspector.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
/** The group of the aggregated API that serves Finding (not a CRD group). */
export const FINDINGS_GROUP = 'findings.kubeinspector.io';
/** The version of the findings API; its APIService is `v1alpha1.findings.kubeinspector.io`. */
export const FINDINGS_VERSION = 'v1alpha1';
export const FINDINGS_API_VERSION = `${FINDINGS_GROUP}/${FINDINGS_VERSION}`;
/** Prefix of every label and annotation the project writes. */
export const LABEL_PREFIX = 'kubeinspector.io/';

/** A CEL validation rule as it appears in `x-kubernetes-validations`. */
export interface CelRule {
  rule: string;
  message: string;
  reason?:
    'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  fieldPath?: string;
}

/**
 * A CEL rule for the API server plus the same check for zod. `check` is
 * absent only for transition rules (they read `oldSelf`, which a client-side
 * parse of one object cannot see).
 */
export interface Rule<T> extends CelRule {
  check?: (value: T) => boolean;
}

/**
 * Attaches CEL rules to a schema (as `x-kubernetes-validations`) and mirrors
 * each one as a zod refinement, so that `schema.parse()` and the API server
 * refuse the same objects.
 */
export function withRules<S extends z.ZodType>(schema: S, rules: Rule<z.output<S>>[]): S {
  let out: S = schema;
  for (const r of rules) {
    const check = r.check;
    if (check) {
      out = out.refine((v: z.output<S>) => check(v), {
        message: r.message,
        ...(r.fieldPath ? { path: r.fieldPath.replace(/^\./, '').split('.') } : {}),
      });
    }
  }
  const cel: CelRule[] = rules.map(({ rule, message, reason, fieldPath }) => ({
    rule,
    message,
    ...(reason ? { reason } : {}),
    ...(fieldPath ? { fieldPath } : {}),
  }));
  const previous = z.globalRegistry.get(schema);
  return out.meta({ ...(previous ?? {}), 'x-kubernetes-validations': cel });
}

// ---------------------------------------------------------------- scalars

/** A string between min and max characters. */
export function boundedString(max: number, min = 0): z.ZodString {
  return min > 0 ? z.string().min(min).max(max) : z.string().max(max);
}

/** An RFC 3339 timestamp in UTC, as Kubernetes writes them. */
export function timestamp(): z.ZodISODateTime {
  return z.iso.datetime({ offset: false }).max(64);
}

/** DNS-1123 subdomain: names of most Kubernetes objects. */
export const DNS1123_SUBDOMAIN =
  '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** DNS-1123 label: names of namespaces. */
export const DNS1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** A label key: optional DNS-subdomain prefix and a name of at most 63 characters. */
export const LABEL_KEY =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
/** A label value: empty or at most 63 characters of alphanumerics, '-', '_', '.'. */
export const LABEL_VALUE = '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$';

/** The name of an object in the same namespace. */
export function objectName(): z.ZodString {
  return z.string().min(1).max(253).regex(new RegExp(DNS1123_SUBDOMAIN));
}

/** A reference to another object of this API in the same namespace, by name. */
export function localRef(what: string) {
  return z
    .object({
      name: objectName().describe(`Name of the ${what} in the same namespace.`),
    })
    .describe(`Reference to the ${what} by name, in the same namespace.`);
}

/**
 * A map of labels (or attributes): bounded number of entries, keys checked by
 * CEL (a structural schema cannot constrain map keys).
 */
export function labelMap(maxEntries: number, description: string) {
  const keyRe = new RegExp(LABEL_KEY);
  return withRules(
    z
      .record(z.string().max(316), z.string().max(63).regex(new RegExp(LABEL_VALUE)))
      .refine((m) => Object.keys(m).length <= maxEntries, {
        message: `at most ${maxEntries} entries`,
      })
      .meta({ maxProperties: maxEntries }),
    [
      {
        rule: `self.all(k, size(k) <= 316 && k.matches(r'${LABEL_KEY}'))`,
        message:
          'keys must be label keys: an optional DNS subdomain prefix and "/", then a name of 1-63 alphanumerics, "-", "_" or "."',
        check: (m) => Object.keys(m).every((k) => k.length <= 316 && keyRe.test(k)),
      },
    ],
  ).describe(description);
}

/**
 * A plain string map (resource labels as observed): bounded entries, keys and
 * values.
 */
export function stringMap(
  maxEntries: number,
  maxKey: number,
  maxValue: number,
  description: string,
) {
  return z
    .record(z.string().max(maxKey), z.string().max(maxValue))
    .refine((m) => Object.keys(m).length <= maxEntries, {
      message: `at most ${maxEntries} entries`,
    })
    .meta({ maxProperties: maxEntries })
    .describe(description);
}

// ---------------------------------------------------------------- conditions

export const CONDITION_TYPE =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$';
export const CONDITION_REASON = '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$';
export const CONDITION_TYPE_MAX_LENGTH = 316;
export const CONDITION_REASON_MAX_LENGTH = 1024;
export const CONDITION_MESSAGE_MAX_LENGTH = 32768;

/** metav1.Condition, with the same markers as the Kubernetes type. */
export const ConditionSchema = z
  .object({
    type: z
      .string()
      .min(1)
      .max(CONDITION_TYPE_MAX_LENGTH)
      .regex(new RegExp(CONDITION_TYPE))
      .describe('Type of condition in CamelCase, for example Ready, Reconciling or Stalled.'),
    status: z
      .enum(['True', 'False', 'Unknown'])
      .describe('Status of the condition: True, False or Unknown.'),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe('The metadata.generation the condition was computed from.'),
    lastTransitionTime: timestamp().describe(
      'Last time the condition changed from one status to another.',
    ),
    reason: z
      .string()
      .min(1)
      .max(CONDITION_REASON_MAX_LENGTH)
      .regex(new RegExp(CONDITION_REASON))
      .describe('Programmatic identifier of the reason for the last transition, in CamelCase.'),
    message: z
      .string()
      .max(CONDITION_MESSAGE_MAX_LENGTH)
      .describe('Human-readable message with details about the transition; may be empty.'),
  })
  .describe('Condition of the object, following the Kubernetes metav1.Condition conventions.');
export type Condition = z.infer<typeof ConditionSchema>;

/** The conditions list: a map keyed by `type`, so server-side apply merges per condition. */
export function conditions() {
  return z
    .array(ConditionSchema)
    .max(16)
    .refine((cs) => new Set(cs.map((c) => c.type)).size === cs.length, {
      message: 'condition types must be unique',
    })
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
    .describe(
      'Standard conditions: Ready says whether the object is fully processed; Reconciling and Stalled appear while work is in progress or blocked.',
    );
}

/** observedGeneration of the whole status. */
export function observedGeneration() {
  return z
    .int()
    .min(0)
    .optional()
    .describe('The metadata.generation of the spec that the controller last processed.');
}

// ---------------------------------------------------------------- selectors

const labelKeyRe = new RegExp(LABEL_KEY);
const labelValueRe = new RegExp(LABEL_VALUE);

export const LabelSelectorRequirementSchema = withRules(
  z.object({
    key: z
      .string()
      .min(1)
      .max(316)
      .regex(labelKeyRe)
      .describe('The label key that the requirement applies to.'),
    operator: z
      .enum(['In', 'NotIn', 'Exists', 'DoesNotExist'])
      .describe('How the key relates to the values: In, NotIn, Exists or DoesNotExist.'),
    values: z
      .array(z.string().max(63).regex(labelValueRe))
      .max(64)
      .optional()
      .describe(
        'Label values; must be non-empty for In and NotIn and empty for Exists and DoesNotExist.',
      ),
  }),
  [
    {
      rule: "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
      message: 'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist',
      check: (r) =>
        r.operator === 'In' || r.operator === 'NotIn'
          ? (r.values?.length ?? 0) > 0
          : (r.values?.length ?? 0) === 0,
    },
  ],
).describe('A label selector requirement: a key, an operator and values.');

/** metav1.LabelSelector. */
export function labelSelector(description: string) {
  return z
    .object({
      matchLabels: labelMap(
        64,
        'Labels that must all be present with these values (ANDed with matchExpressions).',
      ).optional(),
      matchExpressions: z
        .array(LabelSelectorRequirementSchema)
        .max(32)
        .optional()
        .describe('Label selector requirements, all of which must hold.'),
    })
    .describe(description);
}
export type LabelSelector = z.infer<ReturnType<typeof labelSelector>>;

// ---------------------------------------------------------------- metadata

/**
 * The parts of ObjectMeta the project reads. The API server owns metadata;
 * the CRD schema leaves it to the server.
 */
export const ObjectMetaSchema = z.looseObject({
  name: z.string().max(253).optional(),
  generateName: z.string().max(253).optional(),
  namespace: z.string().max(63).optional(),
  uid: z.string().max(64).optional(),
  resourceVersion: z.string().max(64).optional(),
  generation: z.int().optional(),
  creationTimestamp: z.string().max(64).optional(),
  deletionTimestamp: z.string().max(64).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z
    .array(
      z.looseObject({
        apiVersion: z.string(),
        kind: z.string(),
        name: z.string(),
        uid: z.string(),
        controller: z.boolean().optional(),
        blockOwnerDeletion: z.boolean().optional(),
      }),
    )
    .optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMetaSchema>;

// ---------------------------------------------------------------- Inspector enums

/** Finding severities, spelled as Inspector (v2) spells them. */
export const SEVERITIES = [
  'INFORMATIONAL',
  'LOW',
  'MEDIUM',
  'HIGH',
  'CRITICAL',
  'UNTRIAGED',
] as const;
export const SeveritySchema = z
  .enum(SEVERITIES)
  .describe('Severity: INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL or UNTRIAGED.');
export type Severity = z.infer<typeof SeveritySchema>;

/** Resource types of coverage and findings. */
export const RESOURCE_TYPES = [
  'NODE',
  'CONTAINER_IMAGE',
  'IMAGE_REPOSITORY',
  'WORKLOAD',
  'NAMESPACE',
] as const;
export const ResourceTypeSchema = z
  .enum(RESOURCE_TYPES)
  .describe('Resource type: NODE, CONTAINER_IMAGE, IMAGE_REPOSITORY, WORKLOAD or NAMESPACE.');
export type ResourceType = z.infer<typeof ResourceTypeSchema>;

export const FINDING_TYPES = [
  'PACKAGE_VULNERABILITY',
  'NETWORK_REACHABILITY',
  'CONFIGURATION',
  'CIS_BENCHMARK',
  'CODE_VULNERABILITY',
] as const;
export const FindingTypeSchema = z
  .enum(FINDING_TYPES)
  .describe(
    'Finding type: PACKAGE_VULNERABILITY (cve), NETWORK_REACHABILITY (network-reachability), CONFIGURATION (security-best-practices), CIS_BENCHMARK (cis) or CODE_VULNERABILITY (a hardcoded secret or a code flaw).',
  );
export type FindingType = z.infer<typeof FindingTypeSchema>;

export const FIX_AVAILABLE = ['YES', 'NO', 'PARTIAL'] as const;
export const FixAvailableSchema = z
  .enum(FIX_AVAILABLE)
  .describe('Whether a fix exists for every vulnerable package: YES, NO or PARTIAL.');

export const RULES_PACKAGES = [
  'cve',
  'cis',
  'network-reachability',
  'security-best-practices',
  'code',
] as const;
export const RulesPackageSchema = z
  .enum(RULES_PACKAGES)
  .describe(
    'Rules package: cve, cis, network-reachability, security-best-practices or code (code scanning: secrets and code flaws; in assessment templates only, continuous code scanning is the WorkloadCode scan type).',
  );
export type RulesPackage = z.infer<typeof RulesPackageSchema>;

/** Finding counts by severity, used by runs and coverage. */
export function findingCounts(description: string) {
  const count = (s: string) =>
    z.int().min(0).max(1_000_000_000).optional().describe(`Number of ${s} findings.`);
  return z
    .object({
      critical: count('CRITICAL'),
      high: count('HIGH'),
      medium: count('MEDIUM'),
      low: count('LOW'),
      informational: count('INFORMATIONAL'),
      untriaged: count('UNTRIAGED'),
      total: count('all'),
    })
    .describe(description);
}

/** Attributes applied to findings: key 1-128, value 1-256 characters, at most 10. */
export function findingAttributes(description: string) {
  return withRules(
    z
      .record(z.string().min(1).max(128), z.string().min(1).max(256))
      .refine((m) => Object.keys(m).length <= 10, { message: 'at most 10 attributes' })
      .meta({ maxProperties: 10 }),
    [
      {
        rule: 'self.all(k, size(k) >= 1 && size(k) <= 128)',
        message: 'attribute keys must be 1-128 characters',
        check: (m) => Object.keys(m).every((k) => k.length >= 1 && k.length <= 128),
      },
    ],
  ).describe(description);
}

// ---------------------------------------------------------------- condition types

/** Condition types used by every kind (see docs/api/index.md). */
export const CONDITION_TYPES = {
  /** The object is fully processed and its status is current. */
  Ready: 'Ready',
  /** Work is in progress. */
  Reconciling: 'Reconciling',
  /** Nothing more happens until someone changes something; the message says what. */
  Stalled: 'Stalled',
} as const;

/** Reason of Ready=False on a ScanConfiguration not named `default`. */
export const REASON_IGNORED = 'Ignored';

// ---------------------------------------------------------------- labels

/** Labels the controller writes, so that Inspector's views are label selectors. */
export const LABELS = {
  /** CoveredResource and Finding: NODE, CONTAINER_IMAGE, IMAGE_REPOSITORY, WORKLOAD, NAMESPACE. */
  resourceType: `${LABEL_PREFIX}resource-type`,
  /** CoveredResource: ACTIVE or INACTIVE. */
  statusCode: `${LABEL_PREFIX}status-code`,
  /** CoveredResource: the scan status reason. */
  reason: `${LABEL_PREFIX}reason`,
  /** CoveredResource: its scan type (PACKAGE, NETWORK, CODE), when it has one. */
  scanType: `${LABEL_PREFIX}scan-type`,
  /** CoveredResource and Finding: namespace of the resource, for namespaced resources. */
  resourceNamespace: `${LABEL_PREFIX}resource-namespace`,
  /** Finding: severity. */
  severity: `${LABEL_PREFIX}severity`,
  /** Finding: finding type. */
  type: `${LABEL_PREFIX}type`,
  /** Finding: ACTIVE, SUPPRESSED or CLOSED. */
  status: `${LABEL_PREFIX}status`,
  /** Finding: vulnerability id (or rule id). */
  vulnerabilityId: `${LABEL_PREFIX}vulnerability-id`,
  /** Finding: name of the AssessmentRun that produced it. */
  run: `${LABEL_PREFIX}run`,
  /** Finding: name of the CoveredResource of the resource (continuous findings). */
  coveredResource: `${LABEL_PREFIX}covered-resource`,
  /** The default exclusion label (ScanConfiguration spec.exclusionLabel). */
  exclude: `${LABEL_PREFIX}exclude`,
} as const;
