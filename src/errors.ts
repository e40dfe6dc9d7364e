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
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface WireError {
  code: ErrorCode;
  message: string;
  field?: string;
}

/** An operating error: bad input or a refused operation. Becomes a typed reply, never a crash. */
export class LoyaltyError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  constructor(code: ErrorCode, message?: string, field?: string) {
    super(message ?? ERROR_CODES[code].message);
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
