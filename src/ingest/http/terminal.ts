// `POST /v1/<verb>`: the terminal verbs over HTTP. With terminalAuth configured a request
// carries its store's API key, declares a JSON body, and acts for that store only (the
// partition checks storeId and scopes request ids to the store); lookups and enrolments
// draw from rate-limit buckets when rateLimits are on.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { KeyRing, Operator, TerminalKey } from "../../config/credentials.js";
import { LoyaltyError, failure, httpStatusOf, type ErrorCode } from "../../errors.js";
import { limits } from "../../limits.js";
import type { Logger } from "../../observe/logger.js";
import type { Metrics } from "../../observe/metrics.js";
import { RATE_CLASS, TERMINAL_VERBS, type CommandVerb } from "../../verbs.js";
import type { Handler } from "../handler.js";
import type { RateLimiter } from "../ratelimit.js";
import { answerable, apiKeyOf, isJsonContentType, sendError } from "./reply.js";

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
    const verb = req.params.verb;
    if (!VERB_SET.has(verb)) return sendError(res, new LoyaltyError("BAD_REQUEST", `unknown verb ${verb}`));
    // The body goes to the partition as bytes: it is decoded and validated there.
    const body = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
    const { status, bytes } = await serve(handler, metrics, verb as CommandVerb, body, credentials.get(req)?.store ?? null);
    return res.code(status).type("application/json").send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  });
}

/** A terminal verb's request handled and timed (from its whole body's arrival): the HTTP status and the reply's bytes. */
async function serve(handler: Handler, metrics: Metrics, verb: CommandVerb, body: Buffer, store: string | null): Promise<{ status: number; bytes: Uint8Array }> {
  const started = performance.now();
  const handled = await handler.handle("http", verb, body, "json", null, store);
  metrics.requestDuration.labels("http", verb).observe((performance.now() - started) / 1000);
  return { status: handled.outcome === "ok" || handled.outcome === "duplicate" ? 200 : httpStatusOf(handled.outcome as ErrorCode), bytes: handled.bytes };
}

/**
 * `POST /v1/<verb>` answered on node:http's own request and response, before the web
 * framework sees it, when the route needs nothing of it: no terminal keys and no rate
 * limits configured, a known verb, no query string, and a declared body (Content-Length)
 * within the payload limit. Everything else (another route, chunked or no body, one too
 * large, an unknown verb) goes to fastify as before, which words the refusal. The answer
 * is the route's: the same status, Content-Type and bytes, and the same metrics. It saves
 * the main thread 20-40 µs of its ~130 per HTTP authorize (bench/RESULTS.md, 2026-12-02).
 * Installed around fastify's request listener (the server has exactly that one); false
 * when it was not installed.
 */
export function installTerminalFastPath(app: FastifyInstance, deps: TerminalDeps): boolean {
  if (deps.terminals !== null || deps.rateLimiter !== null) return false;
  const server = app.server;
  const listeners = server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  if (listeners.length !== 1) return false;
  const framework = listeners[0]!;
  const { handler, metrics, log } = deps;
  const answer = async (verb: CommandVerb, body: Buffer, res: ServerResponse) => {
    let status: number;
    let bytes: Uint8Array;
    // What fastify sends: the route's bytes as given, its error handler's envelope serialised.
    let type = "application/json";
    try {
      ({ status, bytes } = await serve(handler, metrics, verb, body, null));
    } catch (err) {
      const refusal = answerable(err, log);
      status = httpStatusOf(refusal.code);
      bytes = Buffer.from(JSON.stringify(failure(refusal.toWire())));
      type = "application/json; charset=utf-8";
    }
    if (res.destroyed) return;
    res.writeHead(status, { "content-type": type, "content-length": bytes.length });
    res.end(bytes);
  };
  const fast = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== "POST" || req.url === undefined || !req.url.startsWith("/v1/")) return false;
    const verb = req.url.slice(4);
    if (!VERB_SET.has(verb)) return false;
    const declared = Number(req.headers["content-length"]);
    if (!(declared > 0 && declared <= limits.payloadBytesMax)) return false;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => void answer(verb as CommandVerb, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), res));
    return true;
  };
  server.removeListener("request", framework);
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (!fast(req, res)) framework.call(server, req, res);
  });
  return true;
}
