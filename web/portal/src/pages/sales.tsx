// A distributor registers sales: a report of invoice lines (POST /v1/me/reports), verified by
// the same checks as every report and import; each check's finding is shown with its line. Below,
// the reports and their status; one report's lines and findings on demand.
import { useEffect, useState } from "preact/hooks";
import { money, num, when } from "../../../shared/format.js";
import { Field, Loading, Page, Result, useAction, useLoad } from "../../../shared/ui.js";
import { me, requestId, type Json } from "../api.js";
import { minorUnits } from "../input.js";
import type { PageProps } from "../main.js";
import { t } from "../strings.js";
import { Badge, Table } from "./common.js";

/** How often the reports are read again while one is pending. */
const PENDING_REFRESH_MS = 15_000;

interface Line {
  invoice: string;
  date: string;
  sku: string;
  qty: string;
  amount: string;
}

const today = (): string => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
};
const emptyLine = (previous?: Line): Line => ({ invoice: previous?.invoice ?? "", date: previous?.date ?? today(), sku: "", qty: "1", amount: "" });

function toLines(lines: Line[]): Json[] {
  return lines.map((l, i) => {
    const amount = minorUnits(l.amount);
    if (amount === null) throw new Error(t("errAmount", { n: i + 1 }));
    const qty = Number(l.qty.replace(",", "."));
    if (!(qty > 0)) throw new Error(t("errQty", { n: i + 1 }));
    return { invoice: l.invoice.trim(), date: l.date, sku: l.sku.trim(), qty, amount };
  });
}

function Checks({ report }: { report: Json }) {
  const checks: Json[] = report.checks ?? [];
  if (checks.length === 0) return <p class="check good">{t("checksPassed")}</p>;
  return (
    <>
      <h3>{t("checksFound")}</h3>
      <ul class="checks">
        {checks.map((c) => (
          <li><strong>{c.code}</strong> ({t("checkLine", { n: c.line + 1 })}): {c.message}</li>
        ))}
      </ul>
    </>
  );
}

export function SalesPage(_: PageProps) {
  const reports = useLoad(() => me<{ reports: Json[] }>("/reports?limit=1000"), []);
  return (
    <Page title={t("navSales")}>
      <ReportForm onSubmitted={reports.reload} />
      <Reports state={reports} />
    </Page>
  );
}

/** The form: invoice lines, added and removed; after submitting, the report's status and each check's finding. */
function ReportForm(props: { onSubmitted: () => void }) {
  const [lines, setLines] = useState<Line[]>([emptyLine()]);
  const [user, setUser] = useState("");
  const [last, setLast] = useState<Json | null>(null);
  const submit = useAction();
  const set = (i: number, key: keyof Line, value: string) => setLines(lines.map((l, j) => (j === i ? { ...l, [key]: value } : l)));
  const send = (e: Event) => {
    e.preventDefault();
    void submit.run(async () => {
      const body = { requestId: requestId("sale"), ...(user.trim() ? { user: user.trim() } : {}), lines: toLines(lines) };
      const report = await me<Json>("/reports", "POST", body);
      setLast(report);
      setLines([emptyLine()]);
      props.onSubmitted();
      return t("submitted", { reportId: report.reportId, status: t(`status_${report.status}` as "status_pending") });
    });
  };
  return (
    <form class="card lines" onSubmit={send} aria-labelledby="new-report">
      <h2 id="new-report">{t("navSales")}</h2>
      <p class="help">{t("salesHelp")}</p>
      {lines.map((l, i) => (
        <LineFields line={l} n={i + 1} onChange={(key, value) => set(i, key, value)} onRemove={lines.length > 1 ? () => setLines(lines.filter((_, j) => j !== i)) : null} />
      ))}
      <div class="row">
        <button type="button" onClick={() => setLines([...lines, emptyLine(lines[lines.length - 1])])}>{t("addLine")}</button>
      </div>
      <Field label={t("user")} help={t("userHelp")}>
        {(id, help) => <input id={id} name="user" aria-describedby={help} value={user} onInput={(e) => setUser(e.currentTarget.value)} />}
      </Field>
      <button type="submit" class="primary" disabled={submit.busy}>{t("submit")}</button>
      <Result outcome={submit.outcome} />
      {last && <Checks report={last} />}
    </form>
  );
}

