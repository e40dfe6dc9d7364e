// Sales reports as the administrator reads them (main thread, a read snapshot): the
// review queue by status, and one report. Writes go through the verbs (ledger/reports.ts).
import { z } from "zod";
import { LoyaltyError } from "../errors.js";
import { reportView } from "../ledger/reports.js";
import type { Report, ReportStatus, Store } from "../ledger/store.js";
import { parseAdminBody } from "./parse.js";

const STATUSES = ["pending", "approved", "rejected"] as const;
const statusSchema = z.enum(STATUSES).optional();

/** `?status=` of the queue: one of the statuses, or absent for every report. */
export function parseStatus(value: unknown): ReportStatus | undefined {
  return parseAdminBody(statusSchema, value, "status");
}

/** Reports with `status`, oldest submitted first (absent: every report, by id). */
export function listReports(store: Store, status: ReportStatus | undefined, limit: number): Record<string, unknown>[] {
  store.env.resetReadTxn();
  const out: Record<string, unknown>[] = [];
  if (status === undefined) {
    for (const { value } of store.reports.getRange({ limit })) out.push(reportView(value));
    return out;
  }
  for (const { key } of store.reportsByStatus.getRange({ start: [status, 0, ""], end: [status, Number.MAX_SAFE_INTEGER, ""], limit })) {
    const r = store.reports.get(key[2]);
    if (r) out.push(reportView(r));
  }
  return out;
}

export function getReport(store: Store, reportId: string): Report {
  store.env.resetReadTxn();
  const r = store.reports.get(reportId);
  if (!r) throw new LoyaltyError("UNKNOWN_REPORT", `no report ${reportId}`, "reportId");
  return r;
}
