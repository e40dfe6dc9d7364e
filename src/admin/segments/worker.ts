// One thread of a segment job: opens the ledger, runs its range's part of a query or an
// export in a read transaction, and reports to the main thread (an export chunk by chunk,
// with credit).
import { parentPort, workerData } from "node:worker_threads";
import { openStore } from "../../ledger/store.js";
import { exportSegment, queryPart, type ExportInput, type ExportPart, type QueryInput } from "./scan.js";
import { factsSources } from "./sources.js";
import type { KeyRange } from "./split.js";

export type Job =
  | { kind: "query"; ledgerPath: string; input: QueryInput; range: KeyRange }
  | { kind: "export"; ledgerPath: string; input: ExportInput; part: ExportPart; creditMax: number };

export type JobMessage =
  | { type: "result"; result: unknown }
  | { type: "chunk"; text: string }
  | { type: "done"; rows: number }
  | { type: "error"; message: string; code?: string };

const job = workerData as Job;
const port = parentPort!;
const store = openStore(job.ledgerPath);

async function main(): Promise<void> {
  if (job.kind === "query") {
    port.postMessage({ type: "result", result: queryPart(store, job.input, factsSources, job.range) } satisfies JobMessage);
    return;
  }
  // Credit: at most creditMax chunks sent and not yet taken by the HTTP response.
  let credit = job.creditMax;
  let stopped = false;
  let wake: (() => void) | null = null;
  port.on("message", (m: { type: "credit" | "stop" }) => {
    if (m.type === "credit") credit++;
    if (m.type === "stop") stopped = true;
    wake?.();
    wake = null;
  });
  // The client went away: leave the scan (its read transaction ends with it) and stop.
  // Not Worker.terminate(): a thread inside an LMDB transaction may not stop that way.
  const rows = await exportSegment(store, job.input, factsSources, async (text) => {
    while (credit <= 0 && !stopped) await new Promise<void>((r) => (wake = r));
    if (stopped) throw new Error("stopped: the client went away");
    credit--;
    port.postMessage({ type: "chunk", text } satisfies JobMessage);
  }, job.part);
  port.postMessage({ type: "done", rows } satisfies JobMessage);
}

main().then(
  () => process.exit(0),
  (err: Error & { code?: string }) => {
    port.postMessage({ type: "error", message: err.message, ...(err.code ? { code: err.code } : {}) } satisfies JobMessage);
    process.exit(0);
  },
);
