// A partition's worker thread: owns a Ledger over the shared LMDB environment and
// applies the micro-batches its partition sends, one at a time.
import { workerData } from "node:worker_threads";
import { Ledger, type Command, type Outcome } from "../ledger/ledger.js";
import { openStore } from "../ledger/store.js";
import type { WorkerData } from "./executor.js";

const data = workerData as WorkerData;
// A worker may block: commit synchronously (measured: 1.1 ms per durable batch of 10 against 2.1 ms async).
const ledger = new Ledger(openStore(data.ledgerPath), data.options, Date.now, true);

export default function applyBatch(commands: Command[]): Promise<Outcome[]> {
  return ledger.applyBatch(commands);
}
