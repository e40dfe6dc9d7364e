// The sales-report checks are pure: one row per check and edge, plus properties (fast-check)
// that tie each finding to the fact that causes it.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkReport, expectedAmount, percentile99, type CheckedLine, type ReportFacts } from "../../src/rules/report-checks.js";

const SETTINGS = { windowDaysBack: 30, windowDaysAhead: 1, plausibilityFactor: 3, plausibilityHistoryMin: 5, priceTolerancePct: 5 };

function facts(over: Partial<ReportFacts> = {}): ReportFacts {
  return {
    today: "2026-03-15",
    products: new Map([
      ["P-1", { active: true, listPrice: 1000 }],
      ["P-2", { active: true, listPrice: null }],
      ["OLD", { active: false, listPrice: 1000 }],
    ]),
    invoicesTaken: new Map(),
    history: { qty: [], amount: [] },
    settings: SETTINGS,
    ...over,
  };
}

const line = (over: Partial<CheckedLine> = {}): CheckedLine => ({ invoice: "F-1", date: "2026-03-10", sku: "P-1", qty: 2, amount: 2000, ...over });
const codes = (lines: CheckedLine[], f = facts()) => checkReport(lines, f).map((x) => `${x.line}:${x.code}`);

describe("percentile99", () => {
  it("is null below the minimum history, else the nearest-rank 99th percentile", () => {
    expect(percentile99([], 1)).toBe(null);
    expect(percentile99([5, 6], 3)).toBe(null);
    expect(percentile99([7], 1)).toBe(7);
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile99(hundred, 1)).toBe(99);
    const twoHundred = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(percentile99(twoHundred, 1)).toBe(198);
  });

  it("is at least as large as 99 % of the values and one of them", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1e6 }), { minLength: 1, maxLength: 300 }), (xs) => {
        const p = percentile99(xs, 1)!;
        expect(xs).toContain(p);
        expect(xs.filter((x) => x <= p).length).toBeGreaterThanOrEqual(Math.ceil(0.99 * xs.length));
      }),
    );
  });
});

describe("checkReport", () => {
  it("finds nothing wrong with a plausible line of an active product at its price", () => {
    expect(codes([line()])).toEqual([]);
  });

  it.each([
    ["an invoice another report claimed", line(), facts({ invoicesTaken: new Map([["F-1", "R-0"]]) }), ["0:DUPLICATE_INVOICE"]],
    ["an unknown product", line({ sku: "NOPE" }), facts(), ["0:UNKNOWN_PRODUCT"]],
    ["an inactive product", line({ sku: "OLD" }), facts(), ["0:INACTIVE_PRODUCT"]],
    ["an invoice dated before the window", line({ date: "2026-02-12" }), facts(), ["0:DATE_OUT_OF_WINDOW"]],
    ["an invoice dated after the window", line({ date: "2026-03-17" }), facts(), ["0:DATE_OUT_OF_WINDOW"]],
    ["an amount 6 % above the list price", line({ amount: 2120 }), facts(), ["0:PRICE_MISMATCH"]],
    ["an amount 6 % below the list price", line({ amount: 1880 }), facts(), ["0:PRICE_MISMATCH"]],
  ])("flags %s", (_what, l, f, expected) => {
    expect(codes([l], f)).toEqual(expected);
  });

  it("takes the window's ends and the tolerance's edge as inside", () => {
    expect(codes([line({ date: "2026-02-13" }), line({ date: "2026-03-16" }), line({ amount: 2100 }), line({ amount: 1900 })])).toEqual([]);
  });

  it("does not check the price of a product without a list price", () => {
    expect(codes([line({ sku: "P-2", amount: 1 })])).toEqual([]);
  });

  it("applies the plausibility checks only once the participant has the minimum history", () => {
    const big = line({ qty: 100, amount: 100_000 });
    expect(codes([big], facts({ history: { qty: [1, 2, 2, 3], amount: [1000, 2000, 2000, 3000] } }))).toEqual([]);
    expect(codes([big], facts({ history: { qty: [1, 2, 2, 3, 3], amount: [1000, 2000, 2000, 3000, 3000] } }))).toEqual(["0:QTY_IMPLAUSIBLE", "0:AMOUNT_IMPLAUSIBLE"]);
  });

  it("allows up to the 99th percentile times the factor, and flags qty and amount apart", () => {
    const history = { qty: [1, 2, 2, 3, 3], amount: [1000, 2000, 2000, 3000, 3000] };
    const f = facts({ history });
    expect(codes([line({ sku: "P-2", qty: 9, amount: 9000 })], f)).toEqual([]);
    expect(codes([line({ sku: "P-2", qty: 9.001, amount: 9000 })], f)).toEqual(["0:QTY_IMPLAUSIBLE"]);
    expect(codes([line({ sku: "P-2", qty: 1, amount: 9001 })], f)).toEqual(["0:AMOUNT_IMPLAUSIBLE"]);
  });

  it("reports every finding of every line, in line order, with a message naming the fact", () => {
    const f = facts({ invoicesTaken: new Map([["F-9", "R-7"]]) });
    const found = checkReport([line(), line({ invoice: "F-9", sku: "OLD", date: "2025-01-01" })], f);
    expect(found.map((x) => `${x.line}:${x.code}`)).toEqual(["1:DUPLICATE_INVOICE", "1:INACTIVE_PRODUCT", "1:DATE_OUT_OF_WINDOW"]);
    expect(found[0]!.message).toContain("R-7");
  });

  it("flags a line exactly when one of its facts is wrong (property)", () => {
    const arb = fc.record({
      taken: fc.boolean(),
      sku: fc.constantFrom("P-1", "P-2", "OLD", "NOPE"),
      dayOffset: fc.integer({ min: -40, max: 5 }),
      qty: fc.integer({ min: 1, max: 20 }),
      cents: fc.integer({ min: -300, max: 300 }),
    });
    fc.assert(
      fc.property(arb, ({ taken, sku, dayOffset, qty, cents }) => {
        const date = new Date(Date.parse("2026-03-15T00:00:00Z") + dayOffset * 86_400_000).toISOString().slice(0, 10);
        const amount = Math.max(0, expectedAmount(qty, 1000) + cents * qty);
        const f = facts({ invoicesTaken: taken ? new Map([["F-1", "R-0"]]) : new Map() });
        const found = new Set(codes([{ invoice: "F-1", date, sku, qty, amount }], f).map((c) => c.slice(2)));
        expect(found.has("DUPLICATE_INVOICE")).toBe(taken);
        expect(found.has("UNKNOWN_PRODUCT")).toBe(sku === "NOPE");
        expect(found.has("INACTIVE_PRODUCT")).toBe(sku === "OLD");
        expect(found.has("DATE_OUT_OF_WINDOW")).toBe(dayOffset < -30 || dayOffset > 1);
        const off = Math.abs(amount - qty * 1000) * 100 > qty * 1000 * 5;
        expect(found.has("PRICE_MISMATCH")).toBe(sku === "P-1" && off);
      }),
    );
  });
});
