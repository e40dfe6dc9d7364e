// The bench runner: machine line, raw limits, engine and rule cases, one table with ratios
// to the raw limits of this same run, and dated rows appended to bench/RESULTS.md.
//   node --expose-gc dist/bench/run.js        full (5 runs per case)
//   BENCH_QUICK=1 node dist/bench/run.js      seconds; prints only (BENCH_WRITE=1 to record)
//   BENCH_ONLY=raw,engine,rules,size,overload,scale,segments,purchases  a subset of the groups (default: all of them)
//   BENCH_EXECUTORS=inline,workers            the executors the engine and overload groups run with
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { benchEngine, type EngineOutcome } from "./engine.js";
import { machineInfo, machineLine, machineShort, repoRoot } from "./machine.js";
import { benchOverload } from "./overload.js";
import { benchPurchases } from "./purchases.js";
import { benchRaw, benchSize } from "./raw.js";
import { benchScale } from "./scale.js";
import { benchSegments } from "./segments.js";
import { benchStorage } from "./size.js";
import { repeat, runsFor, type Summary } from "./stats.js";

interface RuleFigure {
  programmes: number;
  basketsPerSec: number;
  usPerBasket: number;
}

type BenchRules = (opts: { quick: boolean }) => Promise<RuleFigure[]>;

/** Figure -> the raw figure of the same run it is compared with (median ÷ median). */
const RATIOS: readonly [figure: string, raw: string][] = [
  ["engine.stream.eventsPerSec", "raw.pipeline.eventsPerSec"],
  ["engine.rpc.accrue.c1.p50Ms", "raw.nats.c1.p50Ms"],
  ["engine.rpc.accrue.c1.p99Ms", "raw.nats.c1.p99Ms"],
  ["engine.rpc.accrue.c1.p999Ms", "raw.nats.c1.p999Ms"],
  // PERFORMANCE.md sets the accrue latency goal against req/reply + one durable LMDB write.
  ["engine.rpc.accrue.c1.p50Ms", "raw.natsLmdb.c1.p50Ms"],
  ["engine.rpc.accrue.c1.p99Ms", "raw.natsLmdb.c1.p99Ms"],
  ["engine.rpc.accrue.c64.reqPerSec", "raw.nats.c64.reqPerSec"],
  ["engine.rpc.accrue.c64.p50Ms", "raw.nats.c64.p50Ms"],
  ["engine.rpc.accrue.c64.p99Ms", "raw.nats.c64.p99Ms"],
  ["engine.rpc.authorize.c1.p50Ms", "raw.nats.c1.p50Ms"],
  ["engine.rpc.authorize.c1.p99Ms", "raw.nats.c1.p99Ms"],
  ["engine.rpc.authorize.c64.reqPerSec", "raw.nats.c64.reqPerSec"],
  ["engine.rpc.authorize.c64.p99Ms", "raw.nats.c64.p99Ms"],
  ["engine.http.accrue.c64.reqPerSec", "raw.http.c64.reqPerSec"],
  ["engine.http.accrue.c64.p99Ms", "raw.http.c64.p99Ms"],
  ["engine.http.authorize.c64.reqPerSec", "raw.http.c64.reqPerSec"],
  ["engine.http.authorize.c64.p99Ms", "raw.http.c64.p99Ms"],
  // PERFORMANCE.md: under 3× overload, admitted requests keep p99 ≤ 10× nominal (same executor, same run).
  ["overload.rpc.admittedP99Ms", "overload.rpc.nominalP99Ms"],
  // PERFORMANCE.md: throughput at 10 M customers ≥ 80 % of the control's (same engine, same run).
  ["scale.big.stream.eventsPerSec", "scale.small.stream.eventsPerSec"],
  // Issue 10: purchase knowledge may cost the hot path at most 10 % (same traffic, runs alternated).
  ["purchases.on.cpuUsPerAccrual", "purchases.off.cpuUsPerAccrual"],
  ["purchases.on.bytesPerAccrual", "purchases.off.bytesPerAccrual"],
];

