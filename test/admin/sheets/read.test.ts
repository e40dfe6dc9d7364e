// The spreadsheet reader: CSV and XLSX (fixtures written here with exceljs), headers and
// mappings, every row's errors, and the size guards.
import ExcelJS from "exceljs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { LIMIT_PARAM, LoyaltyError } from "../../../src/errors.js";
import { cellBool, cellInt, cellText } from "../../../src/admin/sheets/cells.js";
import type { SheetLayout } from "../../../src/admin/sheets/mappings.js";
import { readSheet } from "../../../src/admin/sheets/read.js";
import { unzippedBytes } from "../../../src/admin/sheets/xlsx.js";
import { limits } from "../../../src/limits.js";

const rowSchema = z
  .object({
    sku: cellText(z.string().min(1).max(20)),
    qty: cellInt(z.number().int().min(1).max(1000)),
    amount: cellInt(z.number().int().min(0).refine((n) => n <= 1_000_000, { message: "above the amount limit", params: { [LIMIT_PARAM]: 1_000_000 } })),
    note: cellText(z.string().max(50)).optional(),
  })
  .strict();

const layout = (over: Partial<SheetLayout>): SheetLayout => ({ format: null, columns: {}, sheet: null, headerRow: 1, delimiter: null, encoding: "utf-8", ...over });
const csv = (text: string) => Buffer.from(text, "utf8");

async function xlsx(rows: ExcelJS.CellValue[][], sheet = "Sheet1", before: string[] = []): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  for (const name of before) wb.addWorksheet(name).addRow(["other"]);
  const ws = wb.addWorksheet(sheet);
  for (const r of rows) ws.addRow(r);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

async function refusal(p: Promise<unknown>): Promise<LoyaltyError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(LoyaltyError);
  return err as LoyaltyError;
}

