// Notifications for the SMS / e-mail connectors: `loyalty.notify.<kind>`, JSON, with
// `Nats-Msg-Id` = the notification's id, captured by the JetStream stream LOYALTY_NOTIFY.
// Sent after the commit is durable, as core publishes whose JetStream acknowledgements
// come back on one inbox subscription (no request, promise or timer per message); what is
// not acknowledged in time is sent again, from the ledger's outbox (notify.outbox on: at
// least once, across engine crashes too) or from memory (off, and the portal's sign-in codes,
// which never reach the disk: lost if the engine dies first).
import { createInbox, headers, nanos, StorageType, type Msg, type NatsConnection, type StreamInfo, type Subscription } from "nats";
import { limits } from "../limits.js";
import type { Notification } from "../ledger/ledger.js";
import { outboxDue, outboxRemove, outboxSize, type OutboxBatch } from "../ledger/notifications.js";
import type { Store } from "../ledger/store.js";
import type { Logger } from "../observe/logger.js";
import type { Metrics } from "../observe/metrics.js";

export const NOTIFY_PREFIX = "loyalty.notify.";
export const NOTIFY_STREAM = "LOYALTY_NOTIFY";
export const NOTIFY_SUBJECT = "loyalty.notify.>";

/** LOYALTY_NOTIFY's limits (config notify.*). */
export interface NotifyStreamPolicy {
  maxAgeMs: number;
  maxBytes: number;
  duplicateWindowMs: number;
}

/** JetStream's "stream not found". */
const STREAM_NOT_FOUND = 10059;

/** Creates LOYALTY_NOTIFY when missing; brings an existing one's limits and duplicate window to the configuration. */
export async function ensureNotifyStream(nc: NatsConnection, policy: NotifyStreamPolicy, log: Logger): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const want = {
    max_age: nanos(policy.maxAgeMs),
    max_bytes: policy.maxBytes > 0 ? policy.maxBytes : -1,
    duplicate_window: nanos(policy.duplicateWindowMs),
  };
  let info: StreamInfo;
  try {
    info = await jsm.streams.info(NOTIFY_STREAM);
  } catch (err) {
    if ((err as { api_error?: { err_code?: number } }).api_error?.err_code !== STREAM_NOT_FOUND) throw err;
    await jsm.streams.add({ name: NOTIFY_STREAM, subjects: [NOTIFY_SUBJECT], storage: StorageType.File, ...want });
    log.info({ stream: NOTIFY_STREAM, ...policy }, "created the notification stream");
    return;
  }
  const c = info.config;
  if (c.max_age !== want.max_age || c.max_bytes !== want.max_bytes || c.duplicate_window !== want.duplicate_window) {
    await jsm.streams.update(NOTIFY_STREAM, { ...c, ...want });
    log.info({ stream: NOTIFY_STREAM, ...policy }, "updated the notification stream's limits");
  }
}

const utf8 = new TextDecoder();

/** The stored acknowledgement's outcome, or null when JetStream did not store it (an error, no stream). */
function pubAckOf(m: Msg): { duplicate: boolean } | null {
  if (m.headers?.hasError || m.data.length === 0) return null;
  try {
    const ack = JSON.parse(utf8.decode(m.data)) as { stream?: unknown; error?: unknown; duplicate?: unknown };
    return typeof ack.stream === "string" && ack.error === undefined ? { duplicate: ack.duplicate === true } : null;
  } catch {
    return null;
  }
}

/** Set only by tests (LOYALTYD_FAILPOINT_NOTIFY_CRASH_PREFIX): a notification whose id starts with it kills the process before it is sent. */
const FAILPOINT_CRASH_PREFIX = process.env.LOYALTYD_FAILPOINT_NOTIFY_CRASH_PREFIX ?? "";

const FAILURE_LOG_MS = 5000;

interface Sent {
  n: Notification;
  /** performance.now() at the send: the ack timeout is wall time, whatever the engine's clock says. */
  at: number;
}

/** An outbox record the publisher knows: how many of its notifications await an ack, and which are acknowledged. */
interface Box {
  unacked: number;
  acked: Set<string>;
}

