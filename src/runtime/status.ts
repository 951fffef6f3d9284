// Status on every path, the way Flux's deferred summary does it: a reconciler's steps fill in a
// draft of the status and say how it went; whatever happens (success, a TerminalError, a
// WaitingError, any other error), the summary sets the standard conditions on the draft and
// writes it once. The error then goes on to the harness for its retry semantics, so
// `kubectl get` shows a failure and its reason, not only the log.
import type { Logger } from 'pino';
import { ApiError, isConflict } from '../kube/client.ts';
import type { Condition as ApiCondition } from '../api/v1alpha1/common.ts';
import {
  CONDITION_REASON_PATTERN,
  type Condition,
  type ConditionSummary,
  summaryConditions,
} from './conditions.ts';
import { type Result, TerminalError, WaitingError } from './controller.ts';

/** How a reconcile went, as its conditions will say it. */
export interface Outcome {
  summary: ConditionSummary;
  /** CamelCase reason of the conditions. */
  reason: string;
  message: string;
}

/** What the steps of a reconcile return when they end without an error. */
export interface StepsResult extends Outcome {
  result?: Result;
}

/** Reason of a failure that carries none of its own. */
export const REASON_RECONCILE_ERROR = 'ReconcileError';

/** A CamelCase reason from an API status reason (`Forbidden`, `Invalid`, ...). */
function apiReason(err: ApiError): string {
  const reason = err.reason.length > 0 ? err.reason : `HTTP${err.status}`;
  return CONDITION_REASON_PATTERN.test(reason) ? reason : REASON_RECONCILE_ERROR;
}

/**
 * The outcome of an error: TerminalError -> stalled, WaitingError -> reconciling, anything else
 * -> notReady; the reason is the error's own (an API error's status reason), else ReconcileError.
 */
export function outcomeOfError(err: unknown): Outcome {
  const message = err instanceof Error ? err.message : String(err);
  const own = (reason: string) =>
    CONDITION_REASON_PATTERN.test(reason) ? reason : REASON_RECONCILE_ERROR;
  if (err instanceof TerminalError) return { summary: 'stalled', reason: own(err.reason), message };
  if (err instanceof WaitingError) {
    return { summary: 'reconciling', reason: own(err.reason), message };
  }
  if (err instanceof ApiError) return { summary: 'notReady', reason: apiReason(err), message };
  const reason = (err as { reason?: unknown } | undefined)?.reason;
  return {
    summary: 'notReady',
    reason: typeof reason === 'string' ? own(reason) : REASON_RECONCILE_ERROR,
    message,
  };
}

/** The status of an object of our kinds, as far as the summary is concerned. */
export interface SummarizedStatus {
  observedGeneration?: number | undefined;
  conditions?: ApiCondition[] | undefined;
}

export interface StatusSummaryOptions<S extends SummarizedStatus> {
  /** The status as read from the cache (not modified). */
  previous: S | undefined;
  /** metadata.generation of the object reconciled. */
  generation: number | undefined;
  now: () => Date;
  /** The ordered steps; they fill in the draft and say how it went, or throw. */
  steps: (draft: S) => Promise<StepsResult>;
  /** Writes the status (compare before write is the writer's business). */
  write: (status: S) => Promise<void>;
  log: Logger;
}

/**
 * Runs the steps, then writes the status once with the conditions of how they went. An error of
 * the steps is rethrown after the write (or after a failed write, which is logged), so the
 * harness still retries, waits or stops. A Conflict is rethrown without a write: the cache is
 * behind our own last write and the next reconcile sees the object as it is. After a
 * TerminalError the draft is written as the steps left it; after any other error, the previous
 * status with the new conditions. A status the API server refuses (a policy, a limit) is an
 * error too: the previous status is written with its reason, and the error rethrown.
 * observedGeneration moves when the spec was fully processed: on success and when stalled.
 */
export async function reconcileWithStatus<S extends SummarizedStatus>(
  options: StatusSummaryOptions<S>,
): Promise<Result | undefined> {
  const draft = structuredClone(options.previous ?? {}) as S;
  let done: StepsResult | undefined;
  let error: Error | undefined;
  try {
    done = await options.steps(draft);
  } catch (err) {
    if (isConflict(err)) throw err;
    error = err instanceof Error ? err : new Error(String(err));
  }
  if (error === undefined) {
    try {
      await options.write(statusOf(options, draft, done!, true));
      return done?.result;
    } catch (writeError) {
      // The API server refused the status itself (a policy, a limit): say so with the status as
      // it was, which it accepted before.
      if (isConflict(writeError)) throw writeError;
      error = writeError instanceof Error ? writeError : new Error(String(writeError));
    }
  }
  // A stalled object shows what its steps prepared; after any other error, the status as it was.
  const keepDraft = error instanceof TerminalError;
  const previous = structuredClone(options.previous ?? {}) as S;
  try {
    await options.write(
      statusOf(options, keepDraft ? draft : previous, outcomeOfError(error), keepDraft),
    );
  } catch (writeError) {
    options.log.warn({ err: writeError }, 'writing the status of a failed reconcile failed');
  }
  throw error;
}

/** The status to write: the conditions of the outcome on `base`; observedGeneration if processed. */
function statusOf<S extends SummarizedStatus>(
  options: StatusSummaryOptions<S>,
  base: S,
  outcome: Outcome,
  processed: boolean,
): S {
  base.conditions = summaryConditions(
    options.previous?.conditions as readonly Condition[] | undefined,
    { ...outcome, generation: options.generation },
    options.now(),
  );
  if (options.generation !== undefined && processed) base.observedGeneration = options.generation;
  return base;
}
