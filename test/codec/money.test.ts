// Bad money never reaches the engine: business bounds (LIMIT_EXCEEDED), the sale's
// cross-checks (lines, total, tenders) and the window around the clock for an event's `at`.
import { describe, expect, it } from "vitest";
import { checkEventTime, validate } from "../../src/codec/codec.js";
import type { Verb } from "../../src/codec/schema.js";
import { LoyaltyError } from "../../src/errors.js";
import { limits } from "../../src/limits.js";
import { createBasketGenerator } from "../../src/simulator/baskets.js";

const line = (lineId: string, qty: number, unitPrice: number, extra: Record<string, unknown> = {}) => ({ lineId, sku: `S-${lineId}`, qty, unitPrice, ...extra });

function sale(patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: "sale",
    eventId: "s-1",
    at: 1767225600000,
    storeId: "s01",
    customer: { card: "C-100" },
    currency: "EUR",
    lines: [line("1", 2, 1250)],
    ...patch,
  };
}

const customer = { customerId: "cu_000001" };
const authorize = (patch: Record<string, unknown>) => ({ requestId: "a-1", customer, ...patch });
const capture = (amount: number) => ({ requestId: "c-1", holdId: "h_000001", amount });
const convert = (amount: number) => ({ requestId: "cv-1", customer, amount });
const adjust = (amount: unknown) => ({ requestId: "adj-1", customer, amount, reason: "goodwill", operator: "ops-anna" });

/** The error's code and field, or "ok" when the payload is accepted. */
function outcome(verb: Verb, value: unknown): string {
  try {
    validate(verb, value);
    return "ok";
  } catch (err) {
    if (err instanceof LoyaltyError) return `${err.code} ${err.field ?? ""}`.trim();
    throw err;
  }
}

type Row = [what: string, verb: Verb, payload: Record<string, unknown>, expected: string];

describe("business bounds on money and points", () => {
  const { unitPriceMax, lineAmountMax, basketTotalMax, pointsRequestMax, conversionMax, adjustmentMax } = limits;

  it("are far below 2^53, so sums of many of them stay exact", () => {
    for (const max of [unitPriceMax, lineAmountMax, basketTotalMax, limits.balanceMax, adjustmentMax, conversionMax, pointsRequestMax]) {
      expect(max * 1000).toBeLessThan(Number.MAX_SAFE_INTEGER);
    }
  });

  it.each<Row>([
    ["a unit price at its bound", "accrue", sale({ lines: [line("1", 1, unitPriceMax)] }), "ok"],
    ["a unit price beyond its bound", "accrue", sale({ lines: [line("1", 1, unitPriceMax + 1)] }), "LIMIT_EXCEEDED lines[0].unitPrice"],
    ["an unsafe unit price (1e20)", "accrue", sale({ lines: [line("1", 1, 1e20)] }), "LIMIT_EXCEEDED lines[0].unitPrice"],
    ["a line amount beyond its bound", "accrue", sale({ lines: [line("1", 1, unitPriceMax, { amount: lineAmountMax + 1 })] }), "LIMIT_EXCEEDED lines[0].amount"],
    ["a total beyond the basket bound", "accrue", sale({ total: basketTotalMax + 1 }), "LIMIT_EXCEEDED total"],
    ["a tender beyond the basket bound", "accrue", sale({ tenders: [{ type: "card", amount: basketTotalMax + 1 }] }), "LIMIT_EXCEEDED tenders[0].amount"],
    ["a quoted unit price beyond its bound", "quote", sale({ lines: [line("1", 1, unitPriceMax + 1)] }), "LIMIT_EXCEEDED lines[0].unitPrice"],
    ["an authorised amount at its bound", "authorize", authorize({ amount: pointsRequestMax }), "ok"],
    ["an authorised amount beyond its bound", "authorize", authorize({ amount: pointsRequestMax + 1 }), "LIMIT_EXCEEDED amount"],
    ["an authorised value beyond its bound", "authorize", authorize({ value: pointsRequestMax + 1 }), "LIMIT_EXCEEDED value"],
    ["a captured amount at its bound", "capture", capture(pointsRequestMax), "ok"],
    ["a captured amount beyond its bound", "capture", capture(pointsRequestMax + 1), "LIMIT_EXCEEDED amount"],
    ["a conversion at its bound", "convert", convert(conversionMax), "ok"],
    ["a conversion beyond its bound", "convert", convert(conversionMax + 1), "LIMIT_EXCEEDED amount"],
    ["a credit at the adjustment bound", "adjust", adjust(adjustmentMax), "ok"],
    ["a debit at the adjustment bound", "adjust", adjust(-adjustmentMax), "ok"],
    ["a credit beyond the adjustment bound", "adjust", adjust(adjustmentMax + 1), "LIMIT_EXCEEDED amount"],
    ["a debit beyond the adjustment bound", "adjust", adjust(-adjustmentMax - 1), "LIMIT_EXCEEDED amount"],
  ])("%s: %s -> %s", (_what, verb, payload, expected) => {
    expect(outcome(verb, payload)).toBe(expected);
  });

  it.each<Row>([
    ["a negative unit price", "accrue", sale({ lines: [line("1", 1, -1)] }), "VALIDATION lines[0].unitPrice"],
    ["a hugely negative unit price", "accrue", sale({ lines: [line("1", 1, -1e20)] }), "VALIDATION lines[0].unitPrice"],
    ["a fractional line amount", "accrue", sale({ lines: [line("1", 1, 100, { amount: 99.5 })] }), "VALIDATION lines[0].amount"],
    ["a total sent as a string", "accrue", sale({ total: "2500" }), "VALIDATION total"],
    ["a negative tender", "accrue", sale({ tenders: [{ type: "card", amount: -1 }] }), "VALIDATION tenders[0].amount"],
    ["an authorised amount of zero", "authorize", authorize({ amount: 0 }), "VALIDATION amount"],
    ["a fractional capture", "capture", capture(1.5), "VALIDATION amount"],
    ["a negative conversion", "convert", convert(-5), "VALIDATION amount"],
    ["an adjustment of zero", "adjust", adjust(0), "VALIDATION amount"],
    ["an adjustment sent as a string", "adjust", adjust("5"), "VALIDATION amount"],
  ])("keep %s a VALIDATION error (%s)", (_what, verb, payload, expected) => {
    expect(outcome(verb, payload)).toBe(expected);
  });
});

