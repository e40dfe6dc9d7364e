// A partition's worker thread: owns a Ledger over the shared LMDB environment, decodes,
// applies and encodes the micro-batches its partition sends, one at a time.
import { workerData } from "node:worker_threads";
import { Piscina } from "piscina";
import { Ledger } from "../ledger/ledger.js";
import { openStore } from "../ledger/store.js";
import { packHandled, processBatch, unpackRequests, type PackedRequests } from "./batch.js";
import type { WorkerData } from "./executor.js";

const data = workerData as WorkerData;
// A worker may block: commit synchronously (measured: 1.1 ms per durable batch of 10 against 2.1 ms async).
const ledger = new Ledger(openStore(data.ledgerPath), data.options, Date.now, true);

export default async function applyBatch(task: PackedRequests): Promise<unknown> {
  const reappliedBefore = ledger.batchesReapplied;
  const { handled, durable } = await processBatch(ledger, unpackRequests(task));
  await durable;
  const packed = packHandled(handled, ledger.batchesReapplied - reappliedBefore);
  // The replies go back as one transferred buffer, not a structured clone.
  return Piscina.move({
    [Piscina.transferableSymbol]: [packed.data.buffer, packed.offsets.buffer, packed.points.buffer],
    [Piscina.valueSymbol]: packed,
  } as unknown as ArrayBuffer);
}
