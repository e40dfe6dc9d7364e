#!/usr/bin/env node
// Entry point: `loyaltyd serve | demo | setup | new-token | hash-token | backup | restore | cluster status | rebuild`
// (src/cli/usage.ts declares them). Parses arguments and dispatches, nothing else.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { BackupError, backupLedger, restoreLedger } from "./admin/backup.js";
import { runEngine } from "./cli/run.js";
import { packageVersion, parseCommandLine } from "./cli/usage.js";
import { newToken, sha256Hex } from "./config/credentials.js";
import { ConfigError, loadConfig, type Config } from "./config/config.js";
import { StoreFormatError } from "./ledger/store.js";
import { DataDirLockedError } from "./config/lock.js";
import { findNatsServer } from "./ingest/nats-server.js";
import { ensureAll, ensureNatsServer } from "./setup.js";

async function main(): Promise<number> {
  const version = packageVersion();
  const parsed = parseCommandLine(process.argv.slice(2), version);
  if (parsed.kind === "print") {
    (parsed.toStderr ? console.error : console.log)(parsed.text);
    return parsed.exitCode;
  }
  const { command, values } = parsed;
  if (command === "setup") return ensureAll((s) => console.log(s), { browser: values.browser === true }) ? 0 : 1;
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
    const config = readConfig(values.config, {});
    const dir = command === "backup" ? values.to! : values.from!;
    return typeof config === "number" ? config : backupCommand(command, config, resolve(dir));
  }
  if (command === "cluster") {
    const config = readConfig(values.config, {});
    if (typeof config === "number") return config;
    const { clusterStatusCommand } = await import("./cluster/command.js");
    return clusterStatusCommand(config, values.json === true);
  }
  if (command === "rebuild") {
    const config = readConfig(values.config, {});
    return typeof config === "number" ? config : rebuildCommand(config, values.verify === true);
  }
  let config = readConfig(values.config, command === "demo" ? demoOverrides() : {});
  if (typeof config === "number") return config;
  // The demo's operator console needs an operator: with none configured, a token for this run only (printed with the console's address).
  let consoleToken: string | null = null;
  if (command === "demo" && config.adminToken === null && config.admin.operatorsFile === null) {
    consoleToken = newToken().token;
    config = readConfig(values.config, { ...demoOverrides(), adminToken: consoleToken });
    if (typeof config === "number") return config;
  }
  if (!config.nats.url && !findNatsServer() && !ensureNatsServer((s) => console.error(s))) return 69;
  // The live screen is for a person at a terminal; a pipe, a file or a supervisor gets JSON lines.
  const screen = command === "demo" && (values.log ?? (process.stdout.isTTY ? "screen" : "json")) === "screen";
  return runEngine(config, version, screen, consoleToken);
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

/** Prints the rebuild's figures as JSON: exit 0, 65 when --verify found a balance that differs, 69 / 78 as the usage says. */
async function rebuildCommand(config: Config, verify: boolean): Promise<number> {
  const { rebuild, RebuildRefused } = await import("./cluster/rebuild.js");
  try {
    const result = await rebuild(config, { verify, log: (line) => console.error(line) });
    console.log(JSON.stringify(result, null, 2));
    return (result.mismatches?.length ?? 0) > 0 ? 65 : 0;
  } catch (err) {
    if (err instanceof RebuildRefused) {
      console.error(`rebuild refused: ${err.message}`);
      return /cannot reach NATS/.test(err.message) ? 69 : 78;
    }
    throw err;
  }
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
