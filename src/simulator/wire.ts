// The simulator's side of the wire: JSON encode/decode of stream events and results, and
// a bounded-concurrency pool. Shared by the demo simulator and bench/. Verbs go through
// loyaltyd/client (src/client/).

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

/** Runs fn over items with at most `concurrency` in flight; resolves when all are done. */
export async function runPool<T>(items: Iterable<T>, concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  const worker = async (): Promise<void> => {
    for (let r = it.next(); !r.done; r = it.next()) await fn(r.value);
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
}
