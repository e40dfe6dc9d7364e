// When partitions are snapshotted: a round that finds the bucket already holding a snapshot
// as far along (as right after a takeover restored it) counts the partition as covered, so
// its count starts again and the next snapshot comes with the next commands; a round that
// failed is not tried again before limits.clusterSnapshotRetryMs. The bucket's side runs
// against a real nats-server's Object Store.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { limits } from "../../src/limits.js";
import { createMetrics } from "../../src/observe/metrics.js";
import { startNatsServer } from "../../src/ingest/nats-server.js";
import { SnapshotSchedule } from "../../src/cluster/snapshot-schedule.js";
import { SnapshotStore, type SnapshotRound, type Snapshotter } from "../../src/cluster/snapshots.js";

/** A snapshotter whose rounds answer as told, per partition: "stored", "superseded" or "failed". */
function fakeSnapshotter(answer: (vp: number) => "stored" | "superseded" | "failed", at: () => number) {
  const rounds: number[][] = [];
  const snapshots = {
    async take(vps: number[]): Promise<SnapshotRound[]> {
      rounds.push(vps);
      return vps.flatMap((vp) => {
        const a = answer(vp);
        if (a === "failed") return [];
        return [{ vp, pos: 100, at: at(), instanceId: "x", records: 1, bytes: 1, revision: 1, superseded: a === "superseded" }];
      });
    },
  } as unknown as Snapshotter;
  return { snapshots, rounds };
}

describe("the snapshot schedule", () => {
  it("starts a partition's count again when the bucket already holds a snapshot as far along, and waits clusterSnapshotRetryMs after a failure", async () => {
    let now = 1_000_000;
    const { snapshots, rounds } = fakeSnapshotter((vp) => (vp === 0 ? "superseded" : vp === 1 ? "failed" : "stored"), () => now);
    const schedule = new SnapshotSchedule(snapshots, createMetrics(), { partitions: 3, now: () => now, serves: () => true, everyCommands: 10, everyMs: 3_600_000 });
    for (const vp of [0, 1, 2]) schedule.applied(vp, 10);
    // Superseded is not "stored": the round's answer names only vp 2.
    expect(await schedule.take()).toEqual([2]);
    expect(rounds).toEqual([[0, 1, 2]]);

    // Nothing due until a partition applies enough again: vp 0's count started again, as vp 2's.
    now += 1000;
    schedule.applied(0, 9);
    schedule.applied(2, 9);
    expect(await schedule.take()).toEqual([]);
    expect(rounds).toHaveLength(1);
    schedule.applied(0, 1);
    schedule.applied(2, 1);
    expect(await schedule.take()).toEqual([2]);
    // vp 0 is due again at once (no back-off after a superseded round); vp 1 failed and waits.
    expect(rounds[1]).toEqual([0, 2]);

    now += limits.clusterSnapshotRetryMs;
    expect(await schedule.take()).toEqual([]);
    expect(rounds[2]).toEqual([1]);
  });

  it("the bucket answers a snapshot no further along than its own with the one it holds, stored false", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loyaltyd-snap-schedule-"));
    const nats = await startNatsServer({ storeDir: join(dir, "js") });
    const nc = await connect({ servers: nats.url });
    try {
      const bucket = await SnapshotStore.open(nc, { replicas: 1 });
      const file = join(dir, "vp-3.snap");
      writeFileSync(file, "snapshot bytes");
      const first = await bucket.put(3, { vp: 3, file, pos: 2048, records: 1, bytes: 14 }, 111, "s1");
      expect(first).toMatchObject({ stored: true, info: { vp: 3, pos: 2048, at: 111, instanceId: "s1" } });
      // As far along (a takeover's first round): nothing stored, the bucket's own returned.
      const same = await bucket.put(3, { vp: 3, file, pos: 2048, records: 1, bytes: 14 }, 222, "s2");
      expect(same).toMatchObject({ stored: false, info: { pos: 2048, at: 111, instanceId: "s1" } });
      const behind = await bucket.put(3, { vp: 3, file, pos: 1024, records: 1, bytes: 14 }, 333, "s2");
      expect(behind).toMatchObject({ stored: false, info: { pos: 2048, instanceId: "s1" } });
      const further = await bucket.put(3, { vp: 3, file, pos: 3072, records: 1, bytes: 14 }, 444, "s2");
      expect(further).toMatchObject({ stored: true, info: { pos: 3072, at: 444, instanceId: "s2" } });
      expect(await bucket.latest(3)).toMatchObject({ pos: 3072, instanceId: "s2" });
    } finally {
      await nc.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
