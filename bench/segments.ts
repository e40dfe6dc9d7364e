// Segments over many customers (issue 10): a query (count + first page) over a ledger of
// `customers` and a CSV export of the members, each through SegmentJobs, as the admin route
// runs them (split by key range between limits.segmentThreadsPerJob threads, each in one
// read transaction), and again on one thread for comparison. The ledger is built in process
// through the engine's own batch path, with profiles, consents and groups.
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SegmentJobs } from "../src/admin/segments/jobs.js";
import { Ledger } from "../src/ledger/ledger.js";
import { closeStore, openStore } from "../src/ledger/store.js";
import { processBatch, type RawRequest } from "../src/partition/batch.js";
import { limits } from "../src/limits.js";
import { LEDGER_OPTIONS } from "./scale.js";
import { repeat, type Summary } from "./stats.js";

const BUILD_BATCH = 5000;
const GROUPS = ["regular", "regular", "regular", "VIP", "staff"];

function enrolBody(n: number): Record<string, unknown> {
  return {
    requestId: `seg-${n}`,
    card: `SEG-${n}`,
    group: GROUPS[n % GROUPS.length],
    profile: { name: `Customer ${n}`, email: `c${n}@example.com`, consents: { email: n % 2 === 0, sms: n % 3 === 0, post: n % 7 === 0 } },
  };
}

async function build(path: string, customers: number, log: (line: string) => void): Promise<void> {
  const store = openStore(path);
  const t0 = performance.now();
  try {
    const ledger = new Ledger(store, LEDGER_OPTIONS, Date.now, true);
    for (let n = 1; n <= customers; ) {
      const batch: RawRequest[] = [];
      for (; batch.length < BUILD_BATCH && n <= customers; n++) batch.push({ verb: "enroll", bytes: Buffer.from(JSON.stringify(enrolBody(n))), encoding: "json" });
      const { handled, durable } = await processBatch(ledger, batch);
      await durable;
      const refused = handled.find((h) => h.outcome !== "ok");
      if (refused) throw new Error(`segments: enrolment refused: ${refused.outcome}`);
    }
  } finally {
    await closeStore(store);
  }
  log(`segments: built ${customers.toLocaleString("en-US")} customers in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

export async function benchSegments(opts: { customers: number; runs: number; log: (line: string) => void }): Promise<Record<string, Summary>> {
  const { customers, runs, log } = opts;
  const dir = mkdtempSync(join(process.cwd(), "dist", "bench-segments-"));
  try {
    const path = join(dir, "ledger");
    await build(path, customers, log);
    // Split between threads as the engine's are (its store, open in this thread, gives the first and
    // last id); the same job on one thread too, alternating, so one run shows what the split gains.
    const store = openStore(path);
    const split = new SegmentJobs(path, store);
    const single = new SegmentJobs(path, store, 1);
    // VIPs or staff who may be e-mailed: a third of the customers match, every record is read.
    const filter = { all: [{ groups: ["VIP", "staff"] }, { consent: "email" as const }] };
    /** Rows exported (the header row not counted) and the seconds it took. */
    const exported = async (jobs: SegmentJobs, exportFilter: object): Promise<{ rows: number; sec: number }> => {
      const e0 = performance.now();
      let rows = -1; // the header row
      for await (const chunk of jobs.export({ filter: exportFilter, consent: "email", now: Date.now(), bom: false, rowsPerChunk: 2000 })) {
        const bytes = chunk as Buffer;
        for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) rows++;
      }
      return { rows, sec: (performance.now() - e0) / 1000 };
    };
    const once = async (jobs: SegmentJobs, label: string) => {
      const q0 = performance.now();
      const result = await jobs.query({ filter, limit: 100, cursor: null, now: Date.now() });
      const queryMs = performance.now() - q0;
      const some = await exported(jobs, { groups: ["VIP", "staff"] });
      // Everyone who may be e-mailed (every second customer): the most rows an export of this ledger gives.
      const all = await exported(jobs, {});
      log(
        `segments (${label}): query over ${customers} customers: ${result.count} members in ${queryMs.toFixed(0)} ms; ` +
          `export ${some.rows} rows in ${some.sec.toFixed(2)} s; export of all who consented, ${all.rows} rows in ${all.sec.toFixed(2)} s`,
      );
      return { queryMs, rowsPerSec: some.rows / some.sec, allRowsPerSec: all.rows / all.sec };
    };
    return await repeat(runs, async () => {
      const one = await once(single, "1 thread");
      const two = await once(split, `${limits.segmentThreadsPerJob} threads`);
      return {
        [`segments.query.ms`]: two.queryMs,
        [`segments.export.rowsPerSec`]: two.rowsPerSec,
        [`segments.exportAll.rowsPerSec`]: two.allRowsPerSec,
        [`segments.query.1thread.ms`]: one.queryMs,
        [`segments.export.1thread.rowsPerSec`]: one.rowsPerSec,
        [`segments.exportAll.1thread.rowsPerSec`]: one.allRowsPerSec,
        [`segments.customers`]: customers,
      };
    }).finally(() => closeStore(store));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
