/** Condition helpers shared by the three assessment controllers. */
import { type Condition as ApiCondition, CONDITION_TYPES } from '../../api/v1alpha1/common.ts';
import { type Condition, setCondition } from '../../runtime/conditions.ts';

/** Ready=True; Stalled and Reconciling removed. */
export function readyConditions(
  previous: readonly ApiCondition[] | undefined,
  reason: string,
  message: string,
  generation: number | undefined,
  now: Date,
): Condition[] {
  let c = setCondition(
    previous as readonly Condition[] | undefined,
    { type: CONDITION_TYPES.Ready, status: 'True', reason, message, ...gen(generation) },
    now,
  );
  c = c.filter((x) => x.type !== CONDITION_TYPES.Stalled && x.type !== CONDITION_TYPES.Reconciling);
  return c;
}

/** Ready=False with Stalled=True: a person must change something. */
export function stalledConditions(
  previous: readonly ApiCondition[] | undefined,
  reason: string,
  message: string,
  generation: number | undefined,
  now: Date,
): Condition[] {
  let c = setCondition(
    previous as readonly Condition[] | undefined,
    { type: CONDITION_TYPES.Ready, status: 'False', reason, message, ...gen(generation) },
    now,
  );
  c = setCondition(
    c,
    { type: CONDITION_TYPES.Stalled, status: 'True', reason, message, ...gen(generation) },
    now,
  );
  return c.filter((x) => x.type !== CONDITION_TYPES.Reconciling);
}

/** Ready=False with Reconciling=True: work in progress. */
export function reconcilingConditions(
  previous: readonly ApiCondition[] | undefined,
  reason: string,
  message: string,
  generation: number | undefined,
  now: Date,
): Condition[] {
  let c = setCondition(
    previous as readonly Condition[] | undefined,
    { type: CONDITION_TYPES.Ready, status: 'False', reason, message, ...gen(generation) },
    now,
  );
  c = setCondition(
    c,
    { type: CONDITION_TYPES.Reconciling, status: 'True', reason, message, ...gen(generation) },
    now,
  );
  return c.filter((x) => x.type !== CONDITION_TYPES.Stalled);
}

function gen(generation: number | undefined): { observedGeneration?: number } {
  return generation === undefined ? {} : { observedGeneration: generation };
}
