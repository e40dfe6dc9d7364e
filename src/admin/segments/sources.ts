// Where the segment facts come from beyond the customer record: the tier and the purchase
// knowledge (see src/admin/segments/facts.ts).
import type { FactsSources } from "./facts.js";

export const factsSources: FactsSources = {
  purchasesOf: () => null,
  // The tier as the customer's last sale, return or void left it (ledger/tiers.ts).
  tierOf: (_store, _customer, wallet) => wallet?.tier?.id ?? null,
};
