// The replies of the terminal verbs and the failure envelope, as zod schemas: what the
// OpenAPI document (ingest/http/openapi.ts) publishes and what test/e2e/openapi.test.ts
// checks real replies against. The engine builds replies in ledger/; these describe them.
import { z } from "zod";
import { ERROR_CODES, type ErrorCode } from "../errors.js";
import type { Verb } from "./schema.js";

const int = z.number().int();
const epochMs = int;
const text = z.string();
/** Repeating an id with the same content answers the first reply with `duplicate: true`. */
const duplicate = z.boolean().optional();

export const errorCode = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);

/** Every failure, whatever the verb or route: `{ok: false, error: {code, message, field?}}`. */
export const failureReply = z.object({
  ok: z.literal(false),
  error: z.object({ code: errorCode, message: text, field: text.optional() }),
  /** Echoed from the request, when it had one, so that a POS can match the reply. */
  eventId: text.optional(),
  requestId: text.optional(),
});

const breakdownItem = z.object({
  programme: text,
  version: int,
  /** The rule kind, "cap" for what a per-event cap removed. */
  rule: text,
  ruleIndex: int.optional(),
  amount: int,
  lines: z.array(text).optional(),
});

const accrueReply = z.object({
  ok: z.literal(true),
  type: z.enum(["sale", "return", "void"]),
  eventId: text,
  customerId: text,
  earned: int,
  balance: int,
  available: int,
  accounts: z.array(z.object({ account: text, earned: int, balance: int, available: int })),
  breakdown: z.array(breakdownItem),
  duplicate: z.boolean(),
  originalEventId: text.optional(),
});

const quoteReply = z.object({
  ok: z.literal(true),
  customerId: text.nullable(),
  earned: int,
  breakdown: z.array(breakdownItem),
  balance: int,
  available: int,
  redeemable: z.object({ points: int, value: int, currency: text.nullable() }),
});

const tier = z.object({ id: text, since: epochMs }).nullable();

const balanceReply = z.object({
  ok: z.literal(true),
  customerId: text,
  groups: z.array(text),
  accounts: z.array(
    z.object({
      account: text,
      unit: z.enum(["points", "money"]),
      balance: int,
      held: int,
      available: int,
      expiring: z.array(z.object({ amount: int, at: epochMs })),
    }),
  ),
  tier,
});

const enrollReply = z.object({ ok: z.literal(true), customerId: text, duplicate });

const consent = z.object({ granted: z.boolean(), at: epochMs });
const address = z.object({ line1: text.optional(), line2: text.optional(), postcode: text.optional(), city: text.optional(), country: text.optional() });
const attribute = z.union([text, z.number(), z.boolean()]);

const customerReply = z.object({
  ok: z.literal(true),
  customerId: text,
  loyaltyId: text.optional(),
  profile: z.object({
    name: text.optional(),
    firstName: text.optional(),
    lastName: text.optional(),
    phone: text.optional(),
    email: text.optional(),
    address: address.optional(),
    birthday: text.optional(),
    language: text.optional(),
  }),
  consents: z.record(text, consent),
  groups: z.array(text),
  /** Dated group changes (distributors), once a change named its first day. */
  groupChanges: z.array(z.object({ from: text, group: text, in: z.boolean() })).optional(),
  /** "distributor": a B2B participant, with its company and the users who may submit its reports. */
  kind: z.literal("distributor").optional(),
  company: z.object({ name: text, taxId: text, address: address.optional() }).optional(),
  users: z.array(text).optional(),
  attributes: z.record(text, attribute),
  cards: z.array(z.object({ card: text, status: z.enum(["active", "blocked"]) })),
  tier,
  stats: z.object({ visits: int, spend: int, avgBasket: int, lastVisitAt: epochMs.nullable(), firstVisitAt: epochMs.nullable() }),
  createdAt: epochMs,
  duplicate,
});

const statementReply = z.object({
  ok: z.literal(true),
  customerId: text,
  entries: z.array(
    z.object({
      seq: int,
      at: epochMs,
      kind: text,
      amount: int,
      account: text,
      cause: text,
      eventId: text.optional(),
      holdId: text.optional(),
      held: int.optional(),
      programme: text.optional(),
      version: int.optional(),
      /** Only on the entries of a customer merged into this one. */
      customerId: text.optional(),
      /** The sales report whose approval or rejection posted it. */
      reportId: text.optional(),
      /** Adjustments and compensation top-ups: who made it, and why. */
      operator: text.optional(),
      reason: text.optional(),
    }),
  ),
  /** A distributor's sales reports in the same window. */
  reports: z
    .array(z.object({ reportId: text, status: z.enum(["pending", "approved", "rejected"]), points: int, submittedAt: epochMs, lines: int, checks: int, decidedAt: epochMs.optional(), /** A merged-away participant's report: whose. */ customerId: text.optional() }))
    .optional(),
  /** The scan stopped at limits.statementScanMax entries. */
  truncated: z.boolean().optional(),
});

/** A denial is a success: `approved: false` with its reason, recorded under the request id. */
const denied = { ok: z.literal(true), approved: z.literal(false), reason: text, customerId: text, available: int, duplicate };

