// The shipped alerts against Debian's real Prometheus, under normal load: a live engine
// (its own process, on a real nats-server) fed by the POS simulator plus tills
// authorizing and accruing fires no alert, and Prometheus evaluates every rule without
// an error. It runs alone, before the scenario files (vitest.prometheus.config.ts):
// latency objectives judged on a host that other engines load would fail for real.
// `npm run test:prometheus`.
import { cpus, loadavg } from "node:os";
import { describe, expect, it } from "vitest";
import { sleep, useLive } from "./live.js";

describe("Prometheus with the shipped config, dashboard and alerts, under normal load", () => {
  const live = useLive({ simRatePerSec: 60, tills: true, warmMs: 10_000 });

  it("fires nothing under normal load", async () => {
    // The rules' windows fill first (a 5-minute window is 5 s here, an hour a minute).
    await sleep(20_000);
    const until = Date.now() + 45_000;
    const seen = new Set<string>();
    while (Date.now() < until) {
      for (const a of await live().firing()) seen.add(`${a.alertname}/${a.severity}`);
      await sleep(1000);
    }
    // On a host shared past its cores, latency objectives fail for real: say so.
    expect([...seen], `host load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} cores`).toEqual([]);
    expect((await live().prom.query('up{job="loyaltyd"}'))[0]?.value?.[1]).toBe("1");
    expect(live().tills!.stats().ok).toBeGreaterThan(100);
  }, 120_000);

  it("evaluates every rule of alerts.yml without an error", async () => {
    const rules = await live().prom.ruleHealth();
    expect(rules.length).toBe(live().prom.rules.groups.flatMap((g) => g.rules).length);
    expect(rules.filter((r) => r.health !== "ok")).toEqual([]);
  });
});
