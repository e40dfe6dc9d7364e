// Bulk jobs: conversion of a period's points into prepaid value, and compensation
// top-ups; both resumable by resending the same job.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, BASE_PROGRAMME, line, sale, startTestEnv, type TestEnv } from "./harness.js";

const JAN = Date.UTC(2026, 0, 10);
const FEB = Date.UTC(2026, 1, 10);
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe("bulk jobs", () => {
  let t: TestEnv;
  const balances = async (card: string) =>
    Object.fromEntries((await t.rpc("balance", { customer: { card } })).accounts.map((a: { account: string; balance: number }) => [a.account, a.balance]));
  beforeAll(async () => {
    t = await startTestEnv({}, [
      BASE_PROGRAMME,
      { id: "prepaid", account: "prepaid", unit: "money", currency: "EUR", scope: { stores: ["none"] }, rules: [{ kind: "spend", per: 100, points: 1 }], redemption: { pointValue: 1, currency: "EUR" } },
    ]);
    for (const card of ["B-1", "B-2", "B-3"]) await t.rpc("enroll", { requestId: `e-${card}`, card });
    await t.rpc("accrue", sale("j-1", { card: "B-1" }, [line("1", 1, 3000)], { at: JAN }));
    await t.rpc("accrue", sale("f-1", { card: "B-1" }, [line("1", 1, 4000)], { at: FEB }));
    await t.rpc("accrue", sale("j-2", { card: "B-2" }, [line("1", 1, 5000)], { at: JAN }));
    await t.rpc("accrue", { type: "return", eventId: "j-2-r", originalEventId: "j-2", at: JAN + 1000, lines: [{ lineId: "1", qty: 1 }] });
  });
  afterAll(async () => t?.stop());

  it("converts what each customer earned in the period, net of returns, and resumes without converting twice", async () => {
    const job = { jobId: "conv-jan", from: "points", to: "prepaid", earnedFrom: Date.UTC(2026, 0, 1), earnedTo: Date.UTC(2026, 1, 1) };
    const first = await t.post("/v1/admin/bulk/convert", job, auth);
    // B-1 earned 30 in January; B-2 earned 50 and returned it; B-3 earned nothing.
    expect(first.body).toMatchObject({ ok: true, jobId: "conv-jan", items: 3, applied: 1, declined: 2, duplicates: 0, failedCount: 0 });
    expect(await balances("B-1")).toEqual({ points: 40, prepaid: 30 });
    const again = await t.post("/v1/admin/bulk/convert", job, auth);
    expect(again.body).toMatchObject({ items: 3, applied: 0, duplicates: 3, failedCount: 0 });
    expect(await balances("B-1")).toEqual({ points: 40, prepaid: 30 });
  });

  it("credits compensation top-ups in bulk, reporting the items it could not apply", async () => {
    const job = {
      jobId: "tax-2026",
      account: "prepaid",
      reason: "tax due on the reward",
      operator: "ops-anna",
      items: [
        { customer: { card: "B-2" }, amount: 250 },
        { customer: { card: "B-3" }, amount: 100 },
        { customer: { card: "B-NOPE" }, amount: 5 },
      ],
    };
    const r = await t.post("/v1/admin/bulk/adjust", job, auth);
    expect(r.body).toMatchObject({ items: 3, applied: 2, failedCount: 1, failed: [{ requestId: "tax-2026/2", code: "UNKNOWN_CUSTOMER" }] });
    const again = await t.post("/v1/admin/bulk/adjust", job, auth);
    expect(again.body).toMatchObject({ items: 3, applied: 0, duplicates: 2, failedCount: 1 });
    expect((await balances("B-2")).prepaid).toBe(250);
    const st = await t.rpc("statement", { customer: { card: "B-3" } });
    expect(st.entries).toEqual([expect.objectContaining({ kind: "adjustment", account: "prepaid", amount: 100 })]);
    expect(st.entries[0].cause).toContain("ops-anna");
  });

  it("refuses bad jobs naming the field, and anyone without the token", async () => {
    const bad = await t.post("/v1/admin/bulk/adjust", { jobId: "x", reason: "r", operator: "o", items: [{ customer: { card: "B-1" }, amount: 0 }] }, auth);
    expect(bad.body).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "items[0].amount" } });
    const badWindow = await t.post("/v1/admin/bulk/convert", { jobId: "y", earnedFrom: 10, earnedTo: 5, customers: [{ card: "B-1" }] }, auth);
    expect(badWindow.body).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "earnedTo" } });
    expect((await t.post("/v1/admin/bulk/convert", { jobId: "z", earnedFrom: 0, earnedTo: 5 })).status).toBe(401);
  });
});
