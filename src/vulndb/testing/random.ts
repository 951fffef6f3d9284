/** Deterministic pseudo-random numbers for property tests (mulberry32), so failures repeat. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
    chance: (p: number) => next() < p,
  };
}

/**
 * Builds a second string close to the first (one token replaced, inserted or removed), so that
 * generated pairs share prefixes and exercise the interesting parts of an order.
 */
export function mutate(
  rng: Random,
  tokens: readonly string[],
  alphabet: readonly string[],
): string[] {
  const out = [...tokens];
  const at = rng.int(out.length + 1);
  const op = rng.int(3);
  if (op === 0 && at < out.length) out[at] = rng.pick(alphabet);
  else if (op === 1 || out.length === 0) out.splice(at, 0, rng.pick(alphabet));
  else if (at < out.length) out.splice(at, 1);
  return out;
}

export interface PairGenerator<T> {
  /** A fresh random version. */
  random(rng: Random): T;
  /** A version close to `a`, chosen with probability `nearChance` over a fresh one. */
  near(rng: Random, a: T): T;
  nearChance: number;
  render(v: T): string;
  /** Pairs with an invalid side are skipped (the oracle would refuse them). */
  valid(version: string): boolean;
}

/** `count` pairs of version strings for comparing an order with its reference tool. */
export function generatePairs<T>(
  count: number,
  seed: number,
  g: PairGenerator<T>,
): [string, string][] {
  const rng = seededRandom(seed);
  const pairs: [string, string][] = [];
  while (pairs.length < count) {
    const a = g.random(rng);
    const b = rng.chance(g.nearChance) ? g.near(rng, a) : g.random(rng);
    const x = g.render(a);
    const y = g.render(b);
    if (g.valid(x) && g.valid(y)) pairs.push([x, y]);
  }
  return pairs;
}
