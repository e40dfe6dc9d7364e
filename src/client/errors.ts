// What a client call throws: one class whose `code` is either the engine's stable error
// code (src/errors.ts) or one of the client's own, for what happened on the way.
import type { ErrorCode } from "../errors.js";

/**
 * The client's own codes: TIMEOUT (no reply in time: the request may or may not have
 * been applied), NO_RESPONDERS (no engine listens on the subject), CONNECTION (the HTTP
 * connection failed or was cut), BAD_REPLY (the reply was not the contract's envelope).
 */
export type TransportCode = "TIMEOUT" | "NO_RESPONDERS" | "CONNECTION" | "BAD_REPLY";
export type ClientErrorCode = ErrorCode | TransportCode;

export const TRANSPORT_CODES: readonly TransportCode[] = ["TIMEOUT", "NO_RESPONDERS", "CONNECTION", "BAD_REPLY"];

/** Marks the errors of any copy of this module (a bundled one, or dist/ beside src/), so that instanceof holds across copies. */
const BRAND = Symbol.for("loyaltyd/client:LoyaltyClientError");

export class LoyaltyClientError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }
  readonly [BRAND] = true;
  override readonly name = "LoyaltyClientError";
  readonly code: ClientErrorCode;
  /** The request field to blame, when the engine named one (`lines[0].qty`). */
  readonly field: string | undefined;
  /** The verb called. */
  readonly verb: string;
  /** How many attempts were made (more than 1 when the retry policy retried). */
  readonly attempts: number;
  /** The request id or event id the attempts carried, if the verb has one. */
  readonly idempotencyKey: string | undefined;
  constructor(init: { code: ClientErrorCode; message: string; field?: string | undefined; verb: string; attempts: number; idempotencyKey?: string | undefined }) {
    super(init.message);
    this.code = init.code;
    this.field = init.field;
    this.verb = init.verb;
    this.attempts = init.attempts;
    this.idempotencyKey = init.idempotencyKey;
  }

  /** True when the engine answered: the code is one of src/errors.ts. */
  get fromEngine(): boolean {
    return !(TRANSPORT_CODES as readonly string[]).includes(this.code);
  }
}

/** Whether a value is a LoyaltyClientError with one of the given codes. */
export function isLoyaltyError<C extends ClientErrorCode>(err: unknown, ...codes: C[]): err is LoyaltyClientError & { code: C } {
  return err instanceof LoyaltyClientError && (codes.length === 0 || (codes as ClientErrorCode[]).includes(err.code));
}
