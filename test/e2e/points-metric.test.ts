// loyalty_points_total against what the replies said: points of the `points` account
// earned by sales, taken back by returns, redeemed by captures, vouchers and conversions;
// repeats and other accounts not counted. Both executors (the worker hands the figures
// back across the thread in its packed batch).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, BASE_PROGRAMME, line, sale, send, startTestEnv, type TestEnv } from "./harness.js";

const CASHBACK = { id: "cashback", name: "Cashback", account: "cashback", unit: "money", currency: "EUR", rules: [{ kind: "spend", per: 100, points: 2 }], redemption: { pointValue: 1, currency: "EUR" } };
const OFFER = { name: "5 EUR off", pointsCost: 4, kind: "amount", value: 500, currency: "EUR", validDays: 30 };

async function pointsMetric(t: TestEnv): Promise<Record<string, number>> {
  const text = await (await fetch(`${t.http}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^loyalty_points_total\{movement="(\w+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

describe.each([
  ["inline", { executor: "inline" }],
  ["workers", { executor: "workers" }],
])("loyalty_points_total (%s executor)", (_name, overrides) => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv(overrides, [BASE_PROGRAMME, CASHBACK]);
    expect((await t.rpc("enroll", { requestId: "e-1", profile: { name: "Ada" }, card: "C-1" })).ok).toBe(true);
    expect((await send(t, "PUT", "/v1/admin/voucher-offers/FIVE", OFFER, { authorization: `Bearer ${ADMIN_TOKEN}` })).status).toBe(200);
  });
  afterAll(async () => t?.stop());

  it("counts what the replies moved on the points account, once", async () => {
    expect(await pointsMetric(t)).toEqual({});
    const s = await t.rpc("accrue", sale("p-1", { card: "C-1" }, [line("1", 2, 1250), line("2", 1, 999)]));
    const earned = s.accounts.find((a: { account: string }) => a.account === "points").earned as number;
    expect(earned).toBeGreaterThan(0);
    expect(s.earned).toBeGreaterThan(earned); // the cashback account earned too, and is not counted
    expect((await t.rpc("accrue", sale("p-1", { card: "C-1" }, [line("1", 2, 1250), line("2", 1, 999)]))).duplicate).toBe(true);

    const r = await t.rpc("accrue", { type: "return", eventId: "p-1-r", originalEventId: "p-1", at: Date.UTC(2026, 0, 5, 13), lines: [{ lineId: "1", qty: 1 }] });
    const takenBack = -(r.accounts.find((a: { account: string }) => a.account === "points").earned as number);
    expect(takenBack).toBeGreaterThan(0);

    const a = await t.rpc("authorize", { requestId: "a-1", customer: { card: "C-1" }, amount: 10 });
    expect(a.approved).toBe(true);
    const c = await t.rpc("capture", { requestId: "c-1", holdId: a.holdId, amount: 7 });
    expect(c).toMatchObject({ ok: true, account: "points", captured: 7 });
    expect((await t.rpc("capture", { requestId: "c-1", holdId: a.holdId, amount: 7 })).duplicate).toBe(true);
    const money = await t.rpc("authorize", { requestId: "a-2", customer: { card: "C-1" }, account: "cashback", amount: 5 });
    expect(await t.rpc("capture", { requestId: "c-2", holdId: money.holdId })).toMatchObject({ ok: true, account: "cashback", captured: 5 });
    const v = await t.rpc("buyVoucher", { requestId: "v-1", customer: { card: "C-1" }, offerId: "FIVE" });
    expect(v).toMatchObject({ ok: true, approved: true, account: "points", pointsCost: OFFER.pointsCost });
    const cv = await t.rpc("convert", { requestId: "cv-1", customer: { card: "C-1" }, from: "points", to: "cashback", amount: 3 });
    expect(cv).toMatchObject({ ok: true, approved: true });
    // Refused and denied commands move nothing.
    expect((await t.rpc("authorize", { requestId: "a-3", customer: { card: "C-1" }, amount: 1_000_000 })).approved).toBe(false);
    expect((await t.rpc("capture", { requestId: "c-3", holdId: "h_nope" })).ok).toBe(false);

    expect(await pointsMetric(t)).toEqual({ earned, taken_back: takenBack, redeemed: c.captured + v.pointsCost - cv.from.amount });
  });
});
