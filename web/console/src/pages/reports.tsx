// The distributors' reports queue: by status, each report with its checks' findings (code,
// line, reason), approved or rejected with a reason through the admin API (role money).
import { useState } from "preact/hooks";
import { call, withOperator, type Json } from "../api.js";
import { num, when } from "../format.js";
import { t } from "../strings.js";
import { Field, Loading, Page, Result, useAction, useConfirm, useLoad } from "../ui.js";

type Status = "pending" | "approved" | "rejected";
const STATUSES: Status[] = ["pending", "approved", "rejected"];

export function ReportsPage() {
  const [status, setStatus] = useState<Status>("pending");
  const list = useLoad(() => call<{ reports: Json[] }>(`/v1/admin/reports?status=${status}&limit=200`), [status]);
  const act = useAction();
  const { ask, dialog } = useConfirm();
  const decide = (r: Json, verb: "approve" | "reject", reason: string) =>
    act.run(async () => {
      const body = withOperator(verb === "reject" || reason ? { reason } : {});
      const d = await call<Json>(`/v1/admin/reports/${encodeURIComponent(r.reportId)}/${verb}`, { body });
      list.reload();
      return t("decided", { id: d.reportId, status: t(d.status as Status), points: num(d.points) });
    });
  const approve = async (r: Json, reason: string) => {
    if (await ask(t("approveConfirm", { id: r.reportId }))) decide(r, "approve", reason);
  };
  const reject = (r: Json, reason: string) => {
    if (!reason.trim()) return act.setOutcome({ ok: false, error: new Error(t("rejectReasonRequired")) });
    decide(r, "reject", reason);
  };
  return (
    <Page title={t("reportsTitle")} actions={<button type="button" onClick={list.reload}>{t("refresh")}</button>}>
      <div class="tabs" role="group" aria-label={t("status")}>
        {STATUSES.map((s) => (
          <button key={s} type="button" aria-pressed={s === status} onClick={() => setStatus(s)}>{t(s)}</button>
        ))}
      </div>
      <Result outcome={act.outcome} />
      <Loading state={list} />
      {list.data && list.data.reports.length === 0 && <p>{t("nothing")}</p>}
      {list.data?.reports.map((r) => <ReportCard key={r.reportId} report={r} busy={act.busy} onApprove={approve} onReject={reject} />)}
      {dialog}
    </Page>
  );
}

function ReportCard(props: { report: Json; busy: boolean; onApprove: (r: Json, reason: string) => void; onReject: (r: Json, reason: string) => void }) {
  const r = props.report;
  const [reason, setReason] = useState("");
  const checks = (r.checks ?? []) as Json[];
  return (
    <article class="card report" aria-labelledby={`report-${r.reportId}`} data-report={r.reportId}>
      <h2 id={`report-${r.reportId}`}>{t("report")} {r.reportId}</h2>
      <dl class="inline">
        <dt>{t("customer")}</dt><dd>{r.customerId}</dd>
        <dt>{t("status")}</dt><dd>{t(r.status as Status)}</dd>
        <dt>{t("points")}</dt><dd>{num(r.points)}</dd>
        <dt>{t("lines")}</dt><dd>{Array.isArray(r.lines) ? r.lines.length : r.lines}</dd>
        <dt>{t("submittedAt")}</dt><dd>{when(r.submittedAt)}</dd>
        {r.decidedBy && <><dt>{t("decidedBy")}</dt><dd>{t("decidedByAt", { operator: r.decidedBy, at: when(r.decidedAt) })}</dd></>}
        {r.reason && <><dt>{t("reason")}</dt><dd>{r.reason}</dd></>}
      </dl>
      <h3>{t("checks")}</h3>
      {checks.length === 0 ? <p>{t("noChecks")}</p> : (
        <ul class="checks">
          {checks.map((c, i) => <li key={i}><strong>{c.code}</strong> ({t("line", { line: c.line + 1 })}): {c.message}</li>)}
        </ul>
      )}
      {r.status !== "rejected" && (
        <div class="decide">
          <Field label={t("reason")}>{(id) => <input id={id} name="reason" maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />}</Field>
          <div class="row">
            {r.status === "pending" && <button type="button" class="primary" disabled={props.busy} onClick={() => props.onApprove(r, reason)}>{t("approve")}</button>}
            <button type="button" class="danger" disabled={props.busy} onClick={() => props.onReject(r, reason)}>{t("reject")}</button>
          </div>
        </div>
      )}
    </article>
  );
}
