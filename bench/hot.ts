// Question: what does one accrual cost the partition worker, in CPU and in ledger bytes,
// and does a change to the hot path pay? A paired in-process A/B: two ledgers on temp
// LMDBs get the very same traffic (the simulator's 1-20-line baskets with its returns,
// voids and duplicates) through the worker's own batch path (decode, validate, apply, one
// durable transaction per batch, encode), timed runs alternating A B B A ..., so a shared
// machine's noise falls on both. B is either this build with a switch turned off
// (--toggle validators) or another build of the engine (--base DIR: a compiled tree of an
// earlier commit, e.g. `git archive <commit> | tar -x -C DIR && cd DIR && tsc`).
// Run: npx tsc -p . && node --expose-gc dist/bench/hot.js [--toggle validators | --base DIR]   (BENCH_QUICK=1: seconds;
// BENCH_HOT_RUNS: timed pairs, default 12; BENCH_HOT_BATCH: events per transaction in them, default 250; BENCH_HOT_DIR: where the ledgers go, e.g. /dev/shm to leave fsync out; BENCH_HOT_SHAPE=heavy: 400 daily shoppers)
// Profile: node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/hot.js --only A
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import * as here from "./hot-side.js";
import { createBasketGenerator, enrolRequests, type BasketGenerator } from "../src/simulator/baskets.js";
import { benchProgrammes } from "./engine.js";
import { machineInfo, machineLine } from "./machine.js";
import { LEDGER_OPTIONS } from "./scale.js";
import { ledgerUsage, type LedgerUsage } from "./size.js";
import { median } from "./stats.js";

interface Shape {
  customers: number;
  /** Events per customer applied before the timed runs (spread over the last months). */
  historyPerCustomer: number;
  runsPerSide: number;
  batchesPerRun: number;
  batchSize: number;
}

const SHAPES: Record<"quick" | "full" | "heavy", Shape> = {
  quick: { customers: 500, historyPerCustomer: 4, runsPerSide: 2, batchesPerRun: 4, batchSize: 250 },
  full: { customers: 25_000, historyPerCustomer: 3, runsPerSide: 12, batchesPerRun: 4, batchSize: 250 },
  // Daily shoppers: ~300 sales each over the 300 days of history, so every wallet carries
  // a year's turnover days and lots (a grocery's regulars, not the bench's occasional ones).
  heavy: { customers: 400, historyPerCustomer: 300, runsPerSide: 8, batchesPerRun: 4, batchSize: 250 },
};

const START_MS = Date.UTC(2025, 0, 1);
const HISTORY_SPAN_MS = 300 * 86_400_000;
type RawRequest = here.RawRequest;

/** One ledger: a side's code (this build or the base's) on its own temp directory. */
interface Bed {
  name: string;
  side: here.Side;
  dir: string;
  ledger: unknown;
  store: unknown;
  before: () => void;
  applied: number;
}

async function openBed(name: string, side: here.Side, clock: { now: number }, before: () => void): Promise<Bed> {
  const dir = mkdtempSync(join(process.env.BENCH_HOT_DIR ?? tmpdir(), `loyaltyd-bench-hot-${name}-`));
  const store = side.openStore(join(dir, "ledger"));
  const options = { ...LEDGER_OPTIONS, timeZone: "Europe/Warsaw", eventLateMsMax: 400 * 86_400_000 };
  const ledger = new side.Ledger(store, options, () => clock.now, true);
  for (const p of benchProgrammes()) await side.installProgramme(store, p.id, p, START_MS);
  const bed: Bed = { name, side, dir, ledger, store, before, applied: 0 };
  return bed;
}

/** Applies one batch durably; refusals other than the traffic's own are the bench's bug. */
async function apply(bed: Bed, batch: RawRequest[]): Promise<void> {
  bed.before();
  const { handled, durable } = await bed.side.processBatch(bed.ledger, batch);
  await durable;
  for (const h of handled) {
    if (h.outcome === "ok" || h.outcome === "duplicate") bed.applied++;
    else if (h.outcome !== "RETURN_EXCEEDS_SALE" && h.outcome !== "UNKNOWN_EVENT") throw new Error(`bench hot ${bed.name}: ${h.label} refused: ${h.outcome} ${h.refusal?.error.message ?? ""}`);
  }
}

const copy = (batch: RawRequest[]): RawRequest[] => batch.map((r) => ({ ...r, bytes: Buffer.from(r.bytes) }));

function nextBatch(gen: BasketGenerator, size: number): RawRequest[] {
  const batch: RawRequest[] = [];
  for (let i = 0; i < size; i++) batch.push({ verb: "accrue", bytes: Buffer.from(JSON.stringify(gen.next().event)), encoding: "json" });
  return batch;
}

interface Run {
  cpuUs: number;
  wallUs: number;
}

async function timedRun(bed: Bed, batches: RawRequest[][]): Promise<Run> {
  const events = batches.reduce((n, b) => n + b.length, 0);
  (globalThis as { gc?: () => void }).gc?.();
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  for (const b of batches) await apply(bed, b);
  const ms = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / events, wallUs: (ms * 1000) / events };
}

