// History: what the purchases added up to, and the statement of every point that came or went,
// with its cause, newest first (the API answers oldest first).
import { day, num, when } from "../../../shared/format.js";
import { Loading, Page, useLoad } from "../../../shared/ui.js";
import { me, type Json } from "../api.js";
import type { PageProps } from "../main.js";
import { t } from "../strings.js";
import { amountOf, Table } from "./common.js";

/** The window both reads cover: the last year (the API's default limit of 100 entries). */
const YEAR_MS = 366 * 86_400_000;

export function HistoryPage({ customer }: PageProps) {
  const from = Date.now() - YEAR_MS;
  const statement = useLoad(() => me<{ entries: Json[]; truncated?: boolean }>(`/statement?from=${from}&limit=1000`), []);
  const purchases = useLoad(() => me<{ stats: Json; sales: Json[] }>(`/purchases?from=${from}&limit=1000`), []);
  const accounts = new Map<string, Json>((customer.accounts ?? []).map((a: Json) => [a.account, a]));
  const stats = purchases.data?.stats;
  return (
    <Page title={t("navHistory")}>
      <section class="card" aria-labelledby="purchases">
        <h2 id="purchases">{t("purchases")}</h2>
        <Loading state={purchases} />
        {stats && (
          <dl class="inline">
            <dt>{t("visits")}</dt><dd>{num(stats.visits)}</dd>
            <dt>{t("spend")}</dt><dd>{num(stats.spend / 100)}</dd>
            <dt>{t("avgBasket")}</dt><dd>{num(stats.avgBasket / 100)}</dd>
            <dt>{t("lastVisit")}</dt><dd>{day(stats.lastVisitAt)}</dd>
          </dl>
        )}
        {purchases.data && (
          <Table
            caption={t("purchases")}
            rows={[...purchases.data.sales].reverse()}
            columns={[
              { label: t("date"), cell: (s) => when(s.at) },
              { label: t("what"), cell: (s) => s.cause },
              { label: t("points"), num: true, cell: (s) => Object.entries(s.points as Record<string, number>).map(([acc, n]) => amountOf(accounts.get(acc), n)).join(", ") },
            ]}
          />
        )}
      </section>
      <section class="card" aria-labelledby="statement">
        <h2 id="statement">{t("statement")}</h2>
        <Loading state={statement} />
        {statement.data?.truncated && <p>{t("truncated")}</p>}
        {statement.data && (
          <Table
            caption={t("statement")}
            // A hold's marks move nothing (amount 0): the statement shows what changed a balance.
            rows={statement.data.entries.filter((e) => e.amount !== 0).reverse()}
            columns={[
              { label: t("date"), cell: (e) => when(e.at) },
              { label: t("what"), cell: (e) => e.cause },
              { label: t("account"), cell: (e) => e.account },
              { label: t("change"), num: true, cell: (e) => `${e.amount > 0 ? "+" : ""}${amountOf(accounts.get(e.account), e.amount)}` },
            ]}
          />
        )}
      </section>
    </Page>
  );
}
