// Property tests (fast-check): invariants of evaluate() over random programmes and baskets.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile, type Plan } from "../../src/rules/compile.js";
import { evaluate } from "../../src/rules/evaluate.js";
import { parseProgramme, type Programme } from "../../src/rules/programme.js";
import type { Accrual, Basket, BasketLine, CustomerFacts, ProgrammeSelection } from "../../src/rules/types.js";

const skus = ["A1", "A2", "B1", "B2", "C1"];
const categories = ["drinks", "bakery", "dairy", "produce", "household", "electronics"];
const groups = ["VIP", "staff"];
const stores = ["s01", "s02", "s03"];
const channels = ["store", "webshop"];
const zones = ["Europe/Warsaw", "UTC", "America/New_York", "Asia/Kolkata"];
const windows = [30, 365];

const offers = ["O1", "O2", "O3"];
/** Basket times range over these years; offer windows are drawn from the same span. */
const atMin = Date.UTC(2024, 0, 1);
const atMax = Date.UTC(2027, 11, 31);
const amount = fc.integer({ min: 0, max: 200_000 });
const perAmount = fc.constantFrom(1, 7, 100, 250, 1000, 10_000);
const points = fc.integer({ min: 0, max: 20 });
const factor = fc.constantFrom(0.5, 1, 1.1, 1.5, 2, 3);

/** An offer window: open, open-ended either side, or closed, anywhere in the baskets' span. */
const windowArb = fc
  .tuple(fc.option(fc.integer({ min: atMin, max: atMax }), { nil: undefined }), fc.option(fc.integer({ min: atMin, max: atMax }), { nil: undefined }))
  .map(([a, b]) => (a !== undefined && b !== undefined ? (a < b ? { from: a, to: b } : a > b ? { from: b, to: a } : { from: a }) : { ...(a !== undefined ? { from: a } : {}), ...(b !== undefined ? { to: b } : {}) }));
const offerRuleArb = fc.oneof(
  fc.tuple(fc.constantFrom(...offers), points, windowArb).map(([offerId, p, w]) => ({ kind: "offer", offerId, points: p, ...w })),
  fc.tuple(fc.constantFrom(...offers), points, windowArb).map(([offerId, p, w]) => ({ kind: "offer", offerId, pointsPerUnit: p, ...w })),
);

const rule = fc.oneof(
  offerRuleArb,
  fc.record({ kind: fc.constant("spend"), per: perAmount, points }),
  fc.record({ kind: fc.constant("sku"), sku: fc.constantFrom(...skus), pointsPerUnit: points }),
  fc.record({ kind: fc.constant("sku"), sku: fc.constantFrom(...skus), per: perAmount, points }),
  fc.record({ kind: fc.constant("category"), category: fc.constantFrom(...categories), per: perAmount, points }),
  fc.record({ kind: fc.constant("category"), category: fc.constantFrom(...categories), pointsPerUnit: points }),
  fc.record({ kind: fc.constant("productCard") }),
  fc.record({ kind: fc.constant("visit"), points }),
  fc.record({ kind: fc.constant("tender"), tender: fc.constantFrom("card", "giftcard"), per: perAmount, points }),
  fc.record({ kind: fc.constant("threshold"), minTotal: amount, points }),
  fc.record({ kind: fc.constant("threshold"), minQty: fc.integer({ min: 1, max: 10 }), points }),
  fc.record({ kind: fc.constant("multiplier"), groups: fc.subarray(groups, { minLength: 1 }), factor }),
  fc.record({ kind: fc.constant("period"), weekdays: fc.subarray([1, 2, 3, 4, 5, 6, 7], { minLength: 1 }), factor }),
  fc.record({ kind: fc.constant("period"), hours: fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 24 })).filter(([a, b]) => a !== b), points }),
  fc.record({
    kind: fc.constant("tier"),
    windowDays: fc.constantFrom(...windows),
    tiers: fc.uniqueArray(fc.record({ minSpend: amount, factor }), { minLength: 1, maxLength: 3, selector: (t) => t.minSpend }).map((ts) => [...ts].sort((a, b) => a.minSpend - b.minSpend)),
  }),
);

const scope = fc.record(
  {
    customers: fc.subarray(["c1", "c2"], { maxLength: 1 }),
    groups: fc.subarray(groups, { maxLength: 1 }),
    skus: fc.subarray(skus, { maxLength: 2 }),
    categories: fc.subarray(categories, { maxLength: 2 }),
    stores: fc.subarray(stores, { maxLength: 2 }),
    channels: fc.subarray(channels, { maxLength: 1 }),
  },
  { requiredKeys: [] },
);

