import { describe, expect, it } from 'vitest';
import {
  BoundedCache,
  type CoverageScanFacts,
  RETRY_FAILED_SCAN_MS,
  coverageScanDecision,
  runImagePlan,
} from './policy.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const base: CoverageScanFacts = {
  state: 'pending',
  statusCode: 'ACTIVE',
  reason: 'PENDING_INITIAL_SCAN',
  activeUsers: 1,
  inFlight: false,
  hasResult: false,
  continuous: true,
  lastScanAt: undefined,
  credentialsChanged: false,
  now: NOW,
};
const failed: Partial<CoverageScanFacts> = {
  state: 'ACCESS_DENIED',
  statusCode: 'INACTIVE',
  reason: 'ACCESS_DENIED',
  hasResult: true,
};

describe('coverage scan decision', () => {
  it.each<[string, Partial<CoverageScanFacts>, boolean, number | undefined]>([
    ['an eligible image never scanned is scanned', {}, true, undefined],
    ['an image whose scan waits or runs is not asked again', { inFlight: true }, false, undefined],
    ['an image no activated pod uses is not scanned', { activeUsers: 0 }, false, undefined],
    [
      'an image the rules make inactive for another reason is not scanned',
      { statusCode: 'INACTIVE', reason: 'SCAN_FREQUENCY_MANUAL' },
      false,
      undefined,
    ],
    [
      'a continuous image this process has no result for is scanned again',
      { state: 'inventory', reason: 'SUCCESSFUL', hasResult: false },
      true,
      undefined,
    ],
    [
      'a scan-on-push image this process has no result for is not scanned again',
      { state: 'inventory', reason: 'SCAN_FREQUENCY_SCAN_ON_PUSH', continuous: false },
      false,
      undefined,
    ],
    [
      'a continuous image with a result is not scanned again',
      { state: 'inventory', reason: 'SUCCESSFUL', hasResult: true },
      false,
      undefined,
    ],
    [
      'an image whose result was read with another code-scanning setting is scanned again',
      { state: 'inventory', reason: 'SUCCESSFUL', hasResult: true, codeScanningChanged: true },
      true,
      undefined,
    ],
    [
      'so is a scan-on-push one',
      {
        state: 'inventory',
        reason: 'SCAN_FREQUENCY_SCAN_ON_PUSH',
        continuous: false,
        hasResult: true,
        codeScanningChanged: true,
      },
      true,
      undefined,
    ],
    [
      'a failed scan is not retried before the delay',
      { ...failed, lastScanAt: NOW - 1000 },
      false,
      NOW - 1000 + RETRY_FAILED_SCAN_MS,
    ],
    [
      'a failed scan is retried once the delay has passed',
      { ...failed, lastScanAt: NOW - RETRY_FAILED_SCAN_MS },
      true,
      undefined,
    ],
    [
      'a failed scan is retried at once when the pull secrets change',
      { ...failed, lastScanAt: NOW - 1000, credentialsChanged: true },
      true,
      undefined,
    ],
    [
      'a failure remembered from before a restart waits for the delay from its time',
      { ...failed, hasResult: false, lastScanAt: NOW - 60_000, credentialsChanged: true },
      false,
      NOW - 60_000 + RETRY_FAILED_SCAN_MS,
    ],
    [
      'a failure with no known time waits a whole delay',
      { ...failed, hasResult: false },
      false,
      NOW + RETRY_FAILED_SCAN_MS,
    ],
    [
      'a failure that no longer decides the reason is not retried',
      { ...failed, reason: 'EXCLUDED_BY_TAG' },
      false,
      undefined,
    ],
  ])('%s', (_name, facts, scan, retryAt) => {
    const d = coverageScanDecision({ ...base, ...facts });
    expect(d.scan).toBe(scan);
    expect(d.retryAt).toBe(retryAt);
  });
});

describe('coverage scan decision with a configured retry delay', () => {
  it('waits the configured delay (--retry-failed-scans-after), not the default', () => {
    const lastScanAt = NOW - 10_000;
    expect(coverageScanDecision({ ...base, ...failed, lastScanAt }, 15_000)).toEqual({
      scan: false,
      retryAt: lastScanAt + 15_000,
    });
    expect(coverageScanDecision({ ...base, ...failed, lastScanAt: NOW - 15_000 }, 15_000)).toEqual({
      scan: true,
    });
  });
});

describe('run image plan', () => {
  const covered = { covered: true, runResult: true, inFlight: false };
  const fresh = { covered: false, runResult: false, inFlight: false };
  const done = { covered: false, runResult: true, inFlight: false };
  const running = { covered: false, runResult: false, inFlight: true };

  it.each([
    [
      'covered images are used and count against no budget',
      [covered, covered, fresh],
      1,
      ['use', 'use', 'request'],
    ],
    ['an image nobody scanned is asked for', [fresh], 2, ['request']],
    ['an image whose scan runs is waited for', [running], 2, ['wait']],
    ['a result of a scan asked for a run is used, failed or not', [done], 2, ['use']],
    [
      'images past the budget are left out, on every look the same',
      [done, fresh, fresh, running],
      2,
      ['use', 'request', 'over-budget', 'over-budget'],
    ],
    [
      'a budget of zero leaves out every image coverage has not scanned',
      [fresh, covered],
      0,
      ['over-budget', 'use'],
    ],
  ] as const)('%s', (_name, images, budget, want) => {
    expect(runImagePlan(images, budget)).toEqual(want);
  });
});

describe('bounded cache', () => {
  it('drops the least recently used entry past its size', () => {
    const c = new BoundedCache<number>(2);
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('a')).toBe(1);
    c.set('c', 3);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    expect(c.get('c')).toBe(3);
  });
});
