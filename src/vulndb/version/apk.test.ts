import { describe, expect, it } from 'vitest';
import { compareApk, isValidApkVersion } from './apk.ts';

/**
 * Vectors written for this project from apk-tools' documented rules (no vectors copied): each
 * row says the left version sorts before the right one.
 */
const ascending: [string, string][] = [
  // numbers and dotted components
  ['1.2', '1.10'],
  ['1.2', '1.2.1'],
  ['1.2.9', '1.2.10'],
  ['1.9', '2'],
  ['3.0.13', '3.0.15'],
  ['3.3.2', '3.3.10'],
  // leading zeros after a dot compare as a fraction-like component
  ['1.02', '1.1'],
  ['1.002', '1.02'],
  ['1.0', '1.1'],
  ['1.0', '1.01'],
  // a letter after the number
  ['1.2', '1.2a'],
  ['1.2a', '1.2b'],
  ['1.2z', '1.2.1'],
  ['1.1.1t', '1.1.1u'],
  // pre-release suffixes before the bare version, in their order
  ['1.0_alpha', '1.0_beta'],
  ['1.0_beta', '1.0_pre'],
  ['1.0_pre', '1.0_rc'],
  ['1.0_rc', '1.0'],
  ['1.0_alpha1', '1.0_alpha2'],
  ['1.0_rc1', '1.0_rc2'],
  ['1.0_rc9', '1.0_rc10'],
  ['1.0_rc', '1.0_rc1'],
  ['1.0_alpha20231201', '1.0'],
  // post-release suffixes after it, in their order
  ['1.0', '1.0_cvs'],
  ['1.0_cvs', '1.0_svn'],
  ['1.0_svn', '1.0_git'],
  ['1.0_git', '1.0_hg'],
  ['1.0_hg', '1.0_p'],
  ['1.0_p1', '1.0_p2'],
  ['1.0_git20240101', '1.0_git20240215'],
  ['1.0_p9', '1.0.1'],
  ['1.0_rc1', '1.0_p1'],
  // package revisions
  ['1.0-r0', '1.0-r1'],
  ['1.0-r9', '1.0-r10'],
  ['1.0', '1.0-r0'],
  ['1.0-r5', '1.0.1-r0'],
  ['1.0_rc1-r5', '1.0-r0'],
  ['1.0_p1-r0', '1.0_p1-r1'],
  ['1.0-r99', '1.0_p1-r0'],
  ['1.2a-r3', '1.2b-r0'],
  // real Alpine package versions around advisories
  ['3.1.4-r5', '3.1.4-r6'],
  ['1.36.1-r28', '1.36.1-r29'],
  ['8.5.0-r0', '8.9.1-r0'],
  ['2.12.6-r0', '2.12.7-r0'],
  ['1.2.4_git20230717-r4', '1.2.5-r0'],
  ['9.6_p1-r0', '9.7_p1-r0'],
  ['5.2.21-r0', '5.2.26-r0'],
];

const equal: [string, string][] = [
  ['1.0', '1.0'],
  ['1.0-r0', '1.0-r0'],
  ['1.0_rc1', '1.0_rc01'],
  ['1.0~abc123', '1.0~def456'],
];

describe('apk version order', () => {
  it.each(ascending)('sorts %s before %s', (a, b) => {
    expect(compareApk(a, b)).toBe(-1);
    expect(compareApk(b, a)).toBe(1);
  });

  it.each(equal)('sorts %s equal to %s', (a, b) => {
    expect(compareApk(a, b)).toBe(0);
  });

  it('is transitive over every version of the table', () => {
    const versions = [...new Set(ascending.flat())];
    const sorted = [...versions].sort(compareApk);
    for (let i = 0; i < sorted.length; i++) {
      for (let j = i + 1; j < sorted.length; j++) {
        expect(compareApk(sorted[i]!, sorted[j]!)).toBeLessThanOrEqual(0);
      }
    }
    for (const [a, b] of ascending) {
      expect(sorted.indexOf(a)).toBeLessThan(sorted.indexOf(b));
    }
  });

  it.each(['1.0', '1.2.3a', '1.0_rc1', '1.0_p2-r3', '1.0_alpha_pre1', '1.0~0a1f-r2', '20240101'])(
    'accepts %s',
    (v) => {
      expect(isValidApkVersion(v)).toBe(true);
    },
  );

  it.each(['', 'a1.0', '1.0-1', '1.0_foo', '1.0-r', '1.A', '1.0_rc1.2', '1.0-r1.1', '1..2'])(
    'rejects %j',
    (v) => {
      expect(isValidApkVersion(v)).toBe(false);
    },
  );

  it('sorts invalid versions before valid ones so the order stays total', () => {
    expect(compareApk('1.0_foo', '0.1')).toBe(-1);
    expect(compareApk('0.1', '1.0_foo')).toBe(1);
  });
});
