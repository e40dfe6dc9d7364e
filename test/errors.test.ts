import { describe, expect, it } from "vitest";
import { ERROR_CODES, LoyaltyError, httpStatusOf, toWireError, validationError } from "../src/errors.js";

describe("LoyaltyError", () => {
  it("is a refusal without a stack trace, and leaves other errors theirs", () => {
    const limit = Error.stackTraceLimit;
    const e = new LoyaltyError("OVERLOADED", "partition 0 is 300 ms behind; retry later");
    expect(e).toBeInstanceOf(Error);
    expect(e.message).toBe("partition 0 is 300 ms behind; retry later");
    expect(e.stack ?? "").not.toMatch(/\n\s+at /);
    expect(toWireError(e)).toEqual({ code: "OVERLOADED", message: "partition 0 is 300 ms behind; retry later" });
    expect(new LoyaltyError("VALIDATION", "qty: must be positive", "qty").toWire()).toEqual({ code: "VALIDATION", message: "qty: must be positive", field: "qty" });
    expect(Error.stackTraceLimit).toBe(limit);
    expect(new Error("a fault").stack).toMatch(/\n\s+at /);
  });
});

describe("error codes", () => {
  it("are exactly the contract's stable list", () => {
    expect(Object.keys(ERROR_CODES).sort()).toEqual(
      [
        "BAD_REQUEST", "VALIDATION", "PAYLOAD_TOO_LARGE", "UNKNOWN_CUSTOMER", "UNKNOWN_EVENT", "UNKNOWN_HOLD",
        "CARD_BLOCKED", "IDEMPOTENCY_CONFLICT", "RETURN_EXCEEDS_SALE", "HOLD_EXPIRED", "HOLD_CLOSED",
        "CAPTURE_EXCEEDS_HOLD", "UNAUTHORIZED", "OVERLOADED", "INTERNAL",
        "UNKNOWN_REWARD", "UNKNOWN_OFFER", "UNKNOWN_VOUCHER", "VOUCHER_EXPIRED", "VOUCHER_USED",
        "LIMIT_EXCEEDED", "UNAVAILABLE",
        "FORBIDDEN", "RATE_LIMITED", "UNSUPPORTED_MEDIA_TYPE", "REQUEST_TIMEOUT", "UNKNOWN_APPROVAL", "UNKNOWN_SEGMENT", "UNKNOWN_REPORT",
        "UNKNOWN_MAPPING", "UNKNOWN_IMPORT",
      ].sort(),
    );
  });

  it("answers a business limit with 422 and an engine that cannot commit with 503", () => {
    expect(httpStatusOf("LIMIT_EXCEEDED")).toBe(422);
    expect(httpStatusOf("UNAVAILABLE")).toBe(503);
  });

  it("answers the HTTP hardening codes with their own statuses", () => {
    expect(httpStatusOf("FORBIDDEN")).toBe(403);
    expect(httpStatusOf("RATE_LIMITED")).toBe(429);
    expect(httpStatusOf("UNSUPPORTED_MEDIA_TYPE")).toBe(415);
    expect(httpStatusOf("REQUEST_TIMEOUT")).toBe(408);
    expect(httpStatusOf("UNKNOWN_APPROVAL")).toBe(404);
  });

  it("turns a schema issue marked with limitMax into LIMIT_EXCEEDED naming the field", () => {
    const limit = validationError([{ path: ["lines", 0, "amount"], message: "too much", code: "custom", params: { limitMax: 10 } }], "payload");
    expect(limit.toWire()).toEqual({ code: "LIMIT_EXCEEDED", message: "lines[0].amount: too much", field: "lines[0].amount" });
    const plain = validationError([{ path: ["total"], message: "bad", code: "custom", params: { other: 1 } }], "payload");
    expect(plain.code).toBe("VALIDATION");
  });
});
