// A partition's worker thread: owns a Ledger over the shared LMDB environment, decodes,
// applies and encodes the micro-batches its partition sends, in the order they came.
import { workerData } from "node:worker_threads";
import { Piscina } from "piscina";
import { Ledger } from "../ledger/ledger.js";
import { openStore } from "../ledger/store.js";
import { limits } from "../limits.js";
import { isReadVerb } from "../verbs.js";
import { packHandled, processBatch, unpackRequests, type PackedRequests, type RawRequest } from "./batch.js";
import type { WorkerData } from "./executor.js";

const data = workerData as WorkerData;
// A worker may block: commit synchronously (measured: 1.1 ms per durable batch of 10 against 2.1 ms async).
const ledger = new Ledger(openStore(data.ledgerPath), data.options, Date.now, true);

/** A batch handed over and not applied yet. */
interface Waiting {
  requests: RawRequest[];
  /** "urgent": all its requests are waited for (rpc, HTTP); "bulk": none (the stream); "mixed": both. */
  kind: "urgent" | "bulk" | "mixed";
  /** Whether it holds reads (balance, statement...): they see the writes of their transaction, so it ends one. */
  reads: boolean;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

const waiting: Waiting[] = [];
let drainScheduled = false;

/**
 * Group commit. The partition hands over up to WORKER_BATCHES_IN_FLIGHT batches without
 * waiting for the one before, and they queue in this thread's message port while it
 * applies and fsyncs that one. When it is free again, the batches waiting there are
 * applied in one transaction with one fsync, in the order they came, each answered with
 * its own replies: as if the partition had cut one larger batch, without the round trip
 * that waiting for the worker would cost. Only batches of one kind share: a batch that
 * mixes a till's requests with stream events is capped by the partition
 * (limits.bulkBatchShared) so that the till does not wait behind the stream, and it stays
 * a transaction of its own. A batch's reads are answered after its transaction's writes
 * (ledger.ts, commitBatch), so a batch with reads is the last of its transaction: they see
 * exactly the writes they would have seen alone. At most limits.batchSizeMax commands per
 * transaction.
 */
export default function applyBatch(task: PackedRequests): Promise<unknown> {
  const requests = unpackRequests(task);
  const kind = task.urgent >= requests.length ? "urgent" : task.urgent === 0 ? "bulk" : "mixed";
  const reads = task.verbs.some(isReadVerb);
  return new Promise((resolve, reject) => {
    waiting.push({ requests, kind, reads, resolve, reject });
    if (!drainScheduled) {
      drainScheduled = true;
      // Runs in the check phase: every batch already in the port has been delivered by then.
      setImmediate(drain);
    }
  });
}

function drain(): void {
  drainScheduled = false;
  const first = waiting[0]!;
  let commands = first.requests.length;
  let n = 1;
  const joins = (next: Waiting | undefined) => next !== undefined && first.kind !== "mixed" && next.kind === first.kind && commands + next.requests.length <= limits.batchSizeMax;
  while (!waiting[n - 1]!.reads && joins(waiting[n])) {
    commands += waiting[n++]!.requests.length;
  }
  const group = waiting.splice(0, n);
  if (waiting.length > 0) {
    drainScheduled = true;
    setImmediate(drain);
  }
  void applyGroup(group);
}

async function applyGroup(group: Waiting[]): Promise<void> {
  try {
    const reappliedBefore = ledger.batchesReapplied;
    const requests = group.length === 1 ? group[0]!.requests : group.flatMap((w) => w.requests);
    const { handled, durable } = await processBatch(ledger, requests);
    await durable;
    const reapplied = ledger.batchesReapplied - reappliedBefore;
    let from = 0;
    group.forEach((w, i) => {
      // The first batch carries what the transaction as a whole did.
      const packed = packHandled(handled.slice(from, (from += w.requests.length)), i === 0 ? reapplied : 0, i === 0 ? requests.length : 0);
      // The replies go back as one transferred buffer, not a structured clone.
      w.resolve(
        Piscina.move({
          [Piscina.transferableSymbol]: [packed.data.buffer, packed.offsets.buffer, packed.points.buffer],
          [Piscina.valueSymbol]: packed,
        } as unknown as ArrayBuffer),
      );
    });
  } catch (err) {
    // Nothing of the transaction was written: every batch in it fails as one would alone.
    for (const w of group) w.reject(err);
  }
}
