// CoveredResource: one per resource that exists, scanned or not, with
// Inspector's {statusCode, reason} (ListCoverage). Cluster-scoped, written
// only by the controller.
import { z } from 'zod';
import {
  API_VERSION,
  ObjectMetaSchema,
  ResourceTypeSchema,
  boundedString,
  conditions,
  findingCounts,
  observedGeneration,
  stringMap,
  timestamp,
} from './common.ts';
import { SCAN_FREQUENCIES } from './scan-configuration.ts';

export const SCAN_STATUS_CODES = ['ACTIVE', 'INACTIVE'] as const;

/** Inspector's ScanStatusReason values that kube-inspector reports. */
export const SCAN_STATUS_REASONS = [
  'PENDING_INITIAL_SCAN',
  'ACCESS_DENIED',
  'INTERNAL_ERROR',
  'UNSUPPORTED_OS',
  'SCAN_ELIGIBILITY_EXPIRED',
  'RESOURCE_TERMINATED',
  'SUCCESSFUL',
  'IMAGE_SIZE_EXCEEDED',
  'SCAN_FREQUENCY_MANUAL',
  'SCAN_FREQUENCY_SCAN_ON_PUSH',
  'PENDING_DISABLE',
  'NO_INVENTORY',
  'STALE_INVENTORY',
  'EXCLUDED_BY_TAG',
  'UNSUPPORTED_RUNTIME',
  'UNSUPPORTED_MEDIA_TYPE',
  'DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED',
  'DEEP_INSPECTION_COLLECTION_TIME_LIMIT_EXCEEDED',
  'DEEP_INSPECTION_NO_INVENTORY',
  'NO_SCAN_CONFIGURATION_ASSOCIATED',
  'RESOURCE_UNMANAGED',
  'RESOURCE_STOPPED',
] as const;
export type ScanStatusReason = (typeof SCAN_STATUS_REASONS)[number];

/** Inspector's ScanType values used here. */
export const COVERAGE_SCAN_TYPES = ['PACKAGE', 'NETWORK', 'CODE'] as const;
/** How the inventory is obtained. */
export const SCAN_MODES = ['AGENT_BASED', 'AGENTLESS'] as const;
export const WORKLOAD_KINDS = [
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
  'Pod',
] as const;

export const ScanStatusSchema = z
  .object({
    statusCode: z
      .enum(SCAN_STATUS_CODES)
      .describe('ACTIVE when the resource is scanned, INACTIVE when it is not.'),
    reason: z
      .enum(SCAN_STATUS_REASONS)
      .describe(
        "Why the resource has this status code, in Inspector's spelling (for example SUCCESSFUL, EXCLUDED_BY_TAG, STALE_INVENTORY).",
      ),
    message: boundedString(1024)
      .optional()
      .describe(
        "What went wrong, in words, when the reason is a failed scan (ACCESS_DENIED, INTERNAL_ERROR, UNSUPPORTED_MEDIA_TYPE, UNSUPPORTED_OS, IMAGE_SIZE_EXCEEDED): the scanner's message for an image, naming the image for a workload or repository. Absent otherwise.",
      ),
  })
  .describe('Scan status of the resource: one status code and one reason.');

