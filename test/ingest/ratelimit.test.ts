// Token buckets: a burst, then one token per refill interval; loopback exempt from the
// per-address buckets only; bounded memory.
import { describe, expect, it } from "vitest";
import { RateLimiter, TokenBuckets, isLoopback } from "../../src/ingest/ratelimit.js";

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("token buckets", () => {
  it("grants a burst, then refuses with the wait until the next token", () => {
    const c = clock();
    const b = new TokenBuckets({ perMinute: 60, burst: 3 }, c.now);
    expect([b.take("k"), b.take("k"), b.take("k")]).toEqual([0, 0, 0]);
    expect(b.take("k")).toBe(1000);
    c.advance(400);
    expect(b.take("k")).toBe(600);
    c.advance(600);
    expect(b.take("k")).toBe(0);
    expect(b.take("other")).toBe(0);
  });

  it("refills to the burst at most", () => {
    const c = clock();
    const b = new TokenBuckets({ perMinute: 600, burst: 2 }, c.now);
    b.take("k");
    b.take("k");
    c.advance(3_600_000);
    expect([b.take("k"), b.take("k"), b.take("k")]).toEqual([0, 0, 100]);
  });

  it("never limits at 0 per minute", () => {
    const b = new TokenBuckets({ perMinute: 0, burst: 1 }, clock().now);
    for (let i = 0; i < 100; i++) expect(b.take("k")).toBe(0);
    expect(b.size).toBe(0);
  });

  it("keeps at most its bound of buckets, dropping idle ones first", () => {
    const c = clock();
    const b = new TokenBuckets({ perMinute: 60, burst: 1 }, c.now, 10);
    for (let i = 0; i < 10; i++) b.take(`ip${i}`);
    expect(b.size).toBe(10);
    // Every bucket empty: the oldest tenth goes.
    b.take("new");
    expect(b.size).toBe(10);
    expect(b.take("ip0")).toBe(0);
    c.advance(60_000);
    // Every bucket full again: all are idle and dropped.
    b.take("newer");
    expect(b.size).toBe(1);
  });
});

describe("rate limiter", () => {
  const rates = { lookupsPerMinute: 60, lookupBurst: 2, enrolmentsPerMinute: 60, enrolmentBurst: 1 };

  it("limits each credential and each address, and lets verbs without a class through", () => {
    const c = clock();
    const r = new RateLimiter({ exemptLoopback: false, credential: rates, ip: { ...rates, lookupBurst: 3 } }, c.now);
    expect(r.take("lookup", "s01", "10.0.0.1")).toBe(0);
    expect(r.take("lookup", "s01", "10.0.0.1")).toBe(0);
    expect(r.take("lookup", "s01", "10.0.0.1")).toBeGreaterThan(0);
    // Another credential from the same address: its own bucket, the address's third token.
    expect(r.take("lookup", "s02", "10.0.0.1")).toBe(0);
    expect(r.take("lookup", "s03", "10.0.0.1")).toBeGreaterThan(0);
    // The address refused it: s03's token is given back.
    expect(r.take("lookup", "s03", "10.0.0.2")).toBe(0);
    expect(r.take("lookup", "s03", "10.0.0.2")).toBe(0);
    // Enrolments have their own buckets; capture and release none.
    expect(r.take("enrolment", "s01", "10.0.0.3")).toBe(0);
    expect(r.take("enrolment", "s01", "10.0.0.3")).toBeGreaterThan(0);
    for (let i = 0; i < 10; i++) expect(r.take(null, "s01", "10.0.0.1")).toBe(0);
  });

  it("exempts loopback from the address buckets only", () => {
    const r = new RateLimiter({ exemptLoopback: true, credential: rates, ip: rates }, clock().now);
    for (let i = 0; i < 10; i++) expect(r.take("lookup", null, "127.0.0.1")).toBe(0);
    expect(r.take("lookup", "s01", "::1")).toBe(0);
    expect(r.take("lookup", "s01", "::1")).toBe(0);
    expect(r.take("lookup", "s01", "::1")).toBeGreaterThan(0);
  });

  it("knows loopback addresses", () => {
    expect(["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"].map(isLoopback)).toEqual([true, true, true, true]);
    expect(["10.0.0.1", "::ffff:10.0.0.1", "128.0.0.1", "::2", "fe80::1"].map(isLoopback)).toEqual([false, false, false, false, false]);
  });
});
