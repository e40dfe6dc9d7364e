// The participant portal's routes as a table (`/v1/me/...`): each runs an existing verb or
// read for the signed-in customer only, who is never named by the request. Writes go
// through the verbs (updateCustomer, submitReport, convert, redeemReward + capture,
// buyVoucher), so the ledger stays their only writer. http/me.ts signs in and mounts.
import { randomUUID } from "node:crypto";
import type { FastifyRequest, HTTPMethods } from "fastify";
import { z } from "zod";
import { parseAdminBody } from "../../admin/parse.js";
import { parseRankingQuery, ranking } from "../../admin/rankings.js";
import { getReport } from "../../admin/reports.js";
import { listRewards } from "../../admin/rewards.js";
import { listVoucherOffers } from "../../admin/vouchers.js";
import { VERB_SCHEMAS } from "../../codec/schema.js";
import { LoyaltyError } from "../../errors.js";
import { purchaseStatsOf } from "../../ledger/purchases.js";
import { reportView } from "../../ledger/reports.js";
import { survivorId } from "../../ledger/customers.js";
import type { Store } from "../../ledger/store.js";
import { limits } from "../../limits.js";
import type { CommandVerb } from "../../verbs.js";
import type { Handler } from "../handler.js";
import type { Reply } from "./reply.js";

export interface MeDeps {
  handler: Handler;
  store: Store;
  now: () => number;
}

export interface MeCall {
  req: FastifyRequest;
  /** The signed-in customer (a merged-away id already followed to its survivor). */
  customerId: string;
  /** The body, checked against the route's schema. */
  body(): unknown;
  /** A verb for the signed-in customer; a refusal comes back as its reply. */
  verb(verb: CommandVerb, input: Record<string, unknown>): Promise<Reply>;
}

export interface MeRoute {
  method: HTTPMethods;
  url: string;
  summary: string;
  /** The schema the body is checked with; absent: no body. */
  body?: z.ZodType;
  /** Query parameters: name -> meaning. */
  query?: Readonly<Record<string, string>>;
  /** Only for a customer with kind "distributor" (FORBIDDEN for a shopper). */
  distributor?: boolean;
  run(call: MeCall): Promise<Reply>;
}

/** A client's request id: the portal scopes it to the customer (`me:<customerId>:<requestId>`), so two customers never collide. */
const clientRequestId = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, "must be 1-64 letters, digits, '.', '_', ':' or '-'");
const epochParam = z.coerce.number().int().min(0).max(8_640_000_000_000_000);
const windowQuery = z
  .object({ from: epochParam.optional(), to: epochParam.optional(), limit: z.coerce.number().int().min(1).max(limits.statementLimitMax).optional() })
  .strict();
const WINDOW_QUERY = { from: "epoch ms, inclusive", to: "epoch ms, inclusive", limit: `at most this many (1-${limits.statementLimitMax}, default 100)` };

const shape = <V extends keyof typeof VERB_SCHEMAS>(verb: V) => (VERB_SCHEMAS[verb] as unknown as { shape: Record<string, z.ZodType> }).shape;

export const profileBody = z
  .object({ requestId: clientRequestId.optional(), profile: shape("updateCustomer").profile!, consents: shape("updateCustomer").consents! })
  .strict()
  .refine((b) => b.profile !== undefined || b.consents !== undefined, { message: "give profile or consents", path: ["profile"] });
export const reportBody = z
  .object({ requestId: clientRequestId.optional(), user: shape("submitReport").user!, currency: shape("submitReport").currency!, lines: shape("submitReport").lines! })
  .strict();
export const convertBody = z
  .object({ requestId: clientRequestId.optional(), from: shape("convert").from!, to: shape("convert").to!, amount: shape("convert").amount! })
  .strict();
export const redeemBody = z.object({ requestId: clientRequestId.optional(), qty: shape("redeemReward").qty! }).strict();
export const voucherBody = z.object({ requestId: clientRequestId.optional(), offerId: shape("buyVoucher").offerId! }).strict();
const vouchersQuery = z.object({ status: z.enum(["active", "used", "expired"]).optional(), limit: z.coerce.number().int().min(1).max(limits.vouchersListMax).optional() }).strict();
const rewardsQuery = z.object({ affordable: z.enum(["true", "false", "1", "0"]).optional() }).strict();

/** The request id a portal write runs under: the client's (retries are then safe), else a fresh one. */
export function scopedRequestId(customerId: string, given: string | undefined, suffix = ""): string {
  return `me:${customerId}:${given ?? randomUUID()}${suffix}`;
}

