import { describe, expect, it } from 'vitest';
import {
  type Condition,
  type ConditionInput,
  conditionProblems,
  conditionsEqual,
  findCondition,
  formatConditionTime,
  InvalidConditionError,
  isFalse,
  isTrue,
  isTrueForGeneration,
  removeCondition,
  setCondition,
} from './conditions.ts';

const t0 = new Date('2026-01-02T03:04:05.678Z');
const t1 = new Date('2026-01-02T04:00:00.000Z');

const ready: Condition = {
  type: 'Ready',
  status: 'False',
  observedGeneration: 1,
  lastTransitionTime: '2026-01-02T03:04:05Z',
  reason: 'Progressing',
  message: 'waiting',
};

describe('setCondition', () => {
  const cases: {
    name: string;
    before: Condition[];
    input: ConditionInput;
    expected: Condition[];
  }[] = [
    {
      name: 'a new condition is appended with lastTransitionTime set to now in whole seconds',
      before: [],
      input: { type: 'Ready', status: 'True', reason: 'Succeeded', observedGeneration: 2 },
      expected: [
        {
          type: 'Ready',
          status: 'True',
          observedGeneration: 2,
          lastTransitionTime: '2026-01-02T04:00:00Z',
          reason: 'Succeeded',
          message: '',
        },
      ],
    },
    {
      name: 'a status flip moves lastTransitionTime and takes reason, message and generation',
      before: [ready],
      input: {
        type: 'Ready',
        status: 'True',
        reason: 'Succeeded',
        message: 'done',
        observedGeneration: 2,
      },
      expected: [
        {
          type: 'Ready',
          status: 'True',
          observedGeneration: 2,
          lastTransitionTime: '2026-01-02T04:00:00Z',
          reason: 'Succeeded',
          message: 'done',
        },
      ],
    },
    {
      name: 'the same status keeps lastTransitionTime while reason, message and generation change',
      before: [ready],
      input: {
        type: 'Ready',
        status: 'False',
        reason: 'ScanFailed',
        message: 'registry said 500',
        observedGeneration: 3,
      },
      expected: [
        {
          type: 'Ready',
          status: 'False',
          observedGeneration: 3,
          lastTransitionTime: '2026-01-02T03:04:05Z',
          reason: 'ScanFailed',
          message: 'registry said 500',
        },
      ],
    },
    {
      name: 'a missing observedGeneration keeps the one already recorded',
      before: [ready],
      input: { type: 'Ready', status: 'False', reason: 'Progressing', message: 'still waiting' },
      expected: [{ ...ready, message: 'still waiting' }],
    },
    {
      name: 'other conditions are left where they are',
      before: [ready, { ...ready, type: 'Stalled', status: 'False', reason: 'NotStalled' }],
      input: { type: 'Stalled', status: 'True', reason: 'InvalidSpec', observedGeneration: 1 },
      expected: [
        ready,
        {
          ...ready,
          type: 'Stalled',
          status: 'True',
          reason: 'InvalidSpec',
          message: '',
          lastTransitionTime: '2026-01-02T04:00:00Z',
        },
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(setCondition(c.before, c.input, t1)).toEqual(c.expected);
    });
  }

  it('returns the very same array when nothing would change, so the write can be skipped', () => {
    const before = [ready];
    const after = setCondition(
      before,
      {
        type: 'Ready',
        status: 'False',
        reason: 'Progressing',
        message: 'waiting',
        observedGeneration: 1,
      },
      t1,
    );
    expect(after).toBe(before);
  });

  it('does not modify the list it was given', () => {
    const before = [ready];
    setCondition(before, { type: 'Ready', status: 'True', reason: 'Succeeded' }, t1);
    expect(before).toEqual([ready]);
  });

  it('accepts an undefined list as empty', () => {
    expect(
      setCondition(undefined, { type: 'Ready', status: 'Unknown', reason: 'Pending' }, t0),
    ).toEqual([
      {
        type: 'Ready',
        status: 'Unknown',
        lastTransitionTime: '2026-01-02T03:04:05Z',
        reason: 'Pending',
        message: '',
      },
    ]);
  });

  it('truncates a message longer than 32768 characters and says so', () => {
    const [c] = setCondition(
      [],
      { type: 'Ready', status: 'False', reason: 'Failed', message: 'x'.repeat(40_000) },
      t0,
    );
    expect(c?.message.length).toBe(32768);
    expect(c?.message.endsWith('(truncated)')).toBe(true);
  });

  it('throws InvalidConditionError for a reason the API server would reject', () => {
    expect(() =>
      setCondition([], { type: 'Ready', status: 'True', reason: 'not camel case' }, t0),
    ).toThrow(InvalidConditionError);
  });
});

