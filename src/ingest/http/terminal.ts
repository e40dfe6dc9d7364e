// `POST /v1/<verb>`: the terminal verbs over HTTP. With terminalAuth configured a request
// carries its store's API key, declares a JSON body, and acts for that store only (the
// partition checks storeId and scopes request ids to the store); lookups and enrolments
// draw from rate-limit buckets when rateLimits are on.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
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

/** A terminal request let through (with its store's key, when keys are configured), or refused. */
type Admission = { key: TerminalKey | null; refusal?: undefined } | { refusal: LoyaltyError; retryAfter?: string };

const OPEN: Admission = { key: null };

/** Whether terminal requests are checked at all (keys or rate limits configured); else every one is admitted as OPEN. */
const isGuarded = (deps: TerminalDeps): boolean => deps.terminals !== null || deps.rateLimiter !== null;

/**
 * Who is calling, whether the body is declared JSON, and whether their bucket has a token:
 * read from the headers, before the body. The fastify route's guard and the fast path
 * both ask this, so a refusal is the same whichever door the request came through.
 */
function admit(deps: TerminalDeps, verb: string, req: { headers: IncomingHttpHeaders; url?: string | undefined }, ip: string): Admission {
  const { terminals, operators, rateLimiter, log } = deps;
  let key: TerminalKey | null = null;
  if (terminals) {
    const secret = apiKeyOf(req);
    if (secret === null) return { refusal: new LoyaltyError("UNAUTHORIZED", "an API key is required: Authorization: Bearer <key> or X-Api-Key: <key>") };
    key = terminals.find(secret);
    if (key === null) {
      if (operators.find(secret) === null) return { refusal: new LoyaltyError("UNAUTHORIZED", "unknown API key") };
      log.warn({ ip, route: req.url }, "an operator token was used on a terminal route");
      return { refusal: new LoyaltyError("FORBIDDEN", "an operator token does not act for a store: use the store's API key") };
    }
    if (!isJsonContentType(req)) return { refusal: new LoyaltyError("UNSUPPORTED_MEDIA_TYPE", "the body must be sent as Content-Type: application/json") };
  }
  if (rateLimiter) {
    const wait = rateLimiter.take(VERB_SET.has(verb) ? RATE_CLASS[verb as CommandVerb] : null, key?.id ?? null, ip);
    if (wait > 0) {
      return {
        refusal: new LoyaltyError("RATE_LIMITED", `too many ${RATE_CLASS[verb as CommandVerb]} requests; retry in ${Math.ceil(wait)} ms`),
        retryAfter: String(Math.max(1, Math.ceil(wait / 1000))),
      };
    }
  }
  return key === null ? OPEN : { key };
}

/** The route's onRequest hook: the admission above, its refusal sent and counted. */
function terminalGuard(deps: TerminalDeps) {
  return async (req: FastifyRequest<{ Params: { verb: string } }>, res: FastifyReply) => {
    const admitted = admit(deps, req.params.verb, req, req.ip);
    if (admitted.refusal === undefined) {
      if (admitted.key !== null) credentials.set(req, admitted.key);
      return undefined;
    }
    deps.metrics.rejected.labels("http", admitted.refusal.code).inc();
    if (admitted.retryAfter !== undefined) res.header("retry-after", admitted.retryAfter);
    return sendError(res, admitted.refusal);
  };
}

export function registerTerminalRoutes(app: FastifyInstance, deps: TerminalDeps): void {
  const { handler, metrics } = deps;
  // With neither keys nor rate limits there is nothing to check: no hook on the hot path.
  const guarded = isGuarded(deps);
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
 * framework sees it: a known verb, no query string, and a declared body (Content-Length)
 * within the payload limit. Everything else (another route, chunked or no body, one too
 * large, an unknown verb) goes to fastify as before, which words the refusal. With
 * terminal keys or rate limits configured, the request is admitted here exactly as the
 * route's guard admits it (`admit`), and a refusal is answered here. The answer is the
 * route's: the same status, headers that matter (Content-Type, Retry-After) and bytes, and
 * the same metrics. It saves the main thread 20-40 µs of its ~130 per HTTP authorize
 * (bench/RESULTS.md, 2026-12-02). Installed around fastify's request listener (the server
 * has exactly that one); false when it was not installed.
 */
export function installTerminalFastPath(app: FastifyInstance, deps: TerminalDeps): boolean {
  const server = app.server;
  const listeners = server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  if (listeners.length !== 1) return false;
  const framework = listeners[0]!;
  const { handler, metrics, log } = deps;
  const guarded = isGuarded(deps);
  const send = (res: ServerResponse, status: number, type: string, bytes: Uint8Array, retryAfter?: string) => {
    if (res.destroyed) return;
    res.writeHead(status, retryAfter === undefined ? { "content-type": type, "content-length": bytes.length } : { "retry-after": retryAfter, "content-type": type, "content-length": bytes.length });
    res.end(bytes);
  };
  // What fastify sends for an error: its handler's envelope serialised, with a charset.
  const sendRefusal = (res: ServerResponse, refusal: LoyaltyError, retryAfter?: string) =>
    send(res, httpStatusOf(refusal.code), "application/json; charset=utf-8", Buffer.from(JSON.stringify(failure(refusal.toWire()))), retryAfter);
  const answer = async (verb: CommandVerb, body: Buffer, store: string | null, res: ServerResponse) => {
    let served: { status: number; bytes: Uint8Array };
    try {
      served = await serve(handler, metrics, verb, body, store);
    } catch (err) {
      return sendRefusal(res, answerable(err, log));
    }
    // The route's bytes as given.
    send(res, served.status, "application/json", served.bytes);
  };
  const fast = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== "POST" || req.url === undefined || !req.url.startsWith("/v1/")) return false;
    const verb = req.url.slice(4);
    if (!VERB_SET.has(verb)) return false;
    const declared = Number(req.headers["content-length"]);
    if (!(declared > 0 && declared <= limits.payloadBytesMax)) return false;
    const admitted = guarded ? admit(deps, verb, req, req.socket.remoteAddress ?? "") : OPEN;
    if (admitted.refusal !== undefined) {
      metrics.rejected.labels("http", admitted.refusal.code).inc();
      // The body is not read, as fastify's hook does not read it: node discards it.
      sendRefusal(res, admitted.refusal, admitted.retryAfter);
      return true;
    }
    const store = admitted.key?.store ?? null;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => void answer(verb as CommandVerb, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), store, res));
    return true;
  };
  server.removeListener("request", framework);
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (!fast(req, res)) framework.call(server, req, res);
  });
  return true;
}
