// Terminals and operators authenticate: per-store API keys on the terminal routes, the
// admin API on its own listener with per-operator roles, four-eyes approval of large
// adjustments, the audit trail, rate limits, and the web server's own bounds (content
// type, body size, CORS, timeouts, connection cap). Real nats-server, real LMDB.
import { writeFileSync } from "node:fs";
import { connect as connectTcp, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newToken, sha256Hex } from "../../src/config/credentials.js";
import { ADMIN_TOKEN, line, sale, startTestEnv, tempDir, type TestEnv } from "./harness.js";

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, any>;
}

async function call(base: string, method: string, path: string, opts: { body?: unknown; headers?: Record<string, string>; raw?: string } = {}): Promise<Answer> {
  const hasBody = opts.body !== undefined || opts.raw !== undefined;
  const res = await fetch(base + path, {
    method,
    headers: { ...(hasBody && opts.raw === undefined ? { "content-type": "application/json" } : {}), ...opts.headers },
    ...(hasBody ? { body: opts.raw ?? JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : {} };
}

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

/** A raw socket: what it receives until the server closes it (or `waitMs` passes). */
function rawExchange(port: number, write: (s: Socket) => void, waitMs: number): Promise<{ data: string; closed: boolean; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const s = connectTcp(port, "127.0.0.1");
    let data = "";
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ data, closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    s.on("data", (d) => (data += d.toString()));
    s.on("close", () => finish(true));
    s.on("error", () => finish(true));
    s.on("connect", () => write(s));
  });
}

/** The JSON body of a raw HTTP response. */
function envelopeOf(raw: string): Record<string, any> {
  return JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4));
}

