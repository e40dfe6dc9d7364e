// Table-driven tests of evaluate(): one row per seed example, with exact numbers.
// docs/rules.md quotes these rows by name in its worked examples.
import { describe, expect, it } from "vitest";
import { compile, type ProductCardEntry } from "../../src/rules/compile.js";
import { evaluate } from "../../src/rules/evaluate.js";
import { parseProgramme, type ProgrammeInput } from "../../src/rules/programme.js";
import type { Accrual, Basket, BasketLine, CustomerFacts, ProgrammeSelection } from "../../src/rules/types.js";

/** Wednesday 2026-01-07 12:00 UTC (13:00 in Warsaw). */
const WED = Date.UTC(2026, 0, 7, 12, 0);
const DAY = 86_400_000;

function line(lineId: string, sku: string, amount: number, extra: Partial<BasketLine> = {}): BasketLine {
  const qty = extra.qty ?? 1;
  return { lineId, sku, qty, unitPrice: Math.round(amount / qty), amount, category: null, promo: false, ...extra };
}

function basket(lines: BasketLine[], extra: Partial<Basket> = {}): Basket {
  const total = lines.reduce((s, l) => s + l.amount, 0);
  return { eventId: "e1", at: WED, storeId: "s01", channel: "store", terminalId: null, currency: "EUR", lines, tenders: [], total, ...extra };
}

function customer(extra: Partial<CustomerFacts> = {}): CustomerFacts {
  return { customerId: "c1", groups: [], turnoverByWindowDays: {}, ...extra };
}

function prog(id: string, fields: Partial<ProgrammeInput>): ProgrammeInput {
  return { id, currency: "EUR", rules: [{ kind: "visit", points: 1 }], ...fields };
}

interface RunOptions {
  selection?: ProgrammeSelection;
  timeZone?: string;
  card?: ReadonlyMap<string, ProductCardEntry>;
}

function run(programmes: ProgrammeInput[], b: Basket, c: CustomerFacts = customer(), o: RunOptions = {}): Accrual {
  const plan = compile(
    programmes.map((p, i) => ({ programme: parseProgramme(p), version: i + 1 })),
    { selection: o.selection ?? "strongestScope", timeZone: o.timeZone ?? "Europe/Warsaw" },
    o.card,
  );
  const accrual = evaluate(plan, b, c);
  expectExact(accrual);
  return accrual;
}

/** The invariants every row must keep: attribution and breakdown sum exactly to earned. */
function expectExact(a: Accrual): void {
  let total = 0;
  for (const p of a.programmes) {
    expect(Number.isSafeInteger(p.earned) && p.earned > 0).toBe(true);
    const lines = Object.values(p.lineEarned).reduce((s, v) => s + v, 0);
    expect(lines + p.basketEarned).toBe(p.earned);
    const items = a.breakdown.filter((i) => i.programme === p.programme).reduce((s, i) => s + i.amount, 0);
    expect(items).toBe(p.earned);
    total += p.earned;
  }
  expect(a.earned).toBe(total);
}

function earnedBy(a: Accrual): Record<string, number> {
  return Object.fromEntries(a.programmes.map((p) => [p.programme, p.earned]));
}

const perEuro = { kind: "spend", per: 100, points: 1 } as const;

