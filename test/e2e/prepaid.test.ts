// Prepaid history per participant: points converted to prepaid value, compensation
// top-ups (one by one and in bulk) with their reason, spending, and the CSV export.
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, BASE_PROGRAMME, line, sale, startTestEnv, type TestEnv } from "./harness.js";

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const PREPAID = { id: "prepaid", account: "prepaid", unit: "money", currency: "EUR", scope: { stores: ["none"] }, rules: [{ kind: "spend", per: 100, points: 1 }], redemption: { pointValue: 1, currency: "EUR" } };

async function exportCsv(t: TestEnv, customerId: string, query = ""): Promise<{ status: number; type: string | null; rows: Record<string, string>[]; text: string }> {
  const res = await fetch(`${t.http}/v1/admin/customers/${customerId}/prepaid.csv${query}`, { headers: auth });
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type"), text, rows: res.status === 200 ? parse(text, { columns: true, bom: true }) : [] };
}

describe("prepaid history", () => {
  let t: TestEnv;
  let customerId = "";
  let afterConversion = 0;
  beforeAll(async () => {
    t = await startTestEnv({}, [BASE_PROGRAMME, PREPAID]);
    customerId = (await t.rpc("enroll", { requestId: "e-1", card: "P-1" })).customerId;
    await t.rpc("enroll", { requestId: "e-2", card: "P-2" });
    await t.rpc("accrue", sale("s-1", { card: "P-1" }, [line("1", 1, 10_000)]));
  });
  afterAll(async () => t?.stop());

  it("credits a compensation top-up with its reason and operator, and refuses a negative one", async () => {
    const cv = await t.rpc("convert", { requestId: "cv-1", customer: { card: "P-1" }, from: "points", to: "prepaid", amount: 50 });
    expect(cv).toMatchObject({ ok: true, approved: true, to: { account: "prepaid", amount: 50, balance: 50 } });
    // The compensation is then strictly later than the conversion: the time filter below starts at it.
    await new Promise((r) => setTimeout(r, 5));
    const comp = { requestId: "tax-1", customer: { card: "P-1" }, account: "prepaid", amount: 23, reason: "income tax on reward MUG", operator: "anna", kind: "compensation" };
    const res = await t.post("/v1/admin/adjustments", comp, auth);
    expect(res.body).toMatchObject({ ok: true, kind: "compensation", account: "prepaid", amount: 23, balance: 73 });
    const negative = await t.post("/v1/admin/adjustments", { ...comp, requestId: "tax-neg", amount: -5 }, auth);
    expect(negative).toMatchObject({ status: 422, body: { error: { code: "VALIDATION", field: "amount" } } });
    const bulk = { jobId: "tax-bulk", account: "prepaid", kind: "compensation", reason: "tax on the March rewards", operator: "anna", items: [{ customer: { card: "P-1" }, amount: 7 }, { customer: { card: "P-2" }, amount: 4 }] };
    expect((await t.post("/v1/admin/bulk/adjust", bulk, auth)).body).toMatchObject({ ok: true, applied: 2, failedCount: 0 });
    const badBulk = await t.post("/v1/admin/bulk/adjust", { ...bulk, jobId: "tax-bad", items: [{ customer: { card: "P-1" }, amount: 1 }, { customer: { card: "P-2" }, amount: -1 }] }, auth);
    expect(badBulk).toMatchObject({ status: 422, body: { error: { code: "VALIDATION", field: "items[1].amount" } } });
    const statement = await t.rpc("statement", { customer: { card: "P-1" } });
    const entry = statement.entries.find((e: { kind: string }) => e.kind === "compensation");
    expect(entry).toMatchObject({ amount: 23, account: "prepaid", operator: "anna", reason: "income tax on reward MUG" });
    afterConversion = entry.at;
  });

  it("exports every prepaid entry with the balance after it, the currency, and each top-up's reason", async () => {
    const auth1 = await t.rpc("authorize", { requestId: "a-1", customer: { card: "P-1" }, account: "prepaid", amount: 10 });
    expect(auth1.approved).toBe(true);
    expect((await t.rpc("capture", { requestId: "c-1", holdId: auth1.holdId })).ok).toBe(true);
    await t.post("/v1/admin/adjustments", { requestId: "fix-1", customer: { card: "P-1" }, account: "points", amount: 5, reason: "goodwill", operator: "anna" }, auth);

    const out = await exportCsv(t, customerId);
    expect(out.status).toBe(200);
    expect(out.type).toMatch(/^text\/csv/);
    expect(out.text.split("\n")[0]).toBe("customerId,seq,at,date,kind,amount,currency,balance,operator,reason,cause");
    expect(out.rows.map((r) => [r.kind, r.amount, r.balance, r.currency, r.reason])).toEqual([
      ["conversion", "50", "50", "EUR", ""],
      ["compensation", "23", "73", "EUR", "income tax on reward MUG"],
      ["compensation", "7", "80", "EUR", "tax on the March rewards"],
      ["redemption", "-10", "70", "EUR", ""],
    ]);
    expect(out.rows[1]).toMatchObject({ customerId, operator: "anna", cause: "compensation tax-1 by anna: income tax on reward MUG" });
    expect(new Date(out.rows[0]!.date).getTime()).toBe(Number(out.rows[0]!.at));
  });

  it("filters by time keeping the ledger's running balance, reads another account, and adds a BOM on request", async () => {
    const later = await exportCsv(t, customerId, `?from=${afterConversion}`);
    expect(later.rows.map((r) => [r.kind, r.balance])).toEqual([["compensation", "73"], ["compensation", "80"], ["redemption", "70"]]);
    const points = await exportCsv(t, customerId, "?account=points");
    expect(points.rows.map((r) => [r.kind, r.amount, r.balance, r.currency])).toEqual([["accrual", "100", "100", ""], ["conversion", "-50", "50", ""], ["adjustment", "5", "55", ""]]);
    const bom = await fetch(`${t.http}/v1/admin/customers/${customerId}/prepaid.csv?bom=1`, { headers: auth });
    expect(Buffer.from(await bom.arrayBuffer()).subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
  });

  it("answers an unknown customer with 404 and a malformed query with 422", async () => {
    const none = await fetch(`${t.http}/v1/admin/customers/cu_nobody/prepaid.csv`, { headers: auth });
    expect(none.status).toBe(404);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe("UNKNOWN_CUSTOMER");
    const bad = await fetch(`${t.http}/v1/admin/customers/${customerId}/prepaid.csv?from=yesterday`, { headers: auth });
    expect(bad.status).toBe(422);
    expect((await fetch(`${t.http}/v1/admin/customers/${customerId}/prepaid.csv`)).status).toBe(401);
  });
});
