// The rewards catalogue end to end: admin CRUD, seasonal prices, redeemReward holds that
// take stock (given back on release and on expiry), products at their card's points
// price, and concurrent redemptions that never take more stock than there is.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, line, sale, startTestEnv, type TestEnv, send as sendHttp } from "./harness.js";

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const HOUR = 3_600_000;

const send = (t: TestEnv, method: string, path: string, body?: unknown, headers: Record<string, string> = auth) =>
  sendHttp(t, method, path, body, headers);

async function stockOf(t: TestEnv, id: string): Promise<number | null> {
  return (await send(t, "GET", `/v1/admin/rewards/${id}`)).body.reward.stock;
}

async function until(what: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Enrols a card and gives it `points` (1 point per 1.00 EUR under the base programme). */
async function customerWith(t: TestEnv, card: string, points: number): Promise<string> {
  const e = await t.rpc("enroll", { requestId: `enr-${card}`, card });
  await t.rpc("accrue", sale(`s-${card}`, { card }, [line("1", 1, points * 100)]));
  return e.customerId;
}

describe("rewards catalogue", () => {
  let t: TestEnv;
  let offset = 0;
  beforeAll(async () => {
    t = await startTestEnv({}, undefined, { now: () => Date.now() + offset });
  });
  afterAll(async () => t?.stop());

  describe("admin", () => {
    it("adds a reward with defaults filled in, shows it with its price now, lists and removes it", async () => {
      const put = await send(t, "PUT", "/v1/admin/rewards/MUG", { name: "Mug", category: "kitchen", pointsPrice: 30, stock: 5 });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({
        ok: true,
        reward: { id: "MUG", name: "Mug", category: "kitchen", account: "points", pointsPrice: 30, stock: 5, seasonalPrices: [], active: true, priceNow: 30 },
      });
      await send(t, "PUT", "/v1/admin/rewards/PEN", { name: "Pen", pointsPrice: 5 });
      expect((await send(t, "GET", "/v1/admin/rewards/PEN")).body).toMatchObject({ ok: true, reward: { id: "PEN", category: null, stock: null, priceNow: 5 } });
      const list = await send(t, "GET", "/v1/admin/rewards");
      expect(list.body.rewards.map((r: { id: string }) => r.id)).toEqual(["MUG", "PEN"]);
      expect(await send(t, "DELETE", "/v1/admin/rewards/PEN")).toEqual({ status: 200, body: { ok: true, id: "PEN", removed: true } });
      const gone = await send(t, "GET", "/v1/admin/rewards/PEN");
      expect(gone.status).toBe(404);
      expect(gone.body).toMatchObject({ ok: false, error: { code: "UNKNOWN_REWARD" } });
      expect((await send(t, "DELETE", "/v1/admin/rewards/PEN")).status).toBe(404);
    });

    it("keeps the current stock when a PUT leaves stock out, and sets it when given", async () => {
      await send(t, "PUT", "/v1/admin/rewards/CAP", { name: "Cap", pointsPrice: 10, stock: 7 });
      expect((await send(t, "PUT", "/v1/admin/rewards/CAP", { name: "Cap (blue)", pointsPrice: 12 })).body.reward).toMatchObject({ name: "Cap (blue)", pointsPrice: 12, stock: 7 });
      expect((await send(t, "PUT", "/v1/admin/rewards/CAP", { name: "Cap", pointsPrice: 12, stock: null })).body.reward.stock).toBeNull();
      expect((await send(t, "PUT", "/v1/admin/rewards/CAP", { name: "Cap", pointsPrice: 12, stock: 2 })).body.reward.stock).toBe(2);
    });

    it("refuses invalid rewards naming the field", async () => {
      const cases: [unknown, string][] = [
        [{ name: "X", pointsPrice: 0 }, "pointsPrice"],
        [{ name: "X", pointsPrice: 1.5 }, "pointsPrice"],
        [{ name: "X", pointsPrice: 5, stock: -1 }, "stock"],
        [{ pointsPrice: 5 }, "name"],
        [{ name: "X", pointsPrice: 5, colour: "red" }, "colour"],
        [{ name: "X", pointsPrice: 5, seasonalPrices: [{ from: 2000, to: 1000, pointsPrice: 3 }] }, "seasonalPrices[0].to"],
        [{ name: "X", pointsPrice: 5, seasonalPrices: [{ from: 1000, to: 3000, pointsPrice: 3 }, { from: 2000, to: 4000, pointsPrice: 2 }] }, "seasonalPrices[1].from"],
        [{ id: "OTHER", name: "X", pointsPrice: 5 }, "id"],
      ];
      for (const [body, field] of cases) {
        const r = await send(t, "PUT", "/v1/admin/rewards/X", body);
        expect(r.status, JSON.stringify(body)).toBe(422);
        expect(r.body).toMatchObject({ ok: false, error: { code: "VALIDATION", field } });
      }
      expect((await send(t, "PUT", "/v1/admin/rewards/X", [1, 2])).body).toMatchObject({ error: { code: "BAD_REQUEST" } });
      expect((await send(t, "GET", "/v1/admin/rewards/X")).status).toBe(404);
    });

    it("refuses catalogue changes without the token", async () => {
      expect((await send(t, "PUT", "/v1/admin/rewards/Y", { name: "Y", pointsPrice: 1 }, {})).status).toBe(401);
      expect((await send(t, "GET", "/v1/admin/rewards", undefined, {})).status).toBe(401);
      expect((await send(t, "DELETE", "/v1/admin/rewards/MUG", undefined, { authorization: "Bearer wrong-token!" })).status).toBe(401);
    });
  });

  describe("redeemReward", () => {
    beforeAll(async () => {
      await customerWith(t, "C-R1", 100);
      await send(t, "PUT", "/v1/admin/rewards/MUG", { name: "Mug", category: "kitchen", pointsPrice: 30, stock: 5 });
    });

    it("holds price x qty, takes the stock, and capture settles it as a redemption naming the reward", async () => {
      const r = await t.rpc("redeemReward", { requestId: "rr-1", customer: { card: "C-R1" }, rewardId: "MUG", qty: 2 });
      expect(r).toMatchObject({ ok: true, approved: true, rewardId: "MUG", qty: 2, price: 30, amount: 60, available: 40, account: "points" });
      expect(r.holdId).toMatch(/^h_/);
      expect(r.expiresAt).toBeGreaterThan(Date.now());
      expect(await stockOf(t, "MUG")).toBe(3);
      const b = await t.rpc("balance", { customer: { card: "C-R1" } });
      expect(b.accounts[0]).toMatchObject({ balance: 100, held: 60, available: 40 });
      const c = await t.rpc("capture", { requestId: "rc-1", holdId: r.holdId });
      expect(c).toMatchObject({ ok: true, captured: 60, released: 0, balance: 40, available: 40, rewardId: "MUG", qty: 2 });
      expect(await stockOf(t, "MUG")).toBe(3);
      const st = await t.rpc("statement", { customer: { card: "C-R1" } });
      expect(st.entries.at(-1)).toMatchObject({ kind: "redemption", amount: -60, holdId: r.holdId });
      expect(st.entries.at(-1).cause).toContain("reward MUG x2");
    });

    it("answers a repeated request with the first reply and duplicate: true, taking stock once", async () => {
      const again = await t.rpc("redeemReward", { requestId: "rr-1", customer: { card: "C-R1" }, rewardId: "MUG", qty: 2 });
      expect(again).toMatchObject({ ok: true, approved: true, amount: 60, duplicate: true });
      expect(await stockOf(t, "MUG")).toBe(3);
      const other = await t.rpc("redeemReward", { requestId: "rr-1", customer: { card: "C-R1" }, rewardId: "MUG", qty: 1 });
      expect(other).toMatchObject({ ok: false, error: { code: "IDEMPOTENCY_CONFLICT" }, requestId: "rr-1" });
    });

    it("gives the stock back on release", async () => {
      const r = await t.rpc("redeemReward", { requestId: "rr-2", customer: { card: "C-R1" }, rewardId: "MUG" });
      expect(r).toMatchObject({ approved: true, qty: 1, amount: 30, available: 10 });
      expect(await stockOf(t, "MUG")).toBe(2);
      expect(await t.rpc("release", { requestId: "rl-2", holdId: r.holdId })).toMatchObject({ ok: true, released: 30, available: 40 });
      expect(await stockOf(t, "MUG")).toBe(3);
      // A second release changes nothing.
      expect(await t.rpc("release", { requestId: "rl-2b", holdId: r.holdId })).toMatchObject({ ok: false, error: { code: "HOLD_CLOSED" } });
      expect(await stockOf(t, "MUG")).toBe(3);
    });

    it("refuses more than the stock with OUT_OF_STOCK, more than available with INSUFFICIENT_BALANCE", async () => {
      await customerWith(t, "C-R2", 1000);
      const out = await t.rpc("redeemReward", { requestId: "rr-3", customer: { card: "C-R2" }, rewardId: "MUG", qty: 4 });
      expect(out).toEqual({ ok: true, approved: false, reason: "OUT_OF_STOCK", customerId: expect.any(String), account: "points", rewardId: "MUG", qty: 4, price: 30, stock: 3, available: 1000 });
      const poor = await t.rpc("redeemReward", { requestId: "rr-4", customer: { card: "C-R1" }, rewardId: "MUG", qty: 2 });
      expect(poor).toMatchObject({ ok: true, approved: false, reason: "INSUFFICIENT_BALANCE", requested: 60, available: 40, price: 30 });
      expect(await stockOf(t, "MUG")).toBe(3);
      // A denial is recorded under its request id, like authorize's.
      expect(await t.rpc("redeemReward", { requestId: "rr-4", customer: { card: "C-R1" }, rewardId: "MUG", qty: 2 })).toMatchObject({ approved: false, duplicate: true });
    });

    it("refuses an inactive reward with REWARD_INACTIVE and an unknown one with UNKNOWN_REWARD", async () => {
      await send(t, "PUT", "/v1/admin/rewards/OLD", { name: "Old", pointsPrice: 1, stock: 10, active: false });
      expect(await t.rpc("redeemReward", { requestId: "rr-5", customer: { card: "C-R2" }, rewardId: "OLD" })).toMatchObject({ ok: true, approved: false, reason: "REWARD_INACTIVE" });
      expect(await stockOf(t, "OLD")).toBe(10);
      const unknown = await t.post("/v1/redeemReward", { requestId: "rr-6", customer: { card: "C-R2" }, rewardId: "NOPE" });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toMatchObject({ ok: false, error: { code: "UNKNOWN_REWARD", field: "rewardId" }, requestId: "rr-6" });
      expect(await t.rpc("redeemReward", { requestId: "rr-7", customer: { card: "C-NONE" }, rewardId: "MUG" })).toMatchObject({ error: { code: "UNKNOWN_CUSTOMER" } });
    });

    it("validates the request", async () => {
      const both = await t.rpc("redeemReward", { requestId: "rr-v1", customer: { card: "C-R2" }, rewardId: "MUG", sku: "TEA" });
      expect(both).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "rewardId" } });
      const neither = await t.rpc("redeemReward", { requestId: "rr-v2", customer: { card: "C-R2" } });
      expect(neither).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "rewardId" } });
      expect(await t.rpc("redeemReward", { requestId: "rr-v3", customer: { card: "C-R2" }, rewardId: "MUG", qty: 0 })).toMatchObject({ error: { code: "VALIDATION", field: "qty" } });
      expect(await t.rpc("redeemReward", { requestId: "rr-v4", customer: { card: "C-R2" }, rewardId: "MUG", ttlMs: 10 })).toMatchObject({ error: { code: "VALIDATION", field: "ttlMs" } });
    });

    it("redeems a product at its card's points price, with unlimited stock", async () => {
      await send(t, "PUT", "/v1/admin/products/TEA", { name: "Green tea", pointsPrice: 15 });
      const r = await t.rpc("redeemReward", { requestId: "rr-8", customer: { card: "C-R2" }, sku: "TEA", qty: 2 });
      expect(r).toMatchObject({ ok: true, approved: true, sku: "TEA", qty: 2, price: 15, amount: 30, available: 970 });
      expect(r.rewardId).toBeUndefined();
      expect(await t.rpc("capture", { requestId: "rc-8", holdId: r.holdId })).toMatchObject({ captured: 30, balance: 970, sku: "TEA", qty: 2 });
      const st = await t.rpc("statement", { customer: { card: "C-R2" } });
      expect(st.entries.at(-1).cause).toContain("product TEA x2");
      await send(t, "PUT", "/v1/admin/products/SUGAR", { name: "Sugar", pointsPerUnit: 1 });
      expect(await t.rpc("redeemReward", { requestId: "rr-9", customer: { card: "C-R2" }, sku: "SUGAR" })).toMatchObject({ error: { code: "UNKNOWN_REWARD", field: "sku" } });
    });

    it("gives the stock back when a hold expires, and a capture after expiry fails", async () => {
      await customerWith(t, "C-R3", 100);
      await send(t, "PUT", "/v1/admin/rewards/BAG", { name: "Bag", pointsPrice: 20, stock: 2 });
      const swept = await t.rpc("redeemReward", { requestId: "rr-10", customer: { card: "C-R3" }, rewardId: "BAG", ttlMs: 1000 });
      const lazy = await t.rpc("redeemReward", { requestId: "rr-11", customer: { card: "C-R3" }, rewardId: "BAG", ttlMs: 60_000 });
      expect([swept.approved, lazy.approved]).toEqual([true, true]);
      expect(await stockOf(t, "BAG")).toBe(0);
      expect(await t.rpc("redeemReward", { requestId: "rr-12", customer: { card: "C-R3" }, rewardId: "BAG" })).toMatchObject({ approved: false, reason: "OUT_OF_STOCK", stock: 0 });
      // The hold sweeper (once a second) expires the short hold.
      await until(async () => (await stockOf(t, "BAG")) === 1);
      expect(await t.rpc("capture", { requestId: "rc-10", holdId: swept.holdId })).toMatchObject({ ok: false, error: { code: "HOLD_EXPIRED" } });
      // Past the long hold's time: the capture finds it expired (whether or not the sweeper got there first).
      offset += 61_000;
      expect(await t.rpc("capture", { requestId: "rc-11", holdId: lazy.holdId })).toMatchObject({ ok: false, error: { code: "HOLD_EXPIRED" } });
      expect(await stockOf(t, "BAG")).toBe(2);
      const b = await t.rpc("balance", { customer: { card: "C-R3" } });
      expect(b.accounts[0]).toMatchObject({ balance: 100, held: 0, available: 100 });
    });

    it("prices at the seasonal price while its window is open, at the base price outside it", async () => {
      await customerWith(t, "C-R4", 500);
      const now = Date.now() + offset;
      const seasonalPrices = [{ from: now + HOUR, to: now + 2 * HOUR, pointsPrice: 20 }];
      const put = await send(t, "PUT", "/v1/admin/rewards/XMAS", { name: "Xmas tree", category: "seasonal", pointsPrice: 50, seasonalPrices });
      expect(put.body.reward).toMatchObject({ pointsPrice: 50, priceNow: 50, seasonalPrices });
      const before = await t.rpc("redeemReward", { requestId: "rr-20", customer: { card: "C-R4" }, rewardId: "XMAS", qty: 2, ttlMs: 86_400_000 });
      expect(before).toMatchObject({ approved: true, price: 50, amount: 100, available: 400 });
      offset += 1.5 * HOUR;
      expect((await send(t, "GET", "/v1/admin/rewards/XMAS")).body.reward.priceNow).toBe(20);
      const during = await t.rpc("redeemReward", { requestId: "rr-21", customer: { card: "C-R4" }, rewardId: "XMAS", qty: 2, ttlMs: 86_400_000 });
      expect(during).toMatchObject({ approved: true, price: 20, amount: 40, available: 360 });
      offset += HOUR;
      const after = await t.rpc("redeemReward", { requestId: "rr-22", customer: { card: "C-R4" }, rewardId: "XMAS", qty: 1, ttlMs: 86_400_000 });
      expect(after).toMatchObject({ approved: true, price: 50, amount: 50, available: 310 });
      // A hold keeps the price it was placed at.
      expect(await t.rpc("capture", { requestId: "rc-21", holdId: during.holdId })).toMatchObject({ captured: 40, balance: 460 });
    });
  });
});

