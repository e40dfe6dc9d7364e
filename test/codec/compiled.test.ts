// The compiled validators must never disagree with zod: whatever they accept, zod accepts
// with the same output, key for key in the same order (the content hash is taken over it).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COMPILED_VERBS, fastValidate } from "../../src/codec/compiled.js";
import { VERB_SCHEMAS, type Verb } from "../../src/codec/schema.js";
import { createBasketGenerator } from "../../src/simulator/baskets.js";

/** zod's answer and the fast path's, side by side; the fast path may only decline. */
function agree(verb: Verb, value: unknown): "fast" | "declined" {
  const fast = fastValidate(verb, value);
  const zod = VERB_SCHEMAS[verb].safeParse(value);
  if (fast === undefined) return "declined";
  expect(zod.success, `${verb} accepted by the compiled validator, refused by zod: ${JSON.stringify(value)}`).toBe(true);
  expect(JSON.stringify(fast)).toBe(JSON.stringify(zod.data));
  expect(fast).toEqual(zod.data);
  return "fast";
}

const extreme = fc.oneof(
  fc.constant(Number.MAX_SAFE_INTEGER), fc.constant(2 ** 53 + 2), fc.constant(1e20), fc.constant(-0), fc.constant(Number.NaN), fc.constant(Number.POSITIVE_INFINITY),
  fc.constant(0.3), fc.constant(1.0005), fc.constant(1 + Number.EPSILON), fc.constant(1.0000000000001), fc.double(), fc.integer(), fc.string(),
  fc.constant("__proto__"), fc.constant(null), fc.constant(""), fc.constant("\u0000x"), fc.constant("é".repeat(128)), fc.constant("é".repeat(129)),
);
const small = fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constantFrom(1, 2, 0.5, 0.25, 1.5, 2.125, 0.001, 3.3));
const ABSENT = Symbol("absent");
/** Mostly a good value, sometimes a bad one, sometimes no key at all: both sides of zod's line are reached. */
const field = <T>(good: fc.Arbitrary<T>, absentWeight = 1) =>
  fc.oneof({ weight: 14, arbitrary: good }, { weight: 1, arbitrary: extreme }, { weight: absentWeight, arbitrary: fc.constant(ABSENT) });
function object<T extends Record<string, fc.Arbitrary<unknown>>>(fields: T): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(fields).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== ABSENT)));
}
const idish = fc.oneof(fc.constantFrom("a", "L1", "s01", "EUR", "x y"), fc.string({ minLength: 1, maxLength: 3 }));
const customer = fc.oneof(
  fc.constant({ card: "C-1" }), fc.constant({ customerId: "c1" }), fc.constant({ phone: "+48601234567" }), fc.constant({ loyaltyId: "L" }),
  fc.constant({ phone: "+1" }), fc.constant({ card: "C", customerId: "c" }), extreme,
);
const line = object({
  lineId: field(fc.constantFrom("1", "2", "3", "4"), 0), sku: field(idish, 0), qty: field(small, 0), unitPrice: field(small, 0),
  amount: field(small, 6), category: field(idish, 4), promo: field(fc.boolean(), 4), offerId: field(idish, 6), extra: fc.constant(ABSENT),
});
/** A key that does not belong: rare, so that most values stay near the accepting side. */
const stray = <T>(a: fc.Arbitrary<T>) => fc.oneof({ weight: 25, arbitrary: fc.constant(ABSENT) }, { weight: 1, arbitrary: a });
const sale = object({
  type: fc.constantFrom("sale", "sale", "sale", "return", "other"),
  eventId: field(idish, 0),
  originalEventId: stray(idish),
  at: field(fc.constant(1767225600000), 0),
  storeId: field(idish, 0),
  channel: field(idish, 4),
  terminalId: field(idish, 4),
  customer: field(customer, 0),
  currency: field(fc.constantFrom("EUR", "EUR", "eur"), 0),
  lines: field(fc.array(line, { minLength: 1, maxLength: 4 }), 0),
  tenders: field(fc.array(object({ type: field(idish, 0), amount: field(small, 0) }), { maxLength: 2 }), 8),
  total: field(small, 8),
  offerIds: field(fc.array(idish, { maxLength: 3 }), 6),
});
const reversal = object({
  type: fc.constantFrom("return", "void", "void", "sale"),
  eventId: field(idish, 0),
  originalEventId: field(idish, 0),
  at: field(fc.constant(1767225600000), 0),
  storeId: field(idish, 2),
  terminalId: field(idish, 2),
  currency: stray(fc.constant("EUR")),
  lines: field(fc.array(object({ lineId: field(idish, 0), qty: field(small, 0) }), { minLength: 1, maxLength: 3 }), 2),
});
const event = fc.oneof(sale, reversal);
const request = object({
  requestId: field(idish, 0),
  holdId: field(idish, 1),
  customer: field(customer, 1),
  account: stray(idish),
  amount: field(small, 2),
  value: stray(small),
  currency: stray(fc.constantFrom("EUR", "eur")),
  ttlMs: stray(fc.constant(60_000)),
  asOf: stray(fc.constant(1767225600000)),
});
const balance = object({ customer: field(customer, 0), asOf: field(fc.constant(1767225600000), 2), requestId: stray(idish) });

