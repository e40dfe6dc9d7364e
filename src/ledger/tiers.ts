// A customer's tier under the programmes' tier ladder (rules/tiers.ts): kept in the
// wallet and moved by the sale, return or void that changes the turnover, in the same
// transaction, with a tier.changed notification. Reads report what is kept.
import { notificationId, notifyCustomer } from "./notifications.js";
import { tierIdFor } from "../rules/tiers.js";
import type { Customer, Wallet, WalletTier } from "./store.js";
import { DAY_MS, type Reply, type Tx } from "./tx.js";

/** Turnover (minor units, returns deducted) over the `windowDays` days ending with the day of `at`. */
export function windowTurnover(w: Wallet, at: number, windowDays: number): number {
  const today = Math.floor(at / DAY_MS);
  let sum = 0;
  for (const [day, amount] of w.turnover) if (day > today - windowDays && day <= today) sum += amount;
  return sum;
}

/**
 * The tier before an event at `at` changes the turnover: the kept one, or, for a customer
 * never evaluated, the one the turnover gives (held since enrolment). Null without a ladder.
 */
export function tierBefore(tx: Tx, customerId: string, w: Wallet, at: number): WalletTier | null {
  const ladder = tx.plan().tierLadder;
  if (!ladder) return null;
  if (w.tier) return w.tier;
  const createdAt = tx.store.customers.get(customerId)?.createdAt ?? at;
  return { id: tierIdFor(ladder, windowTurnover(w, at, ladder.windowDays)), since: createdAt, at };
}

/**
 * Re-evaluates the tier once the event changed the turnover, in the wallet the caller
 * saves. A late event is evaluated at the latest time the tier was (a tier never moves
 * back in time); a move is announced as tier.changed.
 */
export function settleTier(tx: Tx, customerId: string, w: Wallet, before: WalletTier | null, at: number): void {
  const ladder = tx.plan().tierLadder;
  if (!ladder || !before) return;
  const t = Math.max(at, before.at);
  const id = tierIdFor(ladder, windowTurnover(w, t, ladder.windowDays));
  if (id === before.id) {
    w.tier = { ...before, at: t };
    return;
  }
  w.tier = { id, since: t, at: t };
  // Named by the entry sequence the move came with: a redelivered event finds its idempotency record and notifies nothing.
  notifyCustomer(tx, "tier.changed", notificationId.tierChanged(customerId, tx.seq), customerId, tx.store.customers.get(customerId), { from: before.id, to: id, at: t });
}

/** `tier` of the balance and customer replies: {id, since}, or null (no ladder, or below every tier). */
export function tierView(tx: Tx, c: Customer, w: Wallet): Reply | null {
  const ladder = tx.plan().tierLadder;
  if (!ladder) return null;
  const kept = w.tier ?? { id: tierIdFor(ladder, windowTurnover(w, tx.now, ladder.windowDays)), since: c.createdAt };
  return kept.id === null ? null : { id: kept.id, since: kept.since };
}
