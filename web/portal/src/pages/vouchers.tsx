// Vouchers: the participant's own with the days left to use each, and the offers points can buy.
import { day, money, num } from "../../../shared/format.js";
import { Loading, Page, Result, useAction, useConfirm, useLoad } from "../../../shared/ui.js";
import { me, requestId, type Json } from "../api.js";
import type { PageProps } from "../main.js";
import { t } from "../strings.js";
import { Table } from "./common.js";

function valueOf(v: Json): string {
  if (v.kind === "percent") return `${v.percent}%${v.category ? ` (${v.category})` : ""}`;
  return money(v.value, v.currency);
}

export function VouchersPage({ reload }: PageProps) {
  const vouchers = useLoad(() => me<{ vouchers: Json[] }>("/vouchers"), []);
  const offers = useLoad(() => me<{ offers: Json[] }>("/voucher-offers"), []);
  const buying = useAction();
  const confirm = useConfirm();
  const buy = async (offer: Json) => {
    if (!(await confirm.ask(t("confirmBuy", { name: offer.name, price: num(offer.pointsCost) })))) return;
    await buying.run(async () => {
      const r = await me<Json>("/vouchers", "POST", { requestId: requestId("voucher"), offerId: offer.id });
      vouchers.reload();
      reload();
      return r.approved === false ? t("refused", { reason: r.reason }) : t("bought", { code: r.voucher.code });
    });
  };
  return (
    <Page title={t("navVouchers")}>
      <section class="card" aria-labelledby="my-vouchers">
        <h2 id="my-vouchers">{t("yourVouchers")}</h2>
        <Loading state={vouchers} />
        {vouchers.data && (
          <Table
            caption={t("yourVouchers")}
            rows={vouchers.data.vouchers}
            columns={[
              { label: t("voucherCode"), cell: (v) => <code>{v.code}</code> },
              { label: t("name"), cell: (v) => v.name },
              { label: t("voucherValue"), cell: valueOf },
              { label: t("voucherStatus"), cell: (v) => <span class={`badge ${v.status}`}>{v.status}</span> },
              { label: t("daysLeft"), num: true, cell: (v) => (v.status === "active" ? t("daysLeftN", { days: v.daysLeft }) : "–") },
              { label: t("expiresAt"), cell: (v) => day(v.expiresAt) },
            ]}
          />
        )}
      </section>
      <section class="card" aria-labelledby="offers">
        <h2 id="offers">{t("buyVouchers")}</h2>
        <Loading state={offers} />
        {offers.data && (
          <Table
            caption={t("buyVouchers")}
            rows={offers.data.offers}
            columns={[
              { label: t("name"), cell: (o) => o.name },
              { label: t("voucherValue"), cell: valueOf },
              { label: t("price"), num: true, cell: (o) => `${num(o.pointsCost)} ${t("points").toLowerCase()}` },
              { label: "", cell: (o) => <button type="button" class="small" disabled={buying.busy} onClick={() => buy(o)}>{t("buy")} <span class="sr-only">{o.name}</span></button> },
            ]}
          />
        )}
        <Result outcome={buying.outcome} />
      </section>
      {confirm.dialog}
    </Page>
  );
}
