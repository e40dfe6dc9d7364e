// The segment filter language: every condition, and/or/not, the schema's refusals, and
// birthdays across month and year ends. Pure: facts are built by hand.
import { describe, expect, it } from "vitest";
import { compileFilter, daysToBirthday, filterSchema, type Filter, type SegmentFacts } from "../../../src/admin/segments/filter.js";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 30, 12); // 30 November 2026

interface Purchase {
  at: number;
  sku: string;
  category: string;
  qty: number;
  amount: number;
  store: string;
  channel: string;
}

function facts(over: Partial<{
  createdAt: number;
  groups: string[];
  attributes: Record<string, string | number | boolean>;
  birthday: string | null;
  consents: Record<string, boolean>;
  tier: string | null;
  accounts: Record<string, { balance: number; held: number }>;
  lots: { account: string; at: number; amount: number }[];
  purchases: Purchase[];
}> = {}): SegmentFacts {
  const f = { createdAt: NOW - 100 * DAY, groups: [], attributes: {}, birthday: null, consents: {}, tier: null, accounts: {}, lots: [], purchases: [], ...over };
  const visits = (from: number, to: number) => new Set(f.purchases.filter((p) => p.at >= from && p.at <= to).map((p) => p.at)).size;
  return {
    customerId: "cu_1",
    createdAt: f.createdAt,
    groups: f.groups,
    attributes: f.attributes,
    birthday: f.birthday,
    consented: (ch) => f.consents[ch] === true,
    tier: () => f.tier,
    account: (name) => f.accounts[name] ?? { balance: 0, held: 0 },
    expiring: (name, until) => f.lots.filter((l) => l.account === name && l.at <= until).reduce((s, l) => s + l.amount, 0),
    lastVisitAt: () => (f.purchases.length ? Math.max(...f.purchases.map((p) => p.at)) : null),
    visitedStore: (s) => f.purchases.some((p) => p.store === s),
    usedChannel: (c) => f.purchases.some((p) => p.channel === c),
    bought: (what, from, to) => {
      const hit = f.purchases.filter((p) => p.at >= from && p.at <= to && ((what.skus?.includes(p.sku) ?? false) || (what.categories?.includes(p.category) ?? false)));
      return { count: hit.reduce((s, p) => s + p.qty, 0), amount: hit.reduce((s, p) => s + p.amount, 0) };
    },
    spendIn: (from, to) => f.purchases.filter((p) => p.at >= from && p.at <= to).reduce((s, p) => s + p.amount, 0),
    visitsIn: visits,
  };
}

const holds = (filter: Filter, c: SegmentFacts) => compileFilter(filterSchema.parse(filter), NOW)(c);
const buy = (daysAgo: number, over: Partial<Purchase> = {}): Purchase => ({ at: NOW - daysAgo * DAY, sku: "A1", category: "drinks", qty: 1, amount: 500, store: "s01", channel: "store", ...over });

