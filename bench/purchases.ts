// Question: what does purchase knowledge (ledger/purchases.ts) cost an accrual? Goal
// (issue 10): the hot path drops by no more than 10 %. Two ledgers on temp LMDBs get the
// same traffic, one with stats on and one with stats off (LedgerOptions.purchaseStats),
// through the partition worker's own path (decode, validate, apply, one durable LMDB
// transaction per batch, encode); timed runs alternate between them, so the machine's noise
// falls on both. Then the bytes each ledger grew by, as LMDB counts them.
// Run: npx tsc -p . && node --expose-gc dist/bench/purchases.js   (BENCH_QUICK=1: seconds)
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { installProgramme } from "../src/admin/programmes.js";
import { Ledger, type LedgerOptions } from "../src/ledger/ledger.js";
import { closeStore, openStore, type Store } from "../src/ledger/store.js";
import { processBatch, type RawRequest } from "../src/partition/batch.js";
import { createBasketGenerator, enrolRequests, type BasketGenerator } from "../src/simulator/baskets.js";
import { benchProgrammes } from "./engine.js";
import { machineInfo, machineLine } from "./machine.js";
import { LEDGER_OPTIONS } from "./scale.js";
import { ledgerUsage, type LedgerUsage } from "./size.js";
import { median, summarise, type Summary } from "./stats.js";

export interface PurchasesBenchOptions {
  quick: boolean;
  log?: (line: string) => void;
}

interface Shape {
  customers: number;
  /**
   * Events per customer before measuring, spread over 25 months: lists filled as a regular's
   * are (16 sku slots fill in three or four sales of 1-20 lines). Customers are many enough
   * that a batch's wallets seldom share a page, as in a real ledger.
   */
  historyPerCustomer: number;
  /** Timed runs per setting, alternating on off off on on off ... */
  runsPerSetting: number;
  batchesPerRun: number;
  /** Events per batch (one durable transaction), as a busy partition takes them. */
  batchSize: number;
}

const SHAPES: Record<"quick" | "full", Shape> = {
  quick: { customers: 500, historyPerCustomer: 6, runsPerSetting: 2, batchesPerRun: 6, batchSize: 250 },
  full: { customers: 25_000, historyPerCustomer: 3, runsPerSetting: 12, batchesPerRun: 4, batchSize: 250 },
};

const MONTH_MS = 30.44 * 86_400_000;
const START_MS = Date.UTC(2024, 0, 1);
const SEED = 7;
/** A batch of history is built ahead of the clock that applies it: its first events may lie months back. */
const OPTIONS: LedgerOptions = { ...LEDGER_OPTIONS, timeZone: "Europe/Warsaw", eventLateMsMax: 400 * 86_400_000 };

/** One ledger on a temp dir, its clock the traffic's own synthetic clock. */
interface Bed {
  stats: boolean;
  dir: string;
  store: Store;
  ledger: Ledger;
  clock: { now: number; stepMs: number };
  gen: BasketGenerator;
  /** Accruals applied (ok or duplicate). */
  applied: number;
}

function path(bed: Bed): string {
  return join(bed.dir, "ledger");
}

function attach(bed: Bed, store: Store): void {
  bed.store = store;
  // syncCommit: the write transaction on this thread, as in a partition worker.
  bed.ledger = new Ledger(store, { ...OPTIONS, purchaseStats: bed.stats }, () => bed.clock.now, true);
}

async function openBed(customers: number, stats: boolean): Promise<Bed> {
  const dir = mkdtempSync(join(process.env.BENCH_PURCHASES_DIR ?? tmpdir(), "loyaltyd-bench-purchases-"));
  const clock = { now: START_MS, stepMs: 1000 };
  const gen = createBasketGenerator({ seed: SEED, customers, linesMin: 1, linesMax: 20, clock: () => (clock.now += clock.stepMs), rates: { phone: 0 } });
  const bed = { stats, dir, clock, gen, applied: 0 } as Bed;
  attach(bed, openStore(path(bed)));
  for (const p of benchProgrammes()) await installProgramme(bed.store, p.id, p, START_MS);
  const all = [...enrolRequests(customers)].map((r): RawRequest => ({ verb: "enroll", bytes: Buffer.from(JSON.stringify(r)), encoding: "json" }));
  for (let i = 0; i < all.length; i += 1000) await apply(bed, all.slice(i, i + 1000));
  bed.applied = 0;
  return bed;
}

/** LMDB's own figures, read with the ledger closed (as bench/size.ts reads a stopped engine's). */
async function usage(bed: Bed): Promise<LedgerUsage> {
  await closeStore(bed.store);
  const u = await ledgerUsage(path(bed));
  attach(bed, openStore(path(bed)));
  return u;
}

/** Applies one batch durably; refusals other than the traffic's own (an over-return...) are the bench's bug. */
async function apply(bed: Bed, batch: RawRequest[]): Promise<void> {
  const { handled, durable } = await processBatch(bed.ledger, batch);
  await durable;
  for (const h of handled) {
    if (h.outcome === "ok" || h.outcome === "duplicate") bed.applied++;
    else if (h.outcome !== "RETURN_EXCEEDS_SALE" && h.outcome !== "UNKNOWN_EVENT") throw new Error(`bench purchases: ${h.label} refused: ${h.outcome} ${h.refusal?.error.message ?? ""}`);
  }
}

function nextBatch(gen: BasketGenerator, size: number): RawRequest[] {
  const batch: RawRequest[] = [];
  for (let i = 0; i < size; i++) batch.push({ verb: "accrue", bytes: Buffer.from(JSON.stringify(gen.next().event)), encoding: "json" });
  return batch;
}