function LineFields(props: { line: Line; n: number; onChange: (key: keyof Line, value: string) => void; onRemove: (() => void) | null }) {
  const { line: l, n, onChange } = props;
  const input = (key: keyof Line, extra: Record<string, string> = {}) => (id: string, help?: string) => (
    <input id={id} name={`${key}-${n}`} required aria-describedby={help} value={l[key]} onInput={(e) => onChange(key, e.currentTarget.value)} {...extra} />
  );
  return (
    <fieldset>
      <legend>{t("lineN", { n })}</legend>
      <div class="row">
        <Field label={t("invoice")}>{input("invoice")}</Field>
        <Field label={t("date")}>{input("date", { type: "date" })}</Field>
        <Field label={t("sku")}>{input("sku")}</Field>
        <Field label={t("qty")}>{input("qty", { inputMode: "decimal" })}</Field>
        <Field label={t("amount")} help={t("amountHelp")}>{input("amount", { inputMode: "decimal" })}</Field>
      </div>
      {props.onRemove && <button type="button" class="small" onClick={props.onRemove}>{t("removeLine", { n })}</button>}
    </fieldset>
  );
}

/** The participant's reports, newest first; one opened shows its lines and findings. */
function Reports({ state }: { state: ReturnType<typeof useLoad<{ reports: Json[] }>> }) {
  const [open, setOpen] = useState<string | null>(null);
  // While a report waits for an operator, its status is read again now and then.
  const waiting = state.data?.reports.some((r) => r.status === "pending") ?? false;
  useEffect(() => {
    if (!waiting) return;
    const timer = setInterval(state.reload, PENDING_REFRESH_MS);
    return () => clearInterval(timer);
  }, [waiting, state.reload]);
  return (
    <section class="card" aria-labelledby="reports">
      <div class="page-head">
        <h2 id="reports">{t("yourReports")}</h2>
        <button type="button" class="small" onClick={state.reload}>{t("refresh")}</button>
      </div>
      <Loading state={state} />
      {state.data && (
        <Table
          caption={t("yourReports")}
          rows={[...state.data.reports].reverse()}
          columns={[
            { label: t("report"), cell: (r) => <button type="button" class="link" aria-expanded={open === r.reportId} onClick={() => setOpen(open === r.reportId ? null : r.reportId)}>{r.reportId}</button> },
            { label: t("status"), cell: (r) => <Badge status={r.status} /> },
            { label: t("submittedAt"), cell: (r) => when(r.submittedAt) },
            { label: t("lines"), num: true, cell: (r) => num(r.lines) },
            { label: t("checks"), num: true, cell: (r) => num(r.checks) },
            { label: t("points"), num: true, cell: (r) => num(r.points) },
          ]}
        />
      )}
      {open && <ReportDetail reportId={open} />}
    </section>
  );
}

function ReportDetail({ reportId }: { reportId: string }) {
  const detail = useLoad(() => me<Json>(`/reports/${encodeURIComponent(reportId)}`), [reportId]);
  const r = detail.data;
  return (
    <section aria-labelledby="report-detail" class="card">
      <h3 id="report-detail">{t("details", { reportId })}</h3>
      <Loading state={detail} />
      {r && (
        <>
          <dl class="inline">
            <dt>{t("status")}</dt><dd><Badge status={r.status} /></dd>
            <dt>{t("points")}</dt><dd>{num(r.points)}</dd>
            {r.decidedAt && <><dt>{t("decidedAt")}</dt><dd>{when(r.decidedAt)}</dd></>}
            {r.reason && <><dt>{t("reason")}</dt><dd>{r.reason}</dd></>}
          </dl>
          <Table
            caption={t("lines")}
            rows={r.lines as Json[]}
            columns={[
              { label: t("invoice"), cell: (l) => l.invoice },
              { label: t("date"), cell: (l) => l.date },
              { label: t("sku"), cell: (l) => l.sku },
              { label: t("qty"), num: true, cell: (l) => num(l.qty) },
              { label: t("amount"), num: true, cell: (l) => money(l.amount, r.currency) },
            ]}
          />
          <Checks report={r} />
        </>
      )}
    </section>
  );
}
