// Vouchers: bought with points (the oldest lots spent first), identified by an
// unguessable code, redeemed once, expired and noticed by the sweeper.
import { handedOn } from "./scope.js";
import type { VerbInput } from "../codec/schema.js";
import { LoyaltyError, failure } from "../errors.js";
import { limits } from "../limits.js";
import { loadWallet, peekAccount, post, saveWallet } from "./accounts.js";
import { requireCustomer } from "./customers.js";
import { consumeLots } from "./expiry.js";
import { notificationId, notifyCustomer } from "./notifications.js";
import { daysLeft, randomVoucherCode, termsOf, voucherView } from "./redemption.js";
import type { Voucher, VoucherOffer } from "./store.js";
import { DAY_MS, assertInvariant, type Reply, type Tx } from "./tx.js";

/** Spends the offer's points now (oldest lots first) and issues a voucher with a random code. */
export function buyVoucher(tx: Tx, input: VerbInput<"buyVoucher">): Reply {
  const c = requireCustomer(tx, input.customer);
  const offer = tx.store.voucherOffers.get(input.offerId);
  if (!offer) throw new LoyaltyError("UNKNOWN_OFFER", `no voucher offer ${input.offerId}`, "offerId");
  const w = loadWallet(tx, c.id);
  const acc = peekAccount(w, offer.account);
  const available = acc.balance - acc.held;
  if (offer.pointsCost > available) {
    return { ok: true, approved: false, reason: "INSUFFICIENT_BALANCE", customerId: c.id, offerId: offer.id, requested: offer.pointsCost, available };
  }
  const voucher = issueVoucher(tx, c.id, offer);
  const after = post(tx, w, c.id, {
    at: tx.now,
    account: offer.account,
    kind: "voucher",
    amount: -offer.pointsCost,
    cause: `voucher ${voucher.code} of offer ${offer.id}, bought by ${input.requestId}`,
  });
  consumeLots(w, offer.account, offer.pointsCost, null);
  saveWallet(tx, c.id, w);
  return {
    ok: true,
    approved: true,
    customerId: c.id,
    offerId: offer.id,
    account: offer.account,
    pointsCost: offer.pointsCost,
    voucher: voucherView(voucher, tx.now),
    balance: after.balance,
    available: after.balance - after.held,
  };
}

function issueVoucher(tx: Tx, customerId: string, offer: VoucherOffer): Voucher {
  const now = tx.now;
  const voucher: Voucher = {
    ...termsOf(offer),
    code: freshVoucherCode(tx, customerId),
    customerId,
    offerId: offer.id,
    name: offer.name,
    account: offer.account,
    pointsCost: offer.pointsCost,
    issuedAt: now,
    expiresAt: now + offer.validDays * DAY_MS,
    status: "active",
    noticed: false,
  };
  const { vouchers, vouchersByCustomer, vouchersByExpiry, voucherNotices } = tx.store;
  // A replay of a partition's time before a merge across partitions that carried this voucher on: the survivor's record stands (ledger/scope.ts).
  if (tx.idScope !== "" && handedOn(tx, vouchers.get(voucher.code)?.customerId, customerId)) return voucher;
  vouchers.put(voucher.code, voucher);
  vouchersByCustomer.put([customerId, now, voucher.code], voucher.code);
  vouchersByExpiry.put([voucher.expiresAt, voucher.code], customerId);
  voucherNotices.put([voucher.expiresAt, voucher.code], customerId);
  return voucher;
}

function freshVoucherCode(tx: Tx, customerId: string): string {
  for (let i = 0; i < limits.voucherCodeAttemptsMax; i++) {
    const code = randomVoucherCode(tx.random(limits.voucherCodeLength));
    const taken = tx.store.vouchers.get(code);
    // Cluster mode: a code a merge across partitions handed on from this customer is the one this replay drew before (ledger/scope.ts).
    if (!taken || (tx.idScope !== "" && handedOn(tx, taken.customerId, customerId))) return code;
  }
  // 60 random bits colliding this often means the random source is broken.
  assertInvariant(false, `no fresh voucher code in ${limits.voucherCodeAttemptsMax} attempts`);
}

