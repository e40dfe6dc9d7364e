// Takeover of a large virtual partition (issue 13's target: a partition of 100k customers
// serving again on another instance ≤ 10 s after its owner is killed). The partition's
// log is written straight to NATS (the bulk path: the very log messages an owner appends,
// an enrolment and a 5-line sale per customer), an owner replays it and, with snapshots
// on, stores its snapshot; a second instance joins and gets the other partitions; then
// the owner is killed with SIGKILL and the time until the second instance answers a
// balance of that partition is measured, with the snapshot (restore + log tail) and
// without (the whole log replayed).
//
//   node dist/bench/takeover.js      TAKEOVER_CUSTOMERS (100000), TAKEOVER_LEASE_MS (2000)
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { logMessage } from "../src/cluster/log-message.js";
import { CommandLog } from "../src/cluster/log.js";
import { affinity } from "../src/cluster/share.js";
import { encodeReply } from "../src/codec/codec.js";
import type { RawRequest } from "../src/partition/batch.js";
import { enrolRequests } from "../src/simulator/baskets.js";
import { ADMIN_TOKEN, engineCli, salesGenerator, startEngine, type Engine } from "./engine.js";
import { machineInfo, machineLine, repoRoot } from "./machine.js";
import { startNatsCluster } from "./nats-cluster.js";

const CUSTOMERS = Number(process.env.TAKEOVER_CUSTOMERS ?? 100_000);
const LEASE_MS = Number(process.env.TAKEOVER_LEASE_MS ?? 2000);
const PARTITIONS = 4;
const PER_MESSAGE = 512;
const root = repoRoot();
const cli = engineCli();
const log = (line: string) => console.log(line);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The partition instance "a" keeps when "b" joins: its highest-affinity one (cluster/share.ts gives the lowest away). */
const BIG = [...Array(PARTITIONS).keys()].sort((x, y) => affinity("a", y) - affinity("a", x))[0]!;
const customerId = (seq: number) => `cu_v${BIG.toString(36)}_${seq.toString(36).padStart(6, "0")}`;

