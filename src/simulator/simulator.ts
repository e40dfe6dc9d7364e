// The built-in POS simulator: enrols the card customers, then publishes a paced stream
// of sales/returns/voids to JetStream and reports end-to-end latency from the results stream;
// now and then it changes a customer (updateCustomer: consents, address, groups).
import type { JetStreamClient, NatsConnection, PubAck, Subscription } from "nats";
import { createBasketGenerator, profiledEnrolRequests, type BasketGenerator, type EventRates, type GeneratedEvent } from "./baskets.js";
import { profileUpdate } from "./profiles.js";
import { mulberry32 } from "./random.js";
import { latencyHistogram, percentileMs, recordMs, type LatencyHistogram } from "./latency.js";
import { createRedeemer, type Redeemer } from "./redeem.js";
import { decodeReply, encodeJson, runPool, type WireReply } from "./wire.js";
import { createClient, LoyaltyClientError, type LoyaltyClient } from "../client/index.js";

export interface SimulatorOptions {
  nc: NatsConnection;
  ratePerSec: number;
  customers: number;
  seed?: number;
  summaryEveryMs?: number;
  log: (line: string) => void;
  /** Default true; false when the customers are known to be enrolled already. */
  enrol?: boolean;
  rates?: Partial<EventRates>;
  /** Also authorize points and capture or release the holds, beside each balance and quote probe (the demo). Default false. */
  redeem?: boolean;
  /** One updateCustomer request every this many ms (default 250; 0: none). */
  updateEveryMs?: number;
}

export interface SimStats {
  enrolled: number;
  enrolFailed: number;
  published: number;
  publishFailed: number;
  /** Events the publisher re-sent on purpose. */
  duplicatesSent: number;
  /** Publishes the stream acknowledged as duplicates (Nats-Msg-Id seen before). */
  duplicatesDeduped: number;
  /** Ticks that skipped their events because too many publishes awaited their ack. */
  shedEvents: number;
  results: number;
  resultsOk: number;
  /** Results the engine marked `duplicate: true`. */
  resultDuplicates: number;
  earned: number;
  errorsByCode: Record<string, number>;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyP999Ms: number;
  /** Events published and still awaiting their result. */
  inFlight: number;
  /** In-flight entries forgotten to bound memory (their results are not timed). */
  inFlightDropped: number;
  rpcOk: number;
  rpcFailed: number;
  /** With `redeem`: authorisations approved and denied, holds captured and released, failures by code. */
  redemptions: { authorized: number; denied: number; captured: number; released: number; failed: Record<string, number> };
  /** updateCustomer requests answered ok, and refused or failed (their codes in errorsByCode as update:CODE). */
  updatesOk: number;
  updatesFailed: number;
}

export interface SimulatorHandle {
  stop(): Promise<void>;
  stats(): SimStats;
}

// ---- Bounds ----
/** Pacing tick: an event goes out at most this late after its intended time (which its latency counts from). */
const TICK_MS = 1;
/** Every Nth tick (50 ms) sends one balance and one quote request. */
const RPC_EVERY_TICKS = 50;
const UPDATE_EVERY_MS_DEFAULT = 250;
const ENROL_CONCURRENCY = 64;
/** Publishes awaiting their PubAck before ticks start shedding: keeps memory bounded when the server lags. */
const PENDING_ACKS_MAX = 8192;
/** Events timed at once; beyond it the oldest is forgotten. */
const IN_FLIGHT_MAX = 100_000;
/** A tick that fell behind catches up at most this much, so a stall does not become a burst. */
const CATCH_UP_MS_MAX = 1000;
const STOP_ACK_WAIT_MS = 5000;

interface Counters {
  published: number;
  resultsOk: number;
  results: number;
  earned: number;
  duplicatesSent: number;
  duplicatesDeduped: number;
  resultDuplicates: number;
  errorsByCode: Map<string, number>;
}

const zeroCounters = (): Counters => ({
  published: 0,
  resultsOk: 0,
  results: 0,
  earned: 0,
  duplicatesSent: 0,
  duplicatesDeduped: 0,
  resultDuplicates: 0,
  errorsByCode: new Map(),
});

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

function addCounters(into: Counters, from: Counters): void {
  into.published += from.published;
  into.results += from.results;
  into.resultsOk += from.resultsOk;
  into.earned += from.earned;
  into.duplicatesSent += from.duplicatesSent;
  into.duplicatesDeduped += from.duplicatesDeduped;
  into.resultDuplicates += from.resultDuplicates;
  for (const [code, n] of from.errorsByCode) bump(into.errorsByCode, code, n);
}

/** A failed call's code: the engine's, or the client's own (TIMEOUT, NO_RESPONDERS...). */
const codeOf = (err: unknown): string => (err instanceof LoyaltyClientError ? err.code : "ERROR");

async function enrolAll(client: LoyaltyClient, customers: number): Promise<{ ok: number; failed: Map<string, number> }> {
  const failed = new Map<string, number>();
  let ok = 0;
  await runPool(profiledEnrolRequests(customers), ENROL_CONCURRENCY, async (req) => {
    await client.enroll(req).then(
      () => ok++,
      (err: unknown) => bump(failed, codeOf(err)),
    );
  });
  return { ok, failed };
}

