// The raw limits, measured in the same run as the engine: NATS request/reply, JetStream
// publish and pull-consume, durable LMDB batches, the ideal pipeline, and an HTTP echo.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { connect, RetentionPolicy, StorageType, type JetStreamManager, type JsMsg, type NatsConnection } from "nats";
import { startNatsServer } from "../src/ingest/nats-server.js";
import { createBasketGenerator, type SaleEvent } from "../src/simulator/baskets.js";
import { mulberry32, zipfSampler } from "../src/simulator/random.js";
import { encodeJson } from "../src/simulator/wire.js";
import { consumeAll, prefill, publishAll, streamLastSeq } from "./jetstream.js";
import { commitBatch, openModel, type Entry } from "./lmdb-model.js";
import { httpLoad, requestFigures, requestLoad } from "./load.js";
import type { ResponderConfig, ResponderReady } from "./responder-worker.js";
import { repeat, type Figures, type Summary } from "./stats.js";

export interface BenchSize {
  /** Closed-loop request phases, ms. */
  requestMs: number;
  warmupMs: number;
  /** Messages per raw JetStream consume / ideal pipeline run. */
  streamEvents: number;
  /** Events per engine stream run (fewer when a warm-up shows the engine cannot drain them in ~20 s). */
  engineStreamEvents: number;
  /** Messages per js.publish (PubAck each) run. */
  publishEvents: number;
  /** Time budget of each long case (JetStream raw, engine stream): no new run starts past it, ms. */
  longCaseBudgetMs: number;
  /** Events per raw LMDB run. */
  lmdbEvents: number;
  customers: number;
  httpSec: number;
  httpWarmupSec: number;
  /** Accruals sent in the storage case, after enrolling `customers`. */
  storageAccruals: number;
  /** Closed-loop rpc.accrue at 64 in flight that sets the overload case's 1× rate, ms. */
  overloadCalibrationMs: number;
  /** Each overload phase (rpc, then JetStream) offers 3× that rate for this long, ms. */
  overloadMs: number;
  /** The scale case's big ledger (PERFORMANCE.md: 10 M customers), built in process. */
  scaleCustomers: number;
  /** The scale case's control ledger, measured the same way: the big figures are read against it. */
  scaleControlCustomers: number;
  /** Events pre-filled as the backlog the engine drains when it is killed, at the big N. */
  scaleBacklogEvents: number;
}

export function benchSize(quick: boolean): BenchSize {
  return quick
    ? { requestMs: 500, warmupMs: 200, streamEvents: 5000, engineStreamEvents: 5000, publishEvents: 5000, longCaseBudgetMs: 30_000, lmdbEvents: 20_000, customers: 2000, httpSec: 1, httpWarmupSec: 0, storageAccruals: 5000, overloadCalibrationMs: 1000, overloadMs: 3000, scaleCustomers: 200_000, scaleControlCustomers: 10_000, scaleBacklogEvents: 5000 }
    : { requestMs: 1500, warmupMs: 300, streamEvents: 100_000, engineStreamEvents: 200_000, publishEvents: 20_000, longCaseBudgetMs: 60_000, lmdbEvents: 200_000, customers: 100_000, httpSec: 2, httpWarmupSec: 0.5, storageAccruals: 200_000, overloadCalibrationMs: 3000, overloadMs: 30_000, scaleCustomers: 10_000_000, scaleControlCustomers: 100_000, scaleBacklogEvents: 50_000 };
}

/** Events per durable LMDB transaction in the raw LMDB case (PERFORMANCE.md's reference batch). */
const LMDB_BATCH = 1000;

export interface RawContext {
  size: BenchSize;
  runs: number;
  log: (line: string) => void;
}

/** A 5-line sale, the payload every raw case carries: its size is the engine's accrue size. */
export function sampleBasketBytes(customers: number): Uint8Array {
  const gen = createBasketGenerator({ seed: 7, customers, linesMin: 5, linesMax: 5, rates: { phone: 0 } });
  return encodeJson(gen.sale());
}

