// Rewards and voucher offers as the catalogue stands (read; prices in force now).
import { call, type Json } from "../api.js";
import { num } from "../format.js";
import { t } from "../strings.js";
import { Loading, Page, useLoad } from "../ui.js";

export function CataloguePage() {
  const rewards = useLoad(() => call<{ rewards: Json[] }>("/v1/admin/rewards"));
  const offers = useLoad(() => call<{ offers: Json[] }>("/v1/admin/voucher-offers"));
  return (
    <Page title={t("catalogueTitle")}>
      <section class="card" aria-labelledby="rewards-title">
        <h2 id="rewards-title">{t("rewards")}</h2>
        <Loading state={rewards} />
        {rewards.data && rewards.data.rewards.length === 0 && <p>{t("nothing")}</p>}
        {rewards.data && rewards.data.rewards.length > 0 && (
          <div class="table-wrap">
            <table>
              <thead><tr><th scope="col">{t("id")}</th><th scope="col">{t("name")}</th><th scope="col">{t("pointsPrice")}</th><th scope="col">{t("stock")}</th><th scope="col">{t("active")}</th></tr></thead>
              <tbody>{rewards.data.rewards.map((r) => <tr key={r.id}><td>{r.id}</td><td>{r.name ?? "–"}</td><td class="num">{num(r.pointsPrice)}</td><td class="num">{r.stock === null || r.stock === undefined ? "∞" : num(r.stock)}</td><td>{r.active === false ? t("no") : t("yes")}</td></tr>)}</tbody>
            </table>
          </div>
        )}
      </section>
      <section class="card" aria-labelledby="offers-title">
        <h2 id="offers-title">{t("voucherOffers")}</h2>
        <Loading state={offers} />
        {offers.data && offers.data.offers.length === 0 && <p>{t("nothing")}</p>}
        {offers.data && offers.data.offers.length > 0 && (
          <div class="table-wrap">
            <table>
              <thead><tr><th scope="col">{t("id")}</th><th scope="col">{t("name")}</th><th scope="col">{t("kind")}</th><th scope="col">{t("pointsCost")}</th></tr></thead>
              <tbody>{offers.data.offers.map((o) => <tr key={o.id}><td>{o.id}</td><td>{o.name ?? "–"}</td><td>{o.kind}</td><td class="num">{num(o.pointsCost)}</td></tr>)}</tbody>
            </table>
          </div>
        )}
      </section>
    </Page>
  );
}
