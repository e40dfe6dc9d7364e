// The participant's own details and consents (PATCH /v1/me/profile): only what the API lets a
// participant change; groups, attributes and the company are the retailer's.
import { useState } from "preact/hooks";
import { day } from "../../../shared/format.js";
import { Field, Page, Result, useAction } from "../../../shared/ui.js";
import { me, requestId, type Json } from "../api.js";
import type { PageProps } from "../main.js";
import { t, type StringKey } from "../strings.js";

const CHANNELS = ["email", "sms", "post"] as const;
const FIELDS = [
  { key: "name", label: "name", type: "text", autocomplete: "name" },
  { key: "email", label: "email", type: "email", autocomplete: "email" },
  { key: "phone", label: "phone", type: "tel", autocomplete: "tel" },
  { key: "language", label: "language", type: "text", autocomplete: "language" },
] as const;

export function ProfilePage({ customer, reload }: PageProps) {
  const profile: Json = customer.profile ?? {};
  const consents: Json = customer.consents ?? {};
  const [values, setValues] = useState<Record<string, string>>(Object.fromEntries(FIELDS.map((f) => [f.key, profile[f.key] ?? ""])));
  const [ticks, setTicks] = useState<Record<string, boolean>>(Object.fromEntries(CHANNELS.map((c) => [c, consents[c]?.granted === true])));
  const details = useAction();
  const choices = useAction();

  const saveDetails = (e: Event) => {
    e.preventDefault();
    void details.run(async () => {
      // A field emptied is cleared (null); one left as it was is not sent.
      const changed = Object.fromEntries(FIELDS.filter((f) => values[f.key]!.trim() !== (profile[f.key] ?? "")).map((f) => [f.key, values[f.key]!.trim() || null]));
      if (Object.keys(changed).length > 0) await me("/profile", "PATCH", { requestId: requestId("profile"), profile: changed });
      reload();
      return t("saved");
    });
  };
  const saveConsents = (e: Event) => {
    e.preventDefault();
    void choices.run(async () => {
      await me("/profile", "PATCH", { requestId: requestId("consents"), consents: ticks });
      reload();
      return t("saved");
    });
  };
  return (
    <Page title={t("navProfile")}>
      <div class="grid">
        <form class="card" onSubmit={saveDetails} aria-labelledby="details">
          <h2 id="details">{t("profileTitle")}</h2>
          {FIELDS.map((f) => (
            <Field label={t(f.label)}>
              {(id) => (
                <input id={id} name={f.key} type={f.type as "text"} autocomplete={f.autocomplete} value={values[f.key]} onInput={(e) => setValues({ ...values, [f.key]: e.currentTarget.value })} />
              )}
            </Field>
          ))}
          <button type="submit" class="primary" disabled={details.busy}>{t("save")}</button>
          <Result outcome={details.outcome} />
        </form>
        <form class="card" onSubmit={saveConsents} aria-labelledby="consents">
          <h2 id="consents">{t("consentsTitle")}</h2>
          <fieldset class="consents">
            <legend class="help">{t("consentsHelp")}</legend>
            {CHANNELS.map((c) => {
              const given = consents[c];
              return (
                <label>
                  <input type="checkbox" name={c} checked={ticks[c]} onChange={(e) => setTicks({ ...ticks, [c]: e.currentTarget.checked })} />
                  <span>
                    {t(`consent_${c}` as StringKey)}
                    {given?.at ? <small> ({t(given.granted ? "consentGiven" : "consentWithdrawn", { date: day(given.at) })})</small> : null}
                  </span>
                </label>
              );
            })}
          </fieldset>
          <button type="submit" class="primary" disabled={choices.busy}>{t("saveConsents")}</button>
          <Result outcome={choices.outcome} />
        </form>
        {(customer.cards ?? []).length > 0 && (
          <section class="card" aria-labelledby="cards">
            <h2 id="cards">{t("cards")}</h2>
            <ul class="plain">{(customer.cards as Json[]).map((c) => <li><code>{c.card}</code> <span class={`badge ${c.status}`}>{c.status}</span></li>)}</ul>
          </section>
        )}
      </div>
    </Page>
  );
}
