// Expiry lots: the points of one accrual that expire together, kept in the customer's
// wallet per account in expiry order (ledger/lots.ts). The sweeper finds customers through
// `expiryDue`, one key per customer (when their lots or their tier next need it), kept no
// later than the true next instant: an accrual whose lot expires after the earliest one
// writes no index at all.
import { limits } from "../limits.js";
import { post } from "./accounts.js";
import { notificationId, notifyCustomer } from "./notifications.js";
import { LOT_EXPIRES, LOT_LEFT, LOT_NOTICED, LOT_SEQ, keepLots, lotAccounts, lotEvent, lotRows, putLot, setLotRows, type LotRow } from "./lots.js";
import type { Wallet } from "./store.js";
import { sweepTier } from "./tiers.js";
import { own, type Reply, type Tx } from "./tx.js";

/** When the sweeper must next look at a lot: its notice time until noticed, then its expiry. */
function lotDue(row: LotRow, noticeMs: number): number {
  return row[LOT_NOTICED] ? row[LOT_EXPIRES] : row[LOT_EXPIRES] - noticeMs;
}

/** Moves the customer's key in the sweeper's index (the caller saves the wallet). */
export function setDue(tx: Tx, w: Wallet, customerId: string, due: number | undefined): void {
  if (w.due === due) return;
  if (w.due !== undefined) tx.store.expiryDue.remove([w.due, customerId]);
  if (due !== undefined) tx.store.expiryDue.put([due, customerId], 1);
  if (due === undefined) delete w.due;
  else w.due = due;
}

/**
 * A new lot in the wallet the caller saves. `eventId`: the event that earned it, kept only
 * when the entry at `seq` does not name it (a sale's does: undefined).
 */
export function addLot(tx: Tx, w: Wallet, customerId: string, account: string, expiresAt: number, seq: number, amount: number, eventId?: string): void {
  const row: LotRow = eventId === undefined ? [expiresAt, seq, amount, 0] : [expiresAt, seq, amount, 0, eventId];
  putLot(w, account, row);
  const due = lotDue(row, tx.options.expiryNoticeMs);
  if (w.due === undefined || due < w.due) setDue(tx, w, customerId, due);
}

/**
 * Points leave expiring lots oldest-expiry first (a return first from its own sale's
 * lot); points beyond the lots came from non-expiring programmes. In the wallet the
 * caller saves. A lot emptied here leaves the index early at worst: the sweeper's next
 * look moves it.
 */
export function consumeLots(w: Wallet, account: string, amount: number, prefer: [number, number] | null): void {
  const rows = lotRows(w, account);
  if (rows.length === 0 || amount <= 0) return;
  let left = amount;
  const take = (row: LotRow) => {
    const used = Math.min(row[LOT_LEFT], left);
    left -= used;
    row[LOT_LEFT] -= used;
  };
  const preferred = prefer ? rows.find((r) => r[LOT_EXPIRES] === prefer[0] && r[LOT_SEQ] === prefer[1]) : undefined;
  if (preferred) take(preferred);
  for (const row of rows) {
    if (left <= 0) break;
    take(row);
  }
  setLotRows(w, account, rows);
}

/** Points expiring, grouped by instant, soonest first (asOf: those still unexpired then). */
export function expiringOf(w: Wallet, account: string, asOf: number | undefined, instantsMax: number = limits.expiringListedMax): { amount: number; at: number }[] {
  const byAt = new Map<number, number>();
  for (const row of lotRows(w, account)) {
    const at = row[LOT_EXPIRES];
    if (at < (asOf ?? 0)) continue;
    if (!byAt.has(at) && byAt.size >= instantsMax) break;
    byAt.set(at, (byAt.get(at) ?? 0) + row[LOT_LEFT]);
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
  for (const account of lotAccounts(w)) {
    keepLots(w, account, (row) => {
      const expiresAt = row[LOT_EXPIRES];
      if (expiresAt <= now) {
        const balanceBefore = own(w.accounts, account)?.balance ?? 0;
        const amount = expireLot(tx, w, customerId, account, row);
        expired += amount;
        // Open holds keep their points: what they cover stays in the lot and expires at a
        // later sweep, once the hold is captured (spent), released or expired.
        if (amount === row[LOT_LEFT] || balanceBefore <= 0) return false;
        row[LOT_LEFT] -= amount;
      } else if (!row[LOT_NOTICED] && expiresAt <= now + noticeMs) {
        const n = notices.get(account) ?? { amount: 0, at: expiresAt };
        n.amount += row[LOT_LEFT];
        n.at = Math.min(n.at, expiresAt);
        notices.set(account, n);
        row[LOT_NOTICED] = 1;
      }
      const d = lotDue(row, noticeMs);
      due = due === undefined ? d : Math.min(due, d);
      return true;
    });
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
function expireLot(tx: Tx, w: Wallet, customerId: string, account: string, row: LotRow): number {
  const acc = own(w.accounts, account);
  const amount = acc ? Math.min(row[LOT_LEFT], Math.max(0, acc.balance - acc.held)) : 0;
  if (amount > 0) {
    const e = lotEvent(tx.store, customerId, row);
    const cause = e === "" ? `expiry of points of entry ${row[LOT_SEQ]}` : `expiry of points earned by ${e}`;
    post(tx, w, customerId, { at: row[LOT_EXPIRES], account, kind: "expiry", amount: -amount, cause, ...(e === "" ? {} : { eventId: e }) });
  }
  return amount;
}
