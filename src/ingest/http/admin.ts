// The admin API's door: the operator comes from the bearer token (per-operator tokens,
// or the legacy adminToken as "admin" with every role), each route needs its role, and
// every action an operator takes is appended to the audit table and logged.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AuditEntry } from "../../admin/audit.js";
import type { Operator } from "../../config/credentials.js";
import { LoyaltyError, failure, httpStatusOf, type ErrorCode } from "../../errors.js";
import { limits } from "../../limits.js";
import type { Metrics } from "../../observe/metrics.js";
import { Accepted, Streamed, adminRoutes, type AdminDeps, type Answer, type Call, type Route } from "./admin-routes.js";
import { apiKeyOf, bearerOf, jsonBody, sendError, wireErrorOf, type Reply } from "./reply.js";

export type { AdminDeps } from "./admin-routes.js";

const operators = new WeakMap<FastifyRequest, Operator>();

function authenticate(req: FastifyRequest, deps: AdminDeps): Operator {
  const token = bearerOf(req);
  const operator = token === null ? null : deps.operators.find(token);
  if (operator) return operator;
  // A store's key is a credential, only not for this door.
  const key = deps.terminals ? apiKeyOf(req) : null;
  if (key !== null && deps.terminals?.find(key)) throw new LoyaltyError("FORBIDDEN", "a terminal API key may not use the admin API");
  if (deps.operators.size === 0) throw new LoyaltyError("UNAUTHORIZED", "admin is disabled: set adminToken");
  throw new LoyaltyError("UNAUTHORIZED");
}

// ---- what the audit record names -----------------------------------------------------------

const TARGET_FIELDS = ["requestId", "reportId", "jobId", "customer", "card", "newCard", "action", "account", "amount", "operator", "earnedFrom", "earnedTo", "from", "into"];

/** A bounded copy of a client-given value: strings cut to the id length limit, lists by their length. */
function bounded(v: unknown): unknown {
  if (typeof v === "string") return v.slice(0, limits.idLengthMax);
  if (typeof v === "number" || typeof v === "boolean" || v === null) return v;
  if (Array.isArray(v)) return { count: v.length };
  if (typeof v !== "object") return undefined;
  const out: Reply = {};
  for (const [k, x] of Object.entries(v).slice(0, 3)) if (typeof x === "string" || typeof x === "number") out[k.slice(0, 32)] = bounded(x);
  return out;
}

function targetsOf(req: FastifyRequest, body: unknown, reply: Reply): Reply {
  const targets: Reply = {};
  for (const [k, v] of Object.entries((req.params as Reply | undefined) ?? {})) targets[k] = bounded(v);
  if (typeof body === "object" && body !== null && !Array.isArray(body)) {
    for (const k of TARGET_FIELDS) if (Object.hasOwn(body, k)) targets[k] = bounded((body as Reply)[k]);
    for (const k of ["items", "customers"]) if (Array.isArray((body as Reply)[k])) targets[k] = bounded((body as Reply)[k]);
  }
  // A merge's reply names both customers by id, whatever references its body used;
  // an import's record is named by its id (its file is no JSON body to read targets from).
  for (const k of ["approvalId", "customerId", "from", "into", "importId"]) if (typeof reply[k] === "string") targets[k] = reply[k];
  return targets;
}

function statusOf(answer: Answer): number {
  if (answer instanceof Accepted) return 202;
  if (answer instanceof Streamed) return 200;
  return answer.ok === false ? httpStatusOf((answer.error as { code: ErrorCode }).code) : 200;
}

function outcomeOf(answer: Answer): string {
  if (answer instanceof Accepted) return "pending";
  if (answer instanceof Streamed) return "ok";
  return answer.ok === false ? (answer.error as { code: string }).code : "ok";
}

// ---- mounting ------------------------------------------------------------------------------------

function mount(app: FastifyInstance, deps: AdminDeps, route: Route): void {
  const { metrics, log } = deps;
  const record = async (req: FastifyRequest, operator: Operator, body: unknown, answer: Answer): Promise<void> => {
    const entry: AuditEntry = {
      at: deps.now(), operator: operator.name, role: route.role, method: route.method as string, route: route.url,
      targets: targetsOf(req, body, answer instanceof Accepted ? answer.body : answer instanceof Streamed ? {} : answer), outcome: outcomeOf(answer), status: statusOf(answer), ip: req.ip,
    };
    log.info({ audit: await deps.audit.append(entry) }, "admin action");
  };

  // Before the body is read: an unknown caller uploads nothing, and a missing role is refused at once.
  const guard = async (req: FastifyRequest, res: FastifyReply) => {
    let operator: Operator;
    try {
      operator = authenticate(req, deps);
    } catch (err) {
      const code = (err as LoyaltyError).code;
      metrics.rejected.labels("http", code).inc();
      if (code === "FORBIDDEN") log.warn({ ip: req.ip, route: route.url }, "a terminal API key was used on an admin route");
      return sendError(res, err);
    }
    if (!operator.roles.includes(route.role)) {
      metrics.rejected.labels("http", "FORBIDDEN").inc();
      const answer = failure({ code: "FORBIDDEN", message: `${operator.name} lacks the ${route.role} role` });
      await record(req, operator, undefined, answer);
      return res.code(403).send(answer);
    }
    operators.set(req, operator);
    return undefined;
  };

  app.route({
    method: route.method,
    url: route.url,
    onRequest: guard,
    ...(route.large ? { bodyLimit: limits.importBytesMax } : {}),
    handler: async (req, res) => {
      // A bulk job may run for minutes with the socket silent: the idle timeout must not cut it.
      if (route.large) req.raw.socket.setTimeout(0);
      let parsed: unknown;
      const call: Call = { req, operator: operators.get(req)!, json: (bytesMax) => (parsed ??= jsonBody(req, bytesMax)) };
      let answer: Answer;
      try {
        answer = await route.run(call);
      } catch (err) {
        const wire = wireErrorOf(err);
        if (wire.code === "INTERNAL") log.error({ err, route: route.url }, "admin route failed");
        answer = failure(wire);
      }
      await record(req, call.operator, parsed, answer);
      if (answer instanceof Streamed) {
        // A long export: the idle-socket timeout must not cut it while the client reads.
        req.raw.socket.setTimeout(0);
        return res.code(200).type(answer.contentType).header("content-disposition", `attachment; filename="${answer.fileName}"`).send(answer.stream);
      }
      return res.code(statusOf(answer)).send(answer instanceof Accepted ? answer.body : answer);
    },
  });
}

export function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  for (const route of adminRoutes(deps)) mount(app, deps, route);
}

/** The main listener when the admin API has its own: every admin path is refused there. */
export function refuseAdminRoutes(app: FastifyInstance, metrics: Metrics): void {
  app.all("/v1/admin/*", async (_req, res) => {
    metrics.rejected.labels("http", "FORBIDDEN").inc();
    return sendError(res, new LoyaltyError("FORBIDDEN", "the admin API is served on the admin listener (admin.port), not here"));
  });
}