const authorizeReply = z.discriminatedUnion("approved", [
  z.object({
    ok: z.literal(true),
    approved: z.literal(true),
    holdId: text,
    customerId: text,
    account: text,
    amount: int,
    value: int.nullable(),
    available: int,
    expiresAt: epochMs,
    duplicate,
  }),
  z.object({ ...denied, requested: int }),
]);

const rewardItem = { account: text, rewardId: text.optional(), sku: text.optional(), qty: int, price: int };

const captureReply = z.object({
  ok: z.literal(true),
  holdId: text,
  customerId: text,
  /** The hold's account (absent from replies stored before it was added). */
  account: text.optional(),
  captured: int,
  released: int,
  balance: int,
  available: int,
  rewardId: text.optional(),
  sku: text.optional(),
  qty: int.optional(),
  duplicate,
});

const releaseReply = z.object({ ok: z.literal(true), holdId: text, customerId: text, released: int, balance: int, available: int, duplicate });

const convertReply = z.discriminatedUnion("approved", [
  z.object({
    ok: z.literal(true),
    approved: z.literal(true),
    customerId: text,
    from: z.object({ account: text, amount: int, balance: int, available: int }),
    to: z.object({ account: text, amount: int, currency: text, balance: int, available: int }),
    duplicate,
  }),
  z.object({ ...denied, requested: int }),
]);

const redeemRewardReply = z.discriminatedUnion("approved", [
  z.object({ ok: z.literal(true), approved: z.literal(true), holdId: text, customerId: text, ...rewardItem, amount: int, available: int, expiresAt: epochMs, duplicate }),
  z.object({ ...denied, ...rewardItem, stock: int.optional(), requested: int.optional() }),
]);

const voucherTerms = {
  kind: z.enum(["amount", "percent"]),
  value: int.optional(),
  currency: text.optional(),
  percent: int.optional(),
  category: text.optional(),
};
const voucher = z.object({
  code: text,
  offerId: text,
  name: text,
  ...voucherTerms,
  issuedAt: epochMs,
  expiresAt: epochMs,
  status: z.enum(["active", "used", "expired"]),
  daysLeft: int,
  usedAt: epochMs.optional(),
  eventId: text.optional(),
});

const buyVoucherReply = z.discriminatedUnion("approved", [
  z.object({ ok: z.literal(true), approved: z.literal(true), customerId: text, offerId: text, account: text.optional(), pointsCost: int, voucher, balance: int, available: int, duplicate }),
  z.object({ ...denied, offerId: text, requested: int }),
]);

const redeemVoucherReply = z.object({ ok: z.literal(true), customerId: text, ...voucher.shape, duplicate });

const vouchersReply = z.object({ ok: z.literal(true), customerId: text, vouchers: z.array(voucher) });

const submitReportReply = z.object({
  ok: z.literal(true),
  reportId: text,
  customerId: text,
  status: z.enum(["pending", "approved", "rejected"]),
  /** What the verification found, each naming its check and the line (index). */
  checks: z.array(z.object({ code: text, line: int, message: text })),
  points: int,
  submittedAt: epochMs,
  user: text.optional(),
  currency: text,
  lines: z.array(z.object({ invoice: text, date: text, sku: text, qty: z.number(), amount: int, category: text.optional() })),
  decidedAt: epochMs.optional(),
  decidedBy: text.optional(),
  reason: text.optional(),
  duplicate,
});

const targetsReply = z.object({
  ok: z.literal(true),
  customerId: text,
  targets: z.array(
    z.object({
      targetId: text,
      programme: text,
      metric: z.enum(["qty", "amount"]),
      goal: z.number(),
      achieved: z.number(),
      remaining: z.number(),
      reached: z.boolean(),
      points: int,
      awarded: int,
      from: epochMs,
      to: epochMs,
      daysLeft: int,
      /** A target with tiers of goals: each tier, and whether the total has reached it. */
      tiers: z.array(z.object({ goal: z.number(), points: int, reached: z.boolean() })).optional(),
    }),
  ),
});

/**
 * The success reply of every verb a terminal may call. Admin and internal verbs have
 * none here: the admin routes describe their own answers.
 */
export const REPLY_SCHEMAS = {
  accrue: accrueReply,
  quote: quoteReply,
  balance: balanceReply,
  enroll: enrollReply,
  customer: customerReply,
  updateCustomer: customerReply,
  statement: statementReply,
  authorize: authorizeReply,
  capture: captureReply,
  release: releaseReply,
  convert: convertReply,
  redeemReward: redeemRewardReply,
  buyVoucher: buyVoucherReply,
  redeemVoucher: redeemVoucherReply,
  vouchers: vouchersReply,
  submitReport: submitReportReply,
  targets: targetsReply,
} as const satisfies Partial<Record<Verb, z.ZodType>>;

export type ReplyVerb = keyof typeof REPLY_SCHEMAS;
export type VerbReply<V extends ReplyVerb> = z.infer<(typeof REPLY_SCHEMAS)[V]>;
export type FailureReply = z.infer<typeof failureReply>;

/** The names the document gives the shared pieces, so that they appear once under components. */
export const SHARED_REPLY_SCHEMAS: Record<string, z.ZodType> = {
  Failure: failureReply,
  ErrorCode: errorCode,
  BreakdownItem: breakdownItem,
  Voucher: voucher,
  CustomerReply: customerReply,
};
