// JetStream helpers for the bench: windowed async publish with Nats-Msg-Id, and a durable
// pull consumer that hands messages over in batches and acks them after the batch is done.
import { AckPolicy, DeliverPolicy, headers, type JetStreamClient, type JetStreamManager, type JsMsg, type NatsConnection } from "nats";

export interface Outgoing {
  subject: string;
  data: Uint8Array;
  msgID: string;
  /** A deliberate re-send of an earlier message (the stream is expected to dedupe it). */
  resend?: boolean;
}

export type PublishOutcome = "stored" | "deduped" | "failed";

export interface PublishResult {
  published: number;
  /** The stream recognised the msgID within its duplicate window and did not store it again. */
  deduped: number;
  failed: number;
  perSec: number;
}

/** Publishes awaiting their PubAck at once: enough to keep the server busy, bounded for memory. */
const PUBLISH_WINDOW = 4096;
/** Mirrors limits.streamFetchMax / streamAckPendingMax of the engine, so the raw pipeline pulls like the engine. */
export const FETCH_MAX = 1024;
export const ACK_PENDING_MAX = 8192;

/** Publishes `count` messages from `next` with at most PUBLISH_WINDOW unacknowledged; onSettle sees each outcome. */
export async function publishAll(
  js: JetStreamClient,
  count: number,
  next: (i: number) => Outgoing,
  onSettle?: (o: Outgoing, outcome: PublishOutcome) => void,
): Promise<PublishResult> {
  const r: PublishResult = { published: 0, deduped: 0, failed: 0, perSec: 0 };
  let inFlight = 0;
  let wake: (() => void) | null = null;
  const settle = (): void => {
    inFlight--;
    const w = wake;
    wake = null;
    w?.();
  };
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    while (inFlight >= PUBLISH_WINDOW) await new Promise<void>((resolve) => (wake = resolve));
    const o = next(i);
    inFlight++;
    js.publish(o.subject, o.data, { msgID: o.msgID }).then(
      (ack) => {
        r.published++;
        if (ack.duplicate) r.deduped++;
        onSettle?.(o, ack.duplicate ? "deduped" : "stored");
        settle();
      },
      () => {
        r.failed++;
        onSettle?.(o, "failed");
        settle();
      },
    );
  }
  while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
  r.perSec = count / ((performance.now() - t0) / 1000);
  return r;
}

/** Core publishes between flushes while pre-filling: bounds the client's outgoing buffer. */
const PREFILL_FLUSH_EVERY = 1000;

/**
 * Fills a stream fast: core NATS publishes carrying the Nats-Msg-Id header (the stream
 * still dedupes), no PubAck per message. js.publish costs a request and a timer per
 * message (~12 k/s here), which would make pre-filling 200 k events the slowest part of
 * the bench; its own rate is measured separately (publishAll). The caller checks what
 * was stored with streamLastSeq.
 */
export async function prefill(nc: NatsConnection, count: number, next: (i: number) => Outgoing): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const o = next(i);
    const h = headers();
    h.set("Nats-Msg-Id", o.msgID);
    nc.publish(o.subject, o.data, { headers: h });
    if ((i + 1) % PREFILL_FLUSH_EVERY === 0) await nc.flush();
  }
  await nc.flush();
  return count / ((performance.now() - t0) / 1000);
}

export async function streamLastSeq(jsm: JetStreamManager, stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).state.last_seq;
}

/**
 * Consumes `count` messages from a new durable pull consumer. Messages arriving while a
 * batch is being handled accumulate into the next batch (batching on our own schedule, as
 * the engine does); each batch is acked after `handle` resolves. Resolves with msgs/s.
 */
export async function consumeAll(
  nc: NatsConnection,
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  count: number,
  handle: (batch: JsMsg[]) => Promise<void> | void,
): Promise<number> {
  await jsm.consumers.add(stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: ACK_PENDING_MAX,
  });
  const consumer = await nc.jetstream().consumers.get(stream, durable);
  let pending: JsMsg[] = [];
  let busy = false;
  let done = 0;
  let finish: () => void = () => {};
  let fail: (err: unknown) => void = () => {};
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const drainLoop = async (): Promise<void> => {
    busy = true;
    // Yield once so the messages already in the socket buffer join this batch.
    await new Promise((r) => setImmediate(r));
    while (pending.length > 0) {
      const batch = pending.length <= FETCH_MAX ? pending : pending.slice(0, FETCH_MAX);
      pending = pending.length <= FETCH_MAX ? [] : pending.slice(FETCH_MAX);
      await handle(batch);
      for (const m of batch) m.ack();
      done += batch.length;
    }
    busy = false;
    if (done >= count) finish();
  };
  const t0 = performance.now();
  const messages = await consumer.consume({
    max_messages: FETCH_MAX,
    callback: (m) => {
      pending.push(m);
      if (!busy) drainLoop().catch(fail);
    },
  });
  await finished;
  // The acks are fire-and-forget: flush so the figure includes them reaching the server.
  await nc.flush();
  const perSec = count / ((performance.now() - t0) / 1000);
  await messages.close();
  await jsm.consumers.delete(stream, durable);
  return perSec;
}
