// The admin routes' replies in GET /openapi.json: every route that names its reply
// (admin-routes.ts, admin-replies.ts) is called for real and its reply conforms to the
// document's schema, closed (a field the document leaves out fails), and each such
// schema refuses a reply that lacks a field or adds one. Real nats-server, LMDB, HTTP.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newToken } from "../../src/config/credentials.js";
import { adminRoutes, type AdminDeps } from "../../src/ingest/http/admin-routes.js";
import { docValidator, type DocValidator } from "../openapi-validator.js";
import { send, startTestEnv, tempDir, type TestEnv } from "./harness.js";

type Json = Record<string, any>;
const openApiPath = (url: string) => url.replace(/:([A-Za-z]+)/g, "{$1}");
const refName = (schema: Json | undefined) => String(schema?.$ref ?? "").replace("#/components/schemas/", "");

describe("the OpenAPI document's admin replies", () => {
  let t: TestEnv;
  let doc: Json;
  let check: DocValidator;
  // An operator with every role: approvals (admin.approvalAbove) need named operators.
  const anna = newToken();
  const auth = { authorization: `Bearer ${anna.token}` };
  let operatorsDir: string | undefined;
  /** "METHOD url" of every route whose real reply was checked. */
  const checked = new Set<string>();

  beforeAll(async () => {
    operatorsDir = tempDir("loyaltyd-openapi-admin-");
    const operatorsFile = join(operatorsDir, "operators.json");
    writeFileSync(operatorsFile, JSON.stringify({ operators: [{ name: "anna", tokenSha256: anna.sha256, roles: ["read", "write", "money"] }] }));
    t = await startTestEnv({ "admin.operatorsFile": operatorsFile, "admin.approvalAbove": 100, "rateLimits.enabled": false });
    doc = (await (await fetch(`${t.http}/openapi.json`)).json()) as Json;
    check = docValidator(doc);
  });
  afterAll(async () => {
    await t?.stop();
    if (operatorsDir) rmSync(operatorsDir, { recursive: true, force: true });
  });

  /** Calls an admin route; its reply must conform, closed, to the document's schema for the status it answered. */
  async function call(method: string, url: string, path: string, body?: unknown): Promise<Json> {
    const op = doc.paths[openApiPath(url)]?.[method.toLowerCase()];
    expect(op, `${method} ${url}`).toBeDefined();
    const res = await send(t, method, path, body, auth);
    const response = op.responses[String(res.status)];
    expect(response, `${method} ${path} answered ${res.status}: ${JSON.stringify(res.body)}`).toBeDefined();
    const schema = refName(response.content["application/json"].schema);
    expect(check.errors(schema, res.body), `${method} ${path} -> ${schema}: ${JSON.stringify(res.body)}`).toBeNull();
    if (res.status === 200) {
      expect(res.body.ok, JSON.stringify(res.body)).toBe(true);
      checked.add(`${method} ${url}`);
      // Closed and complete: an unknown field fails, and so does a missing one.
      expect(check.errors(schema, { ...res.body, surprise: 1 }), `${schema} takes an unknown field`).not.toBeNull();
      const { ok: _ok, ...rest } = res.body;
      expect(check.errors(schema, rest), `${schema} takes a reply without ok`).not.toBeNull();
    }
    return res.body;
  }

  it("answers every admin route that names its reply with a reply that schema describes", async () => {
    const programme = { id: "oa-prog", name: "OA", currency: "EUR", scope: {}, rules: [{ kind: "spend", per: 100, points: 1 }] };
    await call("PUT", "/v1/admin/programmes/:id", "/v1/admin/programmes/oa-prog", programme);
    const list = await call("GET", "/v1/admin/programmes", "/v1/admin/programmes");
    expect(list.programmes.map((p: Json) => p.id)).toContain("oa-prog");
    await call("GET", "/v1/admin/programmes/:id", "/v1/admin/programmes/oa-prog");
    await call("DELETE", "/v1/admin/programmes/:id", "/v1/admin/programmes/oa-prog");

    await call("PUT", "/v1/admin/products/:sku", "/v1/admin/products/OA-1", { name: "Paint", category: "paint", pointsPerUnit: 3, listPrice: 1500, active: true });
    await call("GET", "/v1/admin/products", "/v1/admin/products");
    await call("DELETE", "/v1/admin/products/:sku", "/v1/admin/products/OA-1");

    const day = 86_400_000;
    await call("PUT", "/v1/admin/rewards/:id", "/v1/admin/rewards/MUG", { name: "Mug", pointsPrice: 50, stock: 3, seasonalPrices: [{ from: Date.now() - day, to: Date.now() + day, pointsPrice: 40 }] });
    expect((await call("GET", "/v1/admin/rewards/:id", "/v1/admin/rewards/MUG")).reward.priceNow).toBe(40);
    await call("GET", "/v1/admin/rewards", "/v1/admin/rewards");
    await call("DELETE", "/v1/admin/rewards/:id", "/v1/admin/rewards/MUG");

    await call("PUT", "/v1/admin/voucher-offers/:id", "/v1/admin/voucher-offers/TEN", { name: "1 EUR off", kind: "amount", value: 100, currency: "EUR", pointsCost: 5, validDays: 30 });
    await call("PUT", "/v1/admin/voucher-offers/:id", "/v1/admin/voucher-offers/PCT", { name: "10 % off paint", kind: "percent", percent: 10, category: "paint", pointsCost: 5, validDays: 30 });
    expect((await call("GET", "/v1/admin/voucher-offers", "/v1/admin/voucher-offers")).offers).toHaveLength(2);
    await call("GET", "/v1/admin/voucher-offers/:id", "/v1/admin/voucher-offers/PCT");
    await call("DELETE", "/v1/admin/voucher-offers/:id", "/v1/admin/voucher-offers/PCT");

    await call("PUT", "/v1/admin/segments/:id", "/v1/admin/segments/rich", { name: "Rich", filter: { balance: { gte: 50 } } });
    await call("GET", "/v1/admin/segments/:id", "/v1/admin/segments/rich");
    await call("GET", "/v1/admin/segments", "/v1/admin/segments");
    await call("DELETE", "/v1/admin/segments/:id", "/v1/admin/segments/rich");

    // An adjustment above admin.approvalAbove waits (202, Pending); the list shows it; a rejection closes it.
    await t.rpc("enroll", { requestId: "oa-enr", card: "C-OA-ADM" });
    const pending = await call("POST", "/v1/admin/adjustments", "/v1/admin/adjustments", { requestId: "oa-adj", customer: { card: "C-OA-ADM" }, amount: 500, reason: "goodwill" });
    expect(pending.status).toBe("pending");
    expect((await call("GET", "/v1/admin/approvals", "/v1/admin/approvals")).approvals).toHaveLength(1);
    await call("POST", "/v1/admin/approvals/:id/reject", `/v1/admin/approvals/${pending.approvalId}/reject`);

    // Every route that names its reply was called and checked here.
    const named = adminRoutes({} as AdminDeps).filter((r) => r.reply).map((r) => `${r.method} ${r.url}`);
    expect(named.length).toBeGreaterThanOrEqual(20);
    expect(named.filter((r) => !checked.has(r))).toEqual([]);
  });

  it("names each described reply in the document, field by field", () => {
    for (const route of adminRoutes({} as AdminDeps)) {
      if (!route.reply) continue;
      const op = doc.paths[openApiPath(route.url)][route.method.toString().toLowerCase()];
      const schema = doc.components.schemas[refName(op.responses["200"].content["application/json"].schema)];
      expect(refName(op.responses["200"].content["application/json"].schema), route.url).toBe(route.reply);
      expect(schema.properties?.ok, route.url).toEqual({ type: "boolean", const: true });
      expect(schema.additionalProperties, `${route.url}: a loose reply`).not.toEqual({});
    }
  });
});
