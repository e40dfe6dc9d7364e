// Customers 10 k -> 10 M, and restart after kill -9 at 10 M (docs/PERFORMANCE.md). Enrolling
// 10 M customers over the wire would take hours, so each ledger is built in process through
// the engine's own batch path (decode, validate, apply, one durable LMDB transaction per
// batch); the engine then runs as a child process on that data dir and is measured through
// its wire contract only, with the same stream runs as engine.stream, so the figures compare.
import { existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { installProgramme } from "../src/admin/programmes.js";
import { freePort } from "../src/ingest/nats-server.js";
import { Ledger, type LedgerOptions } from "../src/ledger/ledger.js";
import { outboxRemove } from "../src/ledger/notifications.js";
import { closeStore, openStore, type Store } from "../src/ledger/store.js";
import { processBatch, type RawRequest } from "../src/partition/batch.js";
import { cardOf, enrolRequests, type EnrolRequest } from "../src/simulator/baskets.js";
import { decodeReply, encodeJson } from "../src/simulator/wire.js";
import { createClient } from "../src/client/index.js";
import {
  benchProgrammes,
  benchStream,
  engineCli,
  EVENTS_STREAM,
  runTag,
  salesGenerator,
  startEngine,
  waitUntil,
  withEngineTail,
  withNats,
  type Engine,
  type EngineContext,
  type EngineOutcome,
} from "./engine.js";
import { prefill, streamLastSeq } from "./jetstream.js";
import { statusKb } from "./overload.js";
import { lastingBytes, ledgerUsage, logUsage } from "./size.js";
import { once, type Figures, type Summary } from "./stats.js";

/** Enrolments per durable transaction while building: big enough that the fsync per batch is not the build's limit. */
const BUILD_BATCH = 5000;
const PROGRESS_EVERY = 1_000_000;
/** The engine's defaults (src/config/config.ts), so the built ledger is what `serve` would have written. */
export const LEDGER_OPTIONS: LedgerOptions = {
  selection: "strongestScope",
  timeZone: "UTC",
  enrolOnUnknownPhone: true,
  enrolOnUnknownCard: false,
  whenSpent: "negative",
  holdTtlMsDefault: 120_000,
  expiryNoticeMs: 30 * 86_400_000,
  eventLateMsMax: 30 * 86_400_000,
  eventFutureMsMax: 300_000,
  notifyOutbox: true,
};
const READY_POLL_MS = 20;
const READY_TIMEOUT_MS = 60_000;
/** The engine is killed once this share of the backlog has its result: mid-drain, with batches in flight. */
const KILL_AT_SHARE = 0.3;
/** Past the engine's JetStream ack wait (30 s): a redelivery still counts before the backlog is declared lost. */
const CATCH_UP_STALL_MS = 45_000;

// ---- The ledger, built in process ----

/**
 * On disk next to the repo: a tmpfs /tmp (or /dev/shm) would keep a 10 M-customer ledger in
 * RAM, and flatter both the build and the engine's page faults. dist/ is git-ignored.
 */
function scratchBase(root: string): string {
  const tmp = tmpdir();
  return statSync(tmp).dev === statSync(root).dev ? tmp : join(root, "dist");
}

/** Before the customers, as in a running engine; `serve` then loads the same files at start and finds them unchanged. */
async function installProgrammes(path: string): Promise<void> {
  const store = openStore(path);
  try {
    for (const p of benchProgrammes()) await installProgramme(store, p.id, p, Date.now());
  } finally {
    await closeStore(store);
  }
}

/** The next BUILD_BATCH enrol requests, as rpc enroll would hand them to a partition. */
function nextBatch(requests: Iterator<EnrolRequest>): RawRequest[] {
  const batch: RawRequest[] = [];
  while (batch.length < BUILD_BATCH) {
    const r = requests.next();
    if (r.done) break;
    batch.push({ verb: "enroll", bytes: Buffer.from(JSON.stringify(r.value)), encoding: "json" });
  }
  return batch;
}

/**
 * What a running engine does meanwhile: publishes the enrolments' notifications and removes
 * their outbox records. A ledger left holding them is not one a running engine leaves (one
 * record per 5,000 enrolments, 70 bytes per customer), and the engine started on it would
 * first publish ten million `enrolled` notifications beside the measured accruals.
 */
async function emptyOutbox(store: Store): Promise<void> {
  for (;;) {
    store.env.resetReadTxn();
    const keys = [...store.notifyOutbox.getKeys({ limit: 100 })];
    if (keys.length === 0) return;
    await outboxRemove(store, keys);
  }
}

/** Enrols customers 1..n as the partition worker would apply them; returns enrolments per second. */
async function enrolInProcess(path: string, customers: number, log: (line: string) => void, label: string): Promise<number> {
  const store = openStore(path);
  const refused: Record<string, number> = {};
  const t0 = performance.now();
  try {
    // syncCommit as in a partition worker: the write transaction runs on this thread.
    const ledger = new Ledger(store, LEDGER_OPTIONS, Date.now, true);
    const requests = enrolRequests(customers);
    for (let done = 0; done < customers; ) {
      const batch = nextBatch(requests);
      const { handled, durable } = await processBatch(ledger, batch);
      await durable;
      for (const h of handled) if (h.outcome !== "ok") refused[h.outcome] = (refused[h.outcome] ?? 0) + 1;
      const before = done;
      done += batch.length;
      if (Math.floor(done / PROGRESS_EVERY) > Math.floor(before / PROGRESS_EVERY)) {
        log(`scale: ${label}: ${done.toLocaleString("en-US")} customers in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      }
    }
    await emptyOutbox(store);
  } finally {
    await closeStore(store);
  }
  if (Object.keys(refused).length > 0) throw new Error(`scale: ${label}: enrolments refused ${JSON.stringify(refused)}`);
  return customers / ((performance.now() - t0) / 1000);
}

interface Built {
  perSec: number;
  bytesPerCustomer: number;
  /** Without the records that go by themselves (size.ts lastingBytes). */
  bytesPerCustomerLasting: number;
}

/** Programmes, then the customers; LMDB's own page counts before and after give the bytes per customer. */
async function buildLedger(path: string, customers: number, log: (line: string) => void, label: string): Promise<Built> {
  await installProgrammes(path);
  const empty = await ledgerUsage(path);
  log(`scale: ${label}: building ${customers.toLocaleString("en-US")} customers in process (rpc enroll bodies, ${BUILD_BATCH} per durable batch)`);
  const perSec = await enrolInProcess(path, customers, log, label);
  const full = await ledgerUsage(path);
  logUsage(log, `scale: ${label}: ${customers} customers`, full, empty);
  const built = { perSec, bytesPerCustomer: (full.bytes - empty.bytes) / customers, bytesPerCustomerLasting: (lastingBytes(full) - lastingBytes(empty)) / customers };
  log(
    `scale: ${label}: built at ${built.perSec.toFixed(0)} customers/s, ${built.bytesPerCustomer.toFixed(0)} bytes per customer (goal ≤ 200), ` +
      `${built.bytesPerCustomerLasting.toFixed(0)} once the enrolments' idempotency records are past retention`,
  );
  return built;
}

// ---- The engine on that ledger ----

interface Point {
  natsUrl: string;
  tmp: string;
  nc: NatsConnection;
  /** Replaced when the big point restarts the engine: cleanup stops whichever runs. */
  engine: Engine;
  customers: number;
}

/** The engine must see the built customers: a balance of the last card is refused otherwise. */
async function probeLedger(nc: NatsConnection, customers: number): Promise<void> {
  await createClient({ nats: nc, timeoutMs: 10_000 })
    .balance({ customer: { card: cardOf(customers) } })
    .catch((err: unknown) => {
      throw new Error(`scale: the engine does not see customer ${cardOf(customers)} of the built ledger: ${(err as Error).message}`);
    });
}

/** engine.stream's runs (warm-up and sizing included) with events drawn over the point's customers. */
async function streamAt(ctx: EngineContext, p: Point, label: string, notes: string[]): Promise<Record<string, Summary>> {
  ctx.log(`scale: ${label}: JetStream accrual over ${p.customers.toLocaleString("en-US")} customers`);
  const own: string[] = [];
  const runs = await benchStream({ ...ctx, size: { ...ctx.size, customers: p.customers } }, p.nc, p.engine, own);
  notes.push(...own.map((n) => `${label} (${p.customers} customers): ${n}`));
  return Object.fromEntries(Object.entries(runs).map(([name, s]) => [name.replace(/^engine\./, `scale.${label}.`), s]));
}

/** Builds the ledger of one point, starts the engine on it, runs the stream case, then `more` (the big point's restart). */
async function measurePoint(ctx: EngineContext, base: string, label: string, customers: number, notes: string[], more?: (p: Point) => Promise<Figures>): Promise<{ built: Built; figures: Record<string, Summary> }> {
  return withNats(
    `loyaltyd-bench-scale-${label}-`,
    async (natsUrl, tmp) => {
      const built = await buildLedger(join(tmp, "data", "ledger"), customers, ctx.log, label);
      let p: Point | null = null;
      try {
        const engine = await startEngine(engineCli(), natsUrl, tmp, ctx.root);
        p = { natsUrl, tmp, nc: await connect({ servers: natsUrl }), engine, customers };
        await probeLedger(p.nc, customers);
        const stream = await streamAt(ctx, p, label, notes);
        const extra = more ? once(await more(p)) : {};
        return { built, figures: { ...stream, ...extra } };
      } catch (err) {
        throw withEngineTail(err, p?.engine ?? null);
      } finally {
        await p?.nc.close();
        await p?.engine.stop();
      }
    },
    base,
  );
}

// ---- Kill -9 mid-drain, restart, readiness, nothing lost or doubled ----

interface BacklogTally {
  /** eventId -> results seen, and results that applied it (ok and not a duplicate). */
  byId: Map<string, { results: number; applied: number }>;
  /** Ids with at least one result. */
  received: number;
  errors: Record<string, number>;
  lastResultMs: number;
}

/**
 * A redelivery after the kill may answer an event a second time with `duplicate: true`:
 * that is the idempotency record at work. Doubled means applied twice.
 */
function watchBacklog(nc: NatsConnection): { tally: BacklogTally; stop: () => void } {
  const tally: BacklogTally = { byId: new Map(), received: 0, errors: {}, lastResultMs: 0 };
  const sub = nc.subscribe("loyalty.results.>", {
    callback: (err, msg) => {
      if (err) return;
      const r = decodeReply(msg.data);
      const t = typeof r.eventId === "string" ? tally.byId.get(r.eventId) : undefined;
      if (!t) return; // not a backlog event
      if (t.results++ === 0) tally.received++;
      if (!r.ok) tally.errors[r.error.code] = (tally.errors[r.error.code] ?? 0) + 1;
      else if (r.duplicate !== true) t.applied++;
      tally.lastResultMs = performance.now();
    },
  });
  return { tally, stop: () => sub.unsubscribe() };
}

const gone = (engine: Engine): boolean => engine.child.exitCode !== null || engine.child.signalCode !== null;

/** Pre-fills the backlog while the engine is paused, lets it drain KILL_AT_SHARE of it, then SIGKILL. Returns its VmHWM and, at the kill, its anonymous RSS (the engine's own memory, without LMDB's mapped file), kB. */
async function killMidDrain(ctx: EngineContext, p: Point, tally: BacklogTally): Promise<{ hwm: number; anon: number }> {
  const n = ctx.size.scaleBacklogEvents;
  const gen = salesGenerator(8000, p.customers, `scale-kill-${runTag()}-`, 0);
  const jsm = await p.nc.jetstreamManager();
  p.engine.child.kill("SIGSTOP");
  try {
    const before = await streamLastSeq(jsm, EVENTS_STREAM);
    await prefill(p.nc, n, () => {
      const { event, storeId } = gen.next();
      tally.byId.set(event.eventId, { results: 0, applied: 0 });
      return { subject: `loyalty.events.${storeId}`, data: encodeJson(event), msgID: event.eventId };
    });
    const stored = (await streamLastSeq(jsm, EVENTS_STREAM)) - before;
    if (stored !== n) throw new Error(`scale: the stream stored ${stored} of ${n} backlog events`);
  } finally {
    p.engine.child.kill("SIGCONT");
  }
  const resumedMs = performance.now();
  await waitUntil(() => gone(p.engine) || tally.received >= n * KILL_AT_SHARE, () => tally.lastResultMs || resumedMs, () => `scale: backlog stalled at ${tally.received}/${n} results before the kill`);
  if (gone(p.engine)) throw new Error(`scale: the engine exited while draining (${p.engine.child.exitCode ?? p.engine.child.signalCode})`);
  const pid = p.engine.child.pid!;
  const kb = { hwm: statusKb(pid, "VmHWM") ?? Number.NaN, anon: statusKb(pid, "RssAnon"), file: statusKb(pid, "RssFile") };
  const exited = new Promise<void>((resolve) => p.engine.child.once("exit", () => resolve()));
  p.engine.child.kill("SIGKILL");
  await exited;
  ctx.log(`scale: big: SIGKILL with ${tally.received}/${n} backlog results out; engine VmHWM ${(kb.hwm / 1024).toFixed(0)} MiB (at the kill: anon ${((kb.anon ?? 0) / 1024).toFixed(0)} MiB, file-mapped ${((kb.file ?? 0) / 1024).toFixed(0)} MiB)`);
  return { hwm: kb.hwm, anon: kb.anon ?? Number.NaN };
}

/** Polls GET /readyz every READY_POLL_MS from before the spawn; resolves with performance.now() of the first 200. */
function pollReady(port: number): { firstOk: Promise<number>; stop: () => void } {
  let stopped = false;
  const firstOk = (async () => {
    const deadline = performance.now() + READY_TIMEOUT_MS;
    while (!stopped && performance.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        const atMs = performance.now();
        await res.arrayBuffer();
        if (res.status === 200) return atMs;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, READY_POLL_MS));
    }
    throw new Error(stopped ? "readiness poll stopped" : `no 200 on /readyz within ${READY_TIMEOUT_MS} ms`);
  })();
  firstOk.catch(() => undefined); // awaited by restartTimed; a poll stopped after a failed start is no second error
  return { firstOk, stop: () => void (stopped = true) };
}

/** Restarts the engine on the same data dir; spawn -> first 200 on /readyz. */
async function restartTimed(ctx: EngineContext, p: Point): Promise<number> {
  const port = await freePort();
  const poll = pollReady(port);
  try {
    p.engine = await startEngine(engineCli(), p.natsUrl, p.tmp, ctx.root, { httpPort: port });
    return (await poll.firstOk) - p.engine.spawnedMs;
  } finally {
    poll.stop();
  }
}

/** The big point's extra: kill -9 mid-drain, time the restart, then check every backlog event was applied exactly once. */
async function killAndRestart(ctx: EngineContext, p: Point, notes: string[]): Promise<{ figures: Figures; failed?: string }> {
  const { tally, stop } = watchBacklog(p.nc);
  try {
    await p.nc.flush(); // the results subscription is in place before the first backlog event
    const first = await killMidDrain(ctx, p, tally);
    const readyMs = await restartTimed(ctx, p);
    const readyAt = performance.now();
    ctx.log(`scale: big: restarted, first 200 on /readyz ${readyMs.toFixed(0)} ms after spawn (goal ≤ 5000)`);
    const n = tally.byId.size;
    // A stall is not thrown: the events still missing then are the finding.
    await waitUntil(() => gone(p.engine) || tally.received === n, () => Math.max(tally.lastResultMs, readyAt), () => "stalled", CATCH_UP_STALL_MS).catch(() => undefined);
    if (gone(p.engine)) throw new Error(`scale: the restarted engine exited (${p.engine.child.exitCode ?? p.engine.child.signalCode})`);
    const lost = n - tally.received;
    const doubled = [...tally.byId.values()].filter((t) => t.applied > 1).length;
    const secondHwmKb = statusKb(p.engine.child.pid!, "VmHWM") ?? Number.NaN;
    const errorText = Object.keys(tally.errors).length > 0 ? `; error results ${JSON.stringify(tally.errors)}` : "";
    notes.push(`big: kill -9 mid-drain: ${n} backlog events, ${lost} without a result, ${doubled} applied twice${errorText}; restarted engine VmHWM ${(secondHwmKb / 1024).toFixed(0)} MiB`);
    const figures = {
      "scale.big.restartToReadyMs": readyMs,
      "scale.big.rssPeakMb": Math.max(first.hwm, secondHwmKb) / 1024,
      "scale.big.rssAnonMb": first.anon / 1024,
    };
    if (lost === 0 && doubled === 0) return { figures };
    return { figures, failed: `after kill -9, ${lost} of ${n} backlog events got no result and ${doubled} were applied twice` };
  } finally {
    stop();
  }
}

/** The control point first, then the big one with its kill -9; each on its own nats-server and data dir, removed afterwards. */
export async function benchScale(ctx: EngineContext): Promise<EngineOutcome> {
  const cli = engineCli();
  if (!existsSync(cli)) return { skipped: `${cli} does not exist (build the engine first: npx tsc -p .)` };
  const base = scratchBase(ctx.root);
  const notes: string[] = [];
  const { scaleControlCustomers: smallN, scaleCustomers: bigN } = ctx.size;
  ctx.log(`scale: ${smallN} and ${bigN} customers, data under ${base}`);
  const small = await measurePoint(ctx, base, "small", smallN, notes);
  notes.push(`small: ${smallN} customers built in process at ${small.built.perSec.toFixed(0)}/s, ${small.built.bytesPerCustomer.toFixed(0)} bytes per customer`);
  // Lost or doubled events: the case measured, and found the engine broken (the runner exits non-zero).
  let failed: string | undefined;
  const big = await measurePoint(ctx, base, "big", bigN, notes, async (p) => {
    const r = await killAndRestart(ctx, p, notes);
    failed = r.failed;
    return r.figures;
  });
  const figures = {
    ...once({ "scale.buildPerSec": big.built.perSec, "scale.bytesPerCustomer": big.built.bytesPerCustomer, "scale.bytesPerCustomerLasting": big.built.bytesPerCustomerLasting }),
    ...small.figures,
    ...big.figures,
  };
  return failed ? { figures, notes, failed } : { figures, notes };
}
