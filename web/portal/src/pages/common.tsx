// What several portal pages show the same way: an account's amount (points, or money in minor
// units), a status badge, a table that stacks on a phone.
import type { ComponentChildren } from "preact";
import { hundredths, money, num } from "../../../shared/format.js";
import type { Json } from "../api.js";
import { t, type StringKey } from "../strings.js";

/** An account's amount as its unit says: points, or minor units of the account's currency. */
export function amountOf(account: Json | undefined, amount: number): string {
  if (account?.unit === "money" && typeof account.currency === "string") return money(amount, account.currency);
  // The balance reply names no currency for a money account: its minor units shown as hundredths.
  return account?.unit === "money" ? hundredths(amount) : `${num(amount)} ${t("points").toLowerCase()}`;
}

export function Badge({ status }: { status: string }) {
  const key = `status_${status}` as StringKey;
  const label = key in STATUS_KEYS ? t(key) : status;
  return <span class={`badge ${status}`}>{label}</span>;
}
const STATUS_KEYS = { status_pending: 1, status_approved: 1, status_rejected: 1 };

/** A table whose rows become labelled blocks under 720 px (portal.css, table.stack). */
export function Table<R>(props: { caption: string; columns: { label: string; num?: boolean; cell: (r: R) => ComponentChildren }[]; rows: R[]; empty?: string }) {
  if (props.rows.length === 0) return <p>{props.empty ?? t("nothing")}</p>;
  return (
    <div class="table-wrap">
      <table class="stack">
        <caption class="sr-only">{props.caption}</caption>
        <thead>
          <tr>{props.columns.map((c) => <th scope="col" class={c.num ? "num" : undefined}>{c.label}</th>)}</tr>
        </thead>
        <tbody>
          {props.rows.map((r) => (
            <tr>{props.columns.map((c) => <td class={c.num ? "num" : undefined} data-label={c.label}>{c.cell(r)}</td>)}</tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
