// A sale's record packed for the events table (format 3) reads back as the ledger wrote
// it, up to entries of zero, which the ledger never reads differently from none.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { packSale, unpackSale } from "../../src/ledger/event-records.js";
import type { SaleRecord } from "../../src/ledger/store.js";

const lineIds = fc.uniqueArray(fc.oneof(fc.constantFrom("1", "2", "10", "A", "b-2", "constructor", "toString"), fc.string({ minLength: 1, maxLength: 4 })), { minLength: 1, maxLength: 8 });

const sale = lineIds.chain((ids) => {
  const perLine = (v: fc.Arbitrary<number>) => fc.array(fc.option(v, { nil: undefined }), { minLength: ids.length, maxLength: ids.length }).map((vs) => Object.fromEntries(ids.flatMap((id, i) => (vs[i] === undefined ? [] : [[id, vs[i]!]]))) as Record<string, number>);
  const positive = fc.integer({ min: 1, max: 10_000 });
  const programme = fc.record({ programme: fc.constantFrom("base", "vip"), version: fc.nat(9), account: fc.constantFrom("points", "drinks"), earned: fc.nat(), lineEarned: perLine(positive), basketEarned: fc.nat(50) });
  return fc.record({
    customerId: fc.constant("cu_1"),
    at: fc.nat(),
    storeId: fc.constant("s01"),
    currency: fc.constant("EUR"),
    counted: fc.boolean(),
    lines: fc.array(fc.record({ qty: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(0.5, 1.25)), amount: fc.nat(9999) }), { minLength: ids.length, maxLength: ids.length }),
    programmes: fc.array(programme, { minLength: 0, maxLength: 3 }),
    returnedQty: perLine(fc.constantFrom(1, 2, 0.5)),
    takenLines: fc.array(perLine(fc.integer({ min: 0, max: 50 })), { minLength: 3, maxLength: 3 }),
    basketTaken: fc.array(fc.option(fc.nat(20), { nil: undefined }), { minLength: 3, maxLength: 3 }),
    voided: fc.boolean(),
  }).map((r): SaleRecord => ({
    customerId: r.customerId,
    at: r.at,
    storeId: r.storeId,
    currency: r.currency,
    ...(r.counted ? { channel: "store", items: ids.flatMap((_, i) => [i + 1, i]) } : {}),
    lines: Object.fromEntries(ids.map((id, i) => [id, r.lines[i]!])),
    programmes: r.programmes,
    lots: r.programmes.map((_, i) => (i % 2 === 0 ? [r.at + 1000, i + 1] : null)),
    returnedQty: r.returnedQty,
    taken: r.programmes.map((_, i) => ({ ...r.takenLines[i]!, ...(r.basketTaken[i] !== undefined ? { "": r.basketTaken[i]! } : {}) })),
    voided: r.voided,
  }));
});

/** A map without its zero entries: how the ledger reads it (own(map, id) ?? 0). */
const nonZero = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([, v]) => v !== 0));

describe("packed sale records", () => {
  it("read back as written, line order and all, but for entries of zero", () => {
    fc.assert(
      fc.property(sale, (s) => {
        const back = unpackSale(structuredClone(packSale(s)));
        expect(Object.keys(back.lines)).toEqual(Object.keys(s.lines));
        expect(back.lines).toEqual(s.lines);
        expect(back.programmes.map((p) => ({ ...p, lineEarned: nonZero(p.lineEarned) }))).toEqual(s.programmes.map((p) => ({ ...p, lineEarned: nonZero(p.lineEarned) })));
        expect(back.returnedQty).toEqual(nonZero(s.returnedQty));
        expect(back.taken).toEqual(s.taken.map(nonZero));
        expect({ ...back, lines: 0, programmes: 0, returnedQty: 0, taken: 0 }).toEqual({ ...s, lines: 0, programmes: 0, returnedQty: 0, taken: 0 });
      }),
      { numRuns: 200 },
    );
  });

  it("leave a format-2 record (maps keyed by lineId) as it is", () => {
    const v2: SaleRecord = { customerId: "c", at: 1, storeId: "s", currency: "EUR", lines: { "1": { qty: 1, amount: 5 } }, programmes: [], lots: [], returnedQty: {}, taken: [], voided: false };
    expect(unpackSale(v2)).toBe(v2);
  });
});
