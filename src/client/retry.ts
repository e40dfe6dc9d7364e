// When a failed call is sent again, and after how long. Retrying is safe because every
// attempt of a call carries the same request id (or event id): the engine applies the
// first one that reaches it and answers the others with its first reply, `duplicate: true`.
import type { ClientErrorCode } from "./errors.js";

export interface RetryPolicy {
  /** Attempts in all, the first one included; 1 = never retry. */
  attemptsMax: number;
  /** The wait before the first retry; it doubles for each further one. */
  delayMsBase: number;
  delayMsMax: number;
  /** The codes that are worth another attempt. */
  retryOn: readonly ClientErrorCode[];
}

/**
 * OVERLOADED and UNAVAILABLE are the engine asking to come back later; TIMEOUT,
 * NO_RESPONDERS and CONNECTION mean the reply (or the engine) was not reached. Every
 * other code is an answer: sending the same request again gets the same answer.
 */
export const RETRY_ON_DEFAULT: readonly ClientErrorCode[] = ["OVERLOADED", "UNAVAILABLE", "TIMEOUT", "NO_RESPONDERS", "CONNECTION"];

export const RETRY_DEFAULT: RetryPolicy = { attemptsMax: 4, delayMsBase: 50, delayMsMax: 1000, retryOn: RETRY_ON_DEFAULT };

/** No retries: for load generators, which count refusals instead of smoothing them away. */
export const RETRY_NONE: RetryPolicy = { ...RETRY_DEFAULT, attemptsMax: 1 };

export function retryPolicyOf(given: Partial<RetryPolicy> | false | undefined): RetryPolicy {
  if (given === false) return RETRY_NONE;
  const p = { ...RETRY_DEFAULT, ...given };
  if (!Number.isInteger(p.attemptsMax) || p.attemptsMax < 1) throw new RangeError(`retry.attemptsMax must be an integer >= 1 (got ${p.attemptsMax})`);
  if (!(p.delayMsBase >= 0) || !(p.delayMsMax >= p.delayMsBase)) throw new RangeError("retry: need 0 <= delayMsBase <= delayMsMax");
  return p;
}

/**
 * The wait before retry number `retry` (1 for the first): exponential, capped, with
 * "equal jitter" (half fixed, half random) so that many tills told OVERLOADED at once
 * do not come back in step. `random` is in [0, 1).
 */
export function retryDelayMs(retry: number, policy: RetryPolicy, random: number): number {
  const ceiling = Math.min(policy.delayMsMax, policy.delayMsBase * 2 ** (retry - 1));
  return ceiling / 2 + (ceiling / 2) * random;
}

export function shouldRetry(code: ClientErrorCode, attempt: number, policy: RetryPolicy): boolean {
  return attempt < policy.attemptsMax && policy.retryOn.includes(code);
}
