// Turning fractional points into integers: one function per rounding mode, and the
// largest-remainder split that keeps line and breakdown attributions summing exactly.

/** Relative tolerance under which a binary floating-point result counts as the integer it is meant to be. */
const integerTolerance = 1e-9;

/** 7.000000000000001 (700 * 0.01) -> 7; anything farther from an integer is returned unchanged. */
export function snapToInteger(value: number): number {
  const nearest = Math.round(value);
  const gap = value - nearest;
  const magnitude = value > 1 ? value : value < -1 ? -value : 1;
  return gap <= integerTolerance * magnitude && gap >= -integerTolerance * magnitude ? nearest : value;
}

/** Drops the fractional remainder (it is not carried over to the next event). */
export function roundFloor(value: number): number {
  return Math.floor(snapToInteger(value)) + 0; // + 0 turns -0 into 0
}

/** Half up: 2.5 -> 3, 2.4999 -> 2. */
export function roundHalfUp(value: number): number {
  return Math.floor(snapToInteger(value + 0.5)) + 0;
}

export function roundCeil(value: number): number {
  return Math.ceil(snapToInteger(value)) + 0;
}

export const roundingModes = { floor: 0, round: 1, ceil: 2 } as const;
export type RoundingCode = (typeof roundingModes)[keyof typeof roundingModes];

export function roundWith(mode: RoundingCode, value: number): number {
  if (mode === 0) return roundFloor(value);
  if (mode === 1) return roundHalfUp(value);
  return roundCeil(value);
}

// Scratch reused across calls (one module instance per worker thread; the split is
// synchronous), grown when a basket is larger: the hot path allocates nothing.
let fractions = new Float64Array(64);
let work = new Float64Array(64);

/**
 * Splits the integer `target` into integers out[0..n) that follow quotas[0..n) (which sum to
 * about `target`): each gets floor(quota), then the difference goes one unit each to the
 * largest fractional parts (ties: lower index first); a negative difference is taken from the
 * smallest fractional parts (ties: higher index first). Deterministic and exact: sum(out) === target.
 * Runs in O(n) on average: the cut-off fraction is found by quickselect, not by sorting.
 */
export function largestRemainder(target: number, quotas: Float64Array, n: number, out: Float64Array): void {
  if (fractions.length < n) {
    fractions = new Float64Array(n * 2);
    work = new Float64Array(n * 2);
  }
  let assigned = 0;
  for (let i = 0; i < n; i++) {
    const q = snapToInteger(quotas[i]!);
    const f = Math.floor(q) + 0;
    out[i] = f;
    fractions[i] = q - f;
    assigned += f;
  }
  let left = target - assigned;
  if (left === 0 || n === 0) return;
  // More units than items (only with pathological quotas): whole rounds first.
  const rounds = Math.trunc(left / n);
  if (rounds !== 0) {
    for (let i = 0; i < n; i++) out[i] = out[i]! + rounds;
    left -= rounds * n;
  }
  if (left > 0) giveToLargest(left, n, out);
  else if (left < 0) takeFromSmallest(-left, n, out);
}

/** +1 to the `k` items with the largest fractions (0 < k < n); equal fractions: lower index first. */
function giveToLargest(k: number, n: number, out: Float64Array): void {
  // The k-th largest fraction is the (n-k)-th smallest.
  const cut = kthSmallest(n, n - k);
  let given = 0;
  for (let i = 0; i < n; i++) {
    if (fractions[i]! > cut) {
      out[i] = out[i]! + 1;
      given += 1;
    }
  }
  for (let i = 0; i < n && given < k; i++) {
    if (fractions[i] === cut) {
      out[i] = out[i]! + 1;
      given += 1;
    }
  }
}

/** -1 from the `k` items with the smallest fractions (0 < k < n); equal fractions: higher index first. */
function takeFromSmallest(k: number, n: number, out: Float64Array): void {
  const cut = kthSmallest(n, k - 1);
  let taken = 0;
  for (let i = 0; i < n; i++) {
    if (fractions[i]! < cut) {
      out[i] = out[i]! - 1;
      taken += 1;
    }
  }
  for (let i = n - 1; i >= 0 && taken < k; i--) {
    if (fractions[i] === cut) {
      out[i] = out[i]! - 1;
      taken += 1;
    }
  }
}

/** The value of rank `rank` (0-based, ascending) among fractions[0..n): iterative quickselect on a copy. */
function kthSmallest(n: number, rank: number): number {
  for (let i = 0; i < n; i++) work[i] = fractions[i]!;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = work[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (work[i]! < pivot) i++;
      while (work[j]! > pivot) j--;
      if (i <= j) {
        const t = work[i]!;
        work[i] = work[j]!;
        work[j] = t;
        i++;
        j--;
      }
    }
    if (rank <= j) hi = j;
    else if (rank >= i) lo = i;
    else return work[rank]!;
  }
  return work[rank]!;
}
