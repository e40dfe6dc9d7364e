// One path for every request whatever its transport (NATS rpc, HTTP, JetStream): raw
// bytes -> route -> partition (which decodes, validates, applies and encodes) -> reply
// bytes. Failures are typed replies, counted and logged here; they never escape.
import { decodeBytes, encodeReply, validate, type Encoding } from "../codec/codec.js";
import type { VerbInput } from "../codec/schema.js";
import { LoyaltyError, failure, refusedByStorage, toWireError, type WireError } from "../errors.js";
import { limits } from "../limits.js";
import type { Notification } from "../ledger/ledger.js";
import type { Logger } from "../observe/logger.js";
import type { Metrics } from "../observe/metrics.js";
import type { Handled } from "../partition/batch.js";
import type { Partitions } from "../partition/partitions.js";
import type { Router } from "../partition/router.js";
import type { ClusterGate } from "../cluster/gate.js";
import type { CommandVerb } from "../verbs.js";

export type Source = "rpc" | "http" | "stream";

const OVERLOADED_LOG_MS = 5000;
export type Reply = Record<string, unknown>;

export class Handler {
  constructor(
    private readonly router: Router,
    private readonly partitions: Partitions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly publishNotifications: (n: Notification[]) => void,
    /** Told when the ledger refused a write (disk full), for readiness. */
    private readonly onUnavailable: () => void = () => undefined,
    /** Cluster mode: the router's partitions are virtual ones, served here or by their owner. */
    private readonly gate: ClusterGate | null = null,
  ) {}

  /**
   * Raw bytes in, the encoded reply out (in the request's encoding). With one partition
   * the main thread never decodes: routing needs the customer only across partitions.
   */
  async handle(
    source: Source,
    verb: CommandVerb,
    bytes: Uint8Array,
    encoding: Encoding,
    subjectStore: string | null = null,
    credentialStore: string | null = null,
  ): Promise<Handled> {
    if (bytes.length > limits.payloadBytesMax) {
      return this.refused(source, verb, encoding, new LoyaltyError("PAYLOAD_TOO_LARGE", `payload is ${bytes.length} bytes; the limit is ${limits.payloadBytesMax}`));
    }
    let partition = 0;
    let keys: string[] = [];
    let value: unknown = null;
    if (this.router.partitions > 1) {
      try {
        value = decodeBytes(bytes, encoding);
      } catch {
        // Undecodable: any partition will say so.
      }
      ({ partition, keys } = this.router.route(verb, value));
      if (this.router.missed && this.gate?.identities) {
        // A claim made a moment ago on another instance may not be in this cache yet.
        this.router.release(keys);
        await this.gate.identities.sync().catch(() => undefined);
        ({ partition, keys } = this.router.route(verb, value));
      }
      if (this.gate && verb === "mergeCustomers") {
        const parties = this.router.mergeParties(value);
        if (parties !== null) {
          this.router.release(keys);
          return this.crossMerge(source, encoding, value, parties);
        }
      }
      // A return's sale or a report this ledger does not hold: the partition that does.
      const missed = this.router.missedRecord;
      if (missed !== null && this.gate?.locator) partition = (await this.gate.locator.locate(missed.kind, missed.id)) ?? partition;
    }
    let handled: Handled;
    try {
      const req = { verb, bytes, encoding, subjectStore, credentialStore };
      handled = await (this.gate ? this.gate.submit(partition, req, source !== "stream", value) : this.partitions.submit(partition, req, source !== "stream"));
    } catch (err) {
      return this.refused(source, verb, encoding, err);
    } finally {
      this.router.release(keys);
    }
    this.count(source, handled, partition);
    if (handled.notifications.length) this.notifyAfterReplies(handled.notifications);
    return handled;
  }

