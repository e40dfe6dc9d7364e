// GET /openapi.json describes every HTTP route the engine registers (method, path,
// request schema, auth), and every terminal route's real reply conforms to the document's
// schema, closed: a reply field the document does not name fails. Real nats-server, real
// LMDB, real HTTP; ajv reads the document as an integrator's tooling would.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { VERB_SCHEMAS } from "../../src/codec/schema.js";
import { newToken } from "../../src/config/credentials.js";
import { ERROR_CODES } from "../../src/errors.js";
import { SIGN_IN_ROUTES } from "../../src/ingest/http/me.js";
import { adminRoutes, type AdminDeps } from "../../src/ingest/http/admin-routes.js";
import { TERMINAL_VERBS, VERB_TABLE } from "../../src/verbs.js";
import { docValidator, type DocValidator } from "../openapi-validator.js";
import { ADMIN_TOKEN, BASE_PROGRAMME, line, sale, startTestEnv, tempDir, type TestEnv } from "./harness.js";

type Json = Record<string, any>;

/** ":id" -> "{id}", as OpenAPI writes a path. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z]+)/g, "{$1}");
const refName = (schema: Json | undefined) => String(schema?.$ref ?? "").replace("#/components/schemas/", "");

const PREPAID = { id: "prepaid", name: "Prepaid", account: "prepaid", unit: "money", currency: "EUR", scope: { stores: ["none"] }, rules: [{ kind: "spend", per: 100, points: 1 }], redemption: { pointValue: 1, currency: "EUR" } };

describe("the OpenAPI document", () => {
  const key = newToken();
  let t: TestEnv;
  let doc: Json;
  let check: DocValidator;
  const auth = { "x-api-key": key.token };
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  beforeAll(async () => {
    const dir = tempDir("loyaltyd-openapi-");
    const keysFile = join(dir, "keys.yaml");
    writeFileSync(keysFile, `keys:\n  - id: s01-tills\n    store: s01\n    keySha256: ${key.sha256}\n`);
    t = await startTestEnv({ "terminalAuth.keysFile": keysFile, "rateLimits.enabled": false }, [BASE_PROGRAMME, PREPAID]);
    const res = await fetch(`${t.http}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    doc = (await res.json()) as Json;
    check = docValidator(doc);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("is OpenAPI 3.1 with every error code in its failure envelope", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.components.schemas.ErrorCode.enum.sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const code of Object.keys(ERROR_CODES)) {
      expect(check.errors("Failure", { ok: false, error: { code, message: "m" } })).toBeNull();
    }
    expect(check.errors("Failure", { ok: false, error: { code: "NO_SUCH_CODE", message: "m" } })).not.toBeNull();
    // Every schema compiles, every reference resolves.
    for (const name of Object.keys(doc.components.schemas)) expect(() => check.errors(name, null), name).not.toThrow();
    // Every operation names an operationId once, and every $ref points into components.
    const ids = Object.values(doc.paths as Json).flatMap((ops) => Object.values(ops as Json).map((op) => (op as Json).operationId));
    expect(new Set(ids).size).toBe(ids.length);
    for (const [, name] of JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) expect(doc.components.schemas[name!], name).toBeDefined();
  });

  it("describes every route the engine registers: method, path, request schema and auth", () => {
    const registered = t.engine.httpRoutes.main;
    expect(registered.length).toBeGreaterThan(10);
    const table = adminRoutes({} as AdminDeps);
    for (const r of registered) {
      if (r.url === "/v1/:verb") {
        expect(r.method).toBe("POST");
        for (const verb of TERMINAL_VERBS) {
          const op = doc.paths[`/v1/${verb}`]?.post;
          expect(op, verb).toBeDefined();
          // A store's API key is required here: terminalAuth is configured.
          expect(op.security).toEqual([{ terminalKey: [] }, { terminalKeyHeader: [] }]);
          const request = refName(op.requestBody.content["application/json"].schema);
          expect(doc.components.schemas[request], verb).toBeDefined();
          const idempotency = VERB_TABLE[verb].idempotency;
          expect(op["x-idempotency-key"]).toBe(idempotency === "event" ? "eventId" : idempotency === "request" ? "requestId" : null);
          // The document's request schema is the codec's: its required fields are the schema's.
          const shape = (VERB_SCHEMAS[verb as keyof typeof VERB_SCHEMAS] as unknown as { shape?: Record<string, { isOptional(): boolean }> }).shape;
          if (shape) {
            const required = Object.entries(shape).filter(([, s]) => !s.isOptional()).map(([k]) => k).sort();
            expect([...(doc.components.schemas[request].required ?? [])].sort(), verb).toEqual(required);
          }
        }
        continue;
      }
      const op = doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.url}`).toBeDefined();
      const route = table.find((x) => x.method === r.method && x.url === r.url);
      if (route) {
        expect(op.security).toEqual([{ operatorToken: [] }]);
        expect(op["x-role"]).toBe(route.role);
        expect(op.summary).toBe(route.summary);
        expect(op.requestBody !== undefined, `${r.method} ${r.url} body`).toBe(route.body !== undefined);
        if (route.body !== undefined && typeof route.body !== "string") {
          // The body's schema is the one the route parses with: the same fields, the same required ones (less what the path fills).
          const own = z.toJSONSchema(route.body, { io: "input", unrepresentable: "any" }) as Json;
          const documented = doc.components.schemas[refName(op.requestBody.content["application/json"].schema)];
          const fills = (route.pathFills ?? "").split(",");
          if (own.properties) {
            expect(Object.keys(documented.properties).sort(), r.url).toEqual(Object.keys(own.properties).sort());
            expect([...(documented.required ?? [])].sort(), r.url).toEqual((own.required ?? []).filter((f: string) => !fills.includes(f)).sort());
          } else {
            expect((documented.anyOf ?? documented.oneOf)?.length, r.url).toBe((own.anyOf ?? own.oneOf)?.length);
          }
        }
      } else if (r.url.startsWith("/v1/me")) {
        // The portal: a session token, but for signing in.
        const signIn = SIGN_IN_ROUTES.find((x) => x.method === r.method && x.url === r.url);
        expect(op.security, `${r.method} ${r.url}`).toEqual(signIn && !signIn.session ? [] : [{ participantSession: [] }]);
        expect(op.tags).toEqual(["portal"]);
      } else {
        expect(op.security, `${r.method} ${r.url}`).toEqual([]);
      }
    }
    // And nothing is documented that is not served.
    const served = new Set(registered.flatMap((r) => (r.url === "/v1/:verb" ? TERMINAL_VERBS.map((v) => `POST /v1/${v}`) : [`${r.method} ${openApiPath(r.url)}`])));
    for (const [path, ops] of Object.entries(doc.paths as Json)) for (const m of Object.keys(ops)) expect(served.has(`${m.toUpperCase()} ${path}`), `${m} ${path}`).toBe(true);
  });

  /** Sends a real request; checks the reply against the document's reply schema for its status. */
  async function send(verb: string, body: unknown, headers: Record<string, string> = auth, valid = true): Promise<Json> {
    const op = doc.paths[`/v1/${verb}`].post;
    const requestErrors = check.errors(refName(op.requestBody.content["application/json"].schema), body, false);
    // The document's request schema accepts what the engine accepts, and refuses what it refuses.
    if (valid) expect(requestErrors, `${verb} request`).toBeNull();
    else expect(requestErrors, `${verb} request`).not.toBeNull();
    const { status, body: reply } = await t.post(`/v1/${verb}`, body, headers);
    const response = op.responses[String(status)];
    expect(response, `${verb} answered ${status}`).toBeDefined();
    expect(check.errors(refName(response.content["application/json"].schema), reply), `${verb} reply ${JSON.stringify(reply)}`).toBeNull();
    return reply;
  }

  it("answers every terminal route with a reply its schema describes", async () => {
    const seen = new Set<string>();
    const ok = async (verb: string, body: unknown) => {
      const reply = await send(verb, body);
      expect(reply.ok, `${verb}: ${JSON.stringify(reply)}`).toBe(true);
      seen.add(verb);
      return reply;
    };
    await fetch(`${t.http}/v1/admin/rewards/MUG`, { method: "PUT", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ name: "Mug", pointsPrice: 5, stock: 10 }) });
    await fetch(`${t.http}/v1/admin/voucher-offers/TEN`, { method: "PUT", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ name: "1 EUR off", kind: "amount", value: 100, currency: "EUR", pointsCost: 5, validDays: 30 }) });

    const customer = { card: "C-OA" };
    await ok("enroll", { requestId: "oa-enr", card: "C-OA", profile: { name: "Ada", phone: "+48601999001", email: "ada@example.com", consents: { email: true } } });
    expect((await ok("enroll", { requestId: "oa-enr", card: "C-OA", profile: { name: "Ada", phone: "+48601999001", email: "ada@example.com", consents: { email: true } } })).duplicate).toBe(true);
    await ok("accrue", sale("oa-s1", customer, [line("1", 2, 2500), line("2", 1, 1000)], { tenders: [{ type: "card", amount: 6000 }], at: Date.now() }));
    await ok("accrue", { type: "return", eventId: "oa-r1", originalEventId: "oa-s1", at: Date.now(), storeId: "s01", lines: [{ lineId: "2", qty: 1 }] });
    await ok("quote", sale("oa-q1", customer, [line("1", 1, 900)], { at: Date.now() }));
    const balance = await ok("balance", { customer });
    // Closed: a field the document does not name fails, at the top and deeper down.
    expect(check.errors("BalanceReply", { ...balance, surprise: 1 })).not.toBeNull();
    expect(check.errors("BalanceReply", { ...balance, accounts: [{ ...balance.accounts[0], surprise: 1 }] })).not.toBeNull();
    await ok("customer", { customer });
    await ok("updateCustomer", { requestId: "oa-upd", customer, profile: { language: "pl" }, consents: { sms: true }, groups: { add: ["VIP"] }, attributes: { size: 38 } });
    await ok("statement", { customer });
    const hold = await ok("authorize", { requestId: "oa-a1", customer, amount: 5 });
    expect(hold.approved).toBe(true);
    await ok("capture", { requestId: "oa-c1", holdId: hold.holdId });
    const denied = await ok("authorize", { requestId: "oa-a2", customer, amount: 1_000_000 });
    expect(denied.approved).toBe(false);
    const hold2 = await ok("authorize", { requestId: "oa-a3", customer, value: 3, currency: "EUR" });
    await ok("release", { requestId: "oa-rl1", holdId: hold2.holdId });
    await ok("convert", { requestId: "oa-cv1", customer, amount: 2 });
    await ok("redeemReward", { requestId: "oa-rr1", customer, rewardId: "MUG" });
    await ok("redeemReward", { requestId: "oa-rr2", customer, rewardId: "MUG", qty: 11 }); // OUT_OF_STOCK: a denial
    const bought = await ok("buyVoucher", { requestId: "oa-bv1", customer, offerId: "TEN" });
    await ok("redeemVoucher", { requestId: "oa-rv1", code: bought.voucher.code, eventId: "oa-s1" });
    await ok("vouchers", { customer });
    // A distributor: its customer reply names the company, its statement its reports.
    const distributor = { customerId: (await ok("enroll", { requestId: "oa-enr-d", kind: "distributor", company: { name: "Farby", taxId: "PL1" }, users: ["anna"] })).customerId };
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    await ok("submitReport", { requestId: "oa-rep", customer: distributor, reportId: "R-OA", user: "anna", lines: [{ invoice: "F-1", date: yesterday, sku: "PAINT", qty: 2, amount: 3000 }] });
    await ok("targets", { customer: distributor });
    expect((await ok("customer", { customer: distributor })).kind).toBe("distributor");
    expect((await ok("statement", { customer: distributor })).reports).toHaveLength(1);
    expect([...seen].sort()).toEqual([...TERMINAL_VERBS].sort());

    // Failures: the envelope, at the status the code maps to.
    expect((await send("balance", { customer: { card: "C-NOBODY" } })).error.code).toBe("UNKNOWN_CUSTOMER");
    expect((await send("authorize", { requestId: "oa-a4", customer, amount: 0 }, auth, false)).error.code).toBe("VALIDATION");
    expect((await send("balance", { customer }, {})).error.code).toBe("UNAUTHORIZED");
    expect((await send("accrue", { ...sale("oa-s2", customer, [line("1", 1, 100)]), colour: "red" }, auth, false)).error.field).toBe("colour");
  });

  it("is served by the admin listener too, the same document, when the admin API has its own port", async () => {
    const apart = await startTestEnv({ "admin.port": 0 });
    try {
      const main = (await (await fetch(`${apart.http}/openapi.json`)).json()) as Json;
      const own = (await (await fetch(`http://127.0.0.1:${apart.engine.adminPort}/openapi.json`)).json()) as Json;
      expect(own).toEqual(main);
      expect(main.paths["/v1/admin/programmes"].get["x-listener"]).toBe("admin");
      // Terminal routes are open without terminalAuth.
      expect(main.paths["/v1/balance"].post.security).toEqual([]);
      for (const r of apart.engine.httpRoutes.admin) expect(main.paths[openApiPath(r.url)]?.[r.method.toLowerCase()], `${r.method} ${r.url}`).toBeDefined();
      // The main listener's refusal of admin paths is no operation of its own.
      expect(apart.engine.httpRoutes.main.filter((r) => r.url.startsWith("/v1/admin")).map((r) => r.url)).toEqual(expect.arrayContaining(["/v1/admin/*"]));
    } finally {
      await apart.stop();
    }
  });
});
