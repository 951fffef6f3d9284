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
