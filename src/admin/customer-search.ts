// Operators find customers by e-mail: the `emails` index (customers may share an address;
// matched without case); and a customer's open holds. Read on the main thread in a read
// transaction, as the admin listings are.
import { LoyaltyError } from "../errors.js";
import type { Hold, Store } from "../ledger/store.js";

export interface EmailMatch {
  customerId: string;
  name: string | null;
  email: string;
}

/** The customers whose e-mail is `email` (case ignored), in customer id order, at most `limit`; erased ones are gone from the index. */
export function customersByEmail(store: Store, email: string, limit: number): EmailMatch[] {
  store.env.resetReadTxn();
  const key = email.trim().toLowerCase();
  const out: EmailMatch[] = [];
  for (const [, customerId] of store.emails.getKeys({ start: [key, ""], end: [key, "\uffff"], limit })) {
    const c = store.customers.get(customerId);
    if (c) out.push({ customerId, name: c.profile.name ?? null, email: c.profile.email ?? key });
  }
  return out;
}

/**
 * A customer's open holds (the wallet lists them; each hold's record has the rest), soonest
 * expiry first. UNKNOWN_CUSTOMER for an id the ledger does not have.
 */
export function openHoldsOf(store: Store, customerId: string): Hold[] {
  store.env.resetReadTxn();
  if (!store.customers.get(customerId)) throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer ${customerId}`, "id");
  const holds = Object.keys(store.wallets.get(customerId)?.holds ?? {}).flatMap((holdId) => {
    const h = store.holds.get(holdId);
    return h && h.status === "open" ? [h] : [];
  });
  return holds.sort((a, b) => a.expiresAt - b.expiresAt || (a.holdId < b.holdId ? -1 : 1));
}