describe("seed examples: earning rules", () => {
  it("1 pt per 1 € (spend per 100 cents), remainder dropped under floor", () => {
    const a = run([prog("base", { rules: [perEuro] })], basket([line("1", "A1", 1250), line("2", "B2", 1999)]));
    expect(a.earned).toBe(32); // 32.49 -> 32
    expect(a.programmes[0]!.lineEarned).toEqual({ "1": 12, "2": 20 });
    expect(a.programmes[0]!.basketEarned).toBe(0);
    expect(a.breakdown).toEqual([{ programme: "base", version: 1, rule: "spend", ruleIndex: 0, amount: 32, lines: ["1", "2"] }]);
  });

  it.each([
    [45_000, 4], // 450.00 zł -> 4.5 -> 4
    [10_000, 1],
    [20_000, 2],
  ])("1 pt per 100 zł: %i grosze earn %i", (amount, points) => {
    const pln = prog("pl", { currency: "PLN", rules: [{ kind: "spend", per: 10_000, points: 1 }] });
    const a = run([pln], basket([line("1", "A1", amount)], { currency: "PLN" }));
    expect(a.earned).toBe(points);
  });

  it("1 pt per 100 zł: 99.99 zł earns nothing and no programme is reported", () => {
    const pln = prog("pl", { currency: "PLN", rules: [{ kind: "spend", per: 10_000, points: 1 }] });
    const a = run([pln], basket([line("1", "A1", 9_999)], { currency: "PLN" }));
    expect(a).toEqual({ earned: 0, programmes: [], breakdown: [] });
  });

  it("a programme in another currency does not apply", () => {
    const pln = prog("pl", { currency: "PLN", rules: [{ kind: "spend", per: 10_000, points: 1 }] });
    expect(run([pln], basket([line("1", "A1", 50_000)])).earned).toBe(0);
  });

  it.each([
    ["VIP", 50, ["VIP"]],
    ["VIP and staff", 50, ["staff", "VIP"]],
    ["regular", 25, []],
    ["staff only", 25, ["staff"]],
  ])("VIP double points: a %s customer earns %i on 25.00", (_label, points, groups) => {
    const base = prog("base", { rules: [perEuro, { kind: "multiplier", groups: ["VIP"], factor: 2 }] });
    const a = run([base], basket([line("1", "A1", 2500)]), customer({ groups }));
    expect(a.earned).toBe(points);
  });

  it.each([
    ["a member of the segment", new Set(["lapsed"]), 25],
    ["a member of another segment", new Set(["rich"]), 0],
    ["in no segment", new Set<string>(), 0],
    ["whose membership was not looked up", undefined, 0],
  ])("a programme scoped to a saved segment: %s earns %i on 25.00", (_label, segments, points) => {
    const p = prog("winback", { scope: { segments: ["lapsed", "dormant"] }, rules: [perEuro] });
    const a = run([p], basket([line("1", "A1", 2500)]), customer(segments ? { segments } : {}));
    expect(a.earned).toBe(points);
  });

  it.each([
    ["whose attributes hold", { segment: "smb", loyal: true }, 25],
    ["with the other value listed", { segment: "corporate", loyal: true }, 25],
    ["with a value not listed", { segment: "retail", loyal: true }, 0],
    ["missing one of the keys", { segment: "smb" }, 0],
    ["with the right value as another type", { segment: "smb", loyal: "true" }, 0],
    ["with no attributes", undefined, 0],
  ] as const)("a programme scoped to attributes: a customer %s earns %i on 25.00", (_label, attributes, points) => {
    const p = prog("crm", { scope: { attributes: { segment: ["smb", "corporate"], loyal: true } }, rules: [perEuro] });
    const a = run([p], basket([line("1", "A1", 2500)]), customer(attributes ? { attributes } : {}));
    expect(a.earned).toBe(points);
  });

  it("an attribute scope counts as a group scope: it beats an unscoped programme on the same account", () => {
    const all = prog("all", { rules: [perEuro] });
    const crm = prog("crm", { scope: { attributes: { employees: 250 } }, rules: [{ kind: "spend", per: 100, points: 3 }] });
    expect(run([all, crm], basket([line("1", "A1", 2500)]), customer({ attributes: { employees: 250 } })).earned).toBe(75);
    expect(run([all, crm], basket([line("1", "A1", 2500)]), customer({ attributes: { employees: 251 } })).earned).toBe(25);
  });

  it.each([
    [{ k: [] }, "scope.attributes.k"],
    [{ k: { nested: 1 } }, "scope.attributes.k"],
    [Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 1])), "scope.attributes"],
  ])("refuses the attribute scope %j at %s", (attributes, field) => {
    expect(() => parseProgramme(prog("crm", { scope: { attributes } as never }))).toThrow(expect.objectContaining({ code: "VALIDATION", field }));
  });

  it("names the segments programmes are scoped to, for the caller to look up", () => {
    const plan = compile(
      [prog("a", { scope: { segments: ["s2", "s1"] } }), prog("b", { scope: { segments: ["s1"] } }), prog("c", {})].map((p, i) => ({ programme: parseProgramme(p), version: i + 1 })),
      { selection: "strongestScope", timeZone: "UTC" },
    );
    expect(plan.segmentIds).toEqual(["s1", "s2"]);
  });

  it("VIP double points: the breakdown shows the spend and the multiplier's uplift", () => {
    const base = prog("base", { rules: [perEuro, { kind: "multiplier", groups: ["VIP"], factor: 2 }] });
    const a = run([base], basket([line("1", "A1", 2500)]), customer({ groups: ["VIP"] }));
    expect(a.breakdown.map((i) => [i.rule, i.ruleIndex, i.amount])).toEqual([
      ["spend", 0, 25],
      ["multiplier", 1, 25],
    ]);
    expect(a.programmes[0]!.lineEarned).toEqual({ "1": 50 });
  });

  it("points per visit go to basketEarned", () => {
    const base = prog("base", { rules: [perEuro, { kind: "visit", points: 10 }] });
    const a = run([base], basket([line("1", "A1", 1000)]));
    expect(a.earned).toBe(20);
    expect(a.programmes[0]!.lineEarned).toEqual({ "1": 10 });
    expect(a.programmes[0]!.basketEarned).toBe(10);
    expect(a.breakdown.map((i) => [i.rule, i.amount, i.lines])).toEqual([
      ["spend", 10, ["1"]],
      ["visit", 10, undefined],
    ]);
  });

  it("points per section: 2 pts per 1 € of drinks, 3 pts per unit of dairy", () => {
    const p = prog("sections", {
      rules: [
        { kind: "category", category: "drinks", per: 100, points: 2 },
        { kind: "category", category: "dairy", pointsPerUnit: 3 },
      ],
    });
    const b = basket([
      line("1", "D1", 1000, { category: "drinks" }),
      line("2", "B1", 500, { category: "bakery" }),
      line("3", "M1", 398, { category: "dairy", qty: 2 }),
    ]);
    const a = run([p], b);
    expect(a.earned).toBe(26); // 20 + 6; bakery earns nothing
    expect(a.programmes[0]!.lineEarned).toEqual({ "1": 20, "3": 6 });
    expect(a.breakdown.map((i) => [i.rule, i.amount, i.lines])).toEqual([
      ["category", 20, ["1"]],
      ["category", 6, ["3"]],
    ]);
  });

  it("points per unit of a product (sku rule), fractional quantity of weighed goods", () => {
    const p = prog("units", { rules: [{ kind: "sku", sku: "A1", pointsPerUnit: 5 }, { kind: "sku", sku: "W1", pointsPerUnit: 2 }] });
    const a = run([p], basket([line("1", "A1", 3000, { qty: 3 }), line("2", "W1", 700, { qty: 1.25 })]));
    expect(a.earned).toBe(17); // 15 + 2.5 -> 17
    expect(a.programmes[0]!.lineEarned).toEqual({ "1": 15, "2": 2 });
  });

  it("points per amount of one product (sku rule with per/points)", () => {
    const p = prog("skuamount", { rules: [{ kind: "sku", sku: "A1", per: 1000, points: 7 }] });
    expect(run([p], basket([line("1", "A1", 3000), line("2", "B1", 3000)])).earned).toBe(21);
  });

  it("points per unit from the product card", () => {
    const card = new Map<string, ProductCardEntry>([
      ["A1", { pointsPerUnit: 4, pointsPrice: 900 }],
      ["B2", { pointsPerUnit: 2 }],
      ["C3", { pointsPrice: 100 }],
    ]);
    const p = prog("card", { rules: [{ kind: "productCard" }] });
    const b = basket([line("1", "A1", 1000, { qty: 2 }), line("2", "B2", 300, { qty: 1.5 }), line("3", "C3", 500)]);
    const a = run([p], b, customer(), { card });
    expect(a.earned).toBe(11); // 8 + 3; C3 has no pointsPerUnit
    expect(a.programmes[0]!.lineEarned).toEqual({ "1": 8, "2": 3 });
    expect(a.breakdown[0]).toMatchObject({ rule: "productCard", amount: 11, lines: ["1", "2"] });
  });

  it("by tender: 1 pt per 1 € paid by gift card", () => {
    const p = prog("gift", { rules: [{ kind: "tender", tender: "giftcard", per: 100, points: 1 }] });
    const b = basket([line("1", "A1", 2500)], { tenders: [{ type: "giftcard", amount: 1500 }, { type: "card", amount: 1000 }] });
    const a = run([p], b);
    expect(a.earned).toBe(15);
    expect(a.programmes[0]!.basketEarned).toBe(15);
  });

  it("by tender: only the part that paid for the programme's lines earns", () => {
    const p = prog("gift", { scope: { categories: ["drinks"] }, rules: [{ kind: "tender", tender: "giftcard", per: 100, points: 1 }] });
    const b = basket([line("1", "A1", 1000, { category: "drinks" }), line("2", "B1", 4000)], { tenders: [{ type: "giftcard", amount: 5000 }] });
    expect(run([p], b).earned).toBe(10);
  });

  it.each([
    ["reached exactly", 10_000, 150],
    ["missed by one cent", 9_999, 99],
  ])("threshold on amount, %s", (_l, amount, points) => {
    const p = prog("big", { rules: [perEuro, { kind: "threshold", minTotal: 10_000, points: 50 }] });
    expect(run([p], basket([line("1", "A1", amount)])).earned).toBe(points);
  });

  it.each([
    [5, 20],
    [4, 0],
  ])("threshold on quantity: %i units earn %i", (qty, points) => {
    const p = prog("bulk", { rules: [{ kind: "threshold", minQty: 5, points: 20 }] });
    expect(run([p], basket([line("1", "A1", 1000, { qty: qty - 1 }), line("2", "B1", 100)])).earned).toBe(points);
  });

  it.each([
    [10_000, 5, 30],
    [10_000, 4, 0],
    [9_000, 5, 0],
  ])("threshold on amount and quantity: %i cents, %i units earn %i", (amount, qty, points) => {
    const p = prog("both", { rules: [{ kind: "threshold", minTotal: 10_000, minQty: 5, points: 30 }] });
    expect(run([p], basket([line("1", "A1", amount, { qty })])).earned).toBe(points);
  });
});

