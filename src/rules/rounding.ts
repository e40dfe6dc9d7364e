// Turning fractional points into integers: one function per rounding mode, and the
// largest-remainder split that keeps line and breakdown attributions summing exactly.

/** Relative tolerance under which a binary floating-point result counts as the integer it is meant to be. */
const integerTolerance = 1e-9;

/** 7.000000000000001 (700 * 0.01) -> 7; anything farther from an integer is returned unchanged. */
export function snapToInteger(value: number): number {
  const nearest = Math.round(value);
  return Math.abs(value - nearest) <= integerTolerance * Math.max(1, Math.abs(value)) ? nearest : value;
}

/** Drops the fractional remainder (it is not carried over to the next event). */
export function roundFloor(value: number): number {
  return Math.floor(snapToInteger(value));
}

/** Half up: 2.5 -> 3, 2.4999 -> 2. */
export function roundHalfUp(value: number): number {
  return Math.floor(snapToInteger(value + 0.5));
}

export function roundCeil(value: number): number {
  return Math.ceil(snapToInteger(value));
}

export const roundingModes = { floor: 0, round: 1, ceil: 2 } as const;
export type RoundingCode = (typeof roundingModes)[keyof typeof roundingModes];

export function roundWith(mode: RoundingCode, value: number): number {
  if (mode === 0) return roundFloor(value);
  if (mode === 1) return roundHalfUp(value);
  return roundCeil(value);
}

let taken = new Uint8Array(64);
let fractions = new Float64Array(64);

/**
 * Splits the integer `target` into integers out[0..n) that follow quotas[0..n) (which sum to
 * about `target`): each gets floor(quota), then the difference goes one unit at a time to the
 * largest fractional parts (ties: lower index first); a negative difference is taken from the
 * smallest fractional parts (ties: higher index first). Deterministic and exact: sum(out) === target.
 */
export function largestRemainder(target: number, quotas: Float64Array, n: number, out: Float64Array): void {
  if (fractions.length < n) {
    fractions = new Float64Array(n * 2);
    taken = new Uint8Array(n * 2);
  }
  let assigned = 0;
  for (let i = 0; i < n; i++) {
    const q = snapToInteger(quotas[i]!);
    const f = Math.floor(q);
    out[i] = f;
    fractions[i] = q - f;
    assigned += f;
  }
  let left = target - assigned;
  const step = left > 0 ? 1 : -1;
  while (left !== 0 && n > 0) {
    // One round hands at most one unit to each item; a further round starts afresh.
    taken.fill(0, 0, n);
    const rounds = Math.min(Math.abs(left), n);
    for (let k = 0; k < rounds; k++) {
      const pick = step > 0 ? largestFraction(n) : smallestFraction(n);
      taken[pick] = 1;
      out[pick] = out[pick]! + step;
      left -= step;
    }
  }
}

function largestFraction(n: number): number {
  let best = -1;
  let bestFraction = -1;
  for (let i = 0; i < n; i++) {
    if (taken[i] === 0 && fractions[i]! > bestFraction) {
      best = i;
      bestFraction = fractions[i]!;
    }
  }
  return best;
}

function smallestFraction(n: number): number {
  let best = -1;
  let bestFraction = 2;
  for (let i = n - 1; i >= 0; i--) {
    if (taken[i] === 0 && fractions[i]! < bestFraction) {
      best = i;
      bestFraction = fractions[i]!;
    }
  }
  return best;
}
