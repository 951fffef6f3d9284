import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  Controller,
  type ReconcileContext,
  type Result,
  TerminalError,
  WaitingError,
} from './controller.ts';

const log = pino({ level: 'silent' });

function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (check()) resolve();
      else if (Date.now() > deadline) reject(new Error('condition not reached'));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

describe('the reconciler harness', () => {
  it('backs off exponentially while a reconcile keeps failing, and resets after a success', async () => {
    const attempts: number[] = [];
    let failUntil = 7;
    const controller = new Controller({
      name: 'backoff',
      log,
      reconciler: {
        reconcile: () => {
          attempts.push(performance.now());
          if (attempts.length < failUntil) return Promise.reject(new Error('boom'));
          return Promise.resolve(undefined);
        },
      },
    });
    controller.start();
    controller.enqueue('k');
    await eventually(() => attempts.length >= failUntil);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    // Delays 5, 10, 20, 40, 80, 160 ms: each gap at least the delay and growing.
    const expected = [5, 10, 20, 40, 80, 160];
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(expected[i]! - 1));
    expect(gaps[5]!).toBeGreaterThan(gaps[2]! * 2);
    expect(controller.queue.numRequeues('k')).toBe(0);
    failUntil = 0;
    await controller.stop(1000);
  });

  it('does not retry a terminal error and lets the reconciler record it', async () => {
    let calls = 0;
    const recorded: string[] = [];
    const registry = new Registry();
    const controller = new Controller({
      name: 'terminal',
      log,
      registry,
      reconciler: {
        reconcile: () => {
          calls++;
          return Promise.reject(new TerminalError('spec.rules[0].filter is not a valid glob'));
        },
        onTerminalError: (key, err) => {
          recorded.push(`${key}: ${err.message}`);
          return Promise.resolve();
        },
      },
    });
    controller.start();
    controller.enqueue('default');
    await eventually(() => recorded.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(1);
    expect(recorded).toEqual(['default: spec.rules[0].filter is not a valid glob']);
    const text = await registry.metrics();
    expect(text).toContain(
      'controller_runtime_terminal_reconcile_errors_total{controller="terminal"} 1',
    );
    expect(text).toContain(
      'controller_runtime_reconcile_total{controller="terminal",result="error"} 1',
    );
    await controller.stop(1000);
  });

  it('logs the same terminal error of a key at error level once, again after a success', async () => {
    const lines: { level: number; msg: string }[] = [];
    const capture = pino(
      { level: 'debug' },
      {
        write: (line: string) => {
          lines.push(JSON.parse(line) as { level: number; msg: string });
        },
      },
    );
    const outcomes = ['bad', 'bad', 'ok', 'bad', 'worse'];
    let calls = 0;
    const controller = new Controller({
      name: 'terminal-log',
      log: capture,
      reconciler: {
        reconcile: () => {
          const o = outcomes[calls++];
          return o === 'ok' ? Promise.resolve(undefined) : Promise.reject(new TerminalError(o!));
        },
      },
    });
    controller.start();
    for (let i = 0; i < outcomes.length; i++) {
      controller.enqueue('k');
      await eventually(() => calls === i + 1);
    }
    await controller.stop(1000);
    const errors = lines.filter((l) => l.level === 50).map((l) => l.msg);
    expect(errors).toHaveLength(3);
    expect(lines.filter((l) => l.level === 20).map((l) => l.msg)).toEqual([
      'the same terminal error again; not retrying',
    ]);
  });

  it('retries a waiting error after its delay without counting a failure', async () => {
    const times: number[] = [];
    const controller = new Controller({
      name: 'waiting',
      log,
      reconciler: {
        reconcile: () => {
          times.push(performance.now());
          if (times.length === 1)
            return Promise.reject(new WaitingError('inventory not collected yet', 50));
          return Promise.resolve(undefined);
        },
      },
    });
    controller.start();
    controller.enqueue('node-1');
    await eventually(() => times.length === 2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(49);
    expect(controller.queue.numRequeues('node-1')).toBe(0);
    await controller.stop(1000);
  });

  it('requeues after the delay a result asks for, counted as requeue_after', async () => {
    const registry = new Registry();
    let calls = 0;
    const controller = new Controller({
      name: 'after',
      log,
      registry,
      reconciler: {
        reconcile: (): Promise<Result> => {
          calls++;
          return Promise.resolve(calls === 1 ? { requeueAfterMs: 30 } : {});
        },
      },
    });
    controller.start();
    controller.enqueue('x');
    await eventually(() => calls === 2);
    const text = await registry.metrics();
    expect(text).toContain(
      'controller_runtime_reconcile_total{controller="after",result="requeue_after"} 1',
    );
    expect(text).toContain(
      'controller_runtime_reconcile_total{controller="after",result="success"} 1',
    );
    await controller.stop(1000);
  });

  it('never reconciles one key twice at once, even with many workers', async () => {
    let running = 0;
    let maxRunningForKey = 0;
    let done = 0;
    const controller = new Controller({
      name: 'parallel',
      log,
      concurrency: 4,
      reconciler: {
        reconcile: async () => {
          running++;
          maxRunningForKey = Math.max(maxRunningForKey, running);
          await new Promise((r) => setTimeout(r, 5));
          running--;
          done++;
          return undefined;
        },
      },
    });
    controller.start();
    for (let i = 0; i < 20; i++) {
      controller.enqueue('same');
      await new Promise((r) => setTimeout(r, 1));
    }
    await eventually(() => running === 0 && controller.queue.length === 0 && done >= 2);
    expect(maxRunningForKey).toBe(1);
    await controller.stop(1000);
  });

  it('gives every reconcile its own reconcile ID in the log context', async () => {
    const ids = new Set<string>();
    const controller = new Controller({
      name: 'ids',
      log,
      reconciler: {
        reconcile: (_key: string, ctx: ReconcileContext) => {
          ids.add(ctx.reconcileID);
          expect((ctx.log.bindings() as { reconcileID: string }).reconcileID).toBe(ctx.reconcileID);
          return Promise.resolve(undefined);
        },
      },
    });
    controller.start();
    controller.enqueue('a');
    controller.enqueue('b');
    await eventually(() => ids.size === 2);
    await controller.stop(1000);
  });

  it('drains an in-flight reconcile on stop and reports whether it ended in time', async () => {
    let finished = false;
    const controller = new Controller({
      name: 'drain',
      log,
      reconciler: {
        reconcile: async () => {
          await new Promise((r) => setTimeout(r, 50));
          finished = true;
          return undefined;
        },
      },
    });
    controller.start();
    controller.enqueue('slow');
    await new Promise((r) => setTimeout(r, 10));
    expect(await controller.stop(5_000)).toBe(true);
    expect(finished).toBe(true);
  });
});
