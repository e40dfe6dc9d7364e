// What retention costs the hot path, and how fast it prunes: a partition's writer (a
// worker thread committing sale batches synchronously, as the engine's workers do) runs
// with the pruner off and on, alternately, on a ledger holding records past their window.
// Run: npm run build && node dist/bench/retention.js (RETENTION_OLD=records, RETENTION_MS=phase length).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { Packr } from "msgpackr";
import { contentHash, validate } from "../src/codec/codec.js";
import { installProgramme } from "../src/admin/programmes.js";
import { Ledger, type Command } from "../src/ledger/ledger.js";
import { Pruner, type RetentionOptions } from "../src/ledger/retention.js";
import { closeStore, openStore, type Store } from "../src/ledger/store.js";
import { limits } from "../src/limits.js";
import { machineInfo, machineLine } from "./machine.js";
import { LEDGER_OPTIONS } from "./scale.js";

const DAY_MS = 86_400_000;
const CUSTOMERS = 1000;
const BATCH = 64;
const PROGRAMME = { id: "base", name: "Base", account: "points", currency: "EUR", rules: [{ kind: "spend", per: 100, points: 1 }] };

function saleCmd(eventId: string, i: number, at: number): Command {
  const input = validate("accrue", {
    type: "sale",
    eventId,
    at,
    storeId: "s01",
    customer: { card: `C-${i % CUSTOMERS}` },
    currency: "EUR",
    lines: [1, 2, 3].map((n) => ({ lineId: String(n), sku: `sku-${n}`, qty: 1, unitPrice: 250 * n })),
  });
  return { verb: "accrue", input, hash: contentHash("accrue", input) };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
const ms = (v: number) => `${v.toFixed(2)} ms`;

/** The partition's writer: sale batches for `durationMs`, each timed from its start to its durable commit. */
async function writer(): Promise<void> {
  const { path, durationMs, prefix } = workerData as { path: string; durationMs: number; prefix: string };
  const store = openStore(path);
  const ledger = new Ledger(store, LEDGER_OPTIONS, Date.now, true);
  const batchMs: number[] = [];
  const end = performance.now() + durationMs;
  let n = 0;
  while (performance.now() < end) {
    const now = Date.now();
    // "z-": after the old records in key order, so the scan meets those first.
    const batch = Array.from({ length: BATCH }, () => saleCmd(`z-${prefix}-${n}`, n++, now));
    const t0 = performance.now();
    await ledger.applyBatch(batch);
    batchMs.push(performance.now() - t0);
  }
  await closeStore(store);
  parentPort!.postMessage({ batchMs, sales: n });
}

interface Phase {
  salesPerSec: number;
  p50: number;
  p99: number;
  max: number;
  pruned: number;
  writeMs: number[];
  lockWaitMs: number[];
}

async function phase(path: string, durationMs: number, prefix: string, pruner: Pruner | null, sweepMs: number): Promise<Phase> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { path, durationMs, prefix } });
  let pruned = 0;
  const writeMs: number[] = [];
  const lockWaitMs: number[] = [];
  let stepping = false;
  const timer = pruner
    ? setInterval(async () => {
        if (stepping) return; // the last step still waits for the write lock
        stepping = true;
        for (const r of await pruner.step().finally(() => (stepping = false))) {
          pruned += r.pruned;
          if (r.writeMs > 0) {
            writeMs.push(r.writeMs);
            lockWaitMs.push(r.lockWaitMs);
          }
        }
      }, sweepMs)
    : null;
  const { batchMs, sales } = await new Promise<{ batchMs: number[]; sales: number }>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  if (timer) clearInterval(timer);
  const sorted = [...batchMs].sort((a, b) => a - b);
  return { salesPerSec: (sales / durationMs) * 1000, p50: pct(sorted, 0.5), p99: pct(sorted, 0.99), max: sorted[sorted.length - 1] ?? Number.NaN, pruned, writeMs, lockWaitMs };
}

