import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors.js";

describe("error codes", () => {
  it("are exactly the contract's stable list", () => {
    expect(Object.keys(ERROR_CODES).sort()).toEqual(
      [
        "BAD_REQUEST", "VALIDATION", "PAYLOAD_TOO_LARGE", "UNKNOWN_CUSTOMER", "UNKNOWN_EVENT", "UNKNOWN_HOLD",
        "CARD_BLOCKED", "IDEMPOTENCY_CONFLICT", "RETURN_EXCEEDS_SALE", "HOLD_EXPIRED", "HOLD_CLOSED",
        "CAPTURE_EXCEEDS_HOLD", "UNAUTHORIZED", "OVERLOADED", "INTERNAL",
        "UNKNOWN_REWARD", "UNKNOWN_OFFER", "UNKNOWN_VOUCHER", "VOUCHER_EXPIRED", "VOUCHER_USED",
      ].sort(),
    );
  });
});
