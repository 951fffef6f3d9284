import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mutate, generatePairs, type Random } from '../testing/random.ts';
import { compareRpm, isValidRpmVersion, parseRpmEvr, rpmvercmp } from './rpm.ts';

const alphabet = [
  '0',
  '1',
  '2',
  '9',
  '10',
  '007',
  'a',
  'b',
  'Z',
  'rc',
  'git',
  '.',
  '_',
  '+',
  '~',
  '^',
  '~~',
  '^^',
];
const releaseAlphabet = [
  '1',
  '2',
  '10',
  '0',
  '.',
  'el',
  'el9',
  'el9_3',
  'fc39',
  '~',
  '^',
  '_',
  'a',
];

function tokens(rng: Random, alpha: readonly string[], max: number): string[] {
  return Array.from({ length: 1 + rng.int(max) }, () => rng.pick(alpha));
}

interface Evr {
  epoch: string | undefined;
  version: string[];
  release: string[] | undefined;
}

function render(e: Evr): string {
  const epoch = e.epoch === undefined ? '' : `${e.epoch}:`;
  const release = e.release === undefined ? '' : `-${e.release.join('')}`;
  return `${epoch}${e.version.join('')}${release}`;
}

function randomEvr(rng: Random): Evr {
  return {
    epoch: rng.chance(0.2) ? rng.pick(['0', '1', '2', '10']) : undefined,
    version: tokens(rng, alphabet, 7),
    release: rng.chance(0.6) ? tokens(rng, releaseAlphabet, 4) : undefined,
  };
}

function neighbour(rng: Random, e: Evr): Evr {
  const part = rng.int(4);
  if (part === 0) return { ...e, epoch: rng.chance(0.5) ? undefined : rng.pick(['0', '1', '2']) };
  if (part <= 2) return { ...e, version: mutate(rng, e.version, alphabet) };
  const next = mutate(rng, e.release ?? [], releaseAlphabet);
  return { ...e, release: next.length === 0 ? undefined : next };
}

const pairsOf = (count: number, seed: number): [string, string][] =>
  generatePairs(count, seed, {
    random: randomEvr,
    near: neighbour,
    nearChance: 0.8,
    render,
    valid: isValidRpmVersion,
  });

/** Asks rpm's own `rpm.vercmp` (rpmverCmp on EVR strings) about every pair in one lua script. */
function rpmOracle(pairs: [string, string][]): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'rpm-oracle-'));
  try {
    const file = join(dir, 'compare.lua');
    const lua = pairs.map(
      ([a, b]) => `print(rpm.vercmp(${JSON.stringify(a)}, ${JSON.stringify(b)}) .. "\\n")`,
    );
    writeFileSync(file, lua.join('\n') + '\n');
    const out = execFileSync('rpm', ['--eval', `%{lua: dofile(${JSON.stringify(file)})}`], {
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    });
    return out
      .trim()
      .split('\n')
      .map((l) => Math.sign(Number(l)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('rpm version order', () => {
  it.each([
    ['1.0~rc1', '1.0', -1],
    ['1.0^git1', '1.0', 1],
    ['1.0^git1', '1.0.1', -1],
    ['1.0~rc1^git1', '1.0~rc1', 1],
    ['1.010', '1.9', 1],
    ['1.0a', '1.0', 1],
    ['1.0a', '1.0.1', -1],
    ['1_0', '1.0', 0],
    ['2.34-83.el9_3.7', '2.34-83.el9_3.12', -1],
    ['1:1.0-1', '2.0-1', 1],
    ['3.0.7-24.el9', '3.0.7', 1],
    ['99999999999999999999999', '99999999999999999999998', 1],
  ])('orders %s against %s as %i', (a, b, expected) => {
    expect(Math.sign(compareRpm(a, b))).toBe(expected);
    expect(Math.sign(compareRpm(b, a))).toBe(-expected || 0);
  });

  it('numbers are newer than letters within one part', () => {
    expect(rpmvercmp('1.1', '1.a')).toBe(1);
    expect(rpmvercmp('1.a', '1.1')).toBe(-1);
  });

  it('splits epoch, version and the release after the last hyphen', () => {
    expect(parseRpmEvr('1:2.3-4.el9')).toEqual({ epoch: '1', version: '2.3', release: '4.el9' });
    expect(parseRpmEvr('2.3')).toEqual({ epoch: undefined, version: '2.3', release: undefined });
  });

  it('agrees with rpm.vercmp on 3,000 generated pairs', { timeout: 120_000 }, () => {
    const pairs = pairsOf(3000, 0x4a11);
    const expected = rpmOracle(pairs);
    expect(expected).toHaveLength(pairs.length);
    const disagreements = pairs
      .map(([a, b], i) => ({ a, b, rpm: expected[i], ours: Math.sign(compareRpm(a, b)) }))
      .filter((r) => r.rpm !== r.ours);
    expect(disagreements.slice(0, 10)).toEqual([]);
    expect(new Set(expected)).toEqual(new Set([-1, 0, 1]));
  });
});
