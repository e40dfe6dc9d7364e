// Who may do what with sales reports on the admin API: operators with their own tokens
// and roles, on the admin listener. Entering a report needs write; deciding one moves
// points and needs money, in the name of the token's operator; reading the queue needs read.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newToken } from "../../src/config/credentials.js";
import { B2B_PROGRAMME } from "../fixtures.js";
import { startTestEnv, tempDir, type TestEnv } from "./harness.js";

describe("sales reports and operator roles", () => {
  const ops = { walt: newToken(), anna: newToken(), rita: newToken() };
  let t: TestEnv;
  let admin: string;
  let customerId: string;
  const call = async (who: keyof typeof ops, method: string, path: string, body?: unknown) => {
    const res = await fetch(admin + path, {
      method,
      headers: { authorization: `Bearer ${ops[who].token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  beforeAll(async () => {
    const dir = tempDir("loyaltyd-b2b-roles-");
    const operatorsFile = join(dir, "operators.json");
    const roles = { walt: ["write"], anna: ["read", "money"], rita: ["read"] };
    writeFileSync(operatorsFile, JSON.stringify({ operators: Object.entries(ops).map(([name, o]) => ({ name, tokenSha256: o.sha256, roles: roles[name as keyof typeof roles] })) }));
    t = await startTestEnv({ "admin.port": 0, "admin.operatorsFile": operatorsFile, "reports.currency": "PLN" }, [B2B_PROGRAMME]);
    admin = `http://127.0.0.1:${t.engine.adminPort}`;
    customerId = (await t.rpc("enroll", { requestId: "e-1", kind: "distributor", company: { name: "Farby", taxId: "PL1" } })).customerId;
  });
  afterAll(async () => t?.stop());

  it("lets write enter a report, money decide it in its own name, read list the queue, and nobody else", async () => {
    const date = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const report = { requestId: "q-1", customer: { customerId }, reportId: "R-1", lines: [{ invoice: "F-1", date, sku: "ANY", qty: 1, amount: 1000 }] };
    expect((await call("rita", "POST", "/v1/admin/reports", report)).status).toBe(403);
    expect((await call("walt", "POST", "/v1/admin/reports", report)).body).toMatchObject({ ok: true, status: "pending", checks: [{ code: "UNKNOWN_PRODUCT" }] });
    expect((await call("walt", "GET", "/v1/admin/reports?status=pending")).status).toBe(403);
    expect((await call("rita", "GET", "/v1/admin/reports?status=pending")).body.reports).toHaveLength(1);
    expect((await call("walt", "POST", "/v1/admin/reports/R-1/approve", {})).body.error).toMatchObject({ code: "FORBIDDEN" });
    expect((await call("anna", "POST", "/v1/admin/reports/R-1/approve", { operator: "walt" })).body.error).toMatchObject({ code: "FORBIDDEN", field: "operator" });
    const a = await call("anna", "POST", "/v1/admin/reports/R-1/approve", {});
    expect(a.body).toMatchObject({ ok: true, status: "approved", decidedBy: "anna", points: 1 });
    const audit = await call("rita", "GET", "/v1/admin/audit?limit=100");
    expect(audit.body.records.filter((r: { route: string }) => r.route === "/v1/admin/reports/:id/approve").map((r: { operator: string; outcome: string }) => `${r.operator}:${r.outcome}`)).toEqual([
      "walt:FORBIDDEN", "anna:FORBIDDEN", "anna:ok",
    ]);
  });
});
