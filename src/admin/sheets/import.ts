// One spreadsheet import over HTTP, whatever it imports: the file's format (from
// `?format=`, the Content-Type, or its first bytes), the saved mapping `?mapping=<name>`,
// every row read and validated, and only then the caller's write; the outcome and the row
// errors are kept (records.ts) under the import's id.
//
// Use (an admin route's run, through ingest/http/import-routes.ts, which also counts and logs):
//   run: (c) => runImportRoute(deps, c, { target: "reports", schema: reportLineSchema },
//     async (rows) => ({ imported: rows.length }))   // write in one transaction; its reply's fields join the answer
import type { z } from "zod";
import { LoyaltyError, failure } from "../../errors.js";
import { limits } from "../../limits.js";
import type { Store } from "../../ledger/store.js";
import { mappingFor } from "./mappings.js";
import { readSheet, type SheetFormat, type SheetRow } from "./read.js";
import { saveImport } from "./records.js";

export interface ImportRequest {
  bytes: Uint8Array;
  contentType: string | undefined;
  query: { format?: string; mapping?: string };
  operator: string;
}

export interface ImportSpec<S extends z.ZodType> {
  /** The import's name, as a mapping's `target` names it: "rewards", "products", "reports"… */
  target: string;
  schema: S;
  key?: string;
  fields?: readonly string[];
  rowsMax?: number;
}

export type ImportReply = Record<string, unknown>;

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

/** `?format=csv|xlsx`, else the Content-Type, else the file's first bytes (an XLSX is a zip archive). */
export function formatOf(request: Pick<ImportRequest, "bytes" | "contentType" | "query">): SheetFormat {
  const asked = request.query.format;
  if (asked !== undefined) {
    if (asked === "csv" || asked === "xlsx") return asked;
    throw new LoyaltyError("VALIDATION", "format must be csv or xlsx", "format");
  }
  const type = (request.contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (type.includes("spreadsheetml") || type === "application/vnd.ms-excel") return "xlsx";
  if (type === "text/csv" || type === "application/csv" || type === "text/plain") return "csv";
  return ZIP_MAGIC.every((b, i) => request.bytes[i] === b) ? "xlsx" : "csv";
}

export function importErrorsPath(importId: string): string {
  return `/v1/admin/imports/${importId}/errors.csv`;
}

/**
 * Reads and validates the whole file, then calls `write` with every row, or writes nothing
 * and answers 422 with the row errors (the first limits.sheetErrorsListedMax; the rest are
 * in the import's error CSV). The top-level error names the first bad row and field
 * (`field: "row 3.pointsPrice"`), as a single-record admin call names its field.
 */
export async function runImport<S extends z.ZodType>(
  store: Store,
  now: number,
  request: ImportRequest,
  spec: ImportSpec<S>,
  write: (rows: SheetRow<z.infer<S>>[]) => Promise<ImportReply>,
): Promise<ImportReply> {
  const format = formatOf(request);
  const mapping = request.query.mapping ? mappingFor(store, request.query.mapping, spec.target) : null;
  const sheet = await readSheet(request.bytes, {
    format,
    schema: spec.schema,
    mapping,
    ...(spec.key !== undefined ? { key: spec.key } : {}),
    ...(spec.fields !== undefined ? { fields: spec.fields } : {}),
    ...(spec.rowsMax !== undefined ? { rowsMax: spec.rowsMax } : {}),
  });
  const base = { target: spec.target, at: now, operator: request.operator, format, mapping: mapping?.name ?? null, bytes: request.bytes.length, rows: sheet.rowsRead };
  if (sheet.errorCount > 0) {
    const record = await saveImport(store, { ...base, outcome: "refused", result: null, errorCount: sheet.errorCount, errors: sheet.errors });
    const first = sheet.errors[0]!;
    const where = first.field ?? first.column;
    const message = `${sheet.errorCount} error(s) in the file; nothing was imported. First: row ${first.row}${where ? ` (${where})` : ""}: ${first.message}`;
    return {
      ...failure({ code: first.code, message, field: where ? `row ${first.row}.${where}` : `row ${first.row}` }),
      importId: record.importId,
      rows: sheet.rowsRead,
      errorCount: sheet.errorCount,
      errors: sheet.errors.slice(0, limits.sheetErrorsListedMax),
      errorsCsv: importErrorsPath(record.importId),
    };
  }
  let result: ImportReply;
  try {
    result = await write(sheet.rows);
  } catch (err) {
    const code = err instanceof LoyaltyError ? err.code : "INTERNAL";
    await saveImport(store, { ...base, outcome: code, result: null, errorCount: 0, errors: [] });
    throw err;
  }
  const record = await saveImport(store, { ...base, outcome: "imported", result, errorCount: 0, errors: [] });
  return { ok: true, importId: record.importId, rows: sheet.rowsRead, ...result };
}
