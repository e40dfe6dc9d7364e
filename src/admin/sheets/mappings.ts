// Column mappings saved by name, one per source of files ("the Kraków depot's monthly
// XLSX"): which header feeds which field, which worksheet, where the header is, and for
// CSV the encoding and delimiter. An import names one with `?mapping=<name>`.
import { z } from "zod";
import { id } from "../../codec/schema.js";
import { LoyaltyError } from "../../errors.js";
import { limits } from "../../limits.js";
import type { Store } from "../../ledger/store.js";
import { parseAdminBody } from "../parse.js";
import { CSV_DELIMITERS, CSV_ENCODINGS, type CsvDelimiter, type CsvEncoding } from "./csv.js";

/** How a file is laid out: what readSheet needs of a mapping. */
export interface SheetLayout {
  /** The file format the mapping is for; null: either. */
  format: "csv" | "xlsx" | null;
  /** field -> the header of the column that feeds it; empty: the headers are the field names. */
  columns: Record<string, string>;
  /** XLSX: the worksheet's name; null: the first. */
  sheet: string | null;
  /** The header's row number (rows above it, such as a title, are skipped). */
  headerRow: number;
  /** CSV: the delimiter; null: guessed from the header line. */
  delimiter: CsvDelimiter | null;
  /** CSV: the text encoding. */
  encoding: CsvEncoding;
}

export interface ImportMapping extends SheetLayout {
  name: string;
  /** The import it is for ("rewards", "products", "reports"…); null: any. An import refuses another's mapping. */
  target: string | null;
  updatedAt: number;
}

const header = z.string().trim().min(1).max(200);

export const mappingSchema = z
  .object({
    name: id,
    target: id.nullable().default(null),
    format: z.enum(["csv", "xlsx"]).nullable().default(null),
    columns: z
      .record(id, header)
      .default({})
      .refine((c) => Object.keys(c).length <= limits.sheetColumnsMax, `at most ${limits.sheetColumnsMax} columns`),
    sheet: z.string().min(1).max(31).nullable().default(null),
    headerRow: z.number().int().min(1).max(1000).default(1),
    delimiter: z.enum(CSV_DELIMITERS).nullable().default(null),
    encoding: z.enum(CSV_ENCODINGS).default("utf-8"),
  })
  .strict();

export async function putMapping(store: Store, name: string, body: unknown, now: number): Promise<ImportMapping> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new LoyaltyError("BAD_REQUEST", "a mapping is a JSON object");
  const withName = { name, ...(body as Record<string, unknown>) };
  if (withName.name !== name) throw new LoyaltyError("VALIDATION", `the body's name differs from the path's ${name}`, "name");
  const parsed = parseAdminBody(mappingSchema, withName, "mapping");
  const mapping: ImportMapping = { ...parsed, updatedAt: now };
  await store.env.transaction(() => {
    if (!store.importMappings.get(name) && store.importMappings.getKeysCount() >= limits.importMappingsMax) {
      throw new LoyaltyError("LIMIT_EXCEEDED", `at most ${limits.importMappingsMax} mappings`, "name");
    }
    store.importMappings.put(name, mapping);
  });
  return mapping;
}

export function getMapping(store: Store, name: string): ImportMapping {
  store.env.resetReadTxn();
  const m = store.importMappings.get(name);
  if (!m) throw new LoyaltyError("UNKNOWN_MAPPING", `no import mapping ${name}`, "mapping");
  return m;
}

/** The mapping an import of `target` may use: one saved for that import, or for any. */
export function mappingFor(store: Store, name: string, target: string): ImportMapping {
  const m = getMapping(store, name);
  if (m.target !== null && m.target !== target) throw new LoyaltyError("VALIDATION", `the mapping ${name} is for ${m.target} imports, not ${target}`, "mapping");
  return m;
}

export function listMappings(store: Store, limit: number): ImportMapping[] {
  store.env.resetReadTxn();
  return [...store.importMappings.getRange({ limit })].map(({ value }) => value);
}

export async function removeMapping(store: Store, name: string): Promise<void> {
  const removed = await store.env.transaction(() => {
    if (!store.importMappings.get(name)) return false;
    store.importMappings.remove(name);
    return true;
  });
  if (!removed) throw new LoyaltyError("UNKNOWN_MAPPING", `no import mapping ${name}`, "mapping");
}
