// Where the segment facts come from beyond the customer record: the tier and the purchase
// knowledge (see src/admin/segments/facts.ts and src/ledger/purchases.ts).
import { monthOfDay, purchaseRecordOf, tallyKey, type PurchaseRecord, type Tally } from "../../ledger/purchases.js";
import { DAY_MS } from "../../ledger/tx.js";
import type { FactsSources, PurchaseView } from "./facts.js";

/**
 * The purchase record as a filter reads it. Its days and months are the deployment's
 * local ones; a filter's epoch-ms window is mapped to UTC days (at most a day off at its
 * edges). Months count whole: a month overlapping the window counts with all its
 * visits and spend. A SKU, category, store or channel keeps its totals and its first and
 * last day only: it counts with its totals when that span overlaps the window.
 */
function viewOf(r: PurchaseRecord): PurchaseView {
  const has = (list: Tally[], key: string) => {
    const label = tallyKey(key);
    return list.some((t) => t[0] === label && t[1] > 0);
  };
  const dayOf = (ms: number) => Math.floor(ms / DAY_MS);
  const inMonths = (from: number, to: number, pick: 1 | 2) => {
    const first = monthOfDay(dayOf(Math.max(from, 0)));
    const last = monthOfDay(dayOf(Math.min(to, 8.64e15)));
    return r.months.reduce((s, m) => (m[0] >= first && m[0] <= last ? s + m[pick] : s), 0);
  };
  return {
    lastVisitAt: r.lastAt > 0 ? r.lastAt : null,
    stores: { has: (s: string) => has(r.stores, s) } as ReadonlySet<string>,
    channels: { has: (c: string) => has(r.channels, c) } as ReadonlySet<string>,
    bought(what, from, to) {
      const [d0, d1] = [dayOf(Math.max(from, 0)), dayOf(Math.min(to, 8.64e15))];
      let count = 0;
      let amount = 0;
      const add = (list: Tally[], keys: readonly string[] | undefined, perUnit: number) => {
        for (const key of keys ?? []) {
          const t = list.find((x) => x[0] === tallyKey(key));
          if (!t || t[4] < d0 || t[3] > d1) continue;
          count += t[1] / perUnit;
          amount += t[2];
        }
      };
      // Units are kept in thousandths (weighed goods).
      add(r.skus, what.skus, 1000);
      add(r.categories, what.categories, 1000);
      return { count, amount };
    },
    spendIn: (from, to) => inMonths(from, to, 2),
    visitsIn: (from, to) => inMonths(from, to, 1),
  };
}

export const factsSources: FactsSources = {
  purchasesOf: (store, customerId) => {
    const r = purchaseRecordOf(store, customerId);
    return r ? viewOf(r) : null;
  },
  // The tier as the customer's last sale, return or void left it (ledger/tiers.ts).
  tierOf: (_store, _customer, wallet) => wallet?.tier?.id ?? null,
};
