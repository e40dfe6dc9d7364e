// The metric names the docs, the alert rules and the dashboard use are the ones the engine
// exports: each is pinned against a live engine's /metrics.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startTestEnv, type TestEnv } from "./harness.js";

/** Metric families in Prometheus text: each name with its histogram/summary suffixes too. */
function exported(text: string): Set<string> {
  const names = new Set<string>();
  for (const l of text.split("\n")) {
    const m = /^# TYPE (\S+) (\S+)/.exec(l);
    if (!m) continue;
    names.add(m[1]!);
    if (m[2] === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(m[1]! + s);
  }
  return names;
}

/** Every loyalty_* name in a text, recording-rule names (loyalty:…) aside. */
function used(text: string): string[] {
  return [...new Set(text.match(/\bloyalty_[a-z0-9_]+\b/g) ?? [])];
}

describe("metric names", () => {
  let t: TestEnv;
  let names: Set<string>;
  beforeAll(async () => {
    t = await startTestEnv({ partitions: 2 });
    names = exported(await (await fetch(`${t.http}/metrics`)).text());
  });
  afterAll(async () => t?.stop());

  it("exports every metric the alert rules and the dashboard query", () => {
    for (const file of ["config/prometheus/alerts.yml", "docs/grafana-dashboard.json"]) {
      const missing = used(readFileSync(join(ROOT, file), "utf8")).filter((n) => !names.has(n));
      expect(missing, file).toEqual([]);
    }
  });

  it("exports every metric of the table in docs/operations.md", () => {
    const ops = readFileSync(join(ROOT, "docs/operations.md"), "utf8");
    const table = ops.slice(ops.indexOf("## Metrics"), ops.indexOf("### Example PromQL"));
    const rows = [...table.matchAll(/^\| `(loyalty_[a-z0-9_]+)`/gm)].map((m) => m[1]!);
    expect(rows.length).toBeGreaterThan(30);
    expect(rows.filter((n) => !names.has(n))).toEqual([]);
    // And the other way: nothing exported by the engine itself goes undocumented.
    const own = [...names].filter((n) => !/^loyalty_(process|nodejs)_/.test(n) && !/_(bucket|sum|count)$/.test(n));
    expect(own.filter((n) => !rows.includes(n))).toEqual([]);
  });
});
