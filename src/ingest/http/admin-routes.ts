// The admin routes as a table: each names its method, path, the role it needs and what
// it does. http/admin.ts authenticates, checks the role, runs the route and audits it.
import type { FastifyRequest, HTTPMethods } from "fastify";
import type { Approval, Approvals } from "../../admin/approvals.js";
import { auditQuery, readAudit, type AuditLog } from "../../admin/audit.js";
import { bulkAdjust, bulkAdjustSchema, bulkConvert, bulkConvertSchema, parseBulkAdjust } from "../../admin/bulk.js";
import { listProducts, productRowSchema, productSchema } from "../../admin/products.js";
import { checkProgramme, listProgrammes, programmeVersions } from "../../admin/programmes.js";
import { previewDraft } from "../../admin/preview.js";
import { getReward, listRewards, rewardRowSchema, rewardSchema } from "../../admin/rewards.js";
import { parsePrepaidQuery, prepaidCsv, prepaidHistory } from "../../admin/prepaid.js";
import { openHoldsOf } from "../../admin/customer-search.js";
import { getVoucherOffer, listVoucherOffers, offerSchema } from "../../admin/vouchers.js";
import type { BackOfficeWriter } from "../../cluster/backoffice.js";
import { validate } from "../../codec/codec.js";
import { VERB_SCHEMAS } from "../../codec/schema.js";
import { programmeSchema } from "../../rules/programme.js";
import type { KeyRing, Operator, Role, TerminalKey } from "../../config/credentials.js";
import { LoyaltyError } from "../../errors.js";
import type { Store } from "../../ledger/store.js";
import type { LedgerOptions } from "../../ledger/tx.js";
import { limits } from "../../limits.js";
import type { Logger } from "../../observe/logger.js";
import type { Metrics } from "../../observe/metrics.js";
import type { Handler } from "../handler.js";
import type { Readable } from "node:stream";
import { parseAdminBody } from "../../admin/parse.js";
import type { SegmentJobs } from "../../admin/segments/jobs.js";
import { getSegment, listSegments, putSegment, queryBodySchema, removeSegment, segmentSchema } from "../../admin/segments/saved.js";
import type { Channel } from "../../admin/segments/scan.js";
import { listLimit, type Reply } from "./reply.js";
import { z } from "zod";
import { IMPORT_QUERY, importRoutes, runImportRoute } from "./import-routes.js";
import { reportRoutes } from "./report-routes.js";
import { lookupRoutes } from "./lookup-routes.js";
import type { ClusterView } from "../../cluster/member.js";
import type { AdminReplyName } from "./admin-replies.js";

export interface AdminDeps {
  handler: Handler;
  store: Store;
  metrics: Metrics;
  log: Logger;
  now: () => number;
  onProgrammesChanged: () => void;
  operators: KeyRing<Operator>;
  /** To tell a terminal key used on an admin route (FORBIDDEN) from an unknown token (UNAUTHORIZED). */
  terminals: KeyRing<TerminalKey> | null;
  audit: AuditLog;
  approvals: Approvals;
  /** Adjustments above this many points (absolute) wait for a second operator; null: none do. */
  approvalAbove: number | null;
  segments: SegmentJobs;
  /** Cluster mode's view of the cluster; null in single-node mode. */
  cluster: ClusterView | null;
  /** The partitions' ledger options: a programme draft's preview quotes as they would. */
  ledgerOptions: LedgerOptions;
  /** Where programmes, products, rewards and voucher offers are changed: this ledger, or in cluster mode every instance's (cluster/backoffice.ts). */
  backOffice: BackOfficeWriter;
}

/** A route's answer when it opened an approval instead of acting: 202. */
export class Accepted {
  constructor(readonly body: Reply) {}
}
/** A route's answer that is a stream (a CSV export), not a JSON reply: 200 with its content type. */
export class Streamed {
  constructor(
    readonly contentType: string,
    readonly stream: Readable,
    readonly fileName: string,
  ) {}
}
export type Answer = Reply | Accepted | Streamed;

export interface Call {
  req: FastifyRequest;
  operator: Operator;
  /** The JSON body, parsed once (the audit record's targets are read from it). */
  json(bytesMax?: number): unknown;
}

