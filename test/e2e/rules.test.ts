// Every rule kind through accrue and quote end to end, with the ledger keeping the
// turnover that tiers read (returns included).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { line, sale, startTestEnv, type TestEnv } from "./harness.js";

const MONDAY = Date.UTC(2026, 0, 5, 12);
const TUESDAY = Date.UTC(2026, 0, 6, 12);
const DAY = 86_400_000;

const ALL_KINDS = {
  id: "all",
  name: "Every rule kind",
  account: "points",
  currency: "EUR",
  timeZone: "UTC",
  rules: [
    { kind: "spend", per: 100, points: 1 },
    { kind: "sku", sku: "A1", pointsPerUnit: 5 },
    { kind: "category", category: "drinks", per: 100, points: 2 },
    { kind: "visit", points: 10 },
    { kind: "tender", tender: "giftcard", per: 100, points: 1 },
    { kind: "threshold", minTotal: 10000, points: 50 },
    { kind: "multiplier", groups: ["VIP"], factor: 2 },
    { kind: "period", weekdays: [1], factor: 3 },
    { kind: "tier", windowDays: 30, tiers: [{ minSpend: 0, factor: 1 }, { minSpend: 20000, factor: 1.5 }] },
  ],
};

describe("rule kinds end to end", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv({}, [ALL_KINDS]);
    await t.rpc("enroll", { requestId: "e-1", card: "C-ALL" });
    await t.rpc("enroll", { requestId: "e-2", card: "C-VIP", group: "VIP" });
  });
  afterAll(async () => t?.stop());

  it("adds spend, sku, category, visit, tender and threshold, and quote says the same as accrue", async () => {
    const basket = sale("k-1", { card: "C-ALL" }, [line("1", 2, 1250, { sku: "A1", category: "drinks" }), line("2", 1, 8000, { sku: "B2", category: "bakery" })], {
      at: TUESDAY,
      tenders: [{ type: "giftcard", amount: 3000 }, { type: "card", amount: 7500 }],
    });
    // spend 105 + sku 2x5 + drinks 25.00x2 + visit 10 + giftcard 30.00 + threshold 50 = 255
    const q = await t.rpc("quote", { ...basket, eventId: "k-1-quote" });
    const a = await t.rpc("accrue", basket);
    expect(q.earned).toBe(255);
    expect(a).toMatchObject({ ok: true, earned: 255, balance: 255 });
    const byRule = Object.fromEntries(a.breakdown.map((b: { rule: string; amount: number }) => [b.rule, b.amount]));
    expect(byRule).toEqual({ spend: 105, sku: 10, category: 50, visit: 10, tender: 30, threshold: 50 });
    expect(q.breakdown).toEqual(a.breakdown);
  });

  it("multiplies for the customer's group and the event's weekday, at the event's own time", async () => {
    // Monday, VIP: (spend 10 + visit 10) x 2 x 3 = 120
    const r = await t.rpc("accrue", sale("k-vip", { card: "C-VIP" }, [line("1", 1, 1000, { sku: "B2", category: "bakery" })], { at: MONDAY }));
    expect(r.earned).toBe(120);
    const tuesday = await t.rpc("quote", sale("k-vip-q", { card: "C-VIP" }, [line("1", 1, 1000, { sku: "B2", category: "bakery" })], { at: TUESDAY }));
    expect(tuesday.earned).toBe(40);
  });

  it("raises the tier once turnover over the window passes its threshold, and lowers it after a return", async () => {
    const buy = (id: string, amount: number, at: number) =>
      t.rpc("accrue", sale(id, { card: "C-ALL" }, [line("1", 1, amount, { sku: "B2", category: "bakery" })], { at }));
    // Turnover before: 105.00 (k-1). 100 spend + 10 visit + 50 threshold = 160, tier 1.
    expect((await buy("k-2", 10000, TUESDAY + DAY)).earned).toBe(160);
    // Turnover before: 205.00 >= 200.00: (40 + 10) x 1.5 = 75.
    expect((await buy("k-3", 4000, TUESDAY + 2 * DAY)).earned).toBe(75);
    // Returning k-2 takes its 100.00 out of the turnover: back to tier 1.
    const ret = await t.rpc("accrue", { type: "return", eventId: "k-2-r", originalEventId: "k-2", at: TUESDAY + 2 * DAY });
    expect(ret.earned).toBe(-160);
    expect((await buy("k-4", 4000, TUESDAY + 3 * DAY)).earned).toBe(50);
    // Outside the 30-day window the old turnover no longer counts either.
    expect((await buy("k-5", 1000, TUESDAY + 40 * DAY)).earned).toBe(20);
  });
});

describe("selection, caps and rounding end to end", () => {
  const wide = { id: "wide", account: "points", currency: "EUR", rules: [{ kind: "spend", per: 300, points: 1 }], rounding: "ceil" };
  const store = { id: "store-s07", account: "points", currency: "EUR", scope: { stores: ["s07"] }, rules: [{ kind: "spend", per: 1000, points: 1 }], rounding: "round" };
  const capped = { id: "capped", account: "bonus", currency: "EUR", rules: [{ kind: "spend", per: 100, points: 5 }], capPerEvent: 100 };
  const basket = (id: string, storeId: string, amount: number) => sale(id, { card: "C-SEL" }, [line("1", 1, amount, { sku: "X", category: "bakery" })], { storeId });

  it("strongestScope: the store's programme wins at its store, even when it earns less; caps and rounding apply", async () => {
    const t = await startTestEnv({}, [wide, store, capped]);
    try {
      await t.rpc("enroll", { requestId: "e", card: "C-SEL" });
      // s07: store-s07 wins: 25.50 / 10.00 = 2.55 -> round 3; capped 127.5 -> floor 127 -> cap 100.
      const a = await t.rpc("accrue", basket("sel-1", "s07", 2550));
      expect(a.accounts).toEqual(expect.arrayContaining([expect.objectContaining({ account: "points", earned: 3 }), expect.objectContaining({ account: "bonus", earned: 100 })]));
      expect(a.breakdown.map((b: { programme: string }) => b.programme).sort()).toEqual(["capped", "capped", "store-s07"]);
      // Elsewhere: wide, 25.50 / 3.00 = 8.5 -> ceil 9.
      const b = await t.rpc("quote", basket("sel-2", "s01", 2550));
      expect(b.breakdown.filter((x: { programme: string }) => x.programme === "wide").reduce((s: number, x: { amount: number }) => s + x.amount, 0)).toBe(9);
    } finally {
      await t.stop();
    }
  });

  it("bestForCustomer: the programme that earns most wins, whatever its scope", async () => {
    const t = await startTestEnv({ programmeSelection: "bestForCustomer" }, [wide, store]);
    try {
      await t.rpc("enroll", { requestId: "e", card: "C-SEL" });
      const a = await t.rpc("accrue", basket("sel-3", "s07", 2550));
      expect(a).toMatchObject({ earned: 9, breakdown: [expect.objectContaining({ programme: "wide" })] });
    } finally {
      await t.stop();
    }
  });
});