function quartiles(values: number[]): string {
  const s = [...values].sort((a, b) => a - b);
  return `${s[Math.floor(s.length / 4)]!.toFixed(3)}-${s[Math.floor((3 * s.length) / 4)]!.toFixed(3)}`;
}

async function usageOf(bed: Bed): Promise<LedgerUsage> {
  await bed.side.closeStore(bed.store);
  return ledgerUsage(join(bed.dir, "ledger"));
}

const tableName = (t: { name: string }) => t.name.replace(/\0$/, "");

function printBytes(log: (l: string) => void, beds: Bed[], enrolled: LedgerUsage[], end: LedgerUsage[], customers: number): void {
  const names = [...new Set(end.flatMap((u) => u.tables.map(tableName)))];
  for (const name of names) {
    const cells = beds.map((b, i) => {
      const t0 = enrolled[i]!.tables.find((t) => tableName(t) === name);
      const t1 = end[i]!.tables.find((t) => tableName(t) === name);
      const grew = ((t1?.bytes ?? 0) - (t0?.bytes ?? 0)) / b.applied;
      return `${b.name} ${(t0?.bytes ?? 0) / customers >= 1 ? `${((t0?.bytes ?? 0) / customers).toFixed(0)} B/customer at enrolment, ` : ""}${grew.toFixed(0)} B/accrual (${t1?.entries ?? 0} records)`;
    });
    if (cells.some((c) => !c.includes(" 0 B/accrual (0 records)"))) log(`  ${name.padEnd(18)} ${cells.join(" | ")}`);
  }
  beds.forEach((b, i) => log(`bytes ${b.name}: ${((end[i]!.bytes - enrolled[i]!.bytes) / b.applied).toFixed(0)} per accrual, ${(enrolled[i]!.bytes / customers).toFixed(0)} per enrolled customer`));
}

/**
 * The codec step alone (decode, validate, content hash) over the same events, the switch
 * alternating: no LMDB and no fsync, so a small difference shows through the noise.
 */
async function codecAB(log: (l: string) => void, toggleName: string, rounds: number): Promise<void> {
  const codec = await import("../src/codec/codec.js");
  let now = START_MS;
  const gen = createBasketGenerator({ seed: 11, customers: 5000, linesMin: 1, linesMax: 20, clock: () => (now += 1000), rates: { phone: 0 } });
  const events = Array.from({ length: 2000 }, () => Buffer.from(JSON.stringify(gen.next().event)));
  const once = (on: boolean): number => {
    here.toggle(toggleName, on);
    const cpu = process.cpuUsage();
    for (const bytes of events) {
      const value = codec.decodeBytes(bytes, "json");
      codec.contentHash("accrue", codec.validate("accrue", value));
    }
    const used = process.cpuUsage(cpu);
    return (used.user + used.system) / events.length;
  };
  once(true);
  once(false);
  const pairs: number[] = [];
  const on: number[] = [];
  const off: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const [a, b] = i % 2 === 0 ? [once(true), once(false)] : [once(false), once(true)].reverse();
    on.push(a!);
    off.push(b!);
    pairs.push(a! / b!);
  }
  log(`codec: ${toggleName} on ${median(on).toFixed(2)} CPU us/event, off ${median(off).toFixed(2)}; median of paired ratios ${median(pairs).toFixed(3)} (min ${Math.min(...pairs).toFixed(3)}, max ${Math.max(...pairs).toFixed(3)}), ${rounds} pairs of ${events.length} events`);
}

