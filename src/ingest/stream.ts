// The durable ingest: a pull consumer on JetStream stream LOYALTY_EVENTS. Each event
// is acknowledged only after its ledger effect is durable; a redelivery after a crash
// meets the idempotency record and changes nothing. Results go to loyalty.results.<storeId>.
import {
  AckPolicy,
  DeliverPolicy,
  nanos,
  StorageType,
  type ConsumerInfo,
  type ConsumerMessages,
  headers as natsHeaders,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  type StreamInfo,
} from "nats";
import { decodeBytes, encodeReply, encodingOf } from "../codec/codec.js";
import { limits } from "../limits.js";
import type { Logger } from "../observe/logger.js";
import type { Metrics } from "../observe/metrics.js";
import type { Partitions } from "../partition/partitions.js";
import type { StreamMarks } from "../ledger/marks.js";
import type { Handled } from "../partition/batch.js";
import { failure, type WireError } from "../errors.js";
import type { Handler } from "./handler.js";

export const STREAM = "LOYALTY_EVENTS";
/** Where an event that keeps failing with INTERNAL goes, so that it is never acked unapplied and unrecorded. */
export const DLQ_STREAM = "LOYALTY_DLQ";
const DLQ_PREFIX = "loyalty.dlq.";
export const EVENTS_SUBJECT = "loyalty.events.>";
const EVENTS_PREFIX = "loyalty.events.";
export const CONSUMER = "loyaltyd";
const RESULTS_PREFIX = "loyalty.results.";

/** LOYALTY_EVENTS retention and protection (config `events.stream*`); defaults: unlimited, no delete, no purge. */
export interface StreamPolicy {
  maxAgeMs: number;
  maxBytes: number;
  denyDelete: boolean;
  denyPurge: boolean;
  /** How long a delivered, unacknowledged event waits before JetStream redelivers it (after a crash), ms. */
  ackWaitMs: number;
}

const DEFAULT_POLICY: StreamPolicy = { maxAgeMs: 0, maxBytes: 0, denyDelete: true, denyPurge: true, ackWaitMs: limits.streamAckWaitMs };

/**
 * Creates LOYALTY_EVENTS and the durable consumer when missing. An existing consumer is
 * kept as it is, with its position and its per-message delivery counts, whatever way the
 * previous run ended; `resetTo` (after a restore) is the one case that moves it.
 * The stream's limits follow the policy; deny_delete / deny_purge are set at creation:
 * on an existing stream that differs the engine says so rather than loosening or
 * tightening it behind the operator's back.
 */
export async function ensureStream(nc: NatsConnection, policy: StreamPolicy = DEFAULT_POLICY, log?: Logger, resetTo: number | null = null): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const limitsOf = { max_age: nanos(policy.maxAgeMs), max_bytes: policy.maxBytes > 0 ? policy.maxBytes : -1 };
  let info: StreamInfo | null = null;
  try {
    info = await jsm.streams.info(STREAM);
  } catch {
    await jsm.streams.add({
      name: STREAM,
      subjects: [EVENTS_SUBJECT],
      storage: StorageType.File,
      // Nats-Msg-Id = eventId: re-sends within the window are dropped by the server itself.
      duplicate_window: nanos(10 * 60_000),
      deny_delete: policy.denyDelete,
      deny_purge: policy.denyPurge,
      ...limitsOf,
    });
  }
  if (info) {
    const c = info.config;
    if (c.max_age !== limitsOf.max_age || c.max_bytes !== limitsOf.max_bytes) await jsm.streams.update(STREAM, { ...c, ...limitsOf });
    if (Boolean(c.deny_delete) !== policy.denyDelete || Boolean(c.deny_purge) !== policy.denyPurge) {
      log?.warn({ stream: STREAM, denyDelete: c.deny_delete, denyPurge: c.deny_purge, configured: policy }, "the existing stream's deny_delete / deny_purge differ from the configuration; left as they are");
    }
  }
  const config = {
    durable_name: CONSUMER,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(policy.ackWaitMs),
    max_ack_pending: limits.streamAckPendingMax,
    filter_subject: EVENTS_SUBJECT,
  };
  let existing: ConsumerInfo | null = null;
  try {
    existing = await jsm.consumers.info(STREAM, CONSUMER);
  } catch {
    existing = null;
  }
  const startAt = resetTo ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: resetTo } : { deliver_policy: DeliverPolicy.All };
  if (existing && resetTo) {
    // Only after a restore: the ledger is older than the consumer's position, so the
    // consumer goes back to what the ledger covers and the tail is applied again
    // (what the copy already holds is answered as duplicates). Never otherwise: the
    // consumer keeps its own position across crashes and restarts.
    log?.warn({ consumer: CONSUMER, from: resetTo, ackFloor: existing.ack_floor.stream_seq }, "ledger restored: the consumer resumes where the ledger's copy ends");
    await jsm.consumers.delete(STREAM, CONSUMER);
    existing = null;
  }
  if (!existing) {
    await jsm.consumers.add(STREAM, { ...config, ...startAt });
    return;
  }
  if (existing.config.ack_wait !== config.ack_wait) {
    await jsm.consumers.update(STREAM, CONSUMER, { ack_wait: config.ack_wait }).catch((err: Error) => {
      log?.warn({ err: err.message, consumer: CONSUMER }, "could not change the consumer's ack wait; left as it is");
    });
  }
}

