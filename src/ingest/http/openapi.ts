// The OpenAPI 3.1 document of the HTTP API, built (at its first request) from what the routes run
// with: the codec's request schemas, the verb table, the reply schemas and the admin
// route table. Nothing here is a second copy of a schema: a field added to a request
// schema appears in the document at the next start. Served at GET /openapi.json.
import type { HTTPMethods } from "fastify";
import { z } from "zod";
import { customerRef, posEvent, saleEvent, VERB_SCHEMAS } from "../../codec/schema.js";
import { REPLY_SCHEMAS, SHARED_REPLY_SCHEMAS, type ReplyVerb } from "../../codec/replies.js";
import { ERROR_CODES, type ErrorCode } from "../../errors.js";
import { filterSchema } from "../../admin/segments/filter.js";
import { TERMINAL_VERBS, VERB_TABLE, type CommandVerb } from "../../verbs.js";
import type { Route } from "./admin-routes.js";
import { SIGN_IN_ROUTES } from "./me.js";
import type { MeRoute } from "./me-routes.js";
import { ADMIN_REPLIES } from "./admin-replies.js";

type Json = Record<string, unknown>;
const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/** What the document needs to know of the running engine. */
export interface OpenApiOptions {
  version: string;
  /** terminalAuth.keysFile is set: terminal routes need a store's API key. */
  terminalAuth: boolean;
  /** admin.port is set: the admin routes are served on their own listener, not the main one. */
  adminApart: boolean;
  adminRoutes: readonly Route[];
  /** The participant portal's routes (null: portal.enabled is off, or the admin listener). */
  portal: readonly MeRoute[] | null;
}

/** An operations route: the same on both listeners, no credential. */
interface OperationsRoute {
  method: "GET";
  url: string;
  summary: string;
  produces: string;
  reply?: z.ZodType;
  /** When the one made from the URL would clash (the portal's `/me` page and `GET /v1/me`). */
  operationId?: string;
}

export const OPERATIONS_ROUTES: readonly OperationsRoute[] = [
  { method: "GET", url: "/metrics", summary: "Prometheus metrics (text exposition format)", produces: "text/plain" },
  { method: "GET", url: "/healthz", summary: "Alive: the process answers", produces: "application/json", reply: z.object({ ok: z.literal(true) }) },
  {
    method: "GET", url: "/readyz", summary: "Ready: NATS connected, stream bound, LMDB open and writable, partitions moving, programmes loaded (503 when not)",
    produces: "application/json", reply: z.object({ ok: z.boolean(), checks: z.record(z.string(), z.boolean()) }),
  },
  { method: "GET", url: "/openapi.json", summary: "This document", produces: "application/json" },
  // The operator console's page and built files (http/console.ts); it signs in with an operator token to the admin routes.
  { method: "GET", url: "/console", summary: "The operator console (a web page)", produces: "text/html" },
  { method: "GET", url: "/console/", summary: "The operator console (a web page)", produces: "text/html" },
  { method: "GET", url: "/console/:file", summary: "A file of the operator console", produces: "application/octet-stream" },
  { method: "GET", url: "/console/assets/:file", summary: "A script or style of the operator console, named by its content's hash (cached for a year)", produces: "application/octet-stream" },
];

/** The participant portal's pages (http/console.ts serves them like the console), with the /v1/me routes. */
export const PORTAL_PAGE_ROUTES: readonly OperationsRoute[] = [
  { method: "GET", url: "/me", summary: "The participant portal (a web page)", produces: "text/html", operationId: "getPortalPage" },
  { method: "GET", url: "/me/", summary: "The participant portal (a web page)", produces: "text/html", operationId: "getPortalPageIndex" },
  { method: "GET", url: "/me/:file", summary: "A file of the participant portal", produces: "application/octet-stream", operationId: "getPortalFile" },
  { method: "GET", url: "/me/assets/:file", summary: "A script or style of the participant portal, named by its content's hash (cached for a year)", produces: "application/octet-stream", operationId: "getPortalAsset" },
];

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });

/** ":id" -> "{id}", and the path's parameters. */
function pathOf(url: string): { path: string; params: string[] } {
  const params: string[] = [];
  const path = url.replace(/:([A-Za-z]+)/g, (_m, name: string) => (params.push(name), `{${name}}`));
  return { path, params };
}

function operationIdOf(method: string, url: string): string {
  const words = url.split(/[/:.-]+/).filter((w) => w && w !== "v1");
  return method.toLowerCase() + words.map(cap).join("");
}

/** One response per HTTP status the error codes map to, each the failure envelope, naming its codes. */
function failureResponses(): Json {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const [code, { status }] of Object.entries(ERROR_CODES) as [ErrorCode, { status: number }][]) {
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Json = {};
  for (const [status, codes] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = { description: `error.code is one of ${codes.join(", ")}`, content: { "application/json": { schema: ref("Failure") } } };
  }
  return out;
}

/** The schemas under components, named, with references between them. */
class Schemas {
  private readonly registry = z.registry<{ id: string }>();

