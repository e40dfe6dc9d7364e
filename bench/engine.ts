// The engine's figures, measured through the wire contract only: JetStream accrual
// throughput, rpc.accrue / rpc.authorize latency and throughput, HTTP accrue / authorize.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { connect, type NatsConnection } from "nats";
import { freePort, startNatsServer } from "../src/ingest/nats-server.js";
import { cardOf, createBasketGenerator, enrolRequests, type BasketGenerator } from "../src/simulator/baskets.js";
import { mulberry32 } from "../src/simulator/random.js";
import { decodeReply, encodeJson, runPool } from "../src/simulator/wire.js";
import { createClient, LoyaltyClientError, type LoyaltyClient } from "../src/client/index.js";
import { prefill, streamLastSeq, type Outgoing } from "./jetstream.js";
import { httpLoad, requestFigures, requestLoad } from "./load.js";
import type { BenchSize } from "./raw.js";
import { repeat, type Figures, type Summary } from "./stats.js";

export interface EngineContext {
  size: BenchSize;
  runs: number;
  root: string;
  log: (line: string) => void;
}

/** `failed`: the case measured, but found something broken (e.g. events lost); the runner exits non-zero. */
export type EngineOutcome = { skipped: string } | { figures: Record<string, Summary>; notes: string[]; failed?: string };

const READY_TIMEOUT_MS = 60_000;
/** The stream case fails when no new result arrives for this long. */
const STALL_MS = 30_000;
const ENROL_CONCURRENCY = 64;
export const ADMIN_TOKEN = "bench-admin-token";

// ---- The engine under test, as a child process ----

export interface Engine {
  child: ChildProcess;
  httpPort: number;
  /** The engine's LOYALTYD_DATA_DIR: the storage case reads the LMDB files under it. */
  dataDir: string;
  /** performance.now() right after spawn: the restart case times readiness from it. */
  spawnedMs: number;
  /** Last stdout/stderr lines, for the error message when something goes wrong. */
  tail(): string;
  stop(): Promise<void>;
}

/** Three programmes as PERFORMANCE.md's stream goal names: a base, a category bonus on another account, a VIP one nobody matches. */
export function benchProgrammes(): { id: string; [field: string]: unknown }[] {
  const scope = { customers: [], groups: [], skus: [], categories: [], stores: [], channels: [] };
  const common = { currency: "EUR", validFrom: null, validTo: null, promoItemsEarn: false, rounding: "floor", capPerEvent: null, expiry: { afterDays: 365 }, redemption: { pointValue: 1, currency: "EUR" } };
  return [
    { id: "base", name: "Base", account: "points", ...common, scope, rules: [{ kind: "spend", per: 100, points: 1 }, { kind: "visit", points: 10 }, { kind: "threshold", minTotal: 10000, points: 50 }] },
    { id: "drinks", name: "Drinks club", account: "drinks", ...common, scope: { ...scope, categories: ["drinks"] }, rules: [{ kind: "category", category: "drinks", per: 100, points: 2 }, { kind: "sku", sku: "DRK-001", pointsPerUnit: 5 }] },
    { id: "vip", name: "VIP", account: "points", ...common, scope: { ...scope, groups: ["VIP"] }, rules: [{ kind: "spend", per: 100, points: 2 }, { kind: "multiplier", groups: ["VIP"], factor: 2 }] },
  ];
}

/** The engine loads these files at start; the scale case installs the same objects in process. */
function writeProgrammes(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const p of benchProgrammes()) writeFileSync(join(dir, `${p.id}.json`), JSON.stringify(p, null, 2));
}

/** The engine built by the same tsc run as this file: <outDir>/bench/engine.js -> <outDir>/src/cli.js. */
export function engineCli(): string {
  return fileURLToPath(new URL("../src/cli.js", import.meta.url));
}

/**
 * Starts `cli serve` on tmp/data; a second call with the same tmp restarts it on the same data.
 * `httpPort`: the caller's choice, so it can poll /readyz before the engine says it is ready.
 */
