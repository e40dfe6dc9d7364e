// Cluster mode's figures on this machine, each case on a fresh 3-node NATS cluster on
// loopback (bench/nats-cluster.ts, R3 streams): rpc.accrue at 1 and 64 in flight
// against one engine in single-node mode, one engine in cluster mode and three; the
// replication cost per command (the log append histogram); takeover after kill -9 of one
// of three engines under load; and how fast an engine with an empty data directory
// rebuilds every partition from the logs.
// Run: node dist/bench/cluster.js
//   CLUSTER_CUSTOMERS (2000), CLUSTER_SECONDS (10, per load run), CLUSTER_RUNS (3), CLUSTER_PARTITIONS (16)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { createClient } from "../src/client/index.js";
import { enrolAll, engineCli, salesGenerator, runTag, startEngine, type Engine } from "./engine.js";
import { requestLoad } from "./load.js";
import { machineInfo, machineLine, repoRoot } from "./machine.js";
import { startNatsCluster, type NatsCluster } from "./nats-cluster.js";
import { median } from "./stats.js";

const CUSTOMERS = Number(process.env.CLUSTER_CUSTOMERS ?? 2000);
const SECONDS = Number(process.env.CLUSTER_SECONDS ?? 10);
const RUNS = Number(process.env.CLUSTER_RUNS ?? 3);
const PARTITIONS = Number(process.env.CLUSTER_PARTITIONS ?? 16);
const root = repoRoot();
const cli = engineCli();
const log = (line: string) => console.log(line);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const clusterEnv = (id: string): Record<string, string> => ({
  LOYALTYD_CLUSTER_ENABLED: "true",
  LOYALTYD_CLUSTER_INSTANCEID: id,
  LOYALTYD_CLUSTER_PARTITIONS: String(PARTITIONS),
});

async function metric(e: Engine, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${e.httpPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

/** Until the engines serve every partition between them (logs replayed); ms waited. */
async function served(engines: Engine[], timeoutMs = 120_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const counts = await Promise.all(engines.map((e) => metric(e, "loyalty_cluster_partitions_serving").catch(() => 0)));
    if (counts.reduce((a, b) => a + b, 0) === PARTITIONS) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`partitions served: ${counts.join("+")} of ${PARTITIONS}`);
    await sleep(50);
  }
}

interface LoadFigures {
  c1p50: number;
  c1p99: number;
  c64perSec: number;
  c64p99: number;
  failures: number;
}

async function accrueLoad(nc: NatsConnection, tag: string): Promise<LoadFigures> {
  const gen = salesGenerator(7000, CUSTOMERS, `${tag}-${runTag()}-`, 0);
  const client = createClient({ nats: nc, retry: false });
  const base = { nc, subject: "loyalty.rpc.accrue", durationMs: SECONDS * 1000, warmupMs: 2000, body: () => new Uint8Array(), call: () => client.accrue(gen.sale()), checkOk: true };
  const c1 = await requestLoad({ ...base, concurrency: 1 });
  const c64 = await requestLoad({ ...base, concurrency: 64 });
  return { c1p50: c1.p50Ms, c1p99: c1.p99Ms, c64perSec: c64.perSec, c64p99: c64.p99Ms, failures: c1.failures + c64.failures };
}

function report(label: string, runs: LoadFigures[]): LoadFigures {
  const m = (f: (r: LoadFigures) => number) => median(runs.map(f));
  const out = { c1p50: m((r) => r.c1p50), c1p99: m((r) => r.c1p99), c64perSec: m((r) => r.c64perSec), c64p99: m((r) => r.c64p99), failures: runs.reduce((a, r) => a + r.failures, 0) };
  log(`${label}: rpc.accrue c1 p50 ${out.c1p50.toFixed(2)} ms, p99 ${out.c1p99.toFixed(2)} ms; c64 ${out.c64perSec.toFixed(0)} req/s, p99 ${out.c64p99.toFixed(1)} ms; failures ${out.failures} (medians of ${runs.length})`);
  return out;
}

