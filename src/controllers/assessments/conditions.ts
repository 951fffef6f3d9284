/** Condition helpers shared by the three assessment controllers. */
import { type Condition as ApiCondition, CONDITION_TYPES } from '../../api/v1alpha1/common.ts';
import { type Condition, setCondition } from '../../runtime/conditions.ts';

/**
 * The conditions of an object that is `ready` (Ready=True), `stalled` (Ready=False,
 * Stalled=True: a person must change something) or `reconciling` (Ready=False,
 * Reconciling=True: work in progress); the other of Stalled/Reconciling is removed.
 */
export function conditionsOf(
  kind: 'ready' | 'stalled' | 'reconciling',
  previous: readonly ApiCondition[] | undefined,
  reason: string,
  message: string,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const extra =
    kind === 'stalled'
      ? CONDITION_TYPES.Stalled
      : kind === 'reconciling'
        ? CONDITION_TYPES.Reconciling
        : undefined;
  const gen = generation === undefined ? {} : { observedGeneration: generation };
  let c = setCondition(
    previous as readonly Condition[] | undefined,
    {
      type: CONDITION_TYPES.Ready,
      status: kind === 'ready' ? 'True' : 'False',
      reason,
      message,
      ...gen,
    },
    now,
  );
  if (extra !== undefined) {
    c = setCondition(c, { type: extra, status: 'True', reason, message, ...gen }, now);
  }
  return c.filter(
    (x) =>
      x.type === extra ||
      (x.type !== CONDITION_TYPES.Stalled && x.type !== CONDITION_TYPES.Reconciling),
  );
}
