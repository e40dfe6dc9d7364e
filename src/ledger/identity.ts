// A customer's identifiers besides cards (phone, e-mail, loyalty id) and consents: each
// identifier is moved in its index in the caller's transaction, so a record and its
// index never disagree; a phone or loyalty id another customer has is refused without
// saying whose (in cluster mode, one of this partition: ledger/scope.ts). Merge and erase
// use the same functions to move or drop identifiers.
import type { ConsentInput } from "../codec/schema.js";
import { LoyaltyError } from "../errors.js";
import { handedOn, ofOtherPartition } from "./scope.js";
import { emailKey, type Consent, type Customer } from "./store.js";
import type { Tx } from "./tx.js";

/** Moves a customer's phone from `from` to `to` in `phones` (either may be absent). */
export function reindexPhone(tx: Tx, customerId: string, from: string | undefined, to: string | null | undefined): void {
  const { phones } = tx.store;
  if (from === (to ?? undefined)) return;
  if (to) {
    const owner = phones.get(to);
    if (owner !== undefined && owner !== customerId && !ofOtherPartition(tx, owner)) throw new LoyaltyError("VALIDATION", `phone ${to} already belongs to a customer`, "profile.phone");
    if (!handedOn(tx, owner, customerId)) phones.put(to, customerId);
  }
  if (from && phones.get(from) === customerId) phones.remove(from);
}

/** Moves a customer's e-mail in `emails` (not unique: a family may share one address). */
export function reindexEmail(tx: Tx, customerId: string, from: string | undefined, to: string | null | undefined): void {
  const { emails } = tx.store;
  if (from?.toLowerCase() === to?.toLowerCase()) return;
  if (from) emails.remove(emailKey(from, customerId));
  if (to) emails.put(emailKey(to, customerId), 1);
}

/** Moves a customer's loyalty id in `loyaltyIds`; one another customer has is refused. */
export function reindexLoyaltyId(tx: Tx, customerId: string, from: string | undefined, to: string | null | undefined): void {
  const { loyaltyIds } = tx.store;
  if (from === (to ?? undefined)) return;
  if (to) {
    const owner = loyaltyIds.get(to);
    if (owner !== undefined && owner !== customerId && !ofOtherPartition(tx, owner)) throw new LoyaltyError("VALIDATION", `loyalty id ${to} already belongs to a customer`, "loyaltyId");
    if (!handedOn(tx, owner, customerId)) loyaltyIds.put(to, customerId);
  }
  if (from && loyaltyIds.get(from) === customerId) loyaltyIds.remove(from);
}

/** Consents as a request gives them (a boolean: given or withdrawn now) -> as kept. */
export function consentsGiven(given: Record<string, ConsentInput | undefined>, now: number): Record<string, Consent> {
  const out: Record<string, Consent> = {};
  for (const [channel, v] of Object.entries(given)) {
    if (v === undefined) continue;
    out[channel] = typeof v === "boolean" ? { granted: v, at: now } : { granted: v.granted, at: v.at ?? now };
  }
  return out;
}

/**
 * A customer's consents. A record written before consents kept their time has them as
 * booleans in its profile: read as given (or refused) at enrolment.
 */
export function consentsOf(c: Customer): Record<string, Consent> {
  if (c.consents) return c.consents;
  const legacy = c.profile.consents;
  if (!legacy) return {};
  return Object.fromEntries(Object.entries(legacy).map(([channel, granted]) => [channel, { granted, at: c.createdAt }]));
}