const RESULTS_HEADER = `# loyaltyd benchmark results

One row per figure per full \`npm run bench\` run (\`node --expose-gc dist/bench/run.js\`),
appended by the runner. Quick runs (\`BENCH_QUICK=1\`) are not recorded unless \`BENCH_WRITE=1\`.
How we measure: docs/PERFORMANCE.md.

Columns:
- **date**: when the run started (UTC).
- **commit**: \`git rev-parse --short HEAD\`; \`-dirty\` when tracked files had uncommitted changes.
- **machine**: CPU model × cores, memory, Node, nats-server, and the nats / lmdb / piscina package versions.
- **case**: \`<group>.<case>.<metric>\` (engine and overload cases: \`<group>.<executor>.<case>.<metric>\`,
  executor \`inline\` or \`workers\`). Groups: \`raw\` (the limits, measured in the same run),
  \`engine\` (through the wire contract only), \`rules\` (the rule engine, in process),
  \`size\` (storage, read from the engine's data directory), \`overload\` (3× capacity, wire contract only),
  \`scale\` (10 M customers against a 100 k control, and restart after kill -9), \`purchases\` (purchase
  knowledge on against off, in process).
  \`c1\` / \`c64\`: requests in flight. The metric names its unit: \`PerSec\` (per second), \`Ms\`
  (milliseconds; p50/p99/p999 = percentiles from HDR histograms), \`Us\` (microseconds).
  - \`raw.nats\`: NATS request/reply to an echo responder on its own thread, payload the size of a 5-line accrue basket.
  - \`raw.natsLmdb\`: the same, the responder doing one durable LMDB read-modify-write before replying.
  - \`raw.js\`: JetStream async publish with Nats-Msg-Id; pull-consume with explicit acks.
  - \`raw.lmdb\`: balance read-modify-write + one entry at an append-only key, 1000 per durable transaction.
  - \`raw.pipeline\`: the ideal pipeline: pull-consume, JSON decode, 1 pt per 1.00, one durable LMDB
    transaction per batch (balances, entries, stream sequence), then ack.
  - \`raw.http\`: autocannon against a node:http echo server on its own thread, 64 connections.
  - \`engine.stream\`: events pre-published to \`loyalty.events.<store>\` while the engine is paused
    (SIGSTOP; 5-line baskets, 100 k customers, 2 % re-sent duplicates), timed from resume (SIGCONT)
    to the last result on \`loyalty.results.>\`. 200 k events per run, fewer when a 10 k warm-up shows
    the engine cannot drain them in ~20 s (the run's notes say so). \`raw.js\` / \`raw.pipeline\`: 100 k per run.
  - \`size\`: 100 k customers enrolled (rpc enroll, one card each), then 200 k accruals through JetStream
    (5-line baskets); the engine stopped cleanly before each reading of its LMDB environment
    (\`<dataDir>/ledger\`, read-only): (branch + leaf + overflow pages) × page size over the root and
    every named table, minus the empty engine's reading. \`bytesPerCustomerLasting\`: the same without the
    tables whose records go by themselves (\`requests\`, the idempotency records, after retention.requestsMs;
    \`notifyOutbox\`, once JetStream stored the notifications). \`bytesPerAccrualPastRetention\`: the accruals'
    bytes without those tables and \`events\`, whose records go once retention.salesMs (400 days by default) has
    passed: what a sale leaves for good (its entries, the wallet's growth). \`dataFileMb\`: data.mdb on disk, for information. One run.
  - \`overload\`: rpc.accrue at 64 in flight for 3 s sets the 1× rate and the nominal p99; then 3× that
    rate open-loop for 30 s (latency from each request's scheduled send time; shares of all requests
    offered), then 3× that rate published to JetStream for 30 s: \`catchUpSec\` from the last publish to
    the last result, \`lost\` = events without a result, \`doubled\` = results beyond an event's first.
    \`rssPeakMb\`: the engine's VmHWM. One run per executor.
  - \`scale\`: a ledger of 10 M customers (\`big\`) and one of 100 k (\`small\`, the control), each built in
    process through the engine's batch path (rpc enroll bodies, 5,000 per durable transaction; \`buildPerSec\`,
    and \`bytesPerCustomer\`, \`bytesPerCustomerLasting\` as in \`size\`, of the big one); then the engine on each, the \`engine.stream\` runs
    with events drawn over all its customers. At 10 M, 50 k more events are pre-filled and the engine is
    killed (SIGKILL) once 30 % have their result: \`restartToReadyMs\` from the restart's spawn to the first
    200 on GET /readyz (polled every 20 ms); every event must then have a result and none be applied twice.
    \`rssPeakMb\`: VmHWM over both engine processes at 10 M (includes LMDB's mapped pages). One build per point.
  - \`purchases\`: two ledgers in process (25 k customers, three sales of history each over 25 months), one
    with purchase knowledge on and one off, get the same traffic through the partition worker's batch
    path (250 events per durable transaction); 12 timed runs each, alternated on off off on …
    \`cpuUsPerAccrual\`: process CPU time per event; \`onOverOff.cpuRatio\`: neighbouring runs' ratio;
    \`bytesPerAccrual\`: LMDB's growth ÷ events; \`walletBytesPerCustomer\`: the wallets table ÷ customers.
- **runs**: how many runs the figure summarises (5 in full mode; fewer when a long case hit its time budget).
- **median / min / max**: over those runs.
- **ratio to raw**: this figure's median ÷ the named raw figure's median, same run.
  Throughput: higher is better. Latency: lower is better.

| date | commit | machine | case | runs | median | min | max | ratio to raw |
|---|---|---|---|---|---|---|---|---|
`;

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function loadRules(): Promise<BenchRules | null> {
  // A variable specifier: bench/rules.ts is written separately and may not exist yet.
  const specifier = "./rules.js";
  try {
    const mod = (await import(specifier)) as { benchRules?: unknown };
    return typeof mod.benchRules === "function" ? (mod.benchRules as BenchRules) : null;
  } catch (err) {
    if ((err as { code?: string }).code === "ERR_MODULE_NOT_FOUND") return null;
    throw err;
  }
}

