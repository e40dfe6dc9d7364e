// Cluster mode's snapshots end to end (engines in their own processes, a real 3-node NATS
// cluster): owners snapshot their partitions into Object Store and trim the logs; when
// every instance that served the partitions is gone, a new instance with an empty data
// directory restores each partition from its snapshot and replays the log's tail (the
// log alone no longer holds the partition's beginning); an instance back on its old,
// stale data directory restores too; `loyaltyd rebuild --verify` starts from the
// snapshots. Balances equal what the terminals were told throughout.
import { rmSync } from "node:fs";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandStream } from "../../src/cluster/log.js";
import { limits } from "../../src/limits.js";
import { killHard, line, sale, tempDir, until } from "../e2e/harness.js";
import { balanceOf, cli, metricSum, post, rebuildEnv, settled as settledOf, startClusterEngine, type EngineProcess } from "./engines.js";
import { startNatsCluster, type NatsCluster } from "./harness.js";

const PARTITIONS = 4;
const CUSTOMERS = 12;
/** Snapshot a partition after this many commands: several snapshots and trims in the test. */
const EVERY = "15";

let cluster: NatsCluster;
let nc: NatsConnection;
const members: EngineProcess[] = [];

async function start(id: string, dir?: string): Promise<EngineProcess> {
  const m = await startClusterEngine(cluster, id, PARTITIONS, dir, { LOYALTYD_CLUSTER_SNAPSHOTEVERYCOMMANDS: EVERY });
  members.push(m);
  return m;
}


beforeAll(async () => {
  cluster = await startNatsCluster();
  nc = await connect({ servers: cluster.servers });
}, 60_000);

afterAll(async () => {
  for (const m of members) await killHard(m.child);
  await nc?.close();
  await cluster?.stop();
  for (const m of members) rmSync(m.dir, { recursive: true, force: true });
});

/** The first sequence each partition's log still holds. */
async function logStarts(): Promise<number[]> {
  return (await logStates()).map((s) => s.first_seq);
}

/** Each partition's log: the first and last sequences it holds. */
async function logStates(): Promise<{ first_seq: number; last_seq: number }[]> {
  const jsm = await nc.jetstreamManager();
  return Promise.all(Array.from({ length: PARTITIONS }, async (_, p) => (await jsm.streams.info(commandStream(p))).state));
}

describe("cluster mode: snapshots", () => {
  it("are stored and trim the logs; a new instance restores every partition from them after its owners died; rebuild starts from them", async () => {
    const e1 = await start("s1");
    const e2 = await start("s2");
    await settledOf([e1, e2], PARTITIONS);

    const customers: string[] = [];
    for (let i = 0; i < CUSTOMERS; i++) {
      const r = await post(i % 2 ? e1 : e2, "/v1/enroll", { requestId: `enrol-${i}`, profile: { name: `C${i}` }, card: `card-${i}` });
      expect(r.ok, JSON.stringify(r)).toBe(true);
      customers.push(r.customerId);
    }
    const earned = new Map<string, number>();
    const sell = async (via: EngineProcess, n: number) => {
      const i = n % CUSTOMERS;
      const r = await post(via, "/v1/accrue", sale(`ev-${n}`, { card: `card-${i}` }, [line("1", 1, 1000 + 100 * (n % 7))]));
      expect(r.ok, JSON.stringify(r)).toBe(true);
      earned.set(customers[i]!, (earned.get(customers[i]!) ?? 0) + r.earned);
    };
    for (let n = 0; n < 160; n++) await sell(n % 2 ? e1 : e2, n);
    // Every partition snapshotted, and its log trimmed up to its snapshot.
    await until(async () => (await metricSum(e1, "loyalty_cluster_snapshots_total", 'outcome="ok"')) + (await metricSum(e2, "loyalty_cluster_snapshots_total", 'outcome="ok"')) >= PARTITIONS, 20_000);
    await until(async () => (await logStarts()).every((first) => first > 1), 20_000);
    expect((await metricSum(e1, "loyalty_cluster_log_trimmed_messages_total")) + (await metricSum(e2, "loyalty_cluster_log_trimmed_messages_total"))).toBeGreaterThan(0);

    // Both owners die; a third instance with an empty data directory serves every partition from its snapshot and the log's tail.
    await killHard(e1.child);
    await killHard(e2.child);
    const e3 = await start("s3");
    await settledOf([e3], PARTITIONS, 45_000);
    expect(await metricSum(e3, "loyalty_cluster_restores_total", 'outcome="ok"')).toBe(PARTITIONS);
    for (const c of customers) expect(await balanceOf(e3, c), c).toBe(earned.get(c) ?? 0);
    // Re-sent events are duplicates: their idempotency records came with the snapshots or the tails.
    for (const n of [0, 1, 77, 159]) {
      const r = await post(e3, "/v1/accrue", sale(`ev-${n}`, { card: `card-${n % CUSTOMERS}` }, [line("1", 1, 1000 + 100 * (n % 7))]));
      expect(r, `ev-${n}`).toMatchObject({ ok: true, duplicate: true });
    }
    // More sales on e3 until every partition's log is trimmed past all that s1 could have
    // applied before it died (how sales fall on partitions depends on the customer ids, so
    // a fixed count may leave a quiet partition untrimmed; the bound allows one failed
    // round's clusterSnapshotRetryMs back-off); then s1 back on its old data directory:
    // behind the trimmed logs, it restores whichever partitions it takes.
    const seenByS1 = (await logStates()).map((s) => s.last_seq);
    const trimmedBy = Date.now() + limits.clusterSnapshotRetryMs + 30_000;
    for (let n = 160; n < 260 || !(await logStarts()).every((first, p) => first > seenByS1[p]!); n++) {
      expect(Date.now(), `logs not trimmed past ${seenByS1}: ${await logStarts()}`).toBeLessThan(trimmedBy);
      await sell(e3, n);
    }
    const e1b = await start("s1", e1.dir);
    await settledOf([e1b, e3], PARTITIONS, 45_000);
    expect(await metricSum(e1b, "loyalty_cluster_restores_total", 'outcome="ok"')).toBeGreaterThan(0);
    for (const m of [e1b, e3]) for (const c of customers) expect(await balanceOf(m, c), `${m.id} ${c}`).toBe(earned.get(c) ?? 0);

    // rebuild --verify: from the snapshots and the logs' tails, balance for balance the live cluster's.
    const rebuildDir = tempDir();
    const env = rebuildEnv(cluster, rebuildDir, PARTITIONS);
    try {
      const done = await cli(["rebuild", "--verify"], env);
      expect(done.code, done.stderr).toBe(0);
      const result = JSON.parse(done.stdout);
      expect(result).toMatchObject({ partitions: PARTITIONS, snapshots: PARTITIONS, customers: CUSTOMERS, mismatches: [] });
      expect(result.balancesCompared).toBeGreaterThanOrEqual(CUSTOMERS);
    } finally {
      rmSync(rebuildDir, { recursive: true, force: true });
    }
  }, 300_000);
});
