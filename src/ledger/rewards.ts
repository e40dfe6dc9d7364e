// The rewards catalogue at the till: a redemption is a hold priced from the catalogue
// that also takes the units from the reward's stock in the same transaction; a released
// or expired reward hold gives them back.
import type { VerbInput } from "../codec/schema.js";
import { LoyaltyError } from "../errors.js";
import { loadWallet, peekAccount } from "./accounts.js";
import { requireCustomer } from "./customers.js";
import { placeHold } from "./holds.js";
import { priceAt } from "./redemption.js";
import type { HeldItem } from "./store.js";
import { PRIMARY_ACCOUNT, assertInvariant, type Reply, type Tx } from "./tx.js";

/**
 * Stock is read in this write transaction, and LMDB serialises write transactions
 * across partitions (threads included), so concurrent redemptions never take more
 * than there is.
 */
export function redeemReward(tx: Tx, input: VerbInput<"redeemReward">): Reply {
  const c = requireCustomer(tx, input.customer);
  const item = catalogueItem(tx, input);
  const amount = item.price * input.qty;
  const w = loadWallet(tx, c.id);
  const acc = peekAccount(w, item.account);
  const available = acc.balance - acc.held;
  const base = { customerId: c.id, account: item.account, ...item.ref, qty: input.qty, price: item.price };
  const refusal = (reason: string, extra: Reply = {}): Reply => ({ ok: true, approved: false, reason, ...base, ...extra, available });
  if (!item.active) return refusal("REWARD_INACTIVE");
  // Cluster mode: the cluster counts the stock, and the log decides (a replay may meet a newer catalogue): the
  // owner reserved the units before it logged the command ([reserved, left]), or counted none (null: no stock then).
  const cluster = tx.stockReservation !== undefined;
  const reservation = tx.stockReservation ?? null;
  if (cluster && reservation !== null && reservation[0] < input.qty) return refusal("OUT_OF_STOCK", { stock: reservation[1] });
  if (!cluster && item.stock !== null && item.stock < input.qty) return refusal("OUT_OF_STOCK", { stock: item.stock });
  if (amount > available) return refusal("INSUFFICIENT_BALANCE", { requested: amount });
  const stockTaken = cluster ? (reservation !== null && input.rewardId !== undefined ? input.qty : 0) : takeStock(tx, input.rewardId, item.stock, input.qty);
  const held: HeldItem = { ...item.ref, qty: input.qty, price: item.price, stockTaken };
  const { hold, available: left } = placeHold(tx, w, c.id, item.account, amount, null, input.ttlMs, held);
  return { ok: true, approved: true, holdId: hold.holdId, ...base, amount, available: left, expiresAt: hold.expiresAt };
}

/** The reward (or product) asked for, with its price in force now. */
function catalogueItem(
  tx: Tx,
  input: VerbInput<"redeemReward">,
): { ref: { rewardId: string } | { sku: string }; account: string; price: number; stock: number | null; active: boolean } {
  if (input.rewardId !== undefined) {
    const r = tx.store.rewards.get(input.rewardId);
    if (!r) throw new LoyaltyError("UNKNOWN_REWARD", `no reward ${input.rewardId}`, "rewardId");
    return { ref: { rewardId: r.id }, account: r.account, price: priceAt(r, tx.now), stock: r.stock, active: r.active };
  }
  const p = tx.store.products.get(input.sku!);
  if (!p?.pointsPrice) throw new LoyaltyError("UNKNOWN_REWARD", `product ${input.sku} has no points price`, "sku");
  return { ref: { sku: p.sku }, account: PRIMARY_ACCOUNT, price: p.pointsPrice, stock: null, active: true };
}

/** Units taken from a reward's stock (0 when unlimited). */
function takeStock(tx: Tx, rewardId: string | undefined, stock: number | null, qty: number): number {
  if (rewardId === undefined || stock === null) return 0;
  const reward = tx.store.rewards.get(rewardId)!;
  assertInvariant(stock - qty >= 0, `stock of ${rewardId} would go below zero`);
  tx.store.rewards.put(rewardId, { ...reward, stock: stock - qty });
  return qty;
}

/** A released or expired reward hold gives its units back (unless the reward went or became unlimited). */
export function returnStock(tx: Tx, item: HeldItem): void {
  if (item.rewardId === undefined || !item.stockTaken) return;
  if (tx.stockReservation !== undefined) return tx.stockReturned(item.rewardId, item.stockTaken);
  const reward = tx.store.rewards.get(item.rewardId);
  if (!reward || reward.stock === null) return;
  tx.store.rewards.put(item.rewardId, { ...reward, stock: reward.stock + item.stockTaken });
}
