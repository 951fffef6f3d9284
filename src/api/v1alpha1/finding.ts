// Finding: one vulnerability or rule violation on one resource. Namespaced.
// spec holds only the attributes people (and templates) set; everything the
// controller computes is status.
import { z } from 'zod';
import {
  FINDINGS_API_VERSION,
  FindingTypeSchema,
  FixAvailableSchema,
  ObjectMetaSchema,
  ResourceTypeSchema,
  RulesPackageSchema,
  SeveritySchema,
  boundedString,
  conditions,
  findingAttributes,
  observedGeneration,
  timestamp,
} from './common.ts';

export const FINDING_STATUSES = ['ACTIVE', 'SUPPRESSED', 'CLOSED'] as const;
export const CVSS_VERSIONS = ['2.0', '3.0', '3.1', '4.0'] as const;

const score = (what: string) => z.number().min(0).max(10).describe(what);
const url = (what: string) =>
  z
    .string()
    .max(2048)
    .regex(/^https?:\/\/\S+$/)
    .describe(what);

export const FindingSpecSchema = z
  .object({
    attributes: findingAttributes(
      'Key/value attributes of the finding (Classic userAttributes): those of the template that produced it plus any a person adds. The controller adds template attributes but never removes or rewrites a key a person set. At most 10.',
    ).optional(),
  })
  .describe('Written by people: only attributes.');
export type FindingSpec = z.infer<typeof FindingSpecSchema>;

export const CvssSchema = z
  .object({
    version: z.enum(CVSS_VERSIONS).describe('CVSS version: 2.0, 3.0, 3.1 or 4.0.'),
    scoringVector: boundedString(256, 1).describe('CVSS vector string.'),
    baseScore: score('Base score, 0.0 to 10.0.'),
    source: boundedString(64, 1).describe('Who scored it, for example NVD or DEBIAN_CVE.'),
  })
  .describe('A CVSS score.');

export const VulnerablePackageSchema = z
  .object({
    name: boundedString(1024, 1).describe('Package name.'),
    version: boundedString(1024, 1).describe('Installed version.'),
    fixedInVersion: boundedString(1024)
      .optional()
      .describe('First version that fixes the vulnerability, when there is one.'),
    ecosystem: boundedString(64)
      .optional()
      .describe('OSV ecosystem, for example Debian:12 or PyPI.'),
    packageManager: boundedString(32)
      .optional()
      .describe("Inspector's package manager, for example OS, NPM, PIP, GOBINARY, JAR."),
    arch: boundedString(64).optional().describe('Package architecture.'),
    purl: boundedString(2048).optional().describe('Package URL.'),
    filePath: boundedString(1024)
      .optional()
      .describe('File the package was found in (language packages).'),
    sourceLayerHash: z
      .string()
      .max(135)
      .regex(/^[a-z0-9]+:[a-f0-9]+$/)
      .optional()
      .describe('Digest of the image layer that introduced the package.'),
    remediation: boundedString(1024)
      .optional()
      .describe('How to update the package, for example apt-get install --only-upgrade openssl.'),
  })
  .describe('A vulnerable package on the resource.');

export const FindingResourceSchema = z
  .object({
    type: ResourceTypeSchema,
    id: boundedString(1024, 1).describe(
      'Resource identity, as in CoveredResource status.resourceId.',
    ),
    kind: boundedString(63).optional().describe('Kind of the Kubernetes object.'),
    namespace: boundedString(63).optional().describe('Namespace of the resource.'),
    name: boundedString(253).optional().describe('Name of the Kubernetes object.'),
    imageRepository: boundedString(512).optional().describe('`registry/repository` of the image.'),
    imageDigest: boundedString(135).optional().describe('Manifest digest of the image.'),
    imageTags: z.array(boundedString(128)).max(16).optional().describe('Tags of the image.'),
    platform: boundedString(64)
      .optional()
      .describe('OS platform of the resource, for example DEBIAN_12.'),
  })
  .describe('The resource the finding is about.');

