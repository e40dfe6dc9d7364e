// Sales targets in the plan (pure): the rule's schema, what a line contributes, whom a
// target counts.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile } from "../../src/rules/compile.js";
import { evaluate } from "../../src/rules/evaluate.js";
import { parseProgramme } from "../../src/rules/programme.js";
import { lineContribution, targetAward, targetCounts, targetsOf } from "../../src/rules/targets.js";

const FROM = Date.UTC(2026, 2, 1);
const TO = Date.UTC(2026, 3, 1);
const programme = (rules: unknown[], scope: Record<string, unknown> = {}) => parseProgramme({ id: "p", currency: "PLN", scope, rules });
const target = (extra: Record<string, unknown> = {}) => ({ kind: "target", metric: "qty", from: FROM, to: TO, goal: 10, points: 100, ...extra });
const line = (extra: Record<string, unknown> = {}) => ({ date: "2026-03-10", sku: "A", category: "paint", qty: 2.5, amount: 1000, ...extra });

describe("target rules", () => {
  it("validate the window, the goal and the metric", () => {
    expect(() => programme([target({ to: FROM })])).toThrow(/to: must be after from/);
    expect(() => programme([target({ metric: "amount", goal: 10.5 })])).toThrow(/integer/);
    expect(() => programme([target({ metric: "visits" })])).toThrow(/metric/);
    expect(() => programme([target({ goal: 0 })])).toThrow(/goal/);
  });

  it("are listed by the plan with an id by position unless named, and earn nothing on a basket", () => {
    const p = programme([{ kind: "spend", per: 100, points: 1 }, target(), target({ id: "spring", metric: "amount", goal: 5000 })]);
    const plan = compile([{ programme: p, version: 3 }], { selection: "strongestScope", timeZone: "UTC" });
    expect(plan.targets.map((t) => [t.id, t.version, t.goal])).toEqual([["p#1", 3, 10_000], ["spring", 3, 5000]]);
    const basket = { eventId: "e", at: FROM, storeId: "s", channel: "b2b", terminalId: null, currency: "PLN", lines: [{ lineId: "1", sku: "A", qty: 1, unitPrice: 1000, amount: 1000, category: null, promo: false }], tenders: [], total: 1000 };
    expect(evaluate(plan, basket, { customerId: "c", groups: [], turnoverByWindowDays: {} }).earned).toBe(10);
  });

  it("count a line by sku or category, within [from, to) by the invoice date's first instant", () => {
    const [t] = targetsOf([{ programme: programme([target({ skus: ["B"], categories: ["paint"] })]), version: 1 }]);
    expect(lineContribution(t!, line(), "UTC")).toBe(2500);
    expect(lineContribution(t!, line({ category: "tools" }), "UTC")).toBe(0);
    expect(lineContribution(t!, line({ sku: "B", category: undefined }), "UTC")).toBe(2500);
    expect(lineContribution(t!, line({ date: "2026-02-28" }), "UTC")).toBe(0);
    expect(lineContribution(t!, line({ date: "2026-03-01" }), "UTC")).toBe(2500);
    expect(lineContribution(t!, line({ date: "2026-04-01" }), "UTC")).toBe(0);
    // In Warsaw 1 April starts at 31 March 22:00 UTC: before `to`.
    expect(lineContribution(t!, line({ date: "2026-04-01" }), "Europe/Warsaw")).toBe(2500);
    const [amount] = targetsOf([{ programme: programme([target({ metric: "amount", goal: 5000 })]), version: 1 }]);
    expect(lineContribution(amount!, line(), "UTC")).toBe(1000);
  });

  it("count the participants of the programme's customer and group scope", () => {
    const [t] = targetsOf([{ programme: programme([target()], { groups: ["gold"] }), version: 1 }]);
    expect(targetCounts(t!, "c", ["north"])).toBe(false);
    expect(targetCounts(t!, "c", ["north", "gold"])).toBe(true);
    const [anyone] = targetsOf([{ programme: programme([target()]), version: 1 }]);
    expect(targetCounts(anyone!, "c", [])).toBe(true);
  });
});

