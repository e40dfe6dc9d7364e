// Expiry lots: the points of one accrual that expire together, kept per customer and
// account in expiry order. The sweeper finds customers through `expiryDue`, one key per
// customer (when their lots or their tier next need it), kept no later than the true next instant:
// an accrual whose lot expires after the earliest one writes no index at all.
import { limits } from "../limits.js";
import { post } from "./accounts.js";
import { notificationId, notifyCustomer } from "./notifications.js";
import type { Lot, Store, Wallet } from "./store.js";
import { sweepTier } from "./tiers.js";
import { own, type Reply, type Tx } from "./tx.js";

/** When the sweeper must next look at a lot: its notice time until noticed, then its expiry. */
function lotDue(expiresAt: number, lot: Lot, noticeMs: number): number {
  return lot.n ? expiresAt : expiresAt - noticeMs;
}

/** Moves the customer's key in the sweeper's index (the caller saves the wallet). */
export function setDue(tx: Tx, w: Wallet, customerId: string, due: number | undefined): void {
  if (w.due === due) return;
  if (w.due !== undefined) tx.store.expiryDue.remove([w.due, customerId]);
  if (due !== undefined) tx.store.expiryDue.put([due, customerId], 1);
  if (due === undefined) delete w.due;
  else w.due = due;
}

export function addLot(tx: Tx, w: Wallet, customerId: string, account: string, expiresAt: number, seq: number, amount: number, eventId: string): void {
  const lot: Lot = { r: amount, e: eventId, n: false };
  tx.store.lots.put([customerId, account, expiresAt, seq], lot);
  const due = lotDue(expiresAt, lot, tx.options.expiryNoticeMs);
  if (w.due === undefined || due < w.due) setDue(tx, w, customerId, due);
}

/**
 * Points leave expiring lots oldest-expiry first (a return first from its own sale's
 * lot); points beyond the lots came from non-expiring programmes. A lot emptied here
 * leaves the index early at worst: the sweeper's next look moves it.
 */
export function consumeLots(store: Store, customerId: string, account: string, amount: number, prefer: [number, number] | null): void {
  let left = amount;
  const take = (expiresAt: number, seq: number, lot: Lot) => {
    const used = Math.min(lot.r, left);
    left -= used;
    if (used === lot.r) store.lots.remove([customerId, account, expiresAt, seq]);
    else store.lots.put([customerId, account, expiresAt, seq], { ...lot, r: lot.r - used });
  };
  if (prefer) {
    const lot = store.lots.get([customerId, account, prefer[0], prefer[1]]);
    if (lot) take(prefer[0], prefer[1], lot);
  }
  if (left <= 0) return;
  const range = store.lots.getRange({ start: [customerId, account, 0, 0], end: [customerId, account, Number.MAX_SAFE_INTEGER, 0] });
  for (const { key, value } of [...range]) {
    if (left <= 0) break;
    take(key[2], key[3], value);
  }
}

/** Points expiring, grouped by instant, soonest first (asOf: those still unexpired then). */
export function expiringOf(
  store: Store,
  customerId: string,
  account: string,
  asOf: number | undefined,
  instantsMax: number = limits.expiringListedMax,
): { amount: number; at: number }[] {
  const byAt = new Map<number, number>();
  for (const { key, value } of store.lots.getRange({ start: [customerId, account, asOf ?? 0, 0], end: [customerId, account, Number.MAX_SAFE_INTEGER, 0] })) {
    if (!byAt.has(key[2]) && byAt.size >= instantsMax) break;
    byAt.set(key[2], (byAt.get(key[2]) ?? 0) + value.r);
  }
  return [...byAt].map(([at, amount]) => ({ amount, at }));
}

/**
 * The expiry sweeper's command for one customer: expires lots past their time (never
 * below what open holds need) and sends one "expiring" notice per lot entering the
 * notice window; re-evaluates the tier (ledger/tiers.ts sweepTier: turnover that left
 * the window drops it); then re-keys the customer in the index at the earlier of what
 * its lots and its tier next need. Idempotent.
 */
export function sweepExpiry(tx: Tx, input: { customerId: string }): Reply {
  const { customerId } = input;
  const { store, now } = tx;
  const w = store.wallets.get(customerId);
  if (!w) return { ok: true, customerId, expired: 0 };
  const noticeMs = tx.options.expiryNoticeMs;
  let expired = 0;
  let due: number | undefined;
  const notices = new Map<string, { amount: number; at: number }>();
  const lots = [...store.lots.getRange({ start: [customerId, "", 0, 0], end: [customerId, "\uffff", 0, 0] })];
  for (const { key, value } of lots) {
    const [, account, expiresAt] = key;
    let lot: Lot | null = value;
    if (expiresAt <= now) {
      const balanceBefore = own(w.accounts, account)?.balance ?? 0;
      const amount = expireLot(tx, w, customerId, account, expiresAt, value);
      expired += amount;
      // Open holds keep their points: what they cover stays in the lot and expires at a
      // later sweep, once the hold is captured (spent), released or expired.
      lot = amount === value.r || balanceBefore <= 0 ? null : { ...value, r: value.r - amount };
    } else if (!value.n && expiresAt <= now + noticeMs) {
      const n = notices.get(account) ?? { amount: 0, at: expiresAt };
      n.amount += value.r;
      n.at = Math.min(n.at, expiresAt);
      notices.set(account, n);
      lot = { ...value, n: true };
    }
    if (lot === null) store.lots.remove(key);
    else {
      if (lot !== value) store.lots.put(key, lot);
      const d = lotDue(expiresAt, lot, noticeMs);
      due = due === undefined ? d : Math.min(due, d);
    }
  }
  const tierDue = sweepTier(tx, customerId, w);
  setDue(tx, w, customerId, tierDue === undefined || (due !== undefined && due < tierDue) ? due : tierDue);
  store.wallets.put(customerId, w);
  const customer = notices.size > 0 ? store.customers.get(customerId) : null;
  for (const [account, n] of notices) {
    notifyCustomer(tx, "expiring", notificationId.expiring(customerId, account, n.at), customerId, customer, { account, amount: n.amount, expiresAt: n.at });
  }
  return { ok: true, customerId, expired };
}

/** Posts the expiry of what the lot holds, within what open holds leave available; returns the amount. */
function expireLot(tx: Tx, w: Wallet, customerId: string, account: string, expiresAt: number, lot: Lot): number {
  const acc = own(w.accounts, account);
  const amount = acc ? Math.min(lot.r, Math.max(0, acc.balance - acc.held)) : 0;
  if (amount > 0) {
    post(tx, w, customerId, { at: expiresAt, account, kind: "expiry", amount: -amount, cause: `expiry of points earned by ${lot.e}`, eventId: lot.e });
  }
  return amount;
}
