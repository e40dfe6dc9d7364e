// Overload at 3× capacity, through the wire contract only. rpc.accrue is offered open-loop
// at three times the rate the engine sustains at 64 in flight, each latency taken from the
// request's scheduled send time (a stalled engine must not slow the load down and so hide
// its queue: coordinated omission). Then the same excess goes to JetStream, which must
// catch up without losing an event. The engine's resident memory is sampled meanwhile.
import { existsSync, readFileSync } from "node:fs";
import { connect, createInbox, headers, type NatsConnection } from "nats";
import { latencyHistogram, percentileMs, recordMs, type LatencyHistogram } from "../src/simulator/latency.js";
import { decodeReply, encodeJson, type WireReply } from "../src/simulator/wire.js";
import { createClient } from "../src/client/index.js";
import type { SaleEvent } from "../src/simulator/baskets.js";
import { enrolAll, engineCli, EVENTS_STREAM, runTag, salesGenerator, startEngine, waitUntil, withEngineTail, withNats, type Engine, type EngineContext, type EngineOutcome } from "./engine.js";
import { streamLastSeq } from "./jetstream.js";
import { requestLoad } from "./load.js";
import { once, type Figures } from "./stats.js";

/** One run whatever `runs` says: two 30 s phases plus the catch-up already take minutes per executor. */
export type OverloadContext = Pick<EngineContext, "size" | "root" | "log">;

const ACCRUE = "loyalty.rpc.accrue";
const OVERLOAD_FACTOR = 3;
const RSS_SAMPLE_MS = 200;
/**
 * A request without a reply after this long counts as unanswered: neither admitted nor refused,
 * and left out of the admitted p99 (so `unansweredShare` must be read with it). Long, so that
 * the p99 is rarely cut short; a till would have given up far earlier.
 */
const REQUEST_TIMEOUT_MS = 30_000;
/** The catch-up gives up when no result came for this long: past the engine's JetStream ack wait (30 s), so a redelivery still counts. */
const CATCH_UP_STALL_MS = 45_000;

// ---- The engine's memory, from /proc (Linux) ----

/** A "kB" line of /proc/<pid>/status; null once the process is gone (or off Linux). RssFile: mapped file pages (LMDB's map). */
export function statusKb(pid: number, field: "VmRSS" | "VmHWM" | "RssAnon" | "RssFile"): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

interface RssWatch {
  /** Highest VmRSS sampled since the previous call, MiB. */
  takeMaxMb(): number;
  /** The highest RssAnon sampled since the watch began. */
  anonPeakMb(): number;
  stop(): void;
}

/** Samples VmRSS every RSS_SAMPLE_MS: VmHWM gives the peak, the samples say in which phase it grew. */
function watchRss(pid: number): RssWatch {
  let maxKb = 0;
  let anonMaxKb = 0;
  const sample = (): void => {
    maxKb = Math.max(maxKb, statusKb(pid, "VmRSS") ?? 0);
    // The engine's own memory, without LMDB's mapped file (page cache the kernel can reclaim).
    anonMaxKb = Math.max(anonMaxKb, statusKb(pid, "RssAnon") ?? 0);
  };
  sample();
  const timer = setInterval(sample, RSS_SAMPLE_MS);
  return {
    anonPeakMb: () => anonMaxKb / 1024,
    takeMaxMb() {
      sample();
      const mb = maxKb / 1024;
      maxKb = 0;
      return mb;
    },
    stop: () => clearInterval(timer),
  };
}

// ---- Open-loop load ----

/**
 * Calls send(scheduledMs) `perSec` times a second for `durationMs` on a fixed schedule: when
 * the loop runs late it sends the overdue ones at once instead of skipping them, so neither a
 * slow engine nor a busy client lowers the offered load. Returns how late a send ran at most.
 */