describe("seed examples: periods in the programme's time zone", () => {
  const weekend = prog("weekend", { rules: [perEuro, { kind: "period", weekdays: [6, 7], factor: 3 }] });
  const morning = prog("morning", { rules: [perEuro, { kind: "period", hours: [9, 12], factor: 2 }] });
  it.each([
    ["Saturday 00:30 in Warsaw is still Friday in UTC", Date.UTC(2026, 0, 9, 23, 30), 30],
    ["Friday 23:30 in Warsaw", Date.UTC(2026, 0, 9, 22, 30), 10],
    ["Sunday 23:59 in Warsaw", Date.UTC(2026, 0, 11, 22, 59), 30],
    ["Monday 00:00 in Warsaw", Date.UTC(2026, 0, 11, 23, 0), 10],
  ])("weekend ×3: %s", (_l, at, points) => {
    expect(run([weekend], basket([line("1", "A1", 1000)], { at })).earned).toBe(points);
  });

  it.each([
    ["08:59 local", Date.UTC(2026, 0, 7, 7, 59), 10],
    ["09:00 local", Date.UTC(2026, 0, 7, 8, 0), 20],
    ["11:59 local", Date.UTC(2026, 0, 7, 10, 59), 20],
    ["12:00 local", Date.UTC(2026, 0, 7, 11, 0), 10],
  ])("hours [9, 12) in Warsaw in winter (UTC+1): %s", (_l, at, points) => {
    expect(run([morning], basket([line("1", "A1", 1000)], { at })).earned).toBe(points);
  });

  it("hours follow summer time: 09:00 in Warsaw is 07:00 UTC in July", () => {
    expect(run([morning], basket([line("1", "A1", 1000)], { at: Date.UTC(2026, 6, 1, 7, 0) })).earned).toBe(20);
    expect(run([morning], basket([line("1", "A1", 1000)], { at: Date.UTC(2026, 6, 1, 10, 0) })).earned).toBe(10);
  });

  it("a programme's own timeZone overrides the deployment's", () => {
    const ny = { ...morning, timeZone: "America/New_York" };
    // 14:00 UTC = 09:00 in New York (winter), 15:00 in Warsaw.
    expect(run([ny], basket([line("1", "A1", 1000)], { at: Date.UTC(2026, 0, 7, 14, 0) })).earned).toBe(20);
  });

  it.each([
    // Warsaw springs forward on 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
    ["01:59:59 CET, just before the switch", Date.UTC(2026, 2, 29, 0, 59, 59), [1, 2], 20],
    ["03:00 CEST, the first instant after it", Date.UTC(2026, 2, 29, 1, 0, 0), [3, 4], 20],
    ["03:00 CEST is not in the skipped hour [2, 3)", Date.UTC(2026, 2, 29, 1, 0, 0), [2, 3], 10],
    // ...and falls back on 2026-10-25: 02:00-03:00 local happens twice.
    ["02:30 CEST, the first 02:30", Date.UTC(2026, 9, 25, 0, 30), [2, 3], 20],
    ["02:30 CET, the second 02:30", Date.UTC(2026, 9, 25, 1, 30), [2, 3], 20],
    ["03:00 CET after the repeated hour", Date.UTC(2026, 9, 25, 2, 0), [2, 3], 10],
  ])("DST edge: %s", (_l, at, hours, points) => {
    const p = prog("night", { rules: [perEuro, { kind: "period", hours: hours as [number, number], factor: 2 }] });
    expect(run([p], basket([line("1", "A1", 1000)], { at })).earned).toBe(points);
  });

  it("hours that wrap past midnight: [22, 6)", () => {
    const p = prog("night", { rules: [perEuro, { kind: "period", hours: [22, 6], factor: 2 }] });
    const at = (h: number): number => Date.UTC(2026, 0, 7, h - 1, 0); // local hour h in winter
    expect([21, 22, 23, 1, 5, 6].map((h) => run([p], basket([line("1", "A1", 1000)], { at: at(h) })).earned)).toEqual([10, 20, 20, 20, 20, 10]);
  });

  it("a period with points adds a bonus to the basket", () => {
    const p = prog("happy", { rules: [perEuro, { kind: "period", hours: [17, 19], points: 10 }] });
    const a = run([p], basket([line("1", "A1", 1000)], { at: Date.UTC(2026, 0, 7, 16, 30) }));
    expect(a.earned).toBe(20);
    expect(a.programmes[0]!.basketEarned).toBe(10);
    expect(a.breakdown.map((i) => i.rule)).toEqual(["spend", "period"]);
  });

  it.each([
    ["before the window", Date.UTC(2026, 11, 19, 23, 59), 10],
    ["on its first instant", Date.UTC(2026, 11, 20), 20],
    ["on its last millisecond", Date.UTC(2026, 11, 27) - 1, 20],
    ["at validTo (exclusive)", Date.UTC(2026, 11, 27), 10],
  ])("date window [20 Dec, 27 Dec) ×2: %s", (_l, at, points) => {
    const p = prog("xmas", {
      rules: [perEuro, { kind: "period", validFrom: Date.UTC(2026, 11, 20), validTo: Date.UTC(2026, 11, 27), factor: 2 }],
    });
    expect(run([p], basket([line("1", "A1", 1000)], { at })).earned).toBe(points);
  });

  it.each([
    ["before validFrom", Date.UTC(2025, 11, 31), 0],
    ["at validFrom", Date.UTC(2026, 0, 1), 10],
    ["at validTo", Date.UTC(2026, 1, 1), 0],
  ])("programme validity [1 Jan, 1 Feb): %s", (_l, at, points) => {
    const p = prog("jan", { validFrom: Date.UTC(2026, 0, 1), validTo: Date.UTC(2026, 1, 1), rules: [perEuro] });
    expect(run([p], basket([line("1", "A1", 1000)], { at })).earned).toBe(points);
  });

  it("factors multiply: VIP ×2 on a weekend ×3 earns ×6", () => {
    const p = prog("both", {
      rules: [perEuro, { kind: "multiplier", groups: ["VIP"], factor: 2 }, { kind: "period", weekdays: [6, 7], factor: 3 }],
    });
    const a = run([p], basket([line("1", "A1", 1000)], { at: Date.UTC(2026, 0, 10, 12) }), customer({ groups: ["VIP"] }));
    expect(a.earned).toBe(60);
    expect(a.breakdown.map((i) => [i.rule, i.amount])).toEqual([
      ["spend", 10],
      ["multiplier", 10],
      ["period", 40],
    ]);
  });
});

