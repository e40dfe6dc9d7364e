// Voucher offers: what a voucher costs in points, what it gives (an amount off, or a
// percentage off one product category) and how long it stays valid. `buyVoucher`
// copies the terms into each voucher, so editing or removing an offer leaves the
// vouchers already issued as they were.
import { z } from "zod";
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import { currency, id } from "../codec/schema.js";
import type { Store, VoucherOffer } from "../ledger/store.js";
import { parseAdminBody, withPathId } from "./parse.js";

const common = {
  id,
  name: z.string().min(1).max(200),
  account: id.default("points"),
  pointsCost: z.number().int().min(1).max(limits.pointsPriceMax),
  validDays: z.number().int().min(1).max(limits.voucherValidDaysMax),
};

export const offerSchema = z.discriminatedUnion("kind", [
  z.object({ ...common, kind: z.literal("amount"), value: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER), currency }).strict(),
  z.object({ ...common, kind: z.literal("percent"), percent: z.number().int().min(1).max(100), category: id }).strict(),
]);

export async function putVoucherOffer(store: Store, offerId: string, body: unknown, now: number): Promise<VoucherOffer> {
  const parsed = parseAdminBody(offerSchema, withPathId(body, offerId, "voucher offer"), "voucher offer");
  return store.env.transaction(() => {
    if (!store.voucherOffers.get(offerId) && store.voucherOffers.getKeysCount() >= limits.voucherOffersMax) {
      throw new LoyaltyError("VALIDATION", `at most ${limits.voucherOffersMax} voucher offers`, "id");
    }
    const offer: VoucherOffer = { ...parsed, updatedAt: now };
    store.voucherOffers.put(offerId, offer);
    return offer;
  });
}

export function getVoucherOffer(store: Store, offerId: string): VoucherOffer {
  store.env.resetReadTxn();
  const offer = store.voucherOffers.get(offerId);
  if (!offer) throw new LoyaltyError("UNKNOWN_OFFER", `no voucher offer ${offerId}`, "id");
  return offer;
}

export function listVoucherOffers(store: Store, limit: number): VoucherOffer[] {
  store.env.resetReadTxn();
  return [...store.voucherOffers.getRange({ limit })].map(({ value }) => value);
}

/** Vouchers already issued keep their terms and stay valid. */
export async function removeVoucherOffer(store: Store, offerId: string): Promise<void> {
  const removed = await store.env.transaction(() => {
    if (!store.voucherOffers.get(offerId)) return false;
    store.voucherOffers.remove(offerId);
    return true;
  });
  if (!removed) throw new LoyaltyError("UNKNOWN_OFFER", `no voucher offer ${offerId}`, "id");
}
