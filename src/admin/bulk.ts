// Bulk jobs: convert what many customers earned in a period into prepaid value, or
// credit many compensation top-ups. Each item is an ordinary idempotent command with
// the request id `<jobId>/<item>`, so a job interrupted by a crash is resumed by
// sending it again: items already applied answer as duplicates and change nothing.
import { z } from "zod";
import { customerRef, id } from "../codec/schema.js";
import type { Verb } from "../codec/schema.js";
import { limits } from "../limits.js";
import type { Store } from "../ledger/store.js";
import type { Handler, Reply } from "../ingest/handler.js";
import { parseAdminBody } from "./parse.js";

const jobId = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, "must be 1-64 letters, digits or . _ : -");
const epochMs = z.number().int().min(0);

export const bulkConvertSchema = z
  .object({
    jobId,
    from: id.default("points"),
    to: id.default("prepaid"),
    earnedFrom: epochMs,
    earnedTo: epochMs,
    /** Default: every customer. */
    customers: z.array(customerRef).min(1).max(limits.bulkItemsMax).optional(),
  })
  .strict()
  .refine((j) => j.earnedFrom < j.earnedTo, { message: "must be after earnedFrom", path: ["earnedTo"] });

export const bulkAdjustSchema = z
  .object({
    jobId,
    account: id.default("prepaid"),
    reason: z.string().min(1).max(500),
    operator: id,
    /** "compensation": every item is a compensation top-up (positive amounts only). */
    kind: z.enum(["adjustment", "compensation"]).optional(),
    items: z
      .array(z.object({ customer: customerRef, amount: z.number().int().refine((n) => n !== 0, "must not be zero") }).strict())
      .min(1)
      .max(limits.bulkItemsMax),
  })
  .strict()
  .superRefine((j, ctx) => {
    if (j.kind !== "compensation") return;
    const i = j.items.findIndex((it) => it.amount <= 0);
    if (i !== -1) ctx.addIssue({ code: "custom", path: ["items", i, "amount"], message: "a compensation credits: amount must be positive" });
  });

export interface BulkResult {
  ok: true;
  jobId: string;
  items: number;
  applied: number;
  duplicates: number;
  declined: number;
  /** The first failures (bounded), each with the item's request id and error code. */
  failed: { requestId: string; code: string; message: string }[];
  failedCount: number;
}

interface Item {
  requestId: string;
  value: Record<string, unknown>;
}

/** Runs the items through the normal pipeline, a bounded number at a time. */
async function runItems(handler: Handler, verb: Verb, jobIdValue: string, items: AsyncIterable<Item> | Iterable<Item>): Promise<BulkResult> {
  const result: BulkResult = { ok: true, jobId: jobIdValue, items: 0, applied: 0, duplicates: 0, declined: 0, failed: [], failedCount: 0 };
  const inFlight = new Set<Promise<void>>();
  const record = (requestId: string, reply: Reply) => {
    if (reply.ok === false) {
      result.failedCount++;
      const error = reply.error as { code: string; message: string };
      if (result.failed.length < limits.bulkFailuresListedMax) result.failed.push({ requestId, code: error.code, message: error.message });
    } else if (reply.duplicate === true) result.duplicates++;
    else if (reply.approved === false) result.declined++;
    else result.applied++;
  };
  for await (const item of items) {
    result.items++;
    let retries = 0;
    const run = async (): Promise<void> => {
      const reply = await handler.handleValue("http", verb, item.value);
      // A full partition is back-pressure, not a failure: wait and resend the same item.
      if (reply.ok === false && (reply.error as { code: string }).code === "OVERLOADED" && retries++ < limits.bulkRetriesMax) {
        await new Promise((r) => setTimeout(r, limits.streamRetryDelayMs));
        return run();
      }
      record(item.requestId, reply);
    };
    const p = run().finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= limits.bulkConcurrencyMax) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return result;
}

export async function bulkConvert(store: Store, handler: Handler, body: unknown): Promise<BulkResult> {
  const job = parseAdminBody(bulkConvertSchema, body, "bulk conversion");
  const base = { from: job.from, to: job.to, earnedFrom: job.earnedFrom, earnedTo: job.earnedTo };
  function* items(): Iterable<Item> {
    if (job.customers) {
      for (const [i, customer] of job.customers.entries()) {
        const requestId = `${job.jobId}/${i}`;
        yield { requestId, value: { requestId, customer, ...base } };
      }
      return;
    }
    store.env.resetReadTxn();
    for (const customerId of store.customers.getKeys()) {
      const requestId = `${job.jobId}/${customerId}`;
      yield { requestId, value: { requestId, customer: { customerId }, ...base } };
    }
  }
  return runItems(handler, "convertEarned", job.jobId, items());
}

export type BulkAdjustJob = z.infer<typeof bulkAdjustSchema>;

/** A bulk adjustment's body, validated (the HTTP layer looks at its amounts before running it). */
export function parseBulkAdjust(body: unknown): BulkAdjustJob {
  return parseAdminBody(bulkAdjustSchema, body, "bulk adjustment");
}

export async function bulkAdjust(handler: Handler, body: unknown): Promise<BulkResult> {
  const job = parseBulkAdjust(body);
  const items = job.items.map((it, i) => {
    const requestId = `${job.jobId}/${i}`;
    const value = { requestId, customer: it.customer, account: job.account, amount: it.amount, reason: job.reason, operator: job.operator, ...(job.kind ? { kind: job.kind } : {}) };
    return { requestId, value };
  });
  return runItems(handler, "adjust", job.jobId, items);
}
