// The partition queues: bounded, in order per partition, batched.
import { describe, expect, it } from "vitest";
import { limits } from "../../src/limits.js";
import type { Command, Outcome } from "../../src/ledger/ledger.js";
import { createMetrics } from "../../src/observe/metrics.js";
import { createLogger } from "../../src/observe/logger.js";
import type { Committed, Executor } from "../../src/partition/executor.js";
import { Partitions } from "../../src/partition/partitions.js";
import { partitionOf } from "../../src/partition/hash.js";
import { LoyaltyError } from "../../src/errors.js";

/** An executor that applies nothing until released, recording the batches it was given. */
class GatedExecutor implements Executor<Command, Outcome> {
  readonly depth = 1;
  batches: { partition: number; ids: string[] }[] = [];
  private gate!: Promise<void>;
  open!: () => void;
  constructor() {
    this.close_();
  }
  private close_(): void {
    this.gate = new Promise((r) => (this.open = r));
  }
  async run(partition: number, commands: Command[]): Promise<Committed<Outcome>> {
    this.batches.push({ partition, ids: commands.map((c) => (c.input as { requestId: string }).requestId) });
    await this.gate;
    const outcomes: Outcome[] = commands.map((c) => ({ reply: { ok: true, id: (c.input as { requestId: string }).requestId }, notifications: [] }));
    return { results: outcomes, durable: Promise.resolve() };
  }
  async close(): Promise<void> {}
}

const cmd = (requestId: string): Command => ({ verb: "enroll", input: { requestId }, hash: "" });

/** An executor that takes up to four batches at once and finishes each when told to, oldest first. */
class SteppedExecutor implements Executor<Command, Outcome> {
  readonly depth = 4;
  /** Batches handed over, in order; `done` once finished. */
  batches: { ids: string[]; done: boolean; finish: () => void }[] = [];
  async run(_partition: number, commands: Command[]): Promise<Committed<Outcome>> {
    const ids = commands.map((c) => (c.input as { requestId: string }).requestId);
    const entry = { ids, done: false, finish: () => undefined as void };
    await new Promise<void>((r) => {
      entry.finish = r;
      this.batches.push(entry);
    });
    entry.done = true;
    return { results: ids.map((id) => ({ reply: { ok: true, id }, notifications: [] })), durable: Promise.resolve() };
  }
  /** Batches in the executor now. */
  inFlight(): string[][] {
    return this.batches.filter((b) => !b.done).map((b) => b.ids);
  }
  /** Finishes the oldest batch still running and lets the queue hand over what it will. */
  async step(): Promise<void> {
    this.batches.find((b) => !b.done)?.finish();
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  }
  async close(): Promise<void> {}
}

const bulkIn = (ids: string[]): number => ids.filter((id) => id.startsWith("b-")).length;

/**
 * An executor that holds every batch until opened, then applies those it holds as one
 * transaction, as the workers' group commit does (Committed.transactionCommands on the
 * first of them, 0 on the rest), and each later batch as its own.
 */
class SharingExecutor implements Executor<Command, Outcome> {
  readonly depth = 4;
  batches: { ids: string[]; urgent: number | undefined }[] = [];
  private held: { size: number; resolve: (transaction: number | undefined) => void }[] | null = [];
  async run(_partition: number, commands: Command[], urgent?: number): Promise<Committed<Outcome>> {
    const ids = commands.map((c) => (c.input as { requestId: string }).requestId);
    this.batches.push({ ids, urgent });
    const held = this.held;
    const transactionCommands = held === null ? undefined : await new Promise<number | undefined>((resolve) => held.push({ size: ids.length, resolve }));
    return { results: ids.map((id) => ({ reply: { ok: true, id }, notifications: [] })), durable: Promise.resolve(), transactionCommands };
  }
  open(): void {
    const held = this.held!;
    this.held = null;
    const total = held.reduce((a, h) => a + h.size, 0);
    held.forEach((h, i) => h.resolve(i === 0 ? total : 0));
  }
  async close(): Promise<void> {}
}

