import { describe, expect, it } from 'vitest';
import { seededRandom, type Random } from '../vulndb/testing/random.ts';
import { jsonClone } from './json-clone.ts';

/** An integer from lo to hi, both included. */
const between = (rng: Random, lo: number, hi: number): number => lo + rng.int(hi - lo + 1);

const roundTrip = (v: unknown): unknown => JSON.parse(JSON.stringify(v) ?? 'null') as unknown;

function randomValue(rng: Random, depth: number): unknown {
  const pick = rng.int(depth > 3 ? 9 : 12);
  switch (pick) {
    case 0:
      return undefined;
    case 1:
      return null;
    case 2:
      return between(rng, -1000, 1000) / 7;
    case 3:
      return [NaN, Infinity, -Infinity, -0][between(rng, 0, 3)];
    case 4:
      return between(rng, 0, 1) === 1;
    case 5:
      return 'text \u2028 "quoted" \\ ' + 'x'.repeat(between(rng, 0, 30));
    case 6:
      return new Date(Date.UTC(2026, between(rng, 0, 11), between(rng, 1, 28)));
    case 7:
      return () => 1;
    case 8:
      return Symbol('s');
    case 9:
      return Array.from({ length: between(rng, 0, 4) }, () => randomValue(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = between(rng, 0, 5); i > 0; i--)
        o[`k${between(rng, 0, 9)}`] = randomValue(rng, depth + 1);
      return o;
    }
  }
}

describe('jsonClone', () => {
  it('gives what a JSON round trip gives, on 2,000 random values', () => {
    const rng = seededRandom(7);
    for (let i = 0; i < 2000; i++) {
      const v = { root: randomValue(rng, 0) };
      expect(jsonClone(v)).toEqual(roundTrip(v));
      // Not the same objects: changing the clone leaves the original alone.
      const c = jsonClone(v) as Record<string, unknown>;
      c.root = 'changed';
      expect(v.root).not.toBe('changed');
    }
  });

  it('calls toJSON with the key, drops undefined members, and throws where JSON.stringify does', () => {
    const withKey = { a: { toJSON: (k: string) => `key ${k}` }, b: undefined, c: [undefined] };
    expect(jsonClone(withKey)).toEqual({ a: 'key a', c: [null] });
    expect(() => jsonClone({ n: 1n })).toThrow(TypeError);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => jsonClone(cycle)).toThrow(/circular/);
    // A shared (not circular) object is cloned at each place.
    const shared = { x: 1 };
    expect(jsonClone({ a: shared, b: [shared] })).toEqual({ a: { x: 1 }, b: [{ x: 1 }] });
  });
});