async function main(): Promise<void> {
  console.log(`machine: ${machineLine(machineInfo())}`);
  const old = Number(process.env.RETENTION_OLD ?? 100_000);
  const durationMs = Number(process.env.RETENTION_MS ?? 4000);
  const dir = mkdtempSync(join(tmpdir(), "loyaltyd-bench-retention-"));
  const path = join(dir, "ledger");
  try {
    // A ledger whose `old` sales lie 60 days back: past a 30-day window.
    const tOld = Date.now() - 60 * DAY_MS;
    const store = openStore(path);
    await installProgramme(store, "base", PROGRAMME, tOld);
    const filler = new Ledger(store, LEDGER_OPTIONS, () => tOld);
    for (let c = 0; c < CUSTOMERS; c += 500) {
      const batch = Array.from({ length: 500 }, (_, k) => {
        const input = validate("enroll", { requestId: `e-${c + k}`, card: `C-${c + k}` });
        return { verb: "enroll", input, hash: contentHash("enroll", input) } as Command;
      });
      await filler.applyBatch(batch);
    }
    for (let i = 0; i < old; i += 500) await filler.applyBatch(Array.from({ length: Math.min(500, old - i) }, (_, k) => saleCmd(`a-old-${i + k}`, i + k, tOld)));
    console.log(`ledger: ${CUSTOMERS} customers, ${old} sales 60 days old; writer: batches of ${BATCH} sales, ${durationMs} ms per phase`);

    // Hot-path bytes: what retention adds to the records it dates (a sale's record: nothing, `s.at` is its date).
    const packr = new Packr({ useRecords: false });
    const t = Date.now();
    console.log(`request record +t: ${packr.pack({ h: "x", r: { ok: true }, t }).length - packr.pack({ h: "x", r: { ok: true } }).length} bytes (field name aside with shared structures: 9); sale record: +0`);

    const windows = { salesMs: 30 * DAY_MS, requestsMs: 30 * DAY_MS, holdsMs: 30 * DAY_MS, eventFutureMsMax: LEDGER_OPTIONS.eventFutureMsMax };
    const settings = [
      { label: `default (scanMax ${limits.retentionScanMaxDefault} every ${limits.retentionSweepMsDefault} ms)`, scanMax: limits.retentionScanMaxDefault, sweepMs: limits.retentionSweepMsDefault, rounds: 2 },
      { label: `faster (scanMax ${limits.retentionScanMaxDefault} every 100 ms)`, scanMax: limits.retentionScanMaxDefault, sweepMs: 100, rounds: 1 },
      { label: "larger steps (scanMax 1000 every 100 ms)", scanMax: 1000, sweepMs: 100, rounds: 1 },
    ];
    let k = 0;
    for (const s of settings) {
      // Off and on alternate: the machine is shared, and its load drifts.
      for (let round = 0; round < s.rounds; round++) {
        const off = await phase(path, durationMs, `off-${k}`, null, 0);
        const on = await phase(path, durationMs, `on-${k}`, new Pruner(store, { ...windows, scanMax: s.scanMax }, Date.now), s.sweepMs);
        k++;
        const w = [...on.writeMs].sort((a, b) => a - b);
        const wait = [...on.lockWaitMs].sort((a, b) => a - b);
        console.log(`${s.label}, round ${round + 1}`);
        console.log(`  pruner off: ${off.salesPerSec.toFixed(0)} sales/s; batch p50 ${ms(off.p50)}, p99 ${ms(off.p99)}, max ${ms(off.max)}`);
        console.log(`  pruner on:  ${on.salesPerSec.toFixed(0)} sales/s; batch p50 ${ms(on.p50)}, p99 ${ms(on.p99)}, max ${ms(on.max)}`);
        console.log(
          `  pruned ${on.pruned} in ${durationMs} ms (${((on.pruned / durationMs) * 1000).toFixed(0)}/s) in ${w.length} write txns: ` +
            `lock held p50 ${ms(pct(w, 0.5))}, p99 ${ms(pct(w, 0.99))}, max ${ms(w[w.length - 1] ?? Number.NaN)}; lock wait p50 ${ms(pct(wait, 0.5))}, max ${ms(wait[wait.length - 1] ?? Number.NaN)}`,
        );
        console.log(`  on/off: throughput ${(on.salesPerSec / off.salesPerSec).toFixed(3)}, batch p50 ${(on.p50 / off.p50).toFixed(2)}, p99 ${(on.p99 / off.p99).toFixed(2)}`);
      }
      if (k === 2) await scanAlone(store, windows);
    }
    await closeStore(store);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The scan alone, step after step: the most it prunes on this machine, and each step's hold on the lock. */
async function scanAlone(store: Store, windows: Omit<RetentionOptions, "scanMax">): Promise<void> {
  const pruner = new Pruner(store, { ...windows, scanMax: limits.retentionScanMaxDefault }, Date.now);
  const t0 = performance.now();
  let pruned = 0;
  let scanned = 0;
  const held: number[] = [];
  for (let step = 0; step < 20; step++) {
    for (const r of await pruner.step()) {
      pruned += r.pruned;
      scanned += r.scanned;
      if (r.writeMs > 0) held.push(r.writeMs);
    }
  }
  const elapsed = performance.now() - t0;
  held.sort((a, b) => a - b);
  console.log(
    `scan alone, scanMax ${limits.retentionScanMaxDefault} back to back: ${scanned} read, ${pruned} pruned in ${elapsed.toFixed(0)} ms: ` +
      `${((pruned / elapsed) * 1000).toFixed(0)} pruned/s; lock held per step p50 ${ms(pct(held, 0.5))}, max ${ms(held[held.length - 1] ?? Number.NaN)}`,
  );
}

if (isMainThread) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  void writer();
}
