// Expiry, conversions, adjustments and hold timeouts end to end.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, BASE_PROGRAMME, line, sale, startTestEnv, type TestEnv } from "./harness.js";

const DAY = 86_400_000;

describe("the ledger's life", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv({ "expiry.sweepMs": 200, "expiry.noticeDays": 30 }, [
      { ...BASE_PROGRAMME, expiry: { afterDays: 10 } },
      { id: "prepaid", name: "Prepaid", account: "prepaid", unit: "money", currency: "EUR", scope: { stores: ["none"] }, rules: [{ kind: "spend", per: 100, points: 1 }], redemption: { pointValue: 1, currency: "EUR" } },
    ]);
    await t.rpc("enroll", { requestId: "e-1", card: "C-EXP" });
    await t.rpc("enroll", { requestId: "e-2", card: "C-CONV" });
  });
  afterAll(async () => t?.stop());

  it("expires points N days after earning, oldest first, and says so in advance", async () => {
    const notices: Record<string, unknown>[] = [];
    const sub = t.nc.subscribe("loyalty.notify.expiring", { callback: (_e, m) => notices.push(JSON.parse(Buffer.from(m.data).toString())) });
    const now = Date.now();
    // Earned 20 days ago: expired 10 days ago. Earned 5 days ago: expires in 5 days.
    await t.rpc("accrue", sale("old", { card: "C-EXP" }, [line("1", 1, 3000)], { at: now - 20 * DAY }));
    const fresh = await t.rpc("accrue", sale("fresh", { card: "C-EXP" }, [line("1", 1, 4000)], { at: now - 5 * DAY }));
    // 70, or 40 if the sweeper (every 200 ms) already expired the old 30 between the two.
    expect(fresh.earned).toBe(40);
    expect([70, 40]).toContain(fresh.balance);
    const deadline = Date.now() + 10_000;
    let b = await t.rpc("balance", { customer: { card: "C-EXP" } });
    while (b.accounts[0].balance !== 40 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      b = await t.rpc("balance", { customer: { card: "C-EXP" } });
    }
    expect(b.accounts[0]).toMatchObject({ balance: 40, expiring: [{ amount: 40, at: now - 5 * DAY + 10 * DAY }] });
    while (notices.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    sub.unsubscribe();
    expect(notices[0]).toMatchObject({ kind: "expiring", account: "points", amount: 40 });
    const st = await t.rpc("statement", { customer: { card: "C-EXP" } });
    // In entry order: the expiry comes before the fresh accrual when the sweeper ran between the two sales (see above).
    const entries = st.entries.map((e: { kind: string; amount: number }) => [e.kind, e.amount]);
    expect(entries).toEqual(fresh.balance === 40 ? [["accrual", 30], ["expiry", -30], ["accrual", 40]] : [["accrual", 30], ["accrual", 40], ["expiry", -30]]);
    // The expiry entry is dated when the points expired (now - 10 days).
    expect((await t.rpc("balance", { customer: { card: "C-EXP" }, asOf: now - 15 * DAY })).accounts[0].balance).toBe(30);
    expect((await t.rpc("balance", { customer: { card: "C-EXP" }, asOf: now - 6 * DAY })).accounts[0].balance).toBe(0);
  });

  it("spends the soonest-expiring points first", async () => {
    await t.rpc("enroll", { requestId: "e-3", card: "C-FIFO" });
    const now = Date.now();
    await t.rpc("accrue", sale("f-1", { card: "C-FIFO" }, [line("1", 1, 1000)], { at: now - 8 * DAY }));
    await t.rpc("accrue", sale("f-2", { card: "C-FIFO" }, [line("1", 1, 2000)], { at: now - 1 * DAY }));
    const a = await t.rpc("authorize", { requestId: "fa", customer: { card: "C-FIFO" }, amount: 15 });
    await t.rpc("capture", { requestId: "fc", holdId: a.holdId });
    const b = await t.rpc("balance", { customer: { card: "C-FIFO" } });
    expect(b.accounts[0].balance).toBe(15);
    expect(b.accounts[0].expiring).toEqual([{ amount: 15, at: now - 1 * DAY + 10 * DAY }]);
  });

  it("converts points into a prepaid balance at the programme's rate", async () => {
    await t.rpc("accrue", sale("c-s", { card: "C-CONV" }, [line("1", 1, 5000)], { at: Date.now() }));
    const c = await t.rpc("convert", { requestId: "cv-1", customer: { card: "C-CONV" }, from: "points", to: "prepaid", amount: 30 });
    expect(c).toMatchObject({ ok: true, approved: true, from: { amount: -30, balance: 20 }, to: { account: "prepaid", amount: 30, balance: 30 } });
    expect(await t.rpc("convert", { requestId: "cv-2", customer: { card: "C-CONV" }, amount: 21 })).toMatchObject({ ok: true, approved: false, available: 20 });
    const b = await t.rpc("balance", { customer: { card: "C-CONV" } });
    expect(b.accounts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ account: "points", balance: 20 }),
        expect.objectContaining({ account: "prepaid", unit: "money", balance: 30 }),
      ]),
    );
    const spend = await t.rpc("authorize", { requestId: "pp-1", customer: { card: "C-CONV" }, account: "prepaid", value: 25 });
    expect(spend).toMatchObject({ approved: true, amount: 25, available: 5 });
  });

  it("takes manual adjustments with reason and operator through the admin API only", async () => {
    const body = { requestId: "adj-1", customer: { card: "C-CONV" }, amount: -5, reason: "goodwill reversal", operator: "ops-anna" };
    const denied = await t.post("/v1/admin/adjustments", body);
    expect(denied.status).toBe(401);
    const r = await t.post("/v1/admin/adjustments", body, { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(r.body).toMatchObject({ ok: true, amount: -5, balance: 15 });
    const noReason = await t.post("/v1/admin/adjustments", { ...body, requestId: "adj-2", reason: "" }, { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(noReason.body).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "reason" } });
    expect((await t.post("/v1/adjust", body)).status).toBe(400);
    const st = await t.rpc("statement", { customer: { card: "C-CONV" } });
    expect(st.entries.at(-1)).toMatchObject({ kind: "adjustment", amount: -5 });
    expect(st.entries.at(-1).cause).toContain("ops-anna");
  });

  it("frees the points of a hold nobody captured once its time is up", async () => {
    const a = await t.rpc("authorize", { requestId: "ttl-1", customer: { card: "C-CONV" }, amount: 10, ttlMs: 1000 });
    expect(a).toMatchObject({ approved: true, available: 5 });
    const deadline = Date.now() + 10_000;
    let b = await t.rpc("balance", { customer: { card: "C-CONV" } });
    while (b.accounts.find((x: { account: string }) => x.account === "points").held !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      b = await t.rpc("balance", { customer: { card: "C-CONV" } });
    }
    expect(b.accounts.find((x: { account: string }) => x.account === "points")).toMatchObject({ balance: 15, held: 0, available: 15 });
    expect(await t.rpc("capture", { requestId: "ttl-c", holdId: a.holdId })).toMatchObject({ ok: false, error: { code: "HOLD_EXPIRED" } });
  });
});
