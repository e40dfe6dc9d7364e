// The purchase figures the `customer` verb shows (contract v1.1: stats {visits, spend,
// avgBasket, lastVisitAt, firstVisitAt}); the whole record is purchaseStatsOf's.
import { purchaseTotalsOf, type PurchaseTotals } from "./purchases.js";
import type { Tx } from "./tx.js";

export function statsOf(tx: Tx, customerId: string): PurchaseTotals {
  return purchaseTotalsOf(tx, customerId);
}
