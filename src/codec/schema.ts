// The wire messages, as zod schemas: validated once at the edge, trusted inside.
import { z } from "zod";
import { limits } from "../limits.js";
import { B2B_SCHEMAS, b2bEnrollFields, b2bUpdateFields, groupsFrom } from "./b2b.js";
import { address, atMostItems, attributeValue, atMostKeys, currency, customerRef, epochMs, grouped, id, isBirthday, limitIssue, minorUnitsUpTo, phone, qty, upTo, type CustomerRef } from "./primitives.js";
import { isTimeZone } from "../rules/time.js";

export { id, minorUnitsUpTo, epochMs, currency, customerRef, isBirthday, type CustomerRef } from "./primitives.js";

/** A points or value request, 1 to a business bound. */
const requestUpTo = (max: number, unit: string): z.ZodNumber => upTo(max, unit).int().positive();

const saleLine = z
  .object({
    lineId: id,
    sku: id,
    qty,
    unitPrice: minorUnitsUpTo(limits.unitPriceMax),
    /** Amount actually paid for the line, after discounts; default round(qty * unitPrice). */
    amount: minorUnitsUpTo(limits.lineAmountMax).optional(),
    category: id.optional(),
    promo: z.boolean().default(false),
    /** The offer (coupon, promotion) the line was sold under: programmes' offer rules earn on it. */
    offerId: id.optional(),
  })
  .strict();

const tender = z.object({ type: id, amount: minorUnitsUpTo(limits.basketTotalMax) }).strict();

type SaleLineInput = Pick<z.infer<typeof saleLine>, "qty" | "unitPrice" | "amount">;

/**
 * A line's price before discounts, round(qty × unitPrice) half up, in minor units. Done in
 * thousandths of a unit (qty has at most 3 decimals), so 1.005 × 100 is 101 as a till
 * computes it, not the 100 that 1.005 * 100 gives in floating point.
 */
export function lineGrossOf(line: Pick<SaleLineInput, "qty" | "unitPrice">): number {
  const milli = Math.round(line.qty * 1000) * line.unitPrice;
  return Math.floor((milli + 500) / 1000);
}

/** What a line pays: its amount when sent, else its rounded gross. */
export function lineAmountOf(line: SaleLineInput): number {
  return line.amount ?? lineGrossOf(line);
}

/** A custom zod issue; `params` carries the limit marker when a business bound is to blame. */
interface MoneyIssue {
  path: (string | number)[];
  message: string;
  params?: Record<string, number>;
}

/** The money of a sale that is cross-checked. */
interface SaleMoney {
  lines: SaleLineInput[];
  tenders: { amount: number }[];
  total?: number | undefined;
}

function lineMoneyIssue(line: SaleLineInput, i: number): MoneyIssue | undefined {
  const gross = lineGrossOf(line);
  if (gross > limits.lineAmountMax) {
    const message = `qty × unitPrice comes to ${gross}; a line may come to at most ${grouped(limits.lineAmountMax)} minor units`;
    return { path: ["lines", i, "unitPrice"], ...limitIssue(limits.lineAmountMax, message) };
  }
  // A discount lowers a line; nothing raises it above its price (a mistyped amount would earn points).
  if (line.amount !== undefined && line.amount > gross) {
    return { path: ["lines", i, "amount"], message: `must not exceed round(qty × unitPrice) = ${gross}` };
  }
  return undefined;
}

function basketMoneyIssue(e: SaleMoney): MoneyIssue | undefined {
  const sum = e.lines.reduce((s, l) => s + lineAmountOf(l), 0);
  if (sum > limits.basketTotalMax) {
    const message = `the line amounts add up to ${sum}; a basket may come to at most ${grouped(limits.basketTotalMax)} minor units`;
    return { path: ["lines"], ...limitIssue(limits.basketTotalMax, message) };
  }
  // A till that rounds the basket once, not each line, may differ by up to 1 per line.
  if (e.total !== undefined && Math.abs(e.total - sum) > e.lines.length) {
    return { path: ["total"], message: `must equal the sum of the line amounts, ${sum}, within ±${e.lines.length}` };
  }
  const due = e.total ?? sum;
  const paid = e.tenders.reduce((s, t) => s + t.amount, 0);
  if (e.tenders.length > 0 && paid !== due) {
    return { path: ["tenders"], message: `add up to ${paid}; they must add up to the total, ${due}` };
  }
  return undefined;
}

/** The first inconsistency between a sale's lines, total and tenders, if any. */
function saleMoneyIssue(e: SaleMoney): MoneyIssue | undefined {
  for (const [i, line] of e.lines.entries()) {
    const issue = lineMoneyIssue(line, i);
    if (issue) return issue;
  }
  return basketMoneyIssue(e);
}

