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
  type JsMsg,
  type NatsConnection,
  type StreamInfo,
} from "nats";
import { encodingOf } from "../codec/codec.js";
import { limits } from "../limits.js";
import type { Logger } from "../observe/logger.js";
import type { Metrics } from "../observe/metrics.js";
import type { Partitions } from "../partition/partitions.js";
import type { Handled } from "../partition/batch.js";
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
}

const DEFAULT_POLICY: StreamPolicy = { maxAgeMs: 0, maxBytes: 0, denyDelete: true, denyPurge: true };

/**
 * Creates LOYALTY_EVENTS with the policy, or brings an existing stream's limits to it.
 * deny_delete / deny_purge are set at creation: on an existing stream that differs the
 * engine says so rather than loosening or tightening it behind the operator's back.
 */
export async function ensureStream(nc: NatsConnection, policy: StreamPolicy = DEFAULT_POLICY, log?: Logger): Promise<void> {
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
    ack_wait: nanos(limits.streamAckWaitMs),
    max_ack_pending: limits.streamAckPendingMax,
    filter_subject: EVENTS_SUBJECT,
  };
  let existing: ConsumerInfo | null = null;
  try {
    existing = await jsm.consumers.info(STREAM, CONSUMER);
  } catch {
    existing = null;
  }
  if (!existing) {
    await jsm.consumers.add(STREAM, { ...config, deliver_policy: DeliverPolicy.All });
    return;
  }
  if (existing.num_ack_pending > 0) {
    // Messages delivered to a previous run (that crashed) would only come back after
    // ack_wait. Restart the consumer just above its ack floor instead: everything not
    // acknowledged is delivered now; what was applied but not acked meets its
    // idempotency record and is answered as a duplicate.
    await jsm.consumers.delete(STREAM, CONSUMER);
    await jsm.consumers.add(STREAM, { ...config, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: restartSeqOf(existing) });
  }
}

/**
 * Where a restarted consumer resumes: just above its ack floor, and never below where the
 * consumer itself started: a consumer recreated at N that crashed again before its first
 * ack reports an ack floor of 0, and resuming there would replay the whole stream.
 */
export function restartSeqOf(existing: Pick<ConsumerInfo, "ack_floor" | "config">): number {
  return Math.max(existing.ack_floor.stream_seq + 1, existing.config.opt_start_seq ?? 1);
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
  policy: StreamPolicy = DEFAULT_POLICY,
): Promise<StreamConsumer> {
  await ensureStream(nc, policy, log);
  await ensureDeadLetters(nc);
  const js = nc.jetstream();
  const consumer = await js.consumers.get(STREAM, CONSUMER);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: limits.streamFetchMax });
  let inFlight = 0;
  let wake: (() => void) | null = null;
  let stopped = false;

  const process = async (m: JsMsg): Promise<void> => {
    const storeId = m.subject.slice(EVENTS_PREFIX.length) || "unknown";
    const handled = await handler.handle("stream", "accrue", m.data, encodingOf(m.data), storeId);
    if (handled.outcome === "OVERLOADED") {
      m.nak(limits.streamRetryDelayMs); // not applied: JetStream redelivers it later
      return;
    }
    if (handled.outcome === "INTERNAL") {
      if (m.info.redeliveryCount < limits.streamInternalRetriesMax) {
        m.nak(limits.streamRetryDelayMs); // not applied (the command rolled back): try again
        return;
      }
      // Poison: park it, durably, before the ack lets it go; a failed park is retried later.
      if (!(await deadLetter(js, m, handled, log))) return void m.nak(limits.streamRetryDelayMs);
      metrics.deadLetters.inc();
    }
    nc.publish(RESULTS_PREFIX + storeId, handled.bytes);
    m.ack();
    metrics.streamDuration.observe(Math.max(0, Date.now() - m.info.timestampNanos / 1e6) / 1000);
  };

  const loop = (async () => {
    for await (const m of messages) {
      inFlight++;
      void process(m)
        .catch((err) => log.error({ err }, "stream message failed"))
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

  const lagTimer = setInterval(() => {
    consumer
      .info(true)
      .then((info) => {
        metrics.consumerLag.set(info.num_pending);
        metrics.consumerAckPending.set(info.num_ack_pending);
      })
      .catch(() => undefined);
  }, 2000);
  lagTimer.unref();

  return {
    bound: () => !stopped,
    async stop() {
      stopped = true;
      clearInterval(lagTimer);
      await messages.close();
      await loop.catch(() => undefined);
      while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    },
  };
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
async function deadLetter(js: JetStreamClient, m: JsMsg, handled: Handled, log: Logger): Promise<boolean> {
  const h = natsHeaders();
  h.set("Loyalty-Error", JSON.stringify(handled.refusal?.error ?? { code: handled.outcome }));
  h.set("Loyalty-Deliveries", String(m.info.redeliveryCount));
  h.set("Loyalty-Stream-Seq", String(m.seq));
  h.set("Loyalty-Subject", m.subject);
  try {
    await js.publish(DLQ_PREFIX + m.subject.slice(EVENTS_PREFIX.length), m.data, { headers: h, msgID: `dlq-${m.seq}` });
    log.error({ streamSeq: m.seq, subject: m.subject, deliveries: m.info.redeliveryCount, error: handled.refusal?.error }, "event dead-lettered to LOYALTY_DLQ");
    return true;
  } catch (err) {
    log.error({ err, streamSeq: m.seq }, "dead-lettering failed; the event will be redelivered");
    return false;
  }
}
