// HTTP: `POST /v1/<verb>` (the same handlers as NATS), admin routes (programmes, product
// card, rewards, voucher offers, adjustments) behind the bearer token, `/metrics`,
// `/healthz`, `/readyz`. Bodies are JSON.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { timingSafeEqual } from "node:crypto";
import { TERMINAL_VERBS, type CommandVerb } from "../verbs.js";
import { decodeBytes } from "../codec/codec.js";
import { LoyaltyError, failure, httpStatusOf, toWireError, type ErrorCode } from "../errors.js";
import { installProgramme, listProgrammes, retireProgramme } from "../admin/programmes.js";
import { bulkAdjust, bulkConvert } from "../admin/bulk.js";
import { importProductsCsv, listProducts, putProduct, removeProduct } from "../admin/products.js";
import { getReward, listRewards, putReward, removeReward } from "../admin/rewards.js";
import { getVoucherOffer, listVoucherOffers, putVoucherOffer, removeVoucherOffer } from "../admin/vouchers.js";
import { limits } from "../limits.js";
import { isStorageRefusal, type Store } from "../ledger/store.js";
import type { Logger } from "../observe/logger.js";
import type { Metrics } from "../observe/metrics.js";
import type { Handler } from "./handler.js";

export interface HttpDeps {
  handler: Handler;
  store: Store;
  metrics: Metrics;
  log: Logger;
  adminToken: string | null;
  readiness: () => Record<string, boolean>;
  onProgrammesChanged: () => void;
  now: () => number;
}

const VERB_SET: ReadonlySet<string> = new Set(TERMINAL_VERBS);

function sendReply(res: FastifyReply, reply: Record<string, unknown>): FastifyReply {
  const code = reply.ok === false ? ((reply.error as { code: ErrorCode }).code ?? "INTERNAL") : null;
  return res.code(code ? httpStatusOf(code) : 200).send(reply);
}

function sendError(res: FastifyReply, err: unknown): FastifyReply {
  const wire = toWireError(err);
  return res.code(httpStatusOf(wire.code)).send(failure(wire));
}

function jsonBody(req: FastifyRequest, bytesMax: number = limits.payloadBytesMax): unknown {
  return decodeBytes((req.body as Buffer | undefined) ?? Buffer.alloc(0), "json", bytesMax);
}

/** `?limit=` of an admin listing, clamped to 1..adminListMax (default 1000). */
function listLimit(query: { limit?: string }): number {
  return Math.min(Math.max(Number(query.limit ?? 1000) || 1000, 1), limits.adminListMax);
}

type AdminGuard = (req: FastifyRequest, res: FastifyReply) => Promise<unknown>;

/** The rewards catalogue and voucher offers: PUT/GET/DELETE one, GET all. */
function registerCatalogueRoutes(app: FastifyInstance, deps: HttpDeps, admin: AdminGuard): void {
  const { store, log } = deps;
  type ById = { Params: { id: string } };
  type Listing = { Querystring: { limit?: string } };
  // Thrown typed errors are answered by the app's error handler.
  app.get<Listing>("/v1/admin/rewards", { preHandler: admin }, async (req) => ({ ok: true, rewards: listRewards(store, listLimit(req.query), deps.now()) }));
  app.get<ById>("/v1/admin/rewards/:id", { preHandler: admin }, async (req) => ({ ok: true, reward: getReward(store, req.params.id, deps.now()) }));
  app.put<ById>("/v1/admin/rewards/:id", { preHandler: admin }, async (req) => {
    const reward = await putReward(store, req.params.id, jsonBody(req), deps.now());
    log.info({ reward: reward.id, pointsPrice: reward.pointsPrice, stock: reward.stock, active: reward.active }, "reward saved");
    return { ok: true, reward };
  });
  app.delete<ById>("/v1/admin/rewards/:id", { preHandler: admin }, async (req) => {
    await removeReward(store, req.params.id);
    log.info({ reward: req.params.id }, "reward removed");
    return { ok: true, id: req.params.id, removed: true };
  });

  app.get<Listing>("/v1/admin/voucher-offers", { preHandler: admin }, async (req) => ({ ok: true, offers: listVoucherOffers(store, listLimit(req.query)) }));
  app.get<ById>("/v1/admin/voucher-offers/:id", { preHandler: admin }, async (req) => ({ ok: true, offer: getVoucherOffer(store, req.params.id) }));
  app.put<ById>("/v1/admin/voucher-offers/:id", { preHandler: admin }, async (req) => {
    const offer = await putVoucherOffer(store, req.params.id, jsonBody(req), deps.now());
    log.info({ offer: offer.id, kind: offer.kind, pointsCost: offer.pointsCost }, "voucher offer saved");
    return { ok: true, offer };
  });
  app.delete<ById>("/v1/admin/voucher-offers/:id", { preHandler: admin }, async (req) => {
    await removeVoucherOffer(store, req.params.id);
    log.info({ offer: req.params.id }, "voucher offer removed");
    return { ok: true, id: req.params.id, removed: true };
  });
}