export const saleEvent = z
  .object({
    type: z.literal("sale"),
    eventId: id,
    at: epochMs,
    storeId: id,
    channel: id.default("store"),
    terminalId: id.optional(),
    customer: customerRef,
    currency,
    lines: z.array(saleLine).min(1).max(limits.basketLinesMax),
    tenders: z.array(tender).max(limits.basketTendersMax).default([]),
    total: minorUnitsUpTo(limits.basketTotalMax).optional(),
    /** Offers named for the whole basket (a coupon scanned at the till): programmes' offer rules earn on them. */
    offerIds: z.array(id).max(limits.basketOffersMax).optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    // Money is cross-checked only when every field is well-formed and within its own bound.
    const wellFormed = ctx.issues.length === 0;
    const seen = new Set<string>();
    e.lines.forEach((l, i) => {
      if (seen.has(l.lineId)) ctx.addIssue({ code: "custom", path: ["lines", i, "lineId"], message: "duplicate lineId" });
      seen.add(l.lineId);
    });
    const money = wellFormed ? saleMoneyIssue(e) : undefined;
    if (money) ctx.addIssue({ code: "custom", ...money });
  });
export type SaleEvent = z.infer<typeof saleEvent>;

export const returnEvent = z
  .object({
    type: z.literal("return"),
    eventId: id,
    originalEventId: id,
    at: epochMs,
    storeId: id.optional(),
    terminalId: id.optional(),
    lines: z.array(z.object({ lineId: id, qty }).strict()).min(1).max(limits.basketLinesMax).optional(),
  })
  .strict();
export type ReturnEvent = z.infer<typeof returnEvent>;

export const voidEvent = z
  .object({
    type: z.literal("void"),
    eventId: id,
    originalEventId: id,
    at: epochMs,
    storeId: id.optional(),
    terminalId: id.optional(),
  })
  .strict();
export type VoidEvent = z.infer<typeof voidEvent>;

export const posEvent = z.discriminatedUnion("type", [saleEvent, returnEvent, voidEvent]);
export type PosEvent = z.infer<typeof posEvent>;

export const balanceRequest = z.object({ customer: customerRef, asOf: epochMs.optional() }).strict();

// ---- customers: profile, consents, groups, attributes ----------------------------------------

const personName = z.string().max(200);
const email = z.string().email().max(254);
const birthday = z.string().refine(isBirthday, 'must be "YYYY-MM-DD" or "MM-DD", a calendar date');
/** A BCP 47 language tag such as "pl" or "en-GB". */
const language = z.string().max(35).regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/, "must be a language tag such as pl or en-GB");
/** An IANA time zone such as "Europe/Warsaw": the customer's local date for its birthday greeting. */
const timeZone = z.string().max(64).refine(isTimeZone, "must be an IANA time zone such as Europe/Warsaw");
/** The profile fields, as enroll sets them and updateCustomer changes them. */
const profileFields = { name: personName, firstName: personName, lastName: personName, phone, email, address, birthday, language, timeZone };
export type ProfileField = keyof typeof profileFields;
export const PROFILE_FIELDS = Object.keys(profileFields) as ProfileField[];

/** A consent as given: a plain boolean (given now), or granted with the time it was given or withdrawn. */
const consentValue = z.union([z.boolean(), z.object({ granted: z.boolean(), at: epochMs.optional() }).strict()]);
export type ConsentInput = z.infer<typeof consentValue>;
/** The channels a consent is kept for by updateCustomer (and the segment exports). */
export const CONSENT_CHANNELS = ["email", "sms", "post"] as const;

/** An attribute's name: printable, 1-64 characters, not __proto__. */
const attributeKey = z.string().regex(/^(?!__proto__$)[^\p{C}]{1,64}$/u, "must be 1-64 printable characters (and not __proto__)");

export const enrollRequest = z
  .object({
    requestId: id,
    profile: z
      .object({
        ...Object.fromEntries(PROFILE_FIELDS.map((f) => [f, profileFields[f].optional()])) as { [F in ProfileField]: z.ZodOptional<(typeof profileFields)[F]> },
        /** v1: any channel name; a boolean or {granted, at?}. */
        consents: atMostKeys(z.record(z.string().max(64), consentValue), limits.consentChannelsMax, "consent channels").optional(),
      })
      .strict()
      .default({}),
    card: id.optional(),
    loyaltyId: id.optional(),
    group: id.optional(),
    attributes: atMostKeys(z.record(z.string().max(limits.attributeKeyLengthMax), attributeValue), limits.customerAttributesMax, "attributes").optional(),
    ...b2bEnrollFields,
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.company !== undefined && r.kind !== "distributor") ctx.addIssue({ code: "custom", path: ["company"], message: 'is for kind "distributor"' });
  });

