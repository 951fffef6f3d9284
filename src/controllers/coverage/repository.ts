/**
 * IMAGE_REPOSITORY coverage: one CoveredResource per repository with at least one image in an
 * activated namespace, while the Image scan type is active. A reconcile reads the repository's
 * image CoveredResources and the results held for them, asks the pure decision
 * (`decideRepository` in src/coverage/repository.ts) and writes or removes; a write that only
 * moves `lastScannedAt` waits out a short window after the last one (`holdLastScannedAt`).
 */
import { coveredResourceName } from '../../coverage/names.ts';
import { decideRepository, holdLastScannedAt } from '../../coverage/repository.ts';
import type { Reconciler, Result } from '../../runtime/controller.ts';
import { FIELD_MANAGERS } from '../informers.ts';
import { type CoverageContext, type Covered, coveredLabels } from './context.ts';
import { scanResultOf } from './image.ts';

export function repositoryReconciler(ctx: CoverageContext): Reconciler {
  return {
    async reconcile(repository): Promise<Result | undefined> {
      const { config } = ctx.config();
      const crName = coveredResourceName.repository(repository);
      const images = ctx.covered.byIndex('byImageRepository', repository).map((i) => ({
        status: i.status,
        result: scanResultOf(ctx, i.status?.image?.digest ?? ''),
      }));
      const out = decideRepository(repository, images, config);
      if (out.kind === 'remove') {
        await ctx.delete(crName);
        return undefined;
      }
      // Only lastScannedAt moves (one of its images was scanned): written at most once every
      // few seconds, so the scans of a repository's images that end together are one write.
      const current = ctx.covered.get(crName);
      const hold = holdLastScannedAt(current?.status, out.status, lastWriteAt(current), ctx.now());
      if (hold !== undefined) return { requeueAfterMs: hold + 50 };
      await ctx.write(crName, coveredLabels(out.status), out.status);
      return undefined;
    },
  };
}

/** When the coverage controller last wrote the object (its managedFields entry, to the second). */
function lastWriteAt(current: Covered | undefined): number | undefined {
  const times = (current?.metadata.managedFields ?? [])
    .filter((m) => m.manager === FIELD_MANAGERS.coverage && m.time !== undefined)
    .map((m) => Date.parse(m.time ?? ''));
  return times.length === 0 ? undefined : Math.max(...times);
}
