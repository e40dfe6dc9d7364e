// Expiry lots: the points of one accrual that expire together, kept per customer and
// account in expiry order, with an index by expiry instant for the sweeper. Functions
// over the store, called inside the ledger's write transaction.
import { limits } from "../limits.js";
import type { Lot, Store } from "./store.js";

/** lotsByExpiry values: the lot's notice is still due / went out. */
export const NOTICE_DUE = 1;
export const NOTICED = 2;

export function addLot(store: Store, customerId: string, account: string, expiresAt: number, seq: number, amount: number, eventId: string): void {
  store.lots.put([customerId, account, expiresAt, seq], { r: amount, e: eventId, n: false });
  store.lotsByExpiry.put([expiresAt, customerId, account, seq], NOTICE_DUE);
}

export function dropLot(store: Store, customerId: string, account: string, expiresAt: number, seq: number): void {
  store.lots.remove([customerId, account, expiresAt, seq]);
  store.lotsByExpiry.remove([expiresAt, customerId, account, seq]);
}

/**
 * Points leave expiring lots oldest-expiry first (a return first from its own sale's
 * lot); points beyond the lots came from non-expiring programmes.
 */
export function consumeLots(store: Store, customerId: string, account: string, amount: number, prefer: [number, number] | null): void {
  let left = amount;
  const take = (expiresAt: number, seq: number, lot: Lot) => {
    const used = Math.min(lot.r, left);
    left -= used;
    if (used === lot.r) dropLot(store, customerId, account, expiresAt, seq);
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
export function expiringOf(store: Store, customerId: string, account: string, asOf: number | undefined): { amount: number; at: number }[] {
  const byAt = new Map<number, number>();
  for (const { key, value } of store.lots.getRange({ start: [customerId, account, asOf ?? 0, 0], end: [customerId, account, Number.MAX_SAFE_INTEGER, 0] })) {
    if (!byAt.has(key[2]) && byAt.size >= limits.expiringListedMax) break;
    byAt.set(key[2], (byAt.get(key[2]) ?? 0) + value.r);
  }
  return [...byAt].map(([at, amount]) => ({ amount, at }));
}
