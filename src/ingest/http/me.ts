// The participant portal's door (`/v1/me/...`, docs/protocol.md section 11, Participant
// portal): sign-in by a one-time code (rate-limited per address and per customer), then a
// session token as `Authorization: Bearer`, and the routes of http/me-routes.ts run for
// that session's customer only. Tokens travel in a header, never a cookie: a page of
// another site cannot send a request that carries one.
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from "fastify";
import type { z } from "zod";
import { parseAdminBody } from "../../admin/parse.js";
import type { PortalConfig } from "../../config/portal.js";
import { LoyaltyError } from "../../errors.js";
import { survivorId } from "../../ledger/customers.js";
import type { Store } from "../../ledger/store.js";
import { limits } from "../../limits.js";
import type { Logger } from "../../observe/logger.js";
import type { Metrics } from "../../observe/metrics.js";
import type { Session } from "../../portal/credentials.js";
import { otpRequestSchema, sessionRequestSchema, type Portal } from "../../portal/signin.js";
import { VERB_TABLE, type CommandVerb } from "../../verbs.js";
import type { Handler } from "../handler.js";
import { TokenBuckets } from "../ratelimit.js";
import { meRoutes, type MeCall, type MeRoute } from "./me-routes.js";
import { bearerOf, jsonBody, sendError, sendReply } from "./reply.js";

export interface PortalWiring {
  portal: Portal;
  config: PortalConfig;
}

export interface MeHttpDeps {
  handler: Handler;
  store: Store;
  metrics: Metrics;
  log: Logger;
  now: () => number;
  portal: PortalWiring | null;
}

/** A sign-in route, as the OpenAPI document describes it. */
export interface SignInRoute {
  method: HTTPMethods;
  url: string;
  summary: string;
  body?: z.ZodType;
  /** The status of a success: 202 for a code request. */
  status: 200 | 202;
  session: boolean;
}

export const SIGN_IN_ROUTES: readonly SignInRoute[] = [
  { method: "POST", url: "/v1/me/otp", summary: "Ask for a one-time sign-in code (sent as loyalty.notify.otp); always 202, whoever is named", body: otpRequestSchema, status: 202, session: false },
  { method: "POST", url: "/v1/me/session", summary: "Sign in with the code: a session token for Authorization: Bearer", body: sessionRequestSchema, status: 200, session: false },
  { method: "POST", url: "/v1/me/logout", summary: "End the session of the bearer token", status: 200, session: true },
];

/** The portal's token buckets (config portal.*): a bucket's capacity is its hourly allowance, refilled evenly. */
function portalBuckets(c: PortalConfig, now: () => number) {
  const hourly = (perHour: number) => new TokenBuckets({ perMinute: perHour / 60, burst: Math.max(1, perHour) }, now, limits.portalBucketsMax);
  return { otpByIp: hourly(c.otpPerHourPerIp), otpByCustomer: hourly(c.otpPerHourPerCustomer), signInByIp: hourly(c.signInPerHourPerIp) };
}

function rateLimited(res: FastifyReply, metrics: Metrics, waitMs: number, what: string): FastifyReply {
  metrics.rejected.labels("http", "RATE_LIMITED").inc();
  res.header("retry-after", String(Math.max(1, Math.ceil(waitMs / 1000))));
  return sendError(res, new LoyaltyError("RATE_LIMITED", `too many ${what}; retry in ${Math.ceil(waitMs / 1000)} s`));
}

function refuse(res: FastifyReply, metrics: Metrics, err: unknown): FastifyReply {
  if (err instanceof LoyaltyError) metrics.rejected.labels("http", err.code).inc();
  return sendError(res, err);
}

/** Route options of a sign-in route: a small body, and the address's bucket drawn from before the body is read. */
function signInOptions(bucket: TokenBuckets, metrics: Metrics, what: string) {
  return {
    bodyLimit: limits.payloadBytesMax,
    onRequest: async (req: FastifyRequest, res: FastifyReply) => {
      const wait = bucket.take(req.ip);
      return wait > 0 ? rateLimited(res, metrics, wait, what) : undefined;
    },
  };
}