const formatCodes = (m: Map<string, number>): string =>
  m.size === 0 ? "none" : [...m].map(([code, n]) => `${code}:${n}`).join(",");

export async function startSimulator(opts: SimulatorOptions): Promise<SimulatorHandle> {
  const { nc, log } = opts;
  // The simulator is a till like any other: it calls the verbs through loyaltyd/client.
  const client = createClient({ nats: nc });
  if (!(opts.ratePerSec > 0)) throw new Error(`simulator: ratePerSec must be > 0 (got ${opts.ratePerSec})`);
  const summaryEveryMs = opts.summaryEveryMs ?? 5000;
  let enrolled = 0;
  let enrolFailed = 0;
  if (opts.enrol !== false) {
    const t0 = performance.now();
    const r = await enrolAll(client, opts.customers);
    enrolled = r.ok;
    enrolFailed = [...r.failed.values()].reduce((a, b) => a + b, 0);
    log(`sim: enrolled ${r.ok}/${opts.customers} card customers in ${((performance.now() - t0) / 1000).toFixed(1)} s; failed ${formatCodes(r.failed)}`);
  }

  const seed = opts.seed ?? 1;
  // Ids carry the start time so that restarting against the same data dir sends new events, not conflicts.
  const idPrefix = `sim${seed}-${Date.now().toString(36)}-`;
  const gen = createBasketGenerator({
    seed,
    customers: opts.customers,
    clock: Date.now,
    idPrefix,
    rates: opts.rates ?? {},
  });
  return runLoop({ nc, client, js: nc.jetstream(), gen, opts, log, summaryEveryMs, enrolled, enrolFailed, idPrefix });
}

interface LoopDeps {
  nc: NatsConnection;
  client: LoyaltyClient;
  js: JetStreamClient;
  gen: BasketGenerator;
  opts: SimulatorOptions;
  log: (line: string) => void;
  summaryEveryMs: number;
  enrolled: number;
  enrolFailed: number;
  /** Request ids of the customer changes start with it (unique per run, as the events' ids). */
  idPrefix: string;
}

