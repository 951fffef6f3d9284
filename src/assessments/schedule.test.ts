import { describe, expect, it } from 'vitest';
import {
  parseSchedule,
  runsBeyondHistory,
  scheduleDecision,
  scheduledRunName,
} from './schedule.ts';

const at = (s: string): Date => new Date(s);

describe('the cron schedule of a template', () => {
  const every5 = parseSchedule('*/5 * * * *', undefined);

  it('is due at a scheduled time reached since the last one acted on, and says the next', () => {
    const d = scheduleDecision(every5, at('2026-01-01T10:00:00Z'), at('2026-01-01T10:05:00Z'));
    expect(d.due).toEqual(at('2026-01-01T10:05:00Z'));
    expect(d.missed).toBe(0);
    expect(d.next).toEqual(at('2026-01-01T10:10:00Z'));
  });

  it('is not due again for a time already acted on', () => {
    const d = scheduleDecision(every5, at('2026-01-01T10:05:00Z'), at('2026-01-01T10:07:00Z'));
    expect(d.due).toBeUndefined();
    expect(d.next).toEqual(at('2026-01-01T10:10:00Z'));
  });

  it('starts only the latest of several missed times and counts the others, at most 100', () => {
    const d = scheduleDecision(every5, at('2026-01-01T10:00:00Z'), at('2026-01-01T10:21:00Z'));
    expect(d.due).toEqual(at('2026-01-01T10:20:00Z'));
    expect(d.missed).toBe(3);
    const long = scheduleDecision(every5, at('2025-01-01T00:00:00Z'), at('2026-01-01T00:00:00Z'));
    expect(long.due).toEqual(at('2026-01-01T00:00:00Z'));
    expect(long.missed).toBe(100);
  });

  it('honours the time zone', () => {
    const berlin = parseSchedule('30 2 * * *', 'Europe/Berlin');
    const d = scheduleDecision(berlin, at('2026-01-01T00:00:00Z'), at('2026-01-01T12:00:00Z'));
    expect(d.due).toEqual(at('2026-01-01T01:30:00Z'));
  });

  it('names an unknown time zone or an unusable expression', () => {
    expect(() => parseSchedule('* * * * *', 'Mars/Olympus')).toThrow(
      'spec.timeZone "Mars/Olympus" is not a known IANA time zone',
    );
    expect(() => parseSchedule('61 * * * *', undefined)).toThrow(/^spec.schedule "61 \* \* \* \*"/);
  });

  it('names scheduled runs after the template and the scheduled minute', () => {
    expect(scheduledRunName('nightly', at('2026-01-01T10:05:00Z'))).toBe('nightly-29454365');
    expect(scheduledRunName('x'.repeat(260), at('2026-01-01T10:05:00Z'))).toHaveLength(253);
  });
});

describe('run history limits', () => {
  const runs = [
    { name: 'a', state: 'COMPLETED' as const, finishedAt: '2026-01-01T01:00:00Z' },
    { name: 'b', state: 'COMPLETED_WITH_ERRORS' as const, finishedAt: '2026-01-01T02:00:00Z' },
    { name: 'c', state: 'COMPLETED' as const, finishedAt: '2026-01-01T03:00:00Z' },
    { name: 'd', state: 'FAILED' as const, finishedAt: '2026-01-01T01:30:00Z' },
    { name: 'e', state: 'CANCELED' as const, finishedAt: '2026-01-01T02:30:00Z' },
    { name: 'f', state: 'COLLECTING_DATA' as const, finishedAt: '2026-01-01T00:00:00Z' },
  ];
  it('lets the oldest finished runs go beyond each limit and never a running one', () => {
    expect(runsBeyondHistory(runs, 1, 1)).toEqual(['a', 'b', 'd']);
    expect(runsBeyondHistory(runs, 3, 2)).toEqual([]);
    expect(runsBeyondHistory(runs, 0, 0)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});
