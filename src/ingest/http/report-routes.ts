// The distributors' sales reports on the admin API: submit one for a participant, the
// review queue, one report, approve and reject (docs/b2b.md). Mounted with the other
// admin routes (roles and audit as theirs).
import { REPORTS_TARGET, reportRowSchema, reportsOfRows, submitReports } from "../../admin/report-import.js";
import { parseRankingQuery, ranking } from "../../admin/rankings.js";
import { getReport, listReports, parseStatus } from "../../admin/reports.js";
import { runImportRoute } from "./import-routes.js";
import { reportView } from "../../ledger/reports.js";
import type { AdminDeps, Call, Route } from "./admin-routes.js";
import { VERB_SCHEMAS } from "../../codec/schema.js";
import { IMPORT_QUERY } from "./import-routes.js";

const RANKING_QUERY = { metric: "points, qty or amount (required)", from: "YYYY-MM-DD (required)", to: "YYYY-MM-DD (required)", group: "only this group's members", limit: "at most this many (default 100)" };
import { listLimit, type Reply } from "./reply.js";

/** The body with the path's report id as `reportId` (a body that is no object is left to validation). */
function withReportId(c: Call, body: unknown): unknown {
  const reportId = (c.req.params as { id: string }).id;
  return typeof body === "object" && body !== null && !Array.isArray(body) ? { ...body, reportId } : body;
}

export function reportRoutes(deps: AdminDeps, withOperator: (body: unknown, c: Call) => unknown): Route[] {
  const { handler, store, log } = deps;
  const decide = (verb: "approveReport" | "rejectReport") => async (c: Call): Promise<Reply> => {
    const body = withReportId(c, withOperator(c.json(), c));
    const reply = await handler.handleValue("http", verb, body);
    if (reply.ok && reply.duplicate !== true) log.info({ report: { reportId: reply.reportId, status: reply.status, points: reply.points, operator: reply.decidedBy } }, "report decided");
    return reply;
  };
  return [
    {
      method: "POST", url: "/v1/admin/reports", role: "write", summary: "Submit a distributor's sales report", body: VERB_SCHEMAS.submitReport,
      run: async (c) => {
        const reply = await handler.handleValue("http", "submitReport", c.json());
        if (reply.ok && reply.duplicate !== true) log.info({ report: { reportId: reply.reportId, customerId: reply.customerId, status: reply.status, checks: (reply.checks as unknown[]).length } }, "report submitted");
        return reply;
      },
    },
    {
      // Every row validated first (nothing submitted when one is bad; the row errors download as CSV), then each report submitted.
      method: "POST", url: "/v1/admin/reports/import", role: "write", large: true, summary: "Import sales reports from CSV or XLSX (every row validated first)", body: "spreadsheet", query: IMPORT_QUERY,
      run: async (c) => {
        const reply = await runImportRoute(deps, c, { target: REPORTS_TARGET, schema: reportRowSchema(store) }, async (rows) =>
          submitReports(handler, reportsOfRows(rows)),
        );
        if (reply.ok !== false) log.info({ import: reply.importId, reports: reply.reports, approved: reply.approved, pending: reply.pending, failed: reply.failed }, "sales reports imported");
        return reply;
      },
    },
    {
      method: "GET", url: "/v1/admin/reports", role: "read", summary: "The sales reports, by status (the review queue)", query: { status: "pending, approved or rejected", limit: "at most this many" },
      run: async (c) => {
        const q = c.req.query as { status?: string; limit?: string };
        return { ok: true, reports: listReports(store, parseStatus(q.status), listLimit(q)) };
      },
    },
    {
      method: "GET", url: "/v1/admin/rankings", role: "read", summary: "Distributors ranked by approved points, qty or amount over a period", query: RANKING_QUERY,
      run: async (c) => {
        const q = parseRankingQuery(c.req.query);
        return { ok: true, metric: q.metric, from: q.from, to: q.to, group: q.group ?? null, ...ranking(store, q) };
      },
    },
    { method: "GET", url: "/v1/admin/reports/:id", role: "read", summary: "One sales report", run: async (c) => ({ ok: true, ...reportView(getReport(store, (c.req.params as { id: string }).id)) }) },
    // Approving credits points and rejecting may take them back: the money role, as adjustments.
    { method: "POST", url: "/v1/admin/reports/:id/approve", role: "money", summary: "Approve a sales report (its points are credited)", body: VERB_SCHEMAS.approveReport, pathFills: "reportId,operator", run: decide("approveReport") },
    { method: "POST", url: "/v1/admin/reports/:id/reject", role: "money", summary: "Reject a sales report (an approved one's points are taken back)", body: VERB_SCHEMAS.rejectReport, pathFills: "reportId,operator", run: decide("rejectReport") },
  ];
}
