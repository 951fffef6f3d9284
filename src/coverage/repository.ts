/**
 * IMAGE_REPOSITORY coverage decided from facts: the repository's activated images, what the
 * scanner said about each, and the configuration. Pure: the reconciler
 * (controllers/coverage/repository.ts) reads the images' CoveredResources and held results,
 * asks `decideRepository` and writes or removes.
 */
import type { CoveredResourceStatus } from '../api/v1alpha1/covered-resource.ts';
import { type CoverageConfig, repositoryFrequency } from './config.ts';
import { type ScanResult, scanMessageOf, scanStateOf } from './image.ts';
import { repositoryCoverage } from './rules.ts';
import { boundedMessage, compact } from './status.ts';

/** Reasons of an image that no longer counts for its repository. */
const NOT_ACTIVATED: ReadonlySet<string> = new Set([
  'NO_SCAN_CONFIGURATION_ASSOCIATED',
  'PENDING_DISABLE',
]);

/** One image of the repository: its CoveredResource's status and the result held for it. */
export interface RepositoryImage {
  status: CoveredResourceStatus | undefined;
  result: ScanResult | undefined;
}

export type RepositoryOutcome =
  { kind: 'remove' } | { kind: 'write'; status: CoveredResourceStatus };

/**
 * The repository's coverage: covered while one of its images is activated and the Image scan
 * type is on; every scanned image refused or failing makes it say so, naming the first one.
 */
export function decideRepository(
  repository: string,
  all: readonly RepositoryImage[],
  config: CoverageConfig,
): RepositoryOutcome {
  const images = all.filter((i) => !NOT_ACTIVATED.has(i.status?.scanStatus.reason ?? ''));
  if (!config.scanTypes.has('Image') || images.length === 0) return { kind: 'remove' };
  const frequency = repositoryFrequency(config.rules, repository);
  const states = images.map((i) => scanStateOf(i.result, i.status).state);
  const d = repositoryCoverage(frequency, states);
  // Every scanned image failed: the first one with the reason says why.
  const failed = images[states.findIndex((st) => st === d.reason)];
  const message =
    failed === undefined
      ? undefined
      : `image ${failed.status?.resourceId ?? ''}: ${scanMessageOf(failed.result, failed.status) ?? d.reason}`;
  const status: CoveredResourceStatus = compact({
    resourceType: 'IMAGE_REPOSITORY',
    resourceId: repository.slice(0, 1024),
    scanStatus: compact({
      statusCode: d.statusCode,
      reason: d.reason,
      message: boundedMessage(message),
    }),
    scanType: 'PACKAGE',
    scanMode: 'AGENTLESS',
    repository: { name: repository.slice(0, 512), scanFrequency: frequency },
    lastScannedAt: images
      .map((i) => i.status?.lastScannedAt)
      .filter((t): t is string => t !== undefined)
      .sort()
      .at(-1),
  });
  return { kind: 'write', status };
}
