// Rewards and voucher offers: the catalogue as it stands (the price in force now, stock,
// seasonal prices), and a JSON editor that saves (PUT) or removes (DELETE) one item with the
// engine's own validation messages.
import { useState } from "preact/hooks";
import { call, type Json } from "../api.js";
import { day, num } from "../format.js";
import { t } from "../strings.js";
import { Field, Loading, Page, Result, parseJson, pretty, useAction, useConfirm, useLoad } from "../ui.js";

interface Kind {
  path: string;
  /** The list's field and the one-item reply's field. */
  many: "rewards" | "offers";
  one: "reward" | "offer";
  sample: Json;
}

const REWARDS: Kind = { path: "/v1/admin/rewards", many: "rewards", one: "reward", sample: { name: "Mug", pointsPrice: 40, stock: 25, seasonalPrices: [] } };
const OFFERS: Kind = { path: "/v1/admin/voucher-offers", many: "offers", one: "offer", sample: { name: "10 EUR off", pointsCost: 50, kind: "amount", value: 1000, currency: "EUR", validDays: 60 } };
/** What the engine adds to a stored item: not part of what is sent back. */
const STORED_ONLY = ["id", "updatedAt", "priceNow"];

export function CataloguePage() {
  const rewards = useLoad(() => call<{ rewards: Json[] }>(REWARDS.path));
  const offers = useLoad(() => call<{ offers: Json[] }>(OFFERS.path));
  const [editing, setEditing] = useState<{ kind: Kind; id: string; text: string } | null>(null);
  const act = useAction();
  const { ask, dialog } = useConfirm();
  const edit = (kind: Kind, item: Json | null) => {
    const body = Object.fromEntries(Object.entries(item ?? kind.sample).filter(([k]) => !STORED_ONLY.includes(k)));
    setEditing({ kind, id: item?.id ?? "", text: pretty(body) });
    act.setOutcome(null);
  };
  const reload = (kind: Kind) => (kind === REWARDS ? rewards : offers).reload();
  const save = (e: Event) => {
    e.preventDefault();
    const { kind, id, text } = editing!;
    act.run(async () => {
      await call(`${kind.path}/${encodeURIComponent(id)}`, { method: "PUT", body: parseJson(text) });
      reload(kind);
      return t("saved", { id });
    });
  };
  const remove = async () => {
    const { kind, id } = editing!;
    if (!(await ask(t("removeConfirm", { id })))) return;
    act.run(async () => {
      await call(`${kind.path}/${encodeURIComponent(id)}`, { method: "DELETE" });
      reload(kind);
      setEditing(null);
      return t("removed", { id });
    });
  };
  return (
    <Page title={t("catalogueTitle")}>
      <section class="card" aria-labelledby="rewards-title">
        <div class="page-head"><h2 id="rewards-title">{t("rewards")}</h2><button type="button" class="small" onClick={() => edit(REWARDS, null)}>{t("newReward")}</button></div>
        <Loading state={rewards} />
        {rewards.data && rewards.data.rewards.length === 0 && <p>{t("nothing")}</p>}
        {rewards.data && rewards.data.rewards.length > 0 && (
          <div class="table-wrap">
            <table>
              <thead><tr><th scope="col">{t("id")}</th><th scope="col">{t("name")}</th><th scope="col">{t("priceNow")}</th><th scope="col">{t("pointsPrice")}</th><th scope="col">{t("seasonal")}</th><th scope="col">{t("stock")}</th><th scope="col">{t("active")}</th></tr></thead>
              <tbody>
                {rewards.data.rewards.map((r) => (
                  <tr key={r.id} data-reward={r.id}>
                    <td><button type="button" class="link" onClick={() => edit(REWARDS, r)}>{r.id}</button></td><td>{r.name}</td>
                    <td class="num">{num(r.priceNow)}</td><td class="num">{num(r.pointsPrice)}</td>
                    <td>{(r.seasonalPrices as Json[]).map((s) => t("seasonWindow", { price: num(s.pointsPrice), from: day(s.from), to: day(s.to) })).join("; ") || "–"}</td>
                    <td class="num">{r.stock === null ? "∞" : num(r.stock)}</td><td>{r.active ? t("yes") : t("no")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section class="card" aria-labelledby="offers-title">
        <div class="page-head"><h2 id="offers-title">{t("voucherOffers")}</h2><button type="button" class="small" onClick={() => edit(OFFERS, null)}>{t("newOffer")}</button></div>
        <Loading state={offers} />
        {offers.data && offers.data.offers.length === 0 && <p>{t("nothing")}</p>}
        {offers.data && offers.data.offers.length > 0 && (
          <div class="table-wrap">
            <table>
              <thead><tr><th scope="col">{t("id")}</th><th scope="col">{t("name")}</th><th scope="col">{t("kind")}</th><th scope="col">{t("pointsCost")}</th><th scope="col">{t("validDays")}</th></tr></thead>
              <tbody>{offers.data.offers.map((o) => <tr key={o.id}><td><button type="button" class="link" onClick={() => edit(OFFERS, o)}>{o.id}</button></td><td>{o.name}</td><td>{o.kind}</td><td class="num">{num(o.pointsCost)}</td><td class="num">{num(o.validDays)}</td></tr>)}</tbody>
            </table>
          </div>
        )}
      </section>
      {editing && (
        <form class="card" onSubmit={save} aria-labelledby="item-title">
          <h2 id="item-title">{editing.kind === REWARDS ? t("rewards") : t("voucherOffers")}</h2>
          <Field label={t("id")}>{(id) => <input id={id} name="item-id" required value={editing.id} onInput={(e) => setEditing({ ...editing, id: e.currentTarget.value })} />}</Field>
          <Field label={t("itemJson")}>{(id) => <textarea id={id} name="item-json" rows={10} class="code" spellcheck={false} value={editing.text} onInput={(e) => setEditing({ ...editing, text: e.currentTarget.value })} />}</Field>
          <div class="row">
            <button type="submit" class="primary" disabled={act.busy}>{t("save")}</button>
            <button type="button" class="danger" disabled={act.busy || !editing.id} onClick={remove}>{t("remove")}</button>
            <button type="button" onClick={() => setEditing(null)}>{t("cancel")}</button>
          </div>
        </form>
      )}
      <Result outcome={act.outcome} />
      {dialog}
    </Page>
  );
}