export interface Route {
  method: HTTPMethods;
  url: string;
  role: Role;
  /** Imports and bulk jobs: a larger body, and no idle-socket timeout while they run. */
  large?: boolean;
  run(call: Call): Promise<Answer>;
  // What the OpenAPI document (openapi.ts) says of the route, next to what the route does.
  summary: string;
  /** The schema the route validates its JSON body with, or a raw upload: "text/csv", or "spreadsheet" (CSV or XLSX); absent: no body. */
  body?: z.ZodType | "text/csv" | "spreadsheet";
  /** Comma-separated body fields the route fills in when the body leaves them out (from the path or the credential). */
  pathFills?: string;
  /** Query parameters: name -> what it means (all optional strings). */
  query?: Readonly<Record<string, string>>;
  /** Answers 202 with a pending approval instead of acting (admin.approvalAbove). */
  accepted?: boolean;
  /** The media type of a streamed answer; absent: JSON. */
  produces?: string;
  /** The JSON reply's schema (admin-replies.ts); absent: described only as `{ok: true, ...}`. */
  reply?: AdminReplyName;
}

const LIMIT_QUERY = { limit: `at most this many (1-${limits.adminListMax}, default 1000)` };
const AUDIT_QUERY = { from: "epoch ms, inclusive", to: "epoch ms, exclusive", limit: `1-${limits.auditListMax}, default 100`, cursor: "the `next` of the previous page" };
const EXPORT_QUERY = { consent: "email, sms or post (required): only the members who consented to that channel", bom: "1 or true: start with a UTF-8 byte-order mark (for spreadsheets)" };
const PREPAID_QUERY = { account: "the stored-value account (default prepaid)", from: "epoch ms, inclusive", to: "epoch ms, inclusive", bom: "1 or true: start with a UTF-8 byte-order mark" };
/** Erase's body: the path names the customer. */
const eraseBody = VERB_SCHEMAS.eraseCustomer.omit({ customer: true });

const idOf = (c: Call): string => (c.req.params as { id: string }).id;
const limitOf = (c: Call): number => listLimit(c.req.query as { limit?: string });

/** A draft (its id may be left to the path's) and a sale as the quote verb takes it. */
const previewBody = z.strictObject({ programme: z.record(z.string(), z.unknown()), sale: VERB_SCHEMAS.quote as z.ZodType });

function programmeRoutes({ store, log, now, onProgrammesChanged, ledgerOptions, backOffice }: AdminDeps): Route[] {
  return [
    { method: "GET", url: "/v1/admin/programmes", role: "read", summary: "List the installed programmes", reply: "ProgrammeListReply", run: async () => ({ ok: true, programmes: listProgrammes(store) }) },
    {
      method: "GET", url: "/v1/admin/programmes/:id", role: "read", summary: "One installed programme", reply: "ProgrammeReply",
      run: async (c) => {
        const p = listProgrammes(store).find((x) => x.id === idOf(c));
        if (!p) throw new LoyaltyError("VALIDATION", `no programme ${idOf(c)}`, "id");
        return { ok: true, ...p };
      },
    },
    {
      method: "GET", url: "/v1/admin/programmes/:id/versions", role: "read", summary: "Every version of a programme ever installed, newest first (a retired programme's too)",
      query: { limit: `at most this many (1-${limits.adminListMax}, default 1000)` },
      run: async (c) => {
        const versions = programmeVersions(store, idOf(c), limitOf(c));
        if (versions.length === 0) throw new LoyaltyError("VALIDATION", `no programme ${idOf(c)} was ever installed`, "id");
        return { ok: true, id: idOf(c), versions };
      },
    },
    {
      method: "PUT", url: "/v1/admin/programmes/:id", role: "write", summary: "Install or replace a programme (no restart)", body: programmeSchema, pathFills: "id", reply: "ProgrammeInstalledReply",
      run: async (c) => {
        const installed = await backOffice.write("installProgramme", [idOf(c), c.json()], now());
        onProgrammesChanged();
        log.info({ programme: installed.id, version: installed.version }, "programme installed");
        return { ok: true, id: installed.id, version: installed.version };
      },
    },
    {
      // What PUT would say of a draft, with nothing installed: the console checks as the operator types.
      method: "POST", url: "/v1/admin/programmes/:id/check", role: "read", summary: "Validate a programme without installing it (PUT's schema and messages)", body: programmeSchema, pathFills: "id",
      run: async (c) => ({ ok: true, id: idOf(c), programme: checkProgramme(idOf(c), c.json()) }),
    },
    {
      // What a basket would earn with the draft installed, for a customer as the ledger knows them now; nothing is installed or recorded.
      method: "POST", url: "/v1/admin/programmes/:id/preview", role: "read", summary: "Quote a sale under a programme draft, as if installed (the quote verb's reply, plus draft: {id, version})", body: previewBody,
      run: async (c) => {
        const { programme, sale } = c.json() as { programme: unknown; sale: unknown };
        return previewDraft(store, ledgerOptions, idOf(c), programme, sale, now());
      },
    },
    {
      method: "DELETE", url: "/v1/admin/programmes/:id", role: "write", summary: "Retire a programme", reply: "ProgrammeRetiredReply",
      run: async (c) => {
        if (!(await backOffice.write("retireProgramme", [idOf(c)], now()))) throw new LoyaltyError("VALIDATION", `no programme ${idOf(c)}`, "id");
        onProgrammesChanged();
        log.info({ programme: idOf(c) }, "programme retired");
        return { ok: true, id: idOf(c), retired: true };
      },
    },
  ];
}

