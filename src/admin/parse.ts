// Admin bodies -> typed records, or one VALIDATION error naming the first bad field
// (the same field paths as the codec's: `seasonalPrices[0].to`).
import type { z } from "zod";
import { LoyaltyError, validationError } from "../errors.js";

export function parseAdminBody<S extends z.ZodType>(schema: S, value: unknown, what: string, prefix = ""): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw validationError(r.error.issues, what, prefix);
}

/** The body with the path's id filled in; a differing body id is refused. */
export function withPathId(body: unknown, id: string, what: string): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new LoyaltyError("BAD_REQUEST", `a ${what} is a JSON object`);
  const withId = { ...(body as Record<string, unknown>) };
  if (withId.id === undefined) withId.id = id;
  if (withId.id !== id) throw new LoyaltyError("VALIDATION", `the body's id ${String(withId.id)} differs from the path's ${id}`, "id");
  return withId;
}