export const RuleDetailsSchema = z
  .object({
    benchmark: boundedString(128)
      .optional()
      .describe(
        'Standard the rule comes from, for example "Pod Security Standards" or "CIS Kubernetes Benchmark".',
      ),
    benchmarkVersion: boundedString(32)
      .optional()
      .describe('Version of that standard, for example v1.33 or 1.11.1.'),
    level: boundedString(32)
      .optional()
      .describe(
        'Level of the control: baseline, restricted or hardening (security-best-practices); LEVEL_1 or LEVEL_2 (cis).',
      ),
    scored: z
      .boolean()
      .optional()
      .describe(
        'CIS weight: true when the control is scored (Automated), false when it is not (Manual).',
      ),
    fieldPaths: z
      .array(boundedString(512, 1))
      .max(32)
      .optional()
      .describe(
        'Fields of the object that break the rule, for example spec.template.spec.containers[0].securityContext.privileged.',
      ),
    found: boundedString(1024)
      .optional()
      .describe('What was found, for example "privileged: true in container app".'),
    source: url('Where the rule is defined.').optional(),
  })
  .describe('Details of a CONFIGURATION, NETWORK_REACHABILITY or CIS_BENCHMARK finding.');

export const CodeVulnerabilityDetailsSchema = z
  .object({
    detectorId: boundedString(128, 1).describe(
      'The rule that matched, for example `aws-access-key-id` or `python-shell-injection`.',
    ),
    detectorName: boundedString(256, 1).describe("The rule's title."),
    detectorTags: z
      .array(boundedString(64, 1))
      .max(10)
      .optional()
      .describe('Tags of the rule: `secret` or `code-flaw`, and the language.'),
    cwes: z
      .array(boundedString(16, 1))
      .min(1)
      .max(10)
      .describe('CWE ids of the weakness, for example CWE-798.'),
    filePath: z
      .object({
        fileName: boundedString(255, 1).describe('Base name of the file.'),
        filePath: boundedString(4096, 1).describe('Path of the file in the image, from `/`.'),
        startLine: z.int().min(1).describe('First line of the match.'),
        endLine: z.int().min(1).describe('Last line of the match.'),
      })
      .optional()
      .describe('Where in an image file; absent for a match in the pod template.'),
    fieldPath: boundedString(1024, 1)
      .optional()
      .describe(
        'Where in the pod template, for example `spec.template.spec.containers[name=app].env[name=TOKEN].value`.',
      ),
    sourceLayerDigest: boundedString(135)
      .optional()
      .describe(
        'Digest of the image layer that ships the file (it stays there even if a later layer deletes it).',
      ),
    secret: z
      .object({
        redacted: boundedString(64, 1).describe(
          'The secret masked but for its public format prefix, for example `AKIA****************`.',
        ),
        fingerprint: z
          .string()
          .max(20)
          .regex(/^[0-9a-f]{20}$/)
          .describe(
            'First 20 hex digits of HMAC-SHA256 of the secret under a fixed key: the same secret has the same fingerprint everywhere. The secret itself is never stored.',
          ),
      })
      .optional()
      .describe('For a hardcoded secret: how to recognise it without showing it.'),
    referenceUrls: z.array(url('A reference URL.')).max(10).optional().describe('Reference URLs.'),
  })
  .describe('Details of a CODE_VULNERABILITY finding.');

