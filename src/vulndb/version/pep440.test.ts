import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { generatePairs, type Random } from '../testing/random.ts';
import { comparePep440, isValidPep440Version, pep440Key } from './pep440.ts';

function randomVersion(rng: Random): string {
  let v = rng.chance(0.05) ? 'v' : '';
  if (rng.chance(0.1)) v += `${rng.int(3)}!`;
  const parts = 1 + rng.int(4);
  v += Array.from({ length: parts }, () => rng.pick(['0', '1', '2', '10', '00', '01'])).join('.');
  if (rng.chance(0.35)) {
    v += rng.pick(['', '.', '-', '_']);
    v += rng.pick(['a', 'b', 'rc', 'c', 'alpha', 'beta', 'pre', 'preview', 'A', 'RC']);
    if (rng.chance(0.8)) v += String(rng.int(3));
  }
  if (rng.chance(0.25)) {
    const form = rng.int(4);
    if (form === 0) v += `.post${rng.int(3)}`;
    else if (form === 1) v += `-${rng.int(3)}`;
    else if (form === 2) v += `post${rng.int(3)}`;
    else v += `_rev${rng.int(3)}`;
  }
  if (rng.chance(0.25))
    v += `${rng.pick(['.', '', '-'])}dev${rng.chance(0.7) ? String(rng.int(3)) : ''}`;
  if (rng.chance(0.15)) v += `+${rng.pick(['abc', 'ubuntu', '1', '5', 'abc.5', 'a-1', 'cpu'])}`;
  return v;
}

function closeTo(rng: Random, v: string): string {
  // Re-draw until the strings differ only a little: share the release of the first one.
  const release = /^v?(?:\d+!)?[\d.]+/.exec(v)?.[0] ?? '1.0';
  return release + randomVersion(rng).replace(/^v?(?:\d+!)?[\d.]+/, '');
}

const pairsOf = (count: number, seed: number): [string, string][] =>
  generatePairs(count, seed, {
    random: randomVersion,
    near: closeTo,
    nearChance: 0.7,
    render: (v) => v,
    valid: isValidPep440Version,
  });

const compareScript = `
import json, sys
from packaging.version import Version
out = []
for a, b in json.load(sys.stdin):
    x, y = Version(a), Version(b)
    out.append(-1 if x < y else (1 if x > y else 0))
print(json.dumps(out))
`;

/** The first Python on the machine that has `packaging` (python3-packaging in Debian). */
function pythonWithPackaging(): string {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(candidate, ['-c', 'import packaging.version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error('no python3 with the packaging module: install python3-packaging');
}

describe('PEP 440 version order', () => {
  it.each([
    ['1.0a1', '1.0', -1],
    ['1.0.dev1', '1.0a1', -1],
    ['1.0', '1.0.post1', -1],
    ['1.0-1', '1.0.post1', 0],
    ['1!0.1', '2.0', 1],
    ['1.0+local', '1.0', 1],
    ['1.0', '1.0.0', 0],
    ['2.31.0', '2.32.0', -1],
    ['v1.0', '1.0', 0],
  ])('orders %s against %s as %i', (a, b, expected) => {
    expect(Math.sign(comparePep440(a, b))).toBe(expected);
  });

  it('sorts versions that are not PEP 440 before valid ones', () => {
    expect(isValidPep440Version('not a version')).toBe(false);
    expect(comparePep440('not a version', '0.0.1')).toBe(-1);
    expect(comparePep440('0.0.1', 'not a version')).toBe(1);
  });

  it("agrees with Python's packaging on 3,000 generated pairs", { timeout: 120_000 }, () => {
    const pairs = pairsOf(3000, 0x440);
    const out = execFileSync(pythonWithPackaging(), ['-c', compareScript], {
      input: JSON.stringify(pairs),
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    });
    const expected = JSON.parse(out) as number[];
    expect(expected).toHaveLength(pairs.length);
    const disagreements = pairs
      .map(([a, b], i) => ({ a, b, packaging: expected[i], ours: comparePep440(a, b) }))
      .filter((r) => r.packaging !== r.ours);
    expect(disagreements.slice(0, 10)).toEqual([]);
    expect(new Set(expected)).toEqual(new Set([-1, 0, 1]));
  });

  it("orders its keys as Python's packaging orders the versions", { timeout: 120_000 }, () => {
    const pairs = [
      ...pairsOf(3000, 0x6b6579),
      ['1.0.dev1', '1.0a1.dev1'],
      ['1.0+abc', '1.0+5'],
      ['1.0+abc.1', '1.0+abc'],
      ['1.0.post1.dev1', '1.0.post1'],
      ['1!1.0', '2.0'],
      ['1.0.0.0', '1.0'],
    ] as [string, string][];
    const out = execFileSync(pythonWithPackaging(), ['-c', compareScript], {
      input: JSON.stringify(pairs),
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    });
    const expected = JSON.parse(out) as number[];
    expect(expected).toHaveLength(pairs.length);
    const sign = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
    const disagreements = pairs
      .map(([a, b], i) => ({
        a,
        b,
        packaging: expected[i],
        key: sign(pep440Key(a)!, pep440Key(b)!),
      }))
      .filter((r) => r.packaging !== r.key);
    expect(disagreements.slice(0, 10)).toEqual([]);
    expect(new Set(expected)).toEqual(new Set([-1, 0, 1]));
    expect(pep440Key('not a version')).toBeUndefined();
  });
});
