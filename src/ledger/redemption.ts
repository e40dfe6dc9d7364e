// Pure helpers of the rewards catalogue and vouchers, shared by the ledger and the
// admin API: the points price in force at an instant, voucher codes, reply views.
import { randomBytes } from "node:crypto";
import { limits } from "../limits.js";
import type { Reward, Voucher, VoucherTerms } from "./store.js";

const DAY_MS = 86_400_000;

/** The seasonal price whose window holds `at` (from <= at < to), else the base price. */
export function priceAt(reward: Pick<Reward, "pointsPrice" | "seasonalPrices">, at: number): number {
  const season = reward.seasonalPrices.find((s) => s.from <= at && at < s.to);
  return season ? season.pointsPrice : reward.pointsPrice;
}

// Crockford's base32: no I, L, O or U, so a code read aloud or typed at a till is unambiguous.
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A fresh random voucher code: `voucherCodeLength` characters, 5 random bits each. */
export function randomVoucherCode(bytes: Uint8Array = randomBytes(limits.voucherCodeLength)): string {
  let code = "";
  for (const b of bytes) code += CROCKFORD[b & 31];
  return code;
}

/** Whole days left before `expiresAt`, rounded up (0 once it has passed). */
export function daysLeft(expiresAt: number, now: number): number {
  return Math.max(0, Math.ceil((expiresAt - now) / DAY_MS));
}

export function termsOf(t: VoucherTerms): VoucherTerms {
  return t.kind === "amount" ? { kind: "amount", value: t.value, currency: t.currency } : { kind: "percent", percent: t.percent, category: t.category };
}

/** A voucher as replies show it; an active voucher past its time shows as expired before the sweeper marks it. */
export function voucherView(v: Voucher, now: number): Record<string, unknown> {
  const status = v.status === "active" && now >= v.expiresAt ? "expired" : v.status;
  const view: Record<string, unknown> = {
    code: v.code,
    offerId: v.offerId,
    name: v.name,
    ...termsOf(v),
    issuedAt: v.issuedAt,
    expiresAt: v.expiresAt,
    status,
    daysLeft: status === "active" ? daysLeft(v.expiresAt, now) : 0,
  };
  if (v.usedAt !== undefined) view.usedAt = v.usedAt;
  if (v.usedEventId !== undefined) view.eventId = v.usedEventId;
  return view;
}
