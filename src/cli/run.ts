// `serve` and `demo`: start the engine (and the simulator when configured), run until
// SIGINT or SIGTERM, shut down in order. The demo's live screen, when on, is told what
// happens; otherwise everything is a JSON log line on stdout.
import { join } from "node:path";
import { connect } from "nats";
import type { Config } from "../config/config.js";
import { ConfigError } from "../config/config.js";
import { DataDirLockedError } from "../config/lock.js";
import { DemoStatus } from "../demo/live.js";
import type { SegmentCount } from "../demo/screen.js";
import { sampleMetrics } from "../demo/status.js";
import { reachableBase, tryRequests } from "../demo/try.js";
import { startEngine, type Engine } from "../engine.js";
import { NatsRefusedError } from "../ingest/nats-connect.js";
import { StoreFormatError, isStorageRefusal } from "../ledger/store.js";
import { createFileLogger, createLogger, type Logger } from "../observe/logger.js";

/** Sample segments the demo counts every 30 s, as a marketer would query them (POST /v1/admin/segments/query). */
const DEMO_SEGMENTS: { name: string; short: string; filter: Record<string, unknown> }[] = [
  { name: "e-mail consent, birthday within 30 days", short: "birthday soon, e-mail ok", filter: { all: [{ consent: "email" }, { birthdayWithinDays: 30 }] } },
  { name: "100 points or more, no SMS consent", short: "100+ points, no SMS", filter: { all: [{ balance: { gte: 100 } }, { not: { consent: "sms" } }] } },
];
const SEGMENTS_EVERY_MS = 30_000;
/** The card the demo's commands ask about: the simulator's busiest customer (its draw is skewed to low numbers). */
const TRY_CARD = "C-1";
/** `simulator: b2b`: how many distributors submit, and how often (reports per second, all together). */
const B2B_DISTRIBUTORS = 12;
const B2B_REPORTS_PER_SEC = 2;

/**
 * Runs until a signal; the exit code. `screen`: the demo's live status on this terminal.
 * `consoleToken`: the operator token the demo made for this run (none was configured).
 */
export async function runEngine(config: Config, version: string, screen: boolean, consoleToken: string | null = null): Promise<number> {
  const logFile = join(config.dataDir, "loyaltyd.log");
  const status = screen
    ? new DemoStatus(
        process.stdout,
        config.simulator === "b2b"
          ? { version, simulatorRate: B2B_REPORTS_PER_SEC, simulatorCustomers: B2B_DISTRIBUTORS, simulatorKind: "b2b", logFile }
          : { version, simulatorRate: config.simulatorRate, simulatorCustomers: config.simulatorCustomers, logFile },
        DEMO_SEGMENTS.map((s) => s.short),
      )
    : null;
  const log = status ? createFileLogger(config.logLevel, logFile, status.note) : createLogger(config.logLevel);
  // A fatal exit must not leave the terminal without its cursor.
  if (status) process.once("exit", () => process.stdout.write("\x1b[?25h"));
  process.on("unhandledRejection", (reason) => {
    // lmdb-js rejects a second promise with the cause of a failed commit: a full disk is
    // answered where the write was made (UNAVAILABLE), not a reason to stop.
    if (isStorageRefusal(reason)) return void log.warn({ err: reason }, "a ledger write was refused by the storage");
    log.fatal({ err: reason }, "unhandled rejection; exiting");
    setTimeout(() => process.exit(70), 100);
  });
  // From the start: a Ctrl-C while the engine starts or the simulator enrols still stops it in order
  // (the default action would end the process at once and leave its nats-server child running).
  // SIGHUP too: a closed terminal window stops the demo the same way.
  const stopRequested = new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, () => resolve());
  });
  status?.starting(`starting loyaltyd ${version}: nats-server, the ledger in ${config.dataDir}, the partitions…`);
  let engine: Engine;
  try {
    engine = await startEngine(config, log);
  } catch (err) {
    // A ledger in another format, a dataDir another engine holds, an unreadable secret file or
    // credentials NATS refuses will not fix themselves by restarting: say what to do, exit as a configuration error.
    if (err instanceof StoreFormatError || err instanceof DataDirLockedError || err instanceof ConfigError || err instanceof NatsRefusedError) {
      console.error(err.message);
      return 78;
    }
    throw err;
  }
  const base = reachableBase(config.http.host, engine.httpPort);
  // The console is where the admin routes are: the admin listener when admin.port gives them one.
  const consoleBase = engine.adminPort !== null ? reachableBase(config.admin.host, engine.adminPort) : base;
  const signIn = { url: `${consoleBase}/console`, token: consoleToken };
  log.info({ console: signIn.url, ...(consoleToken ? { consoleToken } : {}) }, "operator console");
  // The participant portal's pages are on the main listener, with the /v1/me routes.
  // The sample card exists only when the shoppers' simulator enrols it (the b2b one enrols distributors without a phone or e-mail).
  const portal = config.portal.enabled ? { url: `${base}/me`, card: config.simulator === true ? TRY_CARD : null } : null;
  let stopOtp: (() => Promise<void>) | null = null;
  if (status) {
    status.showTries(tryRequests({ baseUrl: base, card: TRY_CARD, atMs: Date.now(), runId: Date.now().toString(36) }), `${base}/metrics`, signIn, portal);
    status.start(() => sampleMetrics(engine.metrics, Date.now()));
    if (portal) stopOtp = await showOtpCodes(engine, status, log);
  }
  const stopSimulator =
    config.simulator === "b2b" ? await startDemoB2b(config, engine, log, status) : config.simulator ? await startDemoSimulator(config, engine, log, status, base) : null;
  if (!config.simulator) status?.simulator("off");
  await stopRequested;
  log.info("shutting down");
  status?.simulator("stopping");
  if (stopSimulator) await stopSimulator();
  if (stopOtp) await stopOtp();
  await engine.close();
  if (config.simulator) status?.simulator("stopped");
  status?.stop([[], [{ text: `stopped. The logs are in ${logFile}.` }]]);
  return 0;
}

