// Splitting customers between a segment job's threads (pure): the ranges cover every key
// once, in order, and split sequential and random ids near the middle.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { splitRange, type KeyRange } from "../../../src/admin/segments/split.js";
import { joinQueryParts, type Member, type QueryPart } from "../../../src/admin/segments/scan.js";

const inRange = (k: string, r: KeyRange) => (r.start === undefined || k >= r.start) && (r.end === undefined || k < r.end);
const id = (n: number) => `cu_${n.toString(36).padStart(6, "0")}`;

describe("splitRange", () => {
  it("is one open range without keys, for one key, or for one part", () => {
    expect(splitRange(null, null, 2)).toEqual([{}]);
    expect(splitRange("a", "a", 4)).toEqual([{}]);
    expect(splitRange("a", "z", 1)).toEqual([{}]);
  });

  it("puts every key in exactly one range, ranges in key order, each starting where the last ended", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ unit: "binary-ascii", minLength: 0, maxLength: 12 }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 5 }), (raw, parts) => {
        const keys = [...raw].sort();
        const ranges = splitRange(keys[0]!, keys.at(-1)!, parts);
        expect(ranges.length).toBeGreaterThanOrEqual(1);
        expect(ranges.length).toBeLessThanOrEqual(parts);
        expect(ranges[0]!.start).toBeUndefined();
        expect(ranges.at(-1)!.end).toBeUndefined();
        for (let i = 1; i < ranges.length; i++) {
          expect(ranges[i]!.start).toBe(ranges[i - 1]!.end);
          expect(ranges[i]!.start! > keys[0]! && ranges[i]!.start! <= keys.at(-1)!).toBe(true);
        }
        // Also keys written before the first or after the last while the job runs.
        for (const k of [...keys, "", "\u007f\u007f\u007f"]) expect(ranges.filter((r) => inRange(k, r)), k).toHaveLength(1);
      }),
      { numRuns: 500 },
    );
  });

  it("splits sequential customer ids evenly (base 36)", () => {
    for (const n of [1000, 46_656, 100_000, 1_000_000]) {
      const [a, b] = splitRange(id(1), id(n), 2);
      expect(a!.end).toBe(b!.start);
      // Ids are base 36: the split lies between the digits and the letters of the first differing place.
      let below = 0;
      for (let i = 1; i <= n; i += Math.max(1, Math.floor(n / 10_000))) if (id(i) < a!.end!) below++;
      const share = below / Math.ceil(n / Math.max(1, Math.floor(n / 10_000)));
      expect(share, `${n}: ${a!.end}`).toBeGreaterThan(0.49);
      expect(share, `${n}: ${a!.end}`).toBeLessThan(0.51);
    }
  });
});

describe("joinQueryParts", () => {
  const member = (n: number): Member => ({ customerId: id(n), name: null, email: null, phone: null, groups: [], balance: 0 });
  const part = (ids: number[], count: number, more: boolean): QueryPart => ({ count, customers: ids.map(member), more });

  it("adds the counts and takes the first `limit` members in range order; the cursor is the page's last when more follow", () => {
    expect(joinQueryParts([part([1, 2], 5, false), part([7, 8], 2, false)], 3)).toEqual({ count: 7, customers: [1, 2, 7].map(member), next: id(7) });
    expect(joinQueryParts([part([1, 2], 5, false), part([7], 1, false)], 3)).toEqual({ count: 6, customers: [1, 2, 7].map(member), next: null });
    expect(joinQueryParts([part([1, 2, 3], 9, true), part([7, 8, 9], 4, true)], 3)).toEqual({ count: 13, customers: [1, 2, 3].map(member), next: id(3) });
    expect(joinQueryParts([part([], 4, false), part([8], 1, true)], 3)).toEqual({ count: 5, customers: [member(8)], next: id(8) });
    expect(joinQueryParts([part([], 0, false), part([], 0, false)], 3)).toEqual({ count: 0, customers: [], next: null });
  });
});