export const customerRequest = z.object({ customer: customerRef }).strict();

/** Changes to a customer: a field given is set, null clears it; what is not given stays. */
export const updateCustomerRequest = z
  .object({
    requestId: id,
    customer: customerRef,
    profile: z
      .object(Object.fromEntries(PROFILE_FIELDS.map((f) => [f, profileFields[f].nullable().optional()])) as { [F in ProfileField]: z.ZodOptional<z.ZodNullable<(typeof profileFields)[F]>> })
      .strict()
      .optional(),
    consents: z.object(Object.fromEntries(CONSENT_CHANNELS.map((c) => [c, consentValue.optional()])) as Record<(typeof CONSENT_CHANNELS)[number], z.ZodOptional<typeof consentValue>>).strict().optional(),
    groups: z
      .object({ add: atMostItems(id, limits.customerGroupsMax, "groups").optional(), remove: atMostItems(id, limits.customerGroupsMax, "groups").optional(), from: groupsFrom })
      .strict()
      .optional(),
    attributes: atMostKeys(z.record(attributeKey, attributeValue.nullable()), limits.customerAttributesMax, "attributes").optional(),
    /** Sets (or with null, removes) the retailer-assigned loyalty id. */
    loyaltyId: id.nullable().optional(),
    ...b2bUpdateFields,
  })
  .strict()
  .superRefine((r, ctx) => {
    const removed = new Set(r.groups?.remove ?? []);
    const both = (r.groups?.add ?? []).findIndex((g) => removed.has(g));
    if (both >= 0) ctx.addIssue({ code: "custom", path: ["groups", "add", both], message: "is also in groups.remove" });
  });

export const statementRequest = z
  .object({
    customer: customerRef,
    from: epochMs.optional(),
    to: epochMs.optional(),
    limit: z.number().int().min(1).max(limits.statementLimitMax).default(100),
  })
  .strict();

export const authorizeRequest = z
  .object({
    requestId: id,
    customer: customerRef,
    account: id.default("points"),
    amount: requestUpTo(limits.pointsRequestMax, "points").optional(),
    value: requestUpTo(limits.pointsRequestMax, "minor units").optional(),
    currency: currency.optional(),
    ttlMs: z.number().int().min(1000).max(limits.holdTtlMsMax).optional(),
  })
  .strict()
  .refine((r) => (r.amount === undefined) !== (r.value === undefined), {
    message: "exactly one of amount or value is required",
    path: ["amount"],
  });

export const captureRequest = z
  .object({ requestId: id, holdId: id, amount: requestUpTo(limits.pointsRequestMax, "points").optional() })
  .strict();

export const releaseRequest = z.object({ requestId: id, holdId: id }).strict();

/** Converts points into a stored-value (prepaid) balance at the points account's rate. */
export const convertRequest = z
  .object({
    requestId: id,
    customer: customerRef,
    from: id.default("points"),
    to: id.default("prepaid"),
    amount: requestUpTo(limits.conversionMax, "points"),
  })
  .strict()
  .refine((r) => r.from !== r.to, { message: "from and to must differ", path: ["to"] });

/** Why an operator did something by hand (an adjustment, a merge, an erasure). */
const adminReason = z.string().min(1).max(500);

/** A manual adjustment (admin only): always with a reason and an operator. */
export const adjustRequest = z
  .object({
    requestId: id,
    customer: customerRef,
    account: id.default("points"),
    amount: z
      .number()
      .refine((n) => Math.abs(n) <= limits.adjustmentMax, limitIssue(limits.adjustmentMax, `must be within ±${grouped(limits.adjustmentMax)}`))
      .int()
      .refine((n) => n !== 0, "must not be zero"),
    reason: adminReason,
    operator: id,
    /**
     * "compensation": a top-up that covers a cost the customer bears, such as the tax due
     * on a reward (PRODUCT D.6); its entry's kind says so, and it only credits. Absent: a
     * plain adjustment (absent, not defaulted, so that earlier requests hash as they did).
     */
    kind: z.enum(["adjustment", "compensation"]).optional(),
  })
  .strict()
  .refine((r) => r.kind !== "compensation" || r.amount > 0, { message: "a compensation credits: amount must be positive", path: ["amount"] });

const ttlMs = z.number().int().min(1000).max(limits.holdTtlMsMax);