describe("seed examples: promotional items", () => {
  const b = basket([line("1", "P1", 1000, { promo: true }), line("2", "A1", 2000)]);
  it("promo items earn nothing by default", () => {
    const a = run([prog("base", { rules: [perEuro] })], b);
    expect(a.earned).toBe(20);
    expect(a.programmes[0]!.lineEarned).toEqual({ "2": 20 });
  });

  it("promo items earn when the programme says promoItemsEarn", () => {
    const a = run([prog("base", { promoItemsEarn: true, rules: [perEuro] })], b);
    expect(a.earned).toBe(30);
    expect(a.programmes[0]!.lineEarned).toEqual({ "1": 10, "2": 20 });
  });

  it("a basket of promo items only earns nothing, not even the visit", () => {
    const p = prog("base", { rules: [perEuro, { kind: "visit", points: 5 }] });
    expect(run([p], basket([line("1", "P1", 1000, { promo: true })])).earned).toBe(0);
  });

  it("promo lines do not count towards a threshold", () => {
    const p = prog("big", { rules: [{ kind: "threshold", minTotal: 2500, points: 50 }] });
    expect(run([p], b).earned).toBe(0);
    expect(run([{ ...p, promoItemsEarn: true }], b).earned).toBe(50);
  });
});

describe("seed examples: scope priority and selection", () => {
  // Six programmes on the same account; the rate tells which one won.
  const ladder = [
    prog("all", { rules: [{ kind: "spend", per: 100, points: 1 }] }),
    prog("store", { scope: { stores: ["s01"] }, rules: [{ kind: "spend", per: 100, points: 2 }] }),
    prog("category", { scope: { categories: ["drinks"] }, rules: [{ kind: "spend", per: 100, points: 3 }] }),
    prog("sku", { scope: { skus: ["A1"] }, rules: [{ kind: "spend", per: 100, points: 4 }] }),
    prog("group", { scope: { groups: ["VIP"] }, rules: [{ kind: "spend", per: 100, points: 5 }] }),
    prog("customer", { scope: { customers: ["c1"] }, rules: [{ kind: "spend", per: 100, points: 6 }] }),
  ];
  const drinksA1 = line("1", "A1", 1000, { category: "drinks" });
  it.each([
    ["customer beats group", customer({ groups: ["VIP"] }), [drinksA1], "s01", "customer", 60],
    ["group beats sku", customer({ customerId: "c2", groups: ["VIP"] }), [drinksA1], "s01", "group", 50],
    ["sku beats category", customer({ customerId: "c2" }), [drinksA1], "s01", "sku", 40],
    ["category beats store", customer({ customerId: "c2" }), [line("1", "A2", 1000, { category: "drinks" })], "s01", "category", 30],
    ["store beats all", customer({ customerId: "c2" }), [line("1", "A2", 1000)], "s01", "store", 20],
    ["all when nothing narrower applies", customer({ customerId: "c2" }), [line("1", "A2", 1000)], "s02", "all", 10],
  ])("strongest scope: %s", (_l, c, lines, storeId, winner, points) => {
    const a = run(ladder, basket(lines, { storeId }), c);
    expect(a.programmes.map((p) => [p.programme, p.earned])).toEqual([[winner, points]]);
  });

  it("a store scope beats a channel scope, which beats all", () => {
    const set = [
      prog("all", { rules: [{ kind: "spend", per: 100, points: 1 }] }),
      prog("web", { scope: { channels: ["webshop"] }, rules: [{ kind: "spend", per: 100, points: 2 }] }),
      prog("s05", { scope: { stores: ["s05"] }, rules: [{ kind: "spend", per: 100, points: 3 }] }),
    ];
    const at = (storeId: string, channel: string): string[] => run(set, basket([line("1", "A1", 1000)], { storeId, channel })).programmes.map((p) => p.programme);
    expect([at("s05", "webshop"), at("s01", "webshop"), at("s01", "store")]).toEqual([["s05"], ["web"], ["all"]]);
  });

  it("a line-scoped programme only counts its own lines", () => {
    const a = run([ladder[2]!], basket([drinksA1, line("2", "B1", 5000, { category: "bakery" })]));
    expect(a.programmes[0]).toMatchObject({ earned: 30, lineEarned: { "1": 30 } });
  });

  it("a line scope naming a sku and a category counts a line matching both once", () => {
    const p = prog("mix", { scope: { skus: ["A1"], categories: ["drinks"] }, rules: [perEuro, { kind: "threshold", minQty: 2, points: 7 }] });
    const a = run([p], basket([drinksA1, line("2", "D2", 500, { category: "drinks" }), line("3", "B1", 800)]));
    expect(a.earned).toBe(22); // 10 + 5 + threshold 7 (2 units in scope), bakery line B1 out of scope
  });

  it("a stronger programme that earns less still wins under strongestScope", () => {
    const set = [prog("all", { rules: [{ kind: "spend", per: 100, points: 2 }] }), prog("mine", { scope: { customers: ["c1"] }, rules: [perEuro] })];
    const b = basket([line("1", "A1", 6000)]);
    expect(earnedBy(run(set, b))).toEqual({ mine: 60 });
    expect(earnedBy(run(set, b, customer(), { selection: "bestForCustomer" }))).toEqual({ all: 120 });
  });

  it("bestForCustomer breaks a tie by stronger scope, then by id", () => {
    const set = [
      prog("b-all", { rules: [perEuro] }),
      prog("a-all", { rules: [perEuro] }),
      prog("z-store", { scope: { stores: ["s01"] }, rules: [perEuro] }),
    ];
    const b = basket([line("1", "A1", 1000)]);
    expect(earnedBy(run(set, b, customer(), { selection: "bestForCustomer" }))).toEqual({ "z-store": 10 });
    expect(earnedBy(run(set.slice(0, 2), b, customer(), { selection: "bestForCustomer" }))).toEqual({ "a-all": 10 });
  });

  it("strongestScope breaks a tie in scope by earnings, then by id", () => {
    const set = [prog("b", { rules: [perEuro] }), prog("a", { rules: [perEuro] }), prog("c", { rules: [{ kind: "spend", per: 100, points: 2 }] })];
    const b = basket([line("1", "A1", 1000)]);
    expect(earnedBy(run(set, b))).toEqual({ c: 20 });
    expect(earnedBy(run(set.slice(0, 2), b))).toEqual({ a: 10 });
  });

  it("programmes on different accounts all apply", () => {
    const set = [
      prog("base", { rules: [perEuro] }),
      prog("cashback", { account: "cashback", unit: "money", rules: [{ kind: "spend", per: 100, points: 1 }] }),
    ];
    const a = run(set, basket([line("1", "A1", 12_345)]));
    expect(a.programmes.map((p) => [p.account, p.programme, p.earned])).toEqual([
      ["cashback", "cashback", 123],
      ["points", "base", 123],
    ]);
    expect(a.earned).toBe(246);
  });
});