  /** Registers a schema under a name (a schema already registered keeps its first name); returns the name. */
  add(schema: z.ZodType, name: string): string {
    const known = this.registry.get(schema);
    if (known) return known.id;
    this.registry.add(schema, { id: name });
    return name;
  }

  build(): Record<string, Json> {
    const { schemas } = z.toJSONSchema(this.registry, {
      target: "draft-2020-12",
      io: "input",
      // A refinement (money cross-checks, "one of amount or value") has no JSON Schema form: the prose says it.
      unrepresentable: "any",
      uri: (id) => `#/components/schemas/${id}`,
    });
    const out: Record<string, Json> = {};
    for (const [name, s] of Object.entries(schemas)) {
      const { $schema: _s, $id: _i, ...rest } = s as Json;
      out[name] = rest;
    }
    return out;
  }
}

function terminalOperation(verb: CommandVerb, replyName: string, requestName: string, security: Json[]): Json {
  const idempotency = VERB_TABLE[verb].idempotency;
  const key = idempotency === "event" ? "eventId" : idempotency === "request" ? "requestId" : null;
  return {
    operationId: verb,
    summary: `${verb} (NATS: loyalty.rpc.${verb})`,
    description: key
      ? `Idempotent by \`${key}\`: the same ${key} with the same content answers the first reply with \`duplicate: true\`; with other content IDEMPOTENCY_CONFLICT. Retry with the same ${key}.`
      : "A read: nothing is recorded.",
    tags: ["terminal"],
    "x-idempotency-key": key,
    security,
    requestBody: { required: true, content: { "application/json": { schema: ref(requestName) } } },
    responses: { "200": { description: "ok: true", content: { "application/json": { schema: ref(replyName) } } }, ...failureResponses() },
  };
}

function bodyOf(route: Route, schemas: Schemas, name: string): Json | undefined {
  if (route.body === undefined) return undefined;
  if (route.body === "text/csv") return { required: true, content: { "text/csv": { schema: { type: "string" } } } };
  if (route.body === "spreadsheet") return { required: true, content: { "text/csv": { schema: { type: "string" } }, [XLSX]: { schema: { type: "string", contentMediaType: XLSX } } } };
  return { required: true, content: { "application/json": { schema: ref(schemas.add(route.body, name)) } } };
}

function adminOperation(route: Route, schemas: Schemas, fills: Map<string, string[]>): Json {
  const operationId = operationIdOf(route.method as string, route.url);
  const { params } = pathOf(route.url);
  const parameters = [
    ...params.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } })),
    ...Object.entries(route.query ?? {}).map(([name, description]) => ({ name, in: "query", required: name === "consent", description, schema: { type: "string" } })),
  ];
  const requestBody = bodyOf(route, schemas, `${cap(operationId)}Body`);
  if (requestBody && route.pathFills && typeof route.body !== "string") {
    fills.set(schemas.add(route.body as z.ZodType, ""), route.pathFills.split(","));
  }
  const reply = route.reply ? schemas.add(ADMIN_REPLIES[route.reply], route.reply) : "AdminReply";
  const ok = route.produces ? { content: { [route.produces]: { schema: { type: "string" } } } } : { content: { "application/json": { schema: ref(reply) } } };
  return {
    operationId,
    summary: route.summary,
    tags: ["admin"],
    "x-role": route.role,
    security: [{ operatorToken: [] }],
    ...(parameters.length ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses: {
      "200": { description: "ok: true", ...ok },
      ...(route.accepted ? { "202": { description: "waiting for a second operator's approval", content: { "application/json": { schema: ref("Pending") } } } } : {}),
      ...failureResponses(),
    },
  };
}

function operationsOperation(route: OperationsRoute, schemas: Schemas): Json {
  const operationId = route.operationId ?? operationIdOf(route.method, route.url.endsWith("/") ? `${route.url}index` : route.url);
  const { params } = pathOf(route.url);
  const schema = route.reply ? ref(schemas.add(route.reply, `${cap(operationId)}Reply`)) : route.produces === "application/json" ? { type: "object" } : { type: "string" };
  return {
    operationId,
    summary: route.summary,
    tags: ["operations"],
    security: [],
    ...(params.length ? { parameters: params.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } })) } : {}),
    responses: { "200": { description: "ok", content: { [route.produces]: { schema } } }, ...(route.url === "/readyz" ? { "503": { description: "not ready", content: { "application/json": { schema } } } } : {}) },
  };
}

