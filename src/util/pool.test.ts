import { describe, expect, it } from 'vitest';
import { pool } from './pool.ts';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('pool', () => {
  it('returns the results in the order of the items, whatever order they finish in', async () => {
    const out = await pool([30, 10, 20, 0], 4, async (ms, i) => {
      await tick(ms);
      return `${i}:${ms}`;
    });
    expect(out).toEqual(['0:30', '1:10', '2:20', '3:0']);
  });

  it('never runs more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    await pool(
      Array.from({ length: 20 }, (_, i) => i),
      3,
      async () => {
        running++;
        most = Math.max(most, running);
        await tick(1);
        running--;
      },
    );
    expect(most).toBe(3);
  });

  it('rejects with the first failure once the running calls settle, and starts no new ones', async () => {
    const started: number[] = [];
    let settled = 0;
    const run = pool([0, 1, 2, 3, 4, 5], 2, async (i) => {
      started.push(i);
      await tick(i === 0 ? 1 : 5);
      settled++;
      if (i === 0) throw new Error('item 0 failed');
    });
    await expect(run).rejects.toThrow('item 0 failed');
    // 0 failed while 1 still ran: 1 finished, and no worker took 2.
    expect(started).toEqual([0, 1]);
    expect(settled).toBe(2);
  });

  it('an empty list is an empty result, and a limit below one is refused', async () => {
    expect(await pool([], 4, () => Promise.resolve(1))).toEqual([]);
    await expect(pool([1], 0, () => Promise.resolve(1))).rejects.toThrow(/at least 1/);
  });
});
