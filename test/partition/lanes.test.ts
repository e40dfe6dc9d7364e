// Lanes: a partition's batches on two worker threads keep the partition's order. The
// turn counters alone (one thread), then real worker threads on a real LMDB: the same
// batches, all handed over at once, answer exactly as they do on one thread.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { installProgramme } from "../../src/admin/programmes.js";
import { closeStore, openStore } from "../../src/ledger/store.js";
import type { RawRequest } from "../../src/partition/batch.js";
import { WorkerExecutor } from "../../src/partition/executor.js";
import { LaneOrder, createTurnMemory, turnOf } from "../../src/partition/lanes.js";
import { BASE_PROGRAMME } from "../fixtures.js";
import { OPTIONS } from "../ledger/harness.js";

describe("turn counters", () => {
  it("lets batches begin one after the other, and reads wait for the batch before to be durable", () => {
    const memory = createTurnMemory();
    const counters = new Int32Array(memory);
    turnOf(memory, 0).wait();
    turnOf(memory, 0).waitForPredecessor();
    turnOf(memory, 1).pass(); // not its turn: nothing moves
    expect([...counters]).toEqual([0, -1]);
    turnOf(memory, 0).pass();
    turnOf(memory, 0).pass(); // idempotent
    expect(counters[0]).toBe(1);
    turnOf(memory, 1).wait();
    turnOf(memory, 1).pass();
    turnOf(memory, 1).durable();
    turnOf(memory, 0).durable(); // late: the later batch's fsync covered it
    expect([...counters]).toEqual([2, 1]);
    turnOf(memory, 2).waitForPredecessor();
  });

  it("numbers batches across the wrap of 32 bits", () => {
    const memory = createTurnMemory();
    const counters = new Int32Array(memory);
    counters[0] = 2 ** 31 - 1;
    counters[1] = 2 ** 31 - 2;
    const last = 2 ** 31 - 1;
    turnOf(memory, last).waitForPredecessor();
    turnOf(memory, last).pass();
    turnOf(memory, last).durable();
    expect([...counters]).toEqual([-(2 ** 31), 2 ** 31 - 1]);
    turnOf(memory, -(2 ** 31)).wait();
    turnOf(memory, -(2 ** 31)).waitForPredecessor();
  });

  it("passes over an abandoned batch once its turn comes, not before", async () => {
    const order = new LaneOrder(2);
    const taken = [order.take(), order.take(), order.take()];
    expect(taken).toEqual([
      { batch: 0, lane: 0 },
      { batch: 1, lane: 1 },
      { batch: 2, lane: 0 },
    ]);
    const counters = new Int32Array(order.memory);
    let abandoned = false;
    const passing = order.abandon(1).then(() => (abandoned = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(abandoned, "batch 0 has not passed yet").toBe(false);
    turnOf(order.memory, 0).pass();
    await passing;
    expect(counters[0]).toBe(2);
    turnOf(order.memory, 2).wait();
  });
});

const json = (verb: RawRequest["verb"], body: unknown): RawRequest => ({ verb, bytes: Buffer.from(JSON.stringify(body)), encoding: "json" });
const line = (lineId: string, qty: number, unitPrice: number) => ({ lineId, sku: `SKU-${lineId}`, qty, unitPrice });

/** Batches whose answers depend on their order: returns of the batch before's sale, balances read between them. */
function traffic(at: number): RawRequest[][] {
  const batches: RawRequest[][] = [[json("enroll", { requestId: "e-1", card: "C-1" }), json("enroll", { requestId: "e-2", card: "C-2" })]];
  const balance = (card: string) => json("balance", { customer: { card } });
  for (let i = 0; i < 48; i++) {
    const card = `C-${1 + (i % 2)}`;
    if (i % 6 === 5) {
      batches.push([balance("C-1"), balance("C-2")]);
      continue;
    }
    const batch = [json("accrue", { type: "sale", eventId: `s-${i}`, at: at + i, storeId: "s1", customer: { card }, currency: "EUR", lines: [line("1", 2, 1000 + i * 10), line("2", 1, 555)] })];
    if (i > 0 && (i - 1) % 6 !== 5) batch.push(json("accrue", { type: "return", eventId: `r-${i}`, originalEventId: `s-${i - 1}`, at: at + i, lines: [{ lineId: "1", qty: 1 }] }));
    if (i % 4 === 0) batch.push(balance(card));
    batches.push(batch);
  }
  return batches;
}

describe("a partition on two lanes (real worker threads, real LMDB)", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function answers(lanes: number, batches: RawRequest[][]): Promise<unknown[][]> {
    const dir = mkdtempSync(join(tmpdir(), "loyaltyd-lanes-"));
    dirs.push(dir);
    const ledgerPath = join(dir, "ledger");
    const store = openStore(ledgerPath);
    await installProgramme(store, BASE_PROGRAMME.id, BASE_PROGRAMME, Date.now() - 3_600_000);
    const executor = new WorkerExecutor(1, { ledgerPath, options: { ...OPTIONS, notifyOutbox: false } }, lanes);
    try {
      // Every batch handed over at once: the lanes take them in turn.
      const committed = await Promise.all(batches.map((b) => executor.run(0, b)));
      return committed.map((c) => c.results.map((h) => JSON.parse(Buffer.from(h.bytes).toString("utf8")) as unknown));
    } finally {
      await executor.close();
      await closeStore(store);
    }
  }

  it("answers every batch as one thread does, in the order the batches were cut", async () => {
    const batches = traffic(Date.now() - 60_000);
    const one = await answers(1, batches);
    // The traffic means something: every sale and return applied, and the balances moved.
    const flat = one.flat() as { ok: boolean; type?: string; accounts?: { balance: number }[] }[];
    expect(flat.filter((r) => !r.ok)).toEqual([]);
    const returns = batches.flat().filter((r) => r.bytes.includes("\"type\":\"return\"")).length;
    expect(returns).toBeGreaterThan(25);
    expect(flat.filter((r) => r.type === "return").length).toBe(returns);
    expect(new Set(flat.filter((r) => r.type === undefined && r.accounts).map((r) => r.accounts![0]!.balance)).size).toBeGreaterThan(10);
    for (let round = 0; round < 3; round++) expect(await answers(2, batches), `round ${round}`).toEqual(one);
  });
});
