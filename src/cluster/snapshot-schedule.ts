// When the partitions served here are snapshotted (cluster/snapshots.ts): a partition is
// due once it applied cluster.snapshotEveryCommands commands since its last snapshot, or
// applied any and its last is cluster.snapshotEveryMs old; all the partitions due go in
// one round (one pass over the ledger), one round at a time, looked for every
// limits.clusterSnapshotCheckMs. The gate tells it what each partition applied and when
// one is taken over.
import { limits } from "../limits.js";
import type { Metrics } from "../observe/metrics.js";
import type { Snapshotter } from "./snapshots.js";

interface Due {
  /** Commands applied here since the partition's latest snapshot (appended or replayed). */
  since: number;
  /** When its latest snapshot was taken here, or when this instance took it over (epoch ms). */
  at: number;
  /** No snapshot before this (epoch ms): the last round did not store one. */
  retryAt: number;
}

export interface ScheduleOptions {
  partitions: number;
  now: () => number;
  /** Whether this instance serves the partition now. */
  serves: (vp: number) => boolean;
  everyCommands?: number;
  everyMs?: number;
}

export class SnapshotSchedule {
  private readonly due: Due[];
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly snapshots: Snapshotter,
    private readonly metrics: Metrics,
    private readonly o: ScheduleOptions,
  ) {
    this.due = Array.from({ length: o.partitions }, () => ({ since: 0, at: 0, retryAt: 0 }));
  }

  /** The partition applied `n` more commands here. */
  applied(vp: number, n: number): void {
    this.due[vp]!.since += n;
  }

  /**
   * The partition was just taken over (restored or not): the count starts again and the
   * time rule counts from now, so a wave of takeovers does not snapshot everything at once
   * (the count rule still applies to what the takeover replays).
   */
  takenOver(vp: number): void {
    const d = this.due[vp]!;
    d.since = 0;
    d.at = this.o.now();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.round || this.stopped) return;
      this.round = this.take().finally(() => (this.round = null));
    }, limits.clusterSnapshotCheckMs);
    this.timer.unref();
    this.metrics.onScrape(() => {
      const now = this.o.now();
      this.due.forEach((d, vp) => {
        if (this.o.serves(vp)) this.metrics.clusterSnapshotAge.labels(String(vp)).set(Math.max(0, (now - d.at) / 1000));
        else this.metrics.clusterSnapshotAge.remove(String(vp));
      });
    });
  }

  /** Snapshots, in one round, the served partitions due (all that applied anything with `force`); resolves with those stored. */
  async take(force = false): Promise<number[]> {
    const now = this.o.now();
    const every = this.o.everyCommands ?? limits.clusterSnapshotCommandsDefault;
    const everyMs = this.o.everyMs ?? limits.clusterSnapshotMsDefault;
    const due = this.due.flatMap((d, vp) => (this.o.serves(vp) && d.since > 0 && now >= d.retryAt && (force || d.since >= every || now - d.at >= everyMs) ? [vp] : []));
    if (due.length === 0) return [];
    const counted = new Map(due.map((vp) => [vp, this.due[vp]!.since]));
    const covered = await this.snapshots.take(due);
    // Stored, or the bucket already held one as far along (a takeover's): the count starts again either way.
    for (const info of covered) {
      const d = this.due[info.vp]!;
      d.since = Math.max(0, d.since - (counted.get(info.vp) ?? 0));
      d.at = info.superseded ? Math.max(d.at, info.at) : info.at;
    }
    // Failed: not tried again for a while, so a failing bucket costs no pass over the ledger every second.
    const coveredVps = new Set(covered.map((i) => i.vp));
    for (const vp of due) if (!coveredVps.has(vp)) this.due[vp]!.retryAt = now + limits.clusterSnapshotRetryMs;
    return covered.filter((i) => !i.superseded).map((i) => i.vp);
  }

  /** Stops looking; resolves once a round under way has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.round;
  }
}