function queryOf<S extends z.ZodType>(c: MeCall, schema: S): z.infer<S> {
  return parseAdminBody(schema, c.req.query ?? {}, "query");
}

/** `accounts` of a balance reply -> account -> available. */
function availableByAccount(balance: Reply): Map<string, number> {
  const out = new Map<string, number>();
  for (const a of (balance.accounts as { account: string; available: number }[] | undefined) ?? []) out.set(a.account, a.available);
  return out;
}

/** Sales, returns and voids that moved points, grouped per event, from a statement's entries. */
export function salesOf(entries: readonly Reply[]): Reply[] {
  const byEvent = new Map<string, Reply>();
  for (const e of entries) {
    if (e.kind !== "accrual" && e.kind !== "return" && e.kind !== "void") continue;
    const key = `${String(e.kind)}:${String(e.eventId)}`;
    const seen = byEvent.get(key);
    const points = { ...((seen?.points as Record<string, number>) ?? {}) };
    points[e.account as string] = (points[e.account as string] ?? 0) + (e.amount as number);
    byEvent.set(key, { eventId: e.eventId, kind: e.kind === "accrual" ? "sale" : e.kind, at: e.at, cause: seen?.cause ?? e.cause, points });
  }
  return [...byEvent.values()];
}

function shopperRoutes(deps: MeDeps): MeRoute[] {
  const { store, now } = deps;
  return [
    {
      method: "GET", url: "/v1/me", summary: "The signed-in customer: profile, consents, groups, cards, tier, stats and balances",
      run: async (c) => {
        const customer = await c.verb("customer", {});
        if (customer.ok === false) return customer;
        const balance = await c.verb("balance", {});
        return balance.ok === false ? balance : { ...customer, accounts: balance.accounts };
      },
    },
    { method: "GET", url: "/v1/me/balance", summary: "Balances with the points that expire when (the balance verb)", run: async (c) => c.verb("balance", {}) },
    { method: "GET", url: "/v1/me/statement", summary: "Ledger entries with their causes (the statement verb)", query: WINDOW_QUERY, run: async (c) => c.verb("statement", queryOf(c, windowQuery)) },
    {
      method: "GET", url: "/v1/me/purchases", summary: "Purchase history: the sales, returns and voids that moved points, and the purchase figures by month", query: WINDOW_QUERY,
      run: async (c) => {
        const statement = await c.verb("statement", queryOf(c, windowQuery));
        if (statement.ok === false) return statement;
        store.env.resetReadTxn();
        const { months, visits, spend, avgBasket, firstVisitAt, lastVisitAt } = purchaseStatsOf(store, c.customerId);
        return { ok: true, customerId: c.customerId, stats: { visits, spend, avgBasket, firstVisitAt, lastVisitAt, months }, sales: salesOf(statement.entries as Reply[]), ...(statement.truncated ? { truncated: true } : {}) };
      },
    },
    { method: "GET", url: "/v1/me/vouchers", summary: "Vouchers with their days left (the vouchers verb)", query: { status: "active, used or expired", limit: "at most this many" }, run: async (c) => c.verb("vouchers", queryOf(c, vouchersQuery)) },
    {
      method: "GET", url: "/v1/me/voucher-offers", summary: "The voucher offers that can be bought with points",
      run: async () => ({ ok: true, offers: listVoucherOffers(store, limits.portalRewardsMax).map(({ updatedAt: _at, ...offer }) => offer) }),
    },
    {
      method: "POST", url: "/v1/me/vouchers", summary: "Buy a voucher with points (the buyVoucher verb)", body: voucherBody,
      run: async (c) => {
        const b = c.body() as z.infer<typeof voucherBody>;
        return c.verb("buyVoucher", { requestId: scopedRequestId(c.customerId, b.requestId), offerId: b.offerId });
      },
    },
    {
      method: "GET", url: "/v1/me/rewards", summary: "The active rewards of the catalogue, each marked affordable when the available balance covers its price now", query: { affordable: "true: only those" },
      run: async (c) => {
        const q = queryOf(c, rewardsQuery);
        const balance = await c.verb("balance", {});
        if (balance.ok === false) return balance;
        const available = availableByAccount(balance);
        const rewards = listRewards(store, limits.portalRewardsMax, now())
          .filter((r) => r.active && r.stock !== 0)
          .map((r) => ({ rewardId: r.id, name: r.name, category: r.category, account: r.account, price: r.priceNow, stock: r.stock, affordable: (available.get(r.account) ?? 0) >= r.priceNow }));
        const onlyAffordable = q.affordable === "true" || q.affordable === "1";
        return { ok: true, customerId: c.customerId, rewards: onlyAffordable ? rewards.filter((r) => r.affordable) : rewards };
      },
    },
    {
      // Two existing verbs: a hold (stock taken) and its capture at once; a retry with the same requestId repeats neither.
      method: "POST", url: "/v1/me/rewards/:id/redeem", summary: "Redeem a reward: redeemReward places the hold, capture spends it at once", body: redeemBody,
      run: async (c) => {
        const b = c.body() as z.infer<typeof redeemBody>;
        const rid = scopedRequestId(c.customerId, b.requestId);
        const rewardId = (c.req.params as { id: string }).id;
        const hold = await c.verb("redeemReward", { requestId: `${rid}:hold`, rewardId, qty: b.qty });
        if (hold.ok === false || hold.approved !== true) return hold;
        const capture = await c.verb("capture", { requestId: `${rid}:capture`, holdId: hold.holdId });
        if (capture.ok === false) return capture;
        return { ok: true, customerId: c.customerId, rewardId, holdId: hold.holdId, qty: hold.qty, price: hold.price, spent: capture.captured, account: capture.account, balance: capture.balance, available: capture.available };
      },
    },
    {
      method: "PATCH", url: "/v1/me/profile", summary: "Change the profile and consents (the updateCustomer verb)", body: profileBody,
      run: async (c) => {
        const b = c.body() as z.infer<typeof profileBody>;
        const { requestId, ...change } = b;
        return c.verb("updateCustomer", { requestId: scopedRequestId(c.customerId, requestId), ...change });
      },
    },
    {
      method: "POST", url: "/v1/me/convert", summary: "Convert points to a stored-value (prepaid) balance (the convert verb)", body: convertBody,
      run: async (c) => {
        const { requestId, ...rest } = c.body() as z.infer<typeof convertBody>;
        return c.verb("convert", { requestId: scopedRequestId(c.customerId, requestId), ...rest });
      },
    },
  ];
}

