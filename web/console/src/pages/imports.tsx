// Imports: a CSV or XLSX file into sales reports, rewards or products (every row checked
// before anything is written), the per-row error report when refused, and past imports.
import { useState } from "preact/hooks";
import { ApiError, call, download, type Json } from "../api.js";
import { num, when } from "../format.js";
import { t } from "../strings.js";
import { Field, Loading, Page, Result, useLoad, type Outcome } from "../ui.js";

const TARGETS = [
  { path: "/v1/admin/reports/import", label: "targetReports" },
  { path: "/v1/admin/rewards/import", label: "targetRewards" },
  { path: "/v1/admin/products/import", label: "targetProducts" },
] as const;

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

export function ImportsPage() {
  const past = useLoad(() => call<{ imports: Json[] }>("/v1/admin/imports?limit=20"));
  const [target, setTarget] = useState<string>(TARGETS[0].path);
  const [file, setFile] = useState<File | null>(null);
  const [mapping, setMapping] = useState("");
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [refused, setRefused] = useState<Json | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setBusy(true);
    setOutcome(null);
    setRefused(null);
    try {
      const type = file.name.toLowerCase().endsWith(".xlsx") ? XLSX : "text/csv";
      const q = mapping.trim() ? `?mapping=${encodeURIComponent(mapping.trim())}` : "";
      const r = await call<Json>(`${target}${q}`, { raw: { data: file, type } });
      setOutcome({ ok: true, text: t("importDone", { rows: num(r.rows) }) });
    } catch (error) {
      // A refused file: every row error is in the answer, nothing was written.
      if (error instanceof ApiError && Array.isArray(error.body.errors)) setRefused(error.body);
      setOutcome({ ok: false, error });
    } finally {
      setBusy(false);
      past.reload();
    }
  };
  return (
    <Page title={t("importsTitle")}>
      <form class="card" onSubmit={submit}>
        <Field label={t("importTarget")}>
          {(id) => <select id={id} name="target" value={target} onChange={(e) => setTarget(e.currentTarget.value)}>{TARGETS.map((x) => <option key={x.path} value={x.path}>{t(x.label)}</option>)}</select>}
        </Field>
        <Field label={t("file")}>{(id) => <input id={id} name="file" type="file" required accept=".csv,.xlsx,text/csv" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />}</Field>
        <Field label={t("mapping")}>{(id) => <input id={id} name="mapping" value={mapping} onInput={(e) => setMapping(e.currentTarget.value)} />}</Field>
        <button type="submit" class="primary" disabled={busy || !file}>{t("upload")}</button>
        <Result outcome={outcome} />
      </form>
      {refused && (
        <section class="card" aria-labelledby="refused-title">
          <h2 id="refused-title">{t("importRefused", { count: num(refused.errorCount) })}</h2>
          <RowErrors rows={refused.errors as Json[]} />
          <button type="button" class="small" onClick={() => download(`/v1/admin/imports/${encodeURIComponent(refused.importId)}/errors.csv`, `${refused.importId}-errors.csv`)}>{t("errorsCsv")}</button>
        </section>
      )}
      <section class="card" aria-labelledby="past-title">
        <h2 id="past-title">{t("pastImports")}</h2>
        <Loading state={past} />
        {past.data && (
          <div class="table-wrap">
            <table>
              <thead><tr><th scope="col">{t("at")}</th><th scope="col">{t("importTarget")}</th><th scope="col">{t("rows")}</th><th scope="col">{t("status")}</th><th scope="col">{t("errors")}</th></tr></thead>
              <tbody>
                {past.data.imports.map((r) => (
                  <tr key={r.importId}>
                    <td>{when(r.at)}</td><td>{r.target}</td><td class="num">{num(r.rows)}</td><td>{r.outcome}</td>
                    <td>{r.errorCount > 0 ? <ErrorsLink importId={r.importId} count={r.errorCount} /> : "–"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </Page>
  );
}

/** The row errors of a refused import: listed on demand, and downloadable as CSV. */
function ErrorsLink({ importId, count }: { importId: string; count: number }) {
  const [rows, setRows] = useState<Json[] | null>(null);
  const show = async () => setRows(((await call<{ import: Json }>(`/v1/admin/imports/${encodeURIComponent(importId)}`)).import.errors as Json[]) ?? []);
  return (
    <>
      <button type="button" class="small" onClick={show} aria-expanded={rows !== null}>{t("showErrors", { count: num(count) })}</button>{" "}
      <button type="button" class="small" onClick={() => download(`/v1/admin/imports/${encodeURIComponent(importId)}/errors.csv`, `${importId}-errors.csv`)}>{t("errorsCsv")}</button>
      {rows && <RowErrors rows={rows} />}
    </>
  );
}

function RowErrors({ rows }: { rows: Json[] }) {
  return (
    <table class="nested">
      <thead><tr><th scope="col">{t("row")}</th><th scope="col">{t("column")}</th><th scope="col">{t("message")}</th></tr></thead>
      <tbody>{rows.map((e, i) => <tr key={i}><td>{e.row}</td><td>{e.column ?? e.field ?? "–"}</td><td>{e.code}: {e.message}</td></tr>)}</tbody>
    </table>
  );
}
