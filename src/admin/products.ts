// The product card: points per unit and points price per SKU, set one by one through
// the admin API or imported from CSV. A change bumps the programme-set version, so
// every partition recompiles its plan before its next batch, as for programmes.
import { parse as parseCsv } from "csv-parse/sync";
import { z } from "zod";
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import { id } from "../codec/schema.js";
import { parseAdminBody } from "./parse.js";
import type { Product, Store } from "../ledger/store.js";

const points = z.number().int().min(0).max(1_000_000_000);
export const productSchema = z
  .object({
    sku: id,
    name: z.string().max(200).optional(),
    category: id.optional(),
    pointsPerUnit: points.optional(),
    pointsPrice: points.optional(),
    /** false: withdrawn; a sales report naming it waits for review (INACTIVE_PRODUCT). */
    active: z.boolean().optional(),
    /** Per unit, minor units: report lines are checked against it (PRICE_MISMATCH). */
    listPrice: z.number().int().min(0).max(limits.unitPriceMax).optional(),
  })
  .strict();

export function parseProduct(value: unknown, where = ""): Product {
  return parseAdminBody(productSchema, value, "product", where);
}

function bumpPlan(store: Store): void {
  store.meta.put("programmesVersion", (store.meta.get("programmesVersion") ?? 0) + 1);
}

export async function putProduct(store: Store, sku: string, body: unknown): Promise<Product> {
  const withSku = typeof body === "object" && body !== null && !Array.isArray(body) ? { sku, ...(body as object) } : body;
  const product = parseProduct(withSku);
  if (product.sku !== sku) throw new LoyaltyError("VALIDATION", `the body's sku differs from the path's ${sku}`, "sku");
  await store.env.transaction(() => {
    store.products.put(sku, product);
    bumpPlan(store);
  });
  return product;
}

export async function removeProduct(store: Store, sku: string): Promise<boolean> {
  return store.env.transaction(() => {
    if (!store.products.get(sku)) return false;
    store.products.remove(sku);
    bumpPlan(store);
    return true;
  });
}

export function listProducts(store: Store, limit: number): Product[] {
  store.env.resetReadTxn();
  return [...store.products.getRange({ limit })].map(({ value }) => value);
}

/**
 * CSV with a header row: sku, and any of name, category, pointsPerUnit, pointsPrice, active, listPrice.
 * All rows are validated first; one bad row refuses the whole file (naming row and
 * column), so an import never half-applies.
 */
export async function importProductsCsv(store: Store, text: string): Promise<{ imported: number }> {
  let rows: Record<string, string>[];
  try {
    rows = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, bom: true });
  } catch (err) {
    throw new LoyaltyError("BAD_REQUEST", `not valid CSV: ${(err as Error).message}`);
  }
  if (rows.length > limits.productImportRowsMax) {
    throw new LoyaltyError("PAYLOAD_TOO_LARGE", `${rows.length} rows; at most ${limits.productImportRowsMax} per import`);
  }
  const products = rows.map((row, i) => {
    const value: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) {
      if (v === "") continue;
      if (k === "active") value[k] = v === "true" ? true : v === "false" ? false : v;
      else value[k] = k === "pointsPerUnit" || k === "pointsPrice" || k === "listPrice" ? (/^\d+$/.test(v) ? Number(v) : v) : v;
    }
    try {
      return parseProduct(value, `row ${i + 2}: `);
    } catch (err) {
      if (err instanceof LoyaltyError) throw new LoyaltyError("VALIDATION", err.message, `row ${i + 2}.${err.field}`);
      throw err;
    }
  });
  await store.env.transaction(() => {
    for (const p of products) store.products.put(p.sku, p);
    bumpPlan(store);
  });
  return { imported: products.length };
}
