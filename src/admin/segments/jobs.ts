// Segment queries and exports, a bounded number at a time, each split by key range between
// a few threads (segments/worker.ts, segments/split.ts): the main thread only finds the
// split (two key reads), relays the answer, or the CSV chunks to the HTTP response with
// backpressure, in id order, so memory stays bounded whatever the segment's size.
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { LoyaltyError } from "../../errors.js";
import type { Store } from "../../ledger/store.js";
import { limits } from "../../limits.js";
import { joinQueryParts, type ExportInput, type QueryInput, type QueryPart, type QueryResult } from "./scan.js";
import { splitRange, type KeyRange } from "./split.js";
import type { Job, JobMessage } from "./worker.js";

function workerFile(): string {
  const here = import.meta.url;
  const url = here.endsWith(".ts") ? new URL("../../../dist/src/admin/segments/worker.js", here) : new URL("./worker.js", here);
  return fileURLToPath(url);
}

/** One export thread and the chunks it sent that are not yet in the response. */
interface ExportThread {
  worker: Worker;
  queue: string[];
  done: boolean;
}

export class SegmentJobs {
  private running = 0;
  /**
   * `store` (the engine's, open in this thread) is read for the first and last customer id
   * only, to split a job's customers between threads; without it a job runs on one thread.
   */
  constructor(
    private readonly ledgerPath: string,
    private readonly store: Store | null = null,
    private readonly threadsPerJob: number = limits.segmentThreadsPerJob,
  ) {}

  /** The key ranges of a new job, one per thread (a job's slot taken), or OVERLOADED. */
  private begin(): KeyRange[] {
    if (this.running >= limits.segmentJobsMax) throw new LoyaltyError("OVERLOADED", `${this.running} segment jobs are running; retry later`);
    const ranges = this.store && this.threadsPerJob > 1 ? this.split(this.store) : [{}];
    this.running++;
    return ranges;
  }

  private split(store: Store): KeyRange[] {
    const edge = (reverse: boolean) => {
      for (const key of store.customers.getKeys({ reverse, limit: 1, snapshot: false })) return key;
      return null;
    };
    return splitRange(edge(false), edge(true), this.threadsPerJob);
  }

  /** The job's threads, and `done` to give its slot back (at the latest when the last thread exits; once). */
  private spawn(jobs: Job[]): { workers: Worker[]; done: () => void } {
    let slot = true;
    const done = () => {
      if (slot) this.running--;
      slot = false;
    };
    let alive = jobs.length;
    const workers = jobs.map((job) => {
      const worker = new Worker(workerFile(), { workerData: job });
      worker.once("exit", () => {
        if (--alive === 0) done();
      });
      return worker;
    });
    return { workers, done };
  }

  async query(input: QueryInput): Promise<QueryResult> {
    const ranges = this.begin();
    const { workers, done } = this.spawn(ranges.map((range) => ({ kind: "query", ledgerPath: this.ledgerPath, input, range })));
    // The slot is free once every part is in: the threads only exit after that.
    const parts = await Promise.all(workers.map((w) => partOf(w))).finally(done);
    return joinQueryParts(parts, input.limit);
  }

  /**
   * The CSV as a stream, ranges in id order: the first range's chunks as the client reads
   * them; a later range's thread works ahead meanwhile, up to segmentExportChunksAhead
   * chunks, then waits for its turn.
   */
  export(input: ExportInput): Readable {
    const ranges = this.begin();
    const jobs = ranges.map((range, i): Job => ({
      kind: "export",
      ledgerPath: this.ledgerPath,
      input,
      part: { range, header: i === 0 },
      creditMax: i === 0 ? limits.segmentExportChunksInFlight : limits.segmentExportChunksAhead,
    }));
    const threads: ExportThread[] = this.spawn(jobs).workers.map((worker) => ({ worker, queue: [], done: false }));
    let current = 0;
    let ended = false;
    // Sends what the current thread has, thread after thread, while the response takes it.
    const pump = () => {
      while (!ended && current < threads.length) {
        const t = threads[current]!;
        while (t.queue.length > 0) {
          const chunk = t.queue.shift()!;
          t.worker.postMessage({ type: "credit" });
          if (!out.push(chunk)) return;
        }
        if (!t.done) return;
        current++;
      }
      if (!ended) {
        ended = true;
        out.push(null);
      }
    };
    const out = new Readable({
      read: pump,
      destroy(err, cb) {
        ended = true;
        for (const t of threads) t.worker.postMessage({ type: "stop" });
        cb(err);
      },
    });
    threads.forEach((t, i) => {
      t.worker.on("message", (m: JobMessage) => {
        if (m.type === "chunk") t.queue.push(m.text);
        else if (m.type === "done") t.done = true;
        else if (m.type === "error") out.destroy(new Error(`segment export failed: ${m.message}`));
        if (i === current && m.type !== "error") pump();
      });
      t.worker.once("error", (err) => out.destroy(err));
    });
    return out;
  }
}

/** A query thread's part, or its failure. */
function partOf(worker: Worker): Promise<QueryPart> {
  return new Promise((resolve, reject) => {
    worker.on("message", (m: JobMessage) => {
      if (m.type === "result") resolve(m.result as QueryPart);
      if (m.type === "error") reject(new LoyaltyError("INTERNAL", `segment query failed: ${m.message}`));
    });
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new LoyaltyError("INTERNAL", `segment query thread exited with ${code}`)));
  });
}

export type { ExportInput, QueryInput, QueryResult };