function runLoop(d: LoopDeps): SimulatorHandle {
  const total = zeroCounters();
  let interval = zeroCounters();
  const latencyAll: LatencyHistogram = latencyHistogram();
  const latencyInterval: LatencyHistogram = latencyHistogram();
  /** eventId -> intended publish time (performance.now ms); Map keeps insertion order for dropping the oldest. */
  const inFlight = new Map<string, number>();
  let inFlightDropped = 0;
  let pendingAcks = 0;
  let publishFailed = 0;
  let shedEvents = 0;
  let rpcOk = 0;
  let rpcFailed = 0;
  let rpcBusy = false;
  let ticks = 0;
  const startMs = performance.now();
  let scheduled = 0;
  const probeRng = mulberry32((d.opts.seed ?? 1) + 7);
  const redeemer: Redeemer | null = d.opts.redeem ? createRedeemer(d.client, d.opts.customers, d.opts.seed ?? 1) : null;
  const updateRng = mulberry32((d.opts.seed ?? 1) + 11);
  const updateEveryMs = d.opts.updateEveryMs ?? UPDATE_EVERY_MS_DEFAULT;
  let updates = 0;
  let updatesOk = 0;
  let updatesFailed = 0;
  let updateBusy = false;

  const onResult = (reply: WireReply): void => {
    interval.results++;
    const eventId = reply.eventId;
    if (typeof eventId === "string") {
      const sentAt = inFlight.get(eventId);
      if (sentAt !== undefined) {
        inFlight.delete(eventId);
        const ms = performance.now() - sentAt;
        recordMs(latencyAll, ms);
        recordMs(latencyInterval, ms);
      }
    }
    if (!reply.ok) return bump(interval.errorsByCode, reply.error.code);
    interval.resultsOk++;
    if (typeof reply.earned === "number") interval.earned += reply.earned;
    if (reply.duplicate === true) interval.resultDuplicates++;
  };

  const sub: Subscription = d.nc.subscribe("loyalty.results.>", {
    callback: (err, msg) => {
      if (!err) onResult(decodeReply(msg.data));
    },
  });

  const track = (eventId: string, intendedMs: number): void => {
    if (inFlight.has(eventId)) return;
    inFlight.set(eventId, intendedMs);
    if (inFlight.size > IN_FLIGHT_MAX) {
      const oldest = inFlight.keys().next().value;
      if (oldest !== undefined) inFlight.delete(oldest);
      inFlightDropped++;
    }
  };

  const publish = (g: GeneratedEvent, intendedMs: number): void => {
    if (g.duplicate) interval.duplicatesSent++;
    else track(g.event.eventId, intendedMs);
    pendingAcks++;
    interval.published++;
    d.js
      .publish(`loyalty.events.${g.storeId}`, encodeJson(g.event), { msgID: g.event.eventId })
      .then((ack: PubAck) => {
        if (ack.duplicate) interval.duplicatesDeduped++;
      })
      .catch(() => {
        publishFailed++;
        inFlight.delete(g.event.eventId);
      })
      .finally(() => pendingAcks--);
  };

  const rpcProbe = (): void => {
    if (rpcBusy) return;
    rpcBusy = true;
    const n = probeRng.int(1, d.opts.customers);
    const count = (p: Promise<unknown>): Promise<void> =>
      p.then(
        () => void rpcOk++,
        (err: unknown) => {
          rpcFailed++;
          bump(interval.errorsByCode, `rpc:${codeOf(err)}`);
        },
      );
    Promise.all([count(d.client.balance({ customer: { card: `C-${n}` } })), count(d.client.quote(d.gen.sale())), redeemer?.once()]).finally(() => (rpcBusy = false));
  };

  /** One customer change over request/reply (one at a time: a slow engine is not piled on). */
  const updateProbe = (): void => {
    if (updateBusy || d.opts.customers < 1) return;
    updateBusy = true;
    const { request } = profileUpdate(updateRng, d.opts.customers, d.idPrefix, ++updates);
    d.client
      .updateCustomer(request)
      .then(
        () => void updatesOk++,
        (err: unknown) => {
          updatesFailed++;
          bump(interval.errorsByCode, `update:${codeOf(err)}`);
        },
      )
      .finally(() => (updateBusy = false));
  };

  // Open loop: each event has an intended send time (start + i/rate); latency counts from
  // it, so a stalled publisher shows up in the figures instead of hiding (coordinated omission).
  const tick = (): void => {
    ticks++;
    const now = performance.now();
    const rate = d.opts.ratePerSec;
    const floorScheduled = Math.floor(((now - startMs - CATCH_UP_MS_MAX) * rate) / 1000);
    if (scheduled < floorScheduled) {
      shedEvents += floorScheduled - scheduled;
      scheduled = floorScheduled;
    }
    // Event k is intended at startMs + k / rate: every event intended at or before now is due.
    const due = Math.floor(((now - startMs) * rate) / 1000) + 1;
    for (; scheduled < due; scheduled++) {
      if (pendingAcks >= PENDING_ACKS_MAX) {
        shedEvents += due - scheduled;
        scheduled = due;
        break;
      }
      publish(d.gen.next(), startMs + (scheduled * 1000) / rate);
    }
    if (ticks % RPC_EVERY_TICKS === 0) rpcProbe();
  };

  let lastSummaryMs = performance.now();
  const summary = (): void => {
    const now = performance.now();
    const secs = Math.max(0.001, (now - lastSummaryMs) / 1000);
    lastSummaryMs = now;
    const i = interval;
    d.log(
      `sim: published ${(i.published / secs).toFixed(0)}/s, results ${(i.results / secs).toFixed(0)}/s, ` +
        `latency p50 ${percentileMs(latencyInterval, 50).toFixed(2)} ms p99 ${percentileMs(latencyInterval, 99).toFixed(2)} ms, ` +
        `earned ${i.earned} pts, duplicates sent ${i.duplicatesSent} deduped ${i.duplicatesDeduped} replayed ${i.resultDuplicates}, ` +
        `errors ${formatCodes(i.errorsByCode)}, in flight ${inFlight.size}, customer updates ${updatesOk} ok ${updatesFailed} failed`,
    );
    addCounters(total, i);
    interval = zeroCounters();
    latencyInterval.reset();
  };

  const tickTimer = setInterval(tick, TICK_MS);
  const updateTimer = updateEveryMs > 0 ? setInterval(updateProbe, updateEveryMs) : null;
  const summaryTimer = setInterval(summary, d.summaryEveryMs);

  const stats = (): SimStats => {
    const t = zeroCounters();
    addCounters(t, total);
    addCounters(t, interval);
    return {
      enrolled: d.enrolled,
      enrolFailed: d.enrolFailed,
      published: t.published,
      publishFailed,
      duplicatesSent: t.duplicatesSent,
      duplicatesDeduped: t.duplicatesDeduped,
      shedEvents,
      results: t.results,
      resultsOk: t.resultsOk,
      resultDuplicates: t.resultDuplicates,
      earned: t.earned,
      errorsByCode: Object.fromEntries(t.errorsByCode),
      latencyP50Ms: percentileMs(latencyAll, 50),
      latencyP99Ms: percentileMs(latencyAll, 99),
      latencyP999Ms: percentileMs(latencyAll, 99.9),
      inFlight: inFlight.size,
      inFlightDropped,
      rpcOk,
      rpcFailed,
      redemptions: redeemer
        ? { ...redeemer.counts, failed: Object.fromEntries(redeemer.counts.failed) }
        : { authorized: 0, denied: 0, captured: 0, released: 0, failed: {} },
      updatesOk,
      updatesFailed,
    };
  };

  const stop = async (): Promise<void> => {
    clearInterval(tickTimer);
    clearInterval(summaryTimer);
    if (updateTimer) clearInterval(updateTimer);
    const deadline = performance.now() + STOP_ACK_WAIT_MS;
    while ((pendingAcks > 0 || updateBusy) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    summary();
    sub.unsubscribe();
  };

  return { stop, stats };
}
