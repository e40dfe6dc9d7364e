// The aggregates rankings read: per invoice date and distributor, the points, quantity and
// amount of its approved reports, kept in the transaction that approves or rejects one,
// so a ranking over a period adds up days, never entries (admin/rankings.ts).
import type { Report } from "./store.js";
import type { Tx } from "./tx.js";

/** Adds (sign 1, an approval) or takes off (sign -1, the rejection of an approved report) the report's lines and points. */
export function countInRankings(tx: Tx, r: Report, sign: 1 | -1): void {
  const days = new Map<string, { points: number; qty: number; amount: number }>();
  const day = (date: string) => {
    let d = days.get(date);
    if (!d) days.set(date, (d = { points: 0, qty: 0, amount: 0 }));
    return d;
  };
  for (const line of r.lines) {
    const d = day(line.date);
    d.qty += Math.round(line.qty * 1000);
    d.amount += line.amount;
  }
  for (const credit of r.credits) day(credit.date).points += credit.amount;
  for (const [date, d] of days) {
    const key: [string, string] = [date, r.customerId];
    const was = tx.store.rankDays.get(key) ?? { points: 0, qty: 0, amount: 0 };
    const next = { points: was.points + sign * d.points, qty: was.qty + sign * d.qty, amount: was.amount + sign * d.amount };
    if (next.points === 0 && next.qty === 0 && next.amount === 0) tx.store.rankDays.remove(key);
    else tx.store.rankDays.put(key, next);
  }
}
