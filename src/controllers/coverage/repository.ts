/**
 * IMAGE_REPOSITORY coverage: one CoveredResource per repository with at least one image in an
 * activated namespace, while the Image scan type is active. A reconcile reads the repository's
 * image CoveredResources and the results held for them, asks the pure decision
 * (`decideRepository` in src/coverage/repository.ts) and writes or removes.
 */
import { coveredResourceName } from '../../coverage/names.ts';
import { decideRepository } from '../../coverage/repository.ts';
import type { Reconciler, Result } from '../../runtime/controller.ts';
import { type CoverageContext, coveredLabels } from './context.ts';
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
      await ctx.write(crName, coveredLabels(out.status), out.status);
      return undefined;
    },
  };
}