describe("seed examples: tiers by turnover", () => {
  const tiered = prog("tiers", {
    rules: [
      perEuro,
      {
        kind: "tier",
        windowDays: 365,
        tiers: [
          { minSpend: 0, factor: 1, name: "bronze" },
          { minSpend: 100_000, factor: 1.5, name: "silver" },
          { minSpend: 500_000, factor: 2, name: "gold" },
        ],
      },
    ],
  });
  it.each([
    [0, 20],
    [99_999, 20],
    [100_000, 30],
    [499_999, 30],
    [500_000, 40],
  ])("turnover %i over 365 days: 20.00 earns %i", (turnover, points) => {
    const a = run([tiered], basket([line("1", "A1", 2000)]), customer({ turnoverByWindowDays: { 365: turnover } }));
    expect(a.earned).toBe(points);
  });

  it("missing turnover counts as zero; the plan names the windows it needs", () => {
    const plan = compile([{ programme: parseProgramme(tiered), version: 1 }], { selection: "strongestScope", timeZone: "UTC" });
    expect(plan.turnoverWindowsDays).toEqual([365]);
    expect(evaluate(plan, basket([line("1", "A1", 2000)]), customer()).earned).toBe(20);
  });

  it("below the first tier the factor is 1", () => {
    const p = prog("t", { rules: [perEuro, { kind: "tier", windowDays: 30, tiers: [{ minSpend: 1000, factor: 3 }] }] });
    expect(run([p], basket([line("1", "A1", 2000)]), customer({ turnoverByWindowDays: { 30: 999 } })).earned).toBe(20);
    expect(run([p], basket([line("1", "A1", 2000)]), customer({ turnoverByWindowDays: { 30: 1000 } })).earned).toBe(60);
  });
});