export async function startEngine(cli: string, natsUrl: string, tmp: string, root: string, opts: { httpPort?: number; env?: Record<string, string> } = {}): Promise<Engine> {
  const programmesDir = join(tmp, "programmes");
  writeProgrammes(programmesDir);
  const dataDir = join(tmp, "data");
  const env = {
    ...process.env,
    LOYALTYD_NATS_URL: natsUrl,
    LOYALTYD_DATA_DIR: dataDir,
    LOYALTYD_HTTP_PORT: String(opts.httpPort ?? (await freePort())),
    LOYALTYD_HTTP_HOST: "127.0.0.1",
    LOYALTYD_PROGRAMMES_DIR: programmesDir,
    ...(process.env.LOYALTYD_PARTITIONS ? { LOYALTYD_PARTITIONS: process.env.LOYALTYD_PARTITIONS } : {}),
    LOYALTYD_SIMULATOR: "off",
    LOYALTYD_ADMIN_TOKEN: ADMIN_TOKEN,
    ...opts.env,
  };
  // BENCH_ENGINE_NODE_ARGS: node options for the engine's process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (not allowed in NODE_OPTIONS).
  const nodeArgs = process.env.BENCH_ENGINE_NODE_ARGS ? process.env.BENCH_ENGINE_NODE_ARGS.split(" ") : [];
  const child = spawn(process.execPath, [...nodeArgs, cli, "serve"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  const spawnedMs = performance.now();
  const lines: string[] = [];
  const keep = (line: string): void => {
    lines.push(line);
    if (lines.length > 400) lines.shift();
  };
  // Both pipes are read to the end: an unread pipe would block the engine once its buffer fills.
  createInterface({ input: child.stderr! }).on("line", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const httpPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`engine not ready after ${READY_TIMEOUT_MS} ms:\n${lines.join("\n")}`)), READY_TIMEOUT_MS);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`engine exited at start (code ${code}, signal ${signal}):\n${lines.join("\n")}`));
    });
    createInterface({ input: child.stdout! }).on("line", (line) => {
      keep(line);
      if (!line.includes('"ready"')) return;
      try {
        const rec = JSON.parse(line) as { msg?: unknown; httpPort?: unknown };
        if (rec.msg === "ready" && typeof rec.httpPort === "number") {
          clearTimeout(timer);
          resolve(rec.httpPort);
        }
      } catch {
        // not a JSON log line: keep waiting
      }
    });
  });
  return {
    child,
    httpPort,
    dataDir,
    spawnedMs,
    tail: () => lines.join("\n"),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGCONT"); // in case a stream run was interrupted while it was paused
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A failed client call's code (the engine's, or the client's own such as TIMEOUT). */
const codeOf = (err: unknown): string => (err instanceof LoyaltyClientError ? err.code : "ERROR");

export async function enrolCustomers(nc: NatsConnection, customers: number): Promise<{ ok: number; failed: Record<string, number> }> {
  const failed: Record<string, number> = {};
  let ok = 0;
  const client = createClient({ nats: nc });
  await runPool(enrolRequests(customers), ENROL_CONCURRENCY, async (req) => {
    await client.enroll(req).then(
      () => ok++,
      (err: unknown) => (failed[codeOf(err)] = (failed[codeOf(err)] ?? 0) + 1),
    );
  });
  return { ok, failed };
}

export const salesGenerator = (seed: number, customers: number, prefix: string, duplicate: number): BasketGenerator =>
  createBasketGenerator({
    seed,
    customers,
    linesMin: 5,
    linesMax: 5,
    clock: Date.now,
    idPrefix: prefix,
    rates: { duplicate, return: 0, void: 0, phone: 0 },
  });

export const runTag = (): string => Date.now().toString(36);

// ---- (1) JetStream accrual throughput ----

/** The contract's stream name. */
export const EVENTS_STREAM = "LOYALTY_EVENTS";
/** Full mode warms up with this many events and sizes the timed runs from the rate it sees. */
const CALIBRATION_EVENTS = 10_000;
/** A timed stream run aims at this duration when the engine is too slow for the full event count, s. */
const STREAM_RUN_TARGET_S = 20;

export interface StreamRunResult {
  figures: Figures;
  eventsPerSec: number;
  /** Error results by code (an error result still counts as the event's one result). */
  errors: Record<string, number>;
}

/**
 * The engine is paused (SIGSTOP) while the events are published, so it then drains a
 * pre-filled stream like the ideal pipeline does, instead of racing the publisher for the
 * two cores. Timed from SIGCONT to the last expected result.
 */
/** `onResume`: called once the engine runs again over the pre-filled stream (a probe starts its own load beside the drain). */
export async function streamRun(nc: NatsConnection, engine: Engine, customers: number, events: number, seed: number, tag: string, notes: string[], duplicate = 0.02, onResume?: () => void): Promise<StreamRunResult> {
  const gen = salesGenerator(seed, customers, `${tag}-${runTag()}-`, duplicate);
  const jsm = await nc.jetstreamManager();
  const expected = new Set<string>();
  const errors: Record<string, number> = {};
  let lastResultMs = 0;
  const sub = nc.subscribe("loyalty.results.>", {
    callback: (err, msg) => {
      if (err) return;
      const r = decodeReply(msg.data);
      if (!r.ok) errors[r.error.code] = (errors[r.error.code] ?? 0) + 1;
      if (typeof r.eventId === "string" && expected.delete(r.eventId)) lastResultMs = performance.now();
    },
  });
  try {
    await nc.flush();
    const next = (): Outgoing => {
      const g = gen.next();
      if (!g.duplicate) expected.add(g.event.eventId);
      return { subject: `loyalty.events.${g.storeId}`, data: encodeJson(g.event), msgID: g.event.eventId };
    };
    engine.child.kill("SIGSTOP");
    let stored = 0;
    let publishPerSec = 0;
    try {
      const before = await streamLastSeq(jsm, EVENTS_STREAM);
      publishPerSec = await prefill(nc, events, next);
      stored = (await streamLastSeq(jsm, EVENTS_STREAM)) - before;
    } finally {
      engine.child.kill("SIGCONT");
    }
    const resumedMs = performance.now();
    onResume?.();
    const timed = expected.size;
    // The re-sent copies fall in the stream's duplicate window: only originals are stored, each gets one result.
    if (stored !== timed) throw new Error(`${tag}: the stream stored ${stored} messages for ${timed} distinct events`);
    const drained = (): boolean => {
      if (engine.child.exitCode !== null || engine.child.signalCode !== null) throw new Error(`${tag}: the engine exited (${engine.child.exitCode ?? engine.child.signalCode})`);
      return expected.size === 0;
    };
    await waitUntil(drained, () => lastResultMs || resumedMs, () => `${tag}: ${expected.size}/${timed} results missing; error results ${JSON.stringify(errors)}`);
    const eventsPerSec = timed / ((lastResultMs - resumedMs) / 1000);
    const errorText = Object.keys(errors).length > 0 ? `; error results ${JSON.stringify(errors)}` : "";
    notes.push(`${tag}: ${timed} events (+${events - timed} re-sent) pre-filled at ${publishPerSec.toFixed(0)}/s, drained at ${eventsPerSec.toFixed(0)}/s${errorText}`);
    return { figures: { "engine.stream.eventsPerSec": eventsPerSec }, eventsPerSec, errors };
  } finally {
    sub.unsubscribe();
  }
}

/** Full mode: a warm-up run that also sizes the timed runs so that a slow engine cannot stretch the bench to an hour. */
export async function benchStream(ctx: EngineContext, nc: NatsConnection, engine: Engine, notes: string[]): Promise<Record<string, Summary>> {
  let events = ctx.size.engineStreamEvents;
  if (events > CALIBRATION_EVENTS) {
    const warm = await streamRun(nc, engine, ctx.size.customers, CALIBRATION_EVENTS, 2999, "stream warm-up", notes);
    const affordable = Math.round((warm.eventsPerSec * STREAM_RUN_TARGET_S) / 1000) * 1000;
    if (affordable < events) {
      events = Math.max(CALIBRATION_EVENTS, affordable);
      notes.push(`stream runs use ${events} events, not ${ctx.size.engineStreamEvents}: the engine drained ~${warm.eventsPerSec.toFixed(0)}/s in the warm-up`);
    }
  }
  return repeat(ctx.runs, async (run) => (await streamRun(nc, engine, ctx.size.customers, events, 3000 + run, `stream run ${run}`, notes)).figures, ctx.size.longCaseBudgetMs);
}

/** Polls `done`; fails when nothing moved for `stallMs` since `lastProgressMs()`. */
export async function waitUntil(done: () => boolean, lastProgressMs: () => number, stallMessage: () => string, stallMs = STALL_MS): Promise<void> {
  while (!done()) {
    if (performance.now() - lastProgressMs() > stallMs) throw new Error(stallMessage());
    await new Promise((r) => setTimeout(r, 5));
  }
}

// ---- (2)-(4) request/reply and HTTP ----

export function authorizeBody(customers: number, prefix: string, seed: number): () => { requestId: string; customer: { card: string }; amount: number; ttlMs: number } {
  const rng = mulberry32(seed);
  let n = 0;
  // A short TTL: the holds this load leaves open expire instead of piling up.
  return () => ({ requestId: `${prefix}${++n}`, customer: { card: cardOf(rng.int(1, customers)) }, amount: 1, ttlMs: 5000 });
}

/**
 * Load through loyaltyd/client without retries (a refusal is counted, not smoothed
 * away): per request it encodes, sends, decodes and looks at `ok`, as the raw path did.
 */
export const benchClient = (nc: NatsConnection): LoyaltyClient => createClient({ nats: nc, retry: false });

async function rpcRun(ctx: EngineContext, nc: NatsConnection, verb: string, call: () => Promise<unknown>, notes: string[]): Promise<Figures> {
  const base = { nc, subject: `loyalty.rpc.${verb}`, durationMs: ctx.size.requestMs, warmupMs: ctx.size.warmupMs, body: () => new Uint8Array(), call, checkOk: true };
  const c1 = await requestLoad({ ...base, concurrency: 1 });
  const c64 = await requestLoad({ ...base, concurrency: 64 });
  for (const [label, r] of [["c1", c1], ["c64", c64]] as const) {
    if (r.failures > 0) notes.push(`rpc.${verb} ${label}: ${r.failures}/${r.requests} failed ${JSON.stringify(r.failuresByCode)}`);
  }
  return { ...requestFigures(`engine.rpc.${verb}.c1`, c1, false), ...requestFigures(`engine.rpc.${verb}.c64`, c64, true) };
}

async function httpRun(ctx: EngineContext, engine: Engine, verb: string, body: () => string, notes: string[]): Promise<Figures> {
  const r = await httpLoad({ url: `http://127.0.0.1:${engine.httpPort}`, path: `/v1/${verb}`, connections: 64, durationSec: ctx.size.httpSec, warmupSec: ctx.size.httpWarmupSec, body });
  if (r.non2xx > 0 || r.errors > 0) notes.push(`http ${verb}: ${r.non2xx} non-2xx, ${r.errors} errors of ${r.requests}; status ${JSON.stringify(r.statusCodes)}`);
  return { [`engine.http.${verb}.c64.reqPerSec`]: r.reqPerSec, [`engine.http.${verb}.c64.p50Ms`]: r.p50Ms, [`engine.http.${verb}.c64.p99Ms`]: r.p99Ms };
}

/** Whether the engine serves authorize: no responder, no reply or a decode-level error means not (yet). */
async function probeAuthorize(nc: NatsConnection, httpPort: number, body: ReturnType<ReturnType<typeof authorizeBody>>): Promise<{ rpc: string | null; http: string | null }> {
  const unserved = new Set(["NO_RESPONDERS", "TIMEOUT", "CONNECTION", "BAD_REPLY", "BAD_REQUEST"]);
  const probe = async (client: LoyaltyClient, label: string): Promise<string | null> => {
    try {
      await client.authorize(body, { timeoutMs: 2000, retry: false });
      return null;
    } catch (err) {
      return unserved.has(codeOf(err)) ? `${label} reply ${codeOf(err)}` : null;
    }
  };
  return { rpc: await probe(createClient({ nats: nc }), "rpc"), http: await probe(createClient({ http: `http://127.0.0.1:${httpPort}` }), "HTTP") };
}

async function measure(ctx: EngineContext, nc: NatsConnection, engine: Engine, notes: string[]): Promise<Record<string, Summary>> {
  ctx.log(`engine: JetStream accrual, ${ctx.size.engineStreamEvents} events per run`);
  const stream = await benchStream(ctx, nc, engine, notes);
  ctx.log("engine: rpc.accrue at 1 and 64 in flight");
  const rpcGen = salesGenerator(4000, ctx.size.customers, `rpc-${runTag()}-`, 0);
  const client = benchClient(nc);
  const rpcAccrue = await repeat(ctx.runs, () => rpcRun(ctx, nc, "accrue", () => client.accrue(rpcGen.sale()), notes));
  ctx.log("engine: HTTP POST /v1/accrue, autocannon, 64 connections");
  const httpGen = salesGenerator(5000, ctx.size.customers, `http-${runTag()}-`, 0);
  const httpAccrue = await repeat(ctx.runs, () => httpRun(ctx, engine, "accrue", () => JSON.stringify(httpGen.sale()), notes));
  const tag = runTag();
  const azRpc = authorizeBody(ctx.size.customers, `az-rpc-${tag}-`, 6000);
  const azHttp = authorizeBody(ctx.size.customers, `az-http-${tag}-`, 6001);
  const probe = await probeAuthorize(nc, engine.httpPort, authorizeBody(ctx.size.customers, `az-probe-${tag}-`, 6002)());
  let authorize: Record<string, Summary> = {};
  if (probe.rpc) notes.push(`rpc.authorize skipped: ${probe.rpc}`);
  else {
    ctx.log("engine: rpc.authorize at 1 and 64 in flight");
    authorize = await repeat(ctx.runs, () => rpcRun(ctx, nc, "authorize", () => client.authorize(azRpc()), notes));
  }
  if (probe.http) notes.push(`HTTP /v1/authorize skipped: ${probe.http}`);
  else {
    ctx.log("engine: HTTP POST /v1/authorize, autocannon, 64 connections");
    authorize = { ...authorize, ...(await repeat(ctx.runs, () => httpRun(ctx, engine, "authorize", () => JSON.stringify(azHttp()), notes))) };
  }
  return { ...stream, ...rpcAccrue, ...httpAccrue, ...authorize };
}

/**
 * A private nats-server on a fresh temp dir for one case; both are removed afterwards, whatever happens.
 * `base`: where the temp dir goes (default the OS temp dir).
 */
export async function withNats<T>(prefix: string, fn: (natsUrl: string, tmp: string) => Promise<T>, base = tmpdir()): Promise<T> {
  const tmp = mkdtempSync(join(base, prefix));
  try {
    const nats = await startNatsServer({ storeDir: join(tmp, "nats") });
    try {
      return await fn(nats.url, tmp);
    } finally {
      await nats.stop();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The error with the engine's last log lines: a failing case is diagnosed from the engine's side too. */
/**
 * The probes' set-up (bench/probe-*.ts): a private nats-server, an engine on it, `customers`
 * enrolled, a connection of the probe's own; all stopped and removed afterwards.
 */
export async function withProbeEngine(prefix: string, customers: number, fn: (engine: Engine, nc: NatsConnection) => Promise<void>): Promise<void> {
  await withNats(prefix, async (natsUrl, tmp) => {
    const engine = await startEngine(engineCli(), natsUrl, tmp, tmp);
    const nc = await connect({ servers: natsUrl });
    try {
      await enrolAll(nc, engine, customers, () => {});
      await fn(engine, nc);
    } finally {
      await nc.close();
      await engine.stop();
    }
  });
}

export function withEngineTail(err: unknown, engine: Engine | null): Error {
  const tail = engine ? `\n--- engine log tail ---\n${engine.tail()}` : "";
  return new Error(`${err instanceof Error ? err.message : String(err)}${tail}`);
}

/** Enrols the bench's customers and fails unless (nearly) all of them are in: every later case draws from them. */
export async function enrolAll(nc: NatsConnection, engine: Engine, customers: number, log: (line: string) => void, tag = "engine"): Promise<{ ok: number; perSec: number }> {
  const t0 = performance.now();
  const enrol = await enrolCustomers(nc, customers);
  const secs = (performance.now() - t0) / 1000;
  log(`${tag}: enrolled ${enrol.ok}/${customers} customers in ${secs.toFixed(1)} s (${(enrol.ok / secs).toFixed(0)}/s); failed ${JSON.stringify(enrol.failed)}`);
  if (enrol.ok < customers * 0.99) throw new Error(`enrolment failed: ${JSON.stringify(enrol.failed)}\n${engine.tail()}`);
  return { ok: enrol.ok, perSec: enrol.ok / secs };
}

/** Starts nats-server and the built engine, enrols the customers, measures, and cleans up. */
export async function benchEngine(ctx: EngineContext): Promise<EngineOutcome> {
  const cli = engineCli();
  if (!existsSync(cli)) return { skipped: `${cli} does not exist (build the engine first: npx tsc -p .)` };
  return withNats("loyaltyd-bench-engine-", async (natsUrl, tmp) => {
    let engine: Engine | null = null;
    let nc: NatsConnection | null = null;
    try {
      engine = await startEngine(cli, natsUrl, tmp, ctx.root);
      nc = await connect({ servers: natsUrl });
      const enrol = await enrolAll(nc, engine, ctx.size.customers, ctx.log);
      const notes: string[] = [`enrolled ${enrol.ok} customers at ${enrol.perSec.toFixed(0)}/s`];
      const figures = await measure(ctx, nc, engine, notes);
      return { figures, notes };
    } catch (err) {
      throw withEngineTail(err, engine);
    } finally {
      await nc?.close();
      await engine?.stop();
    }
  });
}