function authorised(req: FastifyRequest, token: string | null): boolean {
  if (!token) return false;
  const header = req.headers.authorization ?? "";
  const given = Buffer.from(header.startsWith("Bearer ") ? header.slice(7) : "");
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

export function createHttp(deps: HttpDeps): FastifyInstance {
  const { handler, store, metrics, log } = deps;
  // Our codec enforces the payload limit with a typed error; fastify's own limit is a backstop.
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, res) => {
    // Admin routes throw typed errors: they are replies, not crashes.
    if (err instanceof LoyaltyError) return sendError(res, err);
    if (isStorageRefusal(err)) return sendError(res, new LoyaltyError("UNAVAILABLE", "the ledger cannot write now (disk full?); retry later"));
    const code: ErrorCode = err.statusCode === 413 ? "PAYLOAD_TOO_LARGE" : (err.statusCode ?? 500) < 500 ? "BAD_REQUEST" : "INTERNAL";
    if (code === "INTERNAL") log.error({ err }, "http error");
    return sendError(res, new LoyaltyError(code, code === "INTERNAL" ? undefined : err.message));
  });
  app.setNotFoundHandler((req, res) => sendError(res, new LoyaltyError("BAD_REQUEST", `no route ${req.method} ${req.url}`)));

  app.post<{ Params: { verb: string } }>("/v1/:verb", async (req, res) => {
    const started = performance.now();
    const verb = req.params.verb;
    if (!VERB_SET.has(verb)) return sendError(res, new LoyaltyError("BAD_REQUEST", `unknown verb ${verb}`));
    // The body goes to the partition as bytes: it is decoded and validated there.
    const body = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
    const handled = await handler.handle("http", verb as CommandVerb, body, "json");
    metrics.requestDuration.labels("http", verb).observe((performance.now() - started) / 1000);
    const status = handled.outcome === "ok" || handled.outcome === "duplicate" ? 200 : httpStatusOf(handled.outcome as ErrorCode);
    return res.code(status).type("application/json").send(Buffer.from(handled.bytes.buffer, handled.bytes.byteOffset, handled.bytes.length));
  });

  const admin = async (req: FastifyRequest, res: FastifyReply) => {
    if (!authorised(req, deps.adminToken)) {
      metrics.rejected.labels("http", "UNAUTHORIZED").inc();
      return sendError(res, new LoyaltyError("UNAUTHORIZED", deps.adminToken ? undefined : "admin is disabled: set adminToken"));
    }
  };

  app.get("/v1/admin/programmes", { preHandler: admin }, async () => ({ ok: true, programmes: listProgrammes(store) }));
  app.get<{ Params: { id: string } }>("/v1/admin/programmes/:id", { preHandler: admin }, async (req, res) => {
    const p = listProgrammes(store).find((x) => x.id === req.params.id);
    return p ? { ok: true, ...p } : sendError(res, new LoyaltyError("VALIDATION", `no programme ${req.params.id}`, "id"));
  });
  app.put<{ Params: { id: string } }>("/v1/admin/programmes/:id", { preHandler: admin }, async (req, res) => {
    const installed = await installProgramme(store, req.params.id, jsonBody(req), deps.now());
    deps.onProgrammesChanged();
    log.info({ programme: installed.id, version: installed.version }, "programme installed");
    return { ok: true, id: installed.id, version: installed.version };
  });
  app.delete<{ Params: { id: string } }>("/v1/admin/programmes/:id", { preHandler: admin }, async (req, res) => {
    const removed = await retireProgramme(store, req.params.id);
    if (!removed) return sendError(res, new LoyaltyError("VALIDATION", `no programme ${req.params.id}`, "id"));
    deps.onProgrammesChanged();
    log.info({ programme: req.params.id }, "programme retired");
    return { ok: true, id: req.params.id, retired: true };
  });

  app.put<{ Params: { sku: string } }>("/v1/admin/products/:sku", { preHandler: admin }, async (req, res) => {
    return { ok: true, product: await putProduct(store, req.params.sku, jsonBody(req)) };
  });
  app.get<{ Querystring: { limit?: string } }>("/v1/admin/products", { preHandler: admin }, async (req) => ({
    ok: true,
    products: listProducts(store, listLimit(req.query)),
  }));
  app.delete<{ Params: { sku: string } }>("/v1/admin/products/:sku", { preHandler: admin }, async (req, res) => {
    if (!(await removeProduct(store, req.params.sku))) return sendError(res, new LoyaltyError("VALIDATION", `no product ${req.params.sku}`, "sku"));
    return { ok: true, sku: req.params.sku, removed: true };
  });
  app.post("/v1/admin/products/import", { preHandler: admin, bodyLimit: limits.importBytesMax }, async (req, res) => {
    const text = ((req.body as Buffer | undefined) ?? Buffer.alloc(0)).toString("utf8");
    const result = await importProductsCsv(store, text);
    log.info(result, "product card imported");
    return { ok: true, ...result };
  });

  registerCatalogueRoutes(app, deps, admin);

  app.post("/v1/admin/bulk/convert", { preHandler: admin, bodyLimit: limits.importBytesMax }, async (req, res) => {
    const result = await bulkConvert(store, handler, jsonBody(req, limits.importBytesMax));
    log.info({ ...result, failed: undefined }, "bulk conversion done");
    return result;
  });
  app.post("/v1/admin/bulk/adjust", { preHandler: admin, bodyLimit: limits.importBytesMax }, async (req, res) => {
    const result = await bulkAdjust(handler, jsonBody(req, limits.importBytesMax));
    log.info({ ...result, failed: undefined }, "bulk adjustment done");
    return result;
  });

  app.post("/v1/admin/cards", { preHandler: admin }, async (req, res) => {
    const value = jsonBody(req);
    const reply = await handler.handleValue("http", "card", value);
    if (reply.ok) log.info({ card: value }, "card changed");
    return sendReply(res, reply);
  });

  app.post("/v1/admin/adjustments", { preHandler: admin }, async (req, res) => {
    const value = jsonBody(req);
    const reply = await handler.handleValue("http", "adjust", value);
    if (reply.ok) log.info({ adjustment: value }, "manual adjustment");
    return sendReply(res, reply);
  });

  app.get("/metrics", async (_req, res) => {
    res.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get("/healthz", async () => ({ ok: true }));
  app.get("/readyz", async (_req, res) => {
    const checks = deps.readiness();
    const ready = Object.values(checks).every(Boolean);
    return res.code(ready ? 200 : 503).send({ ok: ready, checks });
  });
  return app;
}
