// `POST /v1/<verb>`: the terminal verbs over HTTP. With terminalAuth configured a request
// carries its store's API key, declares a JSON body, and acts for that store only (the
// partition checks storeId and scopes request ids to the store); lookups and enrolments
// draw from rate-limit buckets when rateLimits are on.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { KeyRing, Operator, TerminalKey } from "../../config/credentials.js";
import { LoyaltyError, httpStatusOf, type ErrorCode } from "../../errors.js";
import { limits } from "../../limits.js";
import type { Logger } from "../../observe/logger.js";
import type { Metrics } from "../../observe/metrics.js";
import { RATE_CLASS, TERMINAL_VERBS, type CommandVerb } from "../../verbs.js";
import type { Handler } from "../handler.js";
import type { RateLimiter } from "../ratelimit.js";
import { apiKeyOf, isJsonContentType, sendError } from "./reply.js";

export interface TerminalDeps {
  handler: Handler;
  metrics: Metrics;
  log: Logger;
  /** null: terminal routes take no credential (no terminalAuth.keysFile), as before. */
  terminals: KeyRing<TerminalKey> | null;
  operators: KeyRing<Operator>;
  rateLimiter: RateLimiter | null;
}

const VERB_SET: ReadonlySet<string> = new Set(TERMINAL_VERBS);
const credentials = new WeakMap<FastifyRequest, TerminalKey>();

/** Who is calling, whether the body is declared JSON, and whether their bucket has a token: before the body is read. */
function terminalGuard(deps: TerminalDeps) {
  const { terminals, operators, rateLimiter, metrics, log } = deps;
  return async (req: FastifyRequest<{ Params: { verb: string } }>, res: FastifyReply) => {
    const refuse = (err: LoyaltyError) => {
      metrics.rejected.labels("http", err.code).inc();
      return sendError(res, err);
    };
    let key: TerminalKey | null = null;
    if (terminals) {
      const secret = apiKeyOf(req);
      if (secret === null) return refuse(new LoyaltyError("UNAUTHORIZED", "an API key is required: Authorization: Bearer <key> or X-Api-Key: <key>"));
      key = terminals.find(secret);
      if (key === null) {
        if (operators.find(secret) === null) return refuse(new LoyaltyError("UNAUTHORIZED", "unknown API key"));
        log.warn({ ip: req.ip, route: req.url }, "an operator token was used on a terminal route");
        return refuse(new LoyaltyError("FORBIDDEN", "an operator token does not act for a store: use the store's API key"));
      }
      if (!isJsonContentType(req)) return refuse(new LoyaltyError("UNSUPPORTED_MEDIA_TYPE", "the body must be sent as Content-Type: application/json"));
      credentials.set(req, key);
    }
    if (rateLimiter) {
      const verb = req.params.verb;
      const wait = rateLimiter.take(VERB_SET.has(verb) ? RATE_CLASS[verb as CommandVerb] : null, key?.id ?? null, req.ip);
      if (wait > 0) {
        res.header("retry-after", String(Math.max(1, Math.ceil(wait / 1000))));
        return refuse(new LoyaltyError("RATE_LIMITED", `too many ${RATE_CLASS[verb as CommandVerb]} requests; retry in ${Math.ceil(wait)} ms`));
      }
    }
    return undefined;
  };
}

export function registerTerminalRoutes(app: FastifyInstance, deps: TerminalDeps): void {
  const { handler, metrics } = deps;
  // With neither keys nor rate limits there is nothing to check: no hook on the hot path.
  const guarded = deps.terminals !== null || deps.rateLimiter !== null;
  // The web server refuses a body over the payload limit as it arrives, before buffering it.
  const options = { bodyLimit: limits.payloadBytesMax, ...(guarded ? { onRequest: terminalGuard(deps) } : {}) };
  app.post<{ Params: { verb: string } }>("/v1/:verb", options, async (req, res) => {
    const started = performance.now();
    const verb = req.params.verb;
    if (!VERB_SET.has(verb)) return sendError(res, new LoyaltyError("BAD_REQUEST", `unknown verb ${verb}`));
    // The body goes to the partition as bytes: it is decoded and validated there.
    const body = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
    const store = credentials.get(req)?.store ?? null;
    const handled = await handler.handle("http", verb as CommandVerb, body, "json", null, store);
    metrics.requestDuration.labels("http", verb).observe((performance.now() - started) / 1000);
    const status = handled.outcome === "ok" || handled.outcome === "duplicate" ? 200 : httpStatusOf(handled.outcome as ErrorCode);
    return res.code(status).type("application/json").send(Buffer.from(handled.bytes.buffer, handled.bytes.byteOffset, handled.bytes.length));
  });
}