describe("seed examples: points by offer", () => {
  const leaflet = { kind: "offer", offerId: "LEAFLET", points: 50 } as const;
  const coffee = { kind: "offer", offerId: "COFFEE", pointsPerUnit: 10 } as const;

  it("50 points once for a basket that names the offer, breakdown 'offer', to basketEarned", () => {
    const a = run([prog("base", { rules: [perEuro, leaflet] })], basket([line("1", "A1", 1000)], { offerIds: ["LEAFLET"] }));
    expect(a.earned).toBe(60);
    expect(a.programmes[0]).toMatchObject({ lineEarned: { "1": 10 }, basketEarned: 50 });
    expect(a.breakdown.map((i) => [i.rule, i.ruleIndex, i.amount])).toEqual([
      ["spend", 0, 10],
      ["offer", 1, 50],
    ]);
  });

  it("a per-basket offer counts once however many lines name it, and also when a line names it", () => {
    const twice = basket([line("1", "A1", 1000, { offerId: "LEAFLET" }), line("2", "A2", 1000, { offerId: "LEAFLET" })], { offerIds: ["LEAFLET"] });
    expect(run([prog("base", { rules: [perEuro, leaflet] })], twice).earned).toBe(20 + 50);
    const onLine = basket([line("1", "A1", 1000, { offerId: "LEAFLET" })]);
    expect(run([prog("base", { rules: [leaflet] })], onLine).earned).toBe(50);
  });

  it("10 points per unit of the lines that name the offer, attributed to those lines", () => {
    const b = basket([line("1", "C1", 500, { qty: 3, offerId: "COFFEE" }), line("2", "A1", 1000), line("3", "C2", 250, { qty: 0.5, offerId: "COFFEE" })]);
    const a = run([prog("base", { rules: [perEuro, coffee] })], b);
    // spend 5 + 10 + 2.5 = 17.5; offer 30 + 5 = 35; 52.5 -> 52
    expect(a.earned).toBe(52);
    expect(a.breakdown.map((i) => [i.rule, i.amount, i.lines])).toEqual([
      ["spend", 17, ["1", "2", "3"]],
      ["offer", 35, ["1", "3"]],
    ]);
    expect(a.programmes[0]!.lineEarned).toEqual({ "1": 35, "2": 10, "3": 7 });
  });

  it("a per-unit offer named only for the basket earns nothing (it has no units)", () => {
    const a = run([prog("base", { rules: [perEuro, coffee] })], basket([line("1", "A1", 1000)], { offerIds: ["COFFEE"] }));
    expect(a.earned).toBe(10);
  });

  it.each([
    ["a millisecond before from", -1, 0],
    ["at from", 0, 50],
    ["a millisecond before to", 999, 50],
    ["at to (the end is exclusive)", 1000, 0],
  ])("an offer in force for from <= at < to: %s earns %i", (_label, offset, points) => {
    const windowed = { ...leaflet, from: WED, to: WED + 1000 };
    const a = run([prog("base", { rules: [windowed] })], basket([line("1", "A1", 1000)], { at: WED + offset, offerIds: ["LEAFLET"] }));
    expect(a.earned).toBe(points);
  });

  it("a per-unit offer's window is checked in both passes alike (no invariant breach at its edge)", () => {
    const windowed = { ...coffee, from: WED, to: WED + 1000 };
    const b = (at: number) => basket([line("1", "C1", 500, { qty: 2, offerId: "COFFEE" })], { at });
    expect(run([prog("base", { rules: [perEuro, windowed] })], b(WED)).earned).toBe(25);
    expect(run([prog("base", { rules: [perEuro, windowed] })], b(WED + 1000)).earned).toBe(5);
  });

  it("another offer id earns nothing", () => {
    const a = run([prog("base", { rules: [perEuro, leaflet, coffee] })], basket([line("1", "A1", 1000, { offerId: "OTHER" })], { offerIds: ["ALSO-OTHER"] }));
    expect(a.earned).toBe(10);
  });

  it("a promo line earns its offer's points although promo items earn nothing else", () => {
    const b = basket([line("1", "C1", 500, { qty: 2, promo: true, offerId: "COFFEE" }), line("2", "A1", 1000)]);
    const a = run([prog("base", { rules: [perEuro, coffee] })], b);
    expect(a.earned).toBe(10 + 20);
    expect(a.programmes[0]!.lineEarned).toEqual({ "1": 20, "2": 10 });
  });

  it("an offer makes its programme apply to a basket of promo lines only: the offer and the visit earn, spend does not", () => {
    const b = basket([line("1", "C1", 500, { qty: 2, promo: true, offerId: "COFFEE" })]);
    const a = run([prog("base", { rules: [perEuro, coffee, { kind: "visit", points: 5 }] })], b);
    expect(a.earned).toBe(20 + 5);
    expect(a.programmes[0]).toMatchObject({ lineEarned: { "1": 20 }, basketEarned: 5 });
    // Without the offer the programme does not apply at all (docs/rules.md section 3).
    expect(run([prog("base", { rules: [perEuro, coffee, { kind: "visit", points: 5 }] })], basket([line("1", "C1", 500, { promo: true })])).earned).toBe(0);
  });

  it("a line outside the programme's line scope neither earns its offer nor names it for the basket", () => {
    const scoped = prog("drinks", { scope: { categories: ["drinks"] }, rules: [perEuro, coffee, leaflet] });
    const b = basket([line("1", "C1", 500, { qty: 2, category: "bakery", offerId: "COFFEE" }), line("2", "L1", 300, { category: "bakery", offerId: "LEAFLET" }), line("3", "D1", 1000, { category: "drinks" })]);
    expect(run([scoped], b).earned).toBe(10);
  });

  it("factors multiply offer points like any other (a VIP earns the leaflet twice)", () => {
    const a = run([prog("base", { rules: [leaflet, { kind: "multiplier", groups: ["VIP"], factor: 2 }] })], basket([line("1", "A1", 1000)], { offerIds: ["LEAFLET"] }), customer({ groups: ["VIP"] }));
    expect(a.earned).toBe(100);
    expect(a.breakdown.map((i) => [i.rule, i.amount])).toEqual([
      ["offer", 50],
      ["multiplier", 50],
    ]);
  });

  it("two rules on one offer both earn; capPerEvent bounds them", () => {
    const a = run([prog("base", { rules: [leaflet, { ...leaflet, points: 30 }], capPerEvent: 60 })], basket([line("1", "A1", 1000)], { offerIds: ["LEAFLET"] }));
    expect(a.earned).toBe(60);
    expect(a.breakdown.map((i) => [i.rule, i.amount])).toEqual([
      ["offer", 50],
      ["offer", 30],
      ["cap", -20],
    ]);
  });

  it("an offer rule of a programme outside its validity or currency earns nothing", () => {
    const closed = prog("base", { rules: [leaflet], validTo: WED });
    expect(run([closed], basket([line("1", "A1", 1000)], { offerIds: ["LEAFLET"] })).earned).toBe(0);
    const pln = prog("pl", { currency: "PLN", rules: [leaflet] });
    expect(run([pln], basket([line("1", "A1", 1000)], { offerIds: ["LEAFLET"] })).earned).toBe(0);
  });

  it("under strongestScope an offer-only programme of a stronger scope wins its account on a basket of promo lines", () => {
    const vipOffers = prog("vip-offers", { scope: { groups: ["VIP"] }, rules: [coffee] });
    const base = prog("base", { promoItemsEarn: true, rules: [perEuro] });
    const b = basket([line("1", "C1", 500, { qty: 2, promo: true, offerId: "COFFEE" })]);
    expect(earnedBy(run([vipOffers, base], b, customer({ groups: ["VIP"] })))).toEqual({ "vip-offers": 20 });
    expect(earnedBy(run([vipOffers, base], b, customer()))).toEqual({ base: 5 });
  });
});

