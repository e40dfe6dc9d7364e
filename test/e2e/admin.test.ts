// Admin API: the product card (one by one and CSV import) feeding productCard rules.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, line, sale, startTestEnv, type TestEnv } from "./harness.js";

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function send(t: TestEnv, method: string, path: string, body?: string, type = "application/json") {
  const res = await fetch(t.http + path, { method, body, headers: { "content-type": type, ...auth } });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe("admin: product card", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv({}, [
      { id: "card", name: "Card", account: "points", currency: "EUR", rules: [{ kind: "productCard" }] },
    ]);
    await t.rpc("enroll", { requestId: "e", card: "C-P" });
  });
  afterAll(async () => t?.stop());

  it("earns the card's points per unit once a product is set, without a restart", async () => {
    const before = await t.rpc("accrue", sale("p-1", { card: "C-P" }, [line("1", 2, 500, { sku: "COFFEE" })]));
    expect(before.earned).toBe(0);
    const put = await send(t, "PUT", "/v1/admin/products/COFFEE", JSON.stringify({ name: "Coffee", pointsPerUnit: 7 }));
    expect(put.body).toMatchObject({ ok: true, product: { sku: "COFFEE", pointsPerUnit: 7 } });
    const after = await t.rpc("accrue", sale("p-2", { card: "C-P" }, [line("1", 2, 500, { sku: "COFFEE" })]));
    expect(after.earned).toBe(14);
  });

  it("imports a CSV product card, refusing the whole file when a row is bad", async () => {
    const bad = await send(t, "POST", "/v1/admin/products/import", "sku,pointsPerUnit\nTEA,3\nMILK,-1\n", "text/csv");
    expect(bad.status).toBe(422);
    expect(bad.body).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "row 3.pointsPerUnit" } });
    const none = await t.rpc("quote", sale("q-1", { card: "C-P" }, [line("1", 1, 100, { sku: "TEA" })]));
    expect(none.earned).toBe(0);
    const ok = await send(t, "POST", "/v1/admin/products/import", "sku,name,pointsPerUnit,pointsPrice\nTEA,Green tea,3,150\n\"MILK\",\"Milk, 1 l\",2,\n", "text/csv");
    expect(ok.body).toMatchObject({ ok: true, imported: 2 });
    const q = await t.rpc("quote", sale("q-2", { card: "C-P" }, [line("1", 1, 100, { sku: "TEA" }), line("2", 3, 100, { sku: "MILK" })]));
    expect(q.earned).toBe(9);
    const list = await fetch(`${t.http}/v1/admin/products`, { headers: auth });
    expect(((await list.json()) as { products: unknown[] }).products).toEqual(
      expect.arrayContaining([{ sku: "MILK", name: "Milk, 1 l", pointsPerUnit: 2 }, { sku: "TEA", name: "Green tea", pointsPerUnit: 3, pointsPrice: 150 }]),
    );
  });

  it("refuses admin calls without the token", async () => {
    const res = await fetch(`${t.http}/v1/admin/products/X`, { method: "PUT", body: "{}" });
    expect(res.status).toBe(401);
  });
});