export interface StreamConsumer {
  stop(): Promise<void>;
  bound(): boolean;
}

export async function startStream(
  nc: NatsConnection,
  handler: Handler,
  partitions: Partitions,
  metrics: Metrics,
  log: Logger,
  marks: StreamMarks,
  policy: StreamPolicy = DEFAULT_POLICY,
): Promise<StreamConsumer> {
  const resetTo = marks.resetTo();
  await ensureStream(nc, policy, log, resetTo);
  if (resetTo !== null) marks.clearResetTo();
  await ensureDeadLetters(nc);
  const js = nc.jetstream();
  const consumer = await js.consumers.get(STREAM, CONSUMER);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: limits.streamFetchMax });
  let inFlight = 0;
  let wake: (() => void) | null = null;
  let stopped = false;
  /** Events this run sent back itself (OVERLOADED, INTERNAL retries): their redeliveries are not suspects. */
  const nakedHere = new Set<number>();
  /**
   * Events delivered a third time that this run never sent back: in flight when two runs
   * died, so possibly what killed them. (After one death they are applied as usual.)
   */
  const suspects: JsMsg[] = [];
  let isolating: Promise<void> | null = null;

  const nak = (m: JsMsg): void => {
    if (nakedHere.size < limits.streamAckPendingMax) nakedHere.add(m.seq);
    m.nak(limits.streamRetryDelayMs);
  };

  const settle = async (m: JsMsg, handled: Handled): Promise<void> => {
    // Not applied (the engine is shedding load, or the disk refused the write): JetStream redelivers it later.
    if (handled.outcome === "OVERLOADED" || handled.outcome === "UNAVAILABLE") return nak(m);
    if (handled.outcome === "INTERNAL") {
      if (m.info.redeliveryCount < limits.streamInternalRetriesMax) return nak(m); // rolled back: try again
      // Poison: park it, durably, before the ack lets it go; a failed park is retried later.
      if (!(await deadLetter(js, m, handled.refusal?.error ?? { code: "INTERNAL", message: "internal error" }, log))) return nak(m);
      metrics.deadLetters.inc();
    }
    nakedHere.delete(m.seq);
    nc.publish(RESULTS_PREFIX + storeOf(m), handled.bytes);
    m.ack();
    metrics.streamDuration.observe(Math.max(0, Date.now() - m.info.timestampNanos / 1e6) / 1000);
  };

  const apply = async (m: JsMsg): Promise<void> => {
    await settle(m, await handler.handle("stream", "accrue", m.data, encodingOf(m.data), storeOf(m)));
  };

  /**
   * Suspects are applied one at a time with nothing else in flight, each attempt counted
   * in the ledger first: an innocent one settles at once, and an event that kills the
   * process alone streamCrashesMax times is dead-lettered without being tried again.
   */
  const isolate = async (): Promise<void> => {
    while (suspects.length > 0 && !stopped) {
      while (inFlight > 0 && !stopped) await new Promise<void>((r) => (wake = r));
      const m = suspects.shift()!;
      const crashes = marks.crashes(m.seq);
      if (crashes >= limits.streamCrashesMax) {
        const error = { code: "INTERNAL" as const, message: `the engine stopped ${crashes} times while applying this event alone` };
        if (!(await deadLetter(js, m, error, log))) {
          nak(m);
          continue;
        }
        metrics.deadLetters.inc();
        marks.endSuspect(m.seq);
        nc.publish(RESULTS_PREFIX + storeOf(m), refusalBytes(m, error));
        m.ack();
        continue;
      }
      if (crashes > 0) log.warn({ streamSeq: m.seq, crashes }, "applying alone an event that was in flight when the engine stopped");
      marks.beginSuspect(m.seq);
      inFlight++;
      try {
        await apply(m);
      } catch (err) {
        log.error({ err, streamSeq: m.seq }, "stream message failed");
      } finally {
        inFlight--;
      }
      marks.endSuspect(m.seq);
    }
    isolating = null;
  };

  const loop = (async () => {
    for await (const m of messages) {
      if (m.info.redeliveryCount > 2 && !nakedHere.has(m.seq)) {
        suspects.push(m);
        isolating ??= isolate();
        continue;
      }
      while (isolating && !stopped) await isolating;
      inFlight++;
      void apply(m)
        .catch((err) => log.error({ err, streamSeq: m.seq }, "stream message failed"))
        .finally(() => {
          inFlight--;
          if (wake) {
            wake();
            wake = null;
          }
        });
      // Backpressure: stop pulling while the partitions are full.
      while (!stopped && (inFlight >= limits.streamAckPendingMax || !partitions.hasRoom(limits.batchSizeMax))) {
        await new Promise<void>((r) => (wake = r));
      }
    }
  })();

  // The consumer's ack floor only passes an event once its effect is durable: recording it
  // in the ledger says how much of the stream the ledger covers (for backups and restores).
  const jsm = await nc.jetstreamManager();
  const lagTimer = setInterval(() => {
    consumer
      .info()
      .then(async (info) => {
        metrics.consumerLag.set(info.num_pending);
        metrics.consumerAckPending.set(info.num_ack_pending);
        // Before the ledger write, which waits for LMDB's write lock (held by a wedged partition).
        await sampleBacklog(jsm, info, metrics);
        await marks.advanceAckFloor(info.ack_floor.stream_seq);
      })
      .catch(() => undefined);
  }, limits.streamInfoMs);
  lagTimer.unref();

  return {
    bound: () => !stopped,
    async stop() {
      stopped = true;
      clearInterval(lagTimer);
      if (wake) (wake as () => void)();
      await messages.close();
      await loop.catch(() => undefined);
      while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
      await isolating;
      await nc.flush().catch(() => undefined);
      const info = await consumer.info().catch(() => null);
      if (info) await marks.advanceAckFloor(info.ack_floor.stream_seq);
    },
  };
}

