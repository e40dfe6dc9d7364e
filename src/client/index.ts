// `loyaltyd/client`: a typed client of the terminal verbs, over NATS (JSON or
// MessagePack) or HTTP. One function per verb; failures throw LoyaltyClientError with
// the engine's code; idempotent verbs get a request id that every retry repeats.
import { randomUUID } from "node:crypto";
import type { NatsConnection } from "nats";
import type { z } from "zod";
import type { VERB_SCHEMAS } from "../codec/schema.js";
import type { ReplyVerb, VerbReply } from "../codec/replies.js";
import type { ErrorCode } from "../errors.js";
import { LoyaltyClientError, type ClientErrorCode } from "./errors.js";
import { retryDelayMs, retryPolicyOf, shouldRetry, type RetryPolicy } from "./retry.js";
import { httpTransport, natsTransport, TransportFailure, type Encoding, type Envelope, type Transport } from "./transport.js";

export { LoyaltyClientError, isLoyaltyError, TRANSPORT_CODES, type ClientErrorCode, type TransportCode } from "./errors.js";
export { RETRY_DEFAULT, RETRY_NONE, RETRY_ON_DEFAULT, retryDelayMs, type RetryPolicy } from "./retry.js";
export type { Encoding, Envelope, Transport } from "./transport.js";
export type { ErrorCode } from "../errors.js";
export type { VerbReply } from "../codec/replies.js";

/**
 * The terminal verbs and what makes each idempotent, as src/verbs.ts declares them
 * (test/client/verbs.test.ts pins the two together). Kept here so that the client
 * loads no engine code.
 */
export const CLIENT_VERBS = {
  accrue: "event",
  quote: null,
  balance: null,
  enroll: "request",
  customer: null,
  updateCustomer: "request",
  statement: null,
  authorize: "request",
  capture: "request",
  release: "request",
  convert: "request",
  redeemReward: "request",
  buyVoucher: "request",
  redeemVoucher: "request",
  vouchers: null,
  submitReport: "request",
  targets: null,
} as const satisfies Record<ReplyVerb, "event" | "request" | null>;

export type ClientVerb = keyof typeof CLIENT_VERBS;

type RawInput<V extends ClientVerb> = z.input<(typeof VERB_SCHEMAS)[V]>;
/** A verb's request as the client takes it: `requestId` may be left out (the client makes one). */
export type ClientInput<V extends ClientVerb> = (typeof CLIENT_VERBS)[V] extends "request"
  ? Omit<RawInput<V>, "requestId"> & { requestId?: string }
  : RawInput<V>;

export interface CallOptions {
  /** Per attempt; default the client's timeoutMs. */
  timeoutMs?: number;
  /** Overrides the client's policy for this call; false: one attempt only. */
  retry?: Partial<RetryPolicy> | false;
}

export interface RetryInfo {
  verb: ClientVerb;
  /** The attempt that failed (1 for the first). */
  attempt: number;
  code: ClientErrorCode;
  delayMs: number;
  idempotencyKey: string | undefined;
}

interface CommonOptions {
  /** Per attempt, ms; default 5000. */
  timeoutMs?: number;
  /** Default RETRY_DEFAULT; false: never retry. */
  retry?: Partial<RetryPolicy> | false;
  /** Makes the request id of a call that has none; default `<requestIdPrefix><random UUID>`. */
  requestId?: () => string;
  /** Prefix of the generated request ids, e.g. the store and terminal ("s01-t3-"). */
  requestIdPrefix?: string;
  /** Told before each retry (for logs and metrics). */
  onRetry?: (info: RetryInfo) => void;
  /** The wait between attempts; tests may pass a faster one. */
  sleep?: (ms: number) => Promise<void>;
}

export type ClientOptions =
  | (CommonOptions & { nats: NatsConnection; encoding?: Encoding; subjectPrefix?: string })
  | (CommonOptions & { http: string; apiKey?: string; fetch?: typeof fetch })
  | (CommonOptions & { transport: Transport });

export type LoyaltyClient = {
  [V in ClientVerb]: (input: ClientInput<V>, options?: CallOptions) => Promise<VerbReply<V>>;
} & {
  /** The same as the named functions, by the verb's name. */
  call<V extends ClientVerb>(verb: V, input: ClientInput<V>, options?: CallOptions): Promise<VerbReply<V>>;
};

const TIMEOUT_MS_DEFAULT = 5000;
const sleepReal = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function transportOf(o: ClientOptions): Transport {
  if ("transport" in o) return o.transport;
  if ("nats" in o) return natsTransport({ nc: o.nats, ...(o.encoding ? { encoding: o.encoding } : {}), ...(o.subjectPrefix ? { subjectPrefix: o.subjectPrefix } : {}) });
  return httpTransport({ url: o.http, ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}), ...(o.fetch ? { fetch: o.fetch } : {}) });
}

function failureOf(verb: string, attempts: number, key: string | undefined, err: unknown): LoyaltyClientError {
  if (err instanceof TransportFailure) return new LoyaltyClientError({ code: err.code, message: err.message, verb, attempts, idempotencyKey: key });
  throw err;
}

export function createClient(options: ClientOptions): LoyaltyClient {
  const transport = transportOf(options);
  const policy = retryPolicyOf(options.retry);
  const timeoutMsDefault = options.timeoutMs ?? TIMEOUT_MS_DEFAULT;
  const prefix = options.requestIdPrefix ?? "";
  const newRequestId = options.requestId ?? (() => prefix + randomUUID());
  const sleep = options.sleep ?? sleepReal;

  async function call<V extends ClientVerb>(verb: V, input: ClientInput<V>, callOptions?: CallOptions): Promise<VerbReply<V>> {
    const kind = CLIENT_VERBS[verb];
    let body = input as Record<string, unknown>;
    // Made once per call, before the first attempt: every retry carries the same id.
    if (kind === "request" && body.requestId === undefined) body = { ...body, requestId: newRequestId() };
    const key = kind === "request" ? (body.requestId as string) : kind === "event" ? (body.eventId as string | undefined) : undefined;
    const p = callOptions?.retry === undefined ? policy : retryPolicyOf(callOptions.retry);
    const timeoutMs = callOptions?.timeoutMs ?? timeoutMsDefault;
    for (let attempt = 1; ; attempt++) {
      let error: LoyaltyClientError;
      try {
        const reply: Envelope = await transport.send(verb, body, timeoutMs);
        if (reply.ok) return reply as unknown as VerbReply<V>;
        const e = reply.error;
        error = new LoyaltyClientError({ code: e.code as ErrorCode, message: e.message, field: e.field, verb, attempts: attempt, idempotencyKey: key });
      } catch (err) {
        error = failureOf(verb, attempt, key, err);
      }
      if (!shouldRetry(error.code, attempt, p)) throw error;
      const delayMs = retryDelayMs(attempt, p, Math.random());
      options.onRetry?.({ verb, attempt, code: error.code, delayMs, idempotencyKey: key });
      await sleep(delayMs);
    }
  }

  const client = { call } as LoyaltyClient;
  for (const verb of Object.keys(CLIENT_VERBS) as ClientVerb[]) {
    (client as unknown as Record<string, unknown>)[verb] = (input: unknown, o?: CallOptions) => call(verb, input as never, o);
  }
  return client;
}
