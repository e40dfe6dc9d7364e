// Sales reports imported from a spreadsheet (CSV or XLSX; admin/sheets reads it): one row
// per invoice line, grouped into reports by `reportId`. Every row is validated before
// anything is submitted, against the ledger too (the participant exists and is a
// distributor, a report's rows agree on it, a report's line count); then each report is
// submitted as an ordinary idempotent submitReport (requestId `import:<reportId>`), so an
// import sent again answers its reports as duplicates.
import { z } from "zod";
import { calendarDate, currency, id, minorUnitsUpTo } from "../codec/primitives.js";
import type { Handler, Reply } from "../ingest/handler.js";
import { limits } from "../limits.js";
import type { Store } from "../ledger/store.js";
import { cellInt, cellText, type SheetRow } from "./sheets/index.js";

/** The import's name, as a mapping's `target` names it. */
export const REPORTS_TARGET = "reports";

/** A decimal quantity cell: a number, or text with a point or a comma and at most 3 decimals ("2,5" from a Polish CSV). */
const cellQty = z.preprocess(
  (v: unknown) => (typeof v === "string" && /^\d+([.,]\d{1,3})?$/.test(v) ? Number(v.replace(",", ".")) : v),
  z.number().positive().max(1_000_000).multipleOf(0.001, "at most 3 decimals"),
);

const rowShape = z
  .object({
    reportId: cellText(id),
    /** The participant by customer id, or by its loyalty id: exactly one. */
    customerId: cellText(id).optional(),
    loyaltyId: cellText(id).optional(),
    invoice: cellText(id),
    date: cellText(calendarDate),
    sku: cellText(id),
    qty: cellQty,
    amount: cellInt(minorUnitsUpTo(limits.lineAmountMax)),
    currency: cellText(currency).optional(),
    user: cellText(id).optional(),
  })
  .strict();
export type ReportRow = z.infer<typeof rowShape>;

/** What a report's rows must agree on. */
function headerOf(r: ReportRow): string {
  return JSON.stringify([r.customerId ?? null, r.loyaltyId ?? null, r.currency ?? null, r.user ?? null]);
}

/**
 * One import's row schema: each row checked alone, then against the ledger (read on the
 * main thread) and against the rows before it. Stateful: make one per import.
 */
export function reportRowSchema(store: Store) {
  const reports = new Map<string, { header: string; lines: number }>();
  const distributors = new Map<string, string | null>();
  store.env.resetReadTxn();
  /** Why the row's participant cannot report, or null. */
  const participantProblem = (r: ReportRow): string | null => {
    const ref = r.customerId !== undefined ? `customerId ${r.customerId}` : `loyaltyId ${r.loyaltyId}`;
    if (!distributors.has(ref)) {
      const customerId = r.customerId ?? store.loyaltyIds.get(r.loyaltyId!);
      const c = customerId === undefined ? undefined : store.customers.get(store.aliases.get(customerId) ?? customerId);
      distributors.set(ref, !c || c.erasedAt !== undefined ? `no customer for ${ref}` : c.kind !== "distributor" ? `${ref} is not a distributor` : null);
    }
    return distributors.get(ref)!;
  };
  return rowShape.superRefine((r, ctx) => {
    if ((r.customerId === undefined) === (r.loyaltyId === undefined)) {
      ctx.addIssue({ code: "custom", path: ["customerId"], message: "give exactly one of customerId or loyaltyId" });
      return;
    }
    const problem = participantProblem(r);
    if (problem) ctx.addIssue({ code: "custom", path: [r.customerId !== undefined ? "customerId" : "loyaltyId"], message: problem });
    const seen = reports.get(r.reportId);
    if (!seen) {
      if (reports.size >= limits.reportImportReportsMax) ctx.addIssue({ code: "custom", path: ["reportId"], message: `at most ${limits.reportImportReportsMax} reports in one import` });
      reports.set(r.reportId, { header: headerOf(r), lines: 1 });
      return;
    }
    if (seen.header !== headerOf(r)) ctx.addIssue({ code: "custom", path: ["reportId"], message: `the rows of report ${r.reportId} must name the same participant, currency and user` });
    if (++seen.lines > limits.reportLinesMax) ctx.addIssue({ code: "custom", path: ["reportId"], message: `report ${r.reportId} has more than ${limits.reportLinesMax} lines` });
  });
}

/** The validated rows as submitReport requests, one per reportId, in the order of their first row. */
export function reportsOfRows(rows: SheetRow<ReportRow>[]): Reply[] {
  const out = new Map<string, Reply & { lines: Reply[] }>();
  for (const { value: r } of rows) {
    let report = out.get(r.reportId);
    if (!report) {
      report = {
        requestId: `import:${r.reportId}`,
        customer: r.customerId !== undefined ? { customerId: r.customerId } : { loyaltyId: r.loyaltyId! },
        reportId: r.reportId,
        ...(r.currency !== undefined ? { currency: r.currency } : {}),
        ...(r.user !== undefined ? { user: r.user } : {}),
        lines: [],
      };
      out.set(r.reportId, report);
    }
    report.lines.push({ invoice: r.invoice, date: r.date, sku: r.sku, qty: r.qty, amount: r.amount });
  }
  return [...out.values()];
}

/** Reports submitted at a time: enough to keep every partition busy, few enough not to crowd out terminals. */
const SUBMIT_CONCURRENCY = 16;

/** Submits each report; what each came to (a refusal, e.g. a report id another request used, is listed with its error). */
export async function submitReports(handler: Handler, requests: Reply[]): Promise<Reply> {
  const results: Reply[] = [];
  for (let i = 0; i < requests.length; i += SUBMIT_CONCURRENCY) {
    const chunk = requests.slice(i, i + SUBMIT_CONCURRENCY);
    const replies = await Promise.all(chunk.map((r) => handler.handleValue("http", "submitReport", r)));
    replies.forEach((reply, k) => {
      const reportId = chunk[k]!.reportId;
      if (reply.ok === false) results.push({ reportId, error: reply.error });
      else results.push({ reportId, customerId: reply.customerId, status: reply.status, checks: (reply.checks as unknown[]).length, points: reply.points, ...(reply.duplicate ? { duplicate: true } : {}) });
    });
  }
  const count = (f: (r: Reply) => boolean) => results.filter(f).length;
  return {
    reports: results.length,
    approved: count((r) => r.status === "approved"),
    pending: count((r) => r.status === "pending"),
    failed: count((r) => r.error !== undefined),
    results,
  };
}