async function metric(e: Engine, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${e.httpPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  return text
    .split("\n")
    .filter((l) => (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

async function until(what: () => Promise<boolean>, timeoutMs: number, label: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await what().catch(() => false))) {
    if (performance.now() > deadline) throw new Error(`timed out: ${label}`);
    await sleep(50);
  }
}

/** The big partition's log, written as its owner would: enrolments, then a sale per customer. */
async function writeLog(nc: NatsConnection): Promise<number> {
  const cmdLog = await CommandLog.open(nc, BIG, { replicas: 3 });
  const sales = salesGenerator(9000, CUSTOMERS, "tk-", 0);
  const json = (verb: RawRequest["verb"], body: unknown): RawRequest => ({ verb, encoding: "json", bytes: encodeReply(body as Record<string, unknown>, "json") });
  const commands: RawRequest[] = [];
  for (const req of enrolRequests(CUSTOMERS)) commands.push(json("enroll", req));
  for (let i = 0; i < CUSTOMERS; i++) commands.push(json("accrue", sales.sale()));
  for (let i = 0; i < commands.length; i += PER_MESSAGE) {
    await cmdLog.append(logMessage(commands.slice(i, i + PER_MESSAGE), Date.now(), new Uint8Array(randomBytes(16))));
  }
  return commands.length;
}

async function ownerOf(e: Engine, partition: number): Promise<string | null> {
  const res = await fetch(`http://127.0.0.1:${e.httpPort}/v1/admin/cluster`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { partitions?: { partition: number; owner: string | null }[] };
  return body.partitions?.find((p) => p.partition === partition)?.owner ?? null;
}

/** Whether `e` answers a balance of the big partition's first customer. */
async function answers(e: Engine): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${e.httpPort}/v1/balance`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ customer: { customerId: customerId(1) } }),
    signal: AbortSignal.timeout(1000),
  });
  return ((await res.json()) as { ok?: boolean }).ok === true;
}

async function scenario(label: string, snapshots: boolean): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), "loyaltyd-bench-takeover-"));
  const cluster = await startNatsCluster();
  const engines: Engine[] = [];
  const env = (id: string) => ({
    env: {
      LOYALTYD_CLUSTER_ENABLED: "true",
      LOYALTYD_CLUSTER_INSTANCEID: id,
      LOYALTYD_CLUSTER_PARTITIONS: String(PARTITIONS),
      LOYALTYD_CLUSTER_LEASETTLMS: String(LEASE_MS),
      LOYALTYD_CLUSTER_RENEWMS: String(Math.floor(LEASE_MS / 5)),
      LOYALTYD_CLUSTER_SNAPSHOTEVERYCOMMANDS: snapshots ? String(Math.min(50_000, CUSTOMERS)) : "100000000",
      LOYALTYD_CLUSTER_SNAPSHOTEVERYMS: "86400000",
    },
  });
  try {
    const nc = await connect({ servers: cluster.servers });
    const t0 = performance.now();
    const commands = await writeLog(nc);
    log(`${label}: partition ${BIG}'s log written: ${commands} commands (${CUSTOMERS} enrolments, ${CUSTOMERS} 5-line sales) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await nc.close();

    const a = await startEngine(cli, cluster.url, join(tmp, "a"), root, env("a"));
    engines.push(a);
    const r0 = performance.now();
    await until(() => answers(a), 900_000, "the first owner replays the log");
    log(`${label}: the first owner replayed the whole log and answers after ${((performance.now() - r0) / 1000).toFixed(1)} s`);
    if (snapshots) {
      await until(async () => (await metric(a, "loyalty_cluster_snapshot_duration_seconds_count")) >= 1, 300_000, "the snapshot");
      const took = await metric(a, "loyalty_cluster_snapshot_duration_seconds_sum");
      const bytes = await metric(a, "loyalty_cluster_snapshot_bytes", `partition="${BIG}"`);
      const trimmed = await metric(a, "loyalty_cluster_log_trimmed_messages_total");
      log(`${label}: snapshot of partition ${BIG} stored in ${took.toFixed(2)} s (read out and stored), ${(bytes / 1e6).toFixed(1)} MB gzip (${(bytes / CUSTOMERS).toFixed(0)} bytes per customer); log trimmed by ${trimmed} messages`);
    }
    const b = await startEngine(cli, cluster.url, join(tmp, "b"), root, env("b"));
    engines.push(b);
    await until(async () => (await metric(a, "loyalty_cluster_partitions_serving")) + (await metric(b, "loyalty_cluster_partitions_serving")) === PARTITIONS && (await metric(b, "loyalty_cluster_partitions_serving")) > 0, 120_000, "two instances share the partitions");
    const owner = await ownerOf(b, BIG);
    if (owner !== "a") throw new Error(`partition ${BIG} went to ${owner}, not a`);
    await sleep(1000);

    const killedAt = performance.now();
    a.child.kill("SIGKILL");
    await until(() => answers(b), 900_000, "the second instance serves the big partition");
    const ms = performance.now() - killedAt;
    const restore = await metric(b, "loyalty_cluster_restore_duration_seconds_sum");
    const replayed = await metric(b, "loyalty_cluster_replayed_commands_total");
    const served = b
      .tail()
      .split("\n")
      .flatMap((l) => (l.includes("virtual partition served here") ? [JSON.parse(l) as { partition: number; ms: number; replayed: number }] : []))
      .find((l) => l.partition === BIG);
    const restored = b
      .tail()
      .split("\n")
      .flatMap((l) => (l.includes("partition restored from its snapshot") ? [JSON.parse(l) as { partition: number; ms: number; fetchedMs: number; records: number; bytes: number }] : []))
      .find((l) => l.partition === BIG);
    if (restored) log(`${label}: the restore: ${restored.records} records, ${(restored.bytes / 1e6).toFixed(1)} MB fetched from the bucket in ${(restored.fetchedMs / 1000).toFixed(2)} s, written into the ledger in ${((restored.ms - restored.fetchedMs) / 1000).toFixed(2)} s`);
    log(
      `${label}: kill -9 of partition ${BIG}'s owner: served again by the other instance ${(ms / 1000).toFixed(2)} s later (lease TTL ${LEASE_MS} ms); ` +
        `its takeover took ${((served?.ms ?? NaN) / 1000).toFixed(2)} s, of which restore ${restore.toFixed(2)} s; ${replayed} commands replayed`,
    );
  } finally {
    for (const e of engines) await e.stop().catch(() => undefined);
    await cluster.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  log(machineLine(machineInfo()));
  log(`takeover bench: a partition of ${CUSTOMERS} customers (partition ${BIG} of ${PARTITIONS}), 3-node NATS cluster, R3 logs and snapshots, lease TTL ${LEASE_MS} ms`);
  await scenario("with snapshots", true);
  if (process.env.TAKEOVER_NO_BASELINE !== "1") await scenario("without snapshots", false);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
