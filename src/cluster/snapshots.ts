// Snapshots of virtual partitions in NATS Object Store (bucket LOYALTY_SNAPSHOTS, one
// object per partition, `vp-<p>`, replicated like the logs). The owner of a partition
// snapshots it every cluster.snapshotEveryCommands commands or cluster.snapshotEveryMs,
// then trims the partition's log up to what the snapshot holds; a new owner whose ledger
// is behind the latest snapshot restores it and replays only the log's tail, and
// `loyaltyd rebuild` starts every partition from its snapshot. The files are made and
// restored on a thread of their own (cluster/snapshot-worker.ts).
import { mkdirSync, rmSync, createReadStream, createWriteStream } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { StorageType, type NatsConnection, type ObjectInfo, type ObjectStore } from "nats";
import { Piscina } from "piscina";
import { WORKER_EXEC_ARGV } from "../partition/executor.js";
import type { Logger } from "../observe/logger.js";
import type { Metrics } from "../observe/metrics.js";
import type { PartitionFile } from "./partition-data.js";
import type { SnapshotTask, SnapshotWorkerData } from "./snapshot-worker.js";

export const SNAPSHOT_BUCKET = "LOYALTY_SNAPSHOTS";
export const snapshotName = (vp: number): string => `vp-${vp}`;

export interface SnapshotInfo {
  vp: number;
  /** The last log position the snapshot holds (a replay continues after it). */
  pos: number;
  /** When it was taken (epoch ms, the owner's clock). */
  at: number;
  instanceId: string;
  records: number;
  bytes: number;
  /** The object's revision in the bucket (its meta message's sequence). */
  revision: number;
}

/** A partition a snapshot round left covered by the bucket: its snapshot, or the one already there (`superseded`). */
export interface SnapshotRound extends SnapshotInfo {
  superseded: boolean;
}

function infoOf(vp: number, o: ObjectInfo | null): SnapshotInfo | null {
  if (!o || o.deleted) return null;
  const m = o.metadata ?? {};
  const pos = Number(m.pos);
  if (!Number.isSafeInteger(pos)) return null;
  return { vp, pos, at: Number(m.at) || 0, instanceId: m.instanceId ?? "", records: Number(m.records) || 0, bytes: o.size, revision: o.revision };
}

/** The bucket of snapshots. */
export class SnapshotStore {
  private constructor(private readonly os: ObjectStore) {}

  static async open(nc: NatsConnection, opts: { replicas: number; timeoutMs?: number }): Promise<SnapshotStore> {
    const js = nc.jetstream({ timeout: opts.timeoutMs ?? 15_000 });
    return new SnapshotStore(await js.views.os(SNAPSHOT_BUCKET, { replicas: opts.replicas, storage: StorageType.File }));
  }

  async latest(vp: number): Promise<SnapshotInfo | null> {
    return infoOf(vp, await this.os.info(snapshotName(vp)));
  }

  /**
   * Stores a partition's snapshot file unless the bucket already holds one as far along
   * (another owner's, or the one a takeover restored): then stores nothing and resolves
   * with that one, `stored` false. The object's meta message is written expecting the
   * revision read, so of two owners racing one wins.
   */
  async put(vp: number, file: PartitionFile, at: number, instanceId: string): Promise<{ info: SnapshotInfo | null; stored: boolean }> {
    const existing = await this.os.info(snapshotName(vp));
    const before = infoOf(vp, existing);
    if (before && before.pos >= file.pos) return { info: before, stored: false };
    // 0 when there is none yet: the write lands only while the object is still missing.
    const previousRevision = existing ? existing.revision : 0;
    const data = Readable.toWeb(createReadStream(file.file)) as unknown as ReadableStream<Uint8Array>;
    const meta = { pos: String(file.pos), at: String(at), instanceId, records: String(file.records) };
    const info = await this.os.put({ name: snapshotName(vp), description: `loyaltyd partition ${vp}`, metadata: meta }, data, { previousRevision });
    return { info: infoOf(vp, info), stored: true };
  }

  /** Downloads the partition's latest snapshot into `file`; null when it has none. */
  async fetch(vp: number, file: string): Promise<SnapshotInfo | null> {
    const got = await this.os.get(snapshotName(vp));
    if (!got) return null;
    await pipeline(Readable.fromWeb(got.data as never), createWriteStream(file));
    const err = await got.error;
    if (err) throw err;
    return infoOf(vp, got.info);
  }
}

function workerFile(): string {
  const here = import.meta.url;
  const url = here.endsWith(".ts") ? new URL("../../dist/src/cluster/snapshot-worker.js", here) : new URL("./snapshot-worker.js", here);
  return fileURLToPath(url);
}

/** The snapshot thread: one task at a time, stopped when idle. */
export class SnapshotThread {
  private readonly pool: Piscina;
  constructor(ledgerPath: string, partitions: number) {
    const workerData: SnapshotWorkerData = { ledgerPath, partitions };
    this.pool = new Piscina({ filename: workerFile(), minThreads: 0, maxThreads: 1, idleTimeout: 10_000, workerData, execArgv: WORKER_EXEC_ARGV });
  }
  export(vps: number[], dir: string, now: number): Promise<PartitionFile[]> {
    return this.pool.run({ op: "export", vps, dir, now } satisfies SnapshotTask) as Promise<PartitionFile[]>;
  }
  import(vp: number, file: string): Promise<{ pos: number; at: number; records: number; removed: number }> {
    return this.pool.run({ op: "import", vp, file } satisfies SnapshotTask) as Promise<{ pos: number; at: number; records: number; removed: number }>;
  }
  close(): Promise<void> {
    return this.pool.destroy();
  }
}

