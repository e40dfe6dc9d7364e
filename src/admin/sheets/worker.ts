// The thread that reads one spreadsheet file into raw rows (sheets/thread.ts starts it):
// decoding a CSV or unpacking and parsing an XLSX takes seconds and hundreds of MB for a
// large file, which must not stall the main thread that relays every request, and a file
// that needs more memory than the thread may have ends this thread, not the engine.
import { parentPort, workerData } from "node:worker_threads";
import { LoyaltyError } from "../../errors.js";
import { limits } from "../../limits.js";
import { readCsvRows } from "./csv.js";
import type { SheetLayout } from "./mappings.js";
import type { RawRow } from "./raw.js";
import type { SheetFormat } from "./read.js";

export interface ReadJob {
  bytes: Uint8Array;
  format: SheetFormat;
  layout: SheetLayout | null;
  /** Rows read at most, the header and the rows above it included. */
  rowsMax: number;
}

export type ReadMessage =
  | { type: "rows"; rows: RawRow[] }
  | { type: "done" }
  | { type: "error"; code: string; message: string; field?: string };

export async function readRaw(job: ReadJob): Promise<RawRow[]> {
  const { bytes, format, layout, rowsMax } = job;
  if (format === "xlsx") {
    // Loaded for XLSX only: exceljs takes a while to load, and a CSV does not need it.
    const { readXlsxRows } = await import("./xlsx.js");
    return readXlsxRows(bytes, { sheet: layout?.sheet ?? null, rowsMax });
  }
  return readCsvRows(bytes, { encoding: layout?.encoding ?? "utf-8", delimiter: layout?.delimiter ?? null, headerRow: layout?.headerRow ?? 1, recordsMax: rowsMax });
}

async function main(): Promise<void> {
  const post = (m: ReadMessage) => parentPort!.postMessage(m);
  let rows: RawRow[];
  try {
    rows = await readRaw(workerData as ReadJob);
  } catch (err) {
    post(
      err instanceof LoyaltyError
        ? { type: "error", code: err.code, message: err.message, ...(err.field !== undefined ? { field: err.field } : {}) }
        : { type: "error", code: "INTERNAL", message: (err as Error).message },
    );
    return;
  }
  // In chunks, one at a time: the main thread decodes each message in one go, and drains
  // every message already queued in one turn, so 200,000 rows sent at once held it for seconds.
  for (let i = 0; i < rows.length; i += limits.sheetRowsPerMessage) {
    post({ type: "rows", rows: rows.slice(i, i + limits.sheetRowsPerMessage) });
    await new Promise((more) => parentPort!.once("message", more));
  }
  post({ type: "done" });
}

if (parentPort) void main();
