// Every spreadsheet import leaves a record: when, by whom, what file, how many rows, what
// was written, and its row errors (the first limits.sheetErrorsKeptMax), so that the
// administrator can download the errors as CSV by the import's id. The newest
// limits.importReportsKeptMax records are kept.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { stringify } from "csv-stringify";
import { LoyaltyError } from "../../errors.js";
import { limits } from "../../limits.js";
import type { Store } from "../../ledger/store.js";
import type { RowError, SheetFormat } from "./read.js";

export interface ImportRecord {
  importId: string;
  /** What was imported: "rewards", "products", "reports"… */
  target: string;
  at: number;
  operator: string;
  format: SheetFormat;
  /** The saved mapping used, if any. */
  mapping: string | null;
  bytes: number;
  /** Data rows read. */
  rows: number;
  /** "imported", "refused" (row errors; nothing written) or the error code of a write that failed. */
  outcome: string;
  /** What the write reported (counts), when it ran. */
  result: Record<string, unknown> | null;
  errorCount: number;
  errors: RowError[];
}

/** Ids sort by time: the oldest records are the first keys, and pruning reads them first. */
function newImportId(now: number): string {
  return `imp_${now.toString(36).padStart(9, "0")}_${randomBytes(4).toString("hex")}`;
}

export async function saveImport(store: Store, record: Omit<ImportRecord, "importId">): Promise<ImportRecord> {
  const full: ImportRecord = { importId: newImportId(record.at), ...record };
  await store.env.transaction(() => {
    store.imports.put(full.importId, full);
    const over = store.imports.getKeysCount() - limits.importReportsKeptMax;
    if (over > 0) for (const key of store.imports.getKeys({ limit: over })) store.imports.remove(key);
  });
  return full;
}

export function getImport(store: Store, importId: string): ImportRecord {
  store.env.resetReadTxn();
  const r = store.imports.get(importId);
  if (!r) throw new LoyaltyError("UNKNOWN_IMPORT", `no import ${importId} (the newest ${limits.importReportsKeptMax} are kept)`, "importId");
  return r;
}

/** The newest first, without their errors. */
export function listImports(store: Store, limit: number): Omit<ImportRecord, "errors">[] {
  store.env.resetReadTxn();
  return [...store.imports.getRange({ reverse: true, limit })].map(({ value }) => {
    const { errors: _errors, ...rest } = value;
    return rest;
  });
}

export const ERROR_CSV_COLUMNS = ["row", "column", "field", "code", "message"] as const;

/** The row errors as CSV: a header row, then one line per error, in row order. */
export function errorsCsv(record: ImportRecord, bom = false): Readable {
  const csv = stringify({ header: true, columns: [...ERROR_CSV_COLUMNS], bom });
  Readable.from(record.errors).pipe(csv);
  return csv;
}
