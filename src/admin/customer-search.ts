// Operators find customers by e-mail: the `emails` index (customers may share an address;
// matched without case), read on the main thread in a read transaction, as the admin
// listings are.
import type { Store } from "../ledger/store.js";

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
