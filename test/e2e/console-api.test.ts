// The admin routes the operator console was given: operators read one customer on the admin
// API (POST /v1/admin/lookup/<verb>, role read), the same replies a store's terminal gets,
// where the terminal routes refuse an operator token (terminalAuth) and on the admin
// listener (admin.port); and a programme draft is checked without being installed
// (POST /v1/admin/programmes/<id>/check). Real nats-server, real LMDB.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newToken } from "../../src/config/credentials.js";
import { BASE_PROGRAMME } from "../fixtures.js";
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
      targets: { customer: { card: "C-1" } },
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

  it("lists a customer's open holds, soonest expiry first, without the closed ones", async () => {
    const customerId = (await t.rpc("customer", { customer: { card: "C-1" } })).customerId as string;
    const long = await t.rpc("authorize", { requestId: "h-long", customer: { card: "C-1" }, amount: 5, ttlMs: 600_000 });
    const short = await t.rpc("authorize", { requestId: "h-short", customer: { card: "C-1" }, amount: 3, ttlMs: 60_000 });
    const closed = await t.rpc("authorize", { requestId: "h-closed", customer: { card: "C-1" }, amount: 2 });
    expect([long.approved, short.approved, closed.approved]).toEqual([true, true, true]);
    expect((await t.rpc("release", { requestId: "rel-1", holdId: closed.holdId })).ok).toBe(true);
    const res = await fetch(`${admin}/v1/admin/customers/${customerId}/holds`, { headers: bearer(ops.rita.token) });
    const body = (await res.json()) as { holds: { holdId: string; amount: number; status: string; account: string }[] };
    expect(body.holds.map((h) => [h.holdId, h.amount, h.status, h.account])).toEqual([[short.holdId, 3, "open", "points"], [long.holdId, 5, "open", "points"]]);
    // The balance's held total is made of them.
    const points = ((await t.rpc("balance", { customer: { card: "C-1" } })).accounts as { account: string; held: number }[]).find((a) => a.account === "points")!;
    expect(points.held).toBe(8);
    const nobody = await fetch(`${admin}/v1/admin/customers/cu_999999/holds`, { headers: bearer(ops.rita.token) });
    expect(nobody.status).toBe(404);
    for (const h of [long, short]) expect((await t.rpc("release", { requestId: `rel-${h.holdId}`, holdId: h.holdId })).ok).toBe(true);
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

describe("POST /v1/admin/programmes/<id>/preview", () => {
  let t: TestEnv;
  const admin = () => t.http;
  const token = newToken();
  const basket = sale("q-9", { card: "C-7" }, [{ lineId: "1", sku: "A", qty: 2, unitPrice: 1500, category: "drinks" }]);
  const quoteNow = async () => (await post(admin(), "/v1/admin/lookup/quote", basket, bearer(token.token))).body;
  beforeAll(async () => {
    const dir = tempDir("loyaltyd-preview-");
    const operatorsFile = join(dir, "operators.json");
    writeFileSync(operatorsFile, JSON.stringify({ operators: [{ name: "olga", tokenSha256: token.sha256, roles: ["read", "write"] }] }));
    t = await startTestEnv({ "admin.operatorsFile": operatorsFile });
    expect((await t.rpc("enroll", { requestId: "e-7", card: "C-7", groups: ["VIP"] })).ok).toBe(true);
  });
  afterAll(async () => t?.stop());

  it("quotes under the draft as if installed, installs nothing, and says so; installing it then quotes the same", async () => {
    const before = await quoteNow();
    expect(before).toMatchObject({ ok: true, earned: 30 });
    const draft = { ...BASE_PROGRAMME, rules: [{ kind: "spend", per: 50, points: 1 }, { kind: "multiplier", groups: ["VIP"], factor: 2 }] };
    const preview = await post(admin(), "/v1/admin/programmes/base/preview", { programme: draft, sale: basket }, bearer(token.token));
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ ok: true, earned: 120, draft: { id: "base", version: 2 } });
    // Nothing installed: the quote and the programme are as before.
    expect(await quoteNow()).toEqual(before);
    const listed = (await (await fetch(`${admin()}/v1/admin/programmes`, { headers: bearer(token.token) })).json()) as { programmes: { id: string; version: number }[] };
    expect(listed.programmes).toEqual([expect.objectContaining({ id: "base", version: 1 })]);
    // Installed, the engine's own quote is the preview's, figure for figure.
    const put = await fetch(`${admin()}/v1/admin/programmes/base`, { method: "PUT", headers: { "content-type": "application/json", ...bearer(token.token) }, body: JSON.stringify(draft) });
    expect(put.status).toBe(200);
    const { draft: _, ...previewed } = preview.body;
    expect(await quoteNow()).toEqual(previewed);
    // Both versions stay in the history, newest first.
    const history = (await (await fetch(`${admin()}/v1/admin/programmes/base/versions`, { headers: bearer(token.token) })).json()) as { versions: { version: number; programme: { rules: { per?: number }[] } }[] };
    expect(history.versions.map((v) => [v.version, v.programme.rules[0]!.per])).toEqual([[2, 50], [1, 100]]);
    const none = await fetch(`${admin()}/v1/admin/programmes/never/versions`, { headers: bearer(token.token) });
    expect(none.status).toBe(422);
  });

  it("adds a draft with a new id beside the installed programmes", async () => {
    const bonus = { id: "bonus", name: "Bonus", account: "drinks", currency: "EUR", rules: [{ kind: "category", category: "drinks", per: 100, points: 5 }] };
    const preview = await post(admin(), "/v1/admin/programmes/bonus/preview", { programme: bonus, sale: basket }, bearer(token.token));
    expect(preview.body.draft).toEqual({ id: "bonus", version: 1 });
    const programmes = (preview.body.breakdown as { programme: string; amount: number }[]).map((b) => b.programme);
    expect(new Set(programmes)).toEqual(new Set(["base", "bonus"]));
    expect((preview.body.breakdown as { programme: string; amount: number }[]).filter((b) => b.programme === "bonus").reduce((s, b) => s + b.amount, 0)).toBe(150);
  });

  it("refuses a bad draft with PUT's error, a bad sale with quote's, and a request without credentials", async () => {
    const bad = await post(admin(), "/v1/admin/programmes/base/preview", { programme: { ...BASE_PROGRAMME, rules: [{ kind: "spend", per: -1, points: 1 }] }, sale: basket }, bearer(token.token));
    expect(bad).toMatchObject({ status: 422, body: { error: { code: "VALIDATION", field: "rules[0].per" } } });
    const noSale = await post(admin(), "/v1/admin/programmes/base/preview", { programme: BASE_PROGRAMME, sale: { ...basket, lines: [] } }, bearer(token.token));
    expect(noSale.body.error.code).toBe("VALIDATION");
    const unknown = await post(admin(), "/v1/admin/programmes/base/preview", { programme: BASE_PROGRAMME, sale: { ...basket, customer: { card: "NOBODY" } } }, bearer(token.token));
    expect(unknown.body.error.code).toBe("UNKNOWN_CUSTOMER");
    expect((await post(admin(), "/v1/admin/programmes/base/preview", { programme: BASE_PROGRAMME, sale: basket }, {})).status).toBe(401);
  });
});
