// Cluster mode: an instance keeps every partition it serves in one ledger, and copies,
// possibly stale, of partitions it served before. A logged command reads and changes
// its own partition's customers only:
// - what another partition's customer holds in a shared index (a card, phone or loyalty
//   id) does not block it (the identity directory decides across partitions, before the
//   command is logged), and is written over (a stale copy);
// - except an entry a merge across partitions gave the survivor (ledger/merge-steps.ts):
//   this partition's history before the merge, replayed after the survivor's partition
//   (a rebuild, a takeover by the survivor's owner), reads it as the merged-away
//   customer's while that one is live here, and does not write over it;
// - another partition's customer's wallet is never written through this partition's log.
// Customer ids made in cluster mode name their partition ("cu_v3_..."); on a single node
// (idScope "") none of this applies.
import { LoyaltyError } from "../errors.js";
import type { Tx } from "./tx.js";

/** A transaction, or a read outside one (no partition: idScope absent). */
type Scoped = Pick<Tx, "store"> & { readonly idScope?: string };

const SCOPED_ID = /^(?:cu|h)_v([0-9a-z]{1,3})_/;

/** What a virtual partition's customer and hold ids start with after their kind ("v3_"): the Tx's idScope. */
export const scopeOf = (vp: number): string => `v${vp.toString(36)}_`;

/**
 * The virtual partition a customer or hold id made in cluster mode names ("cu_v3_000001":
 * partition 3, see Tx.idScope), or null for any other key.
 */
export function scopedPartition(key: string): number | null {
  const m = SCOPED_ID.exec(key);
  return m ? parseInt(m[1]!, 36) : null;
}

/** Whether `customerId` belongs to a partition other than the command's. */
export function ofOtherPartition(tx: { readonly idScope?: string }, customerId: string | undefined): boolean {
  if (!tx.idScope || customerId === undefined) return false;
  const vp = scopedPartition(customerId);
  return vp !== null && scopeOf(vp) !== tx.idScope;
}

/**
 * The customer an index entry naming `owner` stands for in this command's partition: the
 * owner; or, when a merge across partitions handed the entry on to `owner`, the customer
 * of this partition it came from while that one is still live here, or null while this
 * partition has not made it yet (a replay of the time before the merge, where the entry
 * was unknown: a sale may enrol it, with the id it had).
 */
export function standsFor(tx: Scoped, owner: string): string | null {
  if (!ofOtherPartition(tx, owner)) return owner;
  for (const id of tx.store.customers.get(owner)?.mergedFrom ?? []) {
    if (ofOtherPartition(tx, id)) continue;
    const c = tx.store.customers.get(id);
    if (!c) return null;
    if (c.mergedInto === undefined) return id;
  }
  return owner;
}

/** Whether `customerId`'s entry in an index that now names `owner` was handed on by a merge across partitions (then not written over). */
export function handedOn(tx: Scoped, owner: string | undefined, customerId: string): boolean {
  return owner !== undefined && ofOtherPartition(tx, owner) && (tx.store.customers.get(owner)?.mergedFrom?.includes(customerId) ?? false);
}

/**
 * Refuses (UNAVAILABLE, to be retried) a command that reached the wrong partition: a
 * return whose sale's owner could not be asked in time, a card whose index entry here is
 * another partition's. Rather than applied through another partition's log.
 */
export function assertServedHere(tx: { readonly idScope?: string }, customerId: string): void {
  if (ofOtherPartition(tx, customerId)) {
    throw new LoyaltyError("UNAVAILABLE", `customer ${customerId} is in another partition than this command's; retry`);
  }
}
