// One path for every request whatever its transport (NATS rpc, HTTP, JetStream):
// decode -> validate -> route -> partition -> reply. Failures become typed replies,
// are counted and logged; they never escape.
import { contentHash, decodeBytes, validate, type Encoding } from "../codec/codec.js";
import type { Verb } from "../codec/schema.js";
import { LoyaltyError, toWireError, failure, type WireError } from "../errors.js";
import type { Command, Notification } from "../ledger/ledger.js";
import type { Logger } from "../observe/logger.js";
import type { Metrics } from "../observe/metrics.js";
import type { Partitions } from "../partition/partitions.js";
import type { Router } from "../partition/router.js";

export type Source = "rpc" | "http" | "stream";
export type Reply = Record<string, unknown>;

/** Verbs whose effect is recorded against a request or event id. */
const IDEMPOTENT: ReadonlySet<Verb> = new Set<Verb>([
  "accrue", "enroll", "authorize", "capture", "release", "convert", "convertEarned", "adjust", "card", "redeemReward", "buyVoucher", "redeemVoucher",
]);

export class Handler {
  constructor(
    private readonly router: Router,
    private readonly partitions: Partitions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly publishNotifications: (n: Notification[]) => void,
  ) {}

  /** Raw bytes in (NATS); the reply keeps the request's encoding. */
  async handleBytes(source: Source, verb: Verb, bytes: Uint8Array, encoding: Encoding): Promise<Reply> {
    let value: unknown;
    try {
      value = decodeBytes(bytes, encoding);
    } catch (err) {
      return this.refused(source, verb, err, undefined);
    }
    return this.handleValue(source, verb, value);
  }

  async handleValue(source: Source, verb: Verb, value: unknown): Promise<Reply> {
    let command: Command;
    let keys: string[];
    let partition: number;
    try {
      const input = validate(verb, value) as Record<string, unknown>;
      command = { verb, input, hash: IDEMPOTENT.has(verb) ? contentHash(verb, input) : "" };
      ({ partition, keys } = this.router.route(verb, input));
    } catch (err) {
      return this.refused(source, verb, err, value);
    }
    try {
      const outcome = await this.partitions.submit(partition, command);
      const reply = outcome.reply;
      const outcomeLabel = reply.ok === false ? (reply.error as WireError).code : reply.duplicate === true ? "duplicate" : "ok";
      this.metrics.events.labels(source, typeLabel(verb, value), outcomeLabel).inc();
      if (reply.ok === false) this.log.info({ source, verb, error: reply.error, ...idsOf(value) }, "request refused");
      if (outcome.notifications.length) this.publishNotifications(outcome.notifications);
      return reply;
    } catch (err) {
      return this.refused(source, verb, err, value);
    } finally {
      this.router.release(keys);
    }
  }

  private refused(source: Source, verb: Verb, err: unknown, value: unknown): Reply {
    const wire = toWireError(err);
    this.metrics.rejected.labels(source, wire.code).inc();
    this.metrics.events.labels(source, typeLabel(verb, value), wire.code).inc();
    if (err instanceof LoyaltyError) this.log.info({ source, verb, error: wire, ...idsOf(value) }, "request refused");
    else this.log.error({ source, verb, err, ...idsOf(value) }, "request failed");
    return { ...failure(wire), ...idsOf(value) };
  }
}

const EVENT_TYPES = new Set(["sale", "return", "void"]);

function typeLabel(verb: Verb, value: unknown): string {
  if (verb !== "accrue") return verb;
  const t = (value as { type?: unknown } | null)?.type;
  return typeof t === "string" && EVENT_TYPES.has(t) ? t : "unknown";
}

/** Echo the caller's ids on failures so a POS can match the reply to its request. */
function idsOf(value: unknown): Reply {
  if (typeof value !== "object" || value === null) return {};
  const v = value as Record<string, unknown>;
  const out: Reply = {};
  if (typeof v.eventId === "string" && v.eventId.length <= 128) out.eventId = v.eventId;
  if (typeof v.requestId === "string" && v.requestId.length <= 128) out.requestId = v.requestId;
  return out;
}
