// The simulator's side of the wire: JSON encode/decode of contract payloads and a
// bounded-concurrency request pool. Shared by the demo simulator and bench/.
import type { NatsConnection } from "nats";

export interface WireError {
  code: string;
  message?: string;
  field?: string;
}

export interface WireSuccess {
  ok: true;
  [field: string]: unknown;
}

export interface WireFailure {
  ok: false;
  error: WireError;
  eventId?: string;
}

export type WireReply = WireSuccess | WireFailure;

/** Not from the engine: the payload was not a JSON object with `ok`. */
export const UNDECODABLE = "UNDECODABLE";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeReply(data: Uint8Array): WireReply {
  try {
    const v: unknown = JSON.parse(decoder.decode(data));
    if (typeof v === "object" && v !== null && typeof (v as { ok?: unknown }).ok === "boolean") return v as WireReply;
  } catch {
    // fall through: a reply we cannot read is reported, never thrown at the load loop
  }
  return { ok: false, error: { code: UNDECODABLE, message: "reply is not a JSON object with ok" } };
}

/** One NATS request with a JSON body; transport failures (no responders, timeout) become a WireFailure with the nats code. */
export async function requestJson(nc: NatsConnection, subject: string, body: unknown, timeoutMs = 5000): Promise<WireReply> {
  try {
    const msg = await nc.request(subject, encodeJson(body), { timeout: timeoutMs });
    return decodeReply(msg.data);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return { ok: false, error: { code: `NATS_${typeof code === "string" ? code : "ERROR"}`, message: String(err) } };
  }
}

/** The nats.js code for "no responders": the verb is not served at all. */
export const NO_RESPONDERS = "NATS_503";

/** Runs fn over items with at most `concurrency` in flight; resolves when all are done. */
export async function runPool<T>(items: Iterable<T>, concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  const worker = async (): Promise<void> => {
    for (let r = it.next(); !r.done; r = it.next()) await fn(r.value);
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
}
