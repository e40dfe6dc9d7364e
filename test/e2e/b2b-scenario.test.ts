// The "Done when" of issue 11, as one scenario over a real NATS server and HTTP (two
// partitions of worker threads). It is the worked example of docs/b2b.md, step by step
// and with the same numbers: distributors in two groups, a report by form and one
// imported from XLSX, each verification check caught, approvals and rejections taking
// points back, a target reached and lost, a ranking, a reward imported and bought,
// points converted to prepaid with a tax-compensation top-up, and the exports.
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { B2B_PROGRAMME } from "../fixtures.js";
import { B2B_PRODUCTS, DEPOT_MAPPING, XLSX_TYPE, dateCell, day, download, line, send, upload, xlsx } from "./b2b-helpers.js";
import { startTestEnv, type TestEnv } from "./harness.js";

const DAY = 86_400_000;
/** The programme of docs/b2b.md section 1 and 9, with points worth 1 grosz each when converted to prepaid. */
const PROGRAMME = {
  ...B2B_PROGRAMME,
  redemption: { pointValue: 1, currency: "PLN" },
  rules: [...B2B_PROGRAMME.rules, { kind: "target", id: "brushes", metric: "qty", skus: ["BRUSH"], from: Date.now() - 30 * DAY, to: Date.now() + 30 * DAY, goal: 8, points: 100 }],
};
/** The prepaid card the points convert to (money in grosze); it earns nowhere. */
const PREPAID = { id: "prepaid", account: "prepaid", unit: "money", currency: "PLN", scope: { stores: ["none"] }, rules: [{ kind: "spend", per: 100, points: 1 }], redemption: { pointValue: 1, currency: "PLN" } };

type Row = Record<string, any>;
const ids = (rows: Row[]) => rows.map((r) => r.reportId);

