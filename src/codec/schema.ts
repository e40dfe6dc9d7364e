// The wire messages, as zod schemas: validated once at the edge, trusted inside.
import { z } from "zod";
import { limits } from "../limits.js";

// Printable: no control, format, private-use or unassigned code points; length in code points.
// "__proto__" is refused: it cannot round-trip through plain objects and storage.
export const id = z.string().regex(/^(?!__proto__$)[^\p{C}]{1,128}$/u, "must be 1-128 printable characters (and not __proto__)");
export const minorUnits = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const epochMs = z.number().int().min(0).max(8_640_000_000_000_000);
export const currency = z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as EUR");
const phone = z.string().regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 number such as +48601234567");
const qty = z.number().positive().max(1_000_000).multipleOf(0.001, "at most 3 decimals");

export const customerRef = z.union([
  z.object({ customerId: id }).strict(),
  z.object({ card: id }).strict(),
  z.object({ phone }).strict(),
]);
export type CustomerRef = z.infer<typeof customerRef>;

const saleLine = z
  .object({
    lineId: id,
    sku: id,
    qty,
    unitPrice: minorUnits,
    /** Amount actually paid for the line, after discounts; default round(qty * unitPrice). */
    amount: minorUnits.optional(),
    category: id.optional(),
    promo: z.boolean().default(false),
  })
  .strict();

const tender = z.object({ type: id, amount: minorUnits }).strict();

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
    total: minorUnits.optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    const seen = new Set<string>();
    e.lines.forEach((l, i) => {
      if (seen.has(l.lineId)) ctx.addIssue({ code: "custom", path: ["lines", i, "lineId"], message: "duplicate lineId" });
      seen.add(l.lineId);
    });
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

export const enrollRequest = z
  .object({
    requestId: id,
    profile: z
      .object({
        name: z.string().max(200).optional(),
        phone: phone.optional(),
        email: z.string().email().max(254).optional(),
        birthday: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be YYYY-MM-DD").optional(),
        consents: z.record(z.string().max(64), z.boolean()).optional(),
      })
      .strict()
      .default({}),
    card: id.optional(),
    group: id.optional(),
    attributes: z.record(z.string().max(64), z.union([z.string().max(256), z.number(), z.boolean()])).optional(),
  })
  .strict();

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
    amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
    value: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
    currency: currency.optional(),
    ttlMs: z.number().int().min(1000).max(limits.holdTtlMsMax).optional(),
  })
  .strict()
  .refine((r) => (r.amount === undefined) !== (r.value === undefined), {
    message: "exactly one of amount or value is required",
    path: ["amount"],
  });

export const captureRequest = z
  .object({ requestId: id, holdId: id, amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional() })
  .strict();

export const releaseRequest = z.object({ requestId: id, holdId: id }).strict();

/** Converts points into a stored-value (prepaid) balance at the points account's rate. */
export const convertRequest = z
  .object({
    requestId: id,
    customer: customerRef,
    from: id.default("points"),
    to: id.default("prepaid"),
    amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  })
  .strict()
  .refine((r) => r.from !== r.to, { message: "from and to must differ", path: ["to"] });

/** A manual adjustment (admin only): always with a reason and an operator. */
export const adjustRequest = z
  .object({
    requestId: id,
    customer: customerRef,
    account: id.default("points"),
    amount: z
      .number()
      .int()
      .min(-Number.MAX_SAFE_INTEGER)
      .max(Number.MAX_SAFE_INTEGER)
      .refine((n) => n !== 0, "must not be zero"),
    reason: z.string().min(1).max(500),
    operator: id,
  })
  .strict();

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
const voucherCode = id.transform((c) => c.replace(/[\s-]/g, "").toUpperCase());

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

export const VERB_SCHEMAS = {
  accrue: posEvent,
  quote: saleEvent,
  balance: balanceRequest,
  enroll: enrollRequest,
  statement: statementRequest,
  authorize: authorizeRequest,
  capture: captureRequest,
  release: releaseRequest,
  convert: convertRequest,
  redeemReward: redeemRewardRequest,
  buyVoucher: buyVoucherRequest,
  redeemVoucher: redeemVoucherRequest,
  vouchers: vouchersRequest,
} as const;

/** Verbs reachable only through the admin API (bearer token). */
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

export const ADMIN_VERB_SCHEMAS = {
  adjust: adjustRequest,
  card: cardRequest,
  convertEarned: convertEarnedRequest,
} as const;

const ALL_SCHEMAS = { ...VERB_SCHEMAS, ...ADMIN_VERB_SCHEMAS };

/** Terminal verbs: NATS loyalty.rpc.<verb> and HTTP POST /v1/<verb>. */
export type PublicVerb = keyof typeof VERB_SCHEMAS;
export type Verb = keyof typeof ALL_SCHEMAS;
export const VERBS = Object.keys(VERB_SCHEMAS) as PublicVerb[];
export type VerbInput<V extends Verb> = z.infer<(typeof ALL_SCHEMAS)[V]>;
export function schemaOf(verb: Verb): z.ZodType {
  return ALL_SCHEMAS[verb];
}