describe("terminals and operators authenticate", () => {
  const keys = { s01: newToken(), s02: newToken(), s08: newToken(), s09: newToken() };
  const ops = { anna: newToken(), bob: newToken(), walt: newToken(), rita: newToken() };
  let t: TestEnv;
  let admin: string;
  const store = (s: keyof typeof keys) => ({ "x-api-key": keys[s].token });
  const as = (o: keyof typeof ops) => bearer(ops[o].token);
  const balanceOf = async (card: string) => (await t.rpc("balance", { customer: { card } })).accounts.find((a: { account: string }) => a.account === "points")?.balance ?? 0;

  beforeAll(async () => {
    const dir = tempDir("loyaltyd-auth-");
    const keysFile = join(dir, "keys.yaml");
    writeFileSync(keysFile, "keys:\n" + Object.entries(keys).map(([s, k]) => `  - id: ${s}-tills\n    store: ${s}\n    keySha256: ${k.sha256}\n`).join(""));
    const operatorsFile = join(dir, "operators.json");
    const roles = { anna: ["read", "money"], bob: ["read", "money"], walt: ["write"], rita: ["read"] };
    writeFileSync(operatorsFile, JSON.stringify({ operators: Object.entries(ops).map(([name, o]) => ({ name, tokenSha256: o.sha256, roles: roles[name as keyof typeof roles] })) }));
    t = await startTestEnv({
      "terminalAuth.keysFile": keysFile,
      "admin.port": 0,
      "admin.operatorsFile": operatorsFile,
      "admin.approvalAbove": 1000,
      "rateLimits.credential.lookupsPerMinute": 60,
      "rateLimits.credential.lookupBurst": 40,
      "rateLimits.credential.enrolmentsPerMinute": 1,
      "rateLimits.credential.enrolmentBurst": 2,
    });
    admin = `http://127.0.0.1:${t.engine.adminPort}`;
    for (const card of ["A-1", "A-2", "A-3"]) await t.rpc("enroll", { requestId: `e-${card}`, card });
  });
  afterAll(async () => t?.stop());

  describe("terminal keys", () => {
    it("refuses a request without a key, or with an unknown one, with UNAUTHORIZED", async () => {
      const none = await call(t.http, "POST", "/v1/balance", { body: { customer: { card: "A-1" } } });
      expect(none.status).toBe(401);
      expect(none.body).toMatchObject({ ok: false, error: { code: "UNAUTHORIZED" } });
      const unknown = await call(t.http, "POST", "/v1/balance", { body: { customer: { card: "A-1" } }, headers: { "x-api-key": newToken().token } });
      expect(unknown.status).toBe(401);
      expect(unknown.body.error.code).toBe("UNAUTHORIZED");
      // The digest in the file is not the key.
      const digest = await call(t.http, "POST", "/v1/balance", { body: { customer: { card: "A-1" } }, headers: bearer(keys.s01.sha256) });
      expect(digest.status).toBe(401);
    });

    it("serves a store's key given as X-Api-Key or as a bearer token", async () => {
      const a = await call(t.http, "POST", "/v1/balance", { body: { customer: { card: "A-1" } }, headers: store("s01") });
      expect(a.status).toBe(200);
      expect(a.body).toMatchObject({ ok: true, customerId: expect.any(String) });
      const b = await call(t.http, "POST", "/v1/balance", { body: { customer: { card: "A-1" } }, headers: bearer(keys.s02.token) });
      expect(b.status).toBe(200);
    });

    it("refuses an operator token on a terminal route with FORBIDDEN", async () => {
      for (const secret of [ops.anna.token, ADMIN_TOKEN]) {
        const r = await call(t.http, "POST", "/v1/balance", { body: { customer: { card: "A-1" } }, headers: bearer(secret) });
        expect(r.status).toBe(403);
        expect(r.body.error.code).toBe("FORBIDDEN");
      }
    });

    it("refuses a key acting for another store with FORBIDDEN naming storeId, and applies nothing", async () => {
      const other = await call(t.http, "POST", "/v1/accrue", { body: sale("x-1", { card: "A-1" }, [line("1", 1, 1000)], { storeId: "s02" }), headers: store("s01") });
      expect(other.status).toBe(403);
      expect(other.body).toMatchObject({ ok: false, error: { code: "FORBIDDEN", field: "storeId" }, eventId: "x-1" });
      const quote = await call(t.http, "POST", "/v1/quote", { body: sale("q-1", { card: "A-1" }, [line("1", 1, 1000)], { storeId: "s02" }), headers: store("s01") });
      expect(quote.status).toBe(403);
      expect(await balanceOf("A-1")).toBe(0);
      const own = await call(t.http, "POST", "/v1/accrue", { body: sale("x-1", { card: "A-1" }, [line("1", 1, 1000)], { storeId: "s01" }), headers: store("s01") });
      expect(own.status).toBe(200);
      expect(own.body).toMatchObject({ ok: true, earned: 10 });
    });

    it("lets a store's key capture or release only the holds that store's key placed", async () => {
      expect((await t.rpc("accrue", sale("h-fund", { card: "A-3" }, [line("1", 1, 10_000)]))).ok).toBe(true);
      const held = await call(t.http, "POST", "/v1/authorize", { body: { requestId: "h-a1", customer: { card: "A-3" }, amount: 20 }, headers: store("s01") });
      expect(held.body).toMatchObject({ ok: true, approved: true });
      const holdId = held.body.holdId as string;
      for (const verb of ["capture", "release"]) {
        const other = await call(t.http, "POST", `/v1/${verb}`, { body: { requestId: `h-${verb}-s02`, holdId }, headers: store("s02") });
        expect(other.status).toBe(403);
        expect(other.body).toMatchObject({ ok: false, error: { code: "FORBIDDEN", field: "holdId" } });
      }
      // A hold placed over NATS (no key) is not any store's to take over HTTP either.
      const natsHold = await t.rpc("authorize", { requestId: "h-a2", customer: { card: "A-3" }, amount: 5 });
      const taken = await call(t.http, "POST", "/v1/capture", { body: { requestId: "h-c-nats", holdId: natsHold.holdId }, headers: store("s01") });
      expect(taken.status).toBe(403);
      const own = await call(t.http, "POST", "/v1/capture", { body: { requestId: "h-c-s01", holdId }, headers: store("s01") });
      expect(own.body).toMatchObject({ ok: true });
      expect(await balanceOf("A-3")).toBe(80);
    });

    it("requires a return or void sent with a key to name its store", async () => {
      const bare = { type: "return", eventId: "x-1-r", originalEventId: "x-1", at: Date.UTC(2026, 0, 6) };
      const without = await call(t.http, "POST", "/v1/accrue", { body: bare, headers: store("s02") });
      expect(without.status).toBe(422);
      expect(without.body.error).toMatchObject({ code: "VALIDATION", field: "storeId" });
      // A return at another store than the sale's is ordinary business.
      const named = await call(t.http, "POST", "/v1/accrue", { body: { ...bare, storeId: "s02" }, headers: store("s02") });
      expect(named.body).toMatchObject({ ok: true, type: "return" });
    });

    it("never gives one store the reply stored under another store's request id or event id", async () => {
      const hold = { requestId: "shared-1", customer: { card: "A-2" }, amount: 1 };
      await t.rpc("accrue", sale("seed-a2", { card: "A-2" }, [line("1", 1, 5000)]));
      const first = await call(t.http, "POST", "/v1/authorize", { body: hold, headers: store("s01") });
      expect(first.body).toMatchObject({ ok: true, approved: true, holdId: expect.any(String) });
      const again = await call(t.http, "POST", "/v1/authorize", { body: hold, headers: store("s01") });
      expect(again.body).toMatchObject({ ok: true, duplicate: true, holdId: first.body.holdId });
      // The same id and body from another store's key, or unscoped over NATS: a conflict, not the reply.
      const other = await call(t.http, "POST", "/v1/authorize", { body: hold, headers: store("s02") });
      expect(other.status).toBe(409);
      expect(other.body).toEqual({ ok: false, error: { code: "IDEMPOTENCY_CONFLICT", message: expect.any(String) }, requestId: "shared-1" });
      expect(JSON.stringify(other.body)).not.toContain(first.body.holdId);
      expect((await t.rpc("authorize", hold)).error.code).toBe("IDEMPOTENCY_CONFLICT");
      // An event id is bound by the sale's storeId, which the key must match.
      const s02sale = sale("x-1", { card: "A-1" }, [line("1", 1, 1000)], { storeId: "s02" });
      const evt = await call(t.http, "POST", "/v1/accrue", { body: s02sale, headers: store("s02") });
      expect(evt.status).toBe(409);
      expect(evt.body.error.code).toBe("IDEMPOTENCY_CONFLICT");
    });

    it("answers the same sale over the stream's transport and over HTTP as one event", async () => {
      const ev = sale("both-1", { card: "A-3" }, [line("1", 1, 700)]);
      const first = await t.rpc("accrue", ev);
      const http = await call(t.http, "POST", "/v1/accrue", { body: ev, headers: store("s01") });
      expect(http.body).toMatchObject({ ok: true, duplicate: true, earned: first.earned });
    });

    it("accepts only application/json bodies (415 otherwise)", async () => {
      const body = JSON.stringify({ customer: { card: "A-1" } });
      for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/jsonx"]) {
        const r = await call(t.http, "POST", "/v1/balance", { raw: body, headers: { ...store("s01"), "content-type": type } });
        expect(r.status, type).toBe(415);
        expect(r.body).toMatchObject({ ok: false, error: { code: "UNSUPPORTED_MEDIA_TYPE" } });
      }
      const none = await fetch(t.http + "/v1/balance", { method: "POST", headers: store("s01"), body: new Blob([body]) });
      expect(none.status).toBe(415);
      const charset = await call(t.http, "POST", "/v1/balance", { raw: body, headers: { ...store("s01"), "content-type": "application/json; charset=utf-8" } });
      expect(charset.status).toBe(200);
    });

    it("refuses a body over 64 KiB with PAYLOAD_TOO_LARGE", async () => {
      const big = { customer: { card: "A-1" }, pad: "x".repeat(70_000) };
      const r = await call(t.http, "POST", "/v1/balance", { body: big, headers: store("s01") });
      expect(r.status).toBe(413);
      expect(r.body).toMatchObject({ ok: false, error: { code: "PAYLOAD_TOO_LARGE" } });
    });

    it("keeps CORS closed: a preflight is refused and no Access-Control header is sent", async () => {
      const pre = await fetch(t.http + "/v1/balance", {
        method: "OPTIONS",
        headers: { origin: "https://evil.example", "access-control-request-method": "POST", "access-control-request-headers": "x-api-key,content-type" },
      });
      expect(pre.status).toBeGreaterThanOrEqual(400);
      expect(((await pre.json()) as { error: { code: string } }).error.code).toBe("BAD_REQUEST");
      const post = await call(t.http, "POST", "/v1/balance", { body: { customer: { card: "A-1" } }, headers: { ...store("s01"), origin: "https://evil.example" } });
      expect(post.status).toBe(200);
      for (const h of [...pre.headers.keys(), ...post.headers.keys()]) expect(h).not.toMatch(/^access-control-/);
    });
  });

  describe("the admin listener", () => {
    it("serves the admin API on admin.port only; the main port refuses it", async () => {
      const main = await call(t.http, "GET", "/v1/admin/programmes", { headers: bearer(ADMIN_TOKEN) });
      expect(main.status).toBe(403);
      expect(main.body.error.code).toBe("FORBIDDEN");
      const own = await call(admin, "GET", "/v1/admin/programmes", { headers: bearer(ADMIN_TOKEN) });
      expect(own.status).toBe(200);
      expect(own.body.programmes).toHaveLength(1);
      const verb = await call(admin, "POST", "/v1/balance", { body: { customer: { card: "A-1" } }, headers: store("s01") });
      expect(verb.body.error.code).toBe("BAD_REQUEST");
      for (const base of [t.http, admin]) expect((await call(base, "GET", "/healthz")).body).toEqual({ ok: true });
    });

    it("refuses a terminal key with FORBIDDEN, an unknown token with UNAUTHORIZED", async () => {
      const key = await call(admin, "GET", "/v1/admin/programmes", { headers: bearer(keys.s01.token) });
      expect(key.status).toBe(403);
      expect(key.body.error.code).toBe("FORBIDDEN");
      const viaHeader = await call(admin, "GET", "/v1/admin/programmes", { headers: store("s01") });
      expect(viaHeader.status).toBe(403);
      const unknown = await call(admin, "GET", "/v1/admin/programmes", { headers: bearer(newToken().token) });
      expect(unknown.status).toBe(401);
      expect(unknown.body.error.code).toBe("UNAUTHORIZED");
      expect((await call(admin, "GET", "/v1/admin/programmes")).status).toBe(401);
    });

    it("gives each route its role: read, write, money", async () => {
      expect((await call(admin, "GET", "/v1/admin/products", { headers: as("rita") })).status).toBe(200);
      const ritaWrites = await call(admin, "PUT", "/v1/admin/products/TEA", { body: { pointsPerUnit: 3 }, headers: as("rita") });
      expect(ritaWrites.status).toBe(403);
      expect(ritaWrites.body.error).toMatchObject({ code: "FORBIDDEN", message: "rita lacks the write role" });
      expect((await call(admin, "PUT", "/v1/admin/products/TEA", { body: { pointsPerUnit: 3 }, headers: as("walt") })).body).toMatchObject({ ok: true });
      expect((await call(admin, "GET", "/v1/admin/products", { headers: as("walt") })).status).toBe(403);
      const card = { requestId: "card-1", action: "link", card: "A-1b", customer: { card: "A-1" } };
      expect((await call(admin, "POST", "/v1/admin/cards", { body: card, headers: as("anna") })).status).toBe(403);
      expect((await call(admin, "POST", "/v1/admin/cards", { body: card, headers: as("walt") })).body).toMatchObject({ ok: true });
      const adj = { requestId: "adj-w", customer: { card: "A-1" }, amount: 5, reason: "test" };
      expect((await call(admin, "POST", "/v1/admin/adjustments", { body: adj, headers: as("walt") })).status).toBe(403);
      const bulk = { jobId: "conv-w", earnedFrom: 0, earnedTo: 1 };
      expect((await call(admin, "POST", "/v1/admin/bulk/convert", { body: bulk, headers: as("rita") })).status).toBe(403);
      expect((await call(admin, "POST", "/v1/admin/bulk/adjust", { body: { jobId: "b-w", reason: "r", items: [] }, headers: as("walt") })).status).toBe(403);
    });

    it("records the operator of an adjustment from the token, and refuses a body naming another", async () => {
      const adj = { requestId: "adj-a1", customer: { card: "A-3" }, amount: 25, reason: "goodwill" };
      const ok = await call(admin, "POST", "/v1/admin/adjustments", { body: adj, headers: as("anna") });
      expect(ok.body).toMatchObject({ ok: true, amount: 25 });
      const named = await call(admin, "POST", "/v1/admin/adjustments", { body: { ...adj, requestId: "adj-a2", operator: "anna" }, headers: as("anna") });
      expect(named.body).toMatchObject({ ok: true });
      const other = await call(admin, "POST", "/v1/admin/adjustments", { body: { ...adj, requestId: "adj-a3", operator: "bob" }, headers: as("anna") });
      expect(other.status).toBe(403);
      expect(other.body.error).toMatchObject({ code: "FORBIDDEN", field: "operator" });
      // The shared adminToken names no person: the body's operator stands, as before.
      const legacy = await call(admin, "POST", "/v1/admin/adjustments", { body: { ...adj, requestId: "adj-a4", operator: "ops-kim" }, headers: bearer(ADMIN_TOKEN) });
      expect(legacy.body).toMatchObject({ ok: true });
      const causes = (await t.rpc("statement", { customer: { card: "A-3" } })).entries.filter((e: { kind: string }) => e.kind === "adjustment").map((e: { cause: string }) => e.cause);
      expect(causes).toEqual(expect.arrayContaining(["adjustment adj-a1 by anna: goodwill", "adjustment adj-a2 by anna: goodwill", "adjustment adj-a4 by ops-kim: goodwill"]));
      expect(causes.join()).not.toContain("adj-a3");
    });
  });

  describe("four-eyes approval of large adjustments", () => {
    it("holds an adjustment above admin.approvalAbove until another money operator approves it", async () => {
      const before = await balanceOf("A-2");
      const adj = { requestId: "big-1", customer: { card: "A-2" }, amount: 5000, reason: "migration" };
      const opened = await call(admin, "POST", "/v1/admin/adjustments", { body: adj, headers: as("anna") });
      expect(opened.status).toBe(202);
      expect(opened.body).toEqual({ ok: true, status: "pending", approvalId: expect.stringMatching(/^ap_/), expiresAt: expect.any(Number) });
      const id = opened.body.approvalId;
      // Resending finds the same approval.
      expect((await call(admin, "POST", "/v1/admin/adjustments", { body: adj, headers: as("anna") })).body.approvalId).toBe(id);
      expect(await balanceOf("A-2")).toBe(before);
      const listed = await call(admin, "GET", "/v1/admin/approvals", { headers: as("rita") });
      expect(listed.body.approvals).toEqual([expect.objectContaining({ approvalId: id, kind: "adjust", requestedBy: "anna", amountMax: 5000 })]);

      const self = await call(admin, "POST", `/v1/admin/approvals/${id}/approve`, { headers: as("anna") });
      expect(self.status).toBe(403);
      expect(self.body.error.code).toBe("FORBIDDEN");
      expect((await call(admin, "POST", `/v1/admin/approvals/${id}/approve`, { headers: as("rita") })).status).toBe(403);
      expect(await balanceOf("A-2")).toBe(before);

      const approved = await call(admin, "POST", `/v1/admin/approvals/${id}/approve`, { headers: as("bob") });
      expect(approved.status).toBe(200);
      expect(approved.body).toMatchObject({ ok: true, amount: 5000, approvalId: id, requestedBy: "anna", approvedBy: "bob" });
      expect(await balanceOf("A-2")).toBe(before + 5000);
      const again = await call(admin, "POST", `/v1/admin/approvals/${id}/approve`, { headers: as("bob") });
      expect(again.status).toBe(404);
      expect(again.body.error.code).toBe("UNKNOWN_APPROVAL");
      const causes = (await t.rpc("statement", { customer: { card: "A-2" } })).entries.map((e: { cause: string }) => e.cause);
      expect(causes).toContain("adjustment big-1 by anna (approved by bob): migration");
    });

    it("applies at once what is within the threshold, and nothing of a rejected approval", async () => {
      const before = await balanceOf("A-2");
      const small = await call(admin, "POST", "/v1/admin/adjustments", { body: { requestId: "small-1", customer: { card: "A-2" }, amount: -1000, reason: "r" }, headers: as("anna") });
      expect(small.status).toBe(200);
      const opened = await call(admin, "POST", "/v1/admin/adjustments", { body: { requestId: "big-2", customer: { card: "A-2" }, amount: -1001, reason: "r" }, headers: as("bob") });
      expect(opened.status).toBe(202);
      const rejected = await call(admin, "POST", `/v1/admin/approvals/${opened.body.approvalId}/reject`, { headers: as("anna") });
      expect(rejected.body).toMatchObject({ ok: true, status: "rejected", rejectedBy: "anna" });
      expect(await balanceOf("A-2")).toBe(before - 1000);
      expect((await call(admin, "POST", `/v1/admin/approvals/${opened.body.approvalId}/approve`, { headers: as("anna") })).status).toBe(404);
    });

    it("holds a bulk adjustment with any item above the threshold", async () => {
      const job = { jobId: "bulk-big", account: "points", reason: "promo", items: [{ customer: { card: "A-1" }, amount: 10 }, { customer: { card: "A-3" }, amount: 2000 }] };
      const opened = await call(admin, "POST", "/v1/admin/bulk/adjust", { body: job, headers: as("bob") });
      expect(opened.status).toBe(202);
      const before = await balanceOf("A-3");
      const approved = await call(admin, "POST", `/v1/admin/approvals/${opened.body.approvalId}/approve`, { headers: as("anna") });
      expect(approved.body).toMatchObject({ ok: true, jobId: "bulk-big", items: 2, applied: 2, approvedBy: "anna" });
      expect(await balanceOf("A-3")).toBe(before + 2000);
    });
  });

  describe("the audit trail", () => {
    const readAll = async (query = "") => {
      const records: Record<string, any>[] = [];
      let cursor = "";
      for (;;) {
        const page = await call(admin, "GET", `/v1/admin/audit?limit=7${query}${cursor}`, { headers: as("rita") });
        expect(page.status).toBe(200);
        records.push(...page.body.records);
        if (!page.body.next) return records;
        cursor = `&cursor=${page.body.next}`;
      }
    };

    it("records every operator action: who, role, route, targets, outcome, time", async () => {
      const records = await readAll();
      const adj = records.find((r) => r.route === "/v1/admin/adjustments" && r.targets.requestId === "adj-a1");
      expect(adj).toMatchObject({ operator: "anna", role: "money", method: "POST", outcome: "ok", status: 200, ip: expect.any(String), at: expect.any(Number) });
      expect(adj!.targets).toMatchObject({ requestId: "adj-a1", customer: { card: "A-3" }, amount: 25 });
      expect(records.find((r) => r.targets.requestId === "adj-a3")).toMatchObject({ operator: "anna", outcome: "FORBIDDEN", status: 403, targets: { operator: "bob" } });
      expect(records.find((r) => r.targets.requestId === "adj-a4")).toMatchObject({ operator: "admin", targets: { operator: "ops-kim" } });
      expect(records.find((r) => r.operator === "rita" && r.route === "/v1/admin/products/:sku")).toMatchObject({ method: "PUT", role: "write", outcome: "FORBIDDEN", targets: { sku: "TEA" } });
      const big = records.filter((r) => r.targets.requestId === "big-1" || r.route === "/v1/admin/approvals/:id/approve");
      expect(big.map((r) => [r.operator, r.outcome])).toEqual(
        expect.arrayContaining([["anna", "pending"], ["anna", "FORBIDDEN"], ["bob", "ok"], ["bob", "UNKNOWN_APPROVAL"]]),
      );
      // Keys are [at, seq]: in order, never repeated.
      const seqs = records.map((r) => r.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      for (let i = 1; i < records.length; i++) expect(records[i].at >= records[i - 1].at).toBe(true);
    });

    it("only ever appends: earlier records read the same after more actions", async () => {
      const before = await readAll();
      await call(admin, "PUT", "/v1/admin/products/TEA", { body: { pointsPerUnit: 4 }, headers: as("walt") });
      await call(admin, "DELETE", "/v1/admin/products/TEA", { headers: as("walt") });
      const after = await readAll();
      expect(after.slice(0, before.length)).toEqual(before);
      // The two actions, and the reads of the first listing.
      expect(after.length).toBeGreaterThanOrEqual(before.length + 2);
      expect(after.slice(before.length).filter((r) => r.operator === "walt").map((r) => r.method)).toEqual(["PUT", "DELETE"]);
    });

    it("reads a time window, and needs the read role", async () => {
      const all = await readAll();
      const mid = all[Math.floor(all.length / 2)]!.at;
      const late = await readAll(`&from=${mid}`);
      expect(late.every((r) => r.at >= mid)).toBe(true);
      // Reading appends records too (each read is an action): compare what existed before.
      const seqMax = all[all.length - 1]!.seq;
      expect(late.filter((r) => r.seq <= seqMax)).toEqual(all.filter((r) => r.at >= mid));
      expect((await readAll(`&to=${mid}`)).every((r) => r.at < mid)).toBe(true);
      expect((await call(admin, "GET", "/v1/admin/audit?limit=0", { headers: as("rita") })).body.error).toMatchObject({ code: "VALIDATION", field: "limit" });
      expect((await call(admin, "GET", "/v1/admin/audit", { headers: as("walt") })).status).toBe(403);
    });
  });

  describe("rate limits per credential", () => {
    it("answers lookups past a key's bucket with RATE_LIMITED and Retry-After, other keys unaffected", async () => {
      let limited: Answer | null = null;
      let granted = 0;
      for (let i = 0; i < 100 && !limited; i++) {
        const r = await call(t.http, "POST", "/v1/balance", { body: { customer: { card: "A-9" } }, headers: store("s09") });
        if (r.status === 429) limited = r;
        else granted++;
      }
      expect(granted).toBeGreaterThanOrEqual(40);
      expect(limited!.body).toEqual({ ok: false, error: { code: "RATE_LIMITED", message: expect.any(String) } });
      expect(Number(limited!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      // An unknown card is the probe the limit is for: it counted too (UNKNOWN_CUSTOMER replies above).
      expect((await call(t.http, "POST", "/v1/statement", { body: { customer: { card: "A-1" } }, headers: store("s09") })).status).toBe(429);
      expect((await call(t.http, "POST", "/v1/balance", { body: { customer: { card: "A-1" } }, headers: store("s01") })).status).toBe(200);
      // A release names a hold, not a customer: no bucket.
      expect((await call(t.http, "POST", "/v1/release", { body: { requestId: "rel-9", holdId: "h-none" }, headers: store("s09") })).body.error.code).toBe("UNKNOWN_HOLD");
    });

    it("stops enrolments past the bucket before they are applied or notified", async () => {
      const enrolled: string[] = [];
      const sub = t.nc.subscribe("loyalty.notify.enrolled", { callback: (_e, m) => enrolled.push(JSON.parse(m.string()).phone) });
      const results: number[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await call(t.http, "POST", "/v1/enroll", { body: { requestId: `pump-${i}`, profile: { phone: `+4860000000${i}` } }, headers: store("s08") });
        results.push(r.status);
      }
      await t.nc.flush();
      await new Promise((r) => setTimeout(r, 200));
      sub.unsubscribe();
      expect(results).toEqual([200, 200, 429, 429]);
      expect(enrolled.sort()).toEqual(["+48600000000", "+48600000001"]);
      expect((await t.rpc("balance", { customer: { phone: "+48600000002" } })).error.code).toBe("UNKNOWN_CUSTOMER");
    });
  });
});

describe("rate limits per client address", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv({ "rateLimits.enabled": true, "rateLimits.exemptLoopback": false, "rateLimits.ip.lookupsPerMinute": 1, "rateLimits.ip.lookupBurst": 3 });
    await t.rpc("enroll", { requestId: "e-1", card: "R-1" });
  });
  afterAll(async () => t?.stop());

  it("limits lookups from one address without terminal keys; NATS is not limited", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await t.post("/v1/balance", { customer: { card: "R-1" } })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const r = await t.post("/v1/quote", sale("q", { card: "R-1" }, [line("1", 1, 100)]));
    expect(r.body).toMatchObject({ ok: false, error: { code: "RATE_LIMITED" } });
    expect((await t.rpc("balance", { customer: { card: "R-1" } })).ok).toBe(true);
  });
});

