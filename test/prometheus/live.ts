// One live environment of the Prometheus test: its own nats-server, engine process (with
// the scenarios' failpoints), load (the POS simulator and tills) and Debian's Prometheus
// on the shipped config. Each test file starts one, so that vitest runs the scenarios'
// groups side by side; a scenario watches its alerts' expressions in Prometheus.
import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll } from "vitest";
import { freePort, startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { startSimulator, type SimulatorHandle } from "../../src/simulator/simulator.js";
import { childEngineEnv, killHard, spawnEngine, tempDir } from "../e2e/harness.js";
import { durationSeconds, startPrometheus, type Prometheus, type PromResult, type Rule } from "./prom.js";
import { every, startTills, type Tills } from "./load.js";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The rules' windows and `for` run this many times faster: an hour's window is a minute. */
export const TIME_SCALE = 60;
const SCRAPE_S = 1;
/** A scenario's alerts whose (scaled) `for` is this short are awaited firing too, not only their expression. */
const FIRING_FOR_MAX_S = 2;

/**
 * The scenarios' failpoints: events named fail-* fail with INTERNAL, slow-* hold their
 * partition 200 ms, and, where a file adds LOYALTYD_FAILPOINT_WEDGE_EVENT_PREFIX, wedge-*
 * for ever (the watchdog is set to 10 minutes).
 */
export const FAILPOINTS = {
  LOYALTYD_FAILPOINT_EVENT_PREFIX: "fail-",
  LOYALTYD_FAILPOINT_SLOW_EVENT_PREFIX: "slow-",
  LOYALTYD_FAILPOINT_SLOW_MS: "200",
};

/** An alert, and with `severity` one of its rules only. */
export interface Cond {
  alertname: string;
  severity?: "page" | "ticket";
}
export const page = (alertname: string): Cond => ({ alertname, severity: "page" });
export const ticket = (alertname: string): Cond => ({ alertname, severity: "ticket" });
export const any = (alertname: string): Cond => ({ alertname });
const matches = (labels: Record<string, string>, c: Cond) => labels.alertname === c.alertname && (!c.severity || labels.severity === c.severity);
const show = (c: Cond) => (c.severity ? `${c.alertname}/${c.severity}` : c.alertname);

export interface LiveOptions {
  /** The POS simulator's sales per second; 0: no simulator. */
  simRatePerSec: number;
  /** Tills authorizing and accruing every 100 ms beside it. */
  tills: boolean;
  /** The ledger on a tmpfs of its own of this many MiB (needs root), so that the disk can be filled. */
  tmpfsMiB?: number;
  /** The first engine's failpoints beside FAILPOINTS. */
  engine?: Record<string, string>;
  /** How long the engine runs under load before Prometheus starts. */
  warmMs: number;
}

export interface Live {
  dir: string;
  /** The tmpfs holding the ledger, or null (not root: no full-disk scenario). */
  mnt: string | null;
  nats: NatsServerHandle;
  nc: NatsConnection;
  prom: Prometheus;
  httpPort: number;
  engine(): ChildProcess;
  tills: Tills | null;
  /** Prometheus's start, epoch seconds. */
  startedS: number;
  /** The engine, killed -9 if running, started again with FAILPOINTS and `extra`. */
  restart(extra?: Record<string, string>): Promise<void>;
  /** nats-server stopped (SIGTERM), and started again on the same port and store. */
  stopNats(): Promise<void>;
  startNats(): Promise<void>;
  /**
   * A scenario: its alerts' expressions quiet first, then `provoke` runs until each
   * expression returns the series its alert fires with (and, for a short `for`, until the
   * alert fires); what `provoke` returns stops it.
   */
  scenario(conds: Cond[], provoke: () => Promise<(() => void) | void>, timeoutMs?: number): Promise<void>;
  /** Alerts firing now, each with its labels. */
  firing(): Promise<Array<Record<string, string>>>;
  stop(): Promise<void>;
}

/** A ledger filesystem of its own: null when not root or mount refuses. */
function mountTmpfs(mnt: string, sizeMiB: number): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    mkdirSync(mnt, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, "tmpfs", mnt], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export async function startLive(opts: LiveOptions): Promise<Live> {
  const dir = tempDir("loyaltyd-prom-");
  const mntDir = join(dir, "mnt");
  const mnt = opts.tmpfsMiB && mountTmpfs(mntDir, opts.tmpfsMiB) ? mntDir : null;
  const storeDir = join(dir, "js");
  let nats = await startNatsServer({ storeDir });
  const httpPort = await freePort();
  const baseEnv = childEngineEnv(dir, nats.url, {
    LOYALTYD_DATADIR: join(mnt ?? dir, "data"),
    LOYALTYD_HTTP_PORT: String(httpPort),
    LOYALTYD_PARTITIONS: "2",
    LOYALTYD_EVENTS_ACK_WAIT_MS: "2000",
    LOYALTYD_WATCHDOG_MS: "600000",
    // No retention steps: their writes wait behind a wedged partition's lock (without
    // blocking the main thread) and are not what these scenarios measure.
    LOYALTYD_RETENTION_SWEEP_MS: "3600000",
  });
  let stopping = false;
  /** An engine whose exit the test did not ask for is reported with its last log lines. */
  const spawnWatched = async (extra: Record<string, string>): Promise<ChildProcess> => {
    const child = (await spawnEngine({ ...baseEnv, ...FAILPOINTS, ...extra })).child;
    let tail = "";
    child.stdout!.on("data", (d: Buffer) => (tail = (tail + d.toString()).slice(-3000)));
    child.once("exit", (code, signal) => {
      if (!stopping && signal !== "SIGKILL") console.warn(`prometheus test: the engine exited (${code ?? signal}) on its own:\n${tail}`);
    });
    return child;
  };
  let engine: ChildProcess = await spawnWatched(opts.engine ?? {});
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1 });
  const sim: SimulatorHandle | null =
    opts.simRatePerSec > 0 ? await startSimulator({ nc, ratePerSec: opts.simRatePerSec, customers: 1000, log: () => undefined, summaryEveryMs: 600_000 }) : null;
  const tills = opts.tills ? await startTills(nc, httpPort) : null;
  // Prometheus starts once the engine is warm: its start-up is not the load judged.
  await sleep(opts.warmMs);
  const prom = await startPrometheus({ dir, target: `127.0.0.1:${httpPort}`, scrapeIntervalS: SCRAPE_S, timeScale: TIME_SCALE });
  const startedS = Date.now() / 1000;
  // A few scrapes first: a scenario's "quiet before" means something only with data.
  const scrapedBy = Date.now() + 30_000;
  while (Number((await prom.query('count_over_time(up{job="loyaltyd"}[1m])'))[0]?.value?.[1] ?? 0) < 5) {
    if (Date.now() > scrapedBy) throw new Error("Prometheus did not scrape the engine 5 times in 30 s");
    await sleep(500);
  }

  const rulesOf = (c: Cond): Rule[] => {
    const found = prom.rules.groups.flatMap((g) => g.rules).filter((r) => r.alert === c.alertname && (!c.severity || r.labels?.severity === c.severity));
    if (found.length === 0) throw new Error(`no rule for ${show(c)} in alerts.yml`);
    return found;
  };
  /** The series `c`'s rules' expressions return now: those its alert fires with once `for` has passed. */
  const alerting = async (c: Cond): Promise<PromResult[]> => (await Promise.all(rulesOf(c).map((r) => prom.query(r.expr)))).flat();
  const awaitsFiring = (c: Cond) => rulesOf(c).every((r) => durationSeconds(r.for ?? "0s") <= FIRING_FOR_MAX_S);

  const waitQuiet = async (conds: Cond[], timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const loud: string[] = [];
      for (const c of conds) if ((await alerting(c)).length > 0) loud.push(show(c));
      if (loud.length === 0) return;
      if (Date.now() > deadline) throw new Error(`alerting before the scenario: ${loud.join(", ")}`);
      await sleep(500);
    }
  };
  const waitAlerting = async (conds: Cond[], timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    const seen = new Set<Cond>();
    const fired = new Set<Cond>();
    for (;;) {
      const firing = await prom.firing();
      for (const c of conds) {
        if (!seen.has(c) && (await alerting(c)).length > 0) seen.add(c);
        if (firing.some((l) => matches(l, c))) fired.add(c);
      }
      const missing = conds.filter((c) => !seen.has(c)).map(show);
      const unfired = conds.filter((c) => awaitsFiring(c) && !fired.has(c)).map((c) => `${show(c)} (firing)`);
      if (missing.length + unfired.length === 0) return;
      if (Date.now() > deadline) throw new Error(`never alerting: ${[...missing, ...unfired].join(", ")}; firing: ${firing.map((l) => `${l.alertname}/${l.severity}`).join(", ")}`);
      await sleep(500);
    }
  };

  return {
    dir,
    mnt,
    get nats() {
      return nats;
    },
    nc,
    prom,
    httpPort,
    engine: () => engine,
    tills,
    startedS,
    async restart(extra = {}) {
      await killHard(engine);
      engine = await spawnWatched(extra);
    },
    async stopNats() {
      await nats.stop();
    },
    async startNats() {
      nats = await startNatsServer({ storeDir, port: nats.port });
    },
    async scenario(conds, provoke, timeoutMs = 90_000) {
      await waitQuiet(conds, 90_000);
      const stop = await provoke();
      try {
        await waitAlerting(conds, timeoutMs);
      } finally {
        stop?.();
      }
    },
    firing: () => prom.firing(),
    async stop() {
      stopping = true;
      tills?.stop();
      await sim?.stop().catch(() => undefined);
      engine.kill("SIGCONT");
      await killHard(engine);
      await prom.stop();
      await nc.close();
      await nats.stop();
      if (mnt) execFileSync("umount", ["-l", mnt], { stdio: "ignore" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a Live before the file's tests (stopped after them); the getter gives it. */
export function useLive(opts: LiveOptions): () => Live {
  let live: Live | undefined;
  beforeAll(async () => {
    live = await startLive(opts);
  }, 120_000);
  afterAll(async () => {
    await live?.stop();
  });
  return () => live!;
}

export { every };
