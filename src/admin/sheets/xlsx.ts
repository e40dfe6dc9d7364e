// XLSX bytes -> raw rows, with exceljs (maintained, typed, reads shared strings, rich
// text, formulas' cached results and dates; the `xlsx` package on npm is SheetJS's last
// public release, 0.18.5, left with known advisories since its authors moved off npm).
import ExcelJS from "exceljs";
import { LoyaltyError } from "../../errors.js";
import { limits } from "../../limits.js";
import type { RawCell, RawRow } from "./raw.js";

export interface XlsxOptions {
  /** The worksheet's name; null: the first worksheet. */
  sheet: string | null;
  /** Rows read at most (the header and the rows above it included). */
  rowsMax: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const EOCD_SIZE = 22;
const ZIP64_MARK = 0xffffffff;

/**
 * What the archive says its parts weigh once inflated, read from its central directory
 * (the zip format's table of contents at the end of the file). exceljs inflates every part
 * into memory, so a small file that claims gigabytes is refused before that. The sizes
 * are the archive's own claims: the inflater refuses a part longer than claimed once it is
 * read, which bounds an honest file, and the route needs the write role. jszip (what
 * exceljs reads with) keeps these sizes private, hence the few lines here.
 */
export function unzippedBytes(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - EOCD_SIZE; i >= Math.max(0, bytes.length - EOCD_SIZE - 0xffff); i--) {
    if (view.getUint32(i, true) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd === -1) throw new LoyaltyError("BAD_REQUEST", "not an XLSX file (no zip directory)");
  const entries = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  let total = 0;
  for (let n = 0; n < entries; n++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== CENTRAL_SIGNATURE) throw new LoyaltyError("BAD_REQUEST", "not an XLSX file (a damaged zip directory)");
    const size = view.getUint32(at + 24, true);
    if (size === ZIP64_MARK) return Number.POSITIVE_INFINITY;
    total += size;
    at += 46 + view.getUint16(at + 28, true) + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return total;
}

/** One exceljs cell value -> a raw cell. Dates at midnight UTC are calendar dates ("2026-03-01"). */
export function rawCellOf(value: ExcelJS.CellValue): RawCell {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return Number.isFinite(value) ? value : { error: String(value) };
  if (typeof value === "string") return value.trim() === "" ? null : value.trim();
  if (typeof value === "boolean") return value ? "true" : "false";
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return { error: "#DATE!" };
    const iso = value.toISOString();
    return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : iso;
  }
  if ("error" in value) return { error: String(value.error) };
  if ("richText" in value) return rawCellOf(value.richText.map((r) => r.text).join(""));
  if ("formula" in value || "sharedFormula" in value) {
    const result = (value as { result?: unknown }).result;
    // A file written by a program that does not compute formulas carries none.
    if (result === undefined) return { error: "a formula without a saved result" };
    return typeof result === "object" && result !== null && !(result instanceof Date) && "error" in result
      ? { error: String((result as { error: unknown }).error) }
      : rawCellOf(result as ExcelJS.CellValue);
  }
  if ("text" in value) return rawCellOf(typeof value.text === "string" ? value.text : String(value.text));
  return { error: "a cell of an unknown kind" };
}

export async function readXlsxRows(bytes: Uint8Array, options: XlsxOptions): Promise<RawRow[]> {
  const inflated = unzippedBytes(bytes);
  if (inflated > limits.sheetUnzippedBytesMax) {
    throw new LoyaltyError("PAYLOAD_TOO_LARGE", `the XLSX holds ${inflated} bytes once unpacked; at most ${limits.sheetUnzippedBytesMax}`);
  }
  const workbook = new ExcelJS.Workbook();
  try {
    // exceljs types its argument as the older, non-generic Buffer.
    await workbook.xlsx.load(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as unknown as Parameters<typeof workbook.xlsx.load>[0]);
  } catch (err) {
    throw new LoyaltyError("BAD_REQUEST", `not a readable XLSX file: ${(err as Error).message}`);
  }
  const sheet = options.sheet === null ? workbook.worksheets[0] : workbook.getWorksheet(options.sheet);
  if (!sheet) {
    const names = workbook.worksheets.map((w) => w.name).join(", ");
    throw new LoyaltyError("VALIDATION", options.sheet === null ? "the workbook has no worksheet" : `no worksheet ${options.sheet} (the workbook has: ${names})`, "sheet");
  }
  if (sheet.actualRowCount > options.rowsMax) {
    throw new LoyaltyError("PAYLOAD_TOO_LARGE", `the worksheet has ${sheet.actualRowCount} rows; at most ${options.rowsMax}`);
  }
  const rows: RawRow[] = [];
  sheet.eachRow({ includeEmpty: false }, (row, number) => {
    // row.values is 1-based: index 0 is always empty.
    const values = (row.values as ExcelJS.CellValue[]).slice(1);
    const cells: RawCell[] = [];
    for (let i = 0; i < values.length; i++) cells.push(rawCellOf(values[i]));
    rows.push({ row: number, cells });
  });
  return rows;
}