/**
 * The demo plays the SMS / e-mail connector for the portal's sign-in: each loyalty.notify.otp
 * code is printed on the screen (never logged). On the embedded server it reads as the local
 * connector's user; with a configured nats.url, on the engine's connection.
 */
async function showOtpCodes(engine: Engine, status: DemoStatus, log: Logger): Promise<() => Promise<void>> {
  try {
    const nc = engine.connectorNats ? await connect({ ...engine.connectorNats, name: "loyaltyd-demo-connector" }) : engine.nc;
    nc.subscribe("loyalty.notify.otp", { callback: (_err, m) => status.otp(m.json<Record<string, unknown>>()) });
    return async () => {
      if (nc !== engine.nc && !nc.isClosed()) await nc.drain();
    };
  } catch (err) {
    log.warn({ err }, "the demo cannot read loyalty.notify.otp: the portal's codes are not shown");
    return async () => undefined;
  }
}

/**
 * Starts the simulator in the background (it enrols its customers first); the function
 * returned stops it, also half-way through the enrolment.
 */
async function startDemoSimulator(config: Config, engine: Engine, log: Logger, status: DemoStatus | null, base: string): Promise<() => Promise<void>> {
  const { startSimulator } = await import("../simulator/simulator.js");
  // On the embedded server the simulator is a terminal with its own user; elsewhere it shares the engine's connection.
  const simNc = engine.simulatorNats ? await connect({ ...engine.simulatorNats, name: "loyaltyd-simulator" }) : engine.nc;
  status?.simulator("enrolling");
  let segmentsTimer: NodeJS.Timeout | null = null;
  const started = startSimulator({
    nc: simNc,
    ratePerSec: config.simulatorRate,
    customers: config.simulatorCustomers,
    redeem: true,
    log: (line: string) => log.info({ simulator: true }, line),
  }).then((sim) => {
    status?.simulator("running");
    log.info({ metrics: `${base}/metrics` }, `demo running: ${config.simulatorRate} POS events/s; Ctrl-C stops it`);
    segmentsTimer = demoSegments(engine, log, status);
    return sim;
  });
  let sim: Awaited<typeof started> | null = null;
  started.then((s) => (sim = s)).catch((err) => log.warn({ err }, "the simulator stopped"));
  return async () => {
    if (segmentsTimer) clearInterval(segmentsTimer);
    // Still enrolling: closing its own connection makes the enrolment fail fast and the simulator give up.
    if (!sim && simNc !== engine.nc) await simNc.close();
    const s = await started.catch(() => null);
    if (s) await s.stop();
    if (simNc !== engine.nc && !simNc.isClosed()) await simNc.drain();
  };
}

/**
 * `simulator: b2b`: the distributors' programme, products and participants are set up,
 * then reports flow (a summary in the log every 5 s); the function returned stops it.
 */
async function startDemoB2b(config: Config, engine: Engine, log: Logger, status: DemoStatus | null): Promise<() => Promise<void>> {
  const { startB2bSimulator } = await import("../simulator/b2b.js");
  const simNc = engine.simulatorNats ? await connect({ ...engine.simulatorNats, name: "loyaltyd-simulator-b2b" }) : engine.nc;
  status?.simulator("enrolling");
  const started = startB2bSimulator({
    nc: simNc,
    backOffice: engine.backOffice,
    reportsPerSec: B2B_REPORTS_PER_SEC,
    distributors: B2B_DISTRIBUTORS,
    currency: config.reports.currency,
    log: (line: string) => log.info({ simulator: "b2b" }, line),
  }).then((sim) => {
    status?.simulator("running");
    log.info(`demo running: distributors submit ${B2B_REPORTS_PER_SEC} sales reports/s; Ctrl-C stops it`);
    return sim;
  });
  started.catch((err) => log.warn({ err }, "the b2b simulator stopped"));
  return async () => {
    const s = await started.catch(() => null);
    if (s) await s.stop();
    if (simNc !== engine.nc && !simNc.isClosed()) await simNc.drain();
  };
}

/** Counts the sample segments now and every 30 s: logged, and shown on the screen. */
function demoSegments(engine: Engine, log: Logger, status: DemoStatus | null): NodeJS.Timeout {
  const count = () =>
    void Promise.all(
      DEMO_SEGMENTS.map(
        (s): Promise<SegmentCount> =>
          engine.segments
            .query({ filter: s.filter as never, limit: 1, cursor: null, now: Date.now() })
            .then((r) => {
              log.info({ segment: s.name, members: r.count }, `segment "${s.name}": ${r.count} members`);
              return { name: s.short, members: r.count };
            })
            .catch(() => ({ name: s.short, members: null })),
      ),
    ).then((counts) => status?.segments(counts));
  // On the screen the first counts come at once; the log has them every 30 s, as before.
  if (status) count();
  const timer = setInterval(count, SEGMENTS_EVERY_MS);
  timer.unref();
  return timer;
}
