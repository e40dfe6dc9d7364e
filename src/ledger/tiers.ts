// A customer's tier under the programmes' tier ladder (rules/tiers.ts): kept in the
// wallet and moved by the sale, return or void that changes the turnover, in the same
// transaction, with a tier.changed notification; and moved down without an event when
// old turnover leaves the window: the expiry sweeper's key (wallet.due) also covers the
// instant the kept turnover would next fall below the tier, and its sweep re-evaluates.
// Reads report what is kept.
import { setDue } from "./expiry.js";
import { notificationId, notifyCustomer } from "./notifications.js";
import { tierIdFor, type TierLadder } from "../rules/tiers.js";
import type { Customer, Wallet, WalletTier } from "./store.js";
import { eachTurnoverDay, turnoverBetween } from "./turnover.js";
import { DAY_MS, type Reply, type Tx } from "./tx.js";

/** Turnover (minor units, returns deducted) over the `windowDays` days ending with the day of `at`. */
export function windowTurnover(w: Wallet, at: number, windowDays: number): number {
  const today = Math.floor(at / DAY_MS);
  return turnoverBetween(w.turnover, today - windowDays, today);
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
  // Named by the entry sequence the move came with: a redelivered event finds its idempotency record and notifies nothing.
  moveTier(tx, customerId, w, ladder, before, at, (t) => notificationId.tierChanged(customerId, tx.seq));
  const due = tierDueOf(ladder, w, Math.max(at, tx.now));
  if (due !== undefined && (w.due === undefined || due < w.due)) setDue(tx, w, customerId, due);
}

/** The tier the turnover gives at max(at, before.at), kept in `w`; a move announced with the id `idOf(t)` gives. */
function moveTier(tx: Tx, customerId: string, w: Wallet, ladder: TierLadder, before: WalletTier, at: number, idOf: (t: number) => string): void {
  const t = Math.max(at, before.at);
  const id = tierIdFor(ladder, windowTurnover(w, t, ladder.windowDays));
  if (id === before.id) {
    w.tier = { ...before, at: t };
    return;
  }
  w.tier = { id, since: t, at: t };
  notifyCustomer(tx, "tier.changed", idOf(t), customerId, tx.store.customers.get(customerId), { from: before.id, to: id, at: t });
}

/**
 * When the turnover kept now first falls below the minSpend of the tier it gives at `at`:
 * the start of the UTC day on which enough of its oldest buckets have left the window
 * (bucket `d` counts up to day d + windowDays − 1). Undefined below every tier or when no
 * bucket leaves soon enough to matter. A later sale only delays that instant and re-keys
 * when it brings it earlier (a return), so the key is never late.
 */
export function tierDueOf(ladder: TierLadder, w: Wallet, at: number): number | undefined {
  const turnover = windowTurnover(w, at, ladder.windowDays);
  const id = tierIdFor(ladder, turnover);
  if (id === null) return undefined;
  const minSpend = ladder.tiers.find((t) => t.id === id)!.minSpend;
  const today = Math.floor(at / DAY_MS);
  let left = turnover;
  let due: number | undefined;
  eachTurnoverDay(w.turnover, (day, amount) => {
    if (due !== undefined || day <= today - ladder.windowDays || day > today) return;
    left -= amount;
    if (left < minSpend) due = (day + ladder.windowDays) * DAY_MS;
  });
  return due;
}

/**
 * The sweeper's look at a customer's tier (expiry.ts sweepExpiry, when the key is due):
 * the tier the window's turnover gives now, a move announced as tier.changed (named by the
 * instant: no entry comes with it), and when it must next look. Merged-away and erased
 * customers keep no tier. Returns the next instant, or undefined.
 */
export function sweepTier(tx: Tx, customerId: string, w: Wallet): number | undefined {
  const ladder = tx.plan().tierLadder;
  const c = tx.store.customers.get(customerId);
  if (!ladder || !c || c.mergedInto !== undefined || c.erasedAt !== undefined) return undefined;
  const before = tierBefore(tx, customerId, w, tx.now);
  if (!before) return undefined;
  moveTier(tx, customerId, w, ladder, before, tx.now, (t) => notificationId.tierChangedAt(customerId, t));
  return tierDueOf(ladder, w, Math.max(tx.now, before.at));
}

/** `tier` of the balance and customer replies: {id, since}, or null (no ladder, or below every tier). */
export function tierView(tx: Tx, c: Customer, w: Wallet): Reply | null {
  const ladder = tx.plan().tierLadder;
  if (!ladder) return null;
  const kept = w.tier ?? { id: tierIdFor(ladder, windowTurnover(w, tx.now, ladder.windowDays)), since: c.createdAt };
  return kept.id === null ? null : { id: kept.id, since: kept.since };
}
