// Bytes -> typed command (or typed error), and reply -> bytes in the request's encoding.
// A payload whose first byte is `{` is JSON; anything else is plain MessagePack.
import { hash } from "node:crypto";
import { Packr, Unpackr } from "msgpackr";
import { LoyaltyError, validationError } from "../errors.js";
import { limits } from "../limits.js";
import { fastValidate } from "./compiled.js";
import { schemaOf, type Verb, type VerbInput } from "./schema.js";

export type Encoding = "json" | "msgpack";

// Plain MessagePack on the wire: no records, no msgpackr extensions.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
const packr = new Packr({ useRecords: false, variableMapSize: true });
const BRACE = 0x7b;

export function encodingOf(bytes: Uint8Array): Encoding {
  return bytes.length > 0 && bytes[0] === BRACE ? "json" : "msgpack";
}

/** Bytes -> plain value. Throws PAYLOAD_TOO_LARGE or BAD_REQUEST. */
export function decodeBytes(bytes: Uint8Array, encoding: Encoding = encodingOf(bytes), bytesMax: number = limits.payloadBytesMax): unknown {
  if (bytes.length > bytesMax) {
    throw new LoyaltyError("PAYLOAD_TOO_LARGE", `payload is ${bytes.length} bytes; the limit is ${bytesMax}`);
  }
  if (bytes.length === 0) throw new LoyaltyError("BAD_REQUEST", "empty payload");
  try {
    if (encoding === "json") return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8"));
    return unpackr.unpack(bytes);
  } catch {
    throw new LoyaltyError("BAD_REQUEST", `payload is not valid ${encoding === "json" ? "JSON" : "MessagePack"}`);
  }
}

export function encodeReply(value: unknown, encoding: Encoding): Uint8Array {
  return encoding === "json" ? Buffer.from(JSON.stringify(value)) : packr.pack(value);
}

/** Plain value -> validated input of the verb. Throws VALIDATION (or LIMIT_EXCEEDED) naming the field. */
export function validate<V extends Verb>(verb: V, value: unknown): VerbInput<V> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new LoyaltyError("BAD_REQUEST", "the payload must be an object");
  }
  // The compiled validator answers valid input; zod decides (and words) everything else.
  const fast = fastValidate(verb, value);
  if (fast !== undefined) return fast as VerbInput<V>;
  const result = schemaOf(verb).safeParse(value);
  if (result.success) return result.data as VerbInput<V>;
  throw validationError(result.error.issues, "payload");
}

/** How far an event's `at` may lie from the engine's clock, ms (config `events.lateMsMax`, `events.futureMsMax`). */
export interface EventTimeWindow {
  lateMsMax: number;
  futureMsMax: number;
}

/**
 * Refuses an event whose `at` lies outside the window around the engine's clock. Rules
 * run at `at`, so a mistyped year would earn under another programme, expire at once or
 * never. Both edges are inside. Pure: the caller passes its own clock.
 */
export function checkEventTime(at: number, now: number, window: EventTimeWindow): void {
  if (at >= now - window.lateMsMax && at <= now + window.futureMsMax) return;
  const offset = at < now ? `${now - at} ms before` : `${at - now} ms after`;
  const accepted = `from ${window.lateMsMax} ms before to ${window.futureMsMax} ms after it`;
  throw new LoyaltyError("VALIDATION", `at: ${offset} the engine's clock; an event is accepted ${accepted}`, "at");
}

/**
 * Content hash for idempotency: same id + same content -> same reply. `scope` (the
 * store of the terminal credential a request came with) is part of the content, so
 * another store's request with the same id and body meets IDEMPOTENCY_CONFLICT, never
 * the stored reply; without a scope the hash is what it always was.
 */
export function contentHash(verb: string, value: unknown, scope: string | null = null): string {
  // The verb is part of the content: a capture and a release with one request id differ.
  const head = scope === null ? verb : `${verb}\n@${scope}`;
  return hash("sha1", `${head}\n${JSON.stringify(value)}`, "base64url");
}
