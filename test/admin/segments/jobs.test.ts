// Segment jobs split between threads by key range, on a real LMDB with real worker threads:
// the answer, every page through the cursor and the CSV are the same as on one thread,
// also when the later range's thread fills its look-ahead and waits for a slow reader.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SegmentJobs } from "../../../src/admin/segments/jobs.js";
import type { Filter } from "../../../src/admin/segments/filter.js";
import { limits } from "../../../src/limits.js";
import { cmd, openHarness, type Harness } from "../../ledger/harness.js";

const CUSTOMERS = 1500;
const GROUPS = ["regular", "VIP", "staff", "regular", "VIP"];
let h: Harness;

beforeAll(async () => {
  h = await openHarness();
  for (let n = 0; n < CUSTOMERS; n += 250) {
    const batch = Array.from({ length: 250 }, (_, i) => {
      const k = n + i;
      return cmd("enroll", { requestId: `e-${k}`, card: `C-${k}`, group: GROUPS[k % GROUPS.length], profile: { name: `Name, "${k}"`, email: `c${k}@example.com`, consents: { email: k % 2 === 0, sms: k % 3 === 0 } } });
    });
    await h.apply(batch);
  }
}, 60_000);
afterAll(async () => h?.close());

const path = () => join(h.dir, "data");

async function pages(jobs: SegmentJobs, filter: Filter, limit: number): Promise<{ counts: number[]; ids: string[] }> {
  const counts: number[] = [];
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const r = await jobs.query({ filter, limit, cursor, now: h.clock.now });
    counts.push(r.count);
    ids.push(...r.customers.map((c) => c.customerId));
    cursor = r.next;
  } while (cursor !== null);
  return { counts, ids };
}

async function csvOf(jobs: SegmentJobs, filter: Filter, rowsPerChunk: number, slow = false): Promise<string> {
  let text = "";
  for await (const chunk of jobs.export({ filter, consent: "email", now: h.clock.now, bom: true, rowsPerChunk })) {
    text += String(chunk);
    if (slow) await new Promise((r) => setTimeout(r, 1));
  }
  return text;
}

describe("segment jobs split by key range", () => {
  const filters: Filter[] = [{}, { groups: ["VIP", "staff"] }, { all: [{ groups: ["VIP"] }, { consent: "sms" }] }, { groups: ["nobody"] }];

  it("count the same members and page through the same ids, in id order, as one thread", async () => {
    const one = new SegmentJobs(path(), h.store, 1);
    const split = new SegmentJobs(path(), h.store, 2);
    for (const filter of filters) {
      const [a, b] = [await pages(one, filter, 397), await pages(split, filter, 397)];
      expect(b, JSON.stringify(filter)).toEqual(a);
      expect(b.ids).toEqual([...b.ids].sort());
      expect(new Set(b.counts).size).toBe(1);
      expect(b.ids.length).toBe(b.counts[0]);
    }
    expect((await pages(split, {}, 1000)).ids).toHaveLength(CUSTOMERS);
  });

  it("export the same CSV as one thread: one header (with the BOM), rows in id order", async () => {
    const one = new SegmentJobs(path(), h.store, 1);
    const split = new SegmentJobs(path(), h.store, 3);
    for (const filter of filters) {
      const expected = await csvOf(one, filter, 50);
      expect(await csvOf(split, filter, 50), JSON.stringify(filter)).toBe(expected);
      expect(expected.startsWith("\ufeffcustomerId,")).toBe(true);
      expect(expected.split("customerId,")).toHaveLength(2);
    }
  });

  it("keeps the order when the later ranges' threads fill their look-ahead and wait for a slow reader", async () => {
    // 1 row per chunk: each later range has far more chunks than segmentExportChunksAhead.
    expect(CUSTOMERS / 2 / 2).toBeGreaterThan(limits.segmentExportChunksAhead);
    const expected = await csvOf(new SegmentJobs(path(), h.store, 1), {}, 1);
    expect(await csvOf(new SegmentJobs(path(), h.store, 2), {}, 1, true)).toBe(expected);
  }, 60_000);

  it("gives its slot back when every thread is done, so jobs beyond segmentJobsMax wait for none", async () => {
    const jobs = new SegmentJobs(path(), h.store, 2);
    for (let i = 0; i < limits.segmentJobsMax * 3; i++) expect((await jobs.query({ filter: {}, limit: 1, cursor: null, now: h.clock.now })).count).toBe(CUSTOMERS);
    const running = Array.from({ length: limits.segmentJobsMax }, () => jobs.query({ filter: {}, limit: 1, cursor: null, now: h.clock.now }));
    await expect(jobs.query({ filter: {}, limit: 1, cursor: null, now: h.clock.now })).rejects.toMatchObject({ code: "OVERLOADED" });
    await Promise.all(running);
  });
});