/** A participant portal route: a session token, or none for signing in. */
function portalOperation(route: { method: HTTPMethods; url: string; summary: string; body?: z.ZodType; query?: Readonly<Record<string, string>> }, session: boolean, status: number, schemas: Schemas): Json {
  const operationId = operationIdOf(route.method as string, route.url);
  const { params } = pathOf(route.url);
  const parameters = [
    ...params.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } })),
    ...Object.entries(route.query ?? {}).map(([name, description]) => ({ name, in: "query", required: false, description, schema: { type: "string" } })),
  ];
  return {
    operationId,
    summary: route.summary,
    tags: ["portal"],
    security: session ? [{ participantSession: [] }] : [],
    ...(parameters.length ? { parameters } : {}),
    ...(route.body ? { requestBody: { required: true, content: { "application/json": { schema: ref(schemas.add(route.body, `${cap(operationId)}Body`)) } } } } : {}),
    responses: { [String(status)]: { description: "ok: true", content: { "application/json": { schema: ref("AdminReply") } } }, ...failureResponses() },
  };
}

function securitySchemes(): Json {
  return {
    participantSession: { type: "http", scheme: "bearer", description: "A participant's session token from POST /v1/me/session" },
    terminalKey: { type: "http", scheme: "bearer", description: "A store's API key (terminalAuth.keysFile): Authorization: Bearer <key>" },
    terminalKeyHeader: { type: "apiKey", in: "header", name: "X-Api-Key", description: "The same key as X-Api-Key: <key>" },
    operatorToken: { type: "http", scheme: "bearer", description: "adminToken, or an operator's token (admin.operatorsFile); each route needs the role named by x-role" },
  };
}

/** Builds the whole document. Throws when a terminal verb has no reply schema: a bug, caught by the tests. */
export function buildOpenApi(o: OpenApiOptions): Json {
  const schemas = new Schemas();
  for (const [name, s] of Object.entries(SHARED_REPLY_SCHEMAS)) schemas.add(s, name);
  schemas.add(customerRef, "CustomerRef");
  schemas.add(saleEvent, "SaleEvent");
  schemas.add(posEvent, "PosEvent");
  schemas.add(filterSchema, "SegmentFilter");
  schemas.add(z.looseObject({ ok: z.literal(true) }), "AdminReply");
  schemas.add(z.object({ ok: z.literal(true), status: z.literal("pending"), approvalId: z.string(), expiresAt: z.number().int() }), "Pending");
  const paths: Record<string, Json> = {};
  const terminalSecurity = o.terminalAuth ? [{ terminalKey: [] }, { terminalKeyHeader: [] }] : [];
  for (const verb of TERMINAL_VERBS) {
    const reply = REPLY_SCHEMAS[verb as ReplyVerb];
    if (!reply) throw new Error(`openapi: the terminal verb ${verb} has no reply schema in codec/replies.ts`);
    const requestName = schemas.add(VERB_SCHEMAS[verb as keyof typeof VERB_SCHEMAS], `${cap(verb)}Request`);
    paths[`/v1/${verb}`] = { post: terminalOperation(verb, schemas.add(reply, `${cap(verb)}Reply`), requestName, terminalSecurity) };
  }
  const fills = new Map<string, string[]>();
  for (const route of o.adminRoutes) {
    const op = adminOperation(route, schemas, fills);
    if (o.adminApart) op["x-listener"] = "admin";
    const { path } = pathOf(route.url);
    paths[path] = { ...paths[path], [(route.method as string).toLowerCase()]: op };
  }
  for (const route of OPERATIONS_ROUTES) paths[pathOf(route.url).path] = { get: operationsOperation(route, schemas) };
  if (o.portal) {
    const portalOps = [...SIGN_IN_ROUTES.map((r) => ({ r, session: r.session, status: r.status })), ...o.portal.map((r) => ({ r, session: true, status: 200 }))];
    for (const { r, session, status } of portalOps) {
      const { path } = pathOf(r.url);
      paths[path] = { ...paths[path], [(r.method as string).toLowerCase()]: portalOperation(r, session, status, schemas) };
    }
    for (const route of PORTAL_PAGE_ROUTES) paths[pathOf(route.url).path] = { get: operationsOperation(route, schemas) };
  }
  const components = schemas.build();
  // A body field the path or the credential fills in may be left out of the body.
  for (const [name, fields] of fills) {
    const s = components[name];
    if (s && Array.isArray(s.required)) s.required = (s.required as string[]).filter((f) => !fields.includes(f));
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "loyaltyd",
      version: o.version,
      description:
        "The HTTP side of the loyaltyd wire contract (docs/protocol.md). Every terminal verb is also NATS request/reply on loyalty.rpc.<verb>, " +
        "JSON or MessagePack, with the same request and reply schemas. Every failure is the Failure envelope with a stable error.code. " +
        "Replies may gain fields: ignore the ones you do not know." +
        (o.adminApart ? " The admin operations (x-listener: admin) are served on the admin listener (admin.port), not on this one." : ""),
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    tags: [
      { name: "terminal", description: "POST /v1/<verb> = NATS loyalty.rpc.<verb>" },
      { name: "admin", description: "Operator routes: bearer token with the role in x-role; every action is audited" },
      { name: "operations", description: "Metrics, health and readiness; no credential" },
      { name: "portal", description: "The participant portal: sign in with a one-time code, then a session token (participantSession) acts for that customer only" },
    ],
    paths,
    components: { schemas: components, securitySchemes: securitySchemes() },
  };
}
