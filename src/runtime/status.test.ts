import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../kube/client.ts';
import { type Condition, type ConditionSummary, summaryConditions } from './conditions.ts';
import { TerminalError, WaitingError } from './controller.ts';
import { type SummarizedStatus, outcomeOfError, reconcileWithStatus } from './status.ts';

const log = pino({ level: 'silent' });
const t0 = new Date('2026-01-02T03:04:05.678Z');
const t1 = new Date('2026-01-02T04:00:00Z');
const typesOf = (cs: readonly Pick<Condition, 'type' | 'status'>[]) =>
  cs.map((c) => `${c.type}=${c.status}`).sort();

describe('the one condition vocabulary', () => {
  const cases: {
    name: string;
    summary: ConditionSummary;
    expected: string[];
  }[] = [
    { name: 'a ready object has Ready=True only', summary: 'ready', expected: ['Ready=True'] },
    {
      name: 'a failed reconcile has Ready=False only',
      summary: 'notReady',
      expected: ['Ready=False'],
    },
    {
      name: 'a stalled object has Ready=False and Stalled=True',
      summary: 'stalled',
      expected: ['Ready=False', 'Stalled=True'],
    },
    {
      name: 'a waiting object has Ready=False and Reconciling=True',
      summary: 'reconciling',
      expected: ['Ready=False', 'Reconciling=True'],
    },
  ];
  for (const c of cases) {
    it(`${c.name}, whatever was there before`, () => {
      for (const before of ['ready', 'notReady', 'stalled', 'reconciling'] as const) {
        const previous = summaryConditions(
          undefined,
          { summary: before, reason: 'Before', message: 'before', generation: 1 },
          t0,
        );
        const next = summaryConditions(
          previous,
          { summary: c.summary, reason: 'Now', message: 'now', generation: 2 },
          t1,
        );
        expect(typesOf(next)).toEqual(c.expected);
        for (const x of next) {
          expect(x.reason).toBe('Now');
          expect(x.observedGeneration).toBe(2);
        }
      }
    });
  }

  it('keeps the same list (no write) when nothing changed, and keeps other condition types', () => {
    const stalled = {
      summary: 'stalled',
      reason: 'Bad',
      message: 'fix it',
      generation: 1,
    } as const;
    const first = summaryConditions(undefined, stalled, t0);
    expect(summaryConditions(first, stalled, t1)).toBe(first);
    const withOther: Condition[] = [
      ...first,
      {
        type: 'Scanning',
        status: 'True',
        reason: 'Busy',
        message: '',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ];
    expect(
      typesOf(
        summaryConditions(
          withOther,
          { summary: 'ready', reason: 'Ok', message: '', generation: 1 },
          t1,
        ),
      ),
    ).toEqual(['Ready=True', 'Scanning=True']);
  });
});

describe('the outcome of an error', () => {
  it('a TerminalError is stalled with its reason', () => {
    expect(outcomeOfError(new TerminalError('spec.x is wrong', { reason: 'InvalidSpec' }))).toEqual(
      {
        summary: 'stalled',
        reason: 'InvalidSpec',
        message: 'spec.x is wrong',
      },
    );
  });
  it('a WaitingError is reconciling with its reason', () => {
    expect(
      outcomeOfError(new WaitingError('not yet', 10, { reason: 'DatabaseNotLoaded' })),
    ).toEqual({
      summary: 'reconciling',
      reason: 'DatabaseNotLoaded',
      message: 'not yet',
    });
  });
  it('an API error is not ready with the status reason of the API server', () => {
    const err = new ApiError('POST', '/apis/x', 403, {
      reason: 'Forbidden',
      message: 'exceeded quota',
    });
    expect(outcomeOfError(err)).toMatchObject({ summary: 'notReady', reason: 'Forbidden' });
    expect(outcomeOfError(err).message).toContain('exceeded quota');
  });
  it('anything else is not ready with ReconcileError, or a reason it carries', () => {
    expect(outcomeOfError(new Error('boom'))).toEqual({
      summary: 'notReady',
      reason: 'ReconcileError',
      message: 'boom',
    });
    expect(outcomeOfError(Object.assign(new Error('x'), { reason: 'ACCESS_DENIED' })).reason).toBe(
      'ACCESS_DENIED',
    );
    expect(outcomeOfError(Object.assign(new Error('x'), { reason: 'not camel' })).reason).toBe(
      'ReconcileError',
    );
    expect(outcomeOfError('a string').message).toBe('a string');
  });
});

interface S extends SummarizedStatus {
  count?: number;
}

async function run(
  steps: (draft: S) => Promise<{ summary: 'ready'; reason: string; message: string }>,
  previous: S | undefined = { observedGeneration: 1, count: 1 },
) {
  const written: S[] = [];
  let thrown: unknown;
  const result = await reconcileWithStatus<S>({
    previous,
    generation: 2,
    now: () => t1,
    steps,
    write: (s) => {
      written.push(s);
      return Promise.resolve();
    },
    log,
  }).catch((err: unknown) => {
    thrown = err;
    return undefined;
  });
  return { written, thrown, result };
}

describe('status written once on every path', () => {
  it('a success writes the draft with Ready=True and the new observedGeneration', async () => {
    const { written, thrown } = await run((d) => {
      d.count = 5;
      return Promise.resolve({ summary: 'ready', reason: 'Done', message: 'ok' });
    });
    expect(thrown).toBeUndefined();
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({ observedGeneration: 2, count: 5 });
    expect(typesOf(written[0]!.conditions!)).toEqual(['Ready=True']);
  });

  it('a TerminalError writes the draft as the steps left it, Stalled, and is rethrown', async () => {
    const err = new TerminalError('spec.a: no', { reason: 'Invalid' });
    const { written, thrown } = await run((d) => {
      delete d.count;
      return Promise.reject(err);
    });
    expect(thrown).toBe(err);
    expect(written).toHaveLength(1);
    expect(written[0]!.count).toBeUndefined();
    expect(written[0]!.observedGeneration).toBe(2);
    expect(typesOf(written[0]!.conditions!)).toEqual(['Ready=False', 'Stalled=True']);
    expect(written[0]!.conditions![0]!.message).toBe('spec.a: no');
  });

  it('a WaitingError keeps the previous status and observedGeneration, Reconciling', async () => {
    const err = new WaitingError('later', 5);
    const { written, thrown } = await run((d) => {
      d.count = 9;
      return Promise.reject(err);
    });
    expect(thrown).toBe(err);
    expect(written[0]).toMatchObject({ observedGeneration: 1, count: 1 });
    expect(typesOf(written[0]!.conditions!)).toEqual(['Ready=False', 'Reconciling=True']);
  });

  it('any other error writes Ready=False with its reason and is rethrown', async () => {
    const err = new ApiError('POST', '/x', 422, { reason: 'Invalid', message: 'nope' });
    const { written, thrown } = await run(() => Promise.reject(err));
    expect(thrown).toBe(err);
    expect(written[0]!.conditions).toEqual([
      expect.objectContaining({ type: 'Ready', status: 'False', reason: 'Invalid' }),
    ]);
  });

  it('a Conflict is rethrown without a write: the cache is behind', async () => {
    const err = new ApiError('PATCH', '/x', 409, { reason: 'Conflict' });
    const { written, thrown } = await run(() => Promise.reject(err));
    expect(thrown).toBe(err);
    expect(written).toHaveLength(0);
  });

  it('a failed write after a failed step still rethrows the step error; after a success, the write error', async () => {
    const stepError = new Error('step');
    const writeError = new Error('write');
    const failing = (
      steps: () => Promise<never> | Promise<{ summary: 'ready'; reason: string; message: string }>,
    ) =>
      reconcileWithStatus<S>({
        previous: undefined,
        generation: 1,
        now: () => t1,
        steps,
        write: () => Promise.reject(writeError),
        log,
      });
    await expect(failing(() => Promise.reject(stepError))).rejects.toBe(stepError);
    await expect(
      failing(() => Promise.resolve({ summary: 'ready', reason: 'Ok', message: '' })),
    ).rejects.toBe(writeError);
  });

  it('a status the API server refuses is reported with the previous status and its reason', async () => {
    const refused = new ApiError('PATCH', '/x/status', 422, {
      reason: 'Invalid',
      message: 'denied by policy',
    });
    const written: S[] = [];
    const attempt = reconcileWithStatus<S>({
      previous: { observedGeneration: 1, count: 1 },
      generation: 2,
      now: () => t1,
      steps: (d) => {
        d.count = 99;
        return Promise.resolve({ summary: 'ready', reason: 'Done', message: '' });
      },
      write: (s) => {
        written.push(structuredClone(s));
        return s.count === 99 ? Promise.reject(refused) : Promise.resolve();
      },
      log,
    });
    await expect(attempt).rejects.toBe(refused);
    expect(written).toHaveLength(2);
    expect(written[1]).toMatchObject({ observedGeneration: 1, count: 1 });
    expect(written[1]!.conditions).toEqual([
      expect.objectContaining({ type: 'Ready', status: 'False', reason: 'Invalid' }),
    ]);
    expect(written[1]!.conditions![0]!.message).toContain('denied by policy');
  });

  it('the previous status is never modified', async () => {
    const previous: S = { observedGeneration: 1, count: 1 };
    await run((d) => {
      d.count = 2;
      return Promise.resolve({ summary: 'ready', reason: 'Done', message: '' });
    }, previous);
    expect(previous).toEqual({ observedGeneration: 1, count: 1 });
  });
});