function registerSignIn(app: FastifyInstance, deps: MeHttpDeps, wiring: PortalWiring): void {
  const { metrics, log } = deps;
  const { portal, config } = wiring;
  const buckets = portalBuckets(config, deps.now);
  app.post("/v1/me/otp", signInOptions(buckets.otpByIp, metrics, "code requests from this address"), async (req, res) => {
    try {
      const body = parseAdminBody(otpRequestSchema, jsonBody(req), "body");
      const customer = portal.resolve(body.customer);
      // Nobody's requests count against the name they used, so a refusal says nothing of who exists.
      const wait = buckets.otpByCustomer.take(customer ? customer.id : `ref:${JSON.stringify(body.customer)}`);
      if (wait > 0) return rateLimited(res, metrics, wait, "codes for this customer");
      const outcome = portal.sendCode(customer, body.customer, body.channel);
      log.info({ portal: { ip: req.ip, ...outcome } }, "portal code requested");
      return res.code(202).send({ ok: true, expiresInMs: config.otpTtlMs });
    } catch (err) {
      return refuse(res, metrics, err);
    }
  });
  app.post("/v1/me/session", signInOptions(buckets.signInByIp, metrics, "sign-in attempts from this address"), async (req, res) => {
    try {
      const body = parseAdminBody(sessionRequestSchema, jsonBody(req), "body");
      const { token, session } = portal.signIn(portal.resolve(body.customer), body.code);
      return res.code(200).send({ ok: true, token, customerId: session.customerId, expiresAt: session.expiresAt });
    } catch (err) {
      return refuse(res, metrics, err);
    }
  });
  app.post("/v1/me/logout", async (req, res) => {
    const token = bearerOf(req);
    if (token === null) return refuse(res, metrics, new LoyaltyError("UNAUTHORIZED", "a session token is required: Authorization: Bearer <token>"));
    return res.code(200).send({ ok: true, ended: portal.logout(token) });
  });
}

/** The session's customer now: its survivor if it was merged away; UNAUTHORIZED when erased (its sessions end). */
function signedIn(deps: MeHttpDeps, portal: Portal, session: Session): { customerId: string; distributor: boolean } {
  const { store } = deps;
  store.env.resetReadTxn();
  const customerId = survivorId(store, session.customerId);
  const c = store.customers.get(customerId);
  if (!c || c.erasedAt !== undefined) {
    portal.forget(session.customerId);
    throw new LoyaltyError("UNAUTHORIZED", "the session's customer no longer exists");
  }
  return { customerId, distributor: c.kind === "distributor" };
}

/** A request may not name a customer: the portal acts for the signed-in one only. */
function refuseOtherCustomer(value: unknown): void {
  if (typeof value === "object" && value !== null && Object.hasOwn(value, "customer")) {
    throw new LoyaltyError("FORBIDDEN", "the portal acts for the signed-in customer only: leave customer out", "customer");
  }
}

function mount(app: FastifyInstance, deps: MeHttpDeps, portal: Portal, route: MeRoute): void {
  const { handler, metrics, log } = deps;
  const sessions = new WeakMap<FastifyRequest, Session>();
  const guard = async (req: FastifyRequest, res: FastifyReply) => {
    const token = bearerOf(req);
    const session = token === null ? null : portal.session(token);
    if (session === null) return refuse(res, metrics, new LoyaltyError("UNAUTHORIZED", token === null ? "a session token is required: Authorization: Bearer <token>" : "the session is unknown, ended or expired: sign in again"));
    sessions.set(req, session);
    return undefined;
  };
  app.route({
    method: route.method,
    url: route.url,
    // Before the body is read: a caller without a session uploads nothing.
    onRequest: guard,
    bodyLimit: limits.payloadBytesMax,
    handler: async (req, res) => {
      try {
        const me = signedIn(deps, portal, sessions.get(req)!);
        if (route.distributor && !me.distributor) throw new LoyaltyError("FORBIDDEN", "for distributors' participants only");
        refuseOtherCustomer(req.query);
        let parsed: unknown;
        const call: MeCall = {
          req,
          customerId: me.customerId,
          body: () => {
            if (parsed !== undefined || !route.body) return parsed;
            const raw = jsonBody(req);
            refuseOtherCustomer(raw);
            return (parsed = parseAdminBody(route.body, raw, "body"));
          },
          verb: (verb: CommandVerb, input: Record<string, unknown>) =>
            handler.handleValue("http", verb, VERB_TABLE[verb].route === "customer" ? { ...input, customer: { customerId: me.customerId } } : input),
        };
        if (route.body) call.body();
        // A verb's refusal is counted by the handler already.
        return sendReply(res, await route.run(call));
      } catch (err) {
        if (!(err instanceof LoyaltyError)) log.error({ err, route: route.url }, "portal route failed");
        return refuse(res, metrics, err);
      }
    },
  });
}

export function registerMeRoutes(app: FastifyInstance, deps: MeHttpDeps): void {
  if (!deps.portal) return;
  registerSignIn(app, deps, deps.portal);
  for (const route of meRoutes(deps)) mount(app, deps, deps.portal.portal, route);
}