function productRoutes(deps: AdminDeps): Route[] {
  const { store, handler, log, backOffice, now } = deps;
  const sku = (c: Call) => (c.req.params as { sku: string }).sku;
  return [
    { method: "PUT", url: "/v1/admin/products/:sku", role: "write", summary: "Set a product of the product card", body: productSchema, pathFills: "sku", reply: "ProductReply", run: async (c) => ({ ok: true, product: await backOffice.write("putProduct", [sku(c), c.json()], now()) }) },
    { method: "GET", url: "/v1/admin/products", role: "read", summary: "List the product card", query: LIMIT_QUERY, reply: "ProductListReply", run: async (c) => ({ ok: true, products: listProducts(store, limitOf(c)) }) },
    {
      method: "DELETE", url: "/v1/admin/products/:sku", role: "write", summary: "Remove a product", reply: "ProductRemovedReply",
      run: async (c) => {
        if (!(await backOffice.write("removeProduct", [sku(c)], now()))) throw new LoyaltyError("VALIDATION", `no product ${sku(c)}`, "sku");
        return { ok: true, sku: sku(c), removed: true };
      },
    },
    {
      method: "POST", url: "/v1/admin/products/import", role: "write", large: true, summary: "Import the product card from CSV or XLSX", body: "spreadsheet", query: IMPORT_QUERY,
      run: async (c) => {
        const spec = { target: "products", schema: productRowSchema, key: "sku", rowsMax: limits.productImportRowsMax };
        return runImportRoute(deps, c, spec, (rows) => backOffice.write("importProducts", [rows], now()));
      },
    },
    {
      method: "POST", url: "/v1/admin/cards", role: "write", summary: "Link, unlink, block, unblock or replace a card", body: VERB_SCHEMAS.card,
      run: async (c) => {
        const value = c.json();
        const reply = await handler.handleValue("http", "card", value);
        if (reply.ok) log.info({ card: value }, "card changed");
        return reply;
      },
    },
  ];
}

