// The first page after sign-in: each account's balance, what expires when, and the rewards the
// points already buy.
import { day, num } from "../../../shared/format.js";
import { Loading, Page, useLoad } from "../../../shared/ui.js";
import { me, type Json } from "../api.js";
import type { PageProps } from "../main.js";
import { t } from "../strings.js";
import { amountOf } from "./common.js";

export function OverviewPage({ customer }: PageProps) {
  const rewards = useLoad(() => me<{ rewards: Json[] }>("/rewards?affordable=true"), []);
  const accounts: Json[] = customer.accounts ?? [];
  const name = customer.profile?.firstName ?? customer.profile?.name ?? customer.company?.name;
  return (
    <Page title={t("navOverview")}>
      <p>{t("hello", { name: name ? `, ${name}` : "" })}</p>
      <div class="grid">
        {accounts.length === 0 && <div class="card"><p>{t("nothing")}</p></div>}
        {accounts.map((a) => (
          <section class="card" aria-labelledby={`acc-${a.account}`}>
            <h2 id={`acc-${a.account}`}>{t("balance")}: {a.account}</h2>
            <p class="balance">{amountOf(a, a.available)} <small>{t("available").toLowerCase()}</small></p>
            {a.held > 0 && <p>{t("held")}: {amountOf(a, a.held)}</p>}
            <h3>{t("expiring")}</h3>
            {(a.expiring ?? []).length === 0 ? (
              <p>{t("noExpiry")}</p>
            ) : (
              <ul class="plain">
                {(a.expiring as Json[]).map((e) => <li>{t("expiresOn", { amount: amountOf(a, e.amount), date: day(e.at) })}</li>)}
              </ul>
            )}
          </section>
        ))}
        <section class="card" aria-labelledby="affordable">
          <h2 id="affordable">{t("affordableRewards")}</h2>
          <Loading state={rewards} />
          {rewards.data && (rewards.data.rewards.length === 0 ? <p>{t("nothing")}</p> : (
            <ul class="plain">
              {rewards.data.rewards.slice(0, 5).map((r) => <li>{r.name}: {num(r.price)} {t("points").toLowerCase()}</li>)}
            </ul>
          ))}
          <a href="#/rewards">{t("seeAllRewards")}</a>
        </section>
      </div>
    </Page>
  );
}