describe("caps and rounding", () => {
  it("capPerEvent limits a programme and the breakdown shows the cut", () => {
    const p = prog("capped", { capPerEvent: 50, rules: [perEuro, { kind: "visit", points: 5 }] });
    const a = run([p], basket([line("1", "A1", 6000), line("2", "B1", 4000)]));
    expect(a.earned).toBe(50);
    expect(a.breakdown.map((i) => [i.rule, i.amount])).toEqual([
      ["spend", 100],
      ["visit", 5],
      ["cap", -55],
    ]);
    // 50 split over 60 : 40 : 5
    expect(a.programmes[0]).toMatchObject({ lineEarned: { "1": 29, "2": 19 }, basketEarned: 2 });
  });

  it("capPerEvent 0 switches a programme off", () => {
    expect(run([prog("off", { capPerEvent: 0, rules: [perEuro] })], basket([line("1", "A1", 6000)])).earned).toBe(0);
  });

  it.each([
    ["floor", 1250, 12],
    ["round", 1250, 13],
    ["ceil", 1250, 13],
    ["floor", 1249, 12],
    ["round", 1249, 12],
    ["ceil", 1249, 13],
    ["floor", 1200, 12],
    ["round", 1200, 12],
    ["ceil", 1200, 12],
    ["ceil", 700, 7], // 700 * 0.01 is 7.000000000000001 in binary floating point
  ] as const)("rounding %s: %i cents earn %i", (rounding, amount, points) => {
    expect(run([prog("r", { rounding, rules: [perEuro] })], basket([line("1", "A1", amount)])).earned).toBe(points);
  });

  it("ceil does not turn float noise into a point: 10 × 1.1 is 11", () => {
    const p = prog("r", { rounding: "ceil", rules: [perEuro, { kind: "multiplier", groups: ["VIP"], factor: 1.1 }] });
    expect(run([p], basket([line("1", "A1", 1000)]), customer({ groups: ["VIP"] })).earned).toBe(11);
  });

  it("rounding happens once per programme, not per line", () => {
    // Three lines of 1.50: 1.5 + 1.5 + 1.5 = 4.5 -> 4 (per-line floor would give 3).
    const a = run([prog("r", { rules: [perEuro] })], basket([line("1", "A", 150), line("2", "B", 150), line("3", "C", 150)]));
    expect(a.earned).toBe(4);
    // Equal remainders: the extra point goes to the first line.
    expect(a.programmes[0]!.lineEarned).toEqual({ "1": 2, "2": 1, "3": 1 });
  });

  it("attribution follows each line's contribution with the largest remainder", () => {
    const p = prog("mix", { rules: [perEuro, { kind: "sku", sku: "B", pointsPerUnit: 3 }, { kind: "visit", points: 2 }] });
    const a = run([p], basket([line("1", "A", 1234), line("2", "B", 555, { qty: 2 }), line("3", "C", 99)]));
    // raw: line1 12.34, line2 5.55 + 6 = 11.55, line3 0.99, basket 2 -> 26.88 -> 26
    // quotas 26·x/26.88: 11.9375, 11.1719, 0.9576, 1.9345 -> floors 11, 11, 0, 1 (23);
    // the 3 left go to the largest fractions: line3 .9576, line1 .9375, basket .9345.
    expect(a.earned).toBe(26);
    expect(a.programmes[0]).toMatchObject({ lineEarned: { "1": 12, "2": 11, "3": 1 }, basketEarned: 2 });
  });
});

