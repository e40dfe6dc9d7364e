// Every error code of the wire contract, in one place. The code is the API; the
// message is for humans. test/errors.test.ts pins this list so a code never changes.

export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, message: "the request could not be decoded" },
  VALIDATION: { status: 422, message: "a field is invalid" },
  PAYLOAD_TOO_LARGE: { status: 413, message: "the payload exceeds the size limit" },
  UNKNOWN_CUSTOMER: { status: 404, message: "no such customer" },
  UNKNOWN_EVENT: { status: 404, message: "no such event" },
  UNKNOWN_HOLD: { status: 404, message: "no such hold" },
  CARD_BLOCKED: { status: 403, message: "the card is blocked" },
  IDEMPOTENCY_CONFLICT: { status: 409, message: "the id was already used with other content" },
  RETURN_EXCEEDS_SALE: { status: 409, message: "the return exceeds what was sold" },
  HOLD_EXPIRED: { status: 409, message: "the hold has expired" },
  HOLD_CLOSED: { status: 409, message: "the hold is already captured or released" },
  CAPTURE_EXCEEDS_HOLD: { status: 409, message: "the capture exceeds the held amount" },
  UNAUTHORIZED: { status: 401, message: "missing or wrong bearer token" },
  OVERLOADED: { status: 503, message: "the engine is at capacity; retry later" },
  INTERNAL: { status: 500, message: "internal error" },
  UNKNOWN_REWARD: { status: 404, message: "no such reward" },
  UNKNOWN_OFFER: { status: 404, message: "no such voucher offer" },
  UNKNOWN_VOUCHER: { status: 404, message: "no such voucher" },
  VOUCHER_EXPIRED: { status: 409, message: "the voucher has expired" },
  VOUCHER_USED: { status: 409, message: "the voucher was already used" },
  LIMIT_EXCEEDED: { status: 422, message: "a business limit on an amount or a balance was exceeded" },
  UNAVAILABLE: { status: 503, message: "the engine cannot commit now; retry later" },
  FORBIDDEN: { status: 403, message: "the credential may not do this" },
  RATE_LIMITED: { status: 429, message: "too many requests from this credential or address; retry later" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "the body must be application/json" },
  REQUEST_TIMEOUT: { status: 408, message: "the request was not received in time" },
  UNKNOWN_APPROVAL: { status: 404, message: "no such pending approval" },
  UNKNOWN_SEGMENT: { status: 404, message: "no such segment" },
  UNKNOWN_REPORT: { status: 404, message: "no such sales report" },
  UNKNOWN_MAPPING: { status: 404, message: "no such import mapping" },
  UNKNOWN_IMPORT: { status: 404, message: "no such import" },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface WireError {
  code: ErrorCode;
  message: string;
  field?: string;
}

/** An operating error: bad input or a refused operation. Becomes a typed reply, never a crash. */
/** How an UNAVAILABLE refusal of the storage (disk full) begins: the one kind that says the engine is not ready (observe/storage.ts). */
const STORAGE_REFUSED = "the ledger cannot write now";

/** The ledger's storage refused a commit: UNAVAILABLE, to be retried. */
export function storageRefusal(detail?: string): LoyaltyError {
  return new LoyaltyError("UNAVAILABLE", `${STORAGE_REFUSED}${detail ? ` (${detail})` : ""}; retry later`);
}

/** Whether a refusal is the storage's (others are UNAVAILABLE too: a cluster partition being taken over). */
export function refusedByStorage(e: WireError): boolean {
  return e.code === "UNAVAILABLE" && e.message.startsWith(STORAGE_REFUSED);
}

/**
 * A refusal with its stable code: an answer the engine gives, not a fault in it, so it
 * carries no stack trace (none is ever logged: only other throwables' stacks are, as
 * INTERNAL). Walking the stack was half the main thread's cost of refusing a request with
 * OVERLOADED while shedding load (bench/RESULTS.md, 2026-12-01).
 */
export class LoyaltyError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  constructor(code: ErrorCode, message?: string, field?: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message ?? ERROR_CODES[code].message);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.code = code;
    this.field = field;
  }
  toWire(): WireError {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/** Any thrown value -> wire error; unknown throwables are INTERNAL (their text stays in the log). */
export function toWireError(err: unknown): WireError {
  if (err instanceof LoyaltyError) return err.toWire();
  return { code: "INTERNAL", message: ERROR_CODES.INTERNAL.message };
}

export function failure(err: WireError): { ok: false; error: WireError } {
  return { ok: false, error: err };
}

/** What a schema library reports of one problem (zod's issues have this shape). */
export interface SchemaIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly code?: string;
  readonly keys?: readonly string[];
  /** Custom issues carry their own params; `limitMax` marks a business bound (see LIMIT_PARAM). */
  readonly params?: Readonly<Record<string, unknown>>;
}

/**
 * The param that marks a schema issue as a business bound. A value beyond it is
 * well-formed but too large for the business (LIMIT_EXCEEDED), not malformed (VALIDATION).
 */
export const LIMIT_PARAM = "limitMax";

export function isLimitIssue(issue: SchemaIssue): boolean {
  return typeof issue.params?.[LIMIT_PARAM] === "number";
}

/** ["rules", 2, "per"] -> "rules[2].per" */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

/**
 * A schema's failure -> VALIDATION (or LIMIT_EXCEEDED for a marked bound) naming the field.
 * A typo shows up twice (an unknown key and a missing one): the unknown key is named, as
 * it is the cause, by its own path.
 */
export function validationError(issues: readonly SchemaIssue[], what: string, prefix = ""): LoyaltyError {
  const issue = issues.find((i) => i.code === "unrecognized_keys") ?? issues[0];
  if (!issue) return new LoyaltyError("VALIDATION", `${prefix}invalid ${what}`);
  const unknown = issue.keys?.[0];
  const field = fieldPath(unknown === undefined ? issue.path : [...issue.path, unknown]) || `(${what})`;
  const detail = issue.message.endsWith("received undefined") ? "is required" : issue.message;
  const message = unknown !== undefined ? `unknown field ${field}` : `${field}: ${detail}`;
  return new LoyaltyError(isLimitIssue(issue) ? "LIMIT_EXCEEDED" : "VALIDATION", prefix + message, field);
}