export const FindingStatusSchema = z
  .object({
    observedGeneration: observedGeneration(),
    conditions: conditions().optional(),
    type: FindingTypeSchema.optional(),
    title: boundedString(1024)
      .optional()
      .describe('Short title, for example "CVE-2024-6387 - openssh-server".'),
    description: boundedString(4096).optional().describe('What the vulnerability or violation is.'),
    recommendation: z
      .object({
        text: boundedString(1024).optional().describe('What to do.'),
        url: url('Where to read more.').optional(),
      })
      .optional()
      .describe('How to remediate.'),
    severity: SeveritySchema.optional(),
    status: z
      .enum(FINDING_STATUSES)
      .optional()
      .describe('ACTIVE, SUPPRESSED (matches a SuppressionRule) or CLOSED (fixed or gone).'),
    vulnerabilityId: boundedString(128)
      .optional()
      .describe('Vulnerability id, for example CVE-2024-6387 or GHSA-....'),
    vulnerabilitySource: boundedString(64)
      .optional()
      .describe('Database the vulnerability comes from, for example DEBIAN_CVE or GHSA.'),
    aliases: z
      .array(boundedString(128))
      .max(32)
      .optional()
      .describe('Other ids of the same vulnerability (CVE, GHSA, DSA, ...).'),
    cvss: z.array(CvssSchema).max(8).optional().describe('CVSS scores from each source.'),
    inspectorScore: score('Score adjusted to the environment, 0.0 to 10.0.').optional(),
    inspectorScoreDetails: z
      .object({
        adjustedCvss: z
          .object({
            scoreSource: boundedString(64).describe('Source of the base score that was adjusted.'),
            version: z.enum(CVSS_VERSIONS).describe('CVSS version.'),
            score: score('Adjusted score.'),
            scoringVector: boundedString(256).describe('Vector after the adjustments.'),
            adjustments: z
              .array(
                z
                  .object({
                    metric: boundedString(64, 1).describe('CVSS metric adjusted, for example AV.'),
                    reason: boundedString(512, 1).describe(
                      'Why, for example "no network path from outside the cluster".',
                    ),
                  })
                  .describe('One adjustment.'),
              )
              .max(16)
              .optional()
              .describe('Adjustments made to the base vector.'),
          })
          .describe('The adjusted CVSS score.'),
      })
      .optional()
      .describe('How inspectorScore was derived.'),
    packages: z
      .array(VulnerablePackageSchema)
      .max(64)
      .optional()
      .describe(
        'Vulnerable packages: name, installed version, fixed version, ecosystem, purl, file path and source layer.',
      ),
    fixAvailable: FixAvailableSchema.optional(),
    exploitAvailable: z
      .enum(['YES', 'NO'])
      .optional()
      .describe('Whether a known exploit exists (KEV): YES or NO.'),
    epss: z
      .object({
        score: z
          .number()
          .min(0)
          .max(1)
          .describe('Probability of exploitation in the next 30 days, 0.0 to 1.0.'),
      })
      .optional()
      .describe('Exploit Prediction Scoring System data.'),
    referenceUrls: z.array(url('A reference URL.')).max(32).optional().describe('Reference URLs.'),
    resource: FindingResourceSchema.optional(),
    rulesPackage: RulesPackageSchema.optional(),
    ruleId: boundedString(128)
      .optional()
      .describe(
        'Rule that produced a CONFIGURATION, NETWORK_REACHABILITY or CIS_BENCHMARK finding, for example PSS-BASELINE-PRIVILEGED or CIS-K8S-4.2.1.',
      ),
    ruleDetails: RuleDetailsSchema.optional(),
    networkReachabilityDetails: z
      .object({
        protocol: z.enum(['TCP', 'UDP']).describe('TCP or UDP.'),
        openPortRange: z
          .object({
            begin: z.int().min(0).max(65535).describe('First port.'),
            end: z.int().min(0).max(65535).describe('Last port.'),
          })
          .describe('Open ports.'),
        networkPath: z
          .array(
            z
              .object({
                componentType: boundedString(64, 1).describe(
                  'Kind of step, for example Ingress, Service, NetworkPolicy, Pod.',
                ),
                componentId: boundedString(512, 1).describe('Which object, `namespace/name`.'),
              })
              .describe('One step of the path.'),
          )
          .max(30)
          .optional()
          .describe('Path from outside the cluster to the resource.'),
      })
      .optional()
      .describe('Details of a NETWORK_REACHABILITY finding.'),
    codeVulnerabilityDetails: CodeVulnerabilityDetailsSchema.optional(),
    firstObservedAt: timestamp().optional().describe('When the finding was first observed.'),
    lastObservedAt: timestamp().optional().describe('When an evaluation last saw the finding.'),
    updatedAt: timestamp().optional().describe('When something about the finding last changed.'),
  })
  .describe('What the controller computed.');
export type FindingStatus = z.infer<typeof FindingStatusSchema>;

export const FindingSchema = z.object({
  apiVersion: z
    .literal(FINDINGS_API_VERSION)
    .describe('findings.kubeinspector.io/v1alpha1: served by the aggregated findings API.'),
  kind: z.literal('Finding'),
  metadata: ObjectMetaSchema,
  spec: FindingSpecSchema.optional(),
  status: FindingStatusSchema.optional(),
});
export type Finding = z.infer<typeof FindingSchema>;