/**
 * The lag in seconds: the age of the first event past the ack floor (every event before it
 * is acknowledged, so it is the oldest not yet applied), read from the stream itself so
 * that it also counts events not yet delivered. And how many events wait in LOYALTY_DLQ.
 */
async function sampleBacklog(jsm: JetStreamManager, info: ConsumerInfo, metrics: Metrics): Promise<void> {
  const dlq = await jsm.streams.info(DLQ_STREAM).catch(() => null);
  if (dlq) metrics.deadLetterMessages.set(dlq.state.messages);
  if (info.num_pending + info.num_ack_pending === 0) {
    metrics.streamOldestAge.set(0);
    return;
  }
  // Unreadable (an older NATS permission set, or removed by the stream's limits): left as it was.
  const oldest = await jsm.streams.getMessage(STREAM, { seq: info.ack_floor.stream_seq + 1 }).catch(() => null);
  if (oldest) metrics.streamOldestAge.set(Math.max(0, Date.now() - oldest.time.getTime()) / 1000);
}

function storeOf(m: JsMsg): string {
  return m.subject.slice(EVENTS_PREFIX.length) || "unknown";
}

/** The result of an event refused without reaching a partition, with its eventId when it has one. */
function refusalBytes(m: JsMsg, error: WireError): Uint8Array {
  const encoding = encodingOf(m.data);
  let eventId: unknown;
  try {
    eventId = (decodeBytes(m.data, encoding) as { eventId?: unknown } | null)?.eventId;
  } catch {
    eventId = undefined;
  }
  return encodeReply({ ...failure(error), ...(typeof eventId === "string" ? { eventId } : {}) }, encoding);
}

export async function ensureDeadLetters(nc: NatsConnection): Promise<void> {
  const jsm = await nc.jetstreamManager();
  try {
    await jsm.streams.info(DLQ_STREAM);
  } catch {
    await jsm.streams.add({ name: DLQ_STREAM, subjects: [`${DLQ_PREFIX}>`], storage: StorageType.File });
  }
}

/**
 * The event as it came, on loyalty.dlq.<storeId>, with why it failed and where it was in
 * LOYALTY_EVENTS; true once JetStream has stored it.
 */
async function deadLetter(js: JetStreamClient, m: JsMsg, error: WireError, log: Logger): Promise<boolean> {
  const h = natsHeaders();
  h.set("Loyalty-Error", JSON.stringify(error));
  h.set("Loyalty-Deliveries", String(m.info.redeliveryCount));
  h.set("Loyalty-Stream-Seq", String(m.seq));
  h.set("Loyalty-Subject", m.subject);
  try {
    await js.publish(DLQ_PREFIX + m.subject.slice(EVENTS_PREFIX.length), m.data, { headers: h, msgID: `dlq-${m.seq}` });
    log.error({ streamSeq: m.seq, subject: m.subject, deliveries: m.info.redeliveryCount, error }, "event dead-lettered to LOYALTY_DLQ");
    return true;
  } catch (err) {
    log.error({ err, streamSeq: m.seq }, "dead-lettering failed; the event will be redelivered");
    return false;
  }
}