export class NotifyPublisher {
  private readonly inbox: string;
  private sub: Subscription | null = null;
  private token = 0;
  /** Reply token -> the notification it acknowledges. In send order. */
  private readonly sent = new Map<string, Sent>();
  /** Ids sent and not yet acknowledged. */
  private readonly sending = new Set<string>();
  /** Outbox: the records with notifications not yet acknowledged, by key. */
  private readonly boxes = new Map<number, Box>();
  /** Outbox: records whose notifications are all acknowledged, to remove (and, until removed, not to resend). */
  private readonly settled = new Set<number>();
  private removing: Promise<unknown> = Promise.resolve();
  /** Notifications outside the outbox (notify.outbox off, or the portal's codes) waiting for their acknowledgement, oldest first, with the engine's clock at their first send. */
  private readonly memory = new Map<string, { n: Notification; t: number }>();
  /** Notifications known and not yet acknowledged (the gauge). */
  private unacked = 0;
  /** The last resend pass was full: more is due as soon as the acks make room. */
  private backlog = false;
  private resendQueued = false;
  private timers: NodeJS.Timeout[] = [];
  private failures = 0;
  private failuresLoggedAt = 0;
  private readonly ackedStored;
  private readonly ackedDuplicate;

  constructor(
    private readonly nc: NatsConnection,
    /** The ledger, whose outbox holds what is unacknowledged (notify.outbox on); null: memory. */
    private readonly outbox: Store | null,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** The engine's clock: an outbox record's age is measured by the clock that wrote it. */
    private readonly now: () => number,
    inboxPrefix?: string,
  ) {
    this.inbox = createInbox(inboxPrefix);
    this.ackedStored = metrics.notifyAcked.labels("stored");
    this.ackedDuplicate = metrics.notifyAcked.labels("duplicate");
  }

  /** Subscribes to the acknowledgements and sends what an earlier run left in the outbox. */
  start(): void {
    this.sub = this.nc.subscribe(`${this.inbox}.*`, { callback: (err, m) => (err ? this.log.warn({ err }, "notification acks") : this.onAck(m)) });
    this.resend(Number.POSITIVE_INFINITY);
    const tick = setInterval(() => this.tick(), limits.notifyRetryMs / 2);
    const remove = setInterval(() => void this.removeSettled(), limits.notifyOutboxDeleteMs);
    tick.unref();
    remove.unref();
    this.timers = [tick, remove];
  }

  /** After the commit is durable: the notifications of one command or sweep. */
  readonly publish = (ns: Notification[]): void => {
    for (const n of ns) {
      if (FAILPOINT_CRASH_PREFIX && n.id.startsWith(FAILPOINT_CRASH_PREFIX)) process.kill(process.pid, "SIGKILL");
      // A notification the ledger did not write to the outbox (the portal's sign-in codes,
      // which must not reach the disk) waits in memory for its acknowledgement, in either mode.
      if (this.outbox && n.outbox) this.track(n);
      else this.remember(n);
      this.metrics.notifications.labels(n.kind).inc();
      this.send(n);
    }
  };

  /** Waits (bounded) for outstanding acknowledgements and removes the records they settle. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    const deadline = performance.now() + limits.notifyStopWaitMs;
    while (this.sent.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await this.removeSettled();
    this.sub?.unsubscribe();
  }

  /** False when it is already in flight, or too many are: a resend pass picks it up. */
  private send(n: Notification): boolean {
    if (this.sending.has(n.id) || this.sent.size >= limits.notifyInFlightMax) return false;
    const token = (++this.token).toString(36);
    const h = headers();
    h.set("Nats-Msg-Id", n.id);
    this.nc.publish(NOTIFY_PREFIX + n.kind, JSON.stringify(n.payload), { headers: h, reply: `${this.inbox}.${token}` });
    this.sent.set(token, { n, at: performance.now() });
    this.sending.add(n.id);
    return true;
  }

  private onAck(m: Msg): void {
    const token = m.subject.slice(this.inbox.length + 1);
    const s = this.sent.get(token);
    if (!s) return; // given up already: it was or will be sent again
    this.sent.delete(token);
    this.sending.delete(s.n.id);
    const ack = pubAckOf(m);
    if (!ack) return this.failed(1);
    (ack.duplicate ? this.ackedDuplicate : this.ackedStored).inc();
    if (s.n.outbox) this.acknowledged(s.n);
    else if (this.memory.delete(s.n.id)) this.unacked--;
    if (this.backlog && !this.resendQueued && this.sent.size < limits.notifyInFlightMax / 2) {
      this.resendQueued = true;
      setImmediate(() => {
        this.resendQueued = false;
        this.resend(this.now() - limits.notifyRetryMs);
      });
    }
  }

