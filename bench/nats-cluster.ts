// A real 3-node nats-server cluster with JetStream on loopback, started from the shipped
// config/nats/cluster/n*.conf: free ports on the command line (which wins over the
// file), and the file's relative store_dir under a temp working directory. Waits for
// the JetStream meta leader; can kill and restart one node; stops every server it started.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { findNatsServer, freePort } from "../src/ingest/nats-server.js";

// From bench/ (tests, tsx) or dist/bench/ (the built bench): the repository's config/nats/cluster.
const CONFIG_DIR = resolve(import.meta.dirname, basename(dirname(import.meta.dirname)) === "dist" ? "../../config/nats/cluster" : "../config/nats/cluster");

export interface ClusterNode {
  /** server_name, from the shipped file: n1, n2, n3. */
  name: string;
  url: string;
  port: number;
  clusterPort: number;
  monitorPort: number;
  storeDir: string;
  child: ChildProcess | null;
}

export interface NatsCluster {
  nodes: ClusterNode[];
  /** Every node's client URL, comma-separated: what nats.url takes. */
  url: string;
  /** Every node's client URL, for nats.js `servers`. */
  servers: string[];
  /** Resolves once a JetStream meta leader is known to every running node; returns its name. */
  metaLeader(timeoutMs?: number): Promise<string>;
  /** The server_name leading a stream's RAFT group (from /jsz), or null while it has none. */
  streamLeader(stream: string): Promise<string | null>;
  /** SIGKILL one node and wait until it is gone. */
  kill(name: string): Promise<void>;
  /** Start a stopped or killed node again, same ports and store. */
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
}

interface Jsz {
  meta_cluster?: { leader?: string; cluster_size?: number };
  account_details?: { stream_detail?: { name: string; cluster?: { leader?: string } }[] }[];
}

async function jsz(node: ClusterNode, query = ""): Promise<Jsz | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${node.monitorPort}/jsz${query}`, { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as Jsz;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spawnNode(bin: string, node: ClusterNode, routes: string, cwd: string): ChildProcess {
  const args = [
    "-c", join(CONFIG_DIR, `${node.name}.conf`),
    "-a", "127.0.0.1", "-p", String(node.port), "-m", String(node.monitorPort),
    "--cluster", `nats://127.0.0.1:${node.clusterPort}`, "--routes", routes,
  ];
  // nats-server refuses -sd next to the file's store_dir: the file's relative one lands in cwd.
  const child = spawn(bin, args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.resume();
  // Never leave an orphan server behind, whatever way the test process ends.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  return child;
}

async function waitListening(node: ClusterNode, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await jsz(node)) === null) {
    if (node.child?.exitCode !== null && node.child?.exitCode !== undefined) throw new NodeExitedAtStart(`nats-server ${node.name} exited at start`);
    if (Date.now() > deadline) throw new Error(`nats-server ${node.name} did not start`);
    await sleep(50);
  }
}

async function stopChild(child: ChildProcess | null, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts the cluster, again on fresh ports when a node exits at start: ports are picked
 * free and then bound by nats-server, and another test process may take one in between
 * (a CI run lost a whole test file to that once). Any other failure is thrown as it is.
 */
export async function startNatsCluster(opts: { size?: 3; startTimeoutMs?: number } = {}): Promise<NatsCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNatsClusterOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof NodeExitedAtStart)) throw err;
    }
  }
}

class NodeExitedAtStart extends Error {}

async function startNatsClusterOnce(opts: { size?: 3; startTimeoutMs?: number }): Promise<NatsCluster> {
  const bin = findNatsServer();
  if (!bin) throw new Error("nats-server is not installed (npx loyaltyd setup)");
  const dir = mkdtempSync(join(tmpdir(), "loyaltyd-natscluster-"));
  const names = ["n1", "n2", "n3"].slice(0, opts.size ?? 3);
  const nodes: ClusterNode[] = [];
  for (const name of names) {
    const [port, clusterPort, monitorPort] = [await freePort(), await freePort(), await freePort()];
    const storeDir = join(dir, "nats-data", name);
    nodes.push({ name, port, clusterPort, monitorPort, storeDir, url: `nats://127.0.0.1:${port}`, child: null });
  }
  const routes = nodes.map((n) => `nats://127.0.0.1:${n.clusterPort}`).join(",");
  const timeoutMs = opts.startTimeoutMs ?? 20_000;
  const byName = (name: string): ClusterNode => {
    const n = nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  };
  const running = () => nodes.filter((n) => n.child && n.child.exitCode === null && n.child.signalCode === null);

  const cluster: NatsCluster = {
    nodes,
    url: nodes.map((n) => n.url).join(","),
    servers: nodes.map((n) => n.url),
    async metaLeader(waitMs = timeoutMs) {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const seen = await Promise.all(running().map((n) => jsz(n)));
        const leaders = new Set(seen.map((j) => j?.meta_cluster?.leader ?? ""));
        const [leader] = [...leaders];
        if (leaders.size === 1 && leader) return leader;
        if (Date.now() > deadline) throw new Error(`no JetStream meta leader agreed on: ${[...leaders].join(",")}`);
        await sleep(100);
      }
    },
    async streamLeader(stream) {
      for (const n of running()) {
        const j = await jsz(n, "?streams=true");
        for (const acc of j?.account_details ?? []) {
          for (const s of acc.stream_detail ?? []) if (s.name === stream && s.cluster?.leader) return s.cluster.leader;
        }
      }
      return null;
    },
    async kill(name) {
      const n = byName(name);
      await stopChild(n.child, "SIGKILL");
    },
    async restart(name) {
      const n = byName(name);
      await stopChild(n.child, "SIGTERM");
      n.child = spawnNode(bin, n, routes, dir);
      await waitListening(n, timeoutMs);
    },
    async stop() {
      await Promise.all(nodes.map((n) => stopChild(n.child, "SIGTERM")));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const n of nodes) n.child = spawnNode(bin, n, routes, dir);
    await Promise.all(nodes.map((n) => waitListening(n, timeoutMs)));
    await cluster.metaLeader();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