interface RunFigures {
  usPerAccrual: number;
  cpuUsPerAccrual: number;
  /** The kernel's share of the CPU time (writing the commit's pages): it grows with the pages a batch dirties. */
  systemUsPerAccrual: number;
}

/** One timed run: batches built before the clock starts, so only the partition's work is timed. */
async function timedRun(bed: Bed, shape: Shape): Promise<RunFigures> {
  const batches = Array.from({ length: shape.batchesPerRun }, () => nextBatch(bed.gen, shape.batchSize));
  (globalThis as { gc?: () => void }).gc?.();
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  for (const b of batches) await apply(bed, b);
  const ms = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  const events = shape.batchesPerRun * shape.batchSize;
  return { usPerAccrual: (ms * 1000) / events, cpuUsPerAccrual: (used.user + used.system) / events, systemUsPerAccrual: used.system / events };
}

const wallets = (u: LedgerUsage) => u.tables.find((t) => t.name.replace(/\0$/, "") === "wallets");

export async function benchPurchases(opts: PurchasesBenchOptions): Promise<Record<string, Summary>> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const shape = SHAPES[opts.quick ? "quick" : "full"];
  const beds = { on: await openBed(shape.customers, true), off: await openBed(shape.customers, false) };
  const runs: Record<"on" | "off", RunFigures[]> = { on: [], off: [] };
  try {
    const enrolled = { on: await usage(beds.on), off: await usage(beds.off) };
    const history = shape.customers * shape.historyPerCustomer;
    log(`purchases: ${shape.customers} customers, ${history} events of history over 25 months (1-20 lines, the simulator's mix of returns, voids and duplicates)`);
    for (const bed of [beds.on, beds.off]) {
      bed.clock.stepMs = Math.floor((25 * MONTH_MS) / history);
      for (let n = 0; n < history; n += 1000) await apply(bed, nextBatch(bed.gen, 1000));
      bed.clock.stepMs = 1000;
      await timedRun(bed, shape); // warm-up
    }
    // on off off on on off ...: drift on a shared machine falls on both alike.
    for (let i = 0; i < shape.runsPerSetting * 2; i++) {
      const setting = (i + 1) % 4 < 2 ? "on" : "off";
      const r = await timedRun(beds[setting], shape);
      runs[setting].push(r);
      log(`purchases: run ${i + 1} stats ${setting.padEnd(3)} ${r.cpuUsPerAccrual.toFixed(1)} CPU us/accrual (${r.systemUsPerAccrual.toFixed(1)} system), ${r.usPerAccrual.toFixed(1)} us wall`);
    }
    const end = { on: await usage(beds.on), off: await usage(beds.off) };
    const perAccrual = (s: "on" | "off") => (end[s].bytes - enrolled[s].bytes) / beds[s].applied;
    const perWallet = (s: "on" | "off") => wallets(end[s])!.bytes / shape.customers;
    const cpu = (s: "on" | "off") => median(runs[s].map((r) => r.cpuUsPerAccrual));
    // Neighbouring runs (on off, off on, ...) share the machine's mood: their ratio is steadier than the medians'.
    const pairRatios = runs.on.map((r, k) => r.cpuUsPerAccrual / runs.off[k]!.cpuUsPerAccrual);
    log(
      `purchases: median CPU us/accrual on ${cpu("on").toFixed(1)}, off ${cpu("off").toFixed(1)}: ${(((cpu("on") - cpu("off")) / cpu("off")) * 100).toFixed(1)} %; ` +
        `median of neighbouring pairs' ratios ${((median(pairRatios) - 1) * 100).toFixed(1)} % (goal ≤ 10 %)`,
    );
    log(`purchases: bytes per accrual on ${perAccrual("on").toFixed(0)}, off ${perAccrual("off").toFixed(0)}; wallets table ${perWallet("on").toFixed(0)} bytes per customer on, ${perWallet("off").toFixed(0)} off`);
    return {
      "purchases.onOverOff.cpuRatio": summarise(pairRatios),
      "purchases.on.cpuUsPerAccrual": summarise(runs.on.map((r) => r.cpuUsPerAccrual)),
      "purchases.off.cpuUsPerAccrual": summarise(runs.off.map((r) => r.cpuUsPerAccrual)),
      "purchases.on.usPerAccrual": summarise(runs.on.map((r) => r.usPerAccrual)),
      "purchases.off.usPerAccrual": summarise(runs.off.map((r) => r.usPerAccrual)),
      "purchases.on.bytesPerAccrual": summarise([perAccrual("on")]),
      "purchases.off.bytesPerAccrual": summarise([perAccrual("off")]),
      "purchases.on.walletBytesPerCustomer": summarise([perWallet("on")]),
      "purchases.off.walletBytesPerCustomer": summarise([perWallet("off")]),
    };
  } finally {
    for (const bed of [beds.on, beds.off]) {
      await closeStore(bed.store);
      rmSync(bed.dir, { recursive: true, force: true });
    }
  }
}

async function main(): Promise<void> {
  const quick = process.env.BENCH_QUICK === "1";
  console.log(`machine: ${machineLine(machineInfo())}`);
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} (wall time suffers on a busy machine; CPU time less so)`);
  const t0 = performance.now();
  const figures = await benchPurchases({ quick });
  for (const [name, s] of Object.entries(figures)) {
    console.log(`${name.padEnd(40)} median ${s.median.toFixed(1).padStart(8)}  min ${s.min.toFixed(1).padStart(8)}  max ${s.max.toFixed(1).padStart(8)}  runs ${s.runs.length}`);
  }
  console.log(`took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
