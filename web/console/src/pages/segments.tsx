// Segments: a filter in the contract's conditions, its live count through the query route
// (re-counted as the filter changes), save, and the consenting members' CSV export.
import { useState } from "preact/hooks";
import { call, download, type Json } from "../api.js";
import { num } from "../format.js";
import { t } from "../strings.js";
import { Field, Loading, Page, Result, parseJson, pretty, useAction, useFollow, useLoad } from "../ui.js";

const CHANNELS = ["email", "sms", "post"] as const;

export function SegmentsPage() {
  const saved = useLoad(() => call<{ segments: Json[] }>("/v1/admin/segments"));
  const [text, setText] = useState(pretty({ all: [{ balance: { gte: 1 } }] }));
  const [id, setId] = useState("");
  const [name, setName] = useState("");
  const [channel, setChannel] = useState<(typeof CHANNELS)[number]>("email");
  const act = useAction();
  // The count follows the editor.
  const counted = useFollow(text, (filter) => call<{ count: number; customers: Json[] }>("/v1/admin/segments/query", { body: { filter: parseJson(filter), limit: 20 } }));
  const count = counted.data;

  const save = (e: Event) => {
    e.preventDefault();
    act.run(async () => {
      const r = await call<{ segment: Json }>(`/v1/admin/segments/${encodeURIComponent(id)}`, { method: "PUT", body: { name, filter: parseJson(text) } });
      saved.reload();
      return t("saved", { id: r.segment.id });
    });
  };
  const load = (s: Json) => {
    setId(s.id);
    setName(s.name);
    setText(pretty(s.filter));
  };
  const exportCsv = (s: Json) =>
    act.run(async () => {
      const file = `${s.id}-${channel}.csv`;
      await download(`/v1/admin/segments/${encodeURIComponent(s.id)}/export.csv?consent=${channel}`, file);
      return t("exported", { file });
    });

  return (
    <Page title={t("segmentsTitle")}>
      <form class="card" onSubmit={save}>
        <Field label={t("filterJson")} help={t("filterHelp")}>
          {(fid, help) => <textarea id={fid} name="filter-json" rows={10} class="code" spellcheck={false} aria-describedby={help} value={text} onInput={(e) => setText(e.currentTarget.value)} />}
        </Field>
        <p class="count" role="status" data-testid="segment-count">{count ? t("members", { count: num(count.count) }) : "…"}</p>
        <Result outcome={counted.outcome} />
        <div class="row">
          <Field label={t("segmentId")}>{(fid) => <input id={fid} name="segment-id" required value={id} onInput={(e) => setId(e.currentTarget.value)} />}</Field>
          <Field label={t("segmentName")}>{(fid) => <input id={fid} name="segment-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        </div>
        <button type="submit" class="primary" disabled={act.busy}>{t("save")}</button>
      </form>
      <Result outcome={act.outcome} />
      {count && count.customers.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead><tr><th scope="col">{t("id")}</th><th scope="col">{t("name")}</th><th scope="col">{t("email")}</th><th scope="col">{t("balance")}</th></tr></thead>
            <tbody>{count.customers.map((c) => <tr key={c.customerId}><td>{c.customerId}</td><td>{c.name ?? "–"}</td><td>{c.email ?? "–"}</td><td class="num">{num(c.balance)}</td></tr>)}</tbody>
          </table>
        </div>
      )}
      <section class="card" aria-labelledby="saved-title">
        <h2 id="saved-title">{t("savedSegments")}</h2>
        <Field label={t("consentChannel")}>
          {(fid) => (
            <select id={fid} name="channel" value={channel} onChange={(e) => setChannel(e.currentTarget.value as (typeof CHANNELS)[number])}>
              {CHANNELS.map((c) => <option key={c} value={c}>{c}</option>)}
            </select>
          )}
        </Field>
        <Loading state={saved} />
        <ul class="plain">
          {saved.data?.segments.map((s) => (
            <li key={s.id}>
              <strong>{s.name}</strong> ({s.id}){" "}
              <button type="button" class="small" onClick={() => load(s)}>{t("load")}</button>{" "}
              <button type="button" class="small" onClick={() => exportCsv(s)} aria-label={`${t("exportCsv")} ${s.id}`}>{t("exportCsv")}</button>
            </li>
          ))}
        </ul>
      </section>
    </Page>
  );
}
