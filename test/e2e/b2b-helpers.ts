// Shared by the distributors' e2e tests: admin HTTP with the bearer token, raw uploads
// (CSV/XLSX), a worksheet built in memory, and invoice lines dated relative to today.
import ExcelJS from "exceljs";
import { ADMIN_TOKEN, send as sendHttp, type TestEnv } from "./harness.js";

export const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
export const send = (t: TestEnv, method: string, path: string, body?: unknown) => sendHttp(t, method, path, body, auth);

export const XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/** A raw body (a CSV or XLSX file) to an admin route. */
export async function upload(t: TestEnv, path: string, body: string | Buffer, type: string) {
  const res = await fetch(t.http + path, { method: "POST", body, headers: { "content-type": type, ...auth } });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** An admin GET answered with text (a CSV export). */
export async function download(t: TestEnv, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(t.http + path, { headers: auth });
  return { status: res.status, text: await res.text() };
}

export async function xlsx(rows: ExcelJS.CellValue[][], sheet = "Raporty"): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet(sheet);
  for (const r of rows) ws.addRow(r);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

/** The calendar day `offset` days from now (UTC), YYYY-MM-DD. */
export const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
/** The same day as a spreadsheet date cell. */
export const dateCell = (offset: number) => new Date(`${day(offset)}T00:00:00Z`);
export const line = (invoice: string, sku: string, qty: number, amount: number, date = day(-3)) => ({ invoice, date, sku, qty, amount });

/** The products of the worked example (docs/b2b.md): paint and brushes with list prices, a withdrawn one. */
export const B2B_PRODUCTS: Record<string, Record<string, unknown>> = {
  "PAINT-10L": { category: "paint", listPrice: 10_000 },
  BRUSH: { category: "tools", listPrice: 2_000 },
  OLD: { category: "paint", active: false },
};

/** The report-import mapping of the worked example: a depot's XLSX with Polish headers. */
export const DEPOT_MAPPING = {
  target: "reports",
  format: "xlsx",
  columns: { reportId: "Raport", customerId: "Klient", invoice: "Faktura", date: "Data", sku: "Indeks", qty: "Ilość", amount: "Kwota" },
};
