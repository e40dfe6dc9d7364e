// Two-phase redemption: authorize places a hold on available points (or stored value),
// capture spends up to the held amount, release frees it; a hold past its time expires
// (by the sweeper, or on the spot when a capture or release meets it). Each step is in
// the statement: a zero-amount entry (hold, release, hold.expired) naming the amount
// held, or the capture's redemption entry, so the balance stays the sum of the entries.
import type { VerbInput } from "../codec/schema.js";
import { LoyaltyError, failure } from "../errors.js";
import { accountFor, loadWallet, peekAccount, post, saveWallet } from "./accounts.js";
import { requireCustomer } from "./customers.js";
import { consumeLots } from "./expiry.js";
import { returnStock } from "./rewards.js";
import type { Account, HeldItem, Hold, Wallet } from "./store.js";
import { assertInvariant, type Reply, type Tx } from "./tx.js";

export function authorize(tx: Tx, input: VerbInput<"authorize">): Reply {
  const c = requireCustomer(tx, input.customer);
  const rate = tx.plan().redemptionFor(input.account);
  let amount = input.amount;
  if (amount === undefined) {
    if (!rate) throw new LoyaltyError("VALIDATION", `account ${input.account} has no conversion rate`, "value");
    if (input.currency && input.currency !== rate.currency) {
      throw new LoyaltyError("VALIDATION", `account ${input.account} redeems in ${rate.currency}`, "currency");
    }
    // Points needed to cover the value, rounded up so the hold never covers less than asked.
    amount = Math.ceil(input.value! / rate.pointValue);
  }
  // Contract v1.1: the reply always says what the hold is worth at the account's rate (null without one).
  const value = rate ? amount * rate.pointValue : null;
  const w = loadWallet(tx, c.id);
  const acc = peekAccount(w, input.account);
  const available = acc.balance - acc.held;
  if (amount > available) {
    return { ok: true, approved: false, reason: "INSUFFICIENT_BALANCE", customerId: c.id, requested: amount, available };
  }
  const { hold, available: left } = placeHold(tx, w, c.id, input.account, amount, value, input.ttlMs, undefined);
  return { ok: true, approved: true, holdId: hold.holdId, customerId: c.id, account: input.account, amount, value, available: left, expiresAt: hold.expiresAt };
}

/** Opens a hold of `amount` on the account of the customer's wallet `w` (the caller checked it is available) and saves the wallet. */
export function placeHold(
  tx: Tx,
  w: Wallet,
  customerId: string,
  account: string,
  amount: number,
  value: number | null,
  ttlMs: number | undefined,
  item: HeldItem | undefined,
): { hold: Hold; available: number } {
  const seq = tx.nextHoldSeq();
  const hold: Hold = {
    holdId: `h_${tx.idScope}${seq.toString(36).padStart(6, "0")}`,
    customerId,
    account,
    amount,
    value,
    status: "open",
    captured: 0,
    createdAt: tx.now,
    expiresAt: tx.now + (ttlMs ?? tx.options.holdTtlMsDefault),
  };
  if (item) hold.item = item;
  if (tx.scope !== null) hold.store = tx.scope;
  const acc = accountFor(w, account);
  acc.held += amount;
  const cause = `${item ? `${itemLabel(item)}: ` : ""}hold ${hold.holdId}`;
  post(tx, w, customerId, { at: tx.now, account, kind: "hold", amount: 0, held: amount, cause, holdId: hold.holdId });
  (w.holds ??= {})[hold.holdId] = [account, amount, hold.expiresAt];
  saveWallet(tx, customerId, w);
  tx.store.holds.put(hold.holdId, hold);
  tx.store.holdsByExpiry.put([hold.expiresAt, hold.holdId], customerId);
  return { hold, available: acc.balance - acc.held };
}

/**
 * The hold, if it is still open. A hold past its time is expired here and now (its
 * points come back) and the refusal is returned rather than thrown, so that expiry
 * is committed even though the request fails.
 */
function openHold(tx: Tx, holdId: string): Hold | Reply {
  const hold = tx.store.holds.get(holdId);
  if (!hold) throw new LoyaltyError("UNKNOWN_HOLD", `no hold ${holdId}`, "holdId");
  // A store's terminal key acts on its own holds only (hold ids are sequential, so guessable).
  if (tx.scope !== null && hold.store !== tx.scope) throw new LoyaltyError("FORBIDDEN", `hold ${holdId} was not placed by store ${tx.scope}`, "holdId");
  if (hold.status === "open" && tx.now >= hold.expiresAt) {
    const w = loadWallet(tx, hold.customerId);
    expire(tx, w, hold);
    saveWallet(tx, hold.customerId, w);
    return failure(new LoyaltyError("HOLD_EXPIRED", `hold ${holdId} expired at ${hold.expiresAt}`, "holdId").toWire());
  }
  if (hold.status === "expired") throw new LoyaltyError("HOLD_EXPIRED", `hold ${holdId} expired at ${hold.expiresAt}`, "holdId");
  if (hold.status !== "open") throw new LoyaltyError("HOLD_CLOSED", `hold ${holdId} is ${hold.status}`, "holdId");
  return hold;
}

