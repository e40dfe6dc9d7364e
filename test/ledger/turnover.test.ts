// A wallet's daily turnover as binary rows (ledger/turnover.ts), against the pairs it
// replaced (format 6's code, kept here as the model): any run of sales and returns leaves
// the same buckets, window sums and order, in the narrow layout while they fit it and the
// wide one after; amounts keep every safe integer.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NO_TURNOVER, eachTurnoverDay, turnoverBetween, turnoverDays, turnoverOf, withTurnover, type TurnoverDay } from "../../src/ledger/turnover.js";

/** Format 6's addTurnover, on pairs: buckets older than `keep` days before the event's day leave, the day's bucket takes the amount. */
function modelAdd(days: TurnoverDay[], day: number, amount: number, keep: number): TurnoverDay[] {
  const kept = days.filter(([d]) => d > day - keep).map(([d, a]): TurnoverDay => [d, a]);
  const bucket = kept.find(([d]) => d === day);
  if (bucket) bucket[1] += amount;
  else kept.push([day, amount]);
  return kept;
}

const sorted = (days: TurnoverDay[]): TurnoverDay[] => [...days].sort((a, b) => a[0] - b[0]);
// Mostly a retailer's, some past int32 (the wide layout), small enough that 120 add up to a safe integer.
const amount = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: -100_000, max: 1_000_000 }) }, { weight: 1, arbitrary: fc.integer({ min: -(2 ** 44), max: 2 ** 44 }) });
// Mostly within a year or three, some anywhere since the epoch (days more than 65,535 apart: the wide layout).
const day = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 20_000, max: 21_200 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 120_000 }) });
const step = fc.record({ day, amount: amount.filter((a) => a !== 0) });

describe("daily turnover as binary rows", () => {
  it("keeps the buckets the pairs kept, day ascending, through any run of sales and returns", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120 }), fc.integer({ min: 1, max: 400 }), (steps, keep) => {
        let model: TurnoverDay[] = [];
        let rows = NO_TURNOVER;
        for (const s of steps) {
          model = modelAdd(model, s.day, s.amount, keep);
          rows = withTurnover(rows, s.day, s.amount, s.day - keep);
          expect(turnoverDays(rows)).toEqual(sorted(model));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("sums any window as the pairs did, and walks the buckets in day order", () => {
    const days = fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 30_000 }), amount), { selector: ([d]) => d, maxLength: 80 });
    fc.assert(
      fc.property(days, fc.integer({ min: -1, max: 30_001 }), fc.integer({ min: 1, max: 500 }), (pairs, last, window) => {
        const rows = turnoverOf(pairs);
        const want = pairs.filter(([d]) => d > last - window && d <= last).reduce((sum, [, a]) => sum + a, 0);
        expect(turnoverBetween(rows, last - window, last)).toBe(want);
        const walked: TurnoverDay[] = [];
        eachTurnoverDay(rows, (d, a) => walked.push([d, a]));
        expect(walked).toEqual(sorted(pairs));
      }),
      { numRuns: 300 },
    );
  });

  it("adds up the pairs of one day (a merge brings two customers' buckets)", () => {
    expect(turnoverDays(turnoverOf([[20_001, 500], [20_000, 100], [20_001, -200], [20_003, 0]]))).toEqual([[20_000, 100], [20_001, 300], [20_003, 0]]);
    expect(turnoverOf([])).toBe(NO_TURNOVER);
  });

  it("leaves the value it was given as it was", () => {
    const rows = turnoverOf([[20_000, 100], [20_002, 300]]);
    const copy = Uint8Array.from(rows);
    withTurnover(rows, 20_002, 50, 19_000);
    withTurnover(rows, 20_001, 50, 20_000);
    expect(rows).toEqual(copy);
  });

  it("takes 6 bytes a day in the narrow layout (format 6's msgpack pairs took 5 to 9), 12 in the wide one", () => {
    const year = Array.from({ length: 400 }, (_, i): TurnoverDay => [20_000 + i, 1_000 + ((i * 7_919) % 90_000)]);
    const narrow = turnoverOf(year);
    expect(narrow.length).toBe(5 + 6 * 400);
    expect(turnoverDays(narrow)).toEqual(year);
    // A distributor's day past int32 minor units: the whole value goes wide, and stays exact.
    const wide = withTurnover(narrow, 20_399, 2 ** 40, 20_000);
    expect(wide.length).toBe(1 + 12 * 399);
    expect(turnoverDays(wide)).toEqual([...year.slice(1, 399), [20_399, year[399]![1] + 2 ** 40]]);
  });

  it("appends, adds to a day and drops the oldest days of a narrow value by copying its rows, base day kept", () => {
    let rows = turnoverOf([[20_000, 100], [20_001, 200]]);
    rows = withTurnover(rows, 20_002, 50, 20_000);
    rows = withTurnover(rows, 20_002, 25, 20_000);
    expect(turnoverDays(rows)).toEqual([[20_001, 200], [20_002, 75]]);
    expect([rows[0], new DataView(rows.buffer, rows.byteOffset).getInt32(1, true)]).toEqual([1, 20_000]);
    // A late event before the base day: rewritten with a new base.
    rows = withTurnover(rows, 19_990, 10, 19_000);
    expect(turnoverDays(rows)).toEqual([[19_990, 10], [20_001, 200], [20_002, 75]]);
    expect(new DataView(rows.buffer, rows.byteOffset).getInt32(1, true)).toBe(19_990);
  });

  it("refuses what is not a whole amount, or a bucket out of day order, rather than store it wrong", () => {
    expect(() => turnoverOf([[20_000, 1.5]])).toThrow(/not a whole amount/);
    expect(turnoverDays(turnoverOf([[20_000, Number.MAX_SAFE_INTEGER], [20_001, -Number.MAX_SAFE_INTEGER]]))).toEqual([[20_000, Number.MAX_SAFE_INTEGER], [20_001, -Number.MAX_SAFE_INTEGER]]);
    expect(() => turnoverOf([[20_000, 2 ** 53]])).toThrow(/not a whole amount/);
    expect(() => withTurnover(turnoverOf([[20_000, Number.MAX_SAFE_INTEGER]]), 20_000, 1, 0)).toThrow(/not a whole amount/);
    expect(() => withTurnover(NO_TURNOVER, 20_000, Number.NaN, 0)).toThrow(/not a whole amount/);
    expect(() => turnoverOf([[-1, 5]])).toThrow(/out of order/);
  });

  it("says a value cut short is cut short, and refuses a layout it does not know", () => {
    for (const rows of [turnoverOf([[20_000, 1_000_000]]), turnoverOf([[20_000, 2 ** 40]])]) {
      expect(() => turnoverDays(rows.subarray(0, rows.length - 1))).toThrow(/cut short/);
    }
    expect(() => turnoverDays(Uint8Array.of(7, 0, 0))).toThrow(/unknown layout/);
  });
});
