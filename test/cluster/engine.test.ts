// Engines in cluster mode on a real 3-node NATS cluster: each takes its share of the
// virtual partitions and reports the cluster on GET /v1/admin/cluster, /readyz and
// /metrics; `loyaltyd cluster status` reads the same from NATS; leaving hands over.
import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { startEngine, type Engine } from "../../src/engine.js";
import { createLogger } from "../../src/observe/logger.js";
import { ADMIN_TOKEN, BASE_PROGRAMME, EVENTS_LATE_MS_TESTS, ROOT, line, programmesDir, sale, startTestEnv, tempDir } from "../e2e/harness.js";
import { startNatsServer } from "../../src/ingest/nats-server.js";
import { startNatsCluster, type NatsCluster } from "./harness.js";

const PARTITIONS = 8;
const TIMING = { "cluster.leaseTtlMs": 2000, "cluster.renewMs": 400 };
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

let cluster: NatsCluster;
const engines = new Map<string, Engine>();

async function startMember(instanceId: string): Promise<Engine> {
  const dir = tempDir();
  const config = loadConfig({
    env: {},
    overrides: {
      "nats.url": cluster.url,
      dataDir: join(dir, "data"),
      programmesDir: programmesDir(dir, [BASE_PROGRAMME]),
      "http.port": 0,
      adminToken: ADMIN_TOKEN,
      logLevel: "silent",
      executor: "inline",
      "events.lateMsMax": EVENTS_LATE_MS_TESTS,
      "cluster.enabled": true,
      "cluster.instanceId": instanceId,
      "cluster.partitions": PARTITIONS,
      ...TIMING,
    },
  });
  const engine = await startEngine(config, createLogger("silent"));
  engines.set(instanceId, engine);
  return engine;
}

async function get(engine: Engine, path: string): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`http://127.0.0.1:${engine.httpPort}${path}`, { headers: auth });
  const text = await res.text();
  return { status: res.status, text, body: text.startsWith("{") ? JSON.parse(text) : null };
}

beforeAll(async () => {
  cluster = await startNatsCluster();
}, 60_000);

afterAll(async () => {
  for (const e of engines.values()) await e.close().catch(() => undefined);
  await cluster?.stop();
});