describe("segment filters", () => {
  it("matches everyone with an empty filter", () => {
    expect(holds({}, facts())).toBe(true);
  });

  it("balance and available per account, with bounds on both sides", () => {
    const c = facts({ accounts: { points: { balance: 500, held: 200 }, prepaid: { balance: 10, held: 0 } } });
    expect(holds({ balance: { gte: 500 } }, c)).toBe(true);
    expect(holds({ balance: { gte: 501 } }, c)).toBe(false);
    expect(holds({ balance: { lte: 499 } }, c)).toBe(false);
    expect(holds({ available: { gte: 300, lte: 300 } }, c)).toBe(true);
    expect(holds({ balance: { account: "prepaid", gte: 10 } }, c)).toBe(true);
    expect(holds({ balance: { account: "other", lte: 0 } }, c)).toBe(true);
  });

  it("tier, groups (any of), attributes (all equal)", () => {
    const c = facts({ tier: "gold", groups: ["VIP", "staff"], attributes: { city: "Warsaw", kids: 2, newsletter: true } });
    expect(holds({ tier: ["silver", "gold"] }, c)).toBe(true);
    expect(holds({ tier: ["silver"] }, c)).toBe(false);
    expect(holds({ tier: ["gold"] }, facts())).toBe(false);
    expect(holds({ groups: ["nobody", "staff"] }, c)).toBe(true);
    expect(holds({ groups: ["nobody"] }, c)).toBe(false);
    expect(holds({ attributes: { city: "Warsaw", kids: 2 } }, c)).toBe(true);
    expect(holds({ attributes: { city: "Warsaw", kids: 3 } }, c)).toBe(false);
    expect(holds({ attributes: { newsletter: "true" } }, c)).toBe(false);
    expect(holds({ attributes: { constructor: "x" } }, c)).toBe(false);
  });

  it("points expiring within N days, at least an amount", () => {
    const c = facts({ lots: [{ account: "points", at: NOW + 5 * DAY, amount: 40 }, { account: "points", at: NOW + 40 * DAY, amount: 100 }] });
    expect(holds({ expiring: { withinDays: 7 } }, c)).toBe(true);
    expect(holds({ expiring: { withinDays: 7, gte: 41 } }, c)).toBe(false);
    expect(holds({ expiring: { withinDays: 45, gte: 140 } }, c)).toBe(true);
    expect(holds({ expiring: { withinDays: 4 } }, c)).toBe(false);
    expect(holds({ expiring: { account: "prepaid", withinDays: 45 } }, c)).toBe(false);
  });

  it("bought SKUs or categories in a window, by count and amount", () => {
    const c = facts({ purchases: [buy(10, { qty: 2, amount: 1000 }), buy(50, { sku: "B2", category: "food", amount: 300 })] });
    expect(holds({ bought: { skus: ["A1"] } }, c)).toBe(true);
    expect(holds({ bought: { skus: ["A1"], minCount: 3 } }, c)).toBe(false);
    expect(holds({ bought: { skus: ["A1"], minCount: 2, minAmount: 1000 } }, c)).toBe(true);
    expect(holds({ bought: { categories: ["food"], from: NOW - 30 * DAY } }, c)).toBe(false);
    expect(holds({ bought: { categories: ["food"], from: NOW - 60 * DAY, to: NOW - 40 * DAY } }, c)).toBe(true);
    expect(holds({ bought: { skus: ["ZZ"] } }, c)).toBe(false);
  });

  it("stores, channels, last visit, enrolment date", () => {
    const c = facts({ createdAt: NOW - 400 * DAY, purchases: [buy(3, { store: "s07", channel: "online" })] });
    expect(holds({ stores: ["s01", "s07"] }, c)).toBe(true);
    expect(holds({ stores: ["s01"] }, c)).toBe(false);
    expect(holds({ channels: ["online"] }, c)).toBe(true);
    expect(holds({ channels: ["store"] }, c)).toBe(false);
    expect(holds({ lastVisit: { after: NOW - 7 * DAY } }, c)).toBe(true);
    expect(holds({ lastVisit: { before: NOW - 7 * DAY } }, c)).toBe(false);
    expect(holds({ lastVisit: { after: 0 } }, facts())).toBe(false);
    expect(holds({ enrolled: { to: NOW - 365 * DAY } }, c)).toBe(true);
    expect(holds({ enrolled: { from: NOW - 365 * DAY } }, c)).toBe(false);
  });

  it("spend and visits in a period", () => {
    const c = facts({ purchases: [buy(1), buy(2), buy(40, { amount: 2000 })] });
    expect(holds({ spend: { from: NOW - 30 * DAY, gte: 1000, lte: 1000 } }, c)).toBe(true);
    expect(holds({ spend: { gte: 3000 } }, c)).toBe(true);
    expect(holds({ visits: { from: NOW - 30 * DAY, gte: 3 } }, c)).toBe(false);
    expect(holds({ visits: { gte: 3 } }, c)).toBe(true);
  });

  it("consent to a channel", () => {
    const c = facts({ consents: { email: true, sms: false } });
    expect(holds({ consent: "email" }, c)).toBe(true);
    expect(holds({ consent: "sms" }, c)).toBe(false);
    expect(holds({ consent: "post" }, c)).toBe(false);
  });

  it("birthdays within N days, across the month and the year end, and 29 February", () => {
    expect(daysToBirthday("1990-11-30", NOW)).toBe(0);
    expect(daysToBirthday("12-01", NOW)).toBe(1);
    expect(daysToBirthday("1985-01-02", NOW)).toBe(33);
    expect(daysToBirthday("1990-11-29", NOW)).toBe(364);
    expect(daysToBirthday("2000-02-29", Date.UTC(2027, 1, 27))).toBe(1); // 28 Feb in 2027
    expect(daysToBirthday("2000-02-29", Date.UTC(2028, 1, 27))).toBe(2); // 29 Feb in 2028
    expect(holds({ birthdayWithinDays: 7 }, facts({ birthday: "12-05" }))).toBe(true);
    expect(holds({ birthdayWithinDays: 7 }, facts({ birthday: "12-25" }))).toBe(false);
    expect(holds({ birthdayWithinDays: 7 }, facts())).toBe(false);
  });

  it("combines with all, any and not, and conditions in one object all hold", () => {
    const c = facts({ groups: ["VIP"], accounts: { points: { balance: 100, held: 0 } } });
    expect(holds({ groups: ["VIP"], balance: { gte: 200 } }, c)).toBe(false);
    expect(holds({ any: [{ groups: ["VIP"] }, { balance: { gte: 200 } }] }, c)).toBe(true);
    expect(holds({ all: [{ groups: ["VIP"] }, { not: { balance: { gte: 200 } } }] }, c)).toBe(true);
    expect(holds({ not: { all: [] } }, c)).toBe(false);
    expect(holds({ any: [] }, c)).toBe(false);
  });

  it("refuses unknown conditions, wrong types and mixed shapes", () => {
    for (const bad of [{ colour: "red" }, { balance: { gte: "10" } }, { tier: [] }, { consent: "fax" }, { all: [{}], groups: ["x"] }, { not: [] }, { expiring: { gte: 1 } }]) {
      expect(filterSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