/** The rewards catalogue and voucher offers: PUT/GET/DELETE one, GET all. */
function catalogueRoutes(deps: AdminDeps): Route[] {
  const { store, log, now, backOffice } = deps;
  return [
    { method: "GET", url: "/v1/admin/rewards", role: "read", summary: "List the rewards catalogue", query: LIMIT_QUERY, reply: "RewardListReply", run: async (c) => ({ ok: true, rewards: listRewards(store, limitOf(c), now()) }) },
    { method: "GET", url: "/v1/admin/rewards/:id", role: "read", summary: "One reward, with its price in force", reply: "RewardReply", run: async (c) => ({ ok: true, reward: getReward(store, idOf(c), now()) }) },
    {
      method: "POST", url: "/v1/admin/rewards/import", role: "write", large: true, summary: "Import rewards from CSV or XLSX (every row validated before any is written)", body: "spreadsheet", query: IMPORT_QUERY,
      run: async (c) => runImportRoute(deps, c, { target: "rewards", schema: rewardRowSchema, key: "id" }, (rows) => backOffice.write("importRewards", [rows], now())),
    },
    {
      method: "PUT", url: "/v1/admin/rewards/:id", role: "write", summary: "Add or replace a reward", body: rewardSchema, pathFills: "id", reply: "RewardReply",
      run: async (c) => {
        const reward = await backOffice.write("putReward", [idOf(c), c.json()], now());
        log.info({ reward: reward.id, pointsPrice: reward.pointsPrice, stock: reward.stock, active: reward.active }, "reward saved");
        return { ok: true, reward };
      },
    },
    {
      method: "DELETE", url: "/v1/admin/rewards/:id", role: "write", summary: "Remove a reward", reply: "RemovedReply",
      run: async (c) => {
        await backOffice.write("removeReward", [idOf(c)], now());
        log.info({ reward: idOf(c) }, "reward removed");
        return { ok: true, id: idOf(c), removed: true };
      },
    },
    { method: "GET", url: "/v1/admin/voucher-offers", role: "read", summary: "List the voucher offers", query: LIMIT_QUERY, reply: "VoucherOfferListReply", run: async (c) => ({ ok: true, offers: listVoucherOffers(store, limitOf(c)) }) },
    { method: "GET", url: "/v1/admin/voucher-offers/:id", role: "read", summary: "One voucher offer", reply: "VoucherOfferReply", run: async (c) => ({ ok: true, offer: getVoucherOffer(store, idOf(c)) }) },
    {
      method: "PUT", url: "/v1/admin/voucher-offers/:id", role: "write", summary: "Add or replace a voucher offer", body: offerSchema, pathFills: "id", reply: "VoucherOfferReply",
      run: async (c) => {
        const offer = await backOffice.write("putVoucherOffer", [idOf(c), c.json()], now());
        log.info({ offer: offer.id, kind: offer.kind, pointsCost: offer.pointsCost }, "voucher offer saved");
        return { ok: true, offer };
      },
    },
    {
      method: "DELETE", url: "/v1/admin/voucher-offers/:id", role: "write", summary: "Remove a voucher offer", reply: "RemovedReply",
      run: async (c) => {
        await backOffice.write("removeVoucherOffer", [idOf(c)], now());
        log.info({ offer: idOf(c) }, "voucher offer removed");
        return { ok: true, id: idOf(c), removed: true };
      },
    },
  ];
}

/** The body's operator, for operators with their own token: taken from the credential; another name is refused. */
function withOperator(body: unknown, operator: Operator): unknown {
  // The shared adminToken names no person: its callers name themselves, as before operators had tokens.
  if (operator.legacy || typeof body !== "object" || body === null || Array.isArray(body)) return body;
  const claimed = (body as Reply).operator;
  if (claimed === undefined) return { ...(body as Reply), operator: operator.name };
  if (claimed !== operator.name) throw new LoyaltyError("FORBIDDEN", `the token is ${operator.name}'s; it may not act as ${String(claimed)}`, "operator");
  return body;
}

/** The money routes' actions, shared by the routes that run them at once and the approval that runs them later. */
function moneyActions({ handler, log }: AdminDeps) {
  return {
    async adjust(body: unknown): Promise<Reply> {
      const reply = await handler.handleValue("http", "adjust", body);
      if (reply.ok) log.info({ adjustment: body }, "manual adjustment");
      return reply;
    },
    async bulkAdjust(body: unknown): Promise<Reply> {
      const result = await bulkAdjust(handler, body);
      log.info({ ...result, failed: undefined }, "bulk adjustment done");
      return { ...result };
    },
  };
}

function pending(a: Approval): Accepted {
  return new Accepted({ ok: true, status: "pending", approvalId: a.approvalId, expiresAt: a.expiresAt });
}

function moneyRoutes(deps: AdminDeps): Route[] {
  const { handler, store, log, approvals, approvalAbove } = deps;
  const act = moneyActions(deps);
  const needsApproval = (amount: number) => approvalAbove !== null && Math.abs(amount) > approvalAbove;
  return [
    {
      method: "POST", url: "/v1/admin/adjustments", role: "money", summary: "A manual adjustment (202 when it waits for a second operator)", body: VERB_SCHEMAS.adjust, pathFills: "operator", accepted: true,
      run: async (c) => {
        const body = withOperator(c.json(), c.operator);
        if (approvalAbove === null) return act.adjust(body);
        // Validated here, so that what waits for approval is an adjustment the ledger will take.
        const input = validate("adjust", body) as Reply & { amount: number };
        if (!needsApproval(input.amount)) return act.adjust(body);
        return pending(approvals.open("adjust", input, c.operator.name, Math.abs(input.amount)));
      },
    },
    {
      method: "POST", url: "/v1/admin/bulk/adjust", role: "money", large: true, summary: "Credit or debit many customers (202 when it waits for approval)", body: bulkAdjustSchema, pathFills: "operator", accepted: true,
      run: async (c) => {
        const body = withOperator(c.json(limits.importBytesMax), c.operator);
        if (approvalAbove === null) return act.bulkAdjust(body);
        const job = parseBulkAdjust(body);
        const amountMax = job.items.reduce((m, it) => Math.max(m, Math.abs(it.amount)), 0);
        if (!needsApproval(amountMax)) return act.bulkAdjust(job);
        return pending(approvals.open("bulkAdjust", job as unknown as Reply, c.operator.name, amountMax));
      },
    },
    {
      method: "POST", url: "/v1/admin/bulk/convert", role: "money", large: true, summary: "Convert what many customers earned in a period into prepaid value", body: bulkConvertSchema,
      run: async (c) => {
        const result = await bulkConvert(store, handler, c.json(limits.importBytesMax));
        log.info({ ...result, failed: undefined }, "bulk conversion done");
        return { ...result };
      },
    },
  ];
}