export async function benchHot(opts: { quick: boolean; shape?: keyof typeof SHAPES; base?: string; toggle?: string; only?: "A" | "B"; log?: (l: string) => void }): Promise<void> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const runsWanted = Number(process.env.BENCH_HOT_RUNS);
  const batchWanted = Number(process.env.BENCH_HOT_BATCH);
  const shape = {
    ...SHAPES[opts.shape ?? (opts.quick ? "quick" : "full")],
    ...(Number.isInteger(runsWanted) && runsWanted > 0 ? { runsPerSide: runsWanted } : {}),
    ...(Number.isInteger(batchWanted) && batchWanted > 0 ? { batchSize: batchWanted } : {}),
  };
  const thisRoot = fileURLToPath(new URL("../..", import.meta.url));
  const sideA = await here.sideAt(thisRoot);
  const sideB = opts.base ? await here.sideAt(resolve(opts.base)) : sideA;
  const clock = { now: START_MS };
  const toggleA = () => (opts.toggle ? here.toggle(opts.toggle, true) : undefined);
  const toggleB = () => (opts.toggle ? here.toggle(opts.toggle, false) : undefined);
  if (opts.toggle) await codecAB(log, opts.toggle, opts.quick ? 4 : 30);
  const beds = [await openBed("A", sideA, clock, toggleA), await openBed("B", sideB, clock, toggleB)];
  const active = beds.filter((b) => !opts.only || b.name === opts.only);
  log(`hot: A = this build${opts.toggle ? ` (${opts.toggle} on)` : ""}, B = ${opts.base ? `the build in ${opts.base}` : `this build (${opts.toggle} off)`}; ${shape.customers} customers`);
  try {
    const enrol = [...enrolRequests(shape.customers)].map((r): RawRequest => ({ verb: "enroll", bytes: Buffer.from(JSON.stringify(r)), encoding: "json" }));
    for (let i = 0; i < enrol.length; i += 1000) for (const b of beds) await apply(b, copy(enrol.slice(i, i + 1000)));
    const enrolled: LedgerUsage[] = [];
    for (const b of beds) {
      enrolled.push(await usageOf(b));
      b.store = b.side.openStore(join(b.dir, "ledger"));
      b.ledger = new b.side.Ledger(b.store, { ...LEDGER_OPTIONS, timeZone: "Europe/Warsaw", eventLateMsMax: 400 * 86_400_000 }, () => clock.now, true);
      b.applied = 0;
    }
    const history = shape.customers * shape.historyPerCustomer;
    const gen = createBasketGenerator({ seed: 7, customers: shape.customers, linesMin: 1, linesMax: 20, clock: () => (clock.now += HISTORY_SPAN_MS / history), rates: { phone: 0 } });
    // The history is an A/B too: each batch of 1,000 goes to both, the order alternating.
    const historyPairs: number[] = [];
    for (let n = 0, k = 0; n < history; n += 1000, k++) {
      const batch = nextBatch(gen, 1000);
      const cpu = new Map<string, number>();
      for (const b of k % 2 === 0 ? beds : [...beds].reverse()) {
        const t = process.cpuUsage();
        await apply(b, copy(batch));
        const used = process.cpuUsage(t);
        cpu.set(b.name, used.user + used.system);
      }
      historyPairs.push(cpu.get("A")! / cpu.get("B")!);
    }
    log(`hot: history A/B median of ${historyPairs.length} paired ratios ${median(historyPairs).toFixed(3)} (quartiles ${quartiles(historyPairs)})`);
    const runs = new Map<string, Run[]>(beds.map((b) => [b.name, []]));
    const pairs: number[] = [];
    for (let i = 0; i <= shape.runsPerSide; i++) {
      const batches = Array.from({ length: shape.batchesPerRun }, () => nextBatch(gen, shape.batchSize));
      // A B, B A, A B ...: the order alternates so drift falls on both; run 0 warms up.
      const order = i % 2 === 0 ? active : [...active].reverse();
      const got = new Map<string, Run>();
      for (const b of order) got.set(b.name, await timedRun(b, batches.map(copy)));
      if (i === 0) continue;
      for (const [name, r] of got) runs.get(name)!.push(r);
      if (got.size === 2) pairs.push(got.get("A")!.cpuUs / got.get("B")!.cpuUs);
      log(`hot: pair ${i} ${[...got].map(([n, r]) => `${n} ${r.cpuUs.toFixed(1)} CPU us (${r.wallUs.toFixed(1)} wall)`).join(", ")}`);
    }
    const cpu = (n: string) => median(runs.get(n)!.map((r) => r.cpuUs));
    for (const b of active) log(`hot: ${b.name} median ${cpu(b.name).toFixed(1)} CPU us/accrual, ${median(runs.get(b.name)!.map((r) => r.wallUs)).toFixed(1)} wall`);
    if (pairs.length) log(`hot: A/B median of paired ratios ${median(pairs).toFixed(3)} (${((median(pairs) - 1) * 100).toFixed(1)} %), quartiles ${quartiles(pairs)}, min ${Math.min(...pairs).toFixed(3)}, max ${Math.max(...pairs).toFixed(3)}`);
    // The second run of a pair can run slower whichever side it is (seen: +25 % on a noisy
    // machine), so the pairs of each order are summed up apart and their medians averaged.
    const odd = pairs.filter((_, i) => i % 2 === 0);
    const even = pairs.filter((_, i) => i % 2 === 1);
    if (odd.length && even.length) log(`hot: A/B order-balanced ${Math.sqrt(median(odd) * median(even)).toFixed(3)} (B first: median ${median(odd).toFixed(3)}; A first: ${median(even).toFixed(3)})`);
    const end: LedgerUsage[] = [];
    for (const b of beds) end.push(await usageOf(b));
    beds.forEach((b) => (b.store = null));
    printBytes(log, beds, enrolled, end, shape.customers);
  } finally {
    for (const b of beds) {
      if (b.store) await b.side.closeStore(b.store);
      rmSync(b.dir, { recursive: true, force: true });
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { base: { type: "string" }, toggle: { type: "string" }, only: { type: "string" } } });
  console.log(`machine: ${machineLine(machineInfo())}`);
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const only = values.only === "A" || values.only === "B" ? values.only : undefined;
  const shape = process.env.BENCH_HOT_SHAPE === "heavy" ? "heavy" : undefined;
  await benchHot({ quick: process.env.BENCH_QUICK === "1", ...(shape ? { shape } : {}), ...(values.base ? { base: values.base } : {}), ...(values.toggle ? { toggle: values.toggle } : {}), ...(only ? { only } : {}) });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
