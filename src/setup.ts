// `loyaltyd setup`: makes sure the Debian packages the engine and its tests run against are
// installed — nats-server (the engine's embedded default) and prometheus (its `prometheus` and
// `promtool`, which the alert and dashboard tests run) and, with --browser, chromium (the console's
// browser tests drive it). As root it installs what is missing with apt-get; otherwise it prints
// the exact command to run.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { findNatsServer } from "./ingest/nats-server.js";

const SYSTEM_BIN_DIRS = ["/usr/sbin", "/usr/bin", "/usr/local/bin"];

/** Path of an executable on PATH or in the usual system directories, or null. */
export function findExecutable(name: string): string | null {
  const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), ...SYSTEM_BIN_DIRS];
  for (const dir of dirs) {
    if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

interface DebianTool {
  /** The Debian package that ships it. */
  pkg: string;
  /** Each executable the package must provide, with how to find it. */
  bins: Array<{ name: string; find: () => string | null }>;
}

const NATS_SERVER: DebianTool = { pkg: "nats-server", bins: [{ name: "nats-server", find: findNatsServer }] };
const PROMETHEUS: DebianTool = {
  pkg: "prometheus",
  bins: [
    { name: "prometheus", find: () => findExecutable("prometheus") },
    { name: "promtool", find: () => findExecutable("promtool") },
  ],
};

/** Debian's Chromium: test/browser drives it through playwright-core (no browser is ever downloaded). */
const CHROMIUM: DebianTool = { pkg: "chromium", bins: [{ name: "chromium", find: () => findExecutable("chromium") }] };

function run(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return r.status === 0;
}

function allFound(tool: DebianTool): boolean {
  return tool.bins.every((b) => b.find() !== null);
}

function printFound(tool: DebianTool, print: (s: string) => void): void {
  for (const b of tool.bins) print(`${b.name}: ${b.find()}`);
}

/** Installs the tool's Debian package when one of its executables is missing. */
function ensureDebianTool(tool: DebianTool, print: (s: string) => void): boolean {
  if (allFound(tool)) {
    printFound(tool, print);
    return true;
  }
  // Without recommends: Debian's prometheus recommends node-exporter, smartmontools and more,
  // none of which the engine or its tests use.
  const install = ["install", "-y", "-q", "--no-install-recommends", tool.pkg];
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const hasSudo = spawnSync("sh", ["-c", "command -v sudo"], { stdio: "ignore" }).status === 0;
  const prefix = isRoot ? [] : hasSudo ? ["sudo", "-n"] : null;
  if (!prefix) {
    print(`${tool.pkg} is missing. Install it with:  sudo apt-get ${install.join(" ")}   (Debian package)`);
    return false;
  }
  print(`${tool.pkg} is missing: installing Debian's ${tool.pkg} package`);
  const apt = (args: string[]) => (prefix.length ? run(prefix[0]!, [...prefix.slice(1), "apt-get", ...args]) : run("apt-get", args));
  const ok = apt(install) || (apt(["update", "-q"]) && apt(install));
  if (!ok || !allFound(tool)) {
    print(`could not install ${tool.pkg}. Run:  apt-get update && apt-get ${install.join(" ")}`);
    return false;
  }
  printFound(tool, print);
  return true;
}

export function ensureNatsServer(print: (s: string) => void): boolean {
  return ensureDebianTool(NATS_SERVER, print);
}

/** Prometheus and promtool: the alert rules' unit tests and the live dashboard test run them. */
export function ensurePrometheus(print: (s: string) => void): boolean {
  return ensureDebianTool(PROMETHEUS, print);
}

/** Everything `loyaltyd setup` installs (chromium with `browser`); false when one of them could not be. */
export function ensureAll(print: (s: string) => void, options: { browser?: boolean } = {}): boolean {
  const nats = ensureNatsServer(print);
  const prometheus = ensurePrometheus(print);
  const chromium = options.browser ? ensureDebianTool(CHROMIUM, print) : true;
  return nats && prometheus && chromium;
}