async function startResponder(cfg: ResponderConfig): Promise<{ ready: ResponderReady; stop(): Promise<void> }> {
  const worker = new Worker(new URL("./responder-worker.js", import.meta.url), { workerData: cfg });
  const ready = await new Promise<ResponderReady>((resolve, reject) => {
    worker.once("message", (m: ResponderReady) => resolve(m));
    worker.once("error", reject);
  });
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  return {
    ready,
    async stop() {
      worker.postMessage("stop");
      const timer = setTimeout(() => void worker.terminate(), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---- (a) NATS request/reply, and the same plus one durable LMDB write ----

async function benchRequestReply(ctx: RawContext, natsUrl: string, tmp: string): Promise<Record<string, Summary>> {
  const payload = sampleBasketBytes(ctx.size.customers);
  const echo = await startResponder({ mode: "echo", natsUrl, subject: "raw.echo" });
  const durable = await startResponder({ mode: "lmdb", natsUrl, subject: "raw.durable", dir: join(tmp, "rr-lmdb") });
  const nc = await connect({ servers: natsUrl });
  try {
    const base = { nc, durationMs: ctx.size.requestMs, warmupMs: ctx.size.warmupMs, body: () => payload, checkOk: false };
    return await repeat(ctx.runs, async () => {
      const c1 = await requestLoad({ ...base, subject: "raw.echo", concurrency: 1 });
      const c64 = await requestLoad({ ...base, subject: "raw.echo", concurrency: 64 });
      const d1 = await requestLoad({ ...base, subject: "raw.durable", concurrency: 1 });
      return {
        ...requestFigures("raw.nats.c1", c1, false),
        ...requestFigures("raw.nats.c64", c64, true),
        ...requestFigures("raw.natsLmdb.c1", d1, false),
      };
    });
  } finally {
    await nc.close();
    await echo.stop();
    await durable.stop();
  }
}

// ---- (b) JetStream publish / consume and (d) the ideal pipeline, on one stream per run ----

const decoder = new TextDecoder();

/** The trivial rule of the ideal pipeline: 1 point per 1.00 spent. */
function idealEntry(m: JsMsg): Entry {
  const sale = JSON.parse(decoder.decode(m.data)) as SaleEvent;
  const customer = "card" in sale.customer ? sale.customer.card : "?";
  return { customer, amount: Math.floor(sale.total / 100), eventId: sale.eventId, at: sale.at };
}

const rawSales = (seed: number, customers: number) =>
  createBasketGenerator({ seed, customers, linesMin: 5, linesMax: 5, rates: { duplicate: 0, return: 0, void: 0, phone: 0 } });

/** js.publish with msgID, one PubAck each, on a stream of its own. */
async function publishRun(ctx: RawContext, nc: NatsConnection, jsm: JetStreamManager, run: number): Promise<number> {
  const stream = `RAWPUB_${run}`;
  await jsm.streams.add({ name: stream, subjects: [`rawpub.${run}.>`], storage: StorageType.File, retention: RetentionPolicy.Limits });
  const gen = rawSales(900 + run, ctx.size.customers);
  try {
    const pub = await publishAll(nc.jetstream(), ctx.size.publishEvents, () => {
      const g = gen.next();
      return { subject: `rawpub.${run}.${g.storeId}`, data: encodeJson(g.event), msgID: g.event.eventId };
    });
    if (pub.failed > 0) throw new Error(`raw publish: ${pub.failed} publishes failed`);
    return pub.perSec;
  } finally {
    await jsm.streams.delete(stream);
  }
}

async function jetStreamRun(ctx: RawContext, nc: NatsConnection, tmp: string, run: number): Promise<Figures> {
  const jsm = await nc.jetstreamManager();
  const publishPerSec = await publishRun(ctx, nc, jsm, run);
  const stream = `RAW_${run}`;
  await jsm.streams.add({ name: stream, subjects: [`raw.${run}.>`], storage: StorageType.File, retention: RetentionPolicy.Limits });
  const gen = rawSales(1000 + run, ctx.size.customers);
  const n = ctx.size.streamEvents;
  try {
    await prefill(nc, n, () => {
      const g = gen.next();
      return { subject: `raw.${run}.${g.storeId}`, data: encodeJson(g.event), msgID: g.event.eventId };
    });
    const stored = await streamLastSeq(jsm, stream);
    if (stored !== n) throw new Error(`raw stream: ${stored} of ${n} messages stored`);
    const consumePerSec = await consumeAll(nc, jsm, stream, "plain", n, () => undefined);
    const model = openModel(join(tmp, `pipeline-${run}`));
    try {
      const pipelinePerSec = await consumeAll(nc, jsm, stream, "ideal", n, (batch) =>
        commitBatch(model, batch.map(idealEntry), batch[batch.length - 1]!.seq),
      );
      return { "raw.js.publishPerSec": publishPerSec, "raw.js.consumePerSec": consumePerSec, "raw.pipeline.eventsPerSec": pipelinePerSec };
    } finally {
      await model.close();
      rmSync(join(tmp, `pipeline-${run}`), { recursive: true, force: true });
    }
  } finally {
    await jsm.streams.delete(stream);
  }
}

async function benchJetStream(ctx: RawContext, natsUrl: string, tmp: string): Promise<Record<string, Summary>> {
  const nc = await connect({ servers: natsUrl });
  try {
    return await repeat(ctx.runs, (run) => jetStreamRun(ctx, nc, tmp, run), ctx.size.longCaseBudgetMs);
  } finally {
    await nc.close();
  }
}

// ---- (c) LMDB: read-modify-write of a balance + one appended entry, 1000 per durable transaction ----

async function lmdbRun(ctx: RawContext, tmp: string, run: number): Promise<Figures> {
  const dir = join(tmp, `lmdb-${run}`);
  const model = openModel(dir);
  const rng = mulberry32(2000 + run);
  const draw = zipfSampler(ctx.size.customers, 0.8);
  try {
    const t0 = performance.now();
    for (let done = 0; done < ctx.size.lmdbEvents; done += LMDB_BATCH) {
      const batch: Entry[] = [];
      for (let i = 0; i < LMDB_BATCH; i++) batch.push({ customer: `C-${draw(rng)}`, amount: rng.int(1, 100), eventId: `l${run}-${done + i}`, at: done + i });
      await commitBatch(model, batch);
    }
    return { "raw.lmdb.eventsPerSec": ctx.size.lmdbEvents / ((performance.now() - t0) / 1000) };
  } finally {
    await model.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- HTTP echo: the floor under the engine's HTTP routes ----

async function benchHttp(ctx: RawContext): Promise<Record<string, Summary>> {
  const server = await startResponder({ mode: "http" });
  const body = new TextDecoder().decode(sampleBasketBytes(ctx.size.customers));
  try {
    return await repeat(ctx.runs, async () => {
      const r = await httpLoad({
        url: `http://127.0.0.1:${server.ready.port}`,
        path: "/v1/accrue",
        connections: 64,
        durationSec: ctx.size.httpSec,
        warmupSec: ctx.size.httpWarmupSec,
        body: () => body,
      });
      return { "raw.http.c64.reqPerSec": r.reqPerSec, "raw.http.c64.p50Ms": r.p50Ms, "raw.http.c64.p99Ms": r.p99Ms };
    });
  } finally {
    await server.stop();
  }
}

/** Runs every raw case against a private nats-server; temp dirs are removed afterwards. */
export async function benchRaw(ctx: RawContext): Promise<Record<string, Summary>> {
  const tmp = mkdtempSync(join(tmpdir(), "loyaltyd-bench-raw-"));
  const nats = await startNatsServer({ storeDir: join(tmp, "nats") });
  try {
    ctx.log("raw: NATS request/reply (echo; echo after a durable LMDB write)");
    const rr = await benchRequestReply(ctx, nats.url, tmp);
    ctx.log("raw: JetStream publish, pull-consume with acks, ideal pipeline");
    const js = await benchJetStream(ctx, nats.url, tmp);
    ctx.log("raw: LMDB read-modify-write + append, 1000 per durable transaction");
    const lmdb = await repeat(ctx.runs, (run) => lmdbRun(ctx, tmp, run));
    ctx.log("raw: HTTP echo, autocannon, 64 connections");
    const http = await benchHttp(ctx);
    return { ...rr, ...js, ...lmdb, ...http };
  } finally {
    await nats.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}
