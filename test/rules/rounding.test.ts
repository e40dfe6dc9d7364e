// Rounding modes and the largest-remainder split, checked against a plain sort-based reference.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { largestRemainder, roundCeil, roundFloor, roundHalfUp, snapToInteger } from "../../src/rules/rounding.js";

/** The textbook method: floors, then +1 by descending fraction (ties: lower index), or -1 by ascending fraction (ties: higher index). */
function reference(target: number, quotas: number[]): number[] {
  const out = quotas.map((q) => Math.floor(snapToInteger(q)) + 0);
  const frac = quotas.map((q, i) => snapToInteger(q) - out[i]!);
  let left = target - out.reduce((s, v) => s + v, 0);
  const n = quotas.length;
  while (left >= n) {
    for (let i = 0; i < n; i++) out[i]! += 1;
    left -= n;
  }
  while (left <= -n) {
    for (let i = 0; i < n; i++) out[i]! -= 1;
    left += n;
  }
  const order = quotas.map((_, i) => i);
  if (left > 0) {
    order.sort((a, b) => frac[b]! - frac[a]! || a - b);
    for (let k = 0; k < left; k++) out[order[k]!]! += 1;
  } else if (left < 0) {
    order.sort((a, b) => frac[a]! - frac[b]! || b - a);
    for (let k = 0; k < -left; k++) out[order[k]!]! -= 1;
  }
  return out;
}

function split(target: number, quotas: number[]): number[] {
  const out = new Float64Array(quotas.length);
  largestRemainder(target, Float64Array.from(quotas), quotas.length, out);
  return [...out];
}

describe("rounding", () => {
  it.each([
    [2.5, 2, 3, 3],
    [2.4999, 2, 2, 3],
    [-0, 0, 0, 0],
    [7.000000000000001, 7, 7, 7],
    [6.999999999999999, 7, 7, 7],
    [0.1 + 0.2, 0, 0, 1],
  ])("%f: floor %i, half up %i, ceil %i", (v, floor, round, ceil) => {
    expect([roundFloor(v), roundHalfUp(v), roundCeil(v)]).toEqual([floor, round, ceil]);
  });

  it("splits 4 over three equal quotas as 2, 1, 1 (ties to the lower index)", () => {
    expect(split(4, [4 / 3, 4 / 3, 4 / 3])).toEqual([2, 1, 1]);
  });

  it("takes from the smallest fraction when the target is below the floors", () => {
    expect(split(1, [1.5, 0.2, -0.4])).toEqual([1, 0, 0]);
  });

  it("matches the sort-based reference and always sums to the target", () => {
    const quota = fc.oneof(fc.double({ min: -50, max: 500, noNaN: true }), fc.integer({ min: 0, max: 40 }).map((k) => k / 4));
    fc.assert(
      fc.property(fc.array(quota, { minLength: 1, maxLength: 60 }), fc.integer({ min: -3, max: 3 }), (quotas, delta) => {
        const target = Math.round(quotas.reduce((s, q) => s + q, 0)) + delta;
        const got = split(target, quotas);
        expect(got.reduce((s, v) => s + v, 0)).toBe(target);
        expect(got).toEqual(reference(target, quotas));
      }),
      { numRuns: 3000 },
    );
  });
});
