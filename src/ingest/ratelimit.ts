// Token buckets in memory, per credential and per client address, for the terminal
// lookups and enrolments (config rateLimits.*). One process, one set of buckets: with
// several instances each enforces its own share.
import { isIP } from "node:net";
import { limits } from "../limits.js";
import type { RateClass } from "../verbs.js";

export interface BucketRate {
  /** Tokens added per minute; 0: this bucket never limits. */
  perMinute: number;
  /** Tokens a bucket holds at most (and starts with). */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets of one rate, by key. Bounded: past `bucketsMax`, idle (full) buckets go first, then the oldest. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    private readonly rate: BucketRate,
    private readonly now: () => number = () => performance.now(),
    private readonly bucketsMax: number = limits.rateBucketsMax,
  ) {
    this.perMs = rate.perMinute / 60_000;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token for `key`: 0 when granted, else the ms until one is there. */
  take(key: string): number {
    if (this.rate.perMinute === 0) return 0;
    const t = this.now();
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.bucketsMax) this.evict(t);
      b = { tokens: this.rate.burst, at: t };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.rate.burst, b.tokens + (t - b.at) * this.perMs);
      b.at = t;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / this.perMs);
  }

  /** Gives back a token taken for a request that another bucket then refused. */
  refund(key: string): void {
    const b = this.buckets.get(key);
    if (b) b.tokens = Math.min(this.rate.burst, b.tokens + 1);
  }

  private evict(t: number): void {
    // A bucket that has refilled carries no history: dropping it changes nothing.
    for (const [key, b] of this.buckets) {
      if (b.tokens + (t - b.at) * this.perMs >= this.rate.burst) this.buckets.delete(key);
    }
    // Every bucket busy (many addresses at once): the oldest tenth goes, so eviction stays rare.
    if (this.buckets.size < this.bucketsMax) return;
    let drop = Math.max(1, Math.floor(this.bucketsMax / 10));
    for (const key of this.buckets.keys()) {
      if (drop-- === 0) break;
      this.buckets.delete(key);
    }
  }
}

export interface RateLimitConfig {
  exemptLoopback: boolean;
  credential: { lookupsPerMinute: number; lookupBurst: number; enrolmentsPerMinute: number; enrolmentBurst: number };
  ip: { lookupsPerMinute: number; lookupBurst: number; enrolmentsPerMinute: number; enrolmentBurst: number };
}

type Limited = Exclude<RateClass, null>;

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(address: string): boolean {
  const a = address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  return a === "::1" || (isIP(a) === 4 && a.startsWith("127."));
}

/** The terminal routes' limiter: a request draws a token from its credential's bucket and its address's. */
export class RateLimiter {
  private readonly byCredential: Record<Limited, TokenBuckets>;
  private readonly byIp: Record<Limited, TokenBuckets>;

  constructor(
    private readonly config: RateLimitConfig,
    now?: () => number,
  ) {
    const pair = (c: RateLimitConfig["ip"]): Record<Limited, TokenBuckets> => ({
      lookup: new TokenBuckets({ perMinute: c.lookupsPerMinute, burst: c.lookupBurst }, now),
      enrolment: new TokenBuckets({ perMinute: c.enrolmentsPerMinute, burst: c.enrolmentBurst }, now),
    });
    this.byCredential = pair(config.credential);
    this.byIp = pair(config.ip);
  }

  /** 0 when the request may go on, else the ms until it could (for Retry-After). */
  take(rateClass: RateClass, credentialId: string | null, ip: string): number {
    if (rateClass === null) return 0;
    const creds = this.byCredential[rateClass];
    if (credentialId !== null) {
      const wait = creds.take(credentialId);
      if (wait > 0) return wait;
    }
    if (this.config.exemptLoopback && isLoopback(ip)) return 0;
    const wait = this.byIp[rateClass].take(ip);
    if (wait > 0 && credentialId !== null) creds.refund(credentialId);
    return wait;
  }
}
