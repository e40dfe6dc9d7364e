// The admin routes of spreadsheet imports: saved column mappings, and the kept records of
// past imports with their row errors as CSV. The imports themselves are with what they
// import (rewards, products, sales reports).
import type { z } from "zod";
import { getImport, listImports, errorsCsv, runImport, type ImportReply, type ImportRequest, type ImportSpec, type SheetRow } from "../../admin/sheets/index.js";
import { getMapping, listMappings, mappingSchema, putMapping, removeMapping } from "../../admin/sheets/mappings.js";
// Circular with admin-routes.ts, which lists these routes: Streamed is only used once a route runs.
import { Streamed, type AdminDeps, type Call, type Route } from "./admin-routes.js";
import { listLimit, wireErrorOf, type Reply } from "./reply.js";

/** The query an import route takes (the OpenAPI document names it). */
export const IMPORT_QUERY = { format: "csv or xlsx (default: from the Content-Type or the bytes)", mapping: "the name of a saved column mapping" };

const nameOf = (c: Call): string => (c.req.params as { name: string }).name;
const idOf = (c: Call): string => (c.req.params as { id: string }).id;

/**
 * An import route's run: the file through runImport (sheets/import.ts) to `write`, counted
 * in loyalty_imports_total and logged. The reports import (B2B) runs the same way.
 */
export async function runImportRoute<S extends z.ZodType>(
  { store, metrics, log, now }: AdminDeps,
  c: Call,
  spec: ImportSpec<S>,
  write: (rows: SheetRow<z.infer<S>>[]) => Promise<ImportReply>,
): Promise<Reply> {
  let reply: Reply;
  try {
    reply = await runImport(store, now(), importRequestOf(c), spec, write);
  } catch (err) {
    metrics.imports.labels(spec.target, wireErrorOf(err).code).inc();
    throw err;
  }
  metrics.imports.labels(spec.target, reply.ok ? "imported" : "refused").inc();
  const { importId, rows, errorCount } = reply;
  log.info({ import: { target: spec.target, importId, rows, errorCount, operator: c.operator.name } }, reply.ok ? "spreadsheet imported" : "spreadsheet refused");
  return reply;
}

/** What an import route hands to runImport: the raw body, its declared type, `?format=` and `?mapping=`. */
export function importRequestOf(c: Call): ImportRequest {
  const q = c.req.query as { format?: string; mapping?: string };
  return {
    bytes: (c.req.body as Buffer | undefined) ?? Buffer.alloc(0),
    contentType: c.req.headers["content-type"],
    query: { ...(q.format !== undefined ? { format: q.format } : {}), ...(q.mapping !== undefined ? { mapping: q.mapping } : {}) },
    operator: c.operator.name,
  };
}

export function importRoutes({ store, log, now }: AdminDeps): Route[] {
  return [
    { method: "GET", url: "/v1/admin/import-mappings", role: "read", summary: "List the saved column mappings of imports", query: { limit: "at most this many" }, run: async (c) => ({ ok: true, mappings: listMappings(store, listLimit(c.req.query as { limit?: string })) }) },
    { method: "GET", url: "/v1/admin/import-mappings/:name", role: "read", summary: "One saved column mapping", run: async (c) => ({ ok: true, mapping: getMapping(store, nameOf(c)) }) },
    {
      method: "PUT", url: "/v1/admin/import-mappings/:name", role: "write", summary: "Save a column mapping for imports", body: mappingSchema, pathFills: "name",
      run: async (c) => {
        const mapping = await putMapping(store, nameOf(c), c.json(), now());
        log.info({ mapping: mapping.name, target: mapping.target }, "import mapping saved");
        return { ok: true, mapping };
      },
    },
    {
      method: "DELETE", url: "/v1/admin/import-mappings/:name", role: "write", summary: "Remove a saved column mapping",
      run: async (c) => {
        await removeMapping(store, nameOf(c));
        return { ok: true, name: nameOf(c), removed: true };
      },
    },
    { method: "GET", url: "/v1/admin/imports", role: "read", summary: "The kept records of past imports", query: { limit: "at most this many" }, run: async (c) => ({ ok: true, imports: listImports(store, listLimit(c.req.query as { limit?: string })) }) },
    { method: "GET", url: "/v1/admin/imports/:id", role: "read", summary: "One import's record", run: async (c) => ({ ok: true, import: getImport(store, idOf(c)) }) },
    {
      method: "GET", url: "/v1/admin/imports/:id/errors.csv", role: "read", summary: "An import's row errors as CSV", query: { bom: "1 or true: start with a UTF-8 byte-order mark" }, produces: "text/csv",
      run: async (c) => {
        const record = getImport(store, idOf(c));
        const q = c.req.query as { bom?: string };
        return new Streamed("text/csv; charset=utf-8", errorsCsv(record, q.bom === "1" || q.bom === "true"), `${record.importId}-errors.csv`);
      },
    },
  ];
}