/**
 * Merging two customers moves money (role money); erasing one changes no balance (role
 * write). Both go through the handler to the survivor's or the customer's partition.
 */
function customerRoutes({ handler, log, store }: AdminDeps): Route[] {
  return [
    {
      method: "GET", url: "/v1/admin/customers/:id/holds", role: "read", summary: "A customer's open holds, soonest expiry first (what the balance's held total is made of)",
      run: async (c) => ({ ok: true, customerId: idOf(c), holds: openHoldsOf(store, idOf(c)) }),
    },
    {
      method: "GET", url: "/v1/admin/customers/:id/prepaid.csv", role: "read", summary: "A customer's stored-value history as CSV", query: PREPAID_QUERY, produces: "text/csv",
      run: async (c) => {
        const q = parsePrepaidQuery(c.req.query);
        const history = prepaidHistory(store, idOf(c), q);
        return new Streamed("text/csv; charset=utf-8", prepaidCsv(history.rows, q.bom), `${history.customerId}-${q.account}.csv`);
      },
    },
    {
      method: "POST", url: "/v1/admin/customers/merge", role: "money", summary: "Merge one customer into another", body: VERB_SCHEMAS.mergeCustomers, pathFills: "operator",
      run: async (c) => {
        const body = withOperator(c.json(), c.operator) as Reply;
        const reply = await handler.handleValue("http", "mergeCustomers", body);
        if (reply.ok) {
          const { requestId, from, into, duplicate } = reply;
          log.info({ merge: { requestId, from, into, operator: body.operator, duplicate: duplicate === true } }, "customers merged");
        }
        return reply;
      },
    },
    {
      method: "POST", url: "/v1/admin/customers/:id/erase", role: "write", summary: "Erase a customer's personal data (the ledger stays)", body: eraseBody, pathFills: "operator",
      run: async (c) => {
        const body = withOperator(c.json(), c.operator);
        // The path names the customer; the body gives the reason and the operator.
        const input = typeof body === "object" && body !== null && !Array.isArray(body) ? { ...body, customer: { customerId: idOf(c) } } : body;
        const reply = await handler.handleValue("http", "eraseCustomer", input);
        if (reply.ok) log.info({ erase: { customerId: reply.customerId, operator: (input as Reply).operator, duplicate: reply.duplicate } }, "customer erased");
        return reply;
      },
    },
  ];
}

/** The operator an applied approval records: both people, when that fits an id. */
function approvedOperator(a: Approval, approver: string): string {
  const requester = String(a.body.operator);
  const both = `${requester} (approved by ${approver})`;
  return both.length <= limits.idLengthMax ? both : requester;
}

function approvalRoutes(deps: AdminDeps): Route[] {
  const { approvals } = deps;
  const act = moneyActions(deps);
  return [
    { method: "GET", url: "/v1/admin/approvals", role: "read", summary: "The adjustments waiting for a second operator", reply: "ApprovalListReply", run: async () => ({ ok: true, approvals: approvals.list() }) },
    {
      method: "POST", url: "/v1/admin/approvals/:id/approve", role: "money", large: true, summary: "Approve (and apply) a pending adjustment",
      run: async (c) => {
        const a = approvals.close(idOf(c), c.operator.name, "approve");
        const body = { ...a.body, operator: approvedOperator(a, c.operator.name) };
        const reply = a.kind === "adjust" ? await act.adjust(body) : await act.bulkAdjust(body);
        return { ...reply, approvalId: a.approvalId, requestedBy: a.requestedBy, approvedBy: c.operator.name };
      },
    },
    {
      method: "POST", url: "/v1/admin/approvals/:id/reject", role: "money", summary: "Reject a pending adjustment", reply: "ApprovalRejectedReply",
      run: async (c) => {
        const a = approvals.close(idOf(c), c.operator.name, "reject");
        return { ok: true, approvalId: a.approvalId, status: "rejected", requestedBy: a.requestedBy, rejectedBy: c.operator.name };
      },
    },
    {
      method: "GET", url: "/v1/admin/audit", role: "read", summary: "The audit trail of admin actions", query: AUDIT_QUERY,
      run: async (c) => ({ ok: true, ...readAudit(deps.store, auditQuery(c.req.query as Record<string, string | undefined>)) }),
    },
  ];
}