describe("expiry", () => {
  const base = (expiry: ProgrammeInput["expiry"], timeZone?: string): ProgrammeInput => prog("base", { expiry, timeZone: timeZone ?? null, rules: [perEuro] });
  it.each([
    ["afterDays 365", base({ afterDays: 365 }), WED, WED + 365 * DAY],
    ["atYearEnd in Warsaw", base({ atYearEnd: true }), WED, Date.UTC(2026, 11, 31, 23)],
    ["atYearEnd in Warsaw, 00:30 on New Year's Day local", base({ atYearEnd: true }), Date.UTC(2026, 11, 31, 23, 30), Date.UTC(2027, 11, 31, 23)],
    ["atYearEnd in UTC", base({ atYearEnd: true }, "UTC"), WED, Date.UTC(2027, 0, 1)],
    ["no expiry", base(null), WED, null],
  ])("%s", (_l, p, at, expiresAt) => {
    expect(run([p], basket([line("1", "A1", 1000)], { at })).programmes[0]!.expiresAt).toBe(expiresAt);
  });
});

describe("plan", () => {
  it("lists programmes in id order with their accounts and scope, and the redemption per account", () => {
    const plan = compile(
      [
        { programme: parseProgramme(prog("z", { redemption: { pointValue: 2, currency: "EUR" } })), version: 3 },
        { programme: parseProgramme(prog("a", { scope: { groups: ["VIP"] }, redemption: { pointValue: 1, currency: "EUR" } })), version: 7 },
        { programme: parseProgramme(prog("cb", { account: "cashback", unit: "money" })), version: 1 },
      ],
      { selection: "strongestScope", timeZone: "Europe/Warsaw" },
    );
    expect(plan.programmes).toEqual([
      { id: "a", version: 7, account: "points", unit: "points", currency: "EUR", scope: "group" },
      { id: "cb", version: 1, account: "cashback", unit: "money", currency: "EUR", scope: "all" },
      { id: "z", version: 3, account: "points", unit: "points", currency: "EUR", scope: "all" },
    ]);
    expect(plan.redemptionFor("points")).toEqual({ pointValue: 1, currency: "EUR" });
    expect(plan.redemptionFor("cashback")).toBeNull();
    expect(plan.unitFor("cashback")).toBe("money");
    expect(plan.accounts).toEqual(["cashback", "points"]);
  });

  it("refuses a duplicate programme id and an unknown deployment time zone", () => {
    const p = { programme: parseProgramme(prog("a", {})), version: 1 };
    expect(() => compile([p, p], { selection: "strongestScope", timeZone: "UTC" })).toThrow(expect.objectContaining({ code: "VALIDATION", field: "id" }));
    expect(() => compile([p], { selection: "strongestScope", timeZone: "Mars/Olympus" })).toThrow(
      expect.objectContaining({ code: "VALIDATION", field: "timeZone" }),
    );
  });

  it("evaluates with an empty programme set", () => {
    const plan = compile([], { selection: "bestForCustomer", timeZone: "UTC" });
    expect(evaluate(plan, basket([line("1", "A1", 1000)]), customer())).toEqual({ earned: 0, programmes: [], breakdown: [] });
  });

  it("carries the programme version into accruals and breakdown", () => {
    const plan = compile([{ programme: parseProgramme(prog("base", { rules: [perEuro] })), version: 42 }], { selection: "strongestScope", timeZone: "UTC" });
    const a = evaluate(plan, basket([line("1", "A1", 1000)]), customer());
    expect(a.programmes[0]!.version).toBe(42);
    expect(a.breakdown[0]!.version).toBe(42);
  });
});
