// A partition's worker thread: owns a Ledger over the shared LMDB environment and
// applies the micro-batches its partition sends, one at a time.
import { workerData } from "node:worker_threads";
import { Ledger, type Command, type Outcome } from "../ledger/ledger.js";
import { openStore } from "../ledger/store.js";
import type { WorkerData } from "./executor.js";

const data = workerData as WorkerData;
const ledger = new Ledger(openStore(data.ledgerPath), data.options);

export default function applyBatch(commands: Command[]): Promise<Outcome[]> {
  return ledger.applyBatch(commands);
}
