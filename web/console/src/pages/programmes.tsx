// Programmes: the installed list, a JSON editor that installs through PUT (the engine's own
// validation answers), retire, and a quote preview of a basket under what is installed.
import { useState } from "preact/hooks";
import { call, lookup, type Json } from "../api.js";
import { when } from "../format.js";
import { t } from "../strings.js";
import { Field, Loading, Page, Result, errorText, parseJson, pretty, useAction, useConfirm, useFollow, useLoad } from "../ui.js";

interface Installed {
  id: string;
  version: number;
  installedAt: number;
  programme: Json;
}

const NEW_PROGRAMME = { name: "New programme", account: "points", currency: "EUR", rules: [{ kind: "spend", per: 100, points: 1 }] };

const SAMPLE_BASKET = {
  type: "sale", eventId: "preview-1", at: Date.now(), storeId: "s01", channel: "store", customer: { card: "C-100" }, currency: "EUR",
  lines: [{ lineId: "1", sku: "A1", qty: 2, unitPrice: 1000, category: "drinks" }],
};

export function ProgrammesPage() {
  const list = useLoad(() => call<{ programmes: Installed[] }>("/v1/admin/programmes"));
  const [id, setId] = useState("");
  const [text, setText] = useState("");
  const [editing, setEditing] = useState(false);
  const save = useAction();
  const { ask, dialog } = useConfirm();
  // The engine's own validation of the draft as the operator types (nothing is installed).
  const check = useFollow(editing && id ? `${id}\n${text}` : "", (key) => {
    if (!key) return Promise.resolve(null);
    return call(`/v1/admin/programmes/${encodeURIComponent(id)}/check`, { body: parseJson(text) });
  });

  const edit = (p: Installed | null) => {
    setId(p?.id ?? "");
    // The stored programme, every default filled in; its id comes from the path.
    const { id: _id, ...rest } = (p?.programme ?? NEW_PROGRAMME) as Json;
    setText(pretty(rest));
    setEditing(true);
    save.setOutcome(null);
  };
  const install = (e: Event) => {
    e.preventDefault();
    save.run(async () => {
      const body = parseJson(text);
      const r = await call<{ id: string; version: number }>(`/v1/admin/programmes/${encodeURIComponent(id)}`, { method: "PUT", body });
      list.reload();
      return t("installed", { id: r.id, version: r.version });
    });
  };
  const retire = async (p: Installed) => {
    if (!(await ask(t("retireConfirm", { id: p.id })))) return;
    save.run(async () => {
      await call(`/v1/admin/programmes/${encodeURIComponent(p.id)}`, { method: "DELETE" });
      list.reload();
      return t("retired", { id: p.id });
    });
  };

  return (
    <Page title={t("programmesTitle")} actions={<button type="button" onClick={() => edit(null)}>{t("newProgramme")}</button>}>
      <Loading state={list} />
      {list.data && (
        <div class="table-wrap">
          <table>
            <thead><tr><th scope="col">{t("id")}</th><th scope="col">{t("name")}</th><th scope="col">{t("version")}</th><th scope="col">{t("installedAt")}</th><th scope="col"><span class="sr-only">{t("retire")}</span></th></tr></thead>
            <tbody>
              {list.data.programmes.map((p) => (
                <tr key={p.id}>
                  <td><button type="button" class="link" onClick={() => edit(p)}>{p.id}</button></td>
                  <td>{String(p.programme.name ?? "")}</td>
                  <td>{p.version}</td>
                  <td>{when(p.installedAt)}</td>
                  <td><button type="button" class="danger small" onClick={() => retire(p)} aria-label={`${t("retire")} ${p.id}`}>{t("retire")}</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing && (
        <form class="card" onSubmit={install}>
          <Field label={t("programmeId")}>
            {(fid) => <input id={fid} name="programme-id" required pattern="[A-Za-z0-9._:\-]+" value={id} onInput={(e) => setId(e.currentTarget.value)} />}
          </Field>
          <Field label={t("programmeJson")}>
            {(fid) => (
              <textarea id={fid} name="programme-json" rows={16} spellcheck={false} class="code" value={text} onInput={(e) => setText(e.currentTarget.value)}
                aria-invalid={check.outcome !== null} aria-describedby="programme-check" />
            )}
          </Field>
          <p id="programme-check" class={`check ${check.outcome ? "bad" : "good"}`} aria-live="polite" data-testid="programme-check">
            {check.outcome && !check.outcome.ok ? errorText(check.outcome.error) : check.data ? t("draftValid") : ""}
          </p>
          <div class="row">
            <button type="submit" class="primary" disabled={save.busy}>{t("install")}</button>
            <button type="button" onClick={() => setEditing(false)}>{t("cancel")}</button>
          </div>
        </form>
      )}
      <Result outcome={save.outcome} />
      <QuotePreview />
      {dialog}
    </Page>
  );
}

function QuotePreview() {
  const [text, setText] = useState(pretty(SAMPLE_BASKET));
  const quote = useAction();
  const [reply, setReply] = useState<Json | null>(null);
  const submit = (e: Event) => {
    e.preventDefault();
    setReply(null);
    quote.run(async () => {
      const r = await lookup("quote", parseJson(text) as Json);
      setReply(r);
      return t("earned", { points: r.earned });
    });
  };
  return (
    <form class="card" onSubmit={submit} aria-labelledby="preview-title">
      <h2 id="preview-title">{t("previewTitle")}</h2>
      <p class="help">{t("previewHelp")}</p>
      <Field label={t("basketJson")}>
        {(id) => <textarea id={id} name="basket-json" rows={9} spellcheck={false} class="code" value={text} onInput={(e) => setText(e.currentTarget.value)} />}
      </Field>
      <button type="submit" disabled={quote.busy}>{t("preview")}</button>
      <Result outcome={quote.outcome} />
      {reply && (reply.breakdown as Json[]).length > 0 && (
        <div class="table-wrap">
          <table>
            <thead><tr><th scope="col">{t("programme")}</th><th scope="col">{t("rule")}</th><th scope="col">{t("points")}</th></tr></thead>
            <tbody>
              {(reply.breakdown as Json[]).map((b, i) => (
                <tr key={i}><td>{b.programme} v{b.version}</td><td>{b.rule} #{b.ruleIndex}</td><td>{b.amount}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </form>
  );
}
