// Health alerts against Debian's real Prometheus: an engine that keeps restarting, one
// Prometheus cannot scrape (paused), and one that is not ready because its NATS is gone.
// Beside the other scenario files, on an engine of its own.
import { describe, expect, it } from "vitest";
import { sleep, useLive } from "./live.js";
import { SCENARIOS } from "./scenarios.js";

describe("Prometheus with the shipped alerts: engine health", () => {
  const live = useLive({ simRatePerSec: 10, tills: false, warmMs: 2000 });

  it("alerts when the engine keeps restarting", async () => {
    const startTime = async () => (await live().prom.query('loyalty_process_start_time_seconds{job="loyaltyd"}'))[0]?.value?.[1];
    await live().scenario(SCENARIOS.restarts, async () => {
      for (let i = 0; i < 3; i++) {
        const before = await startTime();
        await live().restart();
        // Each life scraped at least once (a scrape during start-up may time out).
        const deadline = Date.now() + 20_000;
        for (;;) {
          const now = await startTime(); // undefined while the target is down (its series stale)
          if ((now !== undefined && now !== before) || Date.now() > deadline) break;
          await sleep(250);
        }
      }
    });
  }, 180_000);

  it("alerts when Prometheus cannot scrape a paused engine", async () => {
    const paused = live().engine();
    await live().scenario(SCENARIOS.paused, async () => {
      paused.kill("SIGSTOP");
      return () => paused.kill("SIGCONT");
    });
  }, 180_000);

  it("alerts when the engine is not ready because NATS is gone, and is ready again once it is back", async () => {
    const readyz = () => fetch(`http://127.0.0.1:${live().httpPort}/readyz`).then(async (r) => ({ status: r.status, body: (await r.json()) as { checks: Record<string, boolean> } }));
    expect((await readyz()).status).toBe(200);
    try {
      await live().scenario(SCENARIOS.natsDown, () => live().stopNats());
      // The series it fires with name the failing check; the engine still answers /metrics and /readyz.
      const series = await live().prom.query(live().prom.rules.groups.flatMap((g) => g.rules).find((r) => r.alert === "LoyaltyNotReady")!.expr);
      expect(series.map((s) => s.metric.check)).toContain("nats");
      const down = await readyz();
      expect(down.status).toBe(503);
      expect(down.body.checks.nats).toBe(false);
    } finally {
      await live().startNats();
    }
    const deadline = Date.now() + 30_000;
    while ((await readyz()).status !== 200) {
      if (Date.now() > deadline) throw new Error(`not ready again after NATS came back: ${JSON.stringify((await readyz()).body)}`);
      await sleep(250);
    }
  }, 180_000);
});
