import { describe, expect, it } from 'vitest';
import { compareSemver, isValidSemver, normalizeGoVersion } from './semver.ts';

describe('SemVer order', () => {
  it.each([
    ['1.2.3', '1.2.10', -1],
    ['1.0.0-rc.1', '1.0.0', -1],
    ['1.0.0-alpha', '1.0.0-alpha.1', -1],
    ['1.0.0-alpha.beta', '1.0.0-beta', -1],
    ['1.0.0-beta.2', '1.0.0-beta.11', -1],
    ['1.0.0+build.1', '1.0.0+build.2', 0],
    ['v1.2.3', '1.2.3', 0],
    // Go pseudo-versions are pre-releases of the next patch (or of 0.0.0)
    ['0.0.0-20210101000000-abcdefabcdef', '0.0.1', -1],
    ['0.0.0-20210101000000-abcdefabcdef', '0.0.0-20220101000000-123456789abc', -1],
    ['1.2.4-0.20230101000000-abcdefabcdef', '1.2.4', -1],
    ['1.2.4-0.20230101000000-abcdefabcdef', '1.2.3', 1],
    // +incompatible is build metadata
    ['2.0.0+incompatible', '2.0.0', 0],
    ['4.4.3+incompatible', '4.5.0+incompatible', -1],
  ])('orders %s against %s as %i', (a, b, expected) => {
    expect(compareSemver(a, b)).toBe(expected);
    expect(compareSemver(b, a)).toBe(-expected || 0);
  });

  it('sorts versions that are not SemVer before valid ones', () => {
    expect(isValidSemver('1.2')).toBe(false);
    expect(compareSemver('1.2', '0.0.1')).toBe(-1);
    expect(compareSemver('0.0.1', '1.2')).toBe(1);
  });

  it.each([
    ['go1.21', '1.21.0'],
    ['go1.21.3', '1.21.3'],
    ['go1.22rc1', '1.22.0-rc.1'],
    ['go1.9beta2', '1.9.0-beta.2'],
    ['v1.4.0', '1.4.0'],
    ['1.4.0', '1.4.0'],
  ])('normalises the Go version %s to %s', (go, expected) => {
    expect(normalizeGoVersion(go)).toBe(expected);
  });

  it('orders a Go release candidate before the release', () => {
    expect(compareSemver(normalizeGoVersion('go1.22rc1'), normalizeGoVersion('go1.22'))).toBe(-1);
  });
});
