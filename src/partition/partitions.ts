// Per-partition bounded queues feeding the executor in micro-batches, in arrival order
// within each of two lanes: requests someone waits for (rpc, HTTP) go first, then bulk
// work (stream events, sweeps), so a stream backlog never stands between a till and its
// answer. The executor applies a partition's batches in order, so bulk work also keeps
// out of the way once handed over: few batches holding bulk work at a time, and small
// ones while requests are coming in. A full queue refuses with OVERLOADED instead of
// growing memory.
import { LoyaltyError, storageRefusal } from "../errors.js";
import { limits } from "../limits.js";
import { isStorageRefusal } from "../ledger/store.js";
import type { Metrics } from "../observe/metrics.js";
import type { Logger } from "../observe/logger.js";
import type { Handled, RawRequest } from "./batch.js";
import type { Committed, Executor } from "./executor.js";

interface Waiting<I, O> {
  item: I;
  /** When it was queued (performance.now ms). */
  queuedAt: number;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
}

class Partition<I, O> {
  /** Requests someone waits for: batched first. */
  urgent: Waiting<I, O>[] = [];
  /** Stream events and the sweepers' commands. */
  bulk: Waiting<I, O>[] = [];
  /** Batches handed to the executor and not yet committed. */
  running = 0;
  /** How many of them hold bulk work (at most limits.bulkBatchesInFlight). */
  bulkRunning = 0;
  /** When the last urgent request was queued (performance.now ms). */
  urgentAt = -Infinity;
  /** When each batch now in the executor was handed to it (performance.now ms), oldest first. */
  readonly started: number[] = [];
  /** Urgent requests in batches the executor holds, not yet answered. */
  urgentHeld = 0;
  /**
   * When the oldest urgent request of each batch not yet answered was queued (performance.now
   * ms; one entry per batch that holds urgent requests, oldest first): admission counts
   * what the executor holds, not only the queue.
   */
  readonly urgentUnanswered: number[] = [];
  constructor(readonly index: number) {}
  get length(): number {
    return this.urgent.length + this.bulk.length;
  }
  /** Requests someone waits for not answered yet: queued, or in the executor. */
  get unanswered(): number {
    return this.urgent.length + this.urgentHeld;
  }
  /** When the oldest of them was queued: those in the executor are older than the queue's. */
  get oldestUnansweredAt(): number | undefined {
    return this.urgentUnanswered[0] ?? this.urgent[0]?.queuedAt;
  }
}

/** Config admission (its defaults: limits.queueWaitMsMax, limits.admissionBacklogMin). */
export interface Admission {
  queueWaitMs: number;
  backlogMin: number;
}

export class Partitions<I = RawRequest, O = Handled> {
  private readonly parts: Partition<I, O>[];
  private readonly depthGauges;
  private readonly busyCounters;
  private readonly commandCounters;
  private closing = false;
  private inFlightDurable = 0;

  constructor(
    private readonly executor: Executor<I, O>,
    readonly count: number,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly onFatal: (err: unknown) => void,
    /** Config admission: when requests someone waits for are refused (see submit). */
    private readonly admission: Admission = { queueWaitMs: limits.queueWaitMsMax, backlogMin: limits.admissionBacklogMin },
  ) {
    this.parts = Array.from({ length: count }, (_, i) => new Partition<I, O>(i));
    this.depthGauges = this.parts.map((p) => metrics.queueDepth.labels(String(p.index)));
    this.busyCounters = this.parts.map((p) => metrics.workerBusy.labels(String(p.index)));
    this.commandCounters = this.parts.map((p) => metrics.partitionCommands.labels(String(p.index)));
    metrics.onScrape(() => this.sampleAges());
  }

  /** Per partition: how long its oldest running batch has run, its oldest queued command and oldest unanswered request waited, and how many requests are unanswered. */
  private sampleAges(): void {
    const now = performance.now();
    const age = (since: number | undefined) => (since === undefined ? 0 : (now - since) / 1000);
    for (const p of this.parts) {
      const label = String(p.index);
      this.metrics.partitionBatchAge.labels(label).set(age(p.started[0]));
      const queuedAt = Math.min(p.urgent[0]?.queuedAt ?? Infinity, p.bulk[0]?.queuedAt ?? Infinity);
      this.metrics.partitionQueueAge.labels(label).set(age(Number.isFinite(queuedAt) ? queuedAt : undefined));
      // What admission looks at (see admits).
      this.metrics.partitionUnansweredAge.labels(label).set(age(p.oldestUnansweredAt));
      this.metrics.partitionUnanswered.labels(label).set(p.unanswered);
    }
  }