const CHANNELS = new Set(["email", "sms", "post"]);

function segmentRoutes({ store, log, now, segments }: AdminDeps): Route[] {
  return [
    {
      method: "POST", url: "/v1/admin/segments/query", role: "read", summary: "Count and list the customers a filter matches", body: queryBodySchema,
      run: async (c) => {
        const body = parseAdminBody(queryBodySchema, c.json(), "segment query");
        const result = await segments.query({ ...body, now: now() });
        return { ok: true, ...result };
      },
    },
    { method: "GET", url: "/v1/admin/segments", role: "read", summary: "List the saved segments", query: LIMIT_QUERY, reply: "SegmentListReply", run: async (c) => ({ ok: true, segments: listSegments(store, limitOf(c)) }) },
    { method: "GET", url: "/v1/admin/segments/:id", role: "read", summary: "One saved segment", reply: "SegmentReply", run: async (c) => ({ ok: true, segment: getSegment(store, idOf(c)) }) },
    {
      method: "PUT", url: "/v1/admin/segments/:id", role: "write", summary: "Save a segment", body: segmentSchema, pathFills: "id", reply: "SegmentReply",
      run: async (c) => {
        const segment = await putSegment(store, idOf(c), c.json(), now());
        log.info({ segment: segment.id }, "segment saved");
        return { ok: true, segment };
      },
    },
    {
      method: "DELETE", url: "/v1/admin/segments/:id", role: "write", summary: "Remove a saved segment", reply: "RemovedReply",
      run: async (c) => {
        await removeSegment(store, idOf(c));
        return { ok: true, id: idOf(c), removed: true };
      },
    },
    {
      method: "GET", url: "/v1/admin/segments/:id/export.csv", role: "read", summary: "Export a segment's consenting members as CSV", query: EXPORT_QUERY, produces: "text/csv",
      run: async (c) => {
        const segment = getSegment(store, idOf(c));
        const q = c.req.query as { consent?: string; bom?: string };
        if (!q.consent || !CHANNELS.has(q.consent)) throw new LoyaltyError("VALIDATION", "consent must be email, sms or post", "consent");
        const stream = segments.export({
          filter: segment.filter,
          consent: q.consent as Channel,
          now: now(),
          bom: q.bom === "1" || q.bom === "true",
          rowsPerChunk: limits.segmentExportRowsPerChunk,
        });
        return new Streamed("text/csv; charset=utf-8", stream, `${segment.id}-${q.consent}.csv`);
      },
    },
  ];
}

function clusterRoutes({ cluster, log }: AdminDeps): Route[] {
  return [
    {
      method: "GET", url: "/v1/admin/cluster", role: "read", summary: "Cluster mode: the instances and which one owns each partition",
      run: async () => {
        if (!cluster) return { ok: true, enabled: false, instances: [], partitions: [] };
        try {
          return { ok: true, enabled: true, instanceId: cluster.instanceId, ...(await cluster.status()) };
        } catch (err) {
          log.warn({ err }, "could not read the cluster buckets");
          throw new LoyaltyError("UNAVAILABLE", "the cluster's state cannot be read from NATS now; retry later");
        }
      },
    },
  ];
}

export function adminRoutes(deps: AdminDeps): Route[] {
  return [
    ...programmeRoutes(deps), ...productRoutes(deps), ...catalogueRoutes(deps), ...moneyRoutes(deps), ...customerRoutes(deps), ...approvalRoutes(deps), ...segmentRoutes(deps), ...clusterRoutes(deps),
    ...importRoutes(deps), ...reportRoutes(deps, (body, c) => withOperator(body, c.operator)), ...lookupRoutes(deps),
  ];
}