async function benchRulesCase(quick: boolean, runs: number, budgetMs: number): Promise<Record<string, Summary> | null> {
  const benchRules = await loadRules();
  if (!benchRules) return null;
  // benchRules repeats internally too: the budget keeps 5 outer runs from taking minutes.
  return repeat(runs, async () => {
    const out: Record<string, number> = {};
    for (const f of await benchRules({ quick })) {
      out[`rules.p${f.programmes}.basketsPerSec`] = f.basketsPerSec;
      out[`rules.p${f.programmes}.usPerBasket`] = f.usPerBasket;
    }
    return out;
  }, budgetMs);
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return "—";
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(3);
}

/** The executor part of a figure's name: `engine.workers.x` -> ["engine", "workers"]. */
const EXECUTOR_PART = /^(engine|overload)\.(inline|workers)\./;

/** engine.<executor>.x -> engine.x: every executor's figure is compared with the same raw limit. */
function generic(name: string): string {
  return name.replace(EXECUTOR_PART, "$1.");
}

/** A reference in the figure's own group (overload's nominal p99) is the same executor's; a raw one is shared. */
function referenceOf(reference: string, name: string): string {
  const m = EXECUTOR_PART.exec(name);
  return m && reference.startsWith(`${m[1]}.`) ? `${m[1]}.${m[2]}.${reference.slice(m[1]!.length + 1)}` : reference;
}

function ratioText(name: string, all: Record<string, Summary>): string {
  return RATIOS.filter(([f]) => f === generic(name))
    .flatMap(([, reference]) => {
      const raw = referenceOf(reference, name);
      const r = all[raw];
      const f = all[name];
      return r && f && r.median > 0 ? [`${(f.median / r.median).toFixed(2)}× ${raw}`] : [];
    })
    .join("; ");
}

function printTable(all: Record<string, Summary>): void {
  const rows = Object.entries(all).map(([name, s]) => [name, String(s.runs.length), formatNumber(s.median), formatNumber(s.min), formatNumber(s.max), ratioText(name, all)]);
  const head = ["case", "runs", "median", "min", "max", "ratio to raw"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i >= 1 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  log(line(head));
  log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) log(line(r));
}

function appendResults(path: string, all: Record<string, Summary>, date: string, commit: string, machine: string): void {
  if (!existsSync(path)) writeFileSync(path, RESULTS_HEADER);
  const rows = Object.entries(all).map(
    ([name, s]) => `| ${date} | ${commit} | ${machine} | ${name} | ${s.runs.length} | ${formatNumber(s.median)} | ${formatNumber(s.min)} | ${formatNumber(s.max)} | ${ratioText(name, all) || "—"} |`,
  );
  appendFileSync(path, rows.join("\n") + "\n");
}

interface Collected {
  all: Record<string, Summary>;
  notes: string[];
  failed: boolean;
}

/** Files one engine-backed case's outcome; `executor` goes into its figure names after the group. */
function collect(c: Collected, group: string, executor: string | null, outcome: EngineOutcome): void {
  const label = executor ? `${group} (${executor})` : group;
  if ("skipped" in outcome) {
    c.notes.push(`${label} cases skipped: ${outcome.skipped}`);
    return;
  }
  for (const [name, summary] of Object.entries(outcome.figures)) c.all[executor ? name.replace(`${group}.`, `${group}.${executor}.`) : name] = summary;
  c.notes.push(...outcome.notes.map((n) => `${label}: ${n}`));
  if (outcome.failed) {
    c.failed = true;
    c.notes.push(`${label} FAILED: ${outcome.failed}`);
  }
}