describe("partitions", () => {
  it("refuses with OVERLOADED once a partition's queue is full, and recovers", async () => {
    const ex = new GatedExecutor();
    const parts = new Partitions<Command, Outcome>(ex, 2, createMetrics(), createLogger("silent"), () => undefined);
    const first = parts.submit(0, cmd("in-flight"));
    await new Promise((r) => setImmediate(r)); // the first batch is now in the executor
    const queued = Array.from({ length: limits.partitionQueueMax }, (_, i) => parts.submit(0, cmd(`q-${i}`)));
    const refused = parts.submit(0, cmd("one-too-many"));
    await expect(refused).rejects.toBeInstanceOf(LoyaltyError);
    await expect(refused).rejects.toMatchObject({ code: "OVERLOADED" });
    expect(parts.hasRoom(1)).toBe(false);
    // The other partition is not affected.
    const other = parts.submit(1, cmd("other"));
    ex.open();
    await expect(first).resolves.toMatchObject({ reply: { id: "in-flight" } });
    await expect(other).resolves.toMatchObject({ reply: { id: "other" } });
    const replies = await Promise.all(queued);
    expect(replies.map((o) => o.reply.id)).toEqual(Array.from({ length: limits.partitionQueueMax }, (_, i) => `q-${i}`));
    expect(parts.hasRoom(1)).toBe(true);
    await expect(parts.submit(0, cmd("after"))).resolves.toMatchObject({ reply: { id: "after" } });
  });

  it("refuses a waiting request at once while the oldest queued waiting request has waited over queueWaitMsMax, while stream events still queue", async () => {
    const ex = new GatedExecutor();
    const parts = new Partitions<Command, Outcome>(ex, 1, createMetrics(), createLogger("silent"), () => undefined);
    const first = parts.submit(0, cmd("in-flight"), true);
    await new Promise((r) => setImmediate(r));
    // A burst queues at once: nobody has waited yet, so nobody is refused.
    const burst = Array.from({ length: limits.batchSizeMax * 2 }, (_, i) => parts.submit(0, cmd(`w-${i}`), true));
    await new Promise((r) => setTimeout(r, limits.queueWaitMsMax + 50));
    const refused = parts.submit(0, cmd("too-late"), true);
    await expect(refused).rejects.toMatchObject({ code: "OVERLOADED", message: expect.stringMatching(/ms behind/) });
    const streamed = parts.submit(0, cmd("stream-event"), false);
    ex.open();
    await expect(first).resolves.toMatchObject({ reply: { id: "in-flight" } });
    expect((await Promise.all(burst)).length).toBe(limits.batchSizeMax * 2);
    await expect(streamed).resolves.toMatchObject({ reply: { id: "stream-event" } });
    // The queue drained: waiting requests are admitted again.
    await expect(parts.submit(0, cmd("after"), true)).resolves.toMatchObject({ reply: { id: "after" } });
  });

  it("counts the requests the executor holds too: refuses while one of them has waited over queueWaitMsMax, even with nothing queued", async () => {
    const ex = new GatedExecutor();
    const parts = new Partitions<Command, Outcome>(ex, 1, createMetrics(), createLogger("silent"), () => undefined);
    const n = limits.admissionBacklogMin;
    const held = Array.from({ length: n }, (_, i) => parts.submit(0, cmd(`held-${i}`), true));
    await new Promise((r) => setImmediate(r));
    // Everything is in the executor's batch; the queue is empty.
    expect(ex.batches.flatMap((b) => b.ids)).toEqual(Array.from({ length: n }, (_, i) => `held-${i}`));
    await new Promise((r) => setTimeout(r, limits.queueWaitMsMax + 50));
    await expect(parts.submit(0, cmd("too-late"), true)).rejects.toMatchObject({ code: "OVERLOADED", message: expect.stringMatching(/ms behind/) });
    // Bulk work still queues; once the held batch is answered, requests are admitted again.
    const streamed = parts.submit(0, cmd("stream-event"), false);
    ex.open();
    expect((await Promise.all(held)).length).toBe(n);
    await expect(streamed).resolves.toMatchObject({ reply: { id: "stream-event" } });
    await expect(parts.submit(0, cmd("after"), true)).resolves.toMatchObject({ reply: { id: "after" } });
  });

  it("admits requests behind a stall while fewer than admissionBacklogMin are unanswered, however long they waited", async () => {
    const ex = new GatedExecutor();
    const parts = new Partitions<Command, Outcome>(ex, 1, createMetrics(), createLogger("silent"), () => undefined);
    const few = limits.admissionBacklogMin - 2;
    const held = Array.from({ length: few }, (_, i) => parts.submit(0, cmd(`held-${i}`), true));
    await new Promise((r) => setImmediate(r));
    const queued = parts.submit(0, cmd("queued"), true);
    await new Promise((r) => setTimeout(r, limits.queueWaitMsMax + 50));
    // One below the floor: still admitted, though the oldest has waited past the bound.
    const admitted = parts.submit(0, cmd("admitted"), true);
    // The floor reached: refused.
    await expect(parts.submit(0, cmd("refused"), true)).rejects.toMatchObject({ code: "OVERLOADED" });
    ex.open();
    expect((await Promise.all(held)).length).toBe(few);
    await expect(queued).resolves.toMatchObject({ reply: { id: "queued" } });
    await expect(admitted).resolves.toMatchObject({ reply: { id: "admitted" } });
  });

  it("reports what admission looks at: the unanswered requests (queued or in the executor) and how long the oldest has waited", async () => {
    const ex = new GatedExecutor();
    const metrics = createMetrics();
    const parts = new Partitions<Command, Outcome>(ex, 1, metrics, createLogger("silent"), () => undefined);
    const gauge = async (name: string): Promise<number> => {
      const line = (await metrics.text()).split("\n").find((l) => l.startsWith(`${name}{partition="0"}`));
      return Number(line?.slice(line.lastIndexOf(" ") + 1));
    };
    const held = [parts.submit(0, cmd("held-0"), true), parts.submit(0, cmd("held-1"), true)];
    await new Promise((r) => setImmediate(r));
    // In the executor, nothing queued: the queue's age is 0, the requests' is not.
    const queued = parts.submit(0, cmd("queued"), true);
    const streamed = parts.submit(0, cmd("stream-event"), false);
    await new Promise((r) => setTimeout(r, 60));
    expect(await gauge("loyalty_partition_unanswered_requests")).toBe(3);
    expect(await gauge("loyalty_partition_unanswered_age_seconds")).toBeGreaterThanOrEqual(0.05);
    ex.open();
    await Promise.all([...held, queued, streamed]);
    expect(await gauge("loyalty_partition_unanswered_requests")).toBe(0);
    expect(await gauge("loyalty_partition_unanswered_age_seconds")).toBe(0);
  });

  it("takes its bounds from config admission when given: here 2 unanswered and 30 ms", async () => {
    const ex = new GatedExecutor();
    const parts = new Partitions<Command, Outcome>(ex, 1, createMetrics(), createLogger("silent"), () => undefined, { queueWaitMs: 30, backlogMin: 2 });
    const held = [parts.submit(0, cmd("held-0"), true), parts.submit(0, cmd("held-1"), true)];
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 80));
    // Far below the defaults (64 unanswered, 100 ms), past these.
    await expect(parts.submit(0, cmd("refused"), true)).rejects.toMatchObject({ code: "OVERLOADED", message: expect.stringMatching(/ms behind/) });
    ex.open();
    expect((await Promise.all(held)).map((o) => o.reply.id)).toEqual(["held-0", "held-1"]);
    await expect(parts.submit(0, cmd("after"), true)).resolves.toMatchObject({ reply: { id: "after" } });
  });

  it("serves requests someone waits for before queued bulk work, each lane in arrival order", async () => {
    const ex = new GatedExecutor();
    const parts = new Partitions<Command, Outcome>(ex, 1, createMetrics(), createLogger("silent"), () => undefined);
    const first = parts.submit(0, cmd("in-flight"), false);
    await new Promise((r) => setImmediate(r));
    const bulk = Array.from({ length: 600 }, (_, i) => parts.submit(0, cmd(`b-${i}`), false));
    const urgent = Array.from({ length: 3 }, (_, i) => parts.submit(0, cmd(`u-${i}`), true));
    ex.open();
    await Promise.all([first, ...bulk, ...urgent]);
    const order = ex.batches.flatMap((b) => b.ids);
    expect(order.slice(0, 4)).toEqual(["in-flight", "u-0", "u-1", "u-2"]);
    expect(order.slice(4)).toEqual(Array.from({ length: 600 }, (_, i) => `b-${i}`));
  });

  it("keeps bulk work from piling up in the executor ahead of waiting requests: few bulk batches at once, small ones while requests come in", async () => {
    const ex = new SteppedExecutor();
    const parts = new Partitions<Command, Outcome>(ex, 1, createMetrics(), createLogger("silent"), () => undefined);
    const n = limits.batchSizeMax * 6;
    const bulk = Array.from({ length: n }, (_, i) => parts.submit(0, cmd(`b-${i}`), false));
    await ex.step(); // nothing to finish yet: lets the first batches be handed over
    // Only bulk work: full batches, but never more than bulkBatchesInFlight of them in the executor.
    for (let i = 0; i < 3; i++) {
      const running = ex.inFlight();
      expect(running.length).toBe(limits.bulkBatchesInFlight);
      for (const ids of running) expect(ids.length).toBe(limits.batchSizeMax);
      await ex.step();
    }
    // A request someone waits for arrives: it goes out in the next batch handed over, behind
    // at most bulkBatchesInFlight bulk batches, and bulk batches shrink while such requests come in.
    const waiting = parts.submit(0, cmd("u-0"), true);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const ahead = ex.inFlight().filter((ids) => !ids.includes("u-0"));
    expect(ahead.length).toBeLessThanOrEqual(limits.bulkBatchesInFlight);
    const mine = ex.batches.find((b) => b.ids.includes("u-0"));
    expect(mine).toBeDefined();
    expect(bulkIn(mine!.ids)).toBe(0);
    for (let i = 0; i < 4; i++) await ex.step();
    await expect(waiting).resolves.toMatchObject({ reply: { id: "u-0" } });
    const after = ex.batches.slice(ex.batches.indexOf(mine!) + 1);
    expect(after.length).toBeGreaterThan(0);
    for (const b of after) expect(bulkIn(b.ids)).toBeLessThanOrEqual(limits.bulkBatchShared);
    // Every bulk command still applies, once and in order.
    while (ex.inFlight().length > 0) await ex.step();
    await Promise.all(bulk);
    expect(ex.batches.flatMap((b) => b.ids).filter((id) => id.startsWith("b-"))).toEqual(Array.from({ length: n }, (_, i) => `b-${i}`));
  });

  it("tells the executor how many of a batch's commands are waited for, and counts a transaction several batches shared once", async () => {
    const ex = new SharingExecutor();
    const metrics = createMetrics();
    const parts = new Partitions<Command, Outcome>(ex, 1, metrics, createLogger("silent"), () => undefined);
    const first = parts.submit(0, cmd("b-first"), false);
    await new Promise((r) => setImmediate(r));
    // The urgent requests lead the next batch, with as much bulk work as may share it.
    const urgent = Array.from({ length: 3 }, (_, i) => parts.submit(0, cmd(`u-${i}`), true));
    const bulk = Array.from({ length: 100 }, (_, i) => parts.submit(0, cmd(`b-${i}`), false));
    await new Promise((r) => setImmediate(r));
    expect(ex.batches.map((b) => [b.ids.length, b.urgent])).toEqual([
      [1, 0],
      [3 + limits.bulkBatchShared, 3],
    ]);
    ex.open();
    await Promise.all([first, ...urgent, ...bulk]);
    // The two batches held shared one transaction; the rest of the bulk work was one of its own.
    const rest = 100 - limits.bulkBatchShared;
    expect(ex.batches.slice(2).map((b) => [b.ids.length, b.urgent])).toEqual([[rest, 0]]);
    const values = (await metrics.batchSize.get()).values;
    const value = (name: string) => values.find((v) => v.metricName === name)!.value;
    expect(value("loyalty_batch_size_count")).toBe(2);
    expect(value("loyalty_batch_size_sum")).toBe(104);
  });

  it("hands a partition's commands over in arrival order, in batches of at most batchSizeMax", async () => {
    const ex = new GatedExecutor();
    ex.open();
    const parts = new Partitions<Command, Outcome>(ex, 1, createMetrics(), createLogger("silent"), () => undefined);
    const n = limits.batchSizeMax * 2 + 7;
    await Promise.all(Array.from({ length: n }, (_, i) => parts.submit(0, cmd(`c-${i}`))));
    const order = ex.batches.flatMap((b) => b.ids);
    expect(order).toEqual(Array.from({ length: n }, (_, i) => `c-${i}`));
    expect(Math.max(...ex.batches.map((b) => b.ids.length))).toBeLessThanOrEqual(limits.batchSizeMax);
    expect(ex.batches.length).toBeGreaterThanOrEqual(3);
  });

  it("maps a key to the same partition every time, spreading keys over all partitions", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const p = partitionOf(`cu_${i}`, 8);
      expect(partitionOf(`cu_${i}`, 8)).toBe(p);
      seen.add(p);
    }
    expect(seen.size).toBe(8);
  });
});
