// HTTP listeners: the main one serves `POST /v1/<verb>` (http/terminal.ts), `/metrics`,
// `/healthz`, `/readyz`, `/openapi.json` (http/openapi.ts), the operator console (`/console`, http/console.ts),
// the participant portal's `/v1/me/...` (http/me.ts, unless portal.enabled is off) and its pages (`/me`),
// and, unless admin.port gives them their own listener, the admin
// routes (http/admin.ts). Every answer, the web server's own refusals included, is the
// contract's envelope. Bodies are JSON.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import { LoyaltyError, failure, httpStatusOf, type ErrorCode } from "../errors.js";
import { limits } from "../limits.js";
import type { Logger } from "../observe/logger.js";
import type { Metrics } from "../observe/metrics.js";
import { registerAdminRoutes, refuseAdminRoutes, type AdminDeps } from "./http/admin.js";
import { defaultConsoleDir, packageRoot, PORTAL_PAGES_PATH, registerConsoleRoutes } from "./http/console.js";
import { adminRoutes } from "./http/admin-routes.js";
import { buildOpenApi } from "./http/openapi.js";
import { registerMeRoutes, type MeHttpDeps } from "./http/me.js";
import { meRoutes } from "./http/me-routes.js";
import { answerable, sendError } from "./http/reply.js";
import { installTerminalFastPath, registerTerminalRoutes, type TerminalDeps } from "./http/terminal.js";

/** config http.*: how long each phase of a request may take, and how many sockets are open at once. */
export interface HttpServerOptions {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  connectionTimeoutMs: number;
  connectionsMax: number;
}

export interface HttpDeps extends TerminalDeps, AdminDeps, MeHttpDeps {
  metrics: Metrics;
  log: Logger;
  readiness: () => Record<string, boolean>;
  server: HttpServerOptions;
}

/**
 * Which routes a listener serves. "main": terminal, operations and (adminHere) admin
 * routes; "admin": the admin listener of admin.port, with the operations routes.
 */
export type Listener = { kind: "main"; adminHere: boolean } | { kind: "admin" };

/** An error the HTTP parser raises before any route sees the request, answered on the raw socket. */
function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const code: ErrorCode =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "REQUEST_TIMEOUT" : err.code === "HPE_HEADER_OVERFLOW" ? "PAYLOAD_TOO_LARGE" : "BAD_REQUEST";
  const message = code === "REQUEST_TIMEOUT" ? "the request was not received in time" : code === "PAYLOAD_TOO_LARGE" ? "the request headers are too large" : "malformed HTTP request";
  const body = JSON.stringify(failure({ code, message }));
  const status = httpStatusOf(code);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** The web server with the envelope, parsers, bounds and error handlers every listener shares (no routes). */
export function createApp(options: HttpServerOptions, log: Logger): FastifyInstance {
  const app = Fastify({
    logger: false,
    // Our codec enforces the payload limit with a typed error; this is the admin routes' backstop.
    bodyLimit: 1024 * 1024,
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    connectionTimeout: options.connectionTimeoutMs,
    http: {
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      // Node looks for requests past their timeouts every 30 s by default: too late for a 10 s bound.
      connectionsCheckingInterval: Math.min(limits.httpTimeoutCheckMsMax, Math.ceil(options.headersTimeoutMs / 2)),
    },
    clientErrorHandler: clientError,
    frameworkErrors: (err, _req, res) => sendError(res, new LoyaltyError("BAD_REQUEST", err.message)),
  });
  app.server.maxConnections = options.connectionsMax;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err, _req, res) => sendError(res, answerable(err, log)));
  // No CORS: no Access-Control-* header is ever sent, and a preflight (OPTIONS) finds no route.
  app.setNotFoundHandler((req, res) => sendError(res, new LoyaltyError("BAD_REQUEST", `no route ${req.method} ${req.url}`)));
  return app;
}

/** The package's version, for the OpenAPI document: from the nearest package.json up (src/ under tests, dist/src/ built). */
function packageVersion(): string {
  const root = packageRoot();
  return root === null ? "0.0.0" : ((JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version?: string }).version ?? "0.0.0");
}

/**
 * The document is built at the first request (about 0.1 s of schema conversion that a
 * restart need not wait for), then the same bytes are sent on every request.
 */
function registerOpenApi(app: FastifyInstance, deps: HttpDeps, listener: Listener): void {
  const adminApart = listener.kind === "admin" || !listener.adminHere;
  let body: string | null = null;
  app.get("/openapi.json", async (_req, res) => {
    body ??= JSON.stringify(buildOpenApi({ version: packageVersion(), terminalAuth: deps.terminals !== null, adminApart, adminRoutes: adminRoutes(deps), portal: deps.portal !== null ? meRoutes(deps) : null }));
    return res.type("application/json").send(body);
  });
}

function registerOperationsRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { metrics } = deps;
  app.get("/metrics", async (_req, res) => {
    res.header("content-type", metrics.registry.contentType);
    return metrics.text();
  });
  app.get("/healthz", async () => ({ ok: true }));
  app.get("/readyz", async (_req, res) => {
    const checks = deps.readiness();
    const ready = Object.values(checks).every(Boolean);
    return res.code(ready ? 200 : 503).send({ ok: ready, checks });
  });
}

/** A route a listener registered, as the web server saw it (GET routes also answer HEAD). */
export interface RegisteredRoute {
  method: string;
  url: string;
}

const registered = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route the listener registered: what test/e2e/openapi.test.ts holds the document against. */
export function routesOf(app: FastifyInstance): readonly RegisteredRoute[] {
  return registered.get(app) ?? [];
}

export function createHttp(deps: HttpDeps, listener: Listener = { kind: "main", adminHere: true }): FastifyInstance {
  const app = createApp(deps.server, deps.log);
  const routes: RegisteredRoute[] = [];
  registered.set(app, routes);
  app.addHook("onRoute", (r) => {
    for (const method of [r.method].flat()) if (method !== "HEAD") routes.push({ method, url: r.url });
  });
  if (listener.kind === "main") {
    registerTerminalRoutes(app, deps);
    installTerminalFastPath(app, deps);
    registerMeRoutes(app, deps);
    if (listener.adminHere) registerAdminRoutes(app, deps);
    else refuseAdminRoutes(app, deps.metrics);
  } else {
    registerAdminRoutes(app, deps);
  }
  registerOperationsRoutes(app, deps);
  registerConsoleRoutes(app, deps.log);
  // The participant portal's pages, beside the /v1/me routes they call.
  if (listener.kind === "main" && deps.portal !== null) registerConsoleRoutes(app, deps.log, defaultConsoleDir("portal"), PORTAL_PAGES_PATH, "the participant portal");
  registerOpenApi(app, deps, listener);
  return app;
}