/** A two-phase redemption of a catalogue reward (or of a product at its card's points price). */
export const redeemRewardRequest = z
  .object({
    requestId: id,
    customer: customerRef,
    rewardId: id.optional(),
    sku: id.optional(),
    qty: z.number().int().min(1).max(limits.rewardQtyMax).default(1),
    ttlMs: ttlMs.optional(),
  })
  .strict()
  .refine((r) => (r.rewardId === undefined) !== (r.sku === undefined), {
    message: "exactly one of rewardId or sku is required",
    path: ["rewardId"],
  });

export const buyVoucherRequest = z.object({ requestId: id, customer: customerRef, offerId: id }).strict();

/** Codes are matched without the spaces, dashes and case a till operator may type. */
/** A voucher code as typed at a till -> as issued: without spaces and dashes, upper case. */
export function normalizeVoucherCode(code: string): string {
  return code.replace(/[\s-]/g, "").toUpperCase();
}
const voucherCode = id.transform(normalizeVoucherCode);

export const redeemVoucherRequest = z
  .object({
    requestId: id,
    code: voucherCode,
    /** The sale the voucher pays for, recorded with the use. */
    eventId: id.optional(),
    /** When the voucher is used (the sale's time); default the engine's clock. */
    at: epochMs.optional(),
  })
  .strict();

export const vouchersRequest = z
  .object({
    customer: customerRef,
    status: z.enum(["active", "used", "expired"]).optional(),
    limit: z.number().int().min(1).max(limits.vouchersListMax).default(100),
  })
  .strict();

/** Converts what a customer earned (net of returns) in [earnedFrom, earnedTo), capped at what is available. */
export const convertEarnedRequest = z
  .object({
    requestId: id,
    customer: customerRef,
    from: id.default("points"),
    to: id.default("prepaid"),
    earnedFrom: epochMs,
    earnedTo: epochMs,
  })
  .strict()
  .refine((r) => r.earnedFrom < r.earnedTo, { message: "must be after earnedFrom", path: ["earnedTo"] })
  .refine((r) => r.from !== r.to, { message: "from and to must differ", path: ["to"] });

/** Card management (admin): a family's cards on one account, lost cards blocked and replaced. */
export const cardRequest = z.discriminatedUnion("action", [
  z.object({ requestId: id, action: z.literal("link"), card: id, customer: customerRef }).strict(),
  z.object({ requestId: id, action: z.literal("unlink"), card: id }).strict(),
  z.object({ requestId: id, action: z.literal("block"), card: id }).strict(),
  z.object({ requestId: id, action: z.literal("unblock"), card: id }).strict(),
  z.object({ requestId: id, action: z.literal("replace"), card: id, newCard: id }).strict(),
]);

/** A customer named by id (a string) or by any customer reference. */
const customerOrId = z.union([id, customerRef]);

/** Merge `from` into `into` (admin): everything of `from` moves to `into` as ledger entries, and `from` resolves to `into`. */
export const mergeCustomersRequest = z
  .object({ requestId: id, from: customerOrId, into: customerOrId, reason: adminReason, operator: id })
  .strict();

/** Erase a customer (admin, GDPR): the path's id as `customer`; profile and identifiers go, the ledger stays. */
export const eraseCustomerRequest = z
  .object({ customer: z.object({ customerId: id }).strict(), reason: adminReason, operator: id })
  .strict();

/** An id or a reference -> a reference. */
export function refOf(x: z.infer<typeof customerOrId>): CustomerRef {
  return typeof x === "string" ? { customerId: x } : x;
}

/**
 * Every wire verb's schema. Which door each verb comes through (terminal or admin),
 * how it is routed and what makes it idempotent is declared in src/verbs.ts.
 */
export const VERB_SCHEMAS = {
  accrue: posEvent,
  quote: saleEvent,
  balance: balanceRequest,
  enroll: enrollRequest,
  customer: customerRequest,
  updateCustomer: updateCustomerRequest,
  statement: statementRequest,
  authorize: authorizeRequest,
  capture: captureRequest,
  release: releaseRequest,
  convert: convertRequest,
  redeemReward: redeemRewardRequest,
  buyVoucher: buyVoucherRequest,
  redeemVoucher: redeemVoucherRequest,
  vouchers: vouchersRequest,
  adjust: adjustRequest,
  card: cardRequest,
  convertEarned: convertEarnedRequest,
  mergeCustomers: mergeCustomersRequest,
  eraseCustomer: eraseCustomerRequest,
  ...B2B_SCHEMAS,
} as const;

export type Verb = keyof typeof VERB_SCHEMAS;
export type VerbInput<V extends Verb> = z.infer<(typeof VERB_SCHEMAS)[V]>;
export function schemaOf(verb: Verb): z.ZodType {
  return VERB_SCHEMAS[verb];
}
