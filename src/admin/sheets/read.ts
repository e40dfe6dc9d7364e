// A spreadsheet (CSV or XLSX) -> validated rows, or every row's errors. The reader of
// every import (rewards, products, sales reports): nothing here writes, so a caller
// writes only when `errors` is empty, and an import never half-applies.
//
// Use:
//   const rowSchema = z.object({ sku: cellText(id), qty: cellInt(z.number().int().min(1)) }).strict();
//   const { rows, errors } = await readSheet(bytes, { format: "xlsx", schema: rowSchema, mapping });
//   if (errors.length === 0) for (const { row, value } of rows) ...   // value: z.infer<typeof rowSchema>
// `mapping` (a saved ImportMapping, or null) says which header feeds which field; without
// one the headers are the field names. Errors carry the row number a spreadsheet program
// shows, the column's header as in the file, the field, a code of errors.ts and a message.
// The file is decoded on a thread of its own (thread.ts, worker.ts; under vitest the
// thread runs the built dist/ file, so `npm run build` first); rows are validated here.
// admin/sheets/import.ts wraps this for an HTTP import (format, saved mapping, record),
// and ingest/http/import-routes.ts's runImportRoute for an admin route (metrics, log).
import { z } from "zod";
import { fieldPath, isLimitIssue, LoyaltyError, type ErrorCode } from "../../errors.js";
import { limits } from "../../limits.js";
import type { SheetLayout } from "./mappings.js";
import type { Cell, RawCell, RawRow } from "./raw.js";
import { readRawOffThread } from "./thread.js";

export type { Cell } from "./raw.js";
export type SheetFormat = "csv" | "xlsx";

export interface RowError {
  /** The row's number in the file (the header's row for a problem with the header itself). */
  row: number;
  /** The column's header as written in the file; null when the error is the row's as a whole. */
  column: string | null;
  /** The field the column feeds; null when none. */
  field: string | null;
  code: ErrorCode;
  message: string;
}

export interface SheetRow<T> {
  row: number;
  value: T;
}

export interface SheetResult<T> {
  /** Every valid row (the caller writes them only if `errors` is empty). */
  rows: SheetRow<T>[];
  /** The first limits.sheetErrorsKeptMax errors, in row order. */
  errors: RowError[];
  /** All errors, counted. */
  errorCount: number;
  /** Data rows read (empty rows aside). */
  rowsRead: number;
}

export interface ReadSheetOptions<S extends z.ZodType> {
  format: SheetFormat;
  /** One row's schema; `cellText` / `cellInt` / `cellBool` (cells.ts) read a CSV's text and an XLSX's numbers alike. */
  schema: S;
  mapping?: SheetLayout | null;
  /** The fields a row may have; default: the keys of `schema` when it is an object schema. */
  fields?: readonly string[];
  /** A field whose value must differ on every row (an id to upsert by). */
  key?: string;
  /** Data rows at most; default limits.sheetRowsMax. */
  rowsMax?: number;
  /** Bytes at most; default limits.importBytesMax. */
  bytesMax?: number;
}

interface Column {
  index: number;
  header: string;
  field: string;
}

/** Reads, maps and validates every row. Throws only for a file that cannot be read at all (BAD_REQUEST, PAYLOAD_TOO_LARGE). */
export async function readSheet<S extends z.ZodType>(bytes: Uint8Array, options: ReadSheetOptions<S>): Promise<SheetResult<z.infer<S>>> {
  const bytesMax = options.bytesMax ?? limits.importBytesMax;
  const rowsMax = options.rowsMax ?? limits.sheetRowsMax;
  if (bytes.length > bytesMax) throw new LoyaltyError("PAYLOAD_TOO_LARGE", `the file has ${bytes.length} bytes; at most ${bytesMax}`);
  const layout = options.mapping ?? null;
  if (layout?.format && layout.format !== options.format) {
    throw new LoyaltyError("VALIDATION", `the mapping is for ${layout.format} files; this one is ${options.format}`, "format");
  }
  const headerRow = layout?.headerRow ?? 1;
  const raw = await readRawOffThread({ bytes, format: options.format, layout, rowsMax: headerRow + rowsMax + 1 });
  const header = raw.find((r) => r.row === headerRow);
  const body = raw.filter((r) => r.row > headerRow);
  const last = body.at(-1);
  if (last && last.row - headerRow > rowsMax) throw new LoyaltyError("PAYLOAD_TOO_LARGE", `more than ${rowsMax} rows after the header`);
  const out = new Collector<z.infer<S>>();
  const columns = planColumns(header, headerRow, layout, knownFields(options), out);
  if (out.errorCount > 0) return out.result();
  const headerWidth = header!.cells.length;
  const seen = new Map<unknown, number>();
  for (const [i, r] of body.entries()) {
    // Validation runs on the main thread: let other work through now and then.
    if (i % limits.sheetRowsPerYield === limits.sheetRowsPerYield - 1) await new Promise((done) => setImmediate(done));
    if (r.cells.every((c) => c === null)) continue;
    out.rowsRead++;
    const value = readRow(r, columns, headerWidth, options.schema, out);
    if (value === undefined) continue;
    if (options.key !== undefined) {
      const k = (value as Record<string, unknown>)[options.key];
      const first = seen.get(k);
      if (first !== undefined) {
        const column = columns.find((c) => c.field === options.key)?.header ?? null;
        out.add({ row: r.row, column, field: options.key, code: "VALIDATION", message: `the same ${options.key} as row ${first}` });
        continue;
      }
      seen.set(k, r.row);
    }
    out.rows.push({ row: r.row, value });
  }
  return out.result();
}

