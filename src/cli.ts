#!/usr/bin/env node
// Entry point: `loyaltyd serve | demo | setup | new-token | hash-token | backup | restore`. Parses arguments, nothing else.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { connect } from "nats";
import { BackupError, backupLedger, restoreLedger } from "./admin/backup.js";
import { newToken, sha256Hex } from "./config/credentials.js";
import { ConfigError, loadConfig, type Config } from "./config/config.js";
import { startEngine } from "./engine.js";
import { NatsRefusedError } from "./ingest/nats-connect.js";
import { StoreFormatError, isStorageRefusal } from "./ledger/store.js";
import { DataDirLockedError } from "./config/lock.js";
import { createLogger } from "./observe/logger.js";
import { ensureAll, ensureNatsServer } from "./setup.js";

const USAGE = `usage: loyaltyd <command> [--config FILE]

commands:
  serve               run the engine (no nats.url configured: starts its own nats-server with JetStream)
  demo                the embedded default plus the built-in POS simulator
  setup               install Debian's nats-server and prometheus (with promtool) when missing
  new-token           print a new random API key or operator token and its SHA-256, as JSON
  hash-token          print the SHA-256 (hex) of the token read from stdin, for a keys or operators file
  backup --to DIR     copy dataDir's ledger into DIR (new or empty) with a manifest; the engine may be running
  restore --from DIR  with the engine stopped: verify the backup in DIR and put it in place of dataDir's ledger;
                      the next start replays LOYALTY_EVENTS after what the backup covers

Every config key can also be set by an environment variable: LOYALTYD_ + the key
upper-cased with dots as underscores (LOYALTYD_HTTP_PORT, LOYALTYD_NATS_URL, ...).`;

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      config: { type: "string", short: "c" },
      help: { type: "boolean", short: "h" },
      to: { type: "string" },
      from: { type: "string" },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  if (command === "setup") return ensureAll((s) => console.log(s)) ? 0 : 1;
  if (command === "new-token") {
    console.log(JSON.stringify(newToken()));
    return 0;
  }
  // From stdin, not an argument: a token on the command line would stay in the shell's history and in ps.
  if (command === "hash-token") {
    const token = readFileSync(0, "utf8").replace(/\r?\n$/, "");
    if (!token) {
      console.error("hash-token: give the token on stdin");
      return 2;
    }
    console.log(sha256Hex(token));
    return 0;
  }
  if (command === "backup" || command === "restore") {
    const dir = command === "backup" ? values.to : values.from;
    if (!dir) {
      console.error(`${command} needs ${command === "backup" ? "--to DIR" : "--from DIR"}\n\n${USAGE}`);
      return 2;
    }
    const config = readConfig(values.config, {});
    return typeof config === "number" ? config : backupCommand(command, config, resolve(dir));
  }
  if (command !== "serve" && command !== "demo") {
    console.error(`unknown command ${command}\n\n${USAGE}`);
    return 2;
  }
  const config = readConfig(values.config, command === "demo" ? demoOverrides() : {});
  if (typeof config === "number") return config;
  if (!config.nats.url && !ensureNatsServer((s) => console.error(s))) return 69;
  const log = createLogger(config.logLevel);
  process.on("unhandledRejection", (reason) => {
    // lmdb-js rejects a second promise with the cause of a failed commit: a full disk is
    // answered where the write was made (UNAVAILABLE), not a reason to stop.
    if (isStorageRefusal(reason)) return void log.warn({ err: reason }, "a ledger write was refused by the storage");
    log.fatal({ err: reason }, "unhandled rejection; exiting");
    setTimeout(() => process.exit(70), 100);
  });
  let engine: Awaited<ReturnType<typeof startEngine>>;
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
  let stopSimulator: (() => Promise<void>) | null = null;
  if (config.simulator) {
    const { startSimulator } = await import("./simulator/simulator.js");
    // On the embedded server the simulator is a terminal with its own user; elsewhere it shares the engine's connection.
    const simNc = engine.simulatorNats ? await connect({ ...engine.simulatorNats, name: "loyaltyd-simulator" }) : engine.nc;
    const sim = await startSimulator({
      nc: simNc,
      ratePerSec: config.simulatorRate,
      customers: config.simulatorCustomers,
      log: (line: string) => log.info({ simulator: true }, line),
    });
    const segmentsTimer = demoSegments(engine, log);
    stopSimulator = async () => {
      clearInterval(segmentsTimer);
      await sim.stop();
      if (simNc !== engine.nc) await simNc.drain();
    };
    log.info(
      { metrics: `http://${config.http.host}:${engine.httpPort}/metrics` },
      `demo running: ${config.simulatorRate} POS events/s; Ctrl-C stops it`,
    );
  }
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  log.info("shutting down");
  if (stopSimulator) await stopSimulator();
  await engine.close();
  return 0;
}

/** The configuration, or the exit code after saying what is wrong with it. */
function readConfig(file: string | undefined, overrides: Record<string, unknown>): Config | number {
  try {
    return loadConfig({ file, overrides });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 78;
    }
    throw err;
  }
}

/** Prints what was written as JSON; a backup that cannot be taken or trusted exits 65, a dataDir in use 78. */
async function backupCommand(command: "backup" | "restore", config: Config, dir: string): Promise<number> {
  try {
    const result = command === "backup" ? await backupLedger(config.dataDir, dir) : await restoreLedger(config.dataDir, dir);
    console.log(JSON.stringify(result, null, 2));
    return 0;
  } catch (err) {
    if (err instanceof BackupError || err instanceof StoreFormatError) {
      console.error(`${command} failed: ${err.message}`);
      return 65;
    }
    if (err instanceof DataDirLockedError) {
      console.error(`${command} refused: ${err.message}`);
      return 78;
    }
    throw err;
  }
}

/** Sample segments the demo counts every 30 s, as a marketer would query them (POST /v1/admin/segments/query). */
const DEMO_SEGMENTS: { name: string; filter: Record<string, unknown> }[] = [
  { name: "e-mail consent, birthday within 30 days", filter: { all: [{ consent: "email" }, { birthdayWithinDays: 30 }] } },
  { name: "100 points or more, no SMS consent", filter: { all: [{ balance: { gte: 100 } }, { not: { consent: "sms" } }] } },
];

function demoSegments(engine: Awaited<ReturnType<typeof startEngine>>, log: ReturnType<typeof createLogger>): NodeJS.Timeout {
  const timer = setInterval(() => {
    for (const s of DEMO_SEGMENTS) {
      engine.segments
        .query({ filter: s.filter as never, limit: 1, cursor: null, now: Date.now() })
        .then((r) => log.info({ segment: s.name, members: r.count }, `segment "${s.name}": ${r.count} members`))
        .catch(() => undefined);
    }
  }, 30_000);
  timer.unref();
  return timer;
}

/** The demo: everything embedded, the simulator on, unless the environment says otherwise. */
function demoOverrides(): Record<string, unknown> {
  const env = process.env;
  const o: Record<string, unknown> = {};
  if (env.LOYALTYD_SIMULATOR === undefined) o.simulator = true;
  return o;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
