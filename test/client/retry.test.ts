// The client's retry policy: which codes are retried, how long it waits, and which
// policies it refuses. Pure.
import { describe, expect, it } from "vitest";
import { TRANSPORT_CODES } from "../../src/client/errors.js";
import { RETRY_DEFAULT, RETRY_NONE, retryDelayMs, retryPolicyOf, shouldRetry } from "../../src/client/retry.js";
import { ERROR_CODES, type ErrorCode } from "../../src/errors.js";

describe("the client's retry policy", () => {
  it("retries what asks to come back later or never arrived, and nothing that is an answer", () => {
    const retried = [...(Object.keys(ERROR_CODES) as ErrorCode[]), ...TRANSPORT_CODES].filter((c) => shouldRetry(c, 1, RETRY_DEFAULT));
    expect(retried.sort()).toEqual(["CONNECTION", "NO_RESPONDERS", "OVERLOADED", "TIMEOUT", "UNAVAILABLE"]);
    // BAD_REPLY is a broken peer, not a lost one; RATE_LIMITED and the rest are answers.
    expect(shouldRetry("BAD_REPLY", 1, RETRY_DEFAULT)).toBe(false);
    expect(shouldRetry("IDEMPOTENCY_CONFLICT", 1, RETRY_DEFAULT)).toBe(false);
  });

  it("stops after attemptsMax attempts in all", () => {
    const attempts = Array.from({ length: 10 }, (_, i) => i + 1).filter((a) => shouldRetry("OVERLOADED", a, RETRY_DEFAULT));
    expect(attempts).toEqual([1, 2, 3]);
    expect(shouldRetry("OVERLOADED", 1, RETRY_NONE)).toBe(false);
    expect(retryPolicyOf(false)).toEqual(RETRY_NONE);
  });

  it("waits between half and all of a doubling, capped ceiling", () => {
    const p = { ...RETRY_DEFAULT, delayMsBase: 40, delayMsMax: 200 };
    const ceilings = [40, 80, 160, 200, 200];
    ceilings.forEach((ceiling, i) => {
      expect(retryDelayMs(i + 1, p, 0)).toBe(ceiling / 2);
      expect(retryDelayMs(i + 1, p, 0.999999)).toBeCloseTo(ceiling, 3);
      const mid = retryDelayMs(i + 1, p, 0.5);
      expect(mid).toBeGreaterThanOrEqual(ceiling / 2);
      expect(mid).toBeLessThanOrEqual(ceiling);
    });
  });

  it("refuses a policy that cannot work", () => {
    expect(() => retryPolicyOf({ attemptsMax: 0 })).toThrow(/attemptsMax/);
    expect(() => retryPolicyOf({ attemptsMax: 2.5 })).toThrow(/attemptsMax/);
    expect(() => retryPolicyOf({ delayMsBase: 100, delayMsMax: 10 })).toThrow(/delayMs/);
    expect(retryPolicyOf({ attemptsMax: 2 })).toEqual({ ...RETRY_DEFAULT, attemptsMax: 2 });
  });
});
