// The machine line every bench prints first: figures are only comparable with the
// hardware, runtime and versions they were measured on.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { findNatsServer } from "../src/ingest/nats-server.js";

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  natsServer: string;
  packages: Record<string, string>;
  date: string;
  commit: string;
}

/** The repository root: the nearest folder up from this file whose package.json is loyaltyd's (works from bench/ and dist/bench/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "loyaltyd") return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

function run(cmd: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch {
    return "unknown";
  }
}

function packageVersion(root: string, name: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version?: string }).version ?? "?";
  } catch {
    return "missing";
  }
}

function gitCommit(root: string): string {
  const sha = run("git", ["rev-parse", "--short", "HEAD"], root);
  // A dirty tree is not the commit: say so, or the row misattributes the figure.
  const dirty = run("git", ["status", "--porcelain", "--untracked-files=no"], root);
  return dirty && dirty !== "unknown" ? `${sha}-dirty` : sha;
}

export function machineInfo(): MachineInfo {
  const root = repoRoot();
  const bin = findNatsServer();
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model.trim() ?? "unknown",
    cores: cpu.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    natsServer: bin ? run(bin, ["--version"]).replace(/^nats-server:\s*/, "") : "not installed",
    packages: Object.fromEntries(["nats", "lmdb", "piscina"].map((p) => [p, packageVersion(root, p)])),
    date: new Date().toISOString(),
    commit: gitCommit(root),
  };
}

/** The full line printed before the figures. */
export function machineLine(m: MachineInfo): string {
  const pkgs = Object.entries(m.packages).map(([k, v]) => `${k} ${v}`).join(", ");
  return `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, node ${m.node}, nats-server ${m.natsServer}, ${pkgs}; ${m.date}; commit ${m.commit}`;
}

/** The short form kept in each RESULTS.md row (the date and commit have their own columns). */
export function machineShort(m: MachineInfo): string {
  return `${m.cpuModel} ×${m.cores}, ${m.memoryGiB} GiB, node ${m.node}, nats-server ${m.natsServer}, nats ${m.packages.nats}, lmdb ${m.packages.lmdb}, piscina ${m.packages.piscina}`;
}