class Collector<T> {
  rows: SheetRow<T>[] = [];
  errors: RowError[] = [];
  errorCount = 0;
  rowsRead = 0;
  add(e: RowError): void {
    this.errorCount++;
    if (this.errors.length < limits.sheetErrorsKeptMax) this.errors.push(e);
  }
  result(): SheetResult<T> {
    return { rows: this.errorCount > 0 ? [] : this.rows, errors: this.errors, errorCount: this.errorCount, rowsRead: this.rowsRead };
  }
}

/** Header text compared without case and extra spaces: "Points Price " is "points price". */
export function headerKey(text: string): string {
  return text.trim().replace(/\s+/g, " ").toLowerCase();
}

function knownFields<S extends z.ZodType>(options: ReadSheetOptions<S>): { all: readonly string[] | null; required: string[] } {
  const shape = options.schema instanceof z.ZodObject ? (options.schema.shape as Record<string, z.ZodType>) : null;
  const all = options.fields ?? (shape ? Object.keys(shape) : null);
  // A field whose schema refuses "absent" needs a column.
  const required = shape ? Object.keys(shape).filter((f) => !shape[f]!.safeParse(undefined).success) : [];
  return { all, required };
}

/** Which column feeds which field; every problem with the header is reported at once. */
function planColumns(
  header: RawRow | undefined,
  headerRow: number,
  layout: SheetLayout | null,
  fields: { all: readonly string[] | null; required: string[] },
  out: Collector<unknown>,
): Column[] {
  const fail = (column: string | null, field: string | null, message: string) => out.add({ row: headerRow, column, field, code: "VALIDATION", message });
  if (!header || header.cells.every((c) => c === null)) {
    fail(null, null, `row ${headerRow} is empty: the header (the columns' names) is expected there`);
    return [];
  }
  if (header.cells.length > limits.sheetColumnsMax) fail(null, null, `${header.cells.length} columns; at most ${limits.sheetColumnsMax}`);
  const byKey = new Map<string, { index: number; header: string }>();
  header.cells.forEach((cell, index) => {
    if (cell === null) return;
    if (typeof cell === "object") return fail(null, null, `column ${index + 1} of the header holds the error ${cell.error}`);
    const text = String(cell);
    if (byKey.has(headerKey(text))) return fail(text, null, `the column ${text} appears twice in the header`);
    byKey.set(headerKey(text), { index, header: text });
  });
  const columns: Column[] = [];
  const mapped = layout && Object.keys(layout.columns).length > 0 ? layout.columns : null;
  if (mapped) {
    for (const [field, name] of Object.entries(mapped)) {
      const found = byKey.get(headerKey(name));
      if (found) columns.push({ ...found, field });
      else fail(name, field, `the mapping reads ${field} from the column ${name}, which the header does not have`);
    }
  } else {
    for (const { index, header: text } of byKey.values()) {
      if (fields.all && !fields.all.includes(text)) fail(text, null, `unknown column ${text}; the columns are ${fields.all.join(", ")}`);
      else columns.push({ index, header: text, field: text });
    }
  }
  for (const field of fields.required) {
    if (!columns.some((c) => c.field === field) && !(mapped && field in mapped)) fail(null, field, `no column for the required field ${field}`);
  }
  return columns;
}

function cellProblem(cell: RawCell): string | null {
  if (cell !== null && typeof cell === "object") return `the cell holds the error ${cell.error}`;
  if (typeof cell === "string" && cell.length > limits.sheetCellLengthMax) return `the cell has ${cell.length} characters; at most ${limits.sheetCellLengthMax}`;
  return null;
}

/** One row -> its value, or undefined after reporting its errors. */
function readRow<S extends z.ZodType>(r: RawRow, columns: Column[], headerWidth: number, schema: S, out: Collector<unknown>): z.infer<S> | undefined {
  const before = out.errorCount;
  const value: Record<string, Cell> = {};
  const broken = new Set<string>();
  for (const c of columns) {
    const cell = r.cells[c.index] ?? null;
    const problem = cellProblem(cell);
    if (problem) {
      broken.add(c.field);
      out.add({ row: r.row, column: c.header, field: c.field, code: "VALIDATION", message: problem });
    } else if (cell !== null) value[c.field] = cell as Cell;
  }
  const beyond = r.cells.findIndex((cell, i) => i >= headerWidth && cell !== null);
  if (beyond !== -1) out.add({ row: r.row, column: null, field: null, code: "VALIDATION", message: `a value in column ${beyond + 1}, beyond the header's last column (${headerWidth})` });
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const keys = (issue as { keys?: string[] }).keys;
      const path = keys?.length ? [...issue.path, keys[0]!] : issue.path;
      const field = fieldPath(path) || null;
      const top = typeof path[0] === "string" ? path[0] : null;
      if (top !== null && broken.has(top)) continue;
      const column = columns.find((c) => c.field === top)?.header ?? null;
      const message = keys?.length ? `unknown field ${field}` : issue.message.endsWith("received undefined") ? "is required" : issue.message;
      out.add({ row: r.row, column, field, code: isLimitIssue(issue) ? "LIMIT_EXCEEDED" : "VALIDATION", message });
    }
  }
  return out.errorCount === before && parsed.success ? parsed.data : undefined;
}
