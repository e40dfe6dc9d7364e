// Distributors' sales reports: submitted (by a participant's user or an administrator),
// verified before any point is credited, then approved (automatically when every check
// passes and config reports.autoApprove says so, else by an operator) or rejected. An
// approval credits the lines' points (ledger/report-points.ts); rejecting an approved
// report takes them back. docs/b2b.md tells the whole flow.
import type { VerbInput } from "../codec/schema.js";
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import { localDate } from "../rules/dates.js";
import { checkReport, type ProductFacts } from "../rules/report-checks.js";
import { statement } from "./accounts.js";
import { requireCustomer, survivorId } from "./customers.js";
import { creditReport, takeBackReport } from "./report-points.js";
import { countInRankings } from "./rankings.js";
import { addToTargets, removeFromTargets } from "./targets.js";
import type { Customer, Report, ReportLine, ReportStatus } from "./store.js";
import { REPORT_OPTIONS_DEFAULT, type ReportOptions, type Reply, type Tx } from "./tx.js";

export function reportOptions(tx: Tx): ReportOptions {
  return tx.options.reports ?? REPORT_OPTIONS_DEFAULT;
}

/** The reply (and GET /v1/admin/reports/:id body) of a report. */
export function reportView(r: Report): Reply {
  return {
    reportId: r.reportId,
    customerId: r.customerId,
    status: r.status,
    checks: r.checks,
    points: r.points,
    submittedAt: r.submittedAt,
    ...(r.user !== undefined ? { user: r.user } : {}),
    currency: r.currency,
    lines: r.lines,
    ...(r.decidedAt !== undefined ? { decidedAt: r.decidedAt, decidedBy: r.decidedBy } : {}),
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
  };
}

function distributor(tx: Tx, input: VerbInput<"submitReport">): Customer {
  const c = requireCustomer(tx, input.customer);
  if (c.kind !== "distributor") throw new LoyaltyError("VALIDATION", `customer ${c.id} is not a distributor`, "customer");
  if (input.user !== undefined && !(c.users ?? []).includes(input.user)) {
    throw new LoyaltyError("FORBIDDEN", `${input.user} is not a user of ${c.id}`, "user");
  }
  return c;
}

/** The facts the checks need, read from the ledger. */
function factsFor(tx: Tx, c: Customer, lines: ReportLine[], options: ReportOptions) {
  const products = new Map<string, ProductFacts>();
  const invoicesTaken = new Map<string, string>();
  for (const line of lines) {
    const p = tx.store.products.get(line.sku);
    if (p) products.set(line.sku, { active: p.active !== false, listPrice: p.listPrice ?? null });
    const taken = tx.store.invoices.get([c.id, line.invoice]);
    if (taken !== undefined) invoicesTaken.set(line.invoice, taken);
  }
  const history = tx.store.reportHistory.get(c.id) ?? { qty: [], amount: [] };
  return { today: localDate(tx.options.timeZone, tx.now), products, invoicesTaken, history, settings: options };
}

function indexStatus(tx: Tx, r: Report, before: ReportStatus | null): void {
  if (before !== null) tx.store.reportsByStatus.remove([before, r.submittedAt, r.reportId]);
  tx.store.reportsByStatus.put([r.status, r.submittedAt, r.reportId], r.customerId);
  tx.store.reportsByCustomer.put([r.customerId, r.submittedAt, r.reportId], r.status);
}

export function submitReport(tx: Tx, input: VerbInput<"submitReport">): Reply {
  const c = distributor(tx, input);
  if (tx.store.reports.get(input.reportId)) throw new LoyaltyError("IDEMPOTENCY_CONFLICT", `report ${input.reportId} already exists`, "reportId");
  const options = reportOptions(tx);
  const lines: ReportLine[] = input.lines.map((l) => {
    const category = tx.store.products.get(l.sku)?.category;
    return category === undefined ? { ...l } : { ...l, category };
  });
  const checks = checkReport(lines, factsFor(tx, c, lines, options));
  const report: Report = {
    reportId: input.reportId,
    customerId: c.id,
    submittedAt: tx.now,
    ...(input.user !== undefined ? { user: input.user } : {}),
    currency: input.currency ?? options.currency,
    lines,
    checks,
    status: "pending",
    credits: [],
    points: 0,
  };
  // The report claims its invoices now: a second report of one is caught even while this one waits.
  for (const line of lines) if (!tx.store.invoices.get([c.id, line.invoice])) tx.store.invoices.put([c.id, line.invoice], report.reportId);
  indexStatus(tx, report, null);
  if (checks.length === 0 && options.autoApprove) approve(tx, c, report, "auto", undefined);
  tx.store.reports.put(report.reportId, report);
  return { ok: true, ...reportView(report) };
}