describe("readSheet: CSV", () => {
  it("reads rows by header, dropping a BOM, empty cells absent, digits as integers", async () => {
    const r = await readSheet(csv("\uFEFFsku,qty,amount,note\nA1,2,500,\n\"B,2\",1,0,\"two\nlines\"\n"), { format: "csv", schema: rowSchema });
    expect(r.errors).toEqual([]);
    expect(r.rows).toEqual([
      { row: 2, value: { sku: "A1", qty: 2, amount: 500 } },
      { row: 3, value: { sku: "B,2", qty: 1, amount: 0, note: "two\nlines" } },
    ]);
    expect(r.rowsRead).toBe(2);
  });

  it("reports every bad row with its number, column, field and code, and returns no rows", async () => {
    const text = "sku,qty,amount\nA1,2,500\n,0,x\nC3,1.5,2000000\nD4,3,1\n";
    const r = await readSheet(csv(text), { format: "csv", schema: rowSchema });
    expect(r.rows).toEqual([]);
    expect(r.errorCount).toBe(5);
    expect(r.errors.map(({ row, column, field, code }) => ({ row, column, field, code }))).toEqual([
      { row: 3, column: "sku", field: "sku", code: "VALIDATION" },
      { row: 3, column: "qty", field: "qty", code: "VALIDATION" },
      { row: 3, column: "amount", field: "amount", code: "VALIDATION" },
      { row: 4, column: "qty", field: "qty", code: "VALIDATION" },
      { row: 4, column: "amount", field: "amount", code: "LIMIT_EXCEEDED" },
    ]);
    expect(r.errors[0]!.message).toBe("is required");
  });

  it("keeps the file's row numbers across empty lines and skips them", async () => {
    const r = await readSheet(csv("sku,qty,amount\n\nA1,1,1\n,,\nB2,0,1\n"), { format: "csv", schema: rowSchema });
    expect(r.rowsRead).toBe(2);
    expect(r.errors).toMatchObject([{ row: 5, field: "qty" }]);
  });

  it("guesses a semicolon delimiter and reads windows-1250 text through a mapping", async () => {
    const cp1250: Record<string, number> = { "Ł": 0xa3, "ó": 0xf3, "ź": 0x9f, "ś": 0x9c, "ć": 0xe6 };
    const encode = (text: string) => Buffer.from([...text].map((ch) => cp1250[ch] ?? ch.charCodeAt(0)));
    const bytes = encode("Kod;Ilość;Wartość;Uwagi\nA1;2;300;Łódź\n");
    expect(() => new TextDecoder("utf-8", { fatal: true }).decode(bytes)).toThrow();
    const mapping = layout({ encoding: "windows-1250", columns: { sku: "Kod", qty: "ilość ", amount: "WARTOŚĆ", note: "Uwagi" } });
    const r = await readSheet(bytes, { format: "csv", schema: rowSchema, mapping });
    expect(r.errors).toEqual([]);
    expect(r.rows).toEqual([{ row: 2, value: { sku: "A1", qty: 2, amount: 300, note: "Łódź" } }]);
  });

  it("refuses bytes that are not UTF-8 when no mapping names another encoding", async () => {
    const err = await refusal(readSheet(Buffer.from([0x73, 0x6b, 0x75, 0x0a, 0xa3, 0xf3]), { format: "csv", schema: rowSchema }));
    expect(err.code).toBe("BAD_REQUEST");
  });

  it("refuses a malformed quote as BAD_REQUEST", async () => {
    const err = await refusal(readSheet(csv('sku,qty,amount\n"A1,2,3\nB"x,1,1\n'), { format: "csv", schema: rowSchema }));
    expect(err.code).toBe("BAD_REQUEST");
  });

  it("reports header problems once, before any row: unknown, duplicate and missing columns", async () => {
    const r = await readSheet(csv("sku,qty,Qty,colour\nA1,1,1,red\n"), { format: "csv", schema: rowSchema });
    expect(r.rows).toEqual([]);
    expect(r.errors.map((e) => [e.row, e.column, e.field])).toEqual([
      [1, "Qty", null],
      [1, "colour", null],
      [1, null, "amount"],
    ]);
  });

  it("refuses a value beyond the header's last column", async () => {
    const r = await readSheet(csv("sku,qty,amount\nA1,1,1,extra\n"), { format: "csv", schema: rowSchema });
    expect(r.errors).toMatchObject([{ row: 2, column: null, message: expect.stringContaining("column 4") }]);
  });

  it("skips title rows above the mapping's header row and ignores unmapped columns", async () => {
    const mapping = layout({ headerRow: 3, columns: { sku: "Product", qty: "Units", amount: "Net" } });
    const r = await readSheet(csv("Sales March\nexported 2026-04-01\nProduct,Region,Units,Net\nA1,North,4,800\n"), { format: "csv", schema: rowSchema, mapping });
    expect(r.errors).toEqual([]);
    expect(r.rows).toEqual([{ row: 4, value: { sku: "A1", qty: 4, amount: 800 } }]);
  });

  it("names a mapped column the header lacks", async () => {
    const mapping = layout({ columns: { sku: "Product", qty: "Units", amount: "Net" } });
    const r = await readSheet(csv("Product,Units,Gross\nA1,1,1\n"), { format: "csv", schema: rowSchema, mapping });
    expect(r.errors).toMatchObject([{ row: 1, column: "Net", field: "amount" }]);
  });

  it("refuses a second row with the same key, naming the first", async () => {
    const r = await readSheet(csv("sku,qty,amount\nA1,1,1\nB2,1,1\nA1,2,2\n"), { format: "csv", schema: rowSchema, key: "sku" });
    expect(r.errors).toMatchObject([{ row: 4, column: "sku", field: "sku", message: "the same sku as row 2" }]);
  });

  it("refuses a mapping made for the other format", async () => {
    const err = await refusal(readSheet(csv("sku,qty,amount\n"), { format: "csv", schema: rowSchema, mapping: layout({ format: "xlsx" }) }));
    expect(err).toMatchObject({ code: "VALIDATION", field: "format" });
  });

  it("guards bytes and rows with PAYLOAD_TOO_LARGE", async () => {
    const text = "sku,qty,amount\n" + "A1,1,1\n".repeat(11);
    expect((await refusal(readSheet(csv(text), { format: "csv", schema: rowSchema, rowsMax: 10 }))).code).toBe("PAYLOAD_TOO_LARGE");
    expect((await readSheet(csv(text), { format: "csv", schema: rowSchema, rowsMax: 11 })).rowsRead).toBe(11);
    expect((await refusal(readSheet(csv(text), { format: "csv", schema: rowSchema, bytesMax: 20 }))).code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("counts every error but keeps at most sheetErrorsKeptMax", async () => {
    const n = limits.sheetErrorsKeptMax + 5;
    const r = await readSheet(csv("sku,qty,amount\n" + "A1,0,1\n".repeat(n)), { format: "csv", schema: rowSchema });
    expect(r.errorCount).toBe(n);
    expect(r.errors).toHaveLength(limits.sheetErrorsKeptMax);
  });
});

describe("readSheet: XLSX", () => {
  it("reads numbers, text, rich text, formulas' results and dates", async () => {
    const dated = z.object({ sku: cellText(z.string()), qty: cellInt(z.number().int()), date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/), active: cellBool(z.boolean()) }).strict();
    const bytes = await xlsx([
      ["sku", "qty", "date", "active"],
      [12, 3, new Date(Date.UTC(2026, 2, 1)), true],
      [{ richText: [{ text: "A" }, { text: "-7" }] }, { formula: "1+1", result: 2 }, "2026-03-02", "tak"],
      ["  B2 ", "5", new Date(Date.UTC(2026, 2, 3)), "no"],
    ]);
    const r = await readSheet(bytes, { format: "xlsx", schema: dated });
    expect(r.errors).toEqual([]);
    expect(r.rows).toEqual([
      { row: 2, value: { sku: "12", qty: 3, date: "2026-03-01", active: true } },
      { row: 3, value: { sku: "A-7", qty: 2, date: "2026-03-02", active: true } },
      { row: 4, value: { sku: "B2", qty: 5, date: "2026-03-03", active: false } },
    ]);
  });

  it("reports an error cell and a bad value with the worksheet's own row numbers", async () => {
    const bytes = await xlsx([["sku", "qty", "amount"], ["A1", 1, 100], [], ["B2", { error: "#N/A" } as ExcelJS.CellErrorValue, 100], ["C3", 1, -5]]);
    const r = await readSheet(bytes, { format: "xlsx", schema: rowSchema });
    expect(r.errors.map(({ row, column, message }) => ({ row, column, message }))).toEqual([
      { row: 4, column: "qty", message: "the cell holds the error #N/A" },
      { row: 5, column: "amount", message: expect.stringContaining(">=0") },
    ]);
  });

  it("reads the worksheet a mapping names, with its columns", async () => {
    const bytes = await xlsx([["Indeks", "Szt.", "Netto"], ["A1", 2, 250]], "Sprzedaż", ["Cover"]);
    const mapping = layout({ format: "xlsx", sheet: "Sprzedaż", columns: { sku: "indeks", qty: "szt.", amount: "NETTO" } });
    const r = await readSheet(bytes, { format: "xlsx", schema: rowSchema, mapping });
    expect(r.rows).toEqual([{ row: 2, value: { sku: "A1", qty: 2, amount: 250 } }]);
    const err = await refusal(readSheet(bytes, { format: "xlsx", schema: rowSchema, mapping: layout({ sheet: "Nope" }) }));
    expect(err).toMatchObject({ code: "VALIDATION", field: "sheet" });
  });

  it("guards rows, and refuses bytes that are not an XLSX", async () => {
    const bytes = await xlsx([["sku", "qty", "amount"], ...Array.from({ length: 5 }, (_, i) => [`S${i}`, 1, 1])]);
    expect((await refusal(readSheet(bytes, { format: "xlsx", schema: rowSchema, rowsMax: 4 }))).code).toBe("PAYLOAD_TOO_LARGE");
    expect((await readSheet(bytes, { format: "xlsx", schema: rowSchema, rowsMax: 5 })).rows).toHaveLength(5);
    expect((await refusal(readSheet(csv("sku,qty\n"), { format: "xlsx", schema: rowSchema }))).code).toBe("BAD_REQUEST");
    const cut = bytes.subarray(0, bytes.length - 30);
    expect((await refusal(readSheet(cut, { format: "xlsx", schema: rowSchema }))).code).toBe("BAD_REQUEST");
  });

  it("reads the inflated size from the zip directory and refuses an archive that claims too much", async () => {
    const bytes = await xlsx([["sku", "qty", "amount"], ["A1", 1, 1]]);
    const claimed = unzippedBytes(bytes);
    expect(claimed).toBeGreaterThan(1000);
    // Make the first directory entry claim 1 GiB uncompressed.
    const bomb = Buffer.from(bytes);
    const dir = bomb.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    bomb.writeUInt32LE(1024 ** 3, dir + 24);
    expect(unzippedBytes(bomb)).toBeGreaterThan(limits.sheetUnzippedBytesMax);
    expect((await refusal(readSheet(bomb, { format: "xlsx", schema: rowSchema }))).code).toBe("PAYLOAD_TOO_LARGE");
  });
});
