// Runs sheets/worker.ts for one file and answers with its raw rows. At most
// limits.sheetReadsMax files are read at once (OVERLOADED beyond), each thread with a
// bounded heap: a file that needs more is PAYLOAD_TOO_LARGE, and the engine goes on.
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { ERROR_CODES, LoyaltyError, type ErrorCode } from "../../errors.js";
import { limits } from "../../limits.js";
import type { RawRow } from "./raw.js";
import type { ReadJob, ReadMessage } from "./worker.js";

function workerFile(): string {
  const here = import.meta.url;
  const url = here.endsWith(".ts") ? new URL("../../../dist/src/admin/sheets/worker.js", here) : new URL("./worker.js", here);
  return fileURLToPath(url);
}

let reading = 0;

/** `heapMb`: the thread's heap (tests give a small one). */
export async function readRawOffThread(job: ReadJob, heapMb: number = limits.sheetThreadHeapMb): Promise<RawRow[]> {
  if (reading >= limits.sheetReadsMax) throw new LoyaltyError("OVERLOADED", `${reading} spreadsheet files are being read; retry later`);
  reading++;
  try {
    return await run(job, heapMb);
  } finally {
    reading--;
  }
}

function run(job: ReadJob, heapMb: number): Promise<RawRow[]> {
  const worker = new Worker(workerFile(), {
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: heapMb },
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (f: () => void) => {
      if (!settled) {
        settled = true;
        f();
      }
    };
    const rows: RawRow[] = [];
    worker.on("message", (m: ReadMessage) => {
      if (m.type === "rows") {
        for (const r of m.rows) rows.push(r);
        worker.postMessage("more");
      }
      else if (m.type === "done") settle(() => resolve(rows));
      else settle(() => reject(new LoyaltyError(Object.hasOwn(ERROR_CODES, m.code) ? (m.code as ErrorCode) : "INTERNAL", m.message, m.field)));
    });
    worker.once("error", (err: Error & { code?: string }) => {
      if (err.code === "ERR_WORKER_OUT_OF_MEMORY") {
        settle(() => reject(new LoyaltyError("PAYLOAD_TOO_LARGE", `reading the file needs more than ${heapMb} MB; split it`)));
      } else settle(() => reject(err));
    });
    worker.once("exit", (code) => settle(() => reject(new LoyaltyError("INTERNAL", `the spreadsheet thread exited with ${code}`))));
  });
}
