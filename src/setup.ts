// `loyaltyd setup`: makes sure Debian's nats-server is installed (as root it installs
// it with apt-get; otherwise it prints the exact command to run).
import { spawnSync } from "node:child_process";
import { findNatsServer } from "./ingest/nats-server.js";

function run(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return r.status === 0;
}

export function ensureNatsServer(print: (s: string) => void): boolean {
  const found = findNatsServer();
  if (found) {
    print(`nats-server: ${found}`);
    return true;
  }
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const hasSudo = spawnSync("sh", ["-c", "command -v sudo"], { stdio: "ignore" }).status === 0;
  const prefix = isRoot ? [] : hasSudo ? ["sudo", "-n"] : null;
  if (!prefix) {
    print("nats-server is missing. Install it with:  sudo apt-get install -y nats-server   (Debian package)");
    return false;
  }
  print("nats-server is missing: installing Debian's nats-server package");
  const apt = (args: string[]) => (prefix.length ? run(prefix[0]!, [...prefix.slice(1), "apt-get", ...args]) : run("apt-get", args));
  const ok = apt(["install", "-y", "-q", "nats-server"]) || (apt(["update", "-q"]) && apt(["install", "-y", "-q", "nats-server"]));
  if (!ok || !findNatsServer()) {
    print("could not install nats-server. Run:  apt-get update && apt-get install -y nats-server");
    return false;
  }
  print(`nats-server: ${findNatsServer()}`);
  return true;
}