/** Runs an engine-backed case once per executor (null: once, with the engine's default); a throw is noted and sets the exit code, and the other cases still run. */
async function engineGroup(c: Collected, group: string, executors: readonly (string | null)[], log: (line: string) => void, run: () => Promise<EngineOutcome>): Promise<void> {
  const before = process.env.LOYALTYD_EXECUTOR;
  for (const executor of executors) {
    if (executor) process.env.LOYALTYD_EXECUTOR = executor;
    log(`${group}: executor ${executor ?? before ?? "(engine default)"}`);
    try {
      collect(c, group, executor, await run());
    } catch (err) {
      c.failed = true;
      c.notes.push(`${group} cases${executor ? ` (${executor})` : ""} FAILED: ${(err as Error).message}`);
    } finally {
      // startEngine passes process.env on: the next group must not inherit this executor by accident.
      if (before === undefined) delete process.env.LOYALTYD_EXECUTOR;
      else process.env.LOYALTYD_EXECUTOR = before;
    }
  }
}

async function main(): Promise<number> {
  const quick = process.env.BENCH_QUICK === "1";
  const only = new Set((process.env.BENCH_ONLY ?? "raw,engine,rules,size,overload,scale,segments,purchases").split(",").map((s) => s.trim()));
  const root = repoRoot();
  const machine = machineInfo();
  const runs = runsFor(quick);
  const size = benchSize(quick);
  const startedMs = performance.now();
  log(`machine: ${machineLine(machine)}`);
  log(`mode: ${quick ? "quick" : "full"}, ${runs} run(s) per case${(globalThis as { gc?: unknown }).gc ? "" : " (without --expose-gc)"}`);
  const c: Collected = { all: {}, notes: [], failed: false };
  if (only.has("raw")) Object.assign(c.all, await benchRaw({ size, runs, log }));
  // The same engine cases for each executor: which design is faster on this machine is a measurement.
  const executors = (process.env.BENCH_EXECUTORS ?? "inline,workers").split(",").map((s) => s.trim()).filter(Boolean);
  if (only.has("engine")) await engineGroup(c, "engine", executors, log, () => benchEngine({ size, runs, root, log }));
  if (only.has("rules")) {
    log("rules: benchRules (bench/rules.ts)");
    const rules = await benchRulesCase(quick, runs, size.longCaseBudgetMs);
    if (rules) Object.assign(c.all, rules);
    else c.notes.push("rule cases skipped: bench/rules.ts (dist/bench/rules.js) with a benchRules export is missing");
  }
  // Storage does not depend on the executor (both write the same tables): once, with the engine's default.
  if (only.has("size")) await engineGroup(c, "size", [null], log, () => benchStorage({ size, root, log }));
  if (only.has("overload")) await engineGroup(c, "overload", executors, log, () => benchOverload({ size, root, log }));
  // One executor (the engine's default): the case compares customer counts, not executors.
  if (only.has("scale")) await engineGroup(c, "scale", [null], log, () => benchScale({ size, runs, root, log }));
  if (only.has("segments")) {
    log("segments: benchSegments (bench/segments.ts)");
    try {
      Object.assign(c.all, await benchSegments({ customers: quick ? 20_000 : 1_000_000, runs: Math.min(runs, 3), log }));
    } catch (err) {
      c.failed = true;
      c.notes.push(`segments cases FAILED: ${(err as Error).message}`);
    }
  }
  // In process, alternating its own runs: one call is the case's several runs.
  if (only.has("purchases")) {
    log("purchases: benchPurchases (bench/purchases.ts)");
    Object.assign(c.all, await benchPurchases({ quick, log }));
  }
  const { all, notes, failed } = c;
  log("");
  log(`machine: ${machineLine(machine)}`);
  printTable(all);
  for (const n of notes) log(`note: ${n}`);
  log(`bench took ${((performance.now() - startedMs) / 1000).toFixed(0)} s`);
  if (!quick || process.env.BENCH_WRITE === "1") {
    const path = join(root, "bench", "RESULTS.md");
    appendResults(path, all, machine.date, machine.commit, machineShort(machine));
    log(`appended ${Object.keys(all).length} rows to ${path}`);
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