function programmeArb(id: string): fc.Arbitrary<Programme> {
  return fc
    .record({
      account: fc.constantFrom("points", "points", "cashback"),
      timeZone: fc.constantFrom(null, ...zones),
      scope,
      promoItemsEarn: fc.boolean(),
      rules: fc.array(rule, { minLength: 1, maxLength: 6 }),
      rounding: fc.constantFrom("floor", "round", "ceil"),
      capPerEvent: fc.option(fc.integer({ min: 0, max: 500 }), { nil: null }),
    })
    .map((p) => parseProgramme({ id, currency: "EUR", ...p }));
}

const programmesArb = fc.integer({ min: 0, max: 8 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => programmeArb(`p${i}`))));

const lineArb = fc.record({
  sku: fc.constantFrom(...skus, "Z9"),
  qty: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5000 }).map((g) => g / 1000)),
  amount: fc.integer({ min: 0, max: 50_000 }),
  category: fc.option(fc.constantFrom(...categories), { nil: null }),
  promo: fc.boolean(),
  offerId: fc.option(fc.constantFrom(...offers), { nil: null }),
});

const basketArb: fc.Arbitrary<Basket> = fc
  .record({
    lines: fc.array(lineArb, { minLength: 1, maxLength: 20 }),
    at: fc.integer({ min: atMin, max: atMax }),
    storeId: fc.constantFrom(...stores),
    channel: fc.constantFrom(...channels),
    giftcard: fc.integer({ min: 0, max: 100_000 }),
    offerIds: fc.subarray(offers),
  })
  .map(({ lines, at, storeId, channel, giftcard, offerIds }) => {
    const basketLines: BasketLine[] = lines.map((l, i) => ({ lineId: String(i + 1), unitPrice: Math.round(l.amount / l.qty), ...l }));
    const total = basketLines.reduce((s, l) => s + l.amount, 0);
    return {
      eventId: "e",
      at,
      storeId,
      channel,
      terminalId: null,
      currency: "EUR",
      lines: basketLines,
      tenders: [
        { type: "giftcard", amount: Math.min(giftcard, total) },
        { type: "card", amount: total - Math.min(giftcard, total) },
      ],
      total,
      offerIds,
    };
  });

/** The basket without any offer named, on its lines or for itself. */
function withoutOffers(b: Basket): Basket {
  return { ...b, offerIds: [], lines: b.lines.map((l) => ({ ...l, offerId: null })) };
}

const customerArb: fc.Arbitrary<CustomerFacts> = fc.record({
  customerId: fc.constantFrom("c1", "c2", "c3"),
  groups: fc.subarray(groups),
  turnoverByWindowDays: fc.record({ 30: amount, 365: amount }),
});

const card = new Map([
  ["A1", { pointsPerUnit: 3 }],
  ["B1", { pointsPerUnit: 1, pointsPrice: 50 }],
]);

function planOf(programmes: readonly Programme[], selection: ProgrammeSelection): Plan {
  return compile(
    programmes.map((programme) => ({ programme, version: programme.id.length })),
    { selection, timeZone: "Europe/Warsaw" },
    card,
  );
}

function byAccount(a: Accrual): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of a.programmes) m.set(p.account, (m.get(p.account) ?? 0) + p.earned);
  return m;
}

const selectionArb = fc.constantFrom<ProgrammeSelection>("strongestScope", "bestForCustomer");
const runs = { numRuns: Number(process.env.FC_RUNS ?? 300) };

