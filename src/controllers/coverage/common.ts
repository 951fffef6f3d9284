/** Steps every coverage reconciler shares. */
import type { CoveredResourceStatus } from '../../api/v1alpha1/covered-resource.ts';
import type { Result } from '../../runtime/controller.ts';
import { type CoverageContext, type Covered, coveredLabels } from './context.ts';

/** Requeue at a deadline (a little after it, so the clock has passed it). */
export function requeueAt(deadline: number | undefined, now: number): Result | undefined {
  if (deadline === undefined) return undefined;
  return { requeueAfterMs: Math.max(1, deadline - now + 50) };
}

/**
 * A resource whose scan type (or namespace) is no longer active: PENDING_DISABLE while
 * findings of it remain (the findings controller removes them), then the CoveredResource goes.
 */
export async function retireOrDisable(
  ctx: CoverageContext,
  name: string,
  current: Covered | undefined,
): Promise<Result | undefined> {
  if (current === undefined) return undefined;
  if (current.status === undefined || (await ctx.findingCount(name)) === 0) {
    await ctx.delete(name);
    return undefined;
  }
  const status: CoveredResourceStatus = {
    ...current.status,
    scanStatus: { statusCode: 'INACTIVE', reason: 'PENDING_DISABLE' },
  };
  await ctx.write(name, coveredLabels(status, current.status.resource?.namespace), status);
  return undefined;
}
