// Saved segments: `PUT|GET|DELETE /v1/admin/segments/<id>` keep `{id, name, filter}`;
// a programme's `scope.segments` and the CSV export name them.
import { z } from "zod";
import { id } from "../../codec/schema.js";
import { LoyaltyError } from "../../errors.js";
import { limits } from "../../limits.js";
import type { Store } from "../../ledger/store.js";
import { parseAdminBody, withPathId } from "../parse.js";
import { filterSchema, type Filter } from "./filter.js";

export interface Segment {
  id: string;
  name: string;
  filter: Filter;
  updatedAt: number;
}

export const segmentSchema = z.object({ id, name: z.string().min(1).max(200), filter: filterSchema }).strict();

/** A query body: `{filter, limit?, cursor?}`. */
export const queryBodySchema = z
  .object({
    filter: filterSchema,
    limit: z.number().int().min(1).max(limits.segmentPageMax).default(100),
    cursor: id.nullable().default(null),
  })
  .strict();

export function parseFilter(value: unknown): Filter {
  return parseAdminBody(filterSchema, value, "filter", "filter");
}

export async function putSegment(store: Store, segmentId: string, body: unknown, now: number): Promise<Segment> {
  const parsed = parseAdminBody(segmentSchema, withPathId(body, segmentId, "segment"), "segment");
  const segment: Segment = { ...parsed, updatedAt: now };
  await store.env.transaction(() => {
    if (!store.segments.get(segmentId) && store.segments.getKeysCount() >= limits.segmentsMax) {
      throw new LoyaltyError("LIMIT_EXCEEDED", `${limits.segmentsMax} segments are saved already`);
    }
    store.segments.put(segmentId, segment);
  });
  return segment;
}

export function getSegment(store: Store, segmentId: string): Segment {
  store.env.resetReadTxn();
  const s = store.segments.get(segmentId);
  if (!s) throw new LoyaltyError("UNKNOWN_SEGMENT", `no segment ${segmentId}`, "id");
  return s;
}

export function listSegments(store: Store, limit: number): Segment[] {
  store.env.resetReadTxn();
  return [...store.segments.getRange({ limit })].map(({ value }) => value);
}

export async function removeSegment(store: Store, segmentId: string): Promise<void> {
  const removed = await store.env.transaction(() => store.segments.remove(segmentId));
  if (!removed) throw new LoyaltyError("UNKNOWN_SEGMENT", `no segment ${segmentId}`, "id");
}
