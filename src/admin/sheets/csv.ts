// CSV bytes -> raw rows (csv-parse). The text's encoding and delimiter come from the
// column mapping; without one, UTF-8 (a BOM is dropped) and the delimiter the header
// line uses most of `,` `;` `\t` (spreadsheet programs in Polish or German locales
// write `;`).
import { parse } from "csv-parse/sync";
import { LoyaltyError } from "../../errors.js";
import { limits } from "../../limits.js";
import type { RawRow } from "./raw.js";

export const CSV_ENCODINGS = ["utf-8", "windows-1250", "iso-8859-2", "utf-16le"] as const;
export type CsvEncoding = (typeof CSV_ENCODINGS)[number];
export const CSV_DELIMITERS = [",", ";", "\t", "|"] as const;
export type CsvDelimiter = (typeof CSV_DELIMITERS)[number];

export interface CsvOptions {
  encoding: CsvEncoding;
  delimiter: CsvDelimiter | null;
  /** The header's row number (1-based): the delimiter is guessed from that line. */
  headerRow: number;
  /** Records read at most (the header and the rows above it included); more are not parsed. */
  recordsMax: number;
}

export function decodeText(bytes: Uint8Array, encoding: CsvEncoding): string {
  try {
    // fatal: a byte sequence that is not in the encoding is refused rather than turned into U+FFFD.
    return new TextDecoder(encoding, { fatal: true }).decode(bytes);
  } catch {
    throw new LoyaltyError("BAD_REQUEST", `the file is not valid ${encoding} text; a saved mapping can name its encoding (${CSV_ENCODINGS.join(", ")})`);
  }
}

/** The candidate found most often outside quotes on the header's line; `,` when none is. */
export function guessDelimiter(text: string, headerRow: number): CsvDelimiter {
  let start = 0;
  for (let n = 1; n < headerRow; n++) {
    const newline = text.indexOf("\n", start);
    if (newline === -1) return ",";
    start = newline + 1;
  }
  const end = text.indexOf("\n", start);
  const line = text.slice(start, end === -1 ? Math.min(text.length, start + 65_536) : end);
  const counts = new Map<CsvDelimiter, number>(CSV_DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && counts.has(ch as CsvDelimiter)) counts.set(ch as CsvDelimiter, counts.get(ch as CsvDelimiter)! + 1);
  }
  let best: CsvDelimiter = ",";
  for (const [d, n] of counts) if (n > counts.get(best)!) best = d;
  return best;
}

/** Every record as trimmed text cells ("" -> null), numbered from 1 as a spreadsheet program shows them. */
export function readCsvRows(bytes: Uint8Array, options: CsvOptions): RawRow[] {
  const text = decodeText(bytes, options.encoding);
  const delimiter = options.delimiter ?? guessDelimiter(text, options.headerRow);
  let records: string[][];
  try {
    records = parse(text, {
      bom: true,
      delimiter,
      trim: true,
      // Empty lines stay records, so that row numbers match the file; read.ts skips them.
      skip_empty_lines: false,
      relax_column_count: true,
      to: options.recordsMax,
      max_record_size: limits.sheetCellLengthMax * limits.sheetColumnsMax,
    });
  } catch (err) {
    throw new LoyaltyError("BAD_REQUEST", `not valid CSV: ${(err as Error).message}`);
  }
  return records.map((cells, i) => ({ row: i + 1, cells: cells.map((c) => (c === "" ? null : c)) }));
}