describe("evaluate: properties", () => {
  it("is deterministic, whatever the order the programmes are given in", () => {
    fc.assert(
      fc.property(programmesArb, basketArb, customerArb, selectionArb, (programmes, basket, customer, selection) => {
        const plan = planOf(programmes, selection);
        const first = evaluate(plan, basket, customer);
        expect(evaluate(plan, basket, customer)).toEqual(first);
        expect(evaluate(planOf([...programmes].reverse(), selection), basket, customer)).toEqual(first);
      }),
      runs,
    );
  });

  it("attributes every point: lines + basket = earned = breakdown, all integers, none negative", () => {
    fc.assert(
      fc.property(programmesArb, basketArb, customerArb, selectionArb, (programmes, basket, customer, selection) => {
        const a = evaluate(planOf(programmes, selection), basket, customer);
        let total = 0;
        for (const p of a.programmes) {
          expect(Number.isSafeInteger(p.earned) && p.earned > 0).toBe(true);
          const shares = Object.values(p.lineEarned);
          for (const v of [...shares, p.basketEarned]) expect(Number.isSafeInteger(v) && v >= 0).toBe(true);
          expect(shares.reduce((s, v) => s + v, 0) + p.basketEarned).toBe(p.earned);
          const items = a.breakdown.filter((i) => i.programme === p.programme);
          for (const i of items) expect(Number.isSafeInteger(i.amount)).toBe(true);
          expect(items.reduce((s, i) => s + i.amount, 0)).toBe(p.earned);
          total += p.earned;
        }
        expect(a.earned).toBe(total);
        expect(new Set(a.programmes.map((p) => p.account)).size).toBe(a.programmes.length);
      }),
      runs,
    );
  });

  it("gives promo lines nothing unless the programme lets promo items earn or the line names an offer it pays per unit", () => {
    fc.assert(
      fc.property(programmesArb, basketArb, customerArb, (programmes, basket, customer) => {
        const a = evaluate(planOf(programmes, "strongestScope"), basket, customer);
        for (const p of a.programmes) {
          const prog = programmes.find((x) => x.id === p.programme)!;
          if (prog.promoItemsEarn) continue;
          const perUnit = new Set(prog.rules.flatMap((r) => (r.kind === "offer" && r.pointsPerUnit !== undefined ? [r.offerId] : [])));
          for (const l of basket.lines) if (l.promo && !(l.offerId != null && perUnit.has(l.offerId))) expect(p.lineEarned[l.lineId] ?? 0).toBe(0);
        }
      }),
      runs,
    );
  });

  it("offer rules earn nothing on a basket that names no offer", () => {
    fc.assert(
      fc.property(programmesArb, fc.array(offerRuleArb, { minLength: 1, maxLength: 3 }), basketArb, customerArb, selectionArb, (programmes, extra, basket, customer, selection) => {
        const plain = withoutOffers(basket);
        const withOffers = programmes.map((p) => parseProgramme({ ...p, rules: [...p.rules, ...extra] }));
        expect(byAccount(evaluate(planOf(withOffers, selection), plain, customer))).toEqual(byAccount(evaluate(planOf(programmes, selection), plain, customer)));
      }),
      runs,
    );
  });

  it("an offer rule out of force at the basket's time changes nothing, whatever the basket names", () => {
    fc.assert(
      fc.property(programmesArb, offerRuleArb, fc.boolean(), basketArb, customerArb, selectionArb, (programmes, extra, before, basket, customer, selection) => {
        if (programmes.length === 0) return;
        const window = before ? { to: basket.at } : { from: basket.at + 1 };
        const { from: _f, to: _t, ...rest } = extra as { from?: number; to?: number };
        const stale = { ...rest, ...window };
        const changed = programmes.map((p, i) => (i === 0 ? parseProgramme({ ...p, rules: [...p.rules, stale] }) : p));
        expect(evaluate(planOf(changed, selection), basket, customer)).toEqual(evaluate(planOf(programmes, selection), basket, customer));
      }),
      runs,
    );
  });

  it("bestForCustomer: naming offers never lowers what any account earns", () => {
    fc.assert(
      fc.property(programmesArb, basketArb, customerArb, (programmes, basket, customer) => {
        const plan = planOf(programmes, "bestForCustomer");
        const before = byAccount(evaluate(plan, withoutOffers(basket), customer));
        const after = byAccount(evaluate(plan, basket, customer));
        for (const [account, earned] of before) expect(after.get(account) ?? 0).toBeGreaterThanOrEqual(earned);
      }),
      runs,
    );
  });

  it("never exceeds capPerEvent", () => {
    fc.assert(
      fc.property(programmesArb, basketArb, customerArb, selectionArb, (programmes, basket, customer, selection) => {
        const a = evaluate(planOf(programmes, selection), basket, customer);
        for (const p of a.programmes) {
          const cap = programmes.find((x) => x.id === p.programme)!.capPerEvent;
          if (cap !== null) expect(p.earned).toBeLessThanOrEqual(cap);
        }
      }),
      runs,
    );
  });

  it("bestForCustomer: adding an empty-scope programme never lowers what any account earns", () => {
    fc.assert(
      fc.property(programmesArb, programmeArb("extra"), basketArb, customerArb, (programmes, extra, basket, customer) => {
        const open = parseProgramme({ ...extra, scope: {} });
        const before = byAccount(evaluate(planOf(programmes, "bestForCustomer"), basket, customer));
        const after = byAccount(evaluate(planOf([...programmes, open], "bestForCustomer"), basket, customer));
        for (const [account, earned] of before) expect(after.get(account) ?? 0).toBeGreaterThanOrEqual(earned);
      }),
      runs,
    );
  });

  it("bestForCustomer earns at least as much as strongestScope on every account", () => {
    fc.assert(
      fc.property(programmesArb, basketArb, customerArb, (programmes, basket, customer) => {
        const strongest = byAccount(evaluate(planOf(programmes, "strongestScope"), basket, customer));
        const best = byAccount(evaluate(planOf(programmes, "bestForCustomer"), basket, customer));
        for (const [account, earned] of strongest) expect(best.get(account) ?? 0).toBeGreaterThanOrEqual(earned);
      }),
      runs,
    );
  });
});
