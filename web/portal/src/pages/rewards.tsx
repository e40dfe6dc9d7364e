// Rewards: the catalogue at today's prices, those the points buy first; redeeming one spends
// the points at once (POST /v1/me/rewards/<id>/redeem). And converting points to prepaid.
import { useState } from "preact/hooks";
import { num } from "../../../shared/format.js";
import { Field, Loading, Page, Result, useAction, useConfirm, useLoad } from "../../../shared/ui.js";
import { me, requestId, type Json } from "../api.js";
import type { PageProps } from "../main.js";
import { t } from "../strings.js";
import { amountOf, Table } from "./common.js";

export function RewardsPage({ customer, reload }: PageProps) {
  const [onlyAffordable, setOnlyAffordable] = useState(true);
  const rewards = useLoad(() => me<{ rewards: Json[] }>(`/rewards${onlyAffordable ? "?affordable=true" : ""}`), [onlyAffordable]);
  const redeeming = useAction();
  const confirm = useConfirm();
  const redeem = async (r: Json) => {
    if (!(await confirm.ask(t("confirmRedeem", { name: r.name, price: num(r.price) })))) return;
    await redeeming.run(async () => {
      const answer = await me<Json>(`/rewards/${encodeURIComponent(r.rewardId)}/redeem`, "POST", { requestId: requestId("reward") });
      rewards.reload();
      reload();
      if (answer.approved === false) return t("refused", { reason: answer.reason });
      return t("redeemed", { name: r.name, spent: num(answer.spent), available: num(answer.available) });
    });
  };
  return (
    <Page title={t("navRewards")}>
      <section class="card" aria-labelledby="catalogue">
        <h2 id="catalogue">{t("navRewards")}</h2>
        <label class="row">
          <input type="checkbox" checked={onlyAffordable} onChange={(e) => setOnlyAffordable(e.currentTarget.checked)} style="min-height:0;width:1.25rem;height:1.25rem" />
          {t("onlyAffordable")}
        </label>
        <Loading state={rewards} />
        {rewards.data && (
          <Table
            caption={t("navRewards")}
            rows={rewards.data.rewards}
            columns={[
              { label: t("reward"), cell: (r) => r.name },
              { label: t("price"), num: true, cell: (r) => `${num(r.price)} ${t("points").toLowerCase()}` },
              { label: t("stock"), num: true, cell: (r) => (r.stock === null || r.stock === undefined ? "–" : num(r.stock)) },
              {
                label: "",
                cell: (r) => (
                  <button type="button" class="small primary" disabled={!r.affordable || redeeming.busy} onClick={() => redeem(r)}>
                    {t("redeem")} <span class="sr-only">{r.name}</span>
                  </button>
                ),
              },
            ]}
          />
        )}
        <Result outcome={redeeming.outcome} />
      </section>
      <Convert customer={customer} reload={reload} />
      {confirm.dialog}
    </Page>
  );
}

function Convert({ customer, reload }: PageProps) {
  const [amount, setAmount] = useState("");
  const action = useAction();
  const points = (customer.accounts ?? []).find((a: Json) => a.account === "points");
  const submit = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      const n = Number(amount);
      if (!Number.isInteger(n) || n <= 0) throw new Error(t("convertAmount"));
      const r = await me<Json>("/convert", "POST", { requestId: requestId("convert"), amount: n });
      reload();
      if (r.approved === false) return t("refused", { reason: r.reason });
      return t("converted", { points: num(-r.from.amount), value: amountOf({ unit: "money", currency: r.to.currency }, r.to.amount), account: r.to.account });
    });
  };
  return (
    <section class="card" aria-labelledby="convert">
      <h2 id="convert">{t("convertTitle")}</h2>
      <p class="help">{t("convertHelp")}</p>
      <form class="search" onSubmit={submit}>
        <Field label={t("convertAmount")} help={points ? `${t("available")}: ${num(points.available)}` : undefined}>
          {(id, help) => <input id={id} name="amount" inputMode="numeric" aria-describedby={help} value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />}
        </Field>
        <button type="submit" disabled={action.busy}>{t("convert")}</button>
      </form>
      <Result outcome={action.outcome} />
    </section>
  );
}
