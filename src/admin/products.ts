// The product card: points per unit and points price per SKU, set one by one through
// the admin API or imported from a spreadsheet (CSV or XLSX). A change bumps the programme-set version, so
// every partition recompiles its plan before its next batch, as for programmes.
import { z } from "zod";
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import { id } from "../codec/schema.js";
import { parseAdminBody } from "./parse.js";
import { cellBool, cellInt, cellText } from "./sheets/cells.js";
import type { SheetRow } from "./sheets/read.js";
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
 * One row of a product-card spreadsheet (CSV or XLSX): sku, and any of name, category,
 * pointsPerUnit, pointsPrice, active, listPrice. A row replaces the product as PUT does.
 */
export const productRowSchema = z
  .object({
    sku: cellText(id),
    name: cellText(z.string().max(200)).optional(),
    category: cellText(id).optional(),
    pointsPerUnit: cellInt(points).optional(),
    pointsPrice: cellInt(points).optional(),
    active: cellBool(z.boolean()).optional(),
    listPrice: cellInt(z.number().int().min(0).max(limits.unitPriceMax)).optional(),
  })
  .strict();

/** Writes every row of a validated product-card import in one transaction (see sheets/import.ts). */
export async function importProducts(store: Store, rows: SheetRow<z.infer<typeof productRowSchema>>[]): Promise<{ imported: number }> {
  await store.env.transaction(() => {
    for (const { value } of rows) store.products.put(value.sku, value);
    bumpPlan(store);
  });
  return { imported: rows.length };
}
