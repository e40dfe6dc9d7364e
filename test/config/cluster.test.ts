// Cluster mode's configuration: defaults, the keys' bounds, what it needs, and nats.url
// listing a cluster's servers.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";

const URLS = "nats://10.0.0.1:4222,nats://10.0.0.2:4222, nats://10.0.0.3:4222";
const load = (overrides: Record<string, unknown>, env: Record<string, string> = {}) => loadConfig({ env, overrides });

describe("cluster configuration", () => {
  it("is off by default, with 64 partitions, R3 buckets, a 6 s lease renewed every second, snapshots every 100,000 commands or 10 minutes, logs trimmed, forwards retried 15 s", () => {
    expect(load({}).cluster).toEqual({
      enabled: false, instanceId: null, partitions: 64, replicas: 3, leaseTtlMs: 6000, renewMs: 1000,
      snapshotEveryCommands: 100_000, snapshotEveryMs: 600_000, trimLog: true, directorySweepMs: 60_000, forwardMsMax: 15_000,
    });
  });

  it("takes nats.url listing several servers, comma-separated", () => {
    expect(load({ "nats.url": URLS }).nats.url).toBe(URLS);
    expect(() => load({ "nats.url": "nats://10.0.0.1:4222,not a url" })).toThrow(/nats\.url: must be a URL or several/);
    expect(() => load({ "nats.url": "," })).toThrow(/nats\.url/);
  });

  it("reads every key from the environment", () => {
    const c = load({}, {
      LOYALTYD_NATS_URL: URLS,
      LOYALTYD_CLUSTER_ENABLED: "true",
      LOYALTYD_CLUSTER_INSTANCE_ID: "eu-1",
      LOYALTYD_CLUSTER_PARTITIONS: "128",
      LOYALTYD_CLUSTER_REPLICAS: "5",
      LOYALTYD_CLUSTER_LEASE_TTL_MS: "9000",
      LOYALTYD_CLUSTER_RENEW_MS: "3000",
      LOYALTYD_CLUSTER_SNAPSHOT_EVERY_COMMANDS: "5000",
      LOYALTYD_CLUSTER_SNAPSHOT_EVERY_MS: "60000",
      LOYALTYD_CLUSTER_TRIM_LOG: "off",
      LOYALTYD_CLUSTER_DIRECTORY_SWEEP_MS: "5000",
      LOYALTYD_CLUSTER_FORWARD_MS_MAX: "20000",
    });
    expect(c.cluster).toEqual({
      enabled: true, instanceId: "eu-1", partitions: 128, replicas: 5, leaseTtlMs: 9000, renewMs: 3000,
      snapshotEveryCommands: 5000, snapshotEveryMs: 60_000, trimLog: false, directorySweepMs: 5000, forwardMsMax: 20_000,
    });
  });

  it.each([
    [{ "cluster.enabled": true, "nats.url": URLS }, "cluster.instanceId"],
    [{ "cluster.enabled": true, "cluster.instanceId": "a" }, "cluster.enabled"],
    [{ "cluster.instanceId": "a b" }, "cluster.instanceId"],
    [{ "cluster.instanceId": "x".repeat(65) }, "cluster.instanceId"],
    [{ "cluster.partitions": 0 }, "cluster.partitions"],
    [{ "cluster.partitions": 1025 }, "cluster.partitions"],
    [{ "cluster.replicas": 2 }, "cluster.replicas"],
    [{ "cluster.snapshotEveryCommands": 0 }, "cluster.snapshotEveryCommands"],
    [{ "cluster.snapshotEveryMs": 10 }, "cluster.snapshotEveryMs"],
    [{ "cluster.directorySweepMs": 100 }, "cluster.directorySweepMs"],
    [{ "cluster.forwardMsMax": 999 }, "cluster.forwardMsMax"],
    [{ "cluster.forwardMsMax": 600_001 }, "cluster.forwardMsMax"],
    [{ "cluster.leaseTtlMs": 3000, "cluster.renewMs": 1001 }, "cluster.renewMs"],
    [{ "cluster.leaseTtlMs": 400 }, "cluster.leaseTtlMs"],
    [{ "cluster.nodes": 3 }, "cluster.nodes"],
  ])("refuses %j, naming %s", (overrides, key) => {
    expect(() => load(overrides)).toThrow(new RegExp(`invalid configuration: ${key.replace(".", "\\.")}:`));
  });
});
