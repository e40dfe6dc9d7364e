// The shipped dashboard and alerts against Debian's real Prometheus: bursts of rejected
// requests and of server errors (with events left in the dead-letter stream) provoke
// their alerts on an engine under the simulator's and tills' load, and then every PromQL
// expression of the dashboard returns data. Beside the other scenario files.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { line, ROOT, sale } from "../e2e/harness.js";
import { CARDS, every } from "./load.js";
import { useLive } from "./live.js";
import { SCENARIOS } from "./scenarios.js";

describe("Prometheus with the shipped dashboard and alerts: errors", () => {
  const live = useLive({ simRatePerSec: 20, tills: true, warmMs: 2000 });

  it("alerts on a burst of rejected requests", async () => {
    await live().scenario(SCENARIOS.rejections, async () =>
      every(20, async (i) => {
        await live().nc.request("loyalty.rpc.accrue", JSON.stringify({ type: "sale", eventId: `bad-${i}` }), { timeout: 5000 }).catch(() => undefined);
      }),
    );
  }, 180_000);

  it("alerts on server errors, and on events left in the dead-letter stream", async () => {
    const js = live().nc.jetstream();
    await live().scenario(SCENARIOS.serverErrors, async () =>
      every(50, async (i) => {
        const card = CARDS[i % CARDS.length]!;
        await js.publish("loyalty.events.s01", JSON.stringify(sale(`fail-${i}`, { card }, [line("1", 1, 1000)])), { msgID: `fail-${i}` }).catch(() => undefined);
      }),
    );
  }, 180_000);

  it("answers every PromQL expression of the dashboard with data", async () => {
    const dashboard = JSON.parse(readFileSync(join(ROOT, "docs/grafana-dashboard.json"), "utf8"));
    const exprs = dashboardExpressions(dashboard);
    expect(exprs.length).toBeGreaterThan(40);
    const endS = Date.now() / 1000;
    const empty: string[] = [];
    for (const expr of exprs) {
      // As Grafana would send it: every instance, a rate window of four scrapes and more.
      const q = expr.replaceAll("$instance", ".+").replaceAll("$__rate_interval", "5s");
      const result = await live().prom.queryRange(q, live().startedS, endS, 5);
      const hasData = result.some((s) => (s.values ?? []).some(([, v]) => v !== "NaN"));
      if (!hasData) empty.push(expr);
    }
    expect(empty).toEqual([]);
  }, 120_000);
});

/** Every `expr` of the dashboard's panels, rows' panels included. */
function dashboardExpressions(d: { panels: Array<{ panels?: unknown[]; targets?: Array<{ expr?: string }> }> }): string[] {
  const out: string[] = [];
  const walk = (panels: Array<{ panels?: unknown[]; targets?: Array<{ expr?: string }> }>) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push(t.expr);
      if (p.panels) walk(p.panels as typeof panels);
    }
  };
  walk(d.panels);
  return out;
}