describe("compiled validators", () => {
  it("accept the simulator's sales, returns and voids exactly as zod parses them", () => {
    let now = 1767225600000;
    const gen = createBasketGenerator({ seed: 3, customers: 200, linesMin: 1, linesMax: 20, clock: () => (now += 1000) });
    let fast = 0;
    for (let i = 0; i < 2000; i++) if (agree("accrue", JSON.parse(JSON.stringify(gen.next().event))) === "fast") fast++;
    // The fast path must carry the traffic, or it does not pay.
    expect(fast).toBe(2000);
  });

  it("never accept an event that zod refuses, and build zod's output for the rest", () => {
    let fast = 0;
    fc.assert(
      fc.property(event, (e) => {
        if (agree("accrue", e) === "fast") fast++;
        agree("quote", e);
      }),
      { numRuns: 5000 },
    );
    // The generator must reach the accepting side too, or the property says nothing.
    expect(fast).toBeGreaterThan(150);
  });

  it("never accept a request that zod refuses, and build zod's output for the rest", () => {
    let fast = 0;
    fc.assert(
      fc.property(request, (r) => {
        for (const verb of ["authorize", "capture", "release"] as const) if (agree(verb, r) === "fast") fast++;
      }),
      { numRuns: 5000 },
    );
    expect(fast).toBeGreaterThan(80);
  });

  it("give defaults as fresh copies, in the schema's key order", () => {
    const sale = { lines: [{ unitPrice: 100, qty: 1, sku: "A", lineId: "1" }], currency: "EUR", customer: { card: "C" }, storeId: "s", at: 1, eventId: "e", type: "sale" };
    const a = fastValidate("accrue", sale) as { tenders: unknown[]; channel: string };
    const b = fastValidate("accrue", sale) as { tenders: unknown[] };
    expect(Object.keys(a)).toEqual(Object.keys(VERB_SCHEMAS.accrue.parse(sale) as object));
    expect(a.channel).toBe("store");
    expect(a.tenders).not.toBe(b.tenders);
  });

  it("cover every hot verb", () => {
    const valid: Record<(typeof COMPILED_VERBS)[number], unknown> = {
      accrue: { type: "void", eventId: "v", originalEventId: "s", at: 1 },
      quote: { type: "sale", eventId: "e", at: 1, storeId: "s", customer: { card: "C" }, currency: "EUR", lines: [{ lineId: "1", sku: "A", qty: 1, unitPrice: 1 }] },
      balance: { customer: { card: "C" } },
      authorize: { requestId: "r", customer: { card: "C" }, amount: 5 },
      capture: { requestId: "r", holdId: "h" },
      release: { requestId: "r", holdId: "h" },
    };
    for (const verb of COMPILED_VERBS) expect(agree(verb, valid[verb]), verb).toBe("fast");
  });
});
