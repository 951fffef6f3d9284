// metav1.Condition helpers with the semantics of apimachinery's meta.SetStatusCondition:
// lastTransitionTime moves only when status flips; reason, message and
// observedGeneration follow the latest call. Pure functions: the caller passes the clock.

import {
  CONDITION_MESSAGE_MAX_LENGTH,
  CONDITION_REASON,
  CONDITION_REASON_MAX_LENGTH,
  CONDITION_TYPE,
  CONDITION_TYPE_MAX_LENGTH,
} from '../api/v1alpha1/common.ts';
import { toApiTime } from '../util/time.ts';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition as it appears in status.conditions. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  /** RFC 3339, whole seconds, UTC. */
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/** What a reconciler states; lastTransitionTime is filled in from the clock when needed. */
export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message?: string;
  observedGeneration?: number;
}

/** The markers of metav1.Condition, from the API schema that puts them into the CRDs. */
export const CONDITION_TYPE_PATTERN = new RegExp(CONDITION_TYPE);
export const CONDITION_REASON_PATTERN = new RegExp(CONDITION_REASON);
export { CONDITION_MESSAGE_MAX_LENGTH, CONDITION_REASON_MAX_LENGTH, CONDITION_TYPE_MAX_LENGTH };

const STATUSES: ReadonlySet<string> = new Set(['True', 'False', 'Unknown']);

/** A condition the API server would reject: a bug in the caller, not a runtime state. */
export class InvalidConditionError extends Error {
  readonly problems: readonly string[];
  constructor(type: string, problems: readonly string[]) {
    super(`invalid condition ${JSON.stringify(type)}: ${problems.join('; ')}`);
    this.name = 'InvalidConditionError';
    this.problems = problems;
  }
}

/** Lists what is wrong with a condition's type, status, reason and observedGeneration. */
export function conditionProblems(input: ConditionInput): string[] {
  const problems: string[] = [];
  if (input.type.length === 0) problems.push('type must not be empty');
  else if (input.type.length > CONDITION_TYPE_MAX_LENGTH)
    problems.push(`type must be at most ${CONDITION_TYPE_MAX_LENGTH} characters`);
  else if (!CONDITION_TYPE_PATTERN.test(input.type))
    problems.push(`type must match ${CONDITION_TYPE_PATTERN.source}`);
  if (!STATUSES.has(input.status)) problems.push('status must be True, False or Unknown');
  if (input.reason.length === 0) problems.push('reason must not be empty');
  else if (input.reason.length > CONDITION_REASON_MAX_LENGTH)
    problems.push(`reason must be at most ${CONDITION_REASON_MAX_LENGTH} characters`);
  else if (!CONDITION_REASON_PATTERN.test(input.reason))
    problems.push(`reason must be CamelCase matching ${CONDITION_REASON_PATTERN.source}`);
  const gen = input.observedGeneration;
  if (gen !== undefined && (!Number.isSafeInteger(gen) || gen < 0))
    problems.push('observedGeneration must be a non-negative integer');
  return problems;
}

/** RFC 3339 in whole seconds: metav1.Time round-trips built-ins to seconds. */
export function formatConditionTime(now: Date | number): string {
  return toApiTime(now);
}

