// The admin routes the operator console was given: operators read one customer on the admin
// API (POST /v1/admin/lookup/<verb>, role read), the same replies a store's terminal gets,
// where the terminal routes refuse an operator token (terminalAuth) and on the admin
// listener (admin.port); and a programme draft is checked without being installed
// (POST /v1/admin/programmes/<id>/check). Real nats-server, real LMDB.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newToken } from "../../src/config/credentials.js";
import { sale, startTestEnv, tempDir, type TestEnv } from "./harness.js";

const ops = { rita: newToken(), walt: newToken() };
const DRAFT = { name: "Draft", account: "points", currency: "EUR", rules: [{ kind: "spend", per: 100, points: 1 }] };
const till = newToken();
const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

async function post(base: string, path: string, body: unknown, headers: Record<string, string>) {
  const res = await fetch(base + path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe("POST /v1/admin/lookup/<verb>", () => {
  let t: TestEnv;
  let admin: string;
  beforeAll(async () => {
    const dir = tempDir("loyaltyd-lookup-");
    const keysFile = join(dir, "keys.json");
    writeFileSync(keysFile, JSON.stringify({ keys: [{ id: "s01-tills", store: "s01", keySha256: till.sha256 }] }));
    const operatorsFile = join(dir, "operators.json");
    writeFileSync(operatorsFile, JSON.stringify({ operators: [{ name: "rita", tokenSha256: ops.rita.sha256, roles: ["read"] }, { name: "walt", tokenSha256: ops.walt.sha256, roles: ["write"] }] }));
    t = await startTestEnv({ "terminalAuth.keysFile": keysFile, "admin.port": 0, "admin.operatorsFile": operatorsFile });
    admin = `http://127.0.0.1:${t.engine.adminPort}`;
    expect((await t.rpc("enroll", { requestId: "e-1", card: "C-1", profile: { name: "Ada" } })).ok).toBe(true);
    expect((await t.rpc("accrue", sale("s-1", { card: "C-1" }, [{ lineId: "1", sku: "A", qty: 2, unitPrice: 1500, category: "x" }]))).ok).toBe(true);
  });
  afterAll(async () => t?.stop());

  it("answers an operator with the read role as the terminal verb answers the store's till", async () => {
    const bodies = {
      customer: { customer: { card: "C-1" } },
      balance: { customer: { card: "C-1" } },
      statement: { customer: { card: "C-1" }, limit: 10 },
      vouchers: { customer: { card: "C-1" } },
      quote: sale("q-1", { card: "C-1" }, [{ lineId: "1", sku: "A", qty: 1, unitPrice: 1000, category: "x" }]),
    };
    for (const [verb, body] of Object.entries(bodies)) {
      const byOperator = await post(admin, `/v1/admin/lookup/${verb}`, body, bearer(ops.rita.token));
      const byTill = await post(t.http, `/v1/${verb}`, body, bearer(till.token));
      expect(byOperator.status, verb).toBe(200);
      expect(byOperator.body, verb).toEqual(byTill.body);
    }
    // The operator's token is still refused on the terminal route.
    expect((await post(t.http, "/v1/balance", bodies.balance, bearer(ops.rita.token))).body.error.code).toBe("FORBIDDEN");
  });

  it("refuses an operator without the read role, a till's key, and a bad body with the codec's error", async () => {
    const body = { customer: { card: "C-1" } };
    const walt = await post(admin, "/v1/admin/lookup/balance", body, bearer(ops.walt.token));
    expect(walt).toMatchObject({ status: 403, body: { ok: false, error: { code: "FORBIDDEN", message: "walt lacks the read role" } } });
    expect((await post(admin, "/v1/admin/lookup/balance", body, bearer(till.token))).body.error.code).toBe("FORBIDDEN");
    const bad = await post(admin, "/v1/admin/lookup/balance", { customer: { card: "" } }, bearer(ops.rita.token));
    expect(bad).toMatchObject({ status: 422, body: { ok: false, error: { code: "VALIDATION" } } });
    const unknown = await post(admin, "/v1/admin/lookup/customer", { customer: { card: "NOPE" } }, bearer(ops.rita.token));
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: "UNKNOWN_CUSTOMER" } } });
  });

  it("records each lookup in the audit trail with its operator", async () => {
    const res = await fetch(`${admin}/v1/admin/audit?limit=1000`, { headers: bearer(ops.rita.token) });
    const entries = ((await res.json()) as { records: Record<string, any>[] }).records;
    const lookups = entries.filter((e) => String(e.route).startsWith("/v1/admin/lookup/"));
    expect(lookups.length).toBeGreaterThanOrEqual(5);
    expect(lookups.find((e) => e.route === "/v1/admin/lookup/balance" && e.operator === "rita")).toMatchObject({ role: "read", outcome: "ok", status: 200 });
  });

  it("checks a programme draft with PUT's schema and messages, and installs nothing", async () => {
    const good = await post(admin, "/v1/admin/programmes/draft/check", DRAFT, bearer(ops.rita.token));
    expect(good).toMatchObject({ status: 200, body: { ok: true, id: "draft", programme: { id: "draft", name: "Draft", rounding: "floor" } } });
    const bad = { ...DRAFT, rules: [{ kind: "spend", per: -5, points: 1 }] };
    const checked = await post(admin, "/v1/admin/programmes/draft/check", bad, bearer(ops.rita.token));
    expect(checked).toMatchObject({ status: 422, body: { ok: false, error: { code: "VALIDATION", field: "rules[0].per" } } });
    expect((await post(admin, "/v1/admin/programmes/draft/check", { ...DRAFT, id: "other" }, bearer(ops.rita.token))).body.error).toMatchObject({ code: "VALIDATION", field: "id" });
    const listed = await fetch(`${admin}/v1/admin/programmes`, { headers: bearer(ops.rita.token) });
    expect(((await listed.json()) as { programmes: { id: string }[] }).programmes.map((p) => p.id)).not.toContain("draft");
  });

  it("finds customers by e-mail, case ignored, several when they share it", async () => {
    const a = await t.rpc("enroll", { requestId: "e-m1", profile: { name: "Jan", email: "Family@Example.com" } });
    const b = await t.rpc("enroll", { requestId: "e-m2", profile: { name: "Ewa", email: "family@example.com" } });
    await t.rpc("enroll", { requestId: "e-m3", profile: { email: "other@example.com" } });
    const get = async (query: string) => {
      const res = await fetch(`${admin}/v1/admin/customers/by-email?${query}`, { headers: bearer(ops.rita.token) });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    const found = await get("email=FAMILY%40example.com");
    expect(found.status).toBe(200);
    expect(found.body.customers).toEqual([
      { customerId: a.customerId, name: "Jan", email: "Family@Example.com" },
      { customerId: b.customerId, name: "Ewa", email: "family@example.com" },
    ].sort((x, y) => x.customerId.localeCompare(y.customerId)));
    expect((await get("email=FAMILY%40example.com&limit=1")).body.customers).toHaveLength(1);
    expect((await get("email=nobody%40example.com")).body.customers).toEqual([]);
    expect((await get("email=")).body.error).toMatchObject({ code: "VALIDATION", field: "email" });
    const walt = await fetch(`${admin}/v1/admin/customers/by-email?email=x`, { headers: bearer(ops.walt.token) });
    expect(walt.status).toBe(403);
  });
});