async function fixedRate(perSec: number, durationMs: number, send: (scheduledMs: number) => void): Promise<{ sent: number; startMs: number; lateMaxMs: number }> {
  const total = Math.max(1, Math.round((perSec * durationMs) / 1000));
  const intervalMs = 1000 / perSec;
  const t0 = performance.now();
  let lateMaxMs = 0;
  for (let i = 0; i < total; ) {
    const now = performance.now();
    for (; i < total && t0 + i * intervalMs <= now; i++) {
      lateMaxMs = Math.max(lateMaxMs, now - (t0 + i * intervalMs));
      send(t0 + i * intervalMs);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  return { sent: total, startMs: t0, lateMaxMs };
}

interface OpenLoopResult {
  offered: number;
  /** Replies other than OVERLOADED (ok or another error): the engine took the request on. */
  admitted: number;
  overloaded: number;
  /** No reply within REQUEST_TIMEOUT_MS, or a transport error. */
  unanswered: number;
  byCode: Record<string, number>;
  admittedH: LatencyHistogram;
  overloadedH: LatencyHistogram;
  /** Admitted requests per second, from the first send to the last admitted reply (a queue drains after the sends end). */
  admittedPerSec: number;
  lateMaxMs: number;
}

/** Returns whether the reply admitted the request. */
function classify(r: OpenLoopResult, reply: WireReply, ms: number): boolean {
  if (!reply.ok) r.byCode[reply.error.code] = (r.byCode[reply.error.code] ?? 0) + 1;
  if (!reply.ok && reply.error.code === "OVERLOADED") {
    r.overloaded++;
    recordMs(r.overloadedH, ms);
    return false;
  }
  r.admitted++;
  recordMs(r.admittedH, ms);
  return true;
}

/** The error code of an engine reply (JSON), read no further than it must be; null for an ok reply. */
function replyCode(data: Uint8Array): string | null {
  const head = utf8.decode(data.subarray(0, 160));
  if (head.startsWith('{"ok":true')) return null;
  const m = /"code":"([A-Z_]+)"/.exec(head);
  if (m) return m[1]!;
  const reply = decodeReply(data);
  return reply.ok ? null : reply.error.code;
}

const utf8 = new TextDecoder();

/**
 * rpc.accrue at `perSec`, open-loop, from as light a client as NATS allows: the bench shares
 * the engine's two cores, and a client that falls behind its own schedule or its replies
 * (one promise, timer and parse per request through loyaltyd/client did, by over a second)
 * adds its own lag to every latency it takes. So the bodies are encoded before the clock
 * starts, each request is one publish with a reply subject on a single wildcard
 * subscription, a reply is read only as far as its error code, and unanswered requests are
 * swept once a second. Resolves once every request has a reply or timed out.
 */
async function openLoopAccrue(nc: NatsConnection, perSec: number, durationMs: number, sale: () => SaleEvent): Promise<OpenLoopResult> {
  const r: OpenLoopResult = { offered: 0, admitted: 0, overloaded: 0, unanswered: 0, byCode: {}, admittedH: latencyHistogram(), overloadedH: latencyHistogram(), admittedPerSec: 0, lateMaxMs: 0 };
  const bodies = Array.from({ length: Math.max(1, Math.round((perSec * durationMs) / 1000)) }, () => encodeJson(sale()));
  const inbox = createInbox();
  /** Reply token -> the request's scheduled send time. */
  const waiting = new Map<string, number>();
  let lastAdmittedMs = 0;
  const sub = nc.subscribe(`${inbox}.*`, {
    callback: (_err, m) => {
      const token = m.subject.slice(inbox.length + 1);
      const scheduledMs = waiting.get(token);
      if (scheduledMs === undefined) return; // timed out already
      waiting.delete(token);
      const now = performance.now();
      const code = replyCode(m.data);
      if (classify(r, code === null ? { ok: true } : { ok: false, error: { code } }, now - scheduledMs)) lastAdmittedMs = now;
    },
  });
  const sweep = setInterval(() => {
    const expired = performance.now() - REQUEST_TIMEOUT_MS;
    for (const [token, scheduledMs] of waiting) {
      if (scheduledMs > expired) break;
      waiting.delete(token);
      r.unanswered++;
      r.byCode.TIMEOUT = (r.byCode.TIMEOUT ?? 0) + 1;
    }
  }, 1000);
  let next = 0;
  const pace = await fixedRate(perSec, durationMs, (scheduledMs) => {
    const token = (next++).toString(36);
    waiting.set(token, scheduledMs);
    nc.publish(ACCRUE, bodies[next - 1]!, { reply: `${inbox}.${token}` });
  });
  while (waiting.size > 0) await new Promise((res) => setTimeout(res, 10));
  clearInterval(sweep);
  sub.unsubscribe();
  const admittedPerSec = r.admitted > 0 ? r.admitted / ((lastAdmittedMs - pace.startMs) / 1000) : 0;
  return { ...r, offered: pace.sent, admittedPerSec, lateMaxMs: pace.lateMaxMs };
}

const ms = (v: number): string => `${v.toFixed(1)} ms`;

/** Calibrates 1× with a closed loop at 64 in flight (the nominal p99), then offers 3× open-loop. */
async function rpcOverload(ctx: OverloadContext, nc: NatsConnection, notes: string[]): Promise<{ figures: Figures; sustainedPerSec: number }> {
  const gen = salesGenerator(8000, ctx.size.customers, `ovl-${runTag()}-`, 0);
  const client = createClient({ nats: nc, retry: false });
  const call = () => client.accrue(gen.sale());
  const nominal = await requestLoad({ nc, subject: ACCRUE, concurrency: 64, durationMs: ctx.size.overloadCalibrationMs, warmupMs: ctx.size.warmupMs, body: () => new Uint8Array(), call, checkOk: true });
  if (nominal.failures > 0) notes.push(`overload calibration: ${nominal.failures}/${nominal.requests} failed ${JSON.stringify(nominal.failuresByCode)}`);
  const perSec = OVERLOAD_FACTOR * nominal.perSec;
  const secs = ctx.size.overloadMs / 1000;
  ctx.log(`overload: rpc.accrue sustains ${nominal.perSec.toFixed(0)}/s at 64 in flight (p99 ${ms(nominal.p99Ms)}); offering ${perSec.toFixed(0)}/s open-loop for ${secs} s`);
  const r = await openLoopAccrue(nc, perSec, ctx.size.overloadMs, () => gen.sale());
  const admittedP99Ms = percentileMs(r.admittedH, 99);
  ctx.log(
    `overload: rpc ${r.offered} offered: ${r.admitted} admitted (p50 ${ms(percentileMs(r.admittedH, 50))}, p99 ${ms(admittedP99Ms)}, max ${ms(r.admittedH.maxValue / 1000)}), ` +
      `${r.overloaded} OVERLOADED (p99 ${ms(percentileMs(r.overloadedH, 99))}), ${r.unanswered} unanswered; error codes ${JSON.stringify(r.byCode)}; client sends late by ≤ ${ms(r.lateMaxMs)}`,
  );
  if (r.unanswered > 0) notes.push(`overload rpc: ${r.unanswered}/${r.offered} requests got no reply within ${REQUEST_TIMEOUT_MS / 1000} s ${JSON.stringify(r.byCode)}`);
  const figures: Figures = {
    "overload.rpc.sustainedPerSec": nominal.perSec,
    "overload.rpc.nominalP99Ms": nominal.p99Ms,
    "overload.rpc.admittedPerSec": r.admittedPerSec,
    "overload.rpc.admittedP99Ms": admittedP99Ms,
    "overload.rpc.overloadedShare": r.overloaded / r.offered,
    "overload.rpc.unansweredShare": r.unanswered / r.offered,
  };
  return { figures, sustainedPerSec: nominal.perSec };
}

// ---- JetStream at 3×: every published event must get its one result ----

interface ResultTally {
  /** eventId -> results seen so far; an id enters when it is published. */
  seen: Map<string, number>;
  /** Ids with at least one result. */
  received: number;
  /** Results beyond an id's first (a redelivery answered again). */
  doubled: number;
  errors: Record<string, number>;
  lastResultMs: number;
}

function tallyResults(nc: NatsConnection): { tally: ResultTally; stop: () => void } {
  const tally: ResultTally = { seen: new Map(), received: 0, doubled: 0, errors: {}, lastResultMs: 0 };
  const sub = nc.subscribe("loyalty.results.>", {
    callback: (err, msg) => {
      if (err) return;
      const r = decodeReply(msg.data);
      const n = typeof r.eventId === "string" ? tally.seen.get(r.eventId) : undefined;
      if (n === undefined) return; // not an event of this phase
      tally.seen.set(r.eventId as string, n + 1);
      if (n > 0) tally.doubled++;
      else tally.received++;
      if (!r.ok && n === 0) tally.errors[r.error.code] = (tally.errors[r.error.code] ?? 0) + 1;
      tally.lastResultMs = performance.now();
    },
  });
  return { tally, stop: () => sub.unsubscribe() };
}

/** JetStream stores core publishes asynchronously: wait (briefly) until its last sequence reaches the expected count. */
async function storedSince(nc: NatsConnection, before: number, expected: number): Promise<number> {
  const jsm = await nc.jetstreamManager();
  const deadline = performance.now() + 5000;
  let stored = 0;
  do {
    stored = (await jsm.streams.info(EVENTS_STREAM)).state.last_seq - before;
    if (stored >= expected) break;
    await new Promise((r) => setTimeout(r, 100));
  } while (performance.now() < deadline);
  return stored;
}

const engineGone = (engine: Engine): boolean => engine.child.exitCode !== null || engine.child.signalCode !== null;

/** Publishes `perSec` sales to JetStream (Nats-Msg-Id = eventId, as a POS fleet does) while the engine consumes, then waits for the catch-up. */
async function streamOverload(ctx: OverloadContext, nc: NatsConnection, engine: Engine, perSec: number, notes: string[]): Promise<{ figures: Figures; failed?: string }> {
  const gen = salesGenerator(9000, ctx.size.customers, `ovs-${runTag()}-`, 0);
  const { tally, stop } = tallyResults(nc);
  try {
    await nc.flush(); // the results subscription is in place before the first event
    const before = await streamLastSeq(await nc.jetstreamManager(), EVENTS_STREAM);
    ctx.log(`overload: publishing ${perSec.toFixed(0)}/s to JetStream for ${ctx.size.overloadMs / 1000} s`);
    const pace = await fixedRate(perSec, ctx.size.overloadMs, () => {
      const { event, storeId } = gen.next();
      tally.seen.set(event.eventId, 0);
      const h = headers();
      h.set("Nats-Msg-Id", event.eventId);
      nc.publish(`loyalty.events.${storeId}`, encodeJson(event), { headers: h });
    });
    await nc.flush();
    const publishedMs = performance.now();
    const stored = await storedSince(nc, before, pace.sent);
    if (stored !== pace.sent) notes.push(`overload stream: JetStream stored ${stored} of ${pace.sent} published events (publisher side, not the engine)`);
    // A stall is not thrown: the events still missing then are the finding, reported as `lost`.
    await waitUntil(() => engineGone(engine) || tally.received === pace.sent, () => tally.lastResultMs || publishedMs, () => "stalled", CATCH_UP_STALL_MS).catch(() => undefined);
    if (engineGone(engine)) throw new Error(`overload stream: the engine exited (${engine.child.exitCode ?? engine.child.signalCode})`);
    const lost = pace.sent - tally.received;
    const catchUpSec = Math.max(0, (tally.lastResultMs - publishedMs) / 1000);
    const errorText = Object.keys(tally.errors).length > 0 ? `; error results ${JSON.stringify(tally.errors)}` : "";
    ctx.log(`overload: stream ${pace.sent} published (sends late by ≤ ${ms(pace.lateMaxMs)}), last result ${catchUpSec.toFixed(1)} s after the last publish; ${lost} without a result, ${tally.doubled} extra results${errorText}`);
    const failed = lost > 0 ? `overload stream: ${lost} of ${pace.sent} events got no result (none arrived for ${CATCH_UP_STALL_MS / 1000} s)` : undefined;
    const figures: Figures = { "overload.stream.catchUpSec": catchUpSec, "overload.stream.lost": lost, "overload.stream.doubled": tally.doubled };
    return failed ? { figures, failed } : { figures };
  } finally {
    stop();
  }
}

/** Starts nats-server and the engine, enrols the customers, overloads rpc then JetStream, and reports memory. */
export async function benchOverload(ctx: OverloadContext): Promise<EngineOutcome> {
  const cli = engineCli();
  if (!existsSync(cli)) return { skipped: `${cli} does not exist (build the engine first: npx tsc -p .)` };
  return withNats("loyaltyd-bench-overload-", async (natsUrl, tmp) => {
    const engine = await startEngine(cli, natsUrl, tmp, ctx.root);
    const pid = engine.child.pid!;
    let nc: NatsConnection | null = null;
    let rss: RssWatch | null = null;
    try {
      nc = await connect({ servers: natsUrl });
      await enrolAll(nc, engine, ctx.size.customers, ctx.log, "overload");
      const notes: string[] = [];
      rss = watchRss(pid);
      const startMb = rss.takeMaxMb();
      const rpc = await rpcOverload(ctx, nc, notes);
      const rpcMb = rss.takeMaxMb();
      const stream = await streamOverload(ctx, nc, engine, OVERLOAD_FACTOR * rpc.sustainedPerSec, notes);
      const streamMb = rss.takeMaxMb();
      // VmHWM covers every moment of the process's life, including the peaks between two samples.
      const peakMb = Math.max((statusKb(pid, "VmHWM") ?? Number.NaN) / 1024, rpcMb, streamMb);
      const anonMb = rss.anonPeakMb();
      ctx.log(`overload: engine RSS ${startMb.toFixed(0)} MiB before, ≤ ${rpcMb.toFixed(0)} MiB sampled during rpc, ≤ ${streamMb.toFixed(0)} MiB during stream; peak (VmHWM) ${peakMb.toFixed(0)} MiB, of which at most ${anonMb.toFixed(0)} MiB anonymous (the rest LMDB's mapped file)`);
      const figures: Figures = { ...rpc.figures, ...stream.figures, "overload.rssPeakMb": peakMb, "overload.rssAnonPeakMb": anonMb };
      return stream.failed ? { figures: once(figures), notes, failed: stream.failed } : { figures: once(figures), notes };
    } catch (err) {
      throw withEngineTail(err, engine);
    } finally {
      rss?.stop();
      await nc?.close();
      await engine.stop();
    }
  });
}
