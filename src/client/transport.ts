// How a request reaches the engine: NATS request/reply on loyalty.rpc.<verb> (JSON or
// plain MessagePack) or HTTP POST /v1/<verb> (JSON). A transport returns the decoded
// envelope, or throws a LoyaltyClientError with a transport code; it never retries.
import { Packr, Unpackr } from "msgpackr";
import type { NatsConnection } from "nats";
import type { ClientErrorCode } from "./errors.js";

export type Encoding = "json" | "msgpack";

/** The contract's envelope: `{ok: true, ...}` or `{ok: false, error: {code, message, field?}}`. */
export type Envelope = { ok: true; [field: string]: unknown } | { ok: false; error: { code: string; message: string; field?: string } };

export interface Transport {
  send(verb: string, body: unknown, timeoutMs: number): Promise<Envelope>;
}

/** Thrown by a transport: what went wrong on the way, not in the engine. */
export class TransportFailure extends Error {
  constructor(
    readonly code: Extract<ClientErrorCode, "TIMEOUT" | "NO_RESPONDERS" | "CONNECTION" | "BAD_REPLY">,
    message: string,
  ) {
    super(message);
  }
}

// Plain MessagePack as the contract says: no records, no msgpackr extensions.
const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function envelopeOf(value: unknown): Envelope {
  if (typeof value === "object" && value !== null && typeof (value as { ok?: unknown }).ok === "boolean") {
    const v = value as Envelope;
    if (v.ok || (typeof v.error === "object" && v.error !== null && typeof v.error.code === "string")) return v;
  }
  throw new TransportFailure("BAD_REPLY", "the reply is not the contract's envelope ({ok, ...})");
}

export interface NatsTransportOptions {
  nc: NatsConnection;
  /** Default "json". A MessagePack request gets a MessagePack reply. */
  encoding?: Encoding;
  /** Default "loyalty.rpc.": the subject is this plus the verb. */
  subjectPrefix?: string;
}

export function natsTransport(o: NatsTransportOptions): Transport {
  const prefix = o.subjectPrefix ?? "loyalty.rpc.";
  const msgpack = o.encoding === "msgpack";
  return {
    async send(verb, body, timeoutMs) {
      const payload = msgpack ? packr.pack(body) : encoder.encode(JSON.stringify(body));
      let data: Uint8Array;
      try {
        data = (await o.nc.request(prefix + verb, payload, { timeout: timeoutMs })).data;
      } catch (err) {
        // nats.js: "503" no responders, "TIMEOUT" no reply in time; anything else, the connection.
        const code = String((err as { code?: unknown }).code ?? "");
        if (code === "503") throw new TransportFailure("NO_RESPONDERS", `no engine answers ${prefix}${verb}`);
        if (code === "TIMEOUT") throw new TransportFailure("TIMEOUT", `no reply on ${prefix}${verb} within ${timeoutMs} ms`);
        throw new TransportFailure("CONNECTION", `NATS: ${(err as Error).message}`);
      }
      let value: unknown;
      try {
        value = msgpack ? unpackr.unpack(data) : JSON.parse(decoder.decode(data));
      } catch {
        throw new TransportFailure("BAD_REPLY", `the reply is not ${msgpack ? "MessagePack" : "JSON"}`);
      }
      return envelopeOf(value);
    },
  };
}

export interface HttpTransportOptions {
  /** The engine's base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** A store's API key (terminalAuth), sent as Authorization: Bearer <key>. */
  apiKey?: string;
  /** Default globalThis.fetch. */
  fetch?: typeof fetch;
}

export function httpTransport(o: HttpTransportOptions): Transport {
  const base = o.url.replace(/\/+$/, "");
  const doFetch = o.fetch ?? globalThis.fetch;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (o.apiKey !== undefined) headers.authorization = `Bearer ${o.apiKey}`;
  return {
    async send(verb, body, timeoutMs) {
      let text: string;
      try {
        const res = await doFetch(`${base}/v1/${verb}`, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
        text = await res.text();
      } catch (err) {
        const name = (err as { name?: string }).name;
        if (name === "TimeoutError" || name === "AbortError") throw new TransportFailure("TIMEOUT", `no reply from POST /v1/${verb} within ${timeoutMs} ms`);
        throw new TransportFailure("CONNECTION", `HTTP: ${(err as Error).message}`);
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new TransportFailure("BAD_REPLY", "the reply is not JSON");
      }
      return envelopeOf(value);
    },
  };
}