/**
 * Marks a voucher used, once. Validity is judged at `at` (the sale's time), so a till
 * that was offline can still redeem a voucher it accepted before it expired.
 */
export function redeemVoucher(tx: Tx, input: VerbInput<"redeemVoucher">): Reply {
  const now = tx.now;
  const v = tx.store.vouchers.get(input.code);
  if (!v) throw new LoyaltyError("UNKNOWN_VOUCHER", `no voucher ${input.code}`, "code");
  if (v.status === "used") throw new LoyaltyError("VOUCHER_USED", `voucher ${v.code} was used at ${v.usedAt}`, "code");
  const at = input.at ?? now;
  if (at < v.issuedAt) throw new LoyaltyError("VALIDATION", `voucher ${v.code} was issued at ${v.issuedAt}`, "at");
  if (at < now - limits.voucherUseLateMsMax) throw new LoyaltyError("VALIDATION", `at is more than ${limits.voucherUseLateMsMax} ms in the past`, "at");
  if (at >= v.expiresAt) {
    const expired = new LoyaltyError("VOUCHER_EXPIRED", `voucher ${v.code} expired at ${v.expiresAt}`, "code");
    if (v.status !== "active" || now < v.expiresAt) throw expired;
    // Past its time and not yet swept: expire it now, and commit that although the request fails.
    closeVoucher(tx, v, "expired");
    return { ...failure(expired.toWire()), requestId: input.requestId };
  }
  v.usedAt = at;
  if (input.eventId !== undefined) v.usedEventId = input.eventId;
  closeVoucher(tx, v, "used");
  return { ok: true, customerId: v.customerId, ...voucherView(v, now) };
}

/** A voucher leaves the sweeper's indexes once used or expired. */
function closeVoucher(tx: Tx, v: Voucher, status: "used" | "expired"): void {
  v.status = status;
  tx.store.vouchers.put(v.code, v);
  tx.store.vouchersByExpiry.remove([v.expiresAt, v.code]);
  tx.store.voucherNotices.remove([v.expiresAt, v.code]);
}

/** A customer's vouchers, newest first. */
export function vouchers(tx: Tx, input: VerbInput<"vouchers">): Reply {
  const c = requireCustomer(tx, input.customer);
  const list: Reply[] = [];
  const range = tx.store.vouchersByCustomer.getRange({ start: [c.id, Number.MAX_SAFE_INTEGER, ""], end: [c.id, 0, ""], reverse: true });
  for (const { value: code } of range) {
    const v = tx.store.vouchers.get(code);
    if (!v) continue;
    const view = voucherView(v, tx.now);
    if (input.status !== undefined && view.status !== input.status) continue;
    list.push(view);
    if (list.length >= input.limit) break;
  }
  return { ok: true, customerId: c.id, vouchers: list };
}

/**
 * The voucher sweeper's command for one voucher: expires it past its time, or sends its
 * one "voucher.expiring" notice when it is within the notice window. Idempotent.
 */
export function sweepVoucher(tx: Tx, input: { code: string }): Reply {
  const now = tx.now;
  const v = tx.store.vouchers.get(input.code);
  if (!v || v.status !== "active") return { ok: true, expired: false, noticed: false };
  if (now >= v.expiresAt) {
    closeVoucher(tx, v, "expired");
    return { ok: true, expired: true, noticed: false };
  }
  if (v.noticed || v.expiresAt > now + tx.options.expiryNoticeMs) return { ok: true, expired: false, noticed: false };
  v.noticed = true;
  tx.store.vouchers.put(v.code, v);
  tx.store.voucherNotices.remove([v.expiresAt, v.code]);
  notifyCustomer(tx, "voucher.expiring", notificationId.voucherExpiring(v.code), v.customerId, tx.store.customers.get(v.customerId), {
    code: v.code,
    expiresAt: v.expiresAt,
    daysLeft: daysLeft(v.expiresAt, now),
  });
  return { ok: true, expired: false, noticed: true };
}