/** Approves a pending report in place: credits its points and adds its lines to the participant's history. */
function approve(tx: Tx, c: Customer, r: Report, operator: string, reason: string | undefined): void {
  r.credits = creditReport(tx, c, r);
  r.points = r.credits.reduce((s, x) => s + x.amount, 0);
  decide(tx, r, "approved", operator, reason);
  addToTargets(tx, c, r);
  countInRankings(tx, r, 1);
  const history = tx.store.reportHistory.get(c.id) ?? { qty: [], amount: [] };
  const keep = (xs: number[], add: number[]) => [...xs, ...add].slice(-limits.reportHistoryMax);
  tx.store.reportHistory.put(c.id, { qty: keep(history.qty, r.lines.map((l) => l.qty)), amount: keep(history.amount, r.lines.map((l) => l.amount)) });
}

function decide(tx: Tx, r: Report, status: ReportStatus, operator: string, reason: string | undefined): void {
  const before = r.status;
  r.status = status;
  r.decidedAt = tx.now;
  r.decidedBy = operator;
  if (reason !== undefined) r.reason = reason;
  indexStatus(tx, r, before);
}

function requireReport(tx: Tx, reportId: string): { r: Report; c: Customer } {
  const r = tx.store.reports.get(reportId);
  if (!r) throw new LoyaltyError("UNKNOWN_REPORT", `no report ${reportId}`, "reportId");
  return { r, c: requireCustomer(tx, { customerId: survivorId(tx.store, r.customerId) }) };
}

export function approveReport(tx: Tx, input: VerbInput<"approveReport">): Reply {
  const { r, c } = requireReport(tx, input.reportId);
  if (r.status === "approved") return { ok: true, ...reportView(r), duplicate: true };
  if (r.status === "rejected") throw new LoyaltyError("VALIDATION", `report ${r.reportId} was rejected; a rejection is final`, "reportId");
  approve(tx, c, r, input.operator, input.reason);
  tx.store.reports.put(r.reportId, r);
  return { ok: true, ...reportView(r), duplicate: false };
}

/** Rejects a report: a pending one earns nothing, an approved one gives its points back; either frees its invoices. */
export function rejectReport(tx: Tx, input: VerbInput<"rejectReport">): Reply {
  const { r, c } = requireReport(tx, input.reportId);
  if (r.status === "rejected") return { ok: true, ...reportView(r), duplicate: true };
  const approved = r.status === "approved";
  const takenBack = approved ? takeBackReport(tx, c, r, input.reason) : 0;
  if (approved) {
    removeFromTargets(tx, c, r);
    countInRankings(tx, r, -1);
  }
  r.points -= takenBack;
  decide(tx, r, "rejected", input.operator, input.reason);
  for (const line of r.lines) if (tx.store.invoices.get([r.customerId, line.invoice]) === r.reportId) tx.store.invoices.remove([r.customerId, line.invoice]);
  tx.store.reports.put(r.reportId, r);
  return { ok: true, ...reportView(r), takenBack, duplicate: false };
}

/** A participant's reports for its statement, oldest first, submitted within [from, to]. */
export function reportsOf(tx: Tx, customerId: string, from: number | undefined, to: number | undefined, limit: number): Reply[] {
  const out: Reply[] = [];
  const range = tx.store.reportsByCustomer.getRange({ start: [customerId, from ?? 0, ""], end: [customerId, (to ?? Number.MAX_SAFE_INTEGER - 1) + 1, ""], limit });
  for (const { key } of range) {
    const r = tx.store.reports.get(key[2]);
    if (r) out.push({ reportId: r.reportId, status: r.status, points: r.points, submittedAt: r.submittedAt, lines: r.lines.length, checks: r.checks.length, ...(r.decidedAt !== undefined ? { decidedAt: r.decidedAt } : {}) });
  }
  return out;
}

/**
 * The statement, and for a distributor its reports (each with its status and points) in
 * the same window: its own and those of the participants merged into it (each of those
 * naming its `customerId`), oldest first.
 */
export function statementWithReports(tx: Tx, input: VerbInput<"statement">): Reply {
  const reply = statement(tx, input);
  const c = requireCustomer(tx, input.customer);
  if (c.kind !== "distributor") return reply;
  const own = reportsOf(tx, c.id, input.from, input.to, input.limit);
  const merged = (c.mergedFrom ?? []).flatMap((id) => reportsOf(tx, id, input.from, input.to, input.limit).map((r): Reply => ({ ...r, customerId: id })));
  if (merged.length === 0) return { ...reply, reports: own };
  const all = [...own, ...merged].sort((a, b) => (a.submittedAt as number) - (b.submittedAt as number) || String(a.reportId).localeCompare(String(b.reportId)));
  return { ...reply, reports: all.slice(0, input.limit) };
}