describe("a sale's money adds up", () => {
  it.each<[string, Record<string, unknown>, string]>([
    // The example: a 1-cent line must not book a billion.
    ["refuses a 1-cent line with amount 1000000000", { lines: [line("1", 1, 1, { amount: 1_000_000_000 })] }, "VALIDATION lines[0].amount"],
    ["refuses a line amount above round(qty x unitPrice)", { lines: [line("1", 3, 333, { amount: 1000 })] }, "VALIDATION lines[0].amount"],
    ["accepts a discounted line amount", { lines: [line("1", 3, 334, { amount: 1000 })] }, "ok"],
    ["accepts a weighed line's amount at round(qty x unitPrice)", { lines: [line("1", 0.9, 1111, { amount: 1000 })] }, "ok"],
    ["rounds a weighed line half up exactly (1.005 x 100 is 101, not float's 100)", { lines: [line("1", 1.005, 100, { amount: 101 })] }, "ok"],
    ["refuses a weighed line's amount one above its rounded price", { lines: [line("1", 1.004, 100, { amount: 101 })] }, "VALIDATION lines[0].amount"],
    ["refuses a huge qty x unitPrice as a business limit", { lines: [line("1", 1_000_000, 1_000_000_000)] }, "LIMIT_EXCEEDED lines[0].unitPrice"],
    ["accepts qty x unitPrice at the line bound", { lines: [line("1", 1000, limits.lineAmountMax / 1000)] }, "ok"],
    [
      "refuses line amounts adding up beyond the basket bound",
      { lines: Array.from({ length: 11 }, (_, i) => line(String(i), 1, limits.lineAmountMax)) },
      "LIMIT_EXCEEDED lines",
    ],
    ["accepts a total equal to the line amounts", { total: 2500 }, "ok"],
    ["accepts a total off by one on a one-line basket (rounding)", { total: 2501 }, "ok"],
    ["refuses a total off by two on a one-line basket", { total: 2502 }, "VALIDATION total"],
    ["refuses a total far from the lines", { total: 1_000_000_000 }, "VALIDATION total"],
    [
      "accepts a total rounded once over three weighed lines (33 + 33 + 33 -> 100)",
      { lines: [line("1", 0.333, 100), line("2", 0.333, 100), line("3", 0.333, 100)], total: 100 },
      "ok",
    ],
    [
      "counts a line's amount, not its price, towards the total",
      { lines: [line("1", 2, 1250, { amount: 2000 }), line("2", 1, 500)], total: 2500 },
      "ok",
    ],
    ["accepts tenders adding up to the line amounts when no total is sent", { tenders: [{ type: "giftcard", amount: 500 }, { type: "card", amount: 2000 }] }, "ok"],
    ["refuses tenders short of the line amounts", { tenders: [{ type: "card", amount: 2499 }] }, "VALIDATION tenders"],
    ["accepts tenders adding up to the sent total", { total: 2501, tenders: [{ type: "card", amount: 2501 }] }, "ok"],
    ["refuses tenders that match the lines but not the sent total", { total: 2501, tenders: [{ type: "card", amount: 2500 }] }, "VALIDATION tenders"],
    ["accepts a sale without tenders", { tenders: [] }, "ok"],
  ])("%s", (_what, patch, expected) => {
    expect(outcome("accrue", sale(patch))).toBe(expected);
  });

  it("applies the same checks to a quote", () => {
    expect(outcome("quote", sale({ lines: [line("1", 1, 1, { amount: 1_000_000_000 })] }))).toBe("VALIDATION lines[0].amount");
    expect(outcome("quote", sale({ total: 2502 }))).toBe("VALIDATION total");
    expect(outcome("quote", sale({ lines: [line("1", 1_000_000, 1_000_000_000)] }))).toBe("LIMIT_EXCEEDED lines[0].unitPrice");
  });

  it("names the malformed field rather than a cross-check it would also fail", () => {
    expect(outcome("accrue", sale({ lines: [line("1", 1, 100)], total: 2500, colour: "red" }))).toBe("VALIDATION colour");
    expect(outcome("accrue", sale({ lines: [line("1", 1, 100, { amount: 100.5 })], total: 2500 }))).toBe("VALIDATION lines[0].amount");
  });

  it("says what the money should add up to", () => {
    expect(() => validate("accrue", sale({ total: 2600 }))).toThrow("total: must equal the sum of the line amounts, 2500, within ±1");
    expect(() => validate("accrue", sale({ tenders: [{ type: "card", amount: 2400 }] }))).toThrow("tenders: add up to 2400; they must add up to the total, 2500");
  });
});