describe.each([
  ["inline", { executor: "inline", partitions: 4 }],
  ["workers", { executor: "workers", partitions: 4 }],
])("concurrent redemptions (%s executor)", (_name, overrides) => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv(overrides);
  });
  afterAll(async () => t?.stop());

  it("never issues more than the stock, across partitions", async () => {
    const customers = 40;
    const stock = 3;
    await Promise.all(Array.from({ length: customers }, (_, i) => customerWith(t, `C-RACE-${i}`, 100)));
    await send(t, "PUT", "/v1/admin/rewards/GOLD", { name: "Gold", pointsPrice: 10, stock });
    const replies = await Promise.all(
      Array.from({ length: customers }, (_, i) =>
        t.rpc("redeemReward", { requestId: `race-${i}`, customer: { card: `C-RACE-${i}` }, rewardId: "GOLD", qty: 1 }),
      ),
    );
    const approved = replies.filter((r) => r.approved === true);
    expect(approved).toHaveLength(stock);
    expect(replies.filter((r) => r.reason === "OUT_OF_STOCK")).toHaveLength(customers - stock);
    expect(replies.every((r) => r.ok === true)).toBe(true);
    expect(await stockOf(t, "GOLD")).toBe(0);
    // Two units each, many at once: still never below zero.
    await send(t, "PUT", "/v1/admin/rewards/SILVER", { name: "Silver", pointsPrice: 1, stock: 7 });
    const pairs = await Promise.all(
      Array.from({ length: customers }, (_, i) =>
        t.rpc("redeemReward", { requestId: `race2-${i}`, customer: { card: `C-RACE-${i}` }, rewardId: "SILVER", qty: 2 }),
      ),
    );
    expect(pairs.filter((r) => r.approved === true)).toHaveLength(3);
    expect(await stockOf(t, "SILVER")).toBe(1);
    // Releasing every approved hold gives every unit back.
    await Promise.all(approved.map((r, i) => t.rpc("release", { requestId: `race-rel-${i}`, holdId: r.holdId })));
    expect(await stockOf(t, "GOLD")).toBe(stock);
  });
});
