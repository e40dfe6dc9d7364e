// Distributors on a real LMDB: participants with company, users and dated groups; sales
// reports verified, approved (by hand or automatically), rejected with their points taken
// back; invoices claimed across reports; statements listing reports.
import { describe, expect, it } from "vitest";
import { B2B_PROGRAMME } from "../fixtures.js";
import type { Command } from "../../src/ledger/ledger.js";
import { T0, cmd, entriesOf, harnessPerTest, pointsOf, snapshot, type Harness, type Reply } from "./harness.js";

const harness = harnessPerTest();

const B2B = B2B_PROGRAMME;
const REPORTS = { autoApprove: false, currency: "PLN", windowDaysBack: 90, windowDaysAhead: 1, plausibilityFactor: 3, plausibilityHistoryMin: 3, priceTolerancePct: 5 };

async function open(reports: Partial<typeof REPORTS> = {}): Promise<Harness> {
  const h = await harness({ reports: { ...REPORTS, ...reports } }, [B2B]);
  const { products } = h.store;
  await h.store.env.transaction(() => {
    products.put("PAINT-10L", { sku: "PAINT-10L", category: "paint", listPrice: 10_000 });
    products.put("BRUSH", { sku: "BRUSH", category: "tools", listPrice: 2_000 });
    products.put("OLD", { sku: "OLD", category: "paint", active: false });
  });
  return h;
}

const enrolDistributor = (requestId: string, extra: Record<string, unknown> = {}) =>
  cmd("enroll", { requestId, kind: "distributor", company: { name: "Farby Sp. z o.o.", taxId: "PL5260001246" }, groups: ["north"], users: ["u-anna"], ...extra });

const submit = (reportId: string, customerId: string, lines: Record<string, unknown>[], extra: Record<string, unknown> = {}): Command =>
  cmd("submitReport", { requestId: `rq-${reportId}`, customer: { customerId }, reportId, lines, ...extra });
const approve = (reportId: string) => cmd("approveReport", { reportId, operator: "olga" });
const reject = (reportId: string, reason = "invoice not found") => cmd("rejectReport", { reportId, operator: "olga", reason });
const line = (invoice: string, sku: string, qty: number, amount: number, date = "2025-12-20") => ({ invoice, date, sku, qty, amount });

async function balanceOf(h: Harness, customerId: string): Promise<number> {
  return pointsOf(await h.one(cmd("balance", { customer: { customerId } }))).balance;
}

describe("participants", () => {
  it("enrols a distributor with its company, groups and users, and shows them on customer", async () => {
    const h = await open();
    const e = await h.one(enrolDistributor("e-1", { group: "gold" }));
    const c = await h.one(cmd("customer", { customer: { customerId: e.customerId } }));
    expect(c).toMatchObject({ kind: "distributor", company: { name: "Farby Sp. z o.o.", taxId: "PL5260001246" }, groups: ["gold", "north"], users: ["u-anna"] });
  });

  it("refuses company data on a shopper", async () => {
    expect(() => cmd("enroll", { requestId: "e-1", company: { name: "X", taxId: "1" } })).toThrow(/company/);
  });

  it("dates group changes: a change from a past day applies to invoices of that day on", async () => {
    const h = await open();
    const id = (await h.one(enrolDistributor("e-1"))).customerId as string;
    const u = await h.one(cmd("updateCustomer", { requestId: "u-1", customer: { customerId: id }, groups: { add: ["gold"], from: "2025-12-15" } }));
    expect(u.groups).toEqual(["north", "gold"]);
    expect(u.groupChanges).toEqual([
      { from: "0000-01-01", group: "north", in: true },
      { from: "2025-12-15", group: "gold", in: true },
    ]);
    await h.one(submit("R-1", id, [line("F-1", "PAINT-10L", 10, 100_000, "2025-12-14"), line("F-2", "PAINT-10L", 10, 100_000, "2025-12-15")]));
    const r = await h.one(approve("R-1"));
    // 10 units + 1 per 10.00 of 1,000.00 = 110 a line; the 15th's line is gold's, doubled.
    expect(r.points).toBe(110 + 220);
  });

  it("changes company and users by updateCustomer, and checks a report's user against them", async () => {
    const h = await open();
    const id = (await h.one(enrolDistributor("e-1"))).customerId as string;
    const u = await h.one(cmd("updateCustomer", { requestId: "u-1", customer: { customerId: id }, users: { add: ["u-piotr"], remove: ["u-anna"] }, company: { name: "Farby SA", taxId: "PL5260001246" } }));
    expect(u).toMatchObject({ users: ["u-piotr"], company: { name: "Farby SA" } });
    const refused = await h.one(submit("R-1", id, [line("F-1", "BRUSH", 1, 2000)], { user: "u-anna" }));
    expect(refused.error).toMatchObject({ code: "FORBIDDEN", field: "user" });
    const ok = await h.one(submit("R-2", id, [line("F-1", "BRUSH", 1, 2000)], { user: "u-piotr" }));
    expect(ok).toMatchObject({ ok: true, status: "pending", user: "u-piotr" });
  });

  it("refuses a report for a customer that is not a distributor", async () => {
    const h = await open();
    const id = (await h.one(cmd("enroll", { requestId: "e-1" }))).customerId as string;
    expect((await h.one(submit("R-1", id, [line("F-1", "BRUSH", 1, 2000)]))).error).toMatchObject({ code: "VALIDATION", field: "customer" });
  });
});