describe("the B2B scenario of docs/b2b.md", () => {
  let t: TestEnv;
  const notified: Row[] = [];
  beforeAll(async () => {
    t = await startTestEnv({ partitions: 2, "reports.currency": "PLN", "reports.plausibilityHistoryMin": 3, "reports.windowDaysBack": 30 }, [PROGRAMME, PREPAID]);
    t.nc.subscribe("loyalty.notify.target.>", { callback: (_e, m) => notified.push(JSON.parse(Buffer.from(m.data).toString())) });
  });
  afterAll(async () => t?.stop());

  it("runs from enrolment to the exports", { timeout: 120_000 }, async () => {
    // 2. The product card.
    for (const [sku, body] of Object.entries(B2B_PRODUCTS)) expect((await send(t, "PUT", `/v1/admin/products/${sku}`, body)).status).toBe(200);

    // 3. Two distributors; both in north, one in gold too.
    const company = (name: string) => ({ name, taxId: "PL120001246" });
    const north = (await t.rpc("enroll", { requestId: "e-n", kind: "distributor", company: company("Farby Północ"), groups: ["north"], users: ["anna"] })).customerId;
    const gold = (await t.rpc("enroll", { requestId: "e-g", kind: "distributor", company: company("Farby Złote"), groups: ["north", "gold"] })).customerId;
    expect(await t.rpc("customer", { customer: { customerId: gold } })).toMatchObject({ kind: "distributor", groups: ["north", "gold"] });
    const balance = async (c: string) => (await t.rpc("balance", { customer: { customerId: c } })).accounts.find((a: Row) => a.account === "points")?.balance ?? 0;

    // 4. A report by form (submitReport, by the participant's user): pending, approved by an operator.
    const r1 = await t.rpc("submitReport", { requestId: "q-1", customer: { customerId: north }, reportId: "R-1", user: "anna", lines: [line("F-1", "PAINT-10L", 3, 30_000), line("F-1", "BRUSH", 2, 4_000)] });
    expect(r1).toMatchObject({ ok: true, status: "pending", checks: [], points: 0 });
    expect(ids((await send(t, "GET", "/v1/admin/reports?status=pending")).body.reports)).toEqual(["R-1"]);
    expect((await send(t, "POST", "/v1/admin/reports/R-1/approve", { operator: "olga" })).body).toMatchObject({ status: "approved", points: 37, decidedBy: "olga" });

    // 5. A report entered by an administrator for the gold distributor: doubled.
    await send(t, "POST", "/v1/admin/reports", { requestId: "q-2", customer: { customerId: gold }, reportId: "R-2", lines: [line("F-1", "BRUSH", 5, 10_000)] });
    expect((await send(t, "POST", "/v1/admin/reports/R-2/approve", { operator: "olga" })).body.points).toBe(20);

    // 6. Two more approved reports build north's history; R-5 is caught by every check.
    for (const i of [3, 4]) {
      await t.rpc("submitReport", { requestId: `q-${i}`, customer: { customerId: north }, reportId: `R-${i}`, lines: [line(`F-${i}`, "BRUSH", 2, 4_000)] });
      expect((await send(t, "POST", `/v1/admin/reports/R-${i}/approve`, { operator: "olga" })).body.points).toBe(4);
    }
    expect(await balance(north)).toBe(45);
    const r5 = await t.rpc("submitReport", {
      requestId: "q-5",
      customer: { customerId: north },
      reportId: "R-5",
      lines: [
        line("F-1", "BRUSH", 1, 2_000),
        line("F-50", "GHOST", 1, 100),
        line("F-51", "OLD", 1, 100),
        line("F-52", "BRUSH", 100, 200_000),
        line("F-53", "BRUSH", 1, 2_000, day(-60)),
        line("F-54", "BRUSH", 1, 3_000),
      ],
    });
    expect(r5.checks.map((c: Row) => `${c.line}:${c.code}`)).toEqual(["0:DUPLICATE_INVOICE", "1:UNKNOWN_PRODUCT", "2:INACTIVE_PRODUCT", "3:QTY_IMPLAUSIBLE", "3:AMOUNT_IMPLAUSIBLE", "4:DATE_OUT_OF_WINDOW", "5:PRICE_MISMATCH"]);
    expect(r5.checks[0].message).toBe("invoice F-1 was already reported in R-1");
    expect(await balance(north)).toBe(45);

    // 7. Rejecting an approved report takes its points back.
    const rej = await send(t, "POST", "/v1/admin/reports/R-1/reject", { reason: "invoice F-1 is a credit note", operator: "olga" });
    expect(rej.body).toMatchObject({ status: "rejected", points: 0, takenBack: 37 });
    expect(await balance(north)).toBe(8);

    // 5b. Reports imported from the depot's XLSX: R-11 repeats gold's own invoice F-1.
    expect((await send(t, "PUT", "/v1/admin/import-mappings/hurtownia", DEPOT_MAPPING)).status).toBe(200);
    const sheet = await xlsx([
      ["Raport", "Klient", "Faktura", "Data", "Indeks", "Ilość", "Kwota"],
      ["R-10", north, "F-100", dateCell(-2), "PAINT-10L", 2, 20_000],
      ["R-11", gold, "F-100", dateCell(-2), "BRUSH", 1.5, 3_000],
      ["R-10", north, "F-101", dateCell(-1), "BRUSH", 1, 2_000],
      ["R-11", gold, "F-1", dateCell(-1), "BRUSH", 1, 2_000],
    ]);
    const imp = await upload(t, "/v1/admin/reports/import?mapping=hurtownia", sheet, XLSX_TYPE);
    expect(imp.body).toMatchObject({ ok: true, rows: 4, reports: 2, pending: 2 });
    expect(imp.body.results.map((r: Row) => [r.reportId, r.status, r.checks])).toEqual([["R-10", "pending", 0], ["R-11", "pending", 1]]);
    expect((await send(t, "POST", "/v1/admin/reports/R-10/approve", { operator: "olga" })).body.points).toBe(24);

    // 8. The statement lists every report with its status and points.
    const st = await t.rpc("statement", { customer: { customerId: north } });
    expect(st.reports.map((r: Row) => [r.reportId, r.status, r.points])).toEqual([["R-1", "rejected", 0], ["R-3", "approved", 4], ["R-4", "approved", 4], ["R-5", "pending", 0], ["R-10", "approved", 24]]);
    expect(st.entries.map((e: Row) => [e.kind, e.amount, e.reportId])).toEqual([["report", 37, "R-1"], ["report", 4, "R-3"], ["report", 4, "R-4"], ["report.rejected", -37, "R-1"], ["report", 22, "R-10"], ["report", 2, "R-10"]]);

    // 9. The target: 5 of 8 brushes; R-30 reaches it, its rejection loses it.
    expect((await t.rpc("targets", { customer: { customerId: north } })).targets).toEqual([expect.objectContaining({ targetId: "brushes", goal: 8, achieved: 5, remaining: 3, reached: false, daysLeft: 30 })]);
    await t.rpc("submitReport", { requestId: "q-30", customer: { customerId: north }, reportId: "R-30", lines: [line("F-300", "BRUSH", 3, 6_000)] });
    expect((await send(t, "POST", "/v1/admin/reports/R-30/approve", { operator: "olga" })).body.points).toBe(6);
    expect(await balance(north)).toBe(32 + 6 + 100);
    expect((await send(t, "POST", "/v1/admin/reports/R-30/reject", { reason: "duplicate of a credit note", operator: "olga" })).body.takenBack).toBe(6);
    expect((await t.rpc("targets", { customer: { customerId: north } })).targets[0]).toMatchObject({ achieved: 5, reached: false, awarded: 0 });
    expect(await balance(north)).toBe(32);
    const until = Date.now() + 5000;
    while (notified.length < 5 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    // 50 % passed by gold's R-2 (5 brushes) and by north's R-3 (R-1's 2 + 2); 80 % by north's R-30.
    const progress = notified.filter((n) => n.kind === "target.progress").map((n) => `${n.customerId === north ? "north" : "gold"}:${n.achieved}:${n.milestonePct}`);
    expect(progress.sort()).toEqual(["gold:5:50", "north:4:50", "north:8:80"]);
    expect(notified.filter((n) => n.kind !== "target.progress").map((n) => [n.kind, n.achieved, n.points])).toEqual([["target.reached", 8, 100], ["target.lost", 5, 100]]);

    // 10. The ranking of north over the period, from the day aggregates.
    const rk = await send(t, "GET", `/v1/admin/rankings?metric=points&from=${day(-40)}&to=${day(5)}&group=north&limit=10`);
    expect(rk.body.rankings.map((r: Row) => [r.rank, r.company, r.points, r.qty, r.amount])).toEqual([[1, "Farby Północ", 32, 7, 30_000], [2, "Farby Złote", 20, 5, 10_000]]);

    // 11. The rewards catalogue from a spreadsheet: a bad row refuses the file, its error report downloads.
    const badRewards = "id,name,pointsPrice,stock\nMUG,Kubek,20,10\nCAP,Czapka,lots,5\n";
    const bad = await upload(t, "/v1/admin/rewards/import", badRewards, "text/csv");
    expect(bad).toMatchObject({ status: 422, body: { ok: false, error: { code: "VALIDATION", field: "row 3.pointsPrice" }, errorCount: 1 } });
    const errors = await download(t, bad.body.errorsCsv);
    expect(parse(errors.text, { columns: true }).map((r: Row) => [r.row, r.column, r.code])).toEqual([["3", "pointsPrice", "VALIDATION"]]);
    expect((await send(t, "GET", "/v1/admin/rewards/MUG")).status).toBe(404);
    expect((await upload(t, "/v1/admin/rewards/import", badRewards.replace("lots", "50"), "text/csv")).body).toMatchObject({ ok: true, imported: 2, created: 2 });

    // 12. North buys a mug for 20 points, converts 10 more to prepaid; the tax on the reward is topped up.
    const hold = await t.rpc("redeemReward", { requestId: "rr-1", customer: { customerId: north }, rewardId: "MUG" });
    expect(hold).toMatchObject({ ok: true, approved: true, price: 20, amount: 20 });
    expect((await t.rpc("capture", { requestId: "c-1", holdId: hold.holdId })).ok).toBe(true);
    const cv = await t.rpc("convert", { requestId: "cv-1", customer: { customerId: north }, from: "points", to: "prepaid", amount: 10 });
    expect(cv).toMatchObject({ ok: true, approved: true, to: { account: "prepaid", amount: 10, balance: 10 } });
    expect(await balance(north)).toBe(2);
    const comp = { requestId: "tax-1", customer: { customerId: north }, account: "prepaid", amount: 3, kind: "compensation", reason: "income tax on reward MUG", operator: "olga" };
    expect((await send(t, "POST", "/v1/admin/adjustments", comp)).body).toMatchObject({ ok: true, kind: "compensation", amount: 3, balance: 13 });

    // 13. The exports: the prepaid history with the compensation's reason.
    const csv = await download(t, `/v1/admin/customers/${north}/prepaid.csv`);
    expect(csv.status).toBe(200);
    expect(parse(csv.text, { columns: true, bom: true }).map((r: Row) => [r.kind, r.amount, r.balance, r.currency, r.reason])).toEqual([
      ["conversion", "10", "10", "PLN", ""],
      ["compensation", "3", "13", "PLN", "income tax on reward MUG"],
    ]);
  });
});
