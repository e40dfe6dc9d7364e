// The identity directory's names and records (pure): which subject of LOYALTY_IDENTITY
// holds a card, phone or loyalty id, and what its last message says about the owner.
// directory.ts does the I/O; docs/operations.md, Scale-out, describes the stream.
import { z } from "zod";
import { id } from "../codec/primitives.js";

export const IDENTITY_STREAM = "LOYALTY_IDENTITY";
export const IDENTITY_SUBJECT_PREFIX = "loyalty.identity";

/**
 * "voucher": a voucher code -> the customer it was issued to (its partition serves its
 * redemption). "customer": a customer merged into one of another partition -> the
 * survivor (cluster/merge.ts), the cluster's `aliases`.
 */
export const IDENTITY_KINDS = ["card", "phone", "loyaltyId", "voucher", "customer"] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

/** Bytes a subject token keeps as they are; every other UTF-8 byte becomes %XX. */
const PLAIN = /^[A-Za-z0-9_-]$/;
/** The characters encodeURIComponent leaves alone that a subject token must not carry as they are ('.', '*') or that we escape to keep one canonical form. */
const URI_EXTRA = /[.!~*'()]/g;

/**
 * A value (1-128 printable characters, validated before) -> one subject token: the
 * percent-encoding of its UTF-8 bytes with every byte outside A-Z a-z 0-9 '_' '-'
 * escaped as %XX (upper-case hex). So '.', ' ', '*', '>' and every non-ASCII
 * character are escaped, the token is never empty, never a wildcard, and two values
 * never share one. A card "4111 1111" is `4111%201111`; "zażółć" is `za%C5%BC%C3%B3%C5%82%C4%87`.
 */
export function encodeToken(value: string): string {
  return encodeURIComponent(value).replace(URI_EXTRA, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A token -> its value, or null when it is not the canonical encoding of a value (a message someone else wrote). */
export function decodeToken(token: string): string | null {
  let value: string;
  try {
    value = decodeURIComponent(token);
  } catch {
    return null;
  }
  return encodeToken(value) === token && id.safeParse(value).success ? value : null;
}

/** Whether a character stays as it is in a token (exported for the tests' exhaustive check). */
export const isPlain = (c: string): boolean => PLAIN.test(c);

export const identitySubject = (kind: IdentityKind, value: string): string => `${IDENTITY_SUBJECT_PREFIX}.${kind}.${encodeToken(value)}`;

/** A subject of the stream -> the key it holds, or null when it is none of ours. */
export function parseIdentitySubject(subject: string): { kind: IdentityKind; value: string } | null {
  const prefix = `${IDENTITY_SUBJECT_PREFIX}.`;
  if (!subject.startsWith(prefix)) return null;
  const rest = subject.slice(prefix.length);
  const dot = rest.indexOf(".");
  if (dot < 0) return null;
  const kind = rest.slice(0, dot);
  if (!(IDENTITY_KINDS as readonly string[]).includes(kind)) return null;
  const value = decodeToken(rest.slice(dot + 1));
  return value === null ? null : { kind: kind as IdentityKind, value };
}

/**
 * One message of the stream: the key's state after it. `owner` null is a release.
 * `by` is the customer who acted (the claimer, the releasing holder, a move's source).
 */
const identityRecord = z.object({
  op: z.enum(["claim", "release", "move"]),
  owner: id.nullable(),
  by: id,
  at: z.number().int().min(0),
});
export type IdentityRecord = z.infer<typeof identityRecord>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const encodeIdentityRecord = (r: IdentityRecord): Uint8Array => encoder.encode(JSON.stringify(r));

/** Validated when read: another version may have written it. Null when unreadable. */
export function decodeIdentityRecord(data: Uint8Array): IdentityRecord | null {
  try {
    const r = identityRecord.safeParse(JSON.parse(decoder.decode(data)));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}
