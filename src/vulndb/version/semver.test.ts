import { describe, expect, it } from 'vitest';
import { generatePairs, mutate, type Random } from '../testing/random.ts';
import { compareSemver, isValidSemver, normalizeGoVersion, semverKey } from './semver.ts';

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

  it('orders its keys as the order compares the versions, on 20,000 generated pairs', () => {
    const numbers = ['0', '1', '2', '9', '10', '11', '100', '2024010100', '9007199254740991'];
    const ids = ['alpha', 'beta', 'rc', 'a-b', 'A', 'x1', '1a', '-', '0', '1', '2', '10', '99'];
    interface V {
      core: string[];
      pre: string[];
      build: string | undefined;
    }
    const random = (rng: Random): V => ({
      core: [rng.pick(numbers), rng.pick(numbers), rng.pick(numbers)],
      pre: rng.chance(0.6) ? Array.from({ length: 1 + rng.int(3) }, () => rng.pick(ids)) : [],
      build: rng.chance(0.2) ? rng.pick(['build.1', 'incompatible', '5']) : undefined,
    });
    const near = (rng: Random, v: V): V =>
      rng.chance(0.3)
        ? { ...v, core: mutate(rng, v.core, numbers).concat(numbers).slice(0, 3) }
        : rng.chance(0.2)
          ? { ...v, build: rng.chance(0.5) ? undefined : 'other' }
          : { ...v, pre: mutate(rng, v.pre, ids) };
    const render = (v: V): string =>
      v.core.join('.') +
      (v.pre.length > 0 ? `-${v.pre.join('.')}` : '') +
      (v.build === undefined ? '' : `+${v.build}`);
    const pairs = generatePairs(20_000, 0x5e7, {
      random,
      near,
      nearChance: 0.8,
      render,
      valid: isValidSemver,
    });
    const sign = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
    const results = pairs.map(([a, b]) => ({
      a,
      b,
      order: Math.sign(compareSemver(a, b)),
      key: sign(semverKey(a)!, semverKey(b)!),
    }));
    expect(results.filter((r) => r.order !== r.key).slice(0, 10)).toEqual([]);
    expect(new Set(results.map((r) => r.order))).toEqual(new Set([-1, 0, 1]));
  });

  it('keys Go versions as it compares them, and has no key for what is not SemVer', () => {
    expect(semverKey('v1.2.3')).toBe(semverKey('1.2.3'));
    expect(semverKey('1.2.3+incompatible')).toBe(semverKey('1.2.3'));
    expect(semverKey(normalizeGoVersion('go1.22rc1'))! < semverKey('1.22.0')!).toBe(true);
    expect(semverKey('1.2')).toBeUndefined();
    expect(semverKey('1.0.0-99999999999999999')).toBeUndefined();
  });
});