describe("the web server's bounds, with no credentials configured", () => {
  let t: TestEnv;
  let port: number;
  beforeAll(async () => {
    t = await startTestEnv({ "http.headersTimeoutMs": 1000, "http.requestTimeoutMs": 1500, "http.connectionsMax": 3 });
    port = t.engine.httpPort;
    await t.rpc("enroll", { requestId: "e-1", card: "W-1" });
  });
  afterAll(async () => t?.stop());

  // First: no other connection (fetch keeps its sockets alive) may count against the cap.
  it("closes connections past http.connectionsMax on arrival", async () => {
    const open = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<Socket>((resolve, reject) => {
            const s = connectTcp(port, "127.0.0.1", () => resolve(s));
            s.on("error", reject);
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 100));
    const extra = await rawExchange(port, (s) => s.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 2000);
    expect(extra).toMatchObject({ closed: true, data: "" });
    // The admitted sockets are served.
    const served = await new Promise<string>((resolve) => {
      let data = "";
      open[0]!.on("data", (d) => {
        data += d.toString();
        if (data.includes("\r\n\r\n")) resolve(data);
      });
      open[0]!.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    });
    expect(served).toMatch(/^HTTP\/1.1 200/);
    for (const s of open) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect((await rawExchange(port, (s) => s.write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 2000)).data).toMatch(/^HTTP\/1.1 200/);
  });

  it("cuts off a client that sends its headers slowly (slow loris), with REQUEST_TIMEOUT", async () => {
    const r = await rawExchange(
      port,
      (s) => {
        s.write("POST /v1/balance HTTP/1.1\r\nHost: x\r\n");
        let n = 0;
        const drip = setInterval(() => {
          if (s.destroyed || n++ > 40) return clearInterval(drip);
          s.write(`X-Drip-${n}: 1\r\n`);
        }, 100);
        s.on("close", () => clearInterval(drip));
      },
      8000,
    );
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(4000);
    expect(r.data).toMatch(/^HTTP\/1.1 408/);
    expect(envelopeOf(r.data)).toEqual({ ok: false, error: { code: "REQUEST_TIMEOUT", message: expect.any(String) } });
  });

  it("cuts off a body that never completes", async () => {
    const r = await rawExchange(
      port,
      (s) => s.write("POST /v1/balance HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"customer\""),
      8000,
    );
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(5000);
  });

  it("answers malformed requests and router errors in the envelope", async () => {
    const garbage = await rawExchange(port, (s) => s.write("THIS IS NOT HTTP\r\n\r\n"), 3000);
    expect(garbage.data).toMatch(/^HTTP\/1.1 400/);
    expect(envelopeOf(garbage.data)).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    const headers = await rawExchange(port, (s) => s.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`), 3000);
    expect(headers.data).toMatch(/^HTTP\/1.1 413/);
    expect(envelopeOf(headers.data).error.code).toBe("PAYLOAD_TOO_LARGE");
    const badUrl = await t.post("/v1/%E0%A4%A", { customer: { card: "W-1" } });
    expect(badUrl.status).toBe(400);
    expect(badUrl.body).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    const method = await fetch(t.http + "/v1/balance");
    expect(method.status).toBe(400);
    expect(await method.json()).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    const options = await fetch(t.http + "/v1/balance", { method: "OPTIONS", headers: { origin: "https://x.example", "access-control-request-method": "POST" } });
    expect(options.status).toBe(400);
    expect([...options.headers.keys()].filter((h) => h.startsWith("access-control-"))).toEqual([]);
    const big = await t.post("/v1/balance", { customer: { card: "W-1" }, pad: "x".repeat(70_000) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("keeps terminal routes open and lenient about the content type without terminalAuth, as before", async () => {
    const r = await fetch(t.http + "/v1/balance", { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify({ customer: { card: "W-1" } }) });
    expect(r.status).toBe(200);
    const keyed = await t.post("/v1/balance", { customer: { card: "W-1" } }, { "x-api-key": "anything" });
    expect(keyed.status).toBe(200);
    expect((await t.post("/v1/admin/adjustments", { requestId: "a", customer: { card: "W-1" }, amount: 1, reason: "r", operator: "o" }, { authorization: `Bearer ${ADMIN_TOKEN}` })).body).toMatchObject({ ok: true });
  });
});

describe("hash-token and new-token", () => {
  it("hash the token given on stdin, and draw new ones", async () => {
    const { execFileSync } = await import("node:child_process");
    const cli = join(import.meta.dirname, "../../dist/src/cli.js");
    expect(execFileSync(process.execPath, [cli, "hash-token"], { input: "abc\n" }).toString().trim()).toBe(sha256Hex("abc"));
    const made = JSON.parse(execFileSync(process.execPath, [cli, "new-token"]).toString());
    expect(made.sha256).toBe(sha256Hex(made.token));
  });
});
