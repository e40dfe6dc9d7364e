// The replies of the admin routes, as zod schemas: what the OpenAPI document publishes
// for each route (admin-routes.ts names its reply next to what it runs) and what
// test/e2e/openapi-admin.test.ts checks real replies against, closed. Each describes the
// stored record the route answers with; `satisfies` ties it to the record's type.
import { z } from "zod";
import type { Approval } from "../../admin/approvals.js";
import type { Segment } from "../../admin/segments/saved.js";
import { filterSchema } from "../../admin/segments/filter.js";
import type { InstalledProgramme } from "../../admin/programmes.js";
import type { RewardView } from "../../admin/rewards.js";
import type { Product, VoucherOffer } from "../../ledger/store.js";
import { programmeSchema } from "../../rules/programme.js";

const int = z.number().int();
const text = z.string();
const ok = z.literal(true);

const installedProgramme = z.object({ id: text, version: int, installedAt: int, programme: programmeSchema }) satisfies z.ZodType<InstalledProgramme, unknown>;

const product = z.object({
  sku: text,
  name: text.optional(),
  category: text.optional(),
  pointsPerUnit: int.optional(),
  pointsPrice: int.optional(),
  active: z.boolean().optional(),
  listPrice: int.optional(),
}) satisfies z.ZodType<Product, unknown>;

const reward = z.object({
  id: text,
  name: text,
  category: text.nullable(),
  account: text,
  pointsPrice: int,
  /** Units left; null: unlimited. */
  stock: int.nullable(),
  seasonalPrices: z.array(z.object({ from: int, to: int, pointsPrice: int })),
  active: z.boolean(),
  updatedAt: int,
  /** The points price in force now (a seasonal price, or pointsPrice). */
  priceNow: int,
}) satisfies z.ZodType<RewardView, unknown>;

const offerCommon = { id: text, name: text, account: text, pointsCost: int, validDays: int, updatedAt: int };
const voucherOffer = z.discriminatedUnion("kind", [
  z.object({ ...offerCommon, kind: z.literal("amount"), value: int, currency: text }),
  z.object({ ...offerCommon, kind: z.literal("percent"), percent: int, category: text }),
]) satisfies z.ZodType<VoucherOffer, unknown>;

const segment = z.object({ id: text, name: text, filter: filterSchema, updatedAt: int }) satisfies z.ZodType<Segment, unknown>;

const approval = z.object({
  approvalId: text,
  kind: z.enum(["adjust", "bulkAdjust"]),
  /** The validated body the approval applies, with the requester as its operator. */
  body: z.record(text, z.unknown()),
  requestedBy: text,
  requestedAt: int,
  expiresAt: int,
  amountMax: int,
}) satisfies z.ZodType<Approval, unknown>;

/** The admin routes' replies, named as the document's components name them. */
export const ADMIN_REPLIES = {
  ProgrammeListReply: z.object({ ok, programmes: z.array(installedProgramme) }),
  ProgrammeReply: z.object({ ok, ...installedProgramme.shape }),
  ProgrammeInstalledReply: z.object({ ok, id: text, version: int }),
  ProgrammeRetiredReply: z.object({ ok, id: text, retired: z.literal(true) }),
  ProductReply: z.object({ ok, product }),
  ProductListReply: z.object({ ok, products: z.array(product) }),
  ProductRemovedReply: z.object({ ok, sku: text, removed: z.literal(true) }),
  RewardReply: z.object({ ok, reward }),
  RewardListReply: z.object({ ok, rewards: z.array(reward) }),
  VoucherOfferReply: z.object({ ok, offer: voucherOffer }),
  VoucherOfferListReply: z.object({ ok, offers: z.array(voucherOffer) }),
  SegmentReply: z.object({ ok, segment }),
  SegmentListReply: z.object({ ok, segments: z.array(segment) }),
  /** What a DELETE of a reward, a voucher offer or a segment answers. */
  RemovedReply: z.object({ ok, id: text, removed: z.literal(true) }),
  ApprovalListReply: z.object({ ok, approvals: z.array(approval) }),
  ApprovalRejectedReply: z.object({ ok, approvalId: text, status: z.literal("rejected"), requestedBy: text, rejectedBy: text }),
} as const satisfies Record<string, z.ZodType>;

export type AdminReplyName = keyof typeof ADMIN_REPLIES;