  /** Whether a partition can take `n` more commands right now (for stream backpressure). */
  hasRoom(n: number): boolean {
    return this.parts.every((p) => p.length + n <= limits.partitionQueueMax);
  }

  /**
   * Queues a command. A request someone waits for (`waitBounded`: rpc, HTTP) goes in the
   * urgent lane, and is refused with OVERLOADED at once while the oldest urgent request not
   * yet answered (queued, or in a batch the executor holds) has waited longer than
   * admission.queueWaitMs (config; default 100 ms) and the partition holds at least
   * admission.backlogMin (64) of them: the partition's actual delay, not a forecast, so a
   * burst cleared in a batch or two refuses nobody, a few requests held up by a stall are
   * answered when it ends, and under sustained overload admitted requests keep their
   * latency. (Counting the queue alone let four full batches pile up in the executor
   * behind it: admitted requests waited 0.7-1.1 s at three times capacity,
   * bench/RESULTS.md 2026-12-01.) Bulk work (stream events, sweeps) only meets the count
   * bound; the stream stops pulling instead (see hasRoom).
   */
  submit(partition: number, item: I, waitBounded = false): Promise<O> {
    const refused = this.admits(partition, waitBounded);
    if (refused) return Promise.reject(refused);
    return this.enqueue(partition, item, waitBounded);
  }

  /**
   * Queues a command past every bound: cluster mode's commands already in their partition's
   * log (admitted before they were appended; see admits) must be applied whatever the queue.
   */
  enqueue(partition: number, item: I, waitBounded = false): Promise<O> {
    const part = this.parts[partition]!;
    return new Promise<O>((resolve, reject) => {
      const queuedAt = performance.now();
      if (waitBounded) part.urgentAt = queuedAt;
      (waitBounded ? part.urgent : part.bulk).push({ item, queuedAt, resolve, reject });
      this.depthGauges[partition]!.set(part.length);
      this.pump(part);
    });
  }

  /** Why submit would refuse a command now (OVERLOADED), or null when it would take it. */
  admits(partition: number, waitBounded = false): LoyaltyError | null {
    const part = this.parts[partition]!;
    if (this.closing) return new LoyaltyError("OVERLOADED", "the engine is shutting down");
    if (part.length >= limits.partitionQueueMax) {
      return new LoyaltyError("OVERLOADED", `partition ${partition} has ${part.length} commands waiting`);
    }
    if (!waitBounded || part.unanswered < this.admission.backlogMin) return null;
    const oldest = part.oldestUnansweredAt;
    const now = performance.now();
    if (oldest !== undefined && now - oldest > this.admission.queueWaitMs) {
      return new LoyaltyError("OVERLOADED", `partition ${partition} is ${Math.round(now - oldest)} ms behind; retry later`);
    }
    return null;
  }

  private pump(part: Partition<I, O>): void {
    const bulkReady = part.bulkRunning < limits.bulkBatchesInFlight ? part.bulk.length : 0;
    if (part.running >= this.executor.depth || part.urgent.length + bulkReady === 0) return;
    part.running++;
    // Yield one turn so that commands arriving in the same tick share the batch.
    setImmediate(() => void this.runBatch(part));
  }

  /**
   * Bulk commands the next batch may take: none while limits.bulkBatchesInFlight batches
   * holding bulk work are in the executor (an urgent request queued behind them waits for
   * them all), few while urgent requests are coming in, else a full batch (fewer commits).
   */
  private bulkRoom(part: Partition<I, O>, taken: number): number {
    if (part.bulkRunning >= limits.bulkBatchesInFlight) return 0;
    const cap = performance.now() - part.urgentAt < limits.urgentRecentMs ? limits.bulkBatchShared : limits.batchSizeMax;
    return Math.max(0, Math.min(cap, limits.batchSizeMax - taken));
  }