export const CoveredResourceStatusSchema = z
  .object({
    observedGeneration: observedGeneration(),
    conditions: conditions().optional(),
    resourceType: ResourceTypeSchema,
    resourceId: boundedString(1024, 1).describe(
      'Identity of the resource: node name, `namespace/kind/name` of a workload, `registry/repository@digest` of an image, `registry/repository` of a repository, or a namespace name.',
    ),
    resource: z
      .object({
        apiVersion: boundedString(128)
          .optional()
          .describe('API version of the Kubernetes object, when it is one.'),
        kind: boundedString(63)
          .optional()
          .describe('Kind of the Kubernetes object, when it is one.'),
        namespace: boundedString(63)
          .optional()
          .describe('Namespace of the resource, for namespaced resources.'),
        name: boundedString(253)
          .optional()
          .describe('Name of the Kubernetes object, when it is one.'),
        uid: boundedString(64).optional().describe('UID of the Kubernetes object, when it is one.'),
      })
      .optional()
      .describe('The Kubernetes object behind the resource, if any.'),
    resourceLabels: stringMap(64, 316, 63, 'Labels of the resource as last observed.').optional(),
    scanStatus: ScanStatusSchema,
    scanType: z
      .enum(COVERAGE_SCAN_TYPES)
      .optional()
      .describe(
        "Kind of scan: PACKAGE (software inventory), NETWORK (reachability) or CODE (a workload's code scanning: hardcoded secrets in its images' application files and its pod template; a workload has one CoveredResource per scan type, like a Lambda function's two rows in Inspector's coverage).",
      ),
    scanMode: z
      .enum(SCAN_MODES)
      .optional()
      .describe(
        'How the inventory is collected: AGENT_BASED (node agent) or AGENTLESS (image layers read from the registry).',
      ),
    lastScannedAt: timestamp()
      .optional()
      .describe('When the resource was last checked for vulnerabilities.'),
    node: z
      .object({
        osImage: boundedString(256)
          .optional()
          .describe(
            'Operating system as the node reports it, for example "Debian GNU/Linux 12 (bookworm)".',
          ),
        platform: boundedString(64)
          .optional()
          .describe('Platform of the inventory, for example DEBIAN_12 or UBUNTU_24_04.'),
        kernelVersion: boundedString(256).optional().describe('Kernel version.'),
        architecture: boundedString(32).optional().describe('CPU architecture, for example amd64.'),
      })
      .optional()
      .describe('Metadata of a NODE.'),
    repository: z
      .object({
        name: boundedString(512).describe('`registry/repository`.'),
        scanFrequency: z
          .enum(SCAN_FREQUENCIES)
          .describe(
            'Scan frequency from the first matching repository rule: CONTINUOUS_SCAN, SCAN_ON_PUSH or MANUAL.',
          ),
      })
      .optional()
      .describe('Metadata of an IMAGE_REPOSITORY, and of the repository of a CONTAINER_IMAGE.'),
    image: z
      .object({
        repository: boundedString(512).optional().describe('`registry/repository` of the image.'),
        digest: z
          .string()
          .max(135)
          .regex(/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/)
          .optional()
          .describe('Manifest digest, for example sha256:....'),
        tags: z
          .array(boundedString(128))
          .max(64)
          .optional()
          .describe('Tags seen for the digest in the cluster.'),
        platform: boundedString(64)
          .optional()
          .describe('Operating system of the image, for example ALPINE_3_20.'),
        architecture: boundedString(32).optional().describe('CPU architecture of the image.'),
        pushedAt: timestamp()
          .optional()
          .describe('When the image was pushed, from the registry, when known.'),
        imagePulledAt: timestamp().optional().describe('When a pod last started with the image.'),
        lastInUseAt: timestamp().optional().describe('When a running pod last used the image.'),
        inUseCount: z
          .int()
          .min(0)
          .max(1_000_000)
          .optional()
          .describe('Number of running pods using the image now.'),
        sizeBytes: z.int().min(0).optional().describe('Sum of compressed layer sizes.'),
      })
      .optional()
      .describe('Metadata of a CONTAINER_IMAGE.'),
    workload: z
      .object({
        kind: z.enum(WORKLOAD_KINDS).describe('Kind of workload.'),
        runtime: boundedString(64)
          .optional()
          .describe('Runtime or OS family of its images, for example DEBIAN_12 or DISTROLESS.'),
        images: z
          .array(boundedString(1024))
          .max(64)
          .optional()
          .describe('Images of its containers, by digest when known.'),
        lastInvokedAt: timestamp()
          .optional()
          .describe('When a pod of the workload last started (CronJob: lastScheduleTime).'),
        lastUpdatedAt: timestamp()
          .optional()
          .describe(
            'Newest non-status write to the workload (from managedFields), else its creation time.',
          ),
      })
      .optional()
      .describe('Metadata of a WORKLOAD.'),
    findingCounts: findingCounts(
      'Findings of the resource that are ACTIVE, by severity; absent until the resource has had an ACTIVE finding.',
    ).optional(),
  })
  .describe('Coverage of the resource, written by the controller.');
export type CoveredResourceStatus = z.infer<typeof CoveredResourceStatusSchema>;

export const CoveredResourceSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('CoveredResource'),
  metadata: ObjectMetaSchema,
  status: CoveredResourceStatusSchema.optional(),
});
export type CoveredResource = z.infer<typeof CoveredResourceSchema>;
