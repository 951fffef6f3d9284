import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mutate, generatePairs, type Random } from '../testing/random.ts';
import { compareDpkg, dpkgKey, isValidDpkgVersion, parseDpkgVersion } from './dpkg.ts';

const alphabet = [
  '0',
  '1',
  '2',
  '9',
  '10',
  '01',
  '00',
  'a',
  'b',
  'z',
  'A',
  'Z',
  '.',
  '+',
  '~',
  '~~',
  'rc',
  'deb',
  'ubuntu',
];
const revisionAlphabet = ['0', '1', '2', '10', 'a', 'b', '.', '+', '~', 'deb12u', 'build'];

function randomTokens(rng: Random, alpha: readonly string[], max: number): string[] {
  const n = 1 + rng.int(max);
  return Array.from({ length: n }, () => rng.pick(alpha));
}

interface Shape {
  epoch: string | undefined;
  upstream: string[];
  revision: string[] | undefined;
}

function render(s: Shape): string {
  const epoch = s.epoch === undefined ? '' : `${s.epoch}:`;
  const revision = s.revision === undefined ? '' : `-${s.revision.join('')}`;
  return `${epoch}${rng0(s.upstream)}${revision}`;
}

function rng0(upstream: string[]): string {
  return upstream.join('');
}

function randomShape(rng: Random): Shape {
  return {
    epoch: rng.chance(0.2) ? rng.pick(['0', '1', '2', '10', '01']) : undefined,
    upstream: [rng.pick(['0', '1', '2', '10', '3'])].concat(randomTokens(rng, alphabet, 6)),
    revision: rng.chance(0.6) ? randomTokens(rng, revisionAlphabet, 4) : undefined,
  };
}

function neighbour(rng: Random, s: Shape): Shape {
  const part = rng.int(3);
  if (part === 0) return { ...s, epoch: rng.chance(0.5) ? undefined : rng.pick(['0', '1', '2']) };
  if (part === 1) {
    const up = mutate(rng, s.upstream.slice(1), alphabet);
    return { ...s, upstream: [s.upstream[0]!, ...up] };
  }
  const rev = s.revision ?? [];
  const next = mutate(rng, rev, revisionAlphabet);
  return { ...s, revision: next.length === 0 ? undefined : next };
}

const pairsOf = (count: number, seed: number): [string, string][] =>
  generatePairs(count, seed, {
    random: randomShape,
    near: neighbour,
    nearChance: 0.8,
    render,
    valid: isValidDpkgVersion,
  });

/** Asks `dpkg --compare-versions` about every pair from one shell process. */
function dpkgOracle(pairs: [string, string][]): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'dpkg-oracle-'));
  try {
    const script = pairs
      .map(
        ([a, b]) =>
          `if dpkg --compare-versions '${a}' lt '${b}' 2>/dev/null; then echo -1; ` +
          `elif dpkg --compare-versions '${a}' eq '${b}' 2>/dev/null; then echo 0; else echo 1; fi`,
      )
      .join('\n');
    const file = join(dir, 'compare.sh');
    writeFileSync(file, script);
    const out = execFileSync('sh', [file], { encoding: 'utf8', maxBuffer: 16 << 20 });
    return out.trim().split('\n').map(Number);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('dpkg version order', () => {
  it.each([
    ['1.0', '1.0-1', -1],
    ['1.0~rc1', '1.0', -1],
    ['1.0~~', '1.0~', -1],
    ['1.0', '1.00', 0],
    ['1:0.1', '2.0', 1],
    ['0:1.2', '1.2', 0],
    ['1.2+dfsg-1', '1.2-1', 1],
    ['1.2a', '1.2+', -1],
    ['2.36-9+deb12u4', '2.36-9+deb12u10', -1],
    ['3.0.11-1~deb12u2', '3.0.11-1', -1],
    ['99999999999999999999999', '99999999999999999999998', 1],
  ])('orders %s against %s as %i', (a, b, expected) => {
    expect(Math.sign(compareDpkg(a, b))).toBe(expected);
    expect(Math.sign(compareDpkg(b, a))).toBe(-expected || 0);
  });

  it('splits epoch, upstream and the revision after the last hyphen', () => {
    expect(parseDpkgVersion('2:1.2-3-4')).toEqual({ epoch: '2', upstream: '1.2-3', revision: '4' });
    expect(parseDpkgVersion('1.2')).toEqual({ epoch: '0', upstream: '1.2', revision: '' });
  });

  it('rejects versions that dpkg rejects', () => {
    expect(isValidDpkgVersion('a1.0')).toBe(false);
    expect(isValidDpkgVersion('1.0-')).toBe(false);
    expect(isValidDpkgVersion('x:1.0')).toBe(false);
    expect(isValidDpkgVersion('1:2.0-1+b1')).toBe(true);
  });

  it('agrees with dpkg --compare-versions on 2,500 generated pairs', { timeout: 120_000 }, () => {
    const pairs = pairsOf(2500, 0xd9c0);
    const expected = dpkgOracle(pairs);
    expect(expected).toHaveLength(pairs.length);
    const disagreements = pairs
      .map(([a, b], i) => ({ a, b, dpkg: expected[i], ours: Math.sign(compareDpkg(a, b)) }))
      .filter((r) => r.dpkg !== r.ours);
    expect(disagreements.slice(0, 10)).toEqual([]);
    // The generator must produce all three outcomes, or the comparison proves little.
    expect(new Set(expected)).toEqual(new Set([-1, 0, 1]));
  });

  it('orders its keys as dpkg --compare-versions orders the versions', { timeout: 120_000 }, () => {
    const pairs = [
      ...pairsOf(2500, 0x6b65),
      ['1.0', '1.0-0'],
      ['1.0~', '1.0'],
      ['0', '0~'],
      ['1.0', '1.'],
      ['1a', '1a0'],
      ['1:0', '0:99999999999999999999'],
      ['1.2+dfsg-1', '1.2.0-1'],
    ] as [string, string][];
    const expected = dpkgOracle(pairs);
    expect(expected).toHaveLength(pairs.length);
    const sign = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
    const disagreements = pairs
      .map(([a, b], i) => ({ a, b, dpkg: expected[i], key: sign(dpkgKey(a)!, dpkgKey(b)!) }))
      .filter((r) => r.dpkg !== r.key);
    expect(disagreements.slice(0, 10)).toEqual([]);
    expect(new Set(expected)).toEqual(new Set([-1, 0, 1]));
  });

  it('has no key for a version dpkg rejects or a number of more than 60 digits', () => {
    expect(dpkgKey('a1.0')).toBeUndefined();
    expect(dpkgKey(`1.${'9'.repeat(61)}`)).toBeUndefined();
    expect(dpkgKey(`1.${'9'.repeat(60)}`)).toBeDefined();
  });
});