function distributorRoutes(deps: MeDeps): MeRoute[] {
  const { store } = deps;
  return [
    {
      method: "POST", url: "/v1/me/reports", summary: "Register sales: a report of invoice lines, verified as submitReport and the import verify them", body: reportBody, distributor: true,
      run: async (c) => {
        const { requestId, ...report } = c.body() as z.infer<typeof reportBody>;
        const rid = scopedRequestId(c.customerId, requestId);
        // The report's id follows from the request's: a retry names the same report.
        return c.verb("submitReport", { requestId: rid, reportId: rid, ...report });
      },
    },
    {
      method: "GET", url: "/v1/me/reports", summary: "The participant's reports with their status and points", query: WINDOW_QUERY, distributor: true,
      run: async (c) => {
        const statement = await c.verb("statement", queryOf(c, windowQuery));
        return statement.ok === false ? statement : { ok: true, customerId: c.customerId, reports: statement.reports ?? [] };
      },
    },
    {
      method: "GET", url: "/v1/me/reports/:id", summary: "One of the participant's reports, with its lines and each check's finding", distributor: true,
      run: async (c) => {
        const r = getReport(store, (c.req.params as { id: string }).id);
        if (survivorId(store, r.customerId) !== c.customerId) throw new LoyaltyError("FORBIDDEN", "the report is another participant's", "reportId");
        const { decidedBy: _operator, ...view } = reportView(r);
        return { ok: true, ...view };
      },
    },
    { method: "GET", url: "/v1/me/targets", summary: "Sales targets and the progress towards each (the targets verb)", distributor: true, run: async (c) => c.verb("targets", {}) },
    {
      method: "GET", url: "/v1/me/ranking", summary: "The participant's position in the distributors' ranking over a period", distributor: true,
      query: { metric: "points, qty or amount (default points)", from: "YYYY-MM-DD (required)", to: "YYYY-MM-DD (required)", group: "rank among this group's members" },
      run: async (c) => {
        const q = parseRankingQuery({ metric: "points", ...(c.req.query as Record<string, unknown>), limit: limits.adminListMax });
        const { rankings, participants } = ranking(store, q);
        const own = rankings.find((r) => r.customerId === c.customerId);
        const position = own ? { rank: own.rank, value: own.value, points: own.points, qty: own.qty, amount: own.amount } : null;
        return { ok: true, customerId: c.customerId, metric: q.metric, from: q.from, to: q.to, group: q.group ?? null, participants, position };
      },
    },
  ];
}

export function meRoutes(deps: MeDeps): MeRoute[] {
  return [...shopperRoutes(deps), ...distributorRoutes(deps)];
}