describe("sales reports", () => {
  it("keeps a clean report pending until approved, then credits its points through the rules", async () => {
    const h = await open();
    const id = (await h.one(enrolDistributor("e-1"))).customerId as string;
    const s = await h.one(submit("R-1", id, [line("F-1", "PAINT-10L", 3, 30_000), line("F-1", "BRUSH", 2, 4_000)]));
    expect(s).toMatchObject({ ok: true, reportId: "R-1", status: "pending", checks: [], points: 0 });
    expect(await balanceOf(h, id)).toBe(0);
    const a = await h.one(approve("R-1"));
    // paint: 3 units + 30 for 300.00; brush: 4 for 40.00.
    expect(a).toMatchObject({ ok: true, status: "approved", points: 37, decidedBy: "olga", duplicate: false });
    expect(await balanceOf(h, id)).toBe(37);
    expect(entriesOf(h.store, id).map((e) => [e.kind, e.amount, e.reportId])).toEqual([["report", 37, "R-1"]]);
    expect(await h.one(approve("R-1"))).toMatchObject({ ok: true, status: "approved", duplicate: true });
    expect(await balanceOf(h, id)).toBe(37);
  });

  it("approves a clean report on submission when configured, and holds a flagged one with its reasons", async () => {
    const h = await open({ autoApprove: true });
    const id = (await h.one(enrolDistributor("e-1"))).customerId as string;
    expect(await h.one(submit("R-1", id, [line("F-1", "BRUSH", 1, 2_000)]))).toMatchObject({ status: "approved", points: 2, decidedBy: "auto" });
    const flagged = await h.one(submit("R-2", id, [line("F-1", "BRUSH", 1, 2_000), line("F-2", "OLD", 1, 500), line("F-3", "GHOST", 1, 500), line("F-4", "BRUSH", 1, 9_000), line("F-5", "BRUSH", 1, 2_000, "2025-09-01")]));
    expect(flagged.status).toBe("pending");
    expect(flagged.checks.map((c: Reply) => `${c.line}:${c.code}`)).toEqual(["0:DUPLICATE_INVOICE", "1:INACTIVE_PRODUCT", "2:UNKNOWN_PRODUCT", "3:PRICE_MISMATCH", "4:DATE_OUT_OF_WINDOW"]);
    expect(await balanceOf(h, id)).toBe(2);
  });

  it("flags lines implausible against the participant's own approved history", async () => {
    const h = await open({ autoApprove: true });
    const id = (await h.one(enrolDistributor("e-1"))).customerId as string;
    await h.one(submit("R-1", id, [line("F-1", "BRUSH", 1, 2_000), line("F-2", "BRUSH", 2, 4_000), line("F-3", "BRUSH", 2, 4_000)]));
    const r = await h.one(submit("R-2", id, [line("F-4", "BRUSH", 6, 12_000), line("F-5", "BRUSH", 7, 14_000)]));
    expect(r.checks.map((c: Reply) => `${c.line}:${c.code}`)).toEqual(["1:QTY_IMPLAUSIBLE", "1:AMOUNT_IMPLAUSIBLE"]);
  });

  it("takes back an approved report's points on rejection, like a return, and frees its invoices", async () => {
    const h = await open();
    const id = (await h.one(enrolDistributor("e-1"))).customerId as string;
    await h.one(submit("R-1", id, [line("F-1", "PAINT-10L", 1, 10_000)]));
    await h.one(approve("R-1"));
    expect(await balanceOf(h, id)).toBe(11);
    const r = await h.one(reject("R-1"));
    expect(r).toMatchObject({ ok: true, status: "rejected", points: 0, takenBack: 11, reason: "invoice not found" });
    expect(await balanceOf(h, id)).toBe(0);
    expect(entriesOf(h.store, id).map((e) => [e.kind, e.amount])).toEqual([["report", 11], ["report.rejected", -11]]);
    expect(await h.one(reject("R-1"))).toMatchObject({ duplicate: true });
    expect((await h.one(approve("R-1"))).error).toMatchObject({ code: "VALIDATION" });
    // Its invoice is free again: a corrected report may claim it.
    expect((await h.one(submit("R-2", id, [line("F-1", "PAINT-10L", 1, 10_000)]))).checks).toEqual([]);
  });

  it("rejects a pending report without touching the balance", async () => {
    const h = await open();
    const id = (await h.one(enrolDistributor("e-1"))).customerId as string;
    await h.one(submit("R-1", id, [line("F-1", "PAINT-10L", 1, 10_000)]));
    expect(await h.one(reject("R-1"))).toMatchObject({ status: "rejected", takenBack: 0 });
    expect(entriesOf(h.store, id)).toEqual([]);
  });

  it("answers UNKNOWN_REPORT for a report nobody submitted", async () => {
    const h = await open();
    expect((await h.one(approve("R-9"))).error).toMatchObject({ code: "UNKNOWN_REPORT", field: "reportId" });
    expect((await h.one(reject("R-9"))).error).toMatchObject({ code: "UNKNOWN_REPORT" });
  });

  it("is idempotent by requestId, and refuses a reportId used by another request, leaving no trace", async () => {
    const h = await open();
    const id = (await h.one(enrolDistributor("e-1"))).customerId as string;
    const first = await h.one(submit("R-1", id, [line("F-1", "BRUSH", 1, 2_000)]));
    expect(await h.one(submit("R-1", id, [line("F-1", "BRUSH", 1, 2_000)]))).toEqual({ ...first, duplicate: true });
    const before = snapshot(h.store);
    const other = await h.one(submit("R-1", id, [line("F-9", "BRUSH", 1, 2_000)], { requestId: "rq-other" }));
    expect(other.error).toMatchObject({ code: "IDEMPOTENCY_CONFLICT", field: "reportId" });
    expect(snapshot(h.store)).toBe(before);
  });

  it("lists each report with its status and points on the statement", async () => {
    const h = await open();
    const id = (await h.one(enrolDistributor("e-1"))).customerId as string;
    await h.one(submit("R-1", id, [line("F-1", "BRUSH", 1, 2_000)]));
    h.clock.now = T0 + 1000;
    await h.one(submit("R-2", id, [line("F-2", "BRUSH", 5, 10_000)]));
    await h.one(approve("R-2"));
    const st = await h.one(cmd("statement", { customer: { customerId: id } }));
    expect(st.reports).toEqual([
      { reportId: "R-1", status: "pending", points: 0, submittedAt: T0, lines: 1, checks: 0 },
      { reportId: "R-2", status: "approved", points: 10, submittedAt: T0 + 1000, lines: 1, checks: 0, decidedAt: T0 + 1000 },
    ]);
    expect(st.entries.map((e: Reply) => [e.kind, e.amount, e.reportId])).toEqual([["report", 10, "R-2"]]);
  });

  it("lists a merged-away distributor's reports on the survivor's statement, each naming its participant", async () => {
    const h = await open();
    const a = (await h.one(enrolDistributor("e-a"))).customerId as string;
    const b = (await h.one(enrolDistributor("e-b"))).customerId as string;
    const c = (await h.one(enrolDistributor("e-c"))).customerId as string;
    await h.one(submit("A-1", a, [line("F-1", "BRUSH", 1, 2_000)]));
    h.clock.now = T0 + 1000;
    await h.one(submit("B-1", b, [line("F-1", "BRUSH", 2, 4_000)]));
    await h.one(approve("B-1"));
    h.clock.now = T0 + 2000;
    await h.one(submit("C-1", c, [line("F-9", "BRUSH", 3, 6_000)]));
    h.clock.now = T0 + 3000;
    await h.one(submit("A-2", a, [line("F-2", "BRUSH", 1, 2_000)]));
    // C into B, then B into A: A's statement lists all four, oldest first.
    const merge = (requestId: string, from: string, into: string) => cmd("mergeCustomers", { requestId, from: { customerId: from }, into: { customerId: into }, reason: "one company", operator: "olga" });
    expect((await h.one(merge("m-1", c, b))).ok).toBe(true);
    expect((await h.one(merge("m-2", b, a))).ok).toBe(true);
    const st = await h.one(cmd("statement", { customer: { customerId: a } }));
    expect(st.reports.map((r: Reply) => [r.reportId, r.customerId, r.status, r.points])).toEqual([
      ["A-1", undefined, "pending", 0], ["B-1", b, "approved", 4], ["C-1", c, "pending", 0], ["A-2", undefined, "pending", 0],
    ]);
    // The window and the limit apply to them all.
    const late = await h.one(cmd("statement", { customer: { customerId: a }, from: T0 + 1000, limit: 2 }));
    expect(late.reports.map((r: Reply) => r.reportId)).toEqual(["B-1", "C-1"]);
  });
});