describe("target tiers", () => {
  const tiered = (tiers: unknown, extra: Record<string, unknown> = {}) => {
    const { goal: _g, points: _p, ...rest } = target(extra);
    return { ...rest, tiers };
  };
  const TIERS = [{ goal: 10, points: 100 }, { goal: 20, points: 250 }, { goal: 50, points: 1000 }];

  it("take either tiers or goal and points, goals strictly ascending, amount goals integers", () => {
    expect(() => programme([tiered(TIERS)])).not.toThrow();
    expect(() => programme([{ ...target(), tiers: TIERS }])).toThrow(/either tiers or goal and points/);
    expect(() => programme([{ ...tiered(TIERS), points: 5 }])).toThrow(/either tiers/);
    expect(() => programme([tiered([{ goal: 10, points: 1 }, { goal: 10, points: 2 }])])).toThrow(/strictly ascending/);
    expect(() => programme([tiered([{ goal: 20, points: 1 }, { goal: 10, points: 2 }])])).toThrow(/strictly ascending/);
    expect(() => programme([tiered([{ goal: 10.5, points: 1 }], { metric: "amount" })])).toThrow(/integer/);
    expect(() => programme([tiered([])])).toThrow(/tiers/);
    expect(() => programme([tiered([{ goal: 0, points: 1 }])])).toThrow(/goal/);
    const { goal: _g, ...noGoal } = target();
    expect(() => programme([noGoal])).toThrow(/goal: required/);
    const { points: _p, ...noPoints } = target();
    expect(() => programme([noPoints])).toThrow(/points: required/);
  });

  it("compile to the highest goal, all points together, each tier in the target's units", () => {
    const [t] = targetsOf([{ programme: programme([tiered(TIERS)]), version: 1 }]);
    expect(t).toMatchObject({ goal: 50_000, points: 1350, tiers: [{ goal: 10_000, points: 100 }, { goal: 20_000, points: 250 }, { goal: 50_000, points: 1000 }] });
    const [single] = targetsOf([{ programme: programme([target()]), version: 1 }]);
    expect(single).toMatchObject({ goal: 10_000, points: 100, tiers: null });
  });

  it("award the points of every tier the total has reached, exactly at its goal; one goal: all or nothing", () => {
    const [t] = targetsOf([{ programme: programme([tiered(TIERS)]), version: 1 }]);
    const award = (units: number) => targetAward(t!, units * 1000);
    expect([0, 9.999, 10, 19.999, 20, 49, 50, 1000].map(award)).toEqual([0, 0, 100, 100, 350, 350, 1350, 1350]);
    const [single] = targetsOf([{ programme: programme([target()]), version: 1 }]);
    expect([0, 9_999, 10_000, 99_000].map((a) => targetAward(single!, a))).toEqual([0, 0, 100, 100]);
  });

  it("equals the sum of the reached tiers' points and never falls as the total grows (property)", () => {
    const tiersArb = fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }).chain((goals) =>
      fc.tuple(...goals.sort((x, y) => x - y).map((goal) => fc.integer({ min: 0, max: 1000 }).map((points) => ({ goal, points })))),
    );
    fc.assert(
      fc.property(tiersArb, fc.integer({ min: 0, max: 45_000 }), fc.integer({ min: 0, max: 5_000 }), (tiers, a, more) => {
        const [t] = targetsOf([{ programme: programme([tiered(tiers)]), version: 1 }]);
        expect(targetAward(t!, a)).toBe(tiers.filter((x) => x.goal * 1000 <= a).reduce((sum, x) => sum + x.points, 0));
        expect(targetAward(t!, a + more)).toBeGreaterThanOrEqual(targetAward(t!, a));
      }),
    );
  });
});