describe("engines in cluster mode", () => {
  it("share the virtual partitions and report who owns what, on the admin route, the CLI, /readyz and /metrics", async () => {
    const e1 = await startMember("e1");
    const e2 = await startMember("e2");
    let status: any;
    const t0 = Date.now();
    for (;;) {
      status = (await get(e1, "/v1/admin/cluster")).body;
      const owners = status.partitions.map((p: any) => p.owner);
      if (status.instances.length === 2 && owners.filter((o: string) => o === "e1").length === 4 && owners.filter((o: string) => o === "e2").length === 4) break;
      if (Date.now() - t0 > 15_000) throw new Error(`no 4/4 split: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toMatchObject({ ok: true, enabled: true, instanceId: "e1", partitionsTotal: PARTITIONS });
    expect(status.instances.map((i: any) => [i.instanceId, i.state, i.owned, i.httpPort]).sort()).toEqual([
      ["e1", "up", 4, e1.httpPort],
      ["e2", "up", 4, e2.httpPort],
    ]);
    for (const p of status.partitions) {
      expect(p.state).toBe("held");
      expect(p.leaseAgeMs).toBeGreaterThanOrEqual(0);
      expect(p.renewedAgoMs).toBeLessThan(2000);
    }
    expect(status.self.owned.map((o: any) => o.partition)).toEqual(status.partitions.filter((p: any) => p.owner === "e1").map((p: any) => p.partition));

    const ready = await get(e2, "/readyz");
    expect(ready.body.checks.cluster).toBe(true);
    // The split can be complete before e1's first renewal round: wait for one (renewMs apart).
    let metrics = "";
    for (const until = Date.now() + 10_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      metrics = (await get(e1, "/metrics")).text;
      if (/^loyalty_cluster_lease_renewals_total\{outcome="ok"\} [1-9]/m.test(metrics)) break;
    }
    expect(metrics).toMatch(/^loyalty_cluster_partitions_owned 4$/m);
    expect(metrics).toMatch(/^loyalty_cluster_instances 2$/m);
    expect(metrics).toMatch(/^loyalty_cluster_lease_changes_total\{change="acquired"\} \d+$/m);
    expect(metrics).toMatch(/^loyalty_cluster_lease_renewals_total\{outcome="ok"\} \d+$/m);

    const cli = (...args: string[]) =>
      promisify(execFile)(process.execPath, [join(ROOT, "dist/src/cli.js"), "cluster", "status", ...args], {
        env: { ...process.env, LOYALTYD_NATS_URL: cluster.url, LOYALTYD_CLUSTER_PARTITIONS: String(PARTITIONS) },
      });
    const fromCli = JSON.parse((await cli("--json")).stdout);
    expect(fromCli.partitions.map((p: any) => p.owner)).toEqual(status.partitions.map((p: any) => p.owner));
    const text = (await cli()).stdout;
    expect(text).toMatch(/^2 instance\(s\), 8 partitions$/m);
    expect(text).toMatch(/^ {2}e1 \(up, heartbeat \d+ ms ago.*\): 4 partitions [\d,-]+$/m);
  });

  it("hands a closing engine's partitions to the other before their leases would expire", async () => {
    const e1 = engines.get("e1")!;
    const t0 = Date.now();
    await engines.get("e2")!.close();
    engines.delete("e2");
    let status: any;
    for (;;) {
      status = (await get(e1, "/v1/admin/cluster")).body;
      if (status.partitions.every((p: any) => p.owner === "e1")) break;
      if (Date.now() - t0 > 10_000) throw new Error(`e1 did not take everything: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(status.instances.find((i: any) => i.instanceId === "e2")?.state ?? "gone").not.toBe("up");
  });

  it("answers enabled: false in single-node mode, and the CLI says there is no cluster state", async () => {
    const t = await startTestEnv();
    try {
      const res = await fetch(`${t.http}/v1/admin/cluster`, { headers: auth });
      expect(await res.json()).toEqual({ ok: true, enabled: false, instances: [], partitions: [] });
      const run = promisify(execFile)(process.execPath, [join(ROOT, "dist/src/cli.js"), "cluster", "status"], {
        env: { ...process.env, LOYALTYD_NATS_URL: t.nats.url },
      });
      await expect(run).rejects.toMatchObject({ code: 69, stderr: expect.stringMatching(/no cluster state in NATS/) });
    } finally {
      await t.stop();
    }
  });

  it("runs with the engine role of the shipped config/nats/accounts.conf, and so does the status command", async () => {
    const dir = tempDir("loyaltyd-cluster-auth-");
    // Plain-text passwords are fine for a test; the shipped file wants bcrypt hashes.
    const accounts = readFileSync(join(ROOT, "config/nats/accounts.conf"), "utf8").replace(/password: "\$2a\$11\$REPLACE[^"]*"/g, 'password: "test-pass"');
    writeFileSync(join(dir, "accounts.conf"), accounts);
    writeFileSync(join(dir, "server.conf"), "include ./accounts.conf\n");
    const nats = await startNatsServer({ storeDir: join(dir, "js"), configFile: join(dir, "server.conf") });
    const url = `nats://loyaltyd:test-pass@127.0.0.1:${nats.port}`;
    const overrides = {
      "nats.url": url, dataDir: join(dir, "data"), programmesDir: programmesDir(dir, [BASE_PROGRAMME]), "http.port": 0, adminToken: ADMIN_TOKEN,
      logLevel: "silent", executor: "inline", "cluster.enabled": true, "cluster.instanceId": "solo", "cluster.partitions": 4, "cluster.replicas": 1,
      "cluster.snapshotEveryCommands": 1, "events.lateMsMax": EVENTS_LATE_MS_TESTS, ...TIMING,
    };
    const engine = await startEngine(loadConfig({ env: {}, overrides }), createLogger("silent"));
    let closed = false;
    try {
      const t0 = Date.now();
      let status: any;
      do {
        status = (await get(engine, "/v1/admin/cluster")).body;
        if (Date.now() - t0 > 10_000) throw new Error(JSON.stringify(status));
        await new Promise((r) => setTimeout(r, 100));
      } while (!status.partitions.every((p: any) => p.owner === "solo"));
      const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, "dist/src/cli.js"), "cluster", "status", "--json"], {
        env: { ...process.env, LOYALTYD_NATS_URL: url, LOYALTYD_CLUSTER_PARTITIONS: "4" },
      });
      expect(JSON.parse(stdout).partitions.map((p: any) => p.owner)).toEqual(["solo", "solo", "solo", "solo"]);
      // The role may append to the command logs, claim in the identity directory and, for the
      // next instance on an empty data directory, replay the logs and follow the directory.
      const send = async (e: Engine, path: string, body: unknown) =>
        (await fetch(`http://127.0.0.1:${e.httpPort}${path}`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify(body) })).json();
      const enrolled: any = await send(engine, "/v1/enroll", { requestId: "auth-enrol", profile: { phone: "+48601999001" }, card: "AUTH-1" });
      expect(enrolled.ok, JSON.stringify(enrolled)).toBe(true);
      const sold: any = await send(engine, "/v1/accrue", sale("auth-sale", { phone: "+48601999001" }, [line("1", 1, 2500)]));
      expect(sold).toMatchObject({ ok: true, customerId: enrolled.customerId, earned: 25 });
      // ... change the back office every instance shares ...
      const offer = await fetch(`http://127.0.0.1:${engine.httpPort}/v1/admin/voucher-offers/AUTH`, { method: "PUT", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify({ name: "auth", pointsCost: 5, kind: "amount", value: 100, currency: "EUR", validDays: 10 }) });
      expect(offer.status, await offer.clone().text()).toBe(200);
      // ... count a reward's stock in the cluster's bucket ...
      const reward = await fetch(`http://127.0.0.1:${engine.httpPort}/v1/admin/rewards/AUTH-R`, { method: "PUT", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify({ name: "auth", pointsPrice: 5, stock: 1 }) });
      expect(reward.status, await reward.clone().text()).toBe(200);
      const redeemed: any = await send(engine, "/v1/redeemReward", { requestId: "auth-redeem-1", customer: { card: "AUTH-1" }, rewardId: "AUTH-R" });
      expect(redeemed, JSON.stringify(redeemed)).toMatchObject({ ok: true, approved: true });
      expect(await send(engine, "/v1/redeemReward", { requestId: "auth-redeem-2", customer: { card: "AUTH-1" }, rewardId: "AUTH-R" })).toMatchObject({ ok: true, approved: false, reason: "OUT_OF_STOCK" });
      // ... store the partitions' snapshots in Object Store and trim the logs (a snapshot after every command here) ...
      const counted = async (e: Engine, name: string) => ((await e.metrics.registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.outcome === "ok")?.value ?? 0);
      const trimmed = async () => (await engine.metrics.registry.getSingleMetric("loyalty_cluster_log_trimmed_messages_total")!.get()).values[0]?.value ?? 0;
      const t2 = Date.now();
      // A snapshot is counted once stored, and its log trimmed right after: wait for both.
      while ((await counted(engine, "loyalty_cluster_snapshots_total")) < 1 || (await trimmed()) === 0) {
        if (Date.now() - t2 > 10_000) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await counted(engine, "loyalty_cluster_snapshots_total"), "snapshots stored under the engine role").toBeGreaterThan(0);
      expect(await trimmed(), "log messages trimmed under the engine role").toBeGreaterThan(0);
      await engine.close();
      closed = true;
      const fresh = await startEngine(loadConfig({ env: {}, overrides: { ...overrides, dataDir: join(dir, "data2") } }), createLogger("silent"));
      try {
        let balance: any;
        const t1 = Date.now();
        do {
          balance = await send(fresh, "/v1/balance", { customer: { card: "AUTH-1" } });
          if (Date.now() - t1 > 20_000) throw new Error(JSON.stringify(balance));
          if (!balance.ok) await new Promise((r) => setTimeout(r, 100));
        } while (!balance.ok);
        expect(balance).toMatchObject({ customerId: enrolled.customerId, accounts: [{ account: "points", balance: 25, available: 20 }] });
        // ... and restore them on the next instance, which has the back office too.
        const t3 = Date.now();
        while ((await fetch(`http://127.0.0.1:${fresh.httpPort}/v1/admin/voucher-offers/AUTH`, { headers: auth })).status !== 200) {
          if (Date.now() - t3 > 10_000) throw new Error("the back office did not reach the next instance under the engine role");
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(await counted(fresh, "loyalty_cluster_restores_total")).toBeGreaterThanOrEqual(1);
      } finally {
        await fresh.close();
      }
    } finally {
      if (!closed) await engine.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
