// Distributors end to end over real NATS and HTTP, two partitions of worker threads: a
// report submitted by a participant's user (NATS) and one by an administrator (HTTP),
// each verification check caught, the review queue, approvals crediting points through
// the rules, a rejection taking them back, the statement and the audit trail.
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { B2B_PROGRAMME } from "../fixtures.js";
import { B2B_PRODUCTS, DEPOT_MAPPING, XLSX_TYPE, dateCell, day, download, line, send, upload, xlsx } from "./b2b-helpers.js";
import { startTestEnv, type TestEnv } from "./harness.js";

const B2B = B2B_PROGRAMME;
/** A sales target: 8 brushes approved within 30 days either side of now earn 100 points once. */
const BRUSHES = { kind: "target", id: "brushes", metric: "qty", skus: ["BRUSH"], from: Date.now() - 30 * 86_400_000, to: Date.now() + 30 * 86_400_000, goal: 8, points: 100 };

describe("distributors' sales reports", () => {
  let t: TestEnv;
  let north: string;
  let gold: string;
  beforeAll(async () => {
    t = await startTestEnv({ partitions: 2, "reports.currency": "PLN", "reports.plausibilityHistoryMin": 3, "reports.windowDaysBack": 30 }, [{ ...B2B, rules: [...B2B.rules, BRUSHES] }]);
    for (const [sku, body] of Object.entries(B2B_PRODUCTS)) expect((await send(t, "PUT", `/v1/admin/products/${sku}`, body)).status).toBe(200);
    const company = (name: string) => ({ name, taxId: `PL${name.length}0001246` });
    north = (await t.rpc("enroll", { requestId: "e-n", kind: "distributor", company: company("Farby Północ"), groups: ["north"], users: ["anna"] })).customerId;
    gold = (await t.rpc("enroll", { requestId: "e-g", kind: "distributor", company: company("Farby Złote"), groups: ["north", "gold"] })).customerId;
  });
  afterAll(async () => t?.stop());

  it("shows a distributor's company, groups and users", async () => {
    expect(await t.rpc("customer", { customer: { customerId: north } })).toMatchObject({ kind: "distributor", company: { name: "Farby Północ" }, groups: ["north"], users: ["anna"] });
  });

  it("takes a report from a participant's user over NATS and keeps it pending; an operator approves it over HTTP", async () => {
    const s = await t.rpc("submitReport", { requestId: "q-1", customer: { customerId: north }, reportId: "R-1", user: "anna", lines: [line("F-1", "PAINT-10L", 3, 30_000), line("F-1", "BRUSH", 2, 4_000)] });
    expect(s).toMatchObject({ ok: true, reportId: "R-1", status: "pending", checks: [], points: 0 });
    expect((await t.rpc("submitReport", { requestId: "q-x", customer: { customerId: north }, reportId: "R-x", user: "mallory", lines: [line("F-9", "BRUSH", 1, 2_000)] })).error.code).toBe("FORBIDDEN");
    const queue = await send(t, "GET", "/v1/admin/reports?status=pending");
    expect(queue.body.reports.map((r: { reportId: string }) => r.reportId)).toEqual(["R-1"]);
    const a = await send(t, "POST", "/v1/admin/reports/R-1/approve", { operator: "admin" });
    // paint: 3 units + 30 for 300.00; brush: 4 for 40.00.
    expect(a).toMatchObject({ status: 200, body: { ok: true, status: "approved", points: 37, decidedBy: "admin" } });
    expect((await t.rpc("balance", { customer: { customerId: north } })).accounts[0]).toMatchObject({ account: "points", balance: 37 });
  });

  it("scores a gold distributor's report with its group, submitted by an administrator", async () => {
    const s = await send(t, "POST", "/v1/admin/reports", { requestId: "q-2", customer: { customerId: gold }, reportId: "R-2", lines: [line("F-1", "BRUSH", 5, 10_000)] });
    expect(s.body).toMatchObject({ ok: true, status: "pending", checks: [] });
    expect((await send(t, "POST", "/v1/admin/reports/R-2/approve", { operator: "admin" })).body.points).toBe(20);
  });

  it("catches each check, with its reason code and line, and credits nothing", async () => {
    // Two more approved reports make north's history long enough for the plausibility checks.
    for (const [i, q] of [[3, 2], [4, 2]] as const) {
      await t.rpc("submitReport", { requestId: `q-${i}`, customer: { customerId: north }, reportId: `R-${i}`, lines: [line(`F-${i}`, "BRUSH", q, q * 2_000)] });
      await send(t, "POST", `/v1/admin/reports/R-${i}/approve`, { operator: "admin" });
    }
    const before = (await t.rpc("balance", { customer: { customerId: north } })).accounts[0].balance;
    const s = await t.rpc("submitReport", {
      requestId: "q-5",
      customer: { customerId: north },
      reportId: "R-5",
      lines: [
        line("F-1", "BRUSH", 1, 2_000), // invoice F-1 is R-1's
        line("F-50", "GHOST", 1, 100), // no such product
        line("F-51", "OLD", 1, 100), // withdrawn
        line("F-52", "BRUSH", 100, 200_000), // p99 is 2 units / 40.00: far above 3 x that
        line("F-53", "BRUSH", 1, 2_000, day(-60)), // before the 30-day window
        line("F-54", "BRUSH", 1, 3_000), // 50 % above the list price
      ],
    });
    expect(s.status).toBe("pending");
    expect(s.checks.map((c: { line: number; code: string }) => `${c.line}:${c.code}`)).toEqual([
      "0:DUPLICATE_INVOICE", "1:UNKNOWN_PRODUCT", "2:INACTIVE_PRODUCT", "3:QTY_IMPLAUSIBLE", "3:AMOUNT_IMPLAUSIBLE", "4:DATE_OUT_OF_WINDOW", "5:PRICE_MISMATCH",
    ]);
    expect((await t.rpc("balance", { customer: { customerId: north } })).accounts[0].balance).toBe(before);
    expect((await send(t, "GET", "/v1/admin/reports/R-5")).body).toMatchObject({ ok: true, status: "pending", checks: s.checks });
  });

  it("rejects an approved report with a reason, taking its points back like a return; the statement shows every report", async () => {
    const r = await send(t, "POST", "/v1/admin/reports/R-1/reject", { reason: "invoice F-1 is a credit note", operator: "admin" });
    expect(r.body).toMatchObject({ ok: true, status: "rejected", takenBack: 37, points: 0, reason: "invoice F-1 is a credit note" });
    const st = await t.rpc("statement", { customer: { customerId: north } });
    expect(st.reports.map((x: { reportId: string; status: string; points: number }) => [x.reportId, x.status, x.points])).toEqual([
      ["R-1", "rejected", 0], ["R-3", "approved", 4], ["R-4", "approved", 4], ["R-5", "pending", 0],
    ]);
    expect(st.entries.map((e: { kind: string; amount: number; reportId: string }) => [e.kind, e.amount, e.reportId])).toEqual([
      ["report", 37, "R-1"], ["report", 4, "R-3"], ["report", 4, "R-4"], ["report.rejected", -37, "R-1"],
    ]);
    expect((await t.rpc("balance", { customer: { customerId: north } })).accounts[0].balance).toBe(8);
  });

  it("answers UNKNOWN_REPORT over HTTP with 404, and audits every decision", async () => {
    const r = await send(t, "POST", "/v1/admin/reports/NOPE/approve", { operator: "admin" });
    expect(r).toMatchObject({ status: 404, body: { ok: false, error: { code: "UNKNOWN_REPORT" } } });
    expect((await send(t, "GET", "/v1/admin/reports/NOPE")).status).toBe(404);
    const audit = await send(t, "GET", "/v1/admin/audit?limit=1000");
    const decisions = audit.body.records.filter((a: { route: string }) => a.route.startsWith("/v1/admin/reports/:id/"));
    expect(decisions.map((a: { targets: { id: string }; outcome: string }) => `${a.targets.id}:${a.outcome}`)).toContain("R-1:ok");
    expect(decisions.map((a: { targets: { id: string }; outcome: string }) => `${a.targets.id}:${a.outcome}`)).toContain("NOPE:UNKNOWN_REPORT");
  });

  describe("imported from spreadsheets", () => {
    it("imports an XLSX through a saved mapping: one report per reportId, each verified and queued", async () => {
      expect((await send(t, "PUT", "/v1/admin/import-mappings/hurtownia", DEPOT_MAPPING)).status).toBe(200);
      const file = await xlsx([
        ["Raport", "Klient", "Faktura", "Data", "Indeks", "Ilość", "Kwota"],
        ["R-10", north, "F-100", dateCell(-2), "PAINT-10L", 2, 20_000],
        ["R-11", gold, "F-100", dateCell(-2), "BRUSH", 1.5, 3_000],
        ["R-10", north, "F-101", dateCell(-1), "BRUSH", 1, 2_000],
        ["R-11", gold, "F-1", dateCell(-1), "BRUSH", 1, 2_000],
      ]);
      const res = await upload(t, "/v1/admin/reports/import?mapping=hurtownia", file, XLSX_TYPE);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ok: true, rows: 4, reports: 2, approved: 0, pending: 2, failed: 0 });
      expect(res.body.results).toEqual([
        { reportId: "R-10", customerId: north, status: "pending", checks: 0, points: 0 },
        // F-1 is the gold distributor's invoice of R-2.
        { reportId: "R-11", customerId: gold, status: "pending", checks: 1, points: 0 },
      ]);
      const r10 = (await send(t, "GET", "/v1/admin/reports/R-10")).body;
      expect(r10.lines).toEqual([
        { invoice: "F-100", date: day(-2), sku: "PAINT-10L", qty: 2, amount: 20_000, category: "paint" },
        { invoice: "F-101", date: day(-1), sku: "BRUSH", qty: 1, amount: 2_000, category: "tools" },
      ]);
      // Sent again: every report is the same request again, answered as a duplicate.
      const again = await upload(t, "/v1/admin/reports/import?mapping=hurtownia", file, XLSX_TYPE);
      expect(again.body.results.map((r: { duplicate?: boolean }) => r.duplicate)).toEqual([true, true]);
      expect((await send(t, "POST", "/v1/admin/reports/R-10/approve", { operator: "admin" })).body.points).toBe(2 + 20 + 2);
    });

    it("refuses a CSV with bad rows as a whole, each row's error downloadable as CSV, and submits nothing", async () => {
      const shopper = (await t.rpc("enroll", { requestId: "e-s" })).customerId;
      const text = [
        "reportId;customerId;invoice;date;sku;qty;amount",
        `R-20;${north};F-200;${day(-1)};BRUSH;2,5;5000`,
        `R-20;${gold};F-201;${day(-1)};BRUSH;1;2000`,
        `R-21;${shopper};F-202;${day(-1)};BRUSH;1;2000`,
        `R-22;cu_nobody;F-203;${day(-1)};BRUSH;1;2000`,
        `R-23;${north};F-204;31.12.2025;BRUSH;abc;2000`,
      ].join("\n");
      const res = await upload(t, "/v1/admin/reports/import", text, "text/csv");
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "row 3.reportId" }, rows: 5, errorCount: 5 });
      expect(res.body.errors.map((e: { row: number; field: string }) => `${e.row}:${e.field}`)).toEqual(["3:reportId", "4:customerId", "5:customerId", "6:date", "6:qty"]);
      const rows = parse((await download(t, res.body.errorsCsv)).text, { columns: true }) as Record<string, string>[];
      expect(rows.map((r) => [r.row, r.column, r.code])).toEqual([["3", "reportId", "VALIDATION"], ["4", "customerId", "VALIDATION"], ["5", "customerId", "VALIDATION"], ["6", "date", "VALIDATION"], ["6", "qty", "VALIDATION"]]);
      expect(rows[1]!.message).toContain("is not a distributor");
      expect((await send(t, "GET", "/v1/admin/reports/R-20")).status).toBe(404);
    });
  });

  it("reaches a sales target and loses it through a rejection, publishing both on NATS; targets shows the progress", async () => {
    const seen: Record<string, any>[] = [];
    const sub = t.nc.subscribe("loyalty.notify.target.>", { callback: (_err, m) => seen.push(JSON.parse(Buffer.from(m.data).toString())) });
    // North has 2 + 2 brushes of R-3 and R-4 and 1 of R-10 approved (R-1's 2 were rejected).
    expect((await t.rpc("targets", { customer: { customerId: north } })).targets).toEqual([
      expect.objectContaining({ targetId: "brushes", goal: 8, achieved: 5, remaining: 3, reached: false, points: 100, daysLeft: 30 }),
    ]);
    await t.rpc("submitReport", { requestId: "q-30", customer: { customerId: north }, reportId: "R-30", lines: [line("F-300", "BRUSH", 3, 6_000)] });
    const a = await send(t, "POST", "/v1/admin/reports/R-30/approve", { operator: "admin" });
    expect(a.body.points).toBe(6);
    expect((await t.rpc("targets", { customer: { customerId: north } })).targets[0]).toMatchObject({ achieved: 8, remaining: 0, reached: true, awarded: 100 });
    await send(t, "POST", "/v1/admin/reports/R-30/reject", { reason: "duplicate of a credit note", operator: "admin" });
    expect((await t.rpc("targets", { customer: { customerId: north } })).targets[0]).toMatchObject({ achieved: 5, reached: false, awarded: 0 });
    const until = Date.now() + 5000;
    while (seen.filter((x) => x.kind !== "target.progress").length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    sub.unsubscribe();
    expect(seen.map((x) => [x.kind, x.targetId, x.achieved])).toEqual([["target.progress", "brushes", 8], ["target.reached", "brushes", 8], ["target.lost", "brushes", 5]]);
    const st = await t.rpc("statement", { customer: { customerId: north } });
    expect(st.entries.filter((e: { kind: string }) => e.kind.startsWith("target")).map((e: { kind: string; amount: number }) => [e.kind, e.amount])).toEqual([["target", 100], ["target.lost", -100]]);
  });

  it("ranks the distributors of a group over a period from the kept aggregates", async () => {
    const r = await send(t, "GET", `/v1/admin/rankings?metric=points&from=${day(-40)}&to=${day(5)}&group=north&limit=10`);
    // North: R-3 4, R-4 4, R-10 22 + 2 (R-1 and R-30 rejected); gold: R-2 20 (R-11 pending).
    expect(r.body).toMatchObject({ ok: true, metric: "points", group: "north", participants: 2 });
    expect(r.body.rankings.map((x: Record<string, unknown>) => [x.rank, x.customerId, x.company, x.value])).toEqual([[1, north, "Farby Północ", 32], [2, gold, "Farby Złote", 20]]);
    const qty = await send(t, "GET", `/v1/admin/rankings?metric=qty&from=${day(-40)}&to=${day(5)}&group=gold`);
    expect(qty.body.rankings.map((x: Record<string, unknown>) => [x.customerId, x.value])).toEqual([[gold, 5]]);
    expect((await send(t, "GET", "/v1/admin/rankings?metric=visits&from=2026-01-01&to=2026-01-02")).body.error).toMatchObject({ code: "VALIDATION", field: "metric" });
  });
});
