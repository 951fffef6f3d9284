import { describe, expect, it } from 'vitest';
import { toApiTime } from './time.ts';

describe('toApiTime', () => {
  it.each([
    [
      'a Date with milliseconds drops them',
      new Date('2026-03-04T05:06:07.891Z'),
      '2026-03-04T05:06:07Z',
    ],
    [
      'epoch milliseconds are read as a time',
      Date.UTC(2026, 0, 2, 3, 4, 5, 999),
      '2026-01-02T03:04:05Z',
    ],
    ['a whole second stays as it is', new Date('2026-12-31T23:59:59Z'), '2026-12-31T23:59:59Z'],
    ['a time before 1970 rounds down, not toward zero', -1, '1969-12-31T23:59:59Z'],
  ])('%s', (_name, at, expected) => {
    expect(toApiTime(at)).toBe(expected);
  });
});
