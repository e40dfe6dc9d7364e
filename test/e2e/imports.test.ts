// Spreadsheet imports end to end: saved column mappings, the rewards catalogue and the
// product card from CSV and XLSX, every row validated before anything is written, and the
// row errors downloadable as CSV by the import's id.
import ExcelJS from "exceljs";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, line, sale, startTestEnv, type TestEnv } from "./harness.js";

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async function call(t: TestEnv, method: string, path: string, body?: string | Buffer | object, type = "application/json") {
  const raw = body === undefined || typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const res = await fetch(t.http + path, { method, body: raw, headers: { "content-type": type, ...auth } });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function xlsx(rows: ExcelJS.CellValue[][], sheet = "Sheet1"): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet(sheet);
  for (const r of rows) ws.addRow(r);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

describe("spreadsheet imports", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv({}, [
      { id: "card", name: "Card", account: "points", currency: "EUR", rules: [{ kind: "productCard" }] },
    ]);
    await t.rpc("enroll", { requestId: "e", card: "C-I" });
  });
  afterAll(async () => t?.stop());

  it("saves, shows, lists and removes a column mapping", async () => {
    const body = { target: "rewards", format: "xlsx", sheet: "Nagrody", headerRow: 2, columns: { id: "Kod", name: "Nazwa", pointsPrice: "Punkty", stock: "Stan", category: "Kategoria" } };
    const put = await call(t, "PUT", "/v1/admin/import-mappings/depot-pl", body);
    expect(put).toMatchObject({ status: 200, body: { ok: true, mapping: { name: "depot-pl", ...body, delimiter: null, encoding: "utf-8" } } });
    expect((await call(t, "GET", "/v1/admin/import-mappings/depot-pl")).body.mapping).toEqual(put.body.mapping);
    await call(t, "PUT", "/v1/admin/import-mappings/tmp", { columns: { sku: "Index" } });
    expect((await call(t, "GET", "/v1/admin/import-mappings")).body.mappings.map((m: { name: string }) => m.name)).toEqual(["depot-pl", "tmp"]);
    expect((await call(t, "DELETE", "/v1/admin/import-mappings/tmp")).body).toEqual({ ok: true, name: "tmp", removed: true });
    const gone = await call(t, "GET", "/v1/admin/import-mappings/tmp");
    expect(gone).toMatchObject({ status: 404, body: { ok: false, error: { code: "UNKNOWN_MAPPING" } } });
    const bad = await call(t, "PUT", "/v1/admin/import-mappings/x", { encoding: "latin-9" });
    expect(bad).toMatchObject({ status: 422, body: { error: { code: "VALIDATION", field: "encoding" } } });
  });

  it("refuses a rewards file with bad rows as a whole, listing each, with the errors as CSV", async () => {
    const text = "id,name,pointsPrice,stock,active\nMUG,Mug,30,5,yes\nPEN,,0,2,yes\nCAP,Cap,10,-1,maybe\nMUG,Mug again,31,,\n";
    const res = await call(t, "POST", "/v1/admin/rewards/import", text, "text/csv");
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "row 3.name" }, rows: 4, errorCount: 5 });
    expect(res.body.errors.map((e: Record<string, unknown>) => [e.row, e.column])).toEqual([[3, "name"], [3, "pointsPrice"], [4, "stock"], [4, "active"], [5, "id"]]);
    expect((await call(t, "GET", "/v1/admin/rewards")).body.rewards).toEqual([]);

    const csv = await fetch(`${t.http}${res.body.errorsCsv}`, { headers: auth });
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    const lines = parse(await csv.text(), { columns: true }) as Record<string, string>[];
    expect(lines).toHaveLength(5);
    expect(lines[4]).toEqual({ row: "5", column: "id", field: "id", code: "VALIDATION", message: "the same id as row 2" });

    const record = await call(t, "GET", `/v1/admin/imports/${res.body.importId}`);
    expect(record.body.import).toMatchObject({ target: "rewards", format: "csv", outcome: "refused", operator: "admin", rows: 4, errorCount: 5 });
    expect((await call(t, "GET", "/v1/admin/imports/imp_nope")).body.error.code).toBe("UNKNOWN_IMPORT");
  });

  it("imports rewards from an XLSX through a saved mapping, then upserts by id keeping stock left empty", async () => {
    const first = await xlsx(
      [["Nagrody — stan na marzec"], ["Kod", "Nazwa", "Punkty", "Stan", "Kategoria", "Uwagi"], ["MUG", "Kubek", 30, 5, "kuchnia", "x"], ["PEN", "Długopis", 5, "unlimited", null, null]],
      "Nagrody",
    );
    const res = await call(t, "POST", "/v1/admin/rewards/import?mapping=depot-pl", first, XLSX_TYPE);
    expect(res).toMatchObject({ status: 200, body: { ok: true, rows: 2, imported: 2, created: 2, updated: 0 } });
    const mug = (await call(t, "GET", "/v1/admin/rewards/MUG")).body.reward;
    expect(mug).toMatchObject({ id: "MUG", name: "Kubek", category: "kuchnia", account: "points", pointsPrice: 30, stock: 5, active: true });
    expect((await call(t, "GET", "/v1/admin/rewards/PEN")).body.reward).toMatchObject({ name: "Długopis", stock: null, category: null });

    const second = await xlsx([["title"], ["Kod", "Nazwa", "Punkty", "Stan", "Kategoria"], ["MUG", "Kubek 0.3 l", 35, null, null]], "Nagrody");
    const again = await call(t, "POST", "/v1/admin/rewards/import?mapping=depot-pl", second);
    expect(again.body).toMatchObject({ ok: true, imported: 1, created: 0, updated: 1 });
    expect((await call(t, "GET", "/v1/admin/rewards/MUG")).body.reward).toMatchObject({ name: "Kubek 0.3 l", pointsPrice: 35, stock: 5, category: null });

    const imports = (await call(t, "GET", "/v1/admin/imports")).body.imports;
    expect(imports[0]).toMatchObject({ importId: again.body.importId, outcome: "imported", mapping: "depot-pl", format: "xlsx", result: { imported: 1 } });
    expect(imports[0].errors).toBeUndefined();
    // A mapped column the file lacks is a mistake named at once, not a field silently left out.
    const lacking = await xlsx([["title"], ["Kod", "Nazwa", "Punkty", "Stan"], ["MUG", "Kubek", 35, 1]], "Nagrody");
    const refused = await call(t, "POST", "/v1/admin/rewards/import?mapping=depot-pl", lacking);
    expect(refused).toMatchObject({ status: 422, body: { errors: [{ row: 2, column: "Kategoria", field: "category" }] } });
  });

  it("refuses a mapping saved for another import, and a file of the wrong format for it", async () => {
    const wrong = await call(t, "POST", "/v1/admin/products/import?mapping=depot-pl", "sku\nA\n", "text/csv");
    expect(wrong).toMatchObject({ status: 422, body: { error: { code: "VALIDATION", field: "mapping" } } });
    const csv = await call(t, "POST", "/v1/admin/rewards/import?mapping=depot-pl", "Kod,Nazwa,Punkty\nX,X,1\n", "text/csv");
    expect(csv).toMatchObject({ status: 422, body: { error: { code: "VALIDATION", field: "format" } } });
    const unknown = await call(t, "POST", "/v1/admin/rewards/import?mapping=nope", "id\n", "text/csv");
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: "UNKNOWN_MAPPING" } } });
    const garbage = await call(t, "POST", "/v1/admin/rewards/import?format=xlsx", "id,name\n", "text/csv");
    expect(garbage).toMatchObject({ status: 400, body: { error: { code: "BAD_REQUEST" } } });
  });

  it("imports the product card from an XLSX, which the rule engine earns with at once", async () => {
    const bytes = await xlsx([["sku", "name", "pointsPerUnit", "pointsPrice"], ["TEA", "Green tea", 3, 150], [4711, "Cologne", 2, null]]);
    const res = await call(t, "POST", "/v1/admin/products/import", bytes, "application/octet-stream");
    expect(res).toMatchObject({ status: 200, body: { ok: true, imported: 2 } });
    const q = await t.rpc("quote", sale("q-1", { card: "C-I" }, [line("1", 1, 100, { sku: "TEA" }), line("2", 2, 100, { sku: "4711" })]));
    expect(q.earned).toBe(7);
    const bad = await call(t, "POST", "/v1/admin/products/import", await xlsx([["sku", "pointsPerUnit"], ["TEA", 4], ["MILK", { error: "#VALUE!" }]]), XLSX_TYPE);
    expect(bad).toMatchObject({ status: 422, body: { error: { code: "VALIDATION", field: "row 3.pointsPerUnit" }, errors: [{ row: 3, message: "the cell holds the error #VALUE!" }] } });
    const after = await t.rpc("quote", sale("q-2", { card: "C-I" }, [line("1", 1, 100, { sku: "TEA" })]));
    expect(after.earned).toBe(3);
  });

  it("counts imports by target and outcome in /metrics", async () => {
    const text = await (await fetch(`${t.http}/metrics`)).text();
    const count = (labels: string) => Number(new RegExp(`^loyalty_imports_total\\{${labels}\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
    expect(count('target="rewards",outcome="imported"')).toBe(2);
    expect(count('target="rewards",outcome="refused"')).toBe(2);
    expect(count('target="rewards",outcome="VALIDATION"')).toBe(1);
    expect(count('target="products",outcome="imported"')).toBe(1);
    expect(count('target="products",outcome="refused"')).toBe(1);
    expect(count('target="products",outcome="VALIDATION"')).toBe(1);
    expect(count('target="rewards",outcome="BAD_REQUEST"')).toBe(1);
    expect(count('target="rewards",outcome="UNKNOWN_MAPPING"')).toBe(1);
  });

  it("names the import's id in the audit trail, refused or not", async () => {
    const res = await call(t, "POST", "/v1/admin/rewards/import", "id,name,pointsPrice\nX1,,1\n", "text/csv");
    expect(res.status).toBe(422);
    const records = (await call(t, "GET", "/v1/admin/audit?limit=1000")).body.records as { route: string; outcome: string; targets: Record<string, unknown> }[];
    const mine = records.filter((r) => r.route === "/v1/admin/rewards/import" && r.targets.importId === res.body.importId);
    expect(mine).toEqual([expect.objectContaining({ outcome: "VALIDATION", targets: { importId: res.body.importId } })]);
  });
});

describe("seasonal prices from the rewards import", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv();
  });
  afterAll(async () => t?.stop());

  it("sets seasonal prices from a sheet's seasonalPrices cell, keeps them when it is empty, clears them with none, and reports bad ones per row", async () => {
    const day = (d: string) => Date.parse(`${d}T00:00:00Z`);
    const sheet = "id,name,pointsPrice,seasonalPrices\nXMAS,Christmas mug,40,2026-12-01..2026-12-24=25; 2027-01-02..2027-01-06=30\nTEA,Tea,10,\n";
    expect((await call(t, "POST", "/v1/admin/rewards/import", sheet, "text/csv")).body).toMatchObject({ ok: true, imported: 2 });
    expect((await call(t, "GET", "/v1/admin/rewards/XMAS")).body.reward.seasonalPrices).toEqual([
      { from: day("2026-12-01"), to: day("2026-12-25"), pointsPrice: 25 },
      { from: day("2027-01-02"), to: day("2027-01-07"), pointsPrice: 30 },
    ]);
    // Left empty: kept; "none": removed.
    await call(t, "POST", "/v1/admin/rewards/import", "id,name,pointsPrice,seasonalPrices\nXMAS,Christmas mug,45,\n", "text/csv");
    expect((await call(t, "GET", "/v1/admin/rewards/XMAS")).body.reward).toMatchObject({ pointsPrice: 45, seasonalPrices: [{ pointsPrice: 25 }, { pointsPrice: 30 }] });
    await call(t, "POST", "/v1/admin/rewards/import", "id,name,pointsPrice,seasonalPrices\nXMAS,Christmas mug,45,none\n", "text/csv");
    expect((await call(t, "GET", "/v1/admin/rewards/XMAS")).body.reward.seasonalPrices).toEqual([]);
    const bad = [
      "id,name,pointsPrice,seasonalPrices",
      "B1,x,1,2026-12-01-2026-12-24=25",
      "B2,x,1,2026-02-30..2026-03-02=5",
      "B3,x,1,2026-12-10..2026-12-01=5",
      "B4,x,1,2026-12-01..2026-12-10=5;2026-12-10..2026-12-20=6",
      "B5,x,1,2026-12-01..2026-12-10=0",
    ].join("\n");
    const res = await call(t, "POST", "/v1/admin/rewards/import", bad, "text/csv");
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: Record<string, unknown>) => [e.row, e.column])).toEqual([[2, "seasonalPrices"], [3, "seasonalPrices"], [4, "seasonalPrices"], [5, "seasonalPrices"], [6, "seasonalPrices"]]);
    expect(res.body.errors[3].message).toContain("overlap");
    expect((await call(t, "GET", "/v1/admin/rewards/B1")).status).toBe(404);
  });
});
