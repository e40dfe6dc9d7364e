// The demo's figures: quantiles as Prometheus's histogram_quantile computes them, rates
// over a window, and samples read from a real metrics registry.
import { describe, expect, it } from "vitest";
import { createMetrics } from "../../src/observe/metrics.js";
import { SampleWindow, bucketsDelta, bucketsOf, figuresOf, quantile, sampleMetrics, type Buckets, type Sample } from "../../src/demo/status.js";

const b = (le: number[], cumulative: number[]): Buckets => ({ le, cumulative });

describe("quantile", () => {
  // Each row worked by hand from the histogram_quantile rule: rank = q x count, linear inside the bucket.
  const rows: [string, number, Buckets, number | null][] = [
    ["empty histogram", 0.5, b([], []), null],
    ["no observations", 0.5, b([1, Infinity], [0, 0]), null],
    ["all in the first bucket: from 0", 0.5, b([1, 2, Infinity], [10, 10, 10]), 0.5],
    ["p99 of the first bucket", 0.99, b([1, 2, Infinity], [10, 10, 10]), 0.99],
    ["the middle bucket", 0.5, b([1, 2, 4, Infinity], [2, 6, 10, 10]), 1.75],
    ["rank on a bucket's edge stays in it", 0.2, b([1, 2, Infinity], [2, 10, 10]), 1],
    ["in +Inf: the highest finite bound", 0.99, b([1, 2, Infinity], [1, 2, 100]), 2],
    ["only +Inf", 0.5, b([Infinity], [5]), null],
    ["empty buckets skipped", 0.5, b([1, 2, 3, Infinity], [0, 0, 4, 4]), 2.5],
  ];
  it.each(rows)("%s", (_name, q, buckets, want) => {
    const got = quantile(q, buckets);
    if (want === null) expect(got).toBeNull();
    else expect(got).toBeCloseTo(want, 9);
  });

  it("never decreases with q and stays within the bounds", () => {
    const h = b([0.001, 0.005, 0.01, 0.05, Infinity], [3, 40, 41, 90, 92]);
    let prev = 0;
    for (let q = 0.01; q < 1; q += 0.01) {
      const v = quantile(q, h)!;
      expect(v).toBeGreaterThanOrEqual(prev);
      expect(v).toBeLessThanOrEqual(0.05);
      prev = v;
    }
  });
});

describe("bucketsOf and bucketsDelta", () => {
  it("sums the chosen label sets per bound, +Inf last, ignoring _sum and _count", () => {
    const values = [
      { metricName: "x_bucket", labels: { le: 0.1, verb: "authorize", source: "rpc" }, value: 2 },
      { metricName: "x_bucket", labels: { le: "+Inf", verb: "authorize", source: "rpc" }, value: 3 },
      { metricName: "x_bucket", labels: { le: 0.1, verb: "authorize", source: "http" }, value: 1 },
      { metricName: "x_bucket", labels: { le: "+Inf", verb: "authorize", source: "http" }, value: 1 },
      { metricName: "x_bucket", labels: { le: 0.1, verb: "balance", source: "rpc" }, value: 50 },
      { metricName: "x_sum", labels: { verb: "authorize" }, value: 9 },
      { metricName: "x_count", labels: { verb: "authorize" }, value: 4 },
    ];
    expect(bucketsOf(values, (l) => l.verb === "authorize")).toEqual({ le: [0.1, Infinity], cumulative: [3, 4] });
  });

  it("subtracts bound by bound", () => {
    expect(bucketsDelta(b([1, Infinity], [5, 9]), b([1, Infinity], [2, 3]))).toEqual(b([1, Infinity], [3, 6]));
  });
});

function sample(atMs: number, over: Partial<Sample> = {}): Sample {
  const empty = b([0.01, Infinity], [0, 0]);
  return { atMs, events: 0, rejected: {}, points: { earned: 0, takenBack: 0, redeemed: 0 }, accrual: empty, authorize: empty, lagMessages: 0, ackPending: 0, ...over };
}

describe("figuresOf", () => {
  it("gives rates over the window, totals since the start, and the window's error codes most frequent first", () => {
    const f = figuresOf(
      sample(12_000, { events: 1500, rejected: { VALIDATION: 7, OVERLOADED: 20, UNKNOWN_HOLD: 1 }, authorize: b([0.01, Infinity], [40, 40]) }),
      sample(2_000, { events: 500, rejected: { VALIDATION: 2, OVERLOADED: 20 }, authorize: b([0.01, Infinity], [20, 20]) }),
    );
    expect(f.windowSec).toBe(10);
    expect(f.eventsPerSec).toBe(100);
    expect(f.eventsTotal).toBe(1500);
    expect(f.errorsTotal).toBe(28);
    expect(f.errorsPerSec).toBeCloseTo(0.6, 9);
    expect(f.errorCodes).toEqual([["VALIDATION", 5], ["UNKNOWN_HOLD", 1]]);
    expect(f.authorize.count).toBe(20);
    expect(f.authorize.p50).toBeCloseTo(0.005, 9);
    expect(f.accrual).toEqual({ p50: null, p99: null, count: 0 });
  });
});

describe("SampleWindow", () => {
  it("compares each sample with the last one at least the window old", () => {
    const w = new SampleWindow(10_000);
    expect(w.push(sample(0, { events: 0 }))).toBeNull();
    for (let t = 1000; t <= 30_000; t += 1000) {
      const f = w.push(sample(t, { events: t / 10 }))!;
      expect(f.windowSec).toBe(Math.min(10, t / 1000));
      expect(f.eventsPerSec).toBeCloseTo(100, 9);
    }
  });
});

describe("sampleMetrics", () => {
  it("reads events, refusals by code, points, both latency histograms and the lag from the registry", async () => {
    const m = createMetrics();
    m.events.labels("stream", "sale", "ok").inc(7);
    m.events.labels("rpc", "authorize", "ok").inc(2);
    m.rejected.labels("rpc", "VALIDATION").inc(3);
    m.rejected.labels("http", "VALIDATION").inc(1);
    m.points.labels("earned").inc(120);
    m.points.labels("redeemed").inc(15);
    m.streamDuration.observe(0.004);
    m.requestDuration.labels("rpc", "authorize").observe(0.0007);
    m.requestDuration.labels("http", "authorize").observe(0.0015);
    m.requestDuration.labels("rpc", "balance").observe(3);
    m.consumerLag.set(12);
    m.consumerAckPending.set(4);
    const s = await sampleMetrics(m, 42);
    expect(s.atMs).toBe(42);
    expect(s.events).toBe(9);
    expect(s.rejected).toEqual({ VALIDATION: 4 });
    expect(s.points).toEqual({ earned: 120, takenBack: 0, redeemed: 15 });
    expect(s.accrual.cumulative.at(-1)).toBe(1);
    expect(s.authorize.cumulative.at(-1)).toBe(2);
    expect(quantile(0.5, s.authorize)).toBeLessThanOrEqual(0.001);
    expect(s.lagMessages).toBe(12);
    expect(s.ackPending).toBe(4);
  });
});