  /** Cluster mode: a merge of customers of two partitions, in steps (cluster/merge.ts). */
  private async crossMerge(source: Source, encoding: Encoding, value: unknown, parties: { from: string; into: string } | "unscoped"): Promise<Handled> {
    const verb = "mergeCustomers";
    if (parties === "unscoped" || !this.gate?.merges) {
      return this.refused(source, verb, encoding, new LoyaltyError("VALIDATION", "these customers are on different partitions and one of them predates cluster mode: they cannot be merged", "from"));
    }
    let input: VerbInput<"mergeCustomers">;
    try {
      input = validate(verb, value);
    } catch (err) {
      return this.refused(source, verb, encoding, err);
    }
    const { reply, notifications } = await this.gate.merges.run(input, parties.from, parties.into);
    const error = reply.ok === false ? (reply.error as WireError) : null;
    const handled: Handled = {
      bytes: encodeReply(reply, encoding),
      outcome: error ? error.code : reply.duplicate === true ? "duplicate" : "ok",
      label: verb,
      notifications,
      refusal: error ? { error, ids: { requestId: input.requestId } } : null,
      points: 0,
    };
    this.count(source, handled);
    if (notifications.length) this.notifyAfterReplies(notifications);
    return handled;
  }

  /** Notifications of commands answered this turn, published together on the next. */
  private notifyQueue: Notification[][] = [];

  /**
   * After the callers' replies: NATS handles a connection's messages in order, and a reply
   * should not wait behind the notifications' JetStream writes. A batch's commands are
   * answered in one turn; their notifications go out together on the next, so the
   * connection writes them in one socket write (one setImmediate per command made one
   * write per notification: measured, ~1.2 socket writes per stream event).
   */
  private notifyAfterReplies(ns: Notification[]): void {
    if (this.notifyQueue.push(ns) === 1) setImmediate(this.flushNotifications);
  }

  private readonly flushNotifications = (): void => {
    const queued = this.notifyQueue;
    this.notifyQueue = [];
    for (const ns of queued) {
      try {
        this.publishNotifications(ns);
      } catch (err) {
        // The connection is closing: the outbox sends them again on the next start.
        this.log.warn({ err }, "notifications not published");
      }
    }
  };

  /** A value in (admin routes, bulk jobs), the decoded reply out. */
  async handleValue(source: Source, verb: CommandVerb, value: unknown): Promise<Reply> {
    const handled = await this.handle(source, verb, encodeReply(value, "json"), "json");
    return JSON.parse(Buffer.from(handled.bytes).toString("utf8")) as Reply;
  }

  private overloadedSince = 0;
  private overloadedCount = 0;

  private count(source: Source, h: Handled, partition: number | null = null): void {
    this.metrics.events.labels(source, h.label, h.outcome).inc();
    if (h.points !== 0) this.countPoints(h);
    if (!h.refusal) return;
    this.metrics.rejected.labels(source, h.outcome).inc();
    if (h.outcome === "OVERLOADED") return this.overloaded();
    if (refusedByStorage(h.refusal.error)) return this.onUnavailable();
    const { error, ids, internal } = h.refusal;
    // An unexpected exception: its stack (from the partition's thread), the command's ids and the partition.
    if (internal) this.log.error({ source, label: h.label, partition, error, ...ids, err: internal }, "request failed");
    else this.log.info({ source, label: h.label, error, ...ids }, "request refused");
  }

  /** A sale earns (> 0), a return or void takes back (< 0), a capture, voucher or conversion redeems. */
  private countPoints(h: Handled): void {
    const back = h.label === "return" || h.label === "void";
    const movement = h.label === "sale" ? "earned" : back ? "taken_back" : "redeemed";
    const amount = back ? -h.points : h.points;
    // prom-client throws on a negative increment: a counter must never be what fails a reply.
    if (amount > 0) this.metrics.points.labels(movement).inc(amount);
  }

  /** Shedding load must stay cheap: one summary line per interval, not a line per refusal. */
  private overloaded(): void {
    this.overloadedCount++;
    const now = Date.now();
    if (now - this.overloadedSince < OVERLOADED_LOG_MS) return;
    this.log.warn({ refused: this.overloadedCount, sinceMs: this.overloadedSince ? now - this.overloadedSince : 0 }, "shedding load: requests refused with OVERLOADED");
    this.overloadedSince = now;
    this.overloadedCount = 0;
  }

  private refused(source: Source, verb: CommandVerb, encoding: Encoding, err: unknown): Handled {
    const error = toWireError(err);
    const handled: Handled = {
      bytes: encodeReply(failure(error), encoding),
      outcome: error.code,
      label: verb === "accrue" ? "unknown" : verb,
      notifications: [],
      refusal: { error, ids: {}, ...(err instanceof LoyaltyError ? {} : { internal: String((err as Error)?.stack ?? err) }) },
      points: 0,
    };
    this.count(source, handled);
    return handled;
  }
}