/** A hold past its time: freed, with its hold.expired entry at the instant it lapsed. */
function expire(tx: Tx, w: Wallet, hold: Hold): void {
  closeHold(tx, w, hold, "expired");
  post(tx, w, hold.customerId, { at: hold.expiresAt, account: hold.account, kind: "hold.expired", amount: 0, held: hold.amount, cause: `expiry of hold ${hold.holdId}`, holdId: hold.holdId });
}

/**
 * Frees the held amount in the customer's wallet `w` (and, unless captured, a reward's
 * stock) and records the hold's end; the caller posts the entry (the captured part, or
 * the zero-amount release or expiry mark) and saves `w`.
 */
function closeHold(tx: Tx, w: Wallet, hold: Hold, status: Hold["status"]): Account {
  const acc = accountFor(w, hold.account);
  acc.held -= hold.amount;
  assertInvariant(acc.held >= 0, `held went negative for ${hold.customerId}`);
  if (status !== "captured" && hold.item) returnStock(tx, hold.item);
  hold.status = status;
  if (w.holds) delete w.holds[hold.holdId];
  tx.store.holds.put(hold.holdId, hold);
  tx.store.holdsByExpiry.remove([hold.expiresAt, hold.holdId]);
  return acc;
}

function isHold(h: Hold | Reply): h is Hold {
  return typeof (h as Hold).holdId === "string" && (h as Hold).status !== undefined;
}

export function capture(tx: Tx, input: VerbInput<"capture">): Reply {
  const hold = openHold(tx, input.holdId);
  if (!isHold(hold)) return { ...hold, requestId: input.requestId };
  const captured = input.amount ?? hold.amount;
  if (captured > hold.amount) throw new LoyaltyError("CAPTURE_EXCEEDS_HOLD", `capture ${captured} exceeds the held ${hold.amount}`, "amount");
  const w = loadWallet(tx, hold.customerId);
  hold.captured = captured;
  closeHold(tx, w, hold, "captured");
  const acc = post(tx, w, hold.customerId, {
    at: tx.now,
    account: hold.account,
    kind: "redemption",
    amount: -captured,
    cause: `${hold.item ? `${itemLabel(hold.item)}: ` : ""}capture ${input.requestId} of hold ${hold.holdId}`,
    holdId: hold.holdId,
    held: hold.amount,
  });
  consumeLots(w, hold.account, captured, null);
  saveWallet(tx, hold.customerId, w);
  const reply: Reply = { ok: true, holdId: hold.holdId, customerId: hold.customerId, account: hold.account, captured, released: hold.amount - captured, balance: acc.balance, available: acc.balance - acc.held };
  return hold.item ? { ...reply, ...itemRef(hold.item), qty: hold.item.qty } : reply;
}

export function release(tx: Tx, input: VerbInput<"release">): Reply {
  const hold = openHold(tx, input.holdId);
  if (!isHold(hold)) return { ...hold, requestId: input.requestId };
  const w = loadWallet(tx, hold.customerId);
  const acc = closeHold(tx, w, hold, "released");
  post(tx, w, hold.customerId, { at: tx.now, account: hold.account, kind: "release", amount: 0, held: hold.amount, cause: `release ${input.requestId} of hold ${hold.holdId}`, holdId: hold.holdId });
  saveWallet(tx, hold.customerId, w);
  return { ok: true, holdId: hold.holdId, customerId: hold.customerId, released: hold.amount, balance: acc.balance, available: acc.balance - acc.held };
}

/** The sweeper's command: expire one hold if it is still open and past its time. */
export function expireHold(tx: Tx, input: { holdId: string }): Reply {
  const hold = tx.store.holds.get(input.holdId);
  if (!hold || hold.status !== "open" || tx.now < hold.expiresAt) return { ok: true, expired: false };
  const w = loadWallet(tx, hold.customerId);
  expire(tx, w, hold);
  saveWallet(tx, hold.customerId, w);
  return { ok: true, expired: true, holdId: hold.holdId };
}

function itemRef(item: HeldItem): { rewardId: string } | { sku: string } {
  return item.rewardId !== undefined ? { rewardId: item.rewardId } : { sku: item.sku! };
}

function itemLabel(item: HeldItem): string {
  return `${item.rewardId !== undefined ? `reward ${item.rewardId}` : `product ${item.sku}`} x${item.qty} at ${item.price}`;
}