  private async runBatch(part: Partition<I, O>): Promise<void> {
    const batch = part.urgent.splice(0, limits.batchSizeMax);
    // The urgent requests lead the batch, oldest first.
    const urgent = batch.length;
    const urgentAt = urgent > 0 ? batch[0]!.queuedAt : null;
    const bulk = part.bulk.splice(0, this.bulkRoom(part, batch.length));
    if (bulk.length > 0) {
      part.bulkRunning++;
      batch.push(...bulk);
    }
    if (batch.length === 0) {
      part.running--; // an earlier batch of this turn took everything
      return;
    }
    this.depthGauges[part.index]!.set(part.length);
    const started = performance.now();
    part.started.push(started);
    if (urgentAt !== null) part.urgentUnanswered.push(urgentAt);
    part.urgentHeld += urgent;
    let committed: Committed<O>;
    try {
      committed = await this.executor.run(part.index, batch.map((w) => w.item), urgent);
    } catch (err) {
      part.running--;
      if (bulk.length > 0) part.bulkRunning--;
      this.finished(part, started);
      this.answered(part, urgentAt, urgent);
      this.failed(part, batch, err);
      return;
    }
    if (bulk.length > 0) part.bulkRunning--;
    this.finished(part, started);
    // Committed: the partition's next batch may apply while this one's fsync runs.
    this.busyCounters[part.index]!.inc((performance.now() - started) / 1000);
    part.running--;
    this.pump(part);
    this.inFlightDurable++;
    try {
      await committed.durable;
      this.metrics.commitDuration.observe((performance.now() - started) / 1000);
      // One observation per LMDB write transaction: several batches may have shared one.
      const transaction = committed.transactionCommands ?? batch.length;
      if (transaction > 0) this.metrics.batchSize.observe(transaction);
      if (committed.reapplied) this.metrics.batchesReapplied.inc(committed.reapplied);
      this.commandCounters[part.index]!.inc(batch.length);
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(committed.results[i]!);
    } catch (err) {
      this.failed(part, batch, err);
    } finally {
      this.inFlightDurable--;
      this.answered(part, urgentAt, urgent);
    }
  }

  /** A batch's requests are answered: they no longer hold admission back. */
  private answered(part: Partition<I, O>, urgentAt: number | null, urgent: number): void {
    part.urgentHeld -= urgent;
    if (urgentAt === null) return;
    const i = part.urgentUnanswered.indexOf(urgentAt);
    if (i >= 0) part.urgentUnanswered.splice(i, 1);
  }

  private finished(part: Partition<I, O>, started: number): void {
    const i = part.started.indexOf(started);
    if (i >= 0) part.started.splice(i, 1);
  }

  /**
   * The watchdog: the first partition whose oldest batch has run `wedgedMs` or longer (an
   * endless loop, a stuck thread), with how long; null when none is.
   */
  wedged(wedgedMs: number): { partition: number; runningMs: number } | null {
    const now = performance.now();
    for (const p of this.parts) {
      const oldest = p.started[0];
      if (oldest !== undefined && now - oldest >= wedgedMs) return { partition: p.index, runningMs: Math.round(now - oldest) };
    }
    return null;
  }

  private failed(part: Partition<I, O>, batch: Waiting<I, O>[], err: unknown): void {
    if (isStorageRefusal(err)) {
      // The disk refused the batch (full): not a broken invariant; the engine stays up.
      this.log.error({ err, partition: part.index }, "the ledger could not write the batch; refused as UNAVAILABLE");
      for (const w of batch) w.reject(storageRefusal());
      return;
    }
    this.log.fatal({ err, partition: part.index }, "batch failed; its replies are withheld");
    for (const w of batch) w.reject(new LoyaltyError("INTERNAL"));
    this.onFatal(err);
  }

  /** Stops taking commands and waits until every queued one has been applied. */
  async drain(): Promise<void> {
    this.closing = true;
    while (this.inFlightDurable > 0 || this.parts.some((p) => p.running > 0 || p.length > 0)) await new Promise((r) => setTimeout(r, 5));
  }
}
