// A customer's purchase figures for the `customer` reply, behind one function so that a
// fuller source (purchase statistics kept by sales and returns) can replace its body.
// For now they are read from the wallet's daily turnover buckets, which cost nothing
// extra to keep but are coarse: see the field comments.
import { loadWallet } from "./accounts.js";
import { DAY_MS, type Tx } from "./tx.js";

export interface CustomerStats {
  /** Days with a net purchase over the turnover kept (limits.turnoverDaysKept): a day with two sales is one visit. */
  visits: number;
  /** Net spend (sales less returns and voids) over the turnover kept, minor units. */
  spend: number;
  /** spend / visits, rounded to a minor unit; 0 without visits. */
  avgBasket: number;
  /** Start (00:00 UTC) of the latest day with a net purchase, epoch ms; null without one. */
  lastVisitAt: number | null;
  /** Start (00:00 UTC) of the earliest such day still kept, epoch ms; null without one. */
  firstVisitAt: number | null;
}

export function statsOf(tx: Tx, customerId: string): CustomerStats {
  const { turnover } = loadWallet(tx, customerId);
  let visits = 0;
  let spend = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const [day, amount] of turnover) {
    spend += amount;
    if (amount <= 0) continue;
    visits += 1;
    first = Math.min(first, day);
    last = Math.max(last, day);
  }
  return {
    visits,
    spend,
    avgBasket: visits === 0 ? 0 : Math.round(spend / visits),
    lastVisitAt: visits === 0 ? null : last * DAY_MS,
    firstVisitAt: visits === 0 ? null : first * DAY_MS,
  };
}
