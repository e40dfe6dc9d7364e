// How long one customer merge holds LMDB's write lock (every partition's commit waits for
// it), by how much it moves: a customer with N expiring lots (one per sale) and a few open
// holds is merged into another, in a durable batch of its own, as a partition applies it.
// Run: npm run build && node dist/bench/merge.js (MERGE_LOTS=comma-separated sizes).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { contentHash, validate } from "../src/codec/codec.js";
import type { Verb } from "../src/codec/schema.js";
import { installProgramme } from "../src/admin/programmes.js";
import { Ledger, type Command } from "../src/ledger/ledger.js";
import { closeStore, openStore } from "../src/ledger/store.js";
import { limits } from "../src/limits.js";
import { VERB_TABLE } from "../src/verbs.js";
import { machineInfo, machineLine } from "./machine.js";
import { LEDGER_OPTIONS } from "./scale.js";

const PROGRAMME = { id: "base", name: "Base", account: "points", currency: "EUR", rules: [{ kind: "spend", per: 100, points: 1 }], expiry: { afterDays: 365 } };
const BATCH = 500;

function command(verb: Verb, raw: unknown): Command {
  const input = validate(verb, raw);
  return { verb, input, hash: VERB_TABLE[verb].idempotency ? contentHash(verb, input) : "" };
}

async function mergeMs(lots: number): Promise<{ writeMs: number; entries: number }> {
  const dir = mkdtempSync(join(tmpdir(), "loyaltyd-bench-merge-"));
  const store = openStore(join(dir, "ledger"));
  try {
    await installProgramme(store, PROGRAMME.id, PROGRAMME, Date.now());
    const ledger = new Ledger(store, LEDGER_OPTIONS, Date.now, true);
    await ledger.applyBatch([command("enroll", { requestId: "e-1", card: "FROM" }), command("enroll", { requestId: "e-2", card: "INTO" })]);
    const start = Date.now() - 86_400_000;
    for (let n = 0; n < lots; n += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, lots - n) }, (_, k) => {
        const i = n + k;
        // One sale per millisecond: each its own lot.
        const sale = { type: "sale", eventId: `s-${i}`, at: start + i, storeId: "s01", customer: { card: "FROM" }, currency: "EUR", lines: [{ lineId: "1", sku: "A", qty: 1, unitPrice: 1000 }] };
        return command("accrue", sale);
      });
      await ledger.applyBatch(batch);
    }
    await ledger.applyBatch(Array.from({ length: 5 }, (_, i) => command("authorize", { requestId: `a-${i}`, customer: { card: "FROM" }, amount: 10 })));
    const merge = command("mergeCustomers", { requestId: "m-1", from: { card: "FROM" }, into: { card: "INTO" }, reason: "bench", operator: "bench" });
    const t0 = performance.now();
    const [outcome] = await ledger.applyBatch([merge]);
    const writeMs = performance.now() - t0;
    if (outcome!.reply.ok !== true || outcome!.reply.lots !== lots) throw new Error(`merge failed: ${JSON.stringify(outcome!.reply).slice(0, 300)}`);
    return { writeMs, entries: (outcome!.reply.accounts as unknown[]).length * 2 };
  } finally {
    await closeStore(store);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(machineLine(machineInfo()));
  const sizes = (process.env.MERGE_LOTS ?? `100,1000,${limits.mergeRecordsMax - 5}`).split(",").map(Number);
  console.log("lots moved | merge batch, durable (ms) | entries written");
  for (const lots of sizes) {
    const { writeMs, entries } = await mergeMs(lots);
    console.log(`${String(lots).padStart(10)} | ${writeMs.toFixed(1).padStart(26)} | ${entries}`);
  }
}

await main();