describe("the simulator's baskets", () => {
  it("pass every money check (accrue and quote)", () => {
    const gen = createBasketGenerator({ seed: 11, customers: 1000, linesMax: 40 });
    let sales = 0;
    for (let i = 0; i < 3000; i++) {
      const { event } = gen.next();
      if (event.type !== "sale") continue;
      sales++;
      expect(outcome("accrue", event), event.eventId).toBe("ok");
      expect(outcome("quote", event), event.eventId).toBe("ok");
    }
    expect(sales).toBeGreaterThan(2000);
  });
});

describe("checkEventTime", () => {
  const now = 1_767_225_600_000;
  const window = { lateMsMax: limits.eventLateMsDefault, futureMsMax: limits.eventFutureMsDefault };

  it.each<[string, number, boolean]>([
    ["accepts an event at the engine's clock", now, true],
    ["accepts an event exactly at the late edge", now - window.lateMsMax, true],
    ["refuses an event 1 ms before the late edge", now - window.lateMsMax - 1, false],
    ["accepts an event exactly at the future edge", now + window.futureMsMax, true],
    ["refuses an event 1 ms after the future edge", now + window.futureMsMax + 1, false],
    ["refuses an event with a mistyped year", now - 365 * 86_400_000, false],
    ["refuses an event at epoch 0", 0, false],
  ])("%s", (_what, at, accepted) => {
    if (accepted) expect(() => checkEventTime(at, now, window)).not.toThrow();
    else expect(() => checkEventTime(at, now, window)).toThrow(LoyaltyError);
  });

  it("refuses with VALIDATION naming `at` and saying the window", () => {
    try {
      checkEventTime(now + window.futureMsMax + 1, now, window);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(LoyaltyError);
      const wire = (err as LoyaltyError).toWire();
      expect(wire).toMatchObject({ code: "VALIDATION", field: "at" });
      expect(wire.message).toBe("at: 300001 ms after the engine's clock; an event is accepted from 2592000000 ms before to 300000 ms after it");
    }
  });

  it("takes the window it is given (a zero window accepts only now)", () => {
    expect(() => checkEventTime(now, now, { lateMsMax: 0, futureMsMax: 0 })).not.toThrow();
    expect(() => checkEventTime(now - 1, now, { lateMsMax: 0, futureMsMax: 0 })).toThrow("1 ms before");
  });
});
