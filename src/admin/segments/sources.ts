// Where the segment facts come from beyond the customer record: the tier and the purchase
// knowledge (see src/admin/segments/facts.ts).
import type { FactsSources } from "./facts.js";

export const factsSources: FactsSources = {
  purchasesOf: () => null,
  tierOf: (_store, customer) => (customer as { tier?: { id?: string } | null }).tier?.id ?? null,
};
