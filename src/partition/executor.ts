// Where a partition's micro-batches run: on the main thread ("inline") or on one
// single-thread Piscina pool per partition ("workers"). Same interface, so the faster
// design on a given machine is a configuration choice (see bench/RESULTS.md). Workers
// get each batch as one transferred buffer and send the encoded replies back the same way.
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { Ledger, type LedgerOptions } from "../ledger/ledger.js";
import type { Store } from "../ledger/store.js";
import { packRequests, processBatch, unpackHandled, type Handled, type PackedHandled, type RawRequest } from "./batch.js";

export interface Committed<O> {
  results: O[];
  /** Resolves once the batch is durable; replies wait for it. */
  durable: Promise<unknown>;
  /** Times the batch was applied again, each command in a child transaction (ledger.ts, Ledger.applyOne); absent: none. */
  reapplied?: number;
  /**
   * Commands in the LMDB write transaction that applied this batch, when the executor
   * applied several batches in one (the workers' group commit): given with the first of
   * them, 0 with the others. Absent: the batch was a transaction of its own.
   */
  transactionCommands?: number;
}

export interface Executor<I = RawRequest, O = Handled> {
  /** Batches of one partition that may be in the executor at once (they still apply in order). */
  readonly depth: number;
  /**
   * Resolves once the batch is committed (the next batch of the partition may start).
   * `urgent`: how many of the items, at its head, someone waits for (rpc, HTTP); the rest
   * are bulk (the stream). Default: all of them.
   */
  run(partition: number, items: I[], urgent?: number): Promise<Committed<O>>;
  close(): Promise<void>;
}

export interface WorkerData {
  ledgerPath: string;
  options: LedgerOptions;
}

export class InlineExecutor implements Executor {
  // run() resolves at commit, before the fsync: the next batch already overlaps it.
  readonly depth = 1;
  private readonly ledger: Ledger;
  constructor(store: Store, options: LedgerOptions, now?: () => number) {
    this.ledger = new Ledger(store, options, now);
  }
  async run(_partition: number, requests: RawRequest[]): Promise<Committed<Handled>> {
    const { handled, durable } = await processBatch(this.ledger, requests);
    return { results: handled, durable };
  }
  async close(): Promise<void> {}
}

const WORKER_BATCHES_IN_FLIGHT = 4;

/**
 * The young generation of each partition's worker, MB (V8 keeps two semi-spaces of a third
 * each). A worker allocates ~45 KB per command that dies within its batch (decoded JSON,
 * replies, records on their way to LMDB); with V8's default (48 MB, 16 MB semi-spaces) it
 * scavenged every ~350 commands, ~5 ms each. 192 MB took scavenging from ~15 to ~5 us per
 * command and the worker's CPU per event ~2-3 % down (bench/RESULTS.md, 2026-12-02). The
 * semi-spaces grow to it only under load, by up to ~130 MB of memory per worker: from 5
 * partitions on, the workers share 768 MB, never less than V8's default each.
 */
export function workerYoungGenerationMb(partitions: number): number {
  return Math.max(48, Math.min(192, Math.floor(768 / partitions)));
}

/** The compiled worker, whether this module runs from src/ (tests) or dist/src/. */
/**
 * Piscina loads a task file with require() first and import() when that throws. With
 * Node's require(esm) (on by default since 20.19) a worker once died with a V8 fatal error
 * ("IsGraphAsync must be used on an instantiated module") inside that require: a whole
 * CI run lost. Turned off in the workers, require() of our ES module throws at once and
 * Piscina imports it, as on the Node versions it was written for. Only where Node knows
 * the flag (the workers then take no other option of the process's: they need none);
 * otherwise they inherit the process's options as before.
 */
export const WORKER_EXEC_ARGV: string[] | undefined = process.allowedNodeEnvironmentFlags.has("--no-experimental-require-module")
  ? ["--no-experimental-require-module"]
  : undefined;

function workerFile(): string {
  const here = import.meta.url;
  const url = here.endsWith(".ts") ? new URL("../../dist/src/partition/worker.js", here) : new URL("./worker.js", here);
  return fileURLToPath(url);
}

export class WorkerExecutor implements Executor {
  /**
   * A worker answers once its batch is durable (it commits synchronously: store.ts
   * durableTransaction). Further batches in flight let it start the next as soon as one is
   * durable, without a round trip to the main thread; the thread handles its tasks in
   * arrival order, and each batch's transaction runs to its end before the next starts.
   * Measured with rpc.authorize at 64 in flight, when commits ran in lmdb-js's writer
   * thread: depth 2 5.8k/s, 4 7.8k/s, 8 7.8k/s (bench/RESULTS.md).
   */
  readonly depth = WORKER_BATCHES_IN_FLIGHT;
  private readonly pools: Piscina[];
  constructor(partitions: number, data: WorkerData) {
    // One thread per partition and one task at a time: a partition's batches apply in order.
    this.pools = Array.from(
      { length: partitions },
      () =>
        new Piscina({
          filename: workerFile(),
          minThreads: 1,
          maxThreads: 1,
          concurrentTasksPerWorker: WORKER_BATCHES_IN_FLIGHT,
          // A partition has at most `depth` batches in flight, so none should wait in Piscina's
          // queue; if one ever does, it keeps its place. By default Piscina puts a task it could
          // not hand over back at the queue's tail, behind later batches of the same partition
          // (measured: 9 batches handed over at once applied as 0-2, 4, 6, 3, 7, 5, 8).
          stricterFIFO: true,
          idleTimeout: Number.MAX_SAFE_INTEGER,
          workerData: data,
          execArgv: WORKER_EXEC_ARGV,
          resourceLimits: { maxYoungGenerationSizeMb: workerYoungGenerationMb(partitions) },
        }),
    );
  }
  async run(partition: number, requests: RawRequest[], urgent = requests.length): Promise<Committed<Handled>> {
    const task = packRequests(requests, urgent);
    const packed = (await this.pools[partition]!.run(task, { transferList: [task.data.buffer as ArrayBuffer, task.offsets.buffer as ArrayBuffer] })) as PackedHandled;
    // The worker replies once its batch is durable.
    return { results: unpackHandled(packed), durable: Promise.resolve(), reapplied: packed.reapplied, transactionCommands: packed.transaction };
  }
  async close(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.destroy()));
  }
}

export function createExecutor(kind: "inline" | "workers", partitions: number, ledgerPath: string, store: Store, options: LedgerOptions): Executor {
  return kind === "workers" ? new WorkerExecutor(partitions, { ledgerPath, options }) : new InlineExecutor(store, options);
}
