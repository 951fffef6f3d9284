/**
 * IMAGE_REPOSITORY coverage: one CoveredResource per repository with at least one image in an
 * activated namespace, while the Image scan type is active.
 */
import type { CoveredResourceStatus } from '../../api/v1alpha1/covered-resource.ts';
import { repositoryFrequency } from '../../coverage/config.ts';
import { coveredResourceName } from '../../coverage/names.ts';
import { repositoryCoverage, type ScanState } from '../../coverage/rules.ts';
import type { Reconciler, Result } from '../../runtime/controller.ts';
import { type CoverageContext, boundedMessage, compact, coveredLabels } from './context.ts';
import { scanMessageOf, scanStateOf } from './image.ts';

const NOT_ACTIVATED = new Set(['NO_SCAN_CONFIGURATION_ASSOCIATED', 'PENDING_DISABLE']);

export function repositoryReconciler(ctx: CoverageContext): Reconciler {
  return {
    async reconcile(repository): Promise<Result | undefined> {
      const { config } = ctx.config();
      const crName = coveredResourceName.repository(repository);
      const images = ctx.covered
        .byIndex('byImageRepository', repository)
        .filter((i) => !NOT_ACTIVATED.has(i.status?.scanStatus.reason ?? ''));
      if (!config.scanTypes.has('Image') || images.length === 0) {
        await ctx.delete(crName);
        return undefined;
      }
      const frequency = repositoryFrequency(config.rules, repository);
      const states: ScanState[] = images.map(
        (i) => scanStateOf(ctx, i.status?.image?.digest ?? '', i).state,
      );
      const d = repositoryCoverage(frequency, states);
      // Every scanned image failed: the first one with the reason says why.
      const failedAt = states.findIndex((st) => st === d.reason);
      const failedImage = failedAt >= 0 ? images[failedAt] : undefined;
      const why =
        failedImage === undefined
          ? undefined
          : scanMessageOf(ctx, failedImage.status?.image?.digest ?? '', failedImage);
      const message =
        failedImage === undefined
          ? undefined
          : `image ${failedImage.status?.resourceId ?? ''}: ${why ?? d.reason}`;
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
      await ctx.write(crName, coveredLabels(status), status);
      return undefined;
    },
  };
}
