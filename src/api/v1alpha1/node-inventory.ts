// NodeInventory: the software inventory of one node, written by the node
// agent. Cluster-scoped; the object's name is the node's name.
import { z } from 'zod';
import {
  API_VERSION,
  ObjectMetaSchema,
  boundedString,
  conditions,
  observedGeneration,
  timestamp,
} from './common.ts';

/** Upper bound of the packages of one inventory (ScanConfiguration packageLimit). */
export const MAX_INVENTORY_PACKAGES = 5000;

export const COLLECTION_ERROR_CODES = [
  'PACKAGE_COLLECTION_LIMIT_EXCEEDED',
  'COLLECTION_TIME_LIMIT_EXCEEDED',
  'UNSUPPORTED_OS',
  'READ_ERROR',
] as const;

/** Upper bound of the CIS check results of one node. */
export const MAX_CIS_RESULTS = 128;
export const CIS_RESULT_STATUSES = ['PASSED', 'FAILED', 'NOT_APPLICABLE', 'ERROR'] as const;

export const InventoryPackageSchema = z
  .object({
    name: boundedString(256, 1).describe('Package name.'),
    version: boundedString(256, 1).describe(
      "Installed version, in the ecosystem's format (for example 1:2.36-9+deb12u4).",
    ),
    sourceName: boundedString(256)
      .optional()
      .describe('Source package (Debian, Ubuntu) or origin (Alpine) that advisories name.'),
    sourceVersion: boundedString(256)
      .optional()
      .describe('Version of the source package, when it differs.'),
    arch: boundedString(32).optional().describe('Package architecture, for example amd64 or all.'),
    ecosystem: boundedString(64, 1).describe(
      'OSV ecosystem, for example Debian:12, Alpine:v3.20, PyPI, npm.',
    ),
    purl: boundedString(1024).optional().describe('Package URL.'),
    filePath: boundedString(512).optional().describe('Where a language package was found.'),
  })
  .describe('One installed package.');
export type InventoryPackage = z.infer<typeof InventoryPackageSchema>;

export const NodeInventoryStatusSchema = z
  .object({
    observedGeneration: observedGeneration(),
    conditions: conditions().optional(),
    nodeName: boundedString(253)
      .optional()
      .describe('Node the inventory was collected on (same as the object name).'),
    agentVersion: boundedString(64)
      .optional()
      .describe('Version of the agent that wrote the inventory.'),
    os: z
      .object({
        id: boundedString(64).optional().describe('os-release ID, for example debian.'),
        versionId: boundedString(64).optional().describe('os-release VERSION_ID, for example 12.'),
        prettyName: boundedString(256).optional().describe('os-release PRETTY_NAME.'),
        platform: boundedString(64)
          .optional()
          .describe('Platform derived from the OS, for example DEBIAN_12.'),
      })
      .optional()
      .describe('Operating system of the node, from os-release.'),
    kernelVersion: boundedString(256).optional().describe('Running kernel version.'),
    architecture: boundedString(32)
      .optional()
      .describe('CPU architecture, for example amd64 or arm64.'),
    packages: z
      .array(InventoryPackageSchema)
      .max(MAX_INVENTORY_PACKAGES)
      .optional()
      .describe(
        'Installed packages, at most the package limit; see packageCount for the number found.',
      ),
    packageCount: z
      .int()
      .min(0)
      .max(10_000_000)
      .optional()
      .describe(
        'Number of packages found; larger than the number of packages listed when truncated.',
      ),
    truncated: z
      .boolean()
      .optional()
      .describe('True when packages were left out because of the package limit.'),
    collectedAt: timestamp().optional().describe('When the collection finished.'),
    collectionDurationMilliseconds: z
      .int()
      .min(0)
      .max(86_400_000)
      .optional()
      .describe('How long the collection took.'),
    cisResults: z
      .array(
        z
          .object({
            id: boundedString(16, 1).describe('Control id of the CIS check, for example 4.2.1.'),
            status: z
              .enum(CIS_RESULT_STATUSES)
              .describe('PASSED, FAILED, NOT_APPLICABLE or ERROR (could not be read).'),
            found: boundedString(256).describe('What the check read, or why it could not.'),
          })
          .describe('The result of one CIS check on the node.'),
      )
      .max(MAX_CIS_RESULTS)
      .optional()
      .describe(
        "Results of the cis rules package's node checks, present only while the ScanConfiguration switches cis on; the controller turns FAILED ones into CIS_BENCHMARK findings.",
      ),
    errors: z
      .array(
        z
          .object({
            code: z
              .enum(COLLECTION_ERROR_CODES)
              .describe(
                'PACKAGE_COLLECTION_LIMIT_EXCEEDED, COLLECTION_TIME_LIMIT_EXCEEDED, UNSUPPORTED_OS or READ_ERROR.',
              ),
            message: boundedString(1024).describe('Details of the error.'),
          })
          .describe('A collection error.'),
      )
      .max(16)
      .optional()
      .describe(
        'Errors of the last collection; the inventory holds what was collected before them.',
      ),
  })
  .describe('The inventory, written by the node agent.');
export type NodeInventoryStatus = z.infer<typeof NodeInventoryStatusSchema>;

export const NodeInventorySchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('NodeInventory'),
  metadata: ObjectMetaSchema,
  status: NodeInventoryStatusSchema.optional(),
});
export type NodeInventory = z.infer<typeof NodeInventorySchema>;