/** Cuts a message to the API limit, marking the cut. */
export function truncateConditionMessage(message: string): string {
  if (message.length <= CONDITION_MESSAGE_MAX_LENGTH) return message;
  const marker = '... (truncated)';
  return message.slice(0, CONDITION_MESSAGE_MAX_LENGTH - marker.length) + marker;
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

export function isFalse(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'False';
}

/** True when the condition is present, True, and computed from the given generation. */
export function isTrueForGeneration(
  conditions: readonly Condition[] | undefined,
  type: string,
  generation: number,
): boolean {
  const c = findCondition(conditions, type);
  return c?.status === 'True' && c.observedGeneration === generation;
}

/**
 * Sets a condition in a list, as meta.SetStatusCondition does: a new type is
 * appended with lastTransitionTime = now; an existing one keeps its
 * lastTransitionTime unless its status flips, and takes the new reason,
 * message and observedGeneration. Returns a new array, or the same array
 * (same reference) when nothing changed, so callers can skip the write.
 * Throws InvalidConditionError for a condition the API server would reject.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  now: Date | number,
): Condition[] {
  const problems = conditionProblems(input);
  if (problems.length > 0) throw new InvalidConditionError(input.type, problems);
  const list = conditions ?? [];
  const message = truncateConditionMessage(input.message ?? '');
  const index = list.findIndex((c) => c.type === input.type);
  const existing = index >= 0 ? list[index] : undefined;

  const next: Condition = {
    type: input.type,
    status: input.status,
    ...(input.observedGeneration !== undefined
      ? { observedGeneration: input.observedGeneration }
      : existing?.observedGeneration !== undefined
        ? { observedGeneration: existing.observedGeneration }
        : {}),
    lastTransitionTime:
      existing !== undefined && existing.status === input.status
        ? existing.lastTransitionTime
        : formatConditionTime(now),
    reason: input.reason,
    message,
  };
  if (existing !== undefined && conditionEqual(existing, next)) {
    return list as Condition[];
  }
  const out = [...list];
  if (index >= 0) out[index] = next;
  else out.push(next);
  return out;
}

/** Removes a condition by type; returns the same array when it was absent. */
export function removeCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition[] {
  const list = conditions ?? [];
  if (!list.some((c) => c.type === type)) return list as Condition[];
  return list.filter((c) => c.type !== type);
}

function conditionEqual(a: Condition, b: Condition): boolean {
  return (
    a.type === b.type &&
    a.status === b.status &&
    a.observedGeneration === b.observedGeneration &&
    a.lastTransitionTime === b.lastTransitionTime &&
    a.reason === b.reason &&
    a.message === b.message
  );
}

/**
 * Whether two condition lists say the same thing, ignoring order: the
 * compare-before-write check for status.
 */
export function conditionsEqual(
  a: readonly Condition[] | undefined,
  b: readonly Condition[] | undefined,
): boolean {
  const left = a ?? [];
  const right = b ?? [];
  if (left.length !== right.length) return false;
  return left.every((c) => {
    const other = findCondition(right, c.type);
    return other !== undefined && conditionEqual(c, other);
  });
}

/**
 * What an object's conditions say, in the one vocabulary every kind uses: `ready`
 * (Ready=True), `notReady` (Ready=False, the reconcile failed and is retried), `stalled`
 * (Ready=False and Stalled=True: a person must change something) or `reconciling`
 * (Ready=False and Reconciling=True: waiting for something else). Stalled and Reconciling are
 * present only while True; the one that does not apply is removed.
 */
export type ConditionSummary = 'ready' | 'notReady' | 'stalled' | 'reconciling';

/** What a summary says: its kind, reason and message, and the generation it was computed from. */
export interface SummaryInput {
  summary: ConditionSummary;
  reason: string;
  message: string;
  generation: number | undefined;
}

/** The standard conditions of a summary, set onto the previous list (see setCondition). */
export function summaryConditions(
  previous: readonly Condition[] | undefined,
  { summary, reason, message, generation }: SummaryInput,
  now: Date | number,
): Condition[] {
  const extra =
    summary === 'stalled' ? 'Stalled' : summary === 'reconciling' ? 'Reconciling' : undefined;
  const gen = generation === undefined ? {} : { observedGeneration: generation };
  let c = setCondition(
    previous,
    { type: 'Ready', status: summary === 'ready' ? 'True' : 'False', reason, message, ...gen },
    now,
  );
  if (extra !== undefined) {
    c = setCondition(c, { type: extra, status: 'True', reason, message, ...gen }, now);
  }
  const kept = c.filter(
    (x) => x.type === extra || (x.type !== 'Stalled' && x.type !== 'Reconciling'),
  );
  return kept.length === c.length ? c : kept;
}
