// Seeded randomness for the POS simulator: a tiny PRNG (mulberry32) so that a seed
// replays the same traffic on any machine, plus the skewed draws retail traffic needs.

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

/** mulberry32: 32-bit state, good enough statistically for load generation, and fast. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error("pick from an empty list");
      return items[Math.floor(next() * items.length)] as T;
    },
  };
}

/**
 * A Zipf-like draw over ranks 1..n in O(1): inverse CDF of the continuous power law
 * x^-s on [1, n+1]. Exact Zipf tables would cost O(n) memory, too much at 10 M customers.
 * s in (0, 1) keeps the head realistic (s = 0.8: the top customer gets ~1.7 % of
 * 100 k customers' visits, not the ~8 % of s = 1).
 */
export function zipfSampler(n: number, s: number): (rng: Rng) => number {
  if (!(n >= 1) || !(s > 0) || s === 1) throw new Error(`zipfSampler: need n >= 1 and s > 0, s != 1 (n=${n}, s=${s})`);
  const oneMinusS = 1 - s;
  const span = Math.pow(n + 1, oneMinusS) - 1;
  return (rng) => {
    const x = Math.pow(1 + rng.next() * span, 1 / oneMinusS);
    return Math.min(n, Math.max(1, Math.floor(x)));
  };
}
