import { describe, expect, it } from 'vitest';
import { parseInterval, runAgent } from './agent.ts';
import { InputError } from './errors.ts';

describe('kube-inspector agent flags', () => {
  it.each([
    ['6h', 21_600_000],
    ['90m', 5_400_000],
    ['45s', 45_000],
    ['1h30m', 5_400_000],
  ])('--interval %s is %i ms', (text, ms) => {
    expect(parseInterval(text)).toBe(ms);
  });

  it.each(['', '5x', '0s', '1d', '-1h'])('--interval "%s" is a usage error', (text) => {
    expect(() => parseInterval(text)).toThrow(InputError);
  });

  it.each([
    [['--host-root=/'], /no node name: pass --node-name or set NODE_NAME/],
    [['--node-name=Bad_Name', '--host-root=/'], /node name "Bad_Name" is not a valid/],
    [['--node-name=n1', '--host-root=/nonexistent'], /host root \/nonexistent does not exist/],
    [['--node-name=n1', '--host-root=/', '--metrics-bind-address=8080'], /HOST:PORT/],
    [['--unknown'], /Unknown option '--unknown'/],
  ])('%j is a usage error naming what is wrong', async (args, message) => {
    const saved = process.env.NODE_NAME;
    delete process.env.NODE_NAME;
    try {
      const err = await runAgent(args).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(message);
    } finally {
      if (saved !== undefined) process.env.NODE_NAME = saved;
    }
  });
});
