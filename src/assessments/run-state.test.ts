import { describe, expect, it } from 'vitest';
import type { AssessmentRunStatus } from '../api/v1alpha1/assessment-run.ts';
import {
  type RunInputs,
  enterState,
  nextStep,
  unsupportedPackages,
  unsupportedPackagesMessage,
} from './run-state.ts';

const now = new Date('2026-03-01T10:00:00Z');
const template = { durationSeconds: 600, rulesPackages: ['cve' as const] };
const inputs = (over: Partial<RunInputs> = {}): RunInputs => ({
  now,
  stop: undefined,
  template,
  problem: undefined,
  ...over,
});

/** Follows the machine from nothing until it asks for something other than a transition. */
function walk(status: AssessmentRunStatus, i: RunInputs): AssessmentRunStatus {
  for (let n = 0; n < 20; n++) {
    const step = nextStep(status, i);
    if (step.kind !== 'transition') return status;
    status = enterState(status, step.to, i.now, i.template);
  }
  throw new Error('no end');
}

describe('the assessment run state machine', () => {
  it('walks the Classic states up to collection and records each one', () => {
    const s = walk({}, inputs());
    expect(s.state).toBe('COLLECTING_DATA');
    expect(s.stateChanges?.map((c) => c.state)).toEqual([
      'CREATED',
      'START_DATA_COLLECTION_PENDING',
      'START_DATA_COLLECTION_IN_PROGRESS',
      'COLLECTING_DATA',
    ]);
    expect(s.startedAt).toBe('2026-03-01T10:00:00Z');
    expect(s.durationSeconds).toBe(600);
    expect(s.rulesPackages).toEqual(['cve']);
  });

  it('collects until the deadline, asking to be called again exactly then', () => {
    const s = walk({}, inputs());
    const later = new Date(now.getTime() + 250_000);
    expect(nextStep(s, inputs({ now: later }))).toEqual({
      kind: 'collect',
      requeueAfterMs: 350_000,
    });
    const after = walk(s, inputs({ now: new Date(now.getTime() + 600_000) }));
    expect(after.state).toBe('EVALUATING_RULES');
    expect(after.dataCollected).toBe(true);
    expect(nextStep(after, inputs())).toEqual({ kind: 'evaluate' });
    expect(after.stateChanges?.slice(4).map((c) => c.state)).toEqual([
      'STOP_DATA_COLLECTION_PENDING',
      'DATA_COLLECTED',
      'START_EVALUATING_RULES_PENDING',
      'EVALUATING_RULES',
    ]);
  });

  it('stop START_EVALUATION ends collection before the deadline', () => {
    const s = walk({}, inputs());
    expect(walk(s, inputs({ stop: 'START_EVALUATION' })).state).toBe('EVALUATING_RULES');
  });

  it('stop SKIP_EVALUATION cancels from any state before the end, and the end is final', () => {
    const s = walk({}, inputs());
    const canceled = walk(s, inputs({ stop: 'SKIP_EVALUATION' }));
    expect(canceled.state).toBe('CANCELED');
    expect(canceled.completedAt).toBe('2026-03-01T10:00:00Z');
    expect(nextStep(canceled, inputs())).toEqual({ kind: 'done' });
    expect(walk({ state: 'COMPLETED' }, inputs({ stop: 'SKIP_EVALUATION' })).state).toBe(
      'COMPLETED',
    );
  });

  it('waits for a template that does not exist yet', () => {
    expect(nextStep({}, inputs({ template: undefined }))).toEqual({ kind: 'wait-for-template' });
  });

  it('fails a run whose template or target cannot be used, with the reason', () => {
    const step = nextStep({ state: 'CREATED' }, inputs({ problem: 'target gone' }));
    expect(step).toEqual({ kind: 'transition', to: 'FAILED', message: 'target gone' });
  });

  it('keeps at most 50 state changes', () => {
    let s: AssessmentRunStatus = {};
    for (let i = 0; i < 60; i++) s = enterState(s, 'CREATED', now);
    expect(s.stateChanges).toHaveLength(50);
  });
});

describe('rules packages', () => {
  it('every rules package is implemented; a refusal would name the packages', () => {
    expect(unsupportedPackages(['cve', 'cis', 'network-reachability'])).toEqual([]);
    expect(unsupportedPackages(['security-best-practices', 'cve'])).toEqual([]);
    expect(unsupportedPackagesMessage(['cis'])).toMatch(/^rules package cis is not implemented/);
    expect(unsupportedPackagesMessage(['cis', 'security-best-practices'])).toContain(
      'cis, security-best-practices are not implemented',
    );
  });
});
