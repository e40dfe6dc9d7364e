// Distributors ranked by approved points, units or amount over a period.
import { useState } from "preact/hooks";
import { call, type Json } from "../api.js";
import { num } from "../format.js";
import { t } from "../strings.js";
import { Field, Page, Result, useAction } from "../ui.js";

const isoDay = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

export function RankingsPage() {
  const [metric, setMetric] = useState("points");
  const [from, setFrom] = useState(isoDay(-30));
  const [to, setTo] = useState(isoDay(0));
  const [group, setGroup] = useState("");
  const [rows, setRows] = useState<Json[] | null>(null);
  const act = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    act.run(async () => {
      const q = new URLSearchParams({ metric, from, to, ...(group ? { group } : {}) });
      const r = await call<Json>(`/v1/admin/rankings?${q}`);
      setRows(r.rankings as Json[]);
      return `${num(r.participants)}`;
    });
  };
  return (
    <Page title={t("rankingsTitle")}>
      <form class="card search" onSubmit={submit}>
        <Field label={t("metric")}>
          {(id) => (
            <select id={id} name="metric" value={metric} onChange={(e) => setMetric(e.currentTarget.value)}>
              <option value="points">{t("points")}</option><option value="qty">qty</option><option value="amount">{t("amount")}</option>
            </select>
          )}
        </Field>
        <Field label={t("from")}>{(id) => <input id={id} type="date" required value={from} onInput={(e) => setFrom(e.currentTarget.value)} />}</Field>
        <Field label={t("to")}>{(id) => <input id={id} type="date" required value={to} onInput={(e) => setTo(e.currentTarget.value)} />}</Field>
        <Field label={t("group")}>{(id) => <input id={id} value={group} onInput={(e) => setGroup(e.currentTarget.value)} />}</Field>
        <button type="submit" class="primary" disabled={act.busy}>{t("show")}</button>
      </form>
      {act.outcome && !act.outcome.ok && <Result outcome={act.outcome} />}
      {rows && rows.length === 0 && <p>{t("nothing")}</p>}
      {rows && rows.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead><tr><th scope="col">{t("rank")}</th><th scope="col">{t("customer")}</th><th scope="col">{t("company")}</th><th scope="col">{t("value")}</th></tr></thead>
            <tbody>{rows.map((r) => <tr key={r.customerId}><td>{r.rank}</td><td>{r.customerId}</td><td>{r.company ?? "–"}</td><td class="num">{num(r.value)}</td></tr>)}</tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
