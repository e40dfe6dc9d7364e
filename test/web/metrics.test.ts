// The console's Live page reads the engine's /metrics text; the demo's screen reads the same
// registry in process. For any mix of observations both must come to the same Sample, so
// the two screens (and the dashboard, which uses the same buckets) agree.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sampleMetrics } from "../../src/demo/status.js";
import { createMetrics } from "../../src/observe/metrics.js";
import { parseMetrics, sampleOf } from "../../web/console/src/metrics.js";

const CODES = ["VALIDATION", "UNKNOWN_CUSTOMER", "OVERLOADED", "BAD_REQUEST"] as const;
const VERBS = ["authorize", "balance", "quote"] as const;
const MOVEMENTS = ["earned", "taken_back", "redeemed"] as const;
const seconds = fc.double({ min: 0, max: 8, noNaN: true });

const observation = fc.oneof(
  fc.record({ kind: fc.constant("event" as const), source: fc.constantFrom("rpc", "http", "stream"), outcome: fc.constantFrom("ok", "duplicate", ...CODES), n: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ kind: fc.constant("rejected" as const), source: fc.constantFrom("rpc", "http"), code: fc.constantFrom(...CODES), n: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ kind: fc.constant("points" as const), movement: fc.constantFrom(...MOVEMENTS), n: fc.integer({ min: 1, max: 100_000 }) }),
  fc.record({ kind: fc.constant("stream" as const), s: seconds }),
  fc.record({ kind: fc.constant("request" as const), source: fc.constantFrom("rpc", "http"), verb: fc.constantFrom(...VERBS), s: seconds }),
  fc.record({ kind: fc.constant("lag" as const), pending: fc.nat(100_000), ack: fc.nat(1000) }),
);

describe("the console's reading of /metrics", () => {
  it("comes to the demo's Sample for any observations", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { maxLength: 60 }), async (obs) => {
        const m = createMetrics();
        for (const o of obs) {
          if (o.kind === "event") m.events.labels(o.source, "sale", o.outcome).inc(o.n);
          else if (o.kind === "rejected") m.rejected.labels(o.source, o.code).inc(o.n);
          else if (o.kind === "points") m.points.labels(o.movement).inc(o.n);
          else if (o.kind === "stream") m.streamDuration.observe(o.s);
          else if (o.kind === "request") m.requestDuration.labels(o.source, o.verb).observe(o.s);
          else {
            m.consumerLag.set(o.pending);
            m.consumerAckPending.set(o.ack);
          }
        }
        const text = await m.text();
        expect(sampleOf(parseMetrics(text), 1000)).toEqual(await sampleMetrics(m, 1000));
      }),
      { numRuns: 60 },
    );
  });

  it("reads label values with escaped quotes and backslashes, and skips comments", () => {
    const values = parseMetrics('# HELP x a help\n# TYPE x counter\nx{a="q\\"uote",b="back\\\\slash",c="two\\nlines"} 3\ny 4.5\n\n');
    expect(values).toEqual([
      { metricName: "x", labels: { a: 'q"uote', b: "back\\slash", c: "two\nlines" }, value: 3 },
      { metricName: "y", labels: {}, value: 4.5 },
    ]);
  });
});
