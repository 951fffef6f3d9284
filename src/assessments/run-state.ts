/**
 * Inspector Classic's assessment run state machine as a pure function: given a run's status, its
 * spec.stop, what the template says and the time, the one step the controller takes next. The
 * controller performs the step, writes the status once, and is called again by the watch event
 * its own write causes — so each state appears in `stateChanges` with its own timestamp.
 *
 * CREATED → START_DATA_COLLECTION_PENDING → START_DATA_COLLECTION_IN_PROGRESS → COLLECTING_DATA
 *   → (duration elapsed, or stop START_EVALUATION) STOP_DATA_COLLECTION_PENDING → DATA_COLLECTED
 *   → START_EVALUATING_RULES_PENDING → EVALUATING_RULES → COMPLETED | COMPLETED_WITH_ERRORS
 * stop SKIP_EVALUATION, from any state before the end → CANCELED (no findings).
 * A template or target that cannot be used → FAILED; an internal failure → ERROR.
 */
import {
  type AssessmentRunState,
  type AssessmentRunStatus,
  TERMINAL_RUN_STATES,
} from '../api/v1alpha1/assessment-run.ts';
import type { RulesPackage } from '../api/v1alpha1/common.ts';
import { toApiTime as rfc3339 } from '../util/time.ts';

export type StopAction = 'START_EVALUATION' | 'SKIP_EVALUATION';

/** Rules packages this version evaluates; the others are refused with {@link unsupportedPackagesMessage}. */
export const IMPLEMENTED_RULES_PACKAGES: readonly RulesPackage[] = [
  'cve',
  'security-best-practices',
  'network-reachability',
  'cis',
  'code',
];

/** The packages of a list that are not implemented yet. */
export function unsupportedPackages(packages: readonly RulesPackage[]): RulesPackage[] {
  return packages.filter((p) => !IMPLEMENTED_RULES_PACKAGES.includes(p));
}

export function unsupportedPackagesMessage(packages: readonly RulesPackage[]): string {
  const names = packages.join(', ');
  return `rules package${packages.length > 1 ? 's' : ''} ${names} ${packages.length > 1 ? 'are' : 'is'} not implemented yet; only ${IMPLEMENTED_RULES_PACKAGES.join(', ')} can be evaluated — remove ${names} from spec.rulesPackages`;
}

export interface RunInputs {
  now: Date;
  stop: StopAction | undefined;
  /**
   * The template's settings when the run has not copied them yet; `undefined` while the
   * template does not exist.
   */
  template:
    | {
        durationSeconds: number;
        rulesPackages: RulesPackage[];
        findingAttributes?: Record<string, string> | undefined;
      }
    | undefined;
  /** Why the run cannot go on (unusable target, refused rules packages): ends it FAILED. */
  problem: string | undefined;
}

export type Step =
  /** Enter a new state; `message` explains a FAILED or CANCELED end. */
  | { kind: 'transition'; to: AssessmentRunState; message?: string }
  /** Wait for the template to exist. */
  | { kind: 'wait-for-template' }
  /** Keep collecting; come back at the deadline at the latest. */
  | { kind: 'collect'; requeueAfterMs: number }
  /** Evaluate the rules packages over what was collected, then end the run. */
  | { kind: 'evaluate' }
  /** Nothing left to do. */
  | { kind: 'done' };

export function isTerminal(state: AssessmentRunState | undefined): boolean {
  return state !== undefined && TERMINAL_RUN_STATES.includes(state);
}

/** When collection ends: startedAt + duration. */
export function collectionDeadline(status: AssessmentRunStatus): Date | undefined {
  if (status.startedAt === undefined || status.durationSeconds === undefined) return undefined;
  return new Date(Date.parse(status.startedAt) + status.durationSeconds * 1000);
}

/** The next step of a run. */
export function nextStep(status: AssessmentRunStatus, inputs: RunInputs): Step {
  const state = status.state;
  if (isTerminal(state)) return { kind: 'done' };
  if (inputs.stop === 'SKIP_EVALUATION') {
    return {
      kind: 'transition',
      to: 'CANCELED',
      message: 'stopped with SKIP_EVALUATION: no findings were generated',
    };
  }
  switch (state) {
    case undefined:
      return inputs.template === undefined
        ? { kind: 'wait-for-template' }
        : { kind: 'transition', to: 'CREATED' };
    case 'CREATED':
      if (inputs.problem !== undefined)
        return { kind: 'transition', to: 'FAILED', message: inputs.problem };
      return { kind: 'transition', to: 'START_DATA_COLLECTION_PENDING' };
    case 'START_DATA_COLLECTION_PENDING':
      return { kind: 'transition', to: 'START_DATA_COLLECTION_IN_PROGRESS' };
    case 'START_DATA_COLLECTION_IN_PROGRESS':
      return { kind: 'transition', to: 'COLLECTING_DATA' };
    case 'COLLECTING_DATA': {
      if (inputs.stop === 'START_EVALUATION')
        return { kind: 'transition', to: 'STOP_DATA_COLLECTION_PENDING' };
      const deadline = collectionDeadline(status);
      const left = deadline === undefined ? 0 : deadline.getTime() - inputs.now.getTime();
      if (left <= 0) return { kind: 'transition', to: 'STOP_DATA_COLLECTION_PENDING' };
      return { kind: 'collect', requeueAfterMs: left };
    }
    case 'STOP_DATA_COLLECTION_PENDING':
      return { kind: 'transition', to: 'DATA_COLLECTED' };
    case 'DATA_COLLECTED':
      return { kind: 'transition', to: 'START_EVALUATING_RULES_PENDING' };
    case 'START_EVALUATING_RULES_PENDING':
      return { kind: 'transition', to: 'EVALUATING_RULES' };
    case 'EVALUATING_RULES':
      return { kind: 'evaluate' };
    default:
      return { kind: 'done' };
  }
}

/** RFC 3339 in whole seconds, as the API server writes times. */
export { rfc3339 };

const MAX_STATE_CHANGES = 50;

/**
 * The status after entering `to` at `now`: state, stateChangedAt, the appended history (the
 * newest 50 kept), and the fields that belong to the state entered (the template's duration,
 * rules packages and attributes copied at CREATED, as Classic's StartAssessmentRun does;
 * startedAt when collection starts, dataCollected when it ends, completedAt at the end).
 */
export function enterState(
  status: AssessmentRunStatus,
  to: AssessmentRunState,
  now: Date,
  template?: RunInputs['template'],
): AssessmentRunStatus {
  const at = rfc3339(now);
  const history = [...(status.stateChanges ?? []), { state: to, stateChangedAt: at }];
  const next: AssessmentRunStatus = {
    ...status,
    state: to,
    stateChangedAt: at,
    stateChanges: history.slice(-MAX_STATE_CHANGES),
  };
  if (to === 'CREATED' && template !== undefined) {
    next.durationSeconds = template.durationSeconds;
    next.rulesPackages = [...template.rulesPackages];
    if (template.findingAttributes !== undefined)
      next.findingAttributes = { ...template.findingAttributes };
  }
  if (to === 'COLLECTING_DATA') next.startedAt = at;
  if (to === 'DATA_COLLECTED') next.dataCollected = true;
  if (isTerminal(to)) next.completedAt = at;
  return next;
}
