// A customer's cards: block, unblock, replace, unlink, and link another card to the same
// account (POST /v1/admin/cards, role write). The customer keeps every account and entry.
import { useState } from "preact/hooks";
import { call, requestId, type Json } from "../api.js";
import { t } from "../strings.js";
import { Field, Result, useAction, useConfirm } from "../ui.js";

export function Cards({ customerId, cards, refresh }: { customerId: string; cards: Json[]; refresh: () => Promise<void> }) {
  const [linkCard, setLinkCard] = useState("");
  const [newCards, setNewCards] = useState<Record<string, string>>({});
  const act = useAction();
  const { ask, dialog } = useConfirm();
  const send = (body: Json, done: string) =>
    act.run(async () => {
      await call("/v1/admin/cards", { body: { requestId: requestId("card"), ...body } });
      await refresh();
      return done;
    });
  const unlink = async (card: string) => {
    if (await ask(t("unlinkConfirm", { card }))) send({ action: "unlink", card }, t("cardDone", { card }));
  };
  const link = (e: Event) => {
    e.preventDefault();
    send({ action: "link", card: linkCard.trim(), customer: { customerId } }, t("cardDone", { card: linkCard.trim() }));
  };
  return (
    <section class="card" aria-labelledby="cards-title">
      <h2 id="cards-title">{t("cards")}</h2>
      <ul class="plain">
        {cards.map((k) => (
          <li key={k.card} data-card={k.card}>
            <strong>{k.card}</strong> ({k.status === "blocked" ? t("blocked") : t("cardActive")}){" "}
            <div class="row">
              {k.status === "blocked"
                ? <button type="button" class="small" onClick={() => send({ action: "unblock", card: k.card }, t("cardDone", { card: k.card }))}>{t("unblock")}</button>
                : <button type="button" class="small danger" onClick={() => send({ action: "block", card: k.card }, t("cardDone", { card: k.card }))}>{t("block")}</button>}
              <button type="button" class="small" onClick={() => unlink(k.card)}>{t("unlink")}</button>
            </div>
            <div class="row">
              <Field label={t("replaceWith", { card: k.card })}>
                {(id) => <input id={id} value={newCards[k.card] ?? ""} onInput={(e) => setNewCards({ ...newCards, [k.card]: e.currentTarget.value })} />}
              </Field>
              <button type="button" class="small" disabled={!newCards[k.card]?.trim()} onClick={() => send({ action: "replace", card: k.card, newCard: newCards[k.card]!.trim() }, t("cardDone", { card: newCards[k.card]!.trim() }))}>{t("replace")}</button>
            </div>
          </li>
        ))}
      </ul>
      <form class="row" onSubmit={link}>
        <Field label={t("linkCard")}>{(id) => <input id={id} required value={linkCard} onInput={(e) => setLinkCard(e.currentTarget.value)} />}</Field>
        <button type="submit" class="small">{t("link")}</button>
      </form>
      <Result outcome={act.outcome} />
      {dialog}
    </section>
  );
}
