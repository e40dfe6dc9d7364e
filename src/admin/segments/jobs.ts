// Segment queries and exports each run on a thread of their own (segments/worker.ts), a
// bounded number at a time: the main thread only relays the answer, or the CSV chunks to
// the HTTP response with backpressure, so memory stays bounded whatever the segment's size.
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { LoyaltyError } from "../../errors.js";
import { limits } from "../../limits.js";
import type { ExportInput, QueryInput, QueryResult } from "./scan.js";
import type { Job, JobMessage } from "./worker.js";

function workerFile(): string {
  const here = import.meta.url;
  const url = here.endsWith(".ts") ? new URL("../../../dist/src/admin/segments/worker.js", here) : new URL("./worker.js", here);
  return fileURLToPath(url);
}

export class SegmentJobs {
  private running = 0;
  constructor(private readonly ledgerPath: string) {}

  private start(job: Job): Worker {
    if (this.running >= limits.segmentJobsMax) throw new LoyaltyError("OVERLOADED", `${this.running} segment jobs are running; retry later`);
    this.running++;
    const worker = new Worker(workerFile(), { workerData: job });
    worker.once("exit", () => this.running--);
    return worker;
  }

  query(input: QueryInput): Promise<QueryResult> {
    const worker = this.start({ kind: "query", ledgerPath: this.ledgerPath, input });
    return new Promise((resolve, reject) => {
      worker.on("message", (m: JobMessage) => {
        if (m.type === "result") resolve(m.result as QueryResult);
        if (m.type === "error") reject(new LoyaltyError("INTERNAL", `segment query failed: ${m.message}`));
      });
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new LoyaltyError("INTERNAL", `segment query thread exited with ${code}`)));
    });
  }

  /** The CSV as a stream: it pulls chunks from the thread as the client reads them. */
  export(input: ExportInput): Readable {
    const creditMax = limits.segmentExportChunksInFlight;
    const worker = this.start({ kind: "export", ledgerPath: this.ledgerPath, input, creditMax });
    let pending = 0;
    const out = new Readable({
      read() {
        // The consumer wants more: give back the credit for what it has taken.
        while (pending > 0) {
          pending--;
          worker.postMessage({ type: "credit" });
        }
      },
      destroy(err, cb) {
        worker.postMessage({ type: "stop" });
        cb(err);
      },
    });
    worker.on("message", (m: JobMessage) => {
      if (m.type === "chunk") {
        if (out.push(m.text)) worker.postMessage({ type: "credit" });
        else pending++;
      } else if (m.type === "done") out.push(null);
      else if (m.type === "error") out.destroy(new Error(`segment export failed: ${m.message}`));
    });
    worker.once("error", (err) => out.destroy(err));
    return out;
  }
}

export type { ExportInput, QueryInput, QueryResult };