describe('conditionProblems', () => {
  const cases: { name: string; input: ConditionInput; problem: RegExp | undefined }[] = [
    {
      name: 'a plain CamelCase condition is valid',
      input: { type: 'Ready', status: 'True', reason: 'Succeeded' },
      problem: undefined,
    },
    {
      name: 'a domain-prefixed type is valid',
      input: { type: 'kubeinspector.io/Scanned', status: 'True', reason: 'A1' },
      problem: undefined,
    },
    {
      name: 'a reason with commas, colons and underscores is valid',
      input: { type: 'Ready', status: 'True', reason: 'A_b,c:d' },
      problem: undefined,
    },
    {
      name: 'an empty type is refused',
      input: { type: '', status: 'True', reason: 'R' },
      problem: /type must not be empty/,
    },
    {
      name: 'a type longer than 316 characters is refused',
      input: { type: 'A'.repeat(317), status: 'True', reason: 'R' },
      problem: /at most 316/,
    },
    {
      name: 'a type with spaces is refused',
      input: { type: 'Not Ready', status: 'True', reason: 'R' },
      problem: /type must match/,
    },
    {
      name: 'an empty reason is refused',
      input: { type: 'Ready', status: 'True', reason: '' },
      problem: /reason must not be empty/,
    },
    {
      name: 'a reason starting with a digit is refused',
      input: { type: 'Ready', status: 'True', reason: '1Bad' },
      problem: /CamelCase/,
    },
    {
      name: 'a reason ending in a colon is refused',
      input: { type: 'Ready', status: 'True', reason: 'Bad:' },
      problem: /CamelCase/,
    },
    {
      name: 'a reason longer than 1024 characters is refused',
      input: { type: 'Ready', status: 'True', reason: 'A'.repeat(1025) },
      problem: /at most 1024/,
    },
    {
      name: 'a status other than True, False or Unknown is refused',
      input: { type: 'Ready', status: 'Yes' as 'True', reason: 'R' },
      problem: /status must be/,
    },
    {
      name: 'a negative observedGeneration is refused',
      input: { type: 'Ready', status: 'True', reason: 'R', observedGeneration: -1 },
      problem: /observedGeneration/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problems = conditionProblems(c.input);
      if (c.problem === undefined) expect(problems).toEqual([]);
      else expect(problems.join('\n')).toMatch(c.problem);
    });
  }
});

describe('reading conditions', () => {
  const list: Condition[] = [
    { ...ready, status: 'True' },
    { ...ready, type: 'Stalled', status: 'False' },
  ];
  it('findCondition returns the condition of the type asked for', () => {
    expect(findCondition(list, 'Stalled')?.type).toBe('Stalled');
    expect(findCondition(list, 'Reconciling')).toBeUndefined();
  });
  it('isTrue and isFalse say false for a missing condition', () => {
    expect(isTrue(list, 'Ready')).toBe(true);
    expect(isFalse(list, 'Stalled')).toBe(true);
    expect(isTrue(list, 'Reconciling')).toBe(false);
    expect(isFalse(undefined, 'Reconciling')).toBe(false);
  });
  it('isTrueForGeneration is false when the condition came from an older generation', () => {
    expect(isTrueForGeneration(list, 'Ready', 1)).toBe(true);
    expect(isTrueForGeneration(list, 'Ready', 2)).toBe(false);
  });
  it('removeCondition drops the type and keeps the same array when it was absent', () => {
    expect(removeCondition(list, 'Stalled').map((c) => c.type)).toEqual(['Ready']);
    expect(removeCondition(list, 'Reconciling')).toBe(list);
  });
  it('conditionsEqual ignores order but not content', () => {
    expect(conditionsEqual(list, [...list].reverse())).toBe(true);
    expect(conditionsEqual(list, [list[0] as Condition])).toBe(false);
    expect(
      conditionsEqual(list, [{ ...ready, status: 'True', message: 'other' }, list[1] as Condition]),
    ).toBe(false);
  });
  it('formatConditionTime drops the fraction of a second', () => {
    expect(formatConditionTime(t0)).toBe('2026-01-02T03:04:05Z');
    expect(formatConditionTime(t0.getTime())).toBe('2026-01-02T03:04:05Z');
  });
});
