// The shipped dashboard and alerts, proven against Debian's real Prometheus: it scrapes a
// live engine (its own process, on a real nats-server) under the POS simulator's load plus
// tills authorizing and accruing. No alert fires under that normal load; then scenarios
// built to trigger them (rejections, server errors and dead letters, a wedged partition
// with the stream backing up, restarts, a paused process, slow then overloaded partitions,
// a full disk), each starting with its alerts quiet; every alert must have fired by the
// end, and every PromQL expression of the dashboard returns data. `npm run test:prometheus`; the rules'
// windows run 60 times faster.
import { execFileSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { startSimulator, type SimulatorHandle } from "../../src/simulator/simulator.js";
import { childEngineEnv, killHard, line, ROOT, sale, spawnEngine, tempDir } from "../e2e/harness.js";
import { alertNames, startPrometheus, type Prometheus } from "./prom.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TIME_SCALE = 60;
const SCRAPE_S = 1;
const CARDS = Array.from({ length: 40 }, (_, i) => `PROM-${i}`);

const dir = tempDir("loyaltyd-prom-");
const mnt = join(dir, "mnt");
/** The ledger on a small filesystem of its own, so that the disk can be filled (needs root, as CI runs). */
function mountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    mkdirSync(mnt, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=384m", "tmpfs", mnt], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const mounted = mountTmpfs();
if (!mounted) console.warn("prometheus test: no tmpfs (needs root); the full-disk scenario cannot run");

/** An alert, and with `severity` one of its rules only. */
interface Cond {
  alertname: string;
  severity?: "page" | "ticket";
}
const page = (alertname: string): Cond => ({ alertname, severity: "page" });
const any = (alertname: string): Cond => ({ alertname });

/**
 * Each scenario's alerts, in the order they are provoked; together, every alert of
 * alerts.yml. The burn-rate alerts are awaited at `page`, whose windows are short enough
 * to be quiet before the scenario; the availability scenario awaits both severities.
 */
const SCENARIOS: Record<string, Cond[]> = {
  rejections: [any("LoyaltyRejectionsHigh")],
  serverErrors: [page("LoyaltyAvailabilityBudgetBurn"), { alertname: "LoyaltyAvailabilityBudgetBurn", severity: "ticket" }, any("LoyaltyDeadLetters")],
  wedged: [any("LoyaltyPartitionStuck"), any("LoyaltyStreamLagHigh"), any("LoyaltyStreamBacklogGrowing")],
  restarts: [any("LoyaltyEngineRestarting")],
  paused: [any("LoyaltyEngineDown")],
  slowPartitions: [page("LoyaltyAuthorizeLatencyBudgetBurn"), page("LoyaltyAccrueLatencyBudgetBurn")],
  overloadedPartitions: [page("LoyaltyStreamLatencyBudgetBurn"), any("LoyaltyPartitionSaturated")],
  diskFull: [any("LoyaltyDiskSpaceLow"), any("LoyaltyDiskFillingUp")],
};
/**
 * Not provoked reliably here: LoyaltyNotReady needs a write the full disk refuses, and
 * late in the run LMDB often finds the pages it needs among those it freed, so writes
 * go on; it fired in some runs only. promtool's unit tests cover it.
 */
const NOT_PROVOKED = ["LoyaltyNotReady"];
const FAILPOINTS = {
  LOYALTYD_FAILPOINT_EVENT_PREFIX: "fail-",
  LOYALTYD_FAILPOINT_SLOW_EVENT_PREFIX: "slow-",
  LOYALTYD_FAILPOINT_SLOW_MS: "200",
};

const matches = (labels: Record<string, string>, c: Cond) => labels.alertname === c.alertname && (!c.severity || labels.severity === c.severity);
const show = (c: Cond) => (c.severity ? `${c.alertname}/${c.severity}` : c.alertname);

describe("Prometheus with the shipped config, dashboard and alerts", () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let prom: Prometheus;
  let engine: ChildProcess | null = null;
  let sim: SimulatorHandle | null = null;
  let tills: Tills | null = null;
  let baseEnv: Record<string, string>;
  let startedS = 0;
  /** Every alert seen firing in the whole run, with each set of labels it fired with. */
  const fired = new Map<string, Set<string>>();

  const start = async (extra: Record<string, string>) => {
    engine = (await spawnEngine({ ...baseEnv, ...extra })).child;
  };
  const restart = async (extra: Record<string, string>) => {
    if (engine) await killHard(engine);
    await start(extra);
  };

  beforeAll(async () => {
    nats = await startNatsServer({ storeDir: join(dir, "js") });
    const httpPort = await freePort();
    baseEnv = childEngineEnv(dir, nats.url, {
      LOYALTYD_DATADIR: mounted ? join(mnt, "data") : join(dir, "data"),
      LOYALTYD_HTTP_PORT: String(httpPort),
      LOYALTYD_PARTITIONS: "2",
      LOYALTYD_EVENTS_ACK_WAIT_MS: "2000",
      LOYALTYD_WATCHDOG_MS: "600000",
      // No retention steps: their writes wait behind a wedged partition's lock (without
      // blocking the main thread) and are not what these scenarios measure.
      LOYALTYD_RETENTION_SWEEP_MS: "3600000",
    });
    // The scenarios' failpoints: events named fail-* fail with INTERNAL, slow-* hold their
    // partition 200 ms, wedge-* for ever (the watchdog is set to 10 minutes).
    await start({ ...FAILPOINTS, LOYALTYD_FAILPOINT_WEDGE_EVENT_PREFIX: "wedge-" });
    nc = await connect({ servers: nats.url });
    sim = await startSimulator({ nc, ratePerSec: 60, customers: 1000, log: () => undefined, summaryEveryMs: 600_000 });
    tills = await startTills(nc, httpPort);
    // Prometheus starts once the engine is warm: its start-up is not the normal load judged below.
    await sleep(10_000);
    prom = await startPrometheus({ dir, target: `127.0.0.1:${httpPort}`, scrapeIntervalS: SCRAPE_S, timeScale: TIME_SCALE });
    startedS = Date.now() / 1000;
  }, 120_000);

  afterAll(async () => {
    tills?.stop();
    await sim?.stop().catch(() => undefined);
    if (engine) {
      engine.kill("SIGCONT");
      await killHard(engine);
    }
    await prom?.stop();
    await nc?.close();
    await nats?.stop();
    if (mounted) execFileSync("umount", ["-l", mnt], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  });

  const firingNow = async (): Promise<Array<Record<string, string>>> => {
    const now = await prom.firing();
    for (const labels of now) {
      const set = fired.get(labels.alertname!) ?? new Set();
      set.add(JSON.stringify(labels));
      fired.set(labels.alertname!, set);
    }
    return now;
  };
  /** Polls every second until none of `conds` fires: a scenario starts from quiet. */
  const waitQuiet = async (conds: Cond[], timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await firingNow();
      const loud = conds.filter((c) => now.some((l) => matches(l, c)));
      if (loud.length === 0) return;
      if (Date.now() > deadline) throw new Error(`still firing before the scenario: ${loud.map(show).join(", ")}`);
      await sleep(1000);
    }
  };
  /** Polls every second until each of `conds` has been seen firing during this call. */
  const waitFiring = async (conds: Cond[], timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    const seen = new Set<Cond>();
    for (;;) {
      const now = await firingNow();
      for (const c of conds) if (now.some((l) => matches(l, c))) seen.add(c);
      const missing = conds.filter((c) => !seen.has(c));
      if (missing.length === 0) return;
      if (Date.now() > deadline) throw new Error(`never fired: ${missing.map(show).join(", ")}; firing: ${now.map((l) => `${l.alertname}/${l.severity}`).join(", ")}`);
      await sleep(1000);
    }
  };
  /** A scenario: quiet first, then `provoke` runs until every alert of it fires. */
  const scenario = async (conds: Cond[], provoke: () => Promise<(() => void) | void>, timeoutMs = 90_000): Promise<void> => {
    await waitQuiet(conds, 90_000);
    const stop = await provoke();
    try {
      await waitFiring(conds, timeoutMs);
    } finally {
      stop?.();
    }
  };

  it("covers every alert of alerts.yml with a scenario", () => {
    expect([...new Set([...Object.values(SCENARIOS).flat().map((c) => c.alertname), ...NOT_PROVOKED])].sort()).toEqual(alertNames().sort());
  });

  it("fires nothing under normal load", async () => {
    // The rules' windows fill first (a 5-minute window is 5 s here, an hour a minute).
    await sleep(20_000);
    const until = Date.now() + 45_000;
    const seen = new Set<string>();
    while (Date.now() < until) {
      for (const a of await firingNow()) seen.add(`${a.alertname}/${a.severity}`);
      await sleep(1000);
    }
    // On a host shared past its cores, latency objectives fail for real: say so.
    expect([...seen], `host load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} cores`).toEqual([]);
    expect((await prom.query('up{job="loyaltyd"}'))[0]?.value?.[1]).toBe("1");
    expect(tills!.stats().ok).toBeGreaterThan(100);
  }, 120_000);

  it("fires on a burst of rejected requests", async () => {
    await scenario(SCENARIOS.rejections!, async () =>
      every(20, async (i) => {
        await nc.request("loyalty.rpc.accrue", JSON.stringify({ type: "sale", eventId: `bad-${i}` }), { timeout: 5000 }).catch(() => undefined);
      }),
    );
  }, 240_000);

  it("fires on server errors, and on events left in the dead-letter stream", async () => {
    const js = nc.jetstream();
    await scenario(SCENARIOS.serverErrors!, async () =>
      every(50, async (i) => {
        const card = CARDS[i % CARDS.length]!;
        await js.publish("loyalty.events.s01", JSON.stringify(sale(`fail-${i}`, { card }, [line("1", 1, 1000)])), { msgID: `fail-${i}` }).catch(() => undefined);
      }),
    );
  }, 240_000);

  it("fires on a wedged partition while the stream backs up behind it", async () => {
    const js = nc.jetstream();
    const card = CARDS[0]!;
    await scenario(
      SCENARIOS.wedged!,
      async () => {
        await js.publish("loyalty.events.s01", JSON.stringify(sale("wedge-1", { card }, [line("1", 1, 1000)])), { msgID: "wedge-1" });
        // Fill the wedged partition's queue: the consumer then stops pulling, and the simulator's events wait in the stream.
        const acks: Promise<unknown>[] = [];
        for (let i = 0; i < 8400; i++) {
          acks.push(js.publish("loyalty.events.s01", JSON.stringify(sale(`behind-${i}`, { card }, [line("1", 1, 100)])), { msgID: `behind-${i}` }));
          if (acks.length >= 512) await Promise.all(acks.splice(0));
        }
        await Promise.all(acks);
      },
      120_000,
    );
    // The wedged thread cannot be stopped: the process goes, and comes back without that failpoint.
    await restart(FAILPOINTS);
  }, 300_000);

  it("fires when the engine keeps restarting", async () => {
    const startTime = async () => (await prom.query('loyalty_process_start_time_seconds{job="loyaltyd"}'))[0]?.value?.[1];
    await scenario(SCENARIOS.restarts!, async () => {
      for (let i = 0; i < 3; i++) {
        const before = await startTime();
        await restart(FAILPOINTS);
        // Each life scraped at least once (a scrape during start-up may time out).
        const deadline = Date.now() + 20_000;
        for (;;) {
          const now = await startTime(); // undefined while the target is down (its series stale)
          if ((now !== undefined && now !== before) || Date.now() > deadline) break;
          await sleep(250);
        }
      }
    });
  }, 240_000);

  it("fires when Prometheus cannot scrape a paused engine", async () => {
    const paused = engine!;
    await scenario(SCENARIOS.paused!, async () => {
      paused.kill("SIGSTOP");
      return () => paused.kill("SIGCONT");
    });
  }, 240_000);

  /** Stream events that hold their partition 200 ms each, `perSecond` of them, spread over the cards. */
  const slowEvents = (perSecond: number, from: number) => {
    const js = nc.jetstream();
    return every(1000 / perSecond, async (i) => {
      const card = CARDS[i % CARDS.length]!;
      const id = `slow-${from + i}`;
      await js.publish("loyalty.events.s01", JSON.stringify(sale(id, { card }, [line("1", 1, 1000)])), { msgID: id }).catch(() => undefined);
    });
  };

  it("fires when partitions are slow: authorize and accrue latency", async () => {
    // About 80 % of the ledger's one writer (LMDB serialises the partitions' commits): no
    // backlog, but a till's request often waits behind a slow event
    // (past 250 ms of waiting it would be refused OVERLOADED, which is fast).
    await scenario(SCENARIOS.slowPartitions!, async () => slowEvents(4, 0), 120_000);
  }, 240_000);

  it("fires when partitions are overloaded: stream latency, saturation", async () => {
    await scenario(SCENARIOS.overloadedPartitions!, async () => slowEvents(8, 1_000_000), 120_000);
    // The backlog drains before the next scenario.
    const deadline = Date.now() + 150_000;
    for (;;) {
      const lag = Number((await prom.query('max(loyalty_stream_oldest_unprocessed_age_seconds{job="loyaltyd"})'))[0]?.value?.[1] ?? NaN);
      if (lag < 2) break;
      if (Date.now() > deadline) throw new Error(`the stream did not catch up after the slow events: ${lag} s behind`);
      await sleep(1000);
    }
  }, 400_000);

  it.skipIf(!mounted)("fires when the ledger's disk fills up", async () => {
    const filler = join(mnt, "filler");
    try {
      // Baskets that write kilobytes each: LMDB must grow its file (pages it frees are
      // reused, so steady small writes can go on for a while on a full filesystem).
      await scenario(SCENARIOS.diskFull!, async () => {
        fill(filler);
        return every(100, async (i) => {
          const lines = Array.from({ length: 40 }, (_, k) => line(`${k}`, 1, 100, { sku: `SKU-${i}-${k}-${"x".repeat(60)}` }));
          await nc.request("loyalty.rpc.accrue", JSON.stringify(sale(`big-${i}`, { card: CARDS[i % CARDS.length]! }, lines)), { timeout: 5000 }).catch(() => undefined);
        });
      });
    } finally {
      rmSync(filler, { force: true });
    }
  }, 240_000);

  it("has fired every alert of alerts.yml", () => {
    // Without root (no tmpfs) the disk alerts could not be provoked; CI runs as root.
    const provoked = alertNames().filter((n) => !NOT_PROVOKED.includes(n) && (mounted || !SCENARIOS.diskFull!.some((c) => c.alertname === n)));
    expect([...fired.keys()].filter((n) => provoked.includes(n)).sort()).toEqual(provoked.sort());
  });

  it("answers every PromQL expression of the dashboard with data", async () => {
    const dashboard = JSON.parse(readFileSync(join(ROOT, "docs/grafana-dashboard.json"), "utf8"));
    const exprs = dashboardExpressions(dashboard);
    expect(exprs.length).toBeGreaterThan(40);
    const endS = Date.now() / 1000;
    const empty: string[] = [];
    for (const expr of exprs) {
      // As Grafana would send it: every instance, a rate window of four scrapes and more.
      const q = expr.replaceAll("$instance", ".+").replaceAll("$__rate_interval", "5s");
      const result = await prom.queryRange(q, startedS, endS, 5);
      const hasData = result.some((s) => (s.values ?? []).some(([, v]) => v !== "NaN"));
      if (!hasData) empty.push(expr);
    }
    expect(empty).toEqual([]);
  }, 120_000);
});

/** Every `expr` of the dashboard's panels, rows' panels included, and of its variables' queries. */
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

/** Runs `fn(i)` every `ms` until stopped. */
function every(ms: number, fn: (i: number) => Promise<void>): () => void {
  let i = 0;
  const timer = setInterval(() => void fn(i++), ms);
  return () => clearInterval(timer);
}

/** Fills the filesystem until it refuses even a page: in megabytes, then in 4 KiB. */
function fill(file: string): void {
  const fd = openSync(file, "w");
  try {
    for (const size of [1024 * 1024, 4096]) {
      const chunk = Buffer.alloc(size, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch {
        // ENOSPC: full at this size
      }
    }
  } finally {
    closeSync(fd);
  }
}

interface Tills {
  stats(): { ok: number; failed: number };
  stop(): void;
}

/**
 * Tills beside the simulator: every 100 ms an authorize and its release, and an accrue,
 * over NATS and HTTP in turn, for the test's own cards (enrolled and credited first).
 */
async function startTills(nc: NatsConnection, httpPort: number): Promise<Tills> {
  const rpc = async (verb: string, body: unknown) =>
    JSON.parse(Buffer.from((await nc.request(`loyalty.rpc.${verb}`, JSON.stringify(body), { timeout: 5000 })).data).toString()) as Record<string, any>;
  const http = async (verb: string, body: unknown) =>
    (await (await fetch(`http://127.0.0.1:${httpPort}/v1/${verb}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json()) as Record<string, any>;
  for (const card of CARDS) {
    await rpc("enroll", { requestId: `enrol-${card}`, card });
    await rpc("accrue", sale(`credit-${card}`, { card }, [line("1", 100, 1000)]));
  }
  const counts = { ok: 0, failed: 0 };
  const count = (r: Record<string, any> | null) => (r?.ok ? counts.ok++ : counts.failed++);
  const run = Date.now().toString(36);
  const stop = every(100, async (i) => {
    const card = CARDS[i % CARDS.length]!;
    const customer = { card };
    // Alternately over NATS and HTTP.
    const call = i % 2 === 0 ? rpc : http;
    const calls = [
      call("authorize", { requestId: `a-${run}-${i}`, customer, amount: 1 }).then(async (r) => {
        count(r);
        if (r.approved) count(await call("release", { requestId: `r-${run}-${i}`, holdId: r.holdId }));
      }),
      call("accrue", sale(`ra-${run}-${i}`, customer, [line("1", 1, 500)])).then(count),
    ];
    await Promise.all(calls.map((c) => c.catch(() => count(null))));
  });
  return { stats: () => counts, stop };
}