export interface SnapshotterOptions {
  instanceId: string;
  dataDir: string;
  now: () => number;
  /** After a snapshot is stored, drop the log messages it holds (cluster.trimLog). */
  trim: (vp: number, pos: number) => Promise<number>;
}

/** Takes and restores snapshots of this instance's partitions. */
export class Snapshotter {
  private readonly dir: string;
  private busy: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly bucket: SnapshotStore,
    private readonly thread: SnapshotThread,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly o: SnapshotterOptions,
  ) {
    this.dir = join(o.dataDir, "snapshots");
  }

  /** One at a time: a snapshot and a restore do not share the thread or the directory. */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.busy.then(f, f);
    this.busy = run.catch(() => undefined);
    return run;
  }

  private freshDir(): string {
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    return this.dir;
  }

  /**
   * Snapshots the partitions (one pass over the ledger), stores each, and trims each
   * one's log up to what its snapshot holds. Resolves with those the bucket now covers:
   * stored, or `superseded` when it already held a snapshot as far along (the log is
   * trimmed up to this file's position all the same: that snapshot holds it).
   */
  take(vps: number[]): Promise<SnapshotRound[]> {
    return this.serial(async () => {
      const started = performance.now();
      const at = this.o.now();
      let files: PartitionFile[];
      try {
        files = await this.thread.export(vps, this.freshDir(), at);
      } catch (err) {
        this.metrics.clusterSnapshots.labels("error").inc(vps.length);
        this.log.error({ err, partitions: vps }, "could not snapshot partitions");
        return [];
      }
      const covered: SnapshotRound[] = [];
      for (const f of files) {
        try {
          if (f.pos === 0) {
            this.metrics.clusterSnapshots.labels("superseded").inc();
            continue;
          }
          const { info, stored } = await this.bucket.put(f.vp, f, at, this.o.instanceId);
          if (!info) throw new Error(`partition ${f.vp}: the bucket's snapshot has no position`);
          this.metrics.clusterSnapshots.labels(stored ? "ok" : "superseded").inc();
          if (stored) this.metrics.clusterSnapshotBytes.labels(String(f.vp)).set(info.bytes);
          covered.push({ ...info, superseded: !stored });
          // Superseded: the bucket's snapshot holds at least this file's position, so the log may go up to it all the same.
          const trimmed = await this.o.trim(f.vp, f.pos);
          const what = stored ? "partition snapshot stored" : "partition snapshot not stored: the bucket holds one as far along";
          this.log.info({ partition: f.vp, pos: f.pos, records: f.records, bytes: info.bytes, bucketPos: info.pos, trimmed }, what);
        } catch (err) {
          this.metrics.clusterSnapshots.labels("error").inc();
          this.log.error({ err, partition: f.vp }, "could not store the partition's snapshot");
        }
      }
      this.metrics.clusterSnapshotDuration.observe((performance.now() - started) / 1000);
      rmSync(this.dir, { recursive: true, force: true });
      return covered;
    });
  }

  /**
   * Restores the partition's latest snapshot when it is further along than this ledger
   * (`localPos`), or when a restore here was cut short. Resolves with the snapshot
   * restored, or null when the ledger's own state goes on.
   */
  restore(vp: number, localPos: number, cutShort: boolean): Promise<SnapshotInfo | null> {
    return this.serial(async () => {
      const latest = await this.bucket.latest(vp);
      if (!latest || (!cutShort && latest.pos <= localPos)) {
        if (cutShort) throw new Error(`partition ${vp}: a restore here was cut short and the bucket has no snapshot of it`);
        return null;
      }
      const started = performance.now();
      try {
        const file = join(this.freshDir(), `${vp}.snap`);
        const got = await this.bucket.fetch(vp, file);
        if (!got) throw new Error(`partition ${vp}: its snapshot went away`);
        const fetchedMs = Math.round(performance.now() - started);
        const done = await this.thread.import(vp, file);
        const ms = Math.round(performance.now() - started);
        this.metrics.clusterRestores.labels("ok").inc();
        this.metrics.clusterRestoreDuration.observe(ms / 1000);
        this.log.info({ partition: vp, pos: done.pos, records: done.records, removed: done.removed, bytes: got.bytes, fetchedMs, ms }, "partition restored from its snapshot");
        return got;
      } catch (err) {
        this.metrics.clusterRestores.labels("error").inc();
        throw err;
      } finally {
        rmSync(this.dir, { recursive: true, force: true });
      }
    });
  }

  /** The partition's latest snapshot in the bucket, if any. */
  latest(vp: number): Promise<SnapshotInfo | null> {
    return this.bucket.latest(vp);
  }

  async close(): Promise<void> {
    await this.busy;
    await this.thread.close();
  }
}