  /** Outbox: the first time a record's notification is seen, the record is known. */
  private track(n: Notification): void {
    const o = n.outbox;
    if (!o || this.boxes.has(o.key) || this.settled.has(o.key)) return;
    this.boxes.set(o.key, { unacked: o.size, acked: new Set() });
    this.unacked += o.size;
  }

  /** Outbox: once every notification of a record is acknowledged, the record goes. */
  private acknowledged(n: Notification): void {
    const box = n.outbox && this.boxes.get(n.outbox.key);
    if (!box || box.acked.has(n.id)) return;
    box.acked.add(n.id);
    this.unacked--;
    if (--box.unacked > 0) return;
    this.boxes.delete(n.outbox!.key);
    this.settled.add(n.outbox!.key);
  }

  /** Gives up on sends unacknowledged past limits.notifyRetryMs, sends again what is due, updates the gauges. */
  private tick(): void {
    const expired = performance.now() - limits.notifyRetryMs;
    let lost = 0;
    for (const [token, s] of this.sent) {
      if (s.at > expired) break;
      this.sent.delete(token);
      this.sending.delete(s.n.id);
      lost++;
    }
    if (lost > 0) this.failed(lost);
    this.resend(this.now() - limits.notifyRetryMs);
    this.metrics.notifyPending.set(this.unacked);
    if (this.outbox) this.metrics.notifyOutboxRecords.set(outboxSize(this.outbox));
  }

  /**
   * Sends again what has waited since `before` (the engine's clock) without an
   * acknowledgement. Oldest first, and it stops at the first younger one: when all goes
   * well it reads one outbox record (or none) and sends nothing.
   */
  private resend(before: number): void {
    const room = Math.min(limits.notifyResendMax, limits.notifyInFlightMax - this.sent.size);
    if (room <= 0) return;
    let resent = 0;
    const send = (n: Notification) => {
      if (resent < room && this.send(n)) resent++;
    };
    if (this.outbox) {
      this.outbox.env.resetReadTxn();
      for (const batch of outboxDue(this.outbox, before, room, this.settled)) {
        const box = this.known(batch);
        for (const n of batch.ns) if (!box.acked.has(n.id)) send(n);
      }
    }
    for (const { n, t } of this.memory.values()) {
      if (resent >= room || t > before) break;
      send(n);
    }
    this.backlog = resent >= room;
    if (resent > 0) this.metrics.notifyResent.inc(resent);
  }

  /** An outbox record found by a resend pass (after a restart: every record). */
  private known(batch: OutboxBatch): Box {
    let box = this.boxes.get(batch.key);
    if (!box) {
      box = { unacked: batch.ns.length, acked: new Set() };
      this.boxes.set(batch.key, box);
      this.unacked += batch.ns.length;
    }
    return box;
  }

  private removeSettled(): Promise<unknown> {
    if (!this.outbox || this.settled.size === 0) return this.removing;
    const keys = [...this.settled];
    const store = this.outbox;
    // A failed removal only means a resend later, which LOYALTY_NOTIFY recognises by its ids.
    const forget = () => keys.forEach((k) => this.settled.delete(k));
    this.removing = this.removing.then(() => outboxRemove(store, keys)).then(forget, (err: unknown) => {
      forget();
      this.log.warn({ err }, "could not remove acknowledged notifications from the outbox; they will be sent again");
    });
    return this.removing;
  }

  /** Outside the outbox: the notification waits in memory until acknowledged; past the bound the oldest is given up. */
  private remember(n: Notification): void {
    if (this.memory.has(n.id)) return;
    if (this.memory.size >= limits.notifyPendingMax) {
      const oldest = this.memory.keys().next().value as string;
      this.memory.delete(oldest);
      this.unacked--;
      this.metrics.notifyDropped.inc();
    }
    this.memory.set(n.id, { n, t: this.now() });
    this.unacked++;
  }

  /** Counted, and logged at most every few seconds: JetStream down must not flood the log. */
  private failed(count: number): void {
    this.metrics.notifyFailures.inc(count);
    this.failures += count;
    const now = performance.now();
    if (now - this.failuresLoggedAt < FAILURE_LOG_MS) return;
    this.log.warn({ stream: NOTIFY_STREAM, unacknowledged: this.failures }, "notifications not stored by JetStream; they are sent again");
    this.failuresLoggedAt = now;
    this.failures = 0;
  }
}
