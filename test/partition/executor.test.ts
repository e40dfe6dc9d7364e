// The workers executor keeps a partition's order: batches handed over faster than the
// worker takes them (more than its tasks in flight) apply in the order they were cut, as
// when each waits for the one before, though those that wait share transactions (group
// commit); its threads run with the young generation it sets. Real worker threads, real LMDB.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { installProgramme } from "../../src/admin/programmes.js";
import { closeStore, openStore } from "../../src/ledger/store.js";
import type { RawRequest } from "../../src/partition/batch.js";
import { WorkerExecutor, workerYoungGenerationMb } from "../../src/partition/executor.js";
import { BASE_PROGRAMME } from "../fixtures.js";
import { OPTIONS } from "../ledger/harness.js";

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

/** The batches each transaction applied, as [first, end) indexes: a transaction covers whole batches, in order. */
function spans(batches: RawRequest[][], transactions: number[]): [number, number][] {
  let at = 0;
  return transactions.map((commands) => {
    const first = at;
    let covered = 0;
    while (covered < commands && at < batches.length) covered += batches[at++]!.length;
    expect(covered, `the transaction from batch ${first}`).toBe(commands);
    return [first, at];
  });
}

describe("the workers executor", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** Each batch's replies, and the commands of each LMDB transaction the worker committed. */
  async function answers(
    batches: RawRequest[][],
    atOnce: boolean,
    urgent?: (b: RawRequest[], i: number) => number,
    programme: typeof BASE_PROGRAMME = BASE_PROGRAMME,
  ): Promise<{ replies: unknown[][]; transactions: number[]; reapplied: number }> {
    const dir = mkdtempSync(join(tmpdir(), "loyaltyd-executor-"));
    dirs.push(dir);
    const ledgerPath = join(dir, "ledger");
    const store = openStore(ledgerPath);
    await installProgramme(store, programme.id, programme, Date.now() - 3_600_000);
    const executor = new WorkerExecutor(1, { ledgerPath, options: { ...OPTIONS, notifyOutbox: false } });
    try {
      const committed = [];
      if (atOnce) committed.push(...(await Promise.all(batches.map((b, i) => executor.run(0, b, urgent?.(b, i))))));
      else for (const b of batches) committed.push(await executor.run(0, b));
      return {
        replies: committed.map((c) => c.results.map((h) => JSON.parse(Buffer.from(h.bytes).toString("utf8")) as unknown)),
        transactions: committed.map((c) => c.transactionCommands ?? c.results.length).filter((n) => n > 0),
        reapplied: committed.reduce((a, c) => a + (c.reapplied ?? 0), 0),
      };
    } finally {
      await executor.close();
      await closeStore(store);
    }
  }

  it("applies batches handed over all at once in the order they were cut, as one at a time", async () => {
    const batches = traffic(Date.now() - 60_000);
    // Far more than the worker's tasks in flight (the executor's depth, 4): most wait in Piscina's queue.
    expect(batches.length).toBeGreaterThan(40);
    const { replies: oneByOne, transactions: alone } = await answers(batches, false);
    // One at a time, every batch is a transaction of its own.
    expect(alone).toEqual(batches.map((b) => b.length));
    // The traffic means something: every sale and return applied, and the balances moved.
    const flat = oneByOne.flat() as { ok: boolean; type?: string; accounts?: { balance: number }[] }[];
    expect(flat.filter((r) => !r.ok)).toEqual([]);
    const returns = batches.flat().filter((r) => r.bytes.includes('"type":"return"')).length;
    expect(returns).toBeGreaterThan(25);
    expect(flat.filter((r) => r.type === "return").length).toBe(returns);
    expect(new Set(flat.filter((r) => r.type === undefined && r.accounts).map((r) => r.accounts![0]!.balance)).size).toBeGreaterThan(10);
    for (let round = 0; round < 3; round++) {
      const { replies, transactions } = await answers(batches, true);
      // The balances read between the writes are the same: a batch that reads ends a shared transaction.
      expect(replies, `round ${round}`).toEqual(oneByOne);
      // Batches that waited for the worker shared transactions; every command was in one.
      expect(transactions.length, `round ${round}`).toBeLessThan(batches.length);
      expect(transactions.reduce((a, n) => a + n, 0)).toBe(batches.flat().length);
    }
  });

  it("applies a shared transaction again, command by command, when one of its commands fails after writing", async () => {
    // A rule that overflows inside the rule engine, after the sale enrolled its new phone customer.
    const explosive = { ...BASE_PROGRAMME, rules: [{ kind: "spend", per: 100, points: 1 }, { kind: "sku", sku: "BOOM", pointsPerUnit: 1_000_000_000 }] };
    const at = Date.now() - 60_000;
    const sale = (eventId: string, customer: Record<string, string>, l: ReturnType<typeof line>) => json("accrue", { type: "sale", eventId, at, storeId: "s1", customer, currency: "EUR", lines: [l] });
    const batches: RawRequest[][] = [[json("enroll", { requestId: "e-1", card: "C-1" })]];
    for (let i = 0; i < 12; i++) batches.push([sale(`s-${i}`, { card: "C-1" }, line("1", 1, 1000 + i)), sale(`p-${i}`, { phone: `+4860000${String(i).padStart(4, "0")}` }, line("1", 1, 700))]);
    batches.splice(6, 0, [sale("s-boom", { phone: "+48609999999" }, { ...line("1", 1_000_000, 1), sku: "BOOM" })]);
    const alone = await answers(batches, false, undefined, explosive);
    const boom = alone.replies[6]![0] as { ok: boolean; error?: { code: string } };
    expect(boom).toMatchObject({ ok: false });
    expect(alone.replies.flat().filter((r) => (r as { ok: boolean }).ok === false)).toEqual([boom]);
    /** How many batches shared the transaction that applied batch `k`. */
    const sharing = (transactions: number[], k: number) => {
      const [first, end] = spans(batches, transactions).find(([, e]) => k < e)!;
      return end - first;
    };
    let shared = 0;
    for (let round = 0; round < 3; round++) {
      const { replies, transactions, reapplied } = await answers(batches, true, undefined, explosive);
      shared = Math.max(shared, sharing(transactions, 6));
      // The same replies, ids of the phone customers included: the failed sale burnt no counter and left no customer.
      expect(replies, `round ${round}`).toEqual(alone.replies);
      expect(transactions.length).toBeLessThan(batches.length);
      // Once for the transaction that held it, however many batches shared that transaction.
      expect(reapplied).toBe(1);
    }
    // The failing sale's batch did share its transaction with others.
    expect(shared).toBeGreaterThan(1);
  });

  it("never lets stream work share a transaction with a till's requests, and keeps a batch that mixes them alone", async () => {
    // Writes only, so that nothing but the kinds keeps batches apart: every third batch is the
    // stream's (no urgent request), every seventh mixes a till's request with stream events.
    const batches = traffic(Date.now() - 60_000).map((b) => b.filter((r) => r.verb !== "balance")).filter((b) => b.length > 0);
    const urgent = (b: RawRequest[], i: number) => (i % 7 === 3 ? 1 : i % 3 === 0 ? 0 : b.length);
    const kinds = batches.map((b, i) => (urgent(b, i) === b.length ? "urgent" : urgent(b, i) === 0 ? "bulk" : "mixed"));
    const { replies: oneByOne } = await answers(batches, false);
    const { replies, transactions } = await answers(batches, true, urgent);
    expect(replies).toEqual(oneByOne);
    // Each transaction covers whole batches of one kind, a mixed one alone.
    const covered = spans(batches, transactions);
    for (const [first, end] of covered) {
      const shared = kinds.slice(first, end);
      expect(new Set(shared).size, `batches ${first}-${end - 1}: ${shared.join(", ")}`).toBe(1);
      if (shared[0] === "mixed") expect(end - first).toBe(1);
    }
    expect(covered.at(-1)![1]).toBe(batches.length);
    expect(transactions.length).toBeLessThan(batches.length);
  });

  it("gives each partition's worker a young generation of 192 MB, shared out from 5 partitions on", async () => {
    expect([1, 4, 5, 8, 16, 64].map(workerYoungGenerationMb)).toEqual([192, 192, 153, 96, 48, 48]);
    const dir = mkdtempSync(join(tmpdir(), "loyaltyd-executor-"));
    dirs.push(dir);
    const ledgerPath = join(dir, "ledger");
    await closeStore(openStore(ledgerPath));
    for (const partitions of [1, 8]) {
      const executor = new WorkerExecutor(partitions, { ledgerPath, options: { ...OPTIONS, notifyOutbox: false } });
      try {
        await Promise.all(Array.from({ length: partitions }, (_, p) => executor.run(p, [json("balance", { customer: { card: "nobody" } })])));
        // What the threads actually run with, as Node reports it for each Worker.
        const pools = (executor as unknown as { pools: { threads: { resourceLimits?: { maxYoungGenerationSizeMb: number } }[] }[] }).pools;
        expect(pools.map((p) => p.threads.map((t) => t.resourceLimits?.maxYoungGenerationSizeMb))).toEqual(pools.map(() => [workerYoungGenerationMb(partitions)]));
      } finally {
        await executor.close();
      }
    }
  });
});