async function onCluster<T>(fn: (cluster: NatsCluster, tmp: string) => Promise<T>): Promise<T> {
  const tmp = mkdtempSync(join(tmpdir(), "loyaltyd-bench-cluster-"));
  const cluster = await startNatsCluster();
  try {
    return await fn(cluster, tmp);
  } finally {
    await cluster.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function measure(label: string, engines: (cluster: NatsCluster, tmp: string) => Promise<Engine[]>, after?: (cluster: NatsCluster, tmp: string, engines: Engine[], nc: NatsConnection) => Promise<void>): Promise<LoadFigures> {
  return onCluster(async (cluster, tmp) => {
    const started = await engines(cluster, tmp);
    const nc = await connect({ servers: cluster.servers });
    try {
      await enrolAll(nc, started[0]!, CUSTOMERS, log, label);
      const runs: LoadFigures[] = [];
      for (let r = 0; r < RUNS; r++) runs.push(await accrueLoad(nc, `${label}-${r}`));
      const figures = report(label, runs);
      const appends = await Promise.all(started.map((e) => Promise.all([metric(e, "loyalty_cluster_log_append_duration_seconds_sum"), metric(e, "loyalty_cluster_log_append_duration_seconds_count"), metric(e, "loyalty_cluster_log_appends_total{outcome=\"ok\"}"), metric(e, "loyalty_cluster_logged_commands_total")])));
      const [sum, count, ok, logged] = appends.reduce((a, b) => a.map((x, i) => x + b[i]!) as typeof a, [0, 0, 0, 0]);
      if (count > 0) log(`${label}: log append (arrival to replicated) mean ${((sum / count) * 1000).toFixed(2)} ms over ${count} commands; ${(logged / Math.max(1, ok)).toFixed(1)} commands per append`);
      await after?.(cluster, tmp, started, nc);
      return figures;
    } finally {
      await nc.close();
      for (const e of started) await e.stop();
    }
  });
}

async function main(): Promise<void> {
  log(machineLine(machineInfo()));
  log(`cluster bench: ${CUSTOMERS} customers, ${PARTITIONS} virtual partitions, ${RUNS} runs of ${SECONDS} s per load, every case on a fresh 3-node NATS cluster`);

  const single = await measure("single-node engine on the cluster", async (cluster, tmp) => [await startEngine(cli, cluster.nodes[0]!.url, join(tmp, "e1"), root)]);

  const one = await measure("cluster mode, 1 instance", async (cluster, tmp) => {
    const e = await startEngine(cli, cluster.url, join(tmp, "e1"), root, { env: clusterEnv("e1") });
    await served([e]);
    return [e];
  });

  const three = await measure(
    "cluster mode, 3 instances",
    async (cluster, tmp) => {
      const es = [];
      for (const id of ["e1", "e2", "e3"]) es.push(await startEngine(cli, cluster.url, join(tmp, id), root, { env: clusterEnv(id) }));
      await served(es);
      return es;
    },
    async (cluster, tmp, engines, nc) => {
      // Takeover: kill -9 one of three under rpc load at 8 in flight; the longest wait for a reply, and when every partition is served again.
      const gen = salesGenerator(8000, CUSTOMERS, `takeover-${runTag()}-`, 0);
      const client = createClient({ nats: nc, retry: false });
      let stop = false;
      let worst = 0;
      let failures = 0;
      const workers = Array.from({ length: 8 }, async () => {
        while (!stop) {
          const sale = gen.sale();
          const t0 = performance.now();
          for (;;) {
            try {
              await client.accrue(sale);
              break;
            } catch {
              failures++;
              if (stop) break;
              await sleep(50);
            }
          }
          worst = Math.max(worst, performance.now() - t0);
        }
      });
      await sleep(2000);
      worst = 0;
      const killedAt = performance.now();
      engines[1]!.child.kill("SIGKILL");
      const live = [engines[0]!, engines[2]!];
      await served(live);
      const takeoverMs = performance.now() - killedAt;
      await sleep(1000);
      stop = true;
      await Promise.all(workers);
      log(`takeover: kill -9 of 1 of 3 engines under rpc load (8 in flight): every partition served again after ${takeoverMs.toFixed(0)} ms (lease TTL 6000 ms); longest wait of a terminal for its reply ${worst.toFixed(0)} ms; ${failures} tries refused or timed out and retried`);

      // Rebuild: every engine stopped; one with an empty data directory replays every partition's log.
      for (const e of live) await e.stop();
      const replayed0 = Date.now();
      const fresh = await startEngine(cli, cluster.url, join(tmp, "rebuild"), root, { env: clusterEnv("rebuild") });
      await served([fresh], 600_000);
      const ms = Date.now() - replayed0;
      const commands = await metric(fresh, "loyalty_cluster_replayed_commands_total");
      // The replays themselves: from the first partition's start to the last one served, by the engine's own log lines.
      const replays = fresh
        .tail()
        .split("\n")
        .flatMap((l) => (l.includes("virtual partition served here") ? [JSON.parse(l) as { time: number; ms: number; replayed: number }] : []));
      const window = replays.length ? Math.max(...replays.map((r) => r.time)) - Math.min(...replays.map((r) => r.time - r.ms)) : NaN;
      log(`rebuild: an engine with an empty data directory served all ${PARTITIONS} partitions ${(ms / 1000).toFixed(1)} s after it was started (start-up and lease rounds included), having replayed ${commands} commands in ${(window / 1000).toFixed(1)} s of replay: ${((window / Math.max(1, commands)) * 1000).toFixed(0)} s per million commands`);
      await fresh.stop();
    },
  );

  log("");
  log(`| | rpc accrue c1 p50 | c1 p99 | c64 req/s | c64 p99 |`);
  log(`|---|---|---|---|---|`);
  for (const [label, f] of [["single-node engine", single], ["cluster mode, 1 instance", one], ["cluster mode, 3 instances", three]] as const) {
    log(`| ${label} | ${f.c1p50.toFixed(2)} ms | ${f.c1p99.toFixed(2)} ms | ${f.c64perSec.toFixed(0)} | ${f.c64p99.toFixed(1)} ms |`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
