// Membership and partition ownership in cluster mode: this instance's heartbeat in
// LOYALTY_INSTANCES, and a lease per virtual partition in LOYALTY_LEASES, taken,
// renewed, given up and lost by revision-checked writes. Two loops: renewals (and the
// heartbeat), and rounds that read the cluster and rebalance (share.ts decides).
// docs/operations.md, Scale-out, explains the protocol and the fencing it leaves to the log.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { ErrorCode, NatsError, type NatsConnection } from "nats";
import { limits } from "../limits.js";
import type { Logger } from "../observe/logger.js";
import type { Metrics } from "../observe/metrics.js";
import {
  encodeRecord, isWrongRevision, openBuckets, readInstances, readLeases, writeLease,
  type Buckets, type InstanceRecord, type LeaseEntry, type LeaseRecord,
} from "./kv.js";
import { fairShares, handOver, planRound, type LeaseView } from "./share.js";

/** Why a partition was let go: rebalance and shutdown are orderly; lost and expired are not (the engine may already be stale). */
export type ReleaseReason = "rebalance" | "shutdown" | "lost" | "expired";

export interface LeaseManagerOptions {
  instanceId: string;
  partitions: number;
  leaseTtlMs: number;
  renewMs: number;
  replicas: number;
  log: Logger;
  metrics?: Metrics | null;
  /** What the heartbeat says besides ownership: ports, lag. */
  describe?: () => Partial<Pick<InstanceRecord, "httpPort" | "adminPort" | "eventsPending" | "lag">> | Promise<Partial<Pick<InstanceRecord, "httpPort" | "adminPort" | "eventsPending" | "lag">>>;
  /** The partition is this instance's now. Before acting on it, still ask isOwner(). */
  onAcquire?: (partition: number) => void | Promise<void>;
  /**
   * Stop acting on the partition. For "rebalance" and "shutdown" the lease stays ours,
   * renewed, until this settles (at most limits.clusterReleaseMsMax), and only then
   * passes on; for "lost" and "expired" another instance may already own it.
   */
  onRelease?: (partition: number, reason: ReleaseReason) => void | Promise<void>;
  /** Wall clock for the records (epoch ms). Lease deadlines use the monotonic clock. */
  now?: () => number;
}

interface Held {
  partition: number;
  revision: number;
  acquiredAt: number;
  /** Monotonic ms after which this instance no longer counts on the lease, whether or not NATS dropped it yet. */
  deadline: number;
  releasing: boolean;
}

/** What this instance knows locally, for the status route. */
export interface LocalState {
  instanceId: string;
  incarnation: string;
  owned: { partition: number; revision: number; acquiredAt: number; validForMs: number; releasing: boolean }[];
  members: string[];
  lastRoundAt: number | null;
}

const mono = () => performance.now();

/** How often a round that keeps failing is logged, ms. */
const FAILURE_LOG_MS = 30_000;

export class LeaseManager {
  readonly incarnation = randomUUID();
  private readonly held = new Map<number, Held>();
  /** One lease write at a time per partition: this instance never races itself on a revision. */
  private readonly chains = new Map<number, Promise<unknown>>();
  private members: string[] = [];
  private view: (LeaseEntry | null)[] = [];
  private freeBefore = new Set<number>();
  private readonly startedAt: number;
  private lastRoundAt: number | null = null;
  private running = true;
  /** Wakes the loops' waits at stop(). */
  private readonly sleepers = new Set<() => void>();
  private loops: Promise<void>[] = [];
  private readonly releases = new Set<Promise<void>>();
  private readonly marginMs: number;
  private readonly now: () => number;

  private constructor(
    private readonly b: Buckets,
    private readonly o: LeaseManagerOptions,
  ) {
    this.now = o.now ?? Date.now;
    this.startedAt = this.now();
    // NATS drops the value leaseTtlMs after it stored it, which is after we sent it; we
    // stop counting on it one renew interval earlier still (clock rates, NATS nodes' clocks).
    this.marginMs = o.renewMs;
  }

  /** Opens the buckets, registers this instance and starts both loops. */
  static async start(nc: NatsConnection, o: LeaseManagerOptions): Promise<LeaseManager> {
    const b = await openBuckets(nc, { replicas: o.replicas, leaseTtlMs: o.leaseTtlMs, opTimeoutMs: o.renewMs, setupTimeoutMs: limits.clusterSetupMsMax });
    const m = new LeaseManager(b, o);
    // A bucket just created has no stream leader for a moment: the first heartbeat waits for one.
    const deadline = mono() + limits.clusterSetupMsMax;
    for (;;) {
      try {
        await m.heartbeat("up");
        break;
      } catch (err) {
        // A refusal will not pass by waiting: say so at once.
        if (mono() > deadline || (err instanceof NatsError && err.code === ErrorCode.PermissionsViolation)) throw err;
        await new Promise((r) => setTimeout(r, o.renewMs / 4));
      }
    }
    m.loops = [m.loop(() => m.renewRound()), m.loop(() => m.balanceRound())];
    o.log.info({ instanceId: o.instanceId, incarnation: m.incarnation, partitions: o.partitions, leaseTtlMs: o.leaseTtlMs, renewMs: o.renewMs }, "cluster member started");
    return m;
  }

  /**
   * True only while the lease is held, not being given up, and renewed recently enough
   * that NATS cannot have given it to anyone else. Ask it right before acting: after a
   * pause (GC, SIGSTOP) it turns false by the clock, before any renewal has failed.
   */
  isOwner(partition: number): boolean {
    const h = this.held.get(partition);
    return h !== undefined && !h.releasing && mono() < h.deadline;
  }

  /** The partitions isOwner() is true for, ascending. */
  owned(): number[] {
    return [...this.held.keys()].filter((p) => this.isOwner(p)).sort((a, b) => a - b);
  }

  /** The lease revision while owned: what the next step's fencing will quote. Null when not owned. */
  revisionOf(partition: number): number | null {
    return this.isOwner(partition) ? this.held.get(partition)!.revision : null;
  }

  local(): LocalState {
    const t = mono();
    return {
      instanceId: this.o.instanceId,
      incarnation: this.incarnation,
      owned: [...this.held.values()]
        .map((h) => ({ partition: h.partition, revision: h.revision, acquiredAt: h.acquiredAt, validForMs: Math.max(0, Math.round(h.deadline - t)), releasing: h.releasing }))
        .sort((a, b) => a.partition - b.partition),
      members: [...this.members],
      lastRoundAt: this.lastRoundAt,
    };
  }

  /** The buckets, for the status reader (same connection). */
  get buckets(): Buckets {
    return this.b;
  }

  /**
   * Leaves the cluster: stops both loops, gives every partition up (each to the
   * instance furthest below its share, after onRelease settles) and marks this
   * instance gone, so that the others rebalance at once instead of after the TTL.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const wake of this.sleepers) wake();
    await Promise.all(this.loops);
    // Each partition to the instance furthest below its share once this one is gone, by a fresh read.
    await this.readCluster().catch((err) => this.o.log.warn({ err }, "could not read the cluster before leaving; heirs chosen from the last read"));
    const others = this.members.filter((m) => m !== this.o.instanceId);
    const views = this.view.map((e, p) => this.viewOf(p, e));
    const giving = [...this.held.values()].filter((h) => !h.releasing);
    const heirs = handOver(this.o.instanceId, fairShares(others, this.o.partitions), views, giving.map((h) => h.partition));
    for (const [i, h] of giving.entries()) this.release(h, heirs[i]!.heir, "shutdown");
    // The leases stay renewed while the engine lets go: the renew loop has stopped, so renew here.
    const keepAlive = setInterval(() => void this.renewAll(), this.o.renewMs);
    await Promise.all([...this.releases]);
    clearInterval(keepAlive);
    await Promise.all([...this.chains.values()]);
    await this.heartbeat("left").catch((err) => this.o.log.warn({ err }, "could not mark this instance as gone; the others see it go after cluster.leaseTtlMs"));
    this.o.metrics?.clusterPartitionsOwned.set(0);
    this.o.log.info({ instanceId: this.o.instanceId }, "cluster member left");
  }

  /** Runs `round` every renewMs (from its start) until stop(); while NATS is away, says so every 30 s, not every round. */
  private async loop(round: () => Promise<void>): Promise<void> {
    let failingSince: number | null = null;
    let saidAt = -Infinity;
    while (this.running) {
      const t0 = mono();
      await round().then(
        () => {
          if (failingSince !== null) this.o.log.info({ failedMs: Math.round(t0 - failingSince) }, "cluster rounds succeed again");
          failingSince = null;
        },
        (err) => {
          failingSince ??= t0;
          if (t0 - saidAt < FAILURE_LOG_MS) return;
          saidAt = t0;
          this.o.log.warn({ err, failingMs: Math.round(t0 - failingSince) }, "cluster round failed; retried every cluster.renewMs");
        },
      );
      const wait = this.o.renewMs - (mono() - t0);
      if (wait > 0 && this.running) await this.sleep(wait);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private chain<T>(partition: number, op: () => Promise<T>): Promise<T> {
    const next = (this.chains.get(partition) ?? Promise.resolve()).then(op, op);
    const tail = next.catch(() => undefined);
    this.chains.set(partition, tail);
    void tail.then(() => this.chains.get(partition) === tail && this.chains.delete(partition));
    return next;
  }

  private async renewRound(): Promise<void> {
    await Promise.all([this.renewAll(), this.heartbeat("up")]);
  }

  private async renewAll(): Promise<void> {
    this.expireOverdue();
    await Promise.all([...this.held.values()].map((h) => this.renew(h)));
    this.o.metrics?.clusterPartitionsOwned.set(this.owned().length);
  }

  /** Leases this instance could not renew in time are no longer counted on, NATS reachable or not. */
  private expireOverdue(): void {
    const t = mono();
    for (const h of [...this.held.values()]) if (t >= h.deadline) this.lose(h, "expired");
  }

  private renew(h: Held): Promise<void> {
    return this.chain(h.partition, async () => {
      if (this.held.get(h.partition) !== h) return;
      const sent = mono();
      try {
        h.revision = await writeLease(this.b, h.partition, this.heldRecord(h.acquiredAt), h.revision);
        h.deadline = Math.max(h.deadline, sent + this.o.leaseTtlMs - this.marginMs);
        this.o.metrics?.clusterLeaseRenewals.labels("ok").inc();
      } catch (err) {
        if (!isWrongRevision(err)) {
          this.o.metrics?.clusterLeaseRenewals.labels("error").inc();
          return; // no answer: keep trying until the deadline
        }
        this.o.metrics?.clusterLeaseRenewals.labels("lost").inc();
        if (this.held.get(h.partition) === h) this.lose(h, "lost");
      }
    });
  }

  private lose(h: Held, reason: "lost" | "expired"): void {
    this.held.delete(h.partition);
    this.o.metrics?.clusterLeaseChanges.labels(reason).inc();
    this.o.log.warn({ partition: h.partition, revision: h.revision, reason }, "partition lease lost");
    // A partition being given up already had its onRelease.
    if (!h.releasing) this.emitRelease(h.partition, reason);
  }

  private emitRelease(partition: number, reason: ReleaseReason): Promise<void> {
    return Promise.resolve()
      .then(() => this.o.onRelease?.(partition, reason))
      .catch((err) => this.o.log.error({ err, partition, reason }, "onRelease failed"));
  }

  private heldRecord(acquiredAt: number): LeaseRecord {
    return { state: "held", owner: this.o.instanceId, incarnation: this.incarnation, acquiredAt };
  }

  private async heartbeat(state: "up" | "left"): Promise<void> {
    const described = await this.o.describe?.();
    const record: InstanceRecord = {
      instanceId: this.o.instanceId,
      incarnation: this.incarnation,
      state,
      startedAt: this.startedAt,
      heartbeatAt: this.now(),
      owned: state === "up" ? this.owned().length : 0,
      httpPort: null,
      adminPort: null,
      eventsPending: null,
      ...described,
      lag: described?.lag ?? {},
    };
    await this.b.instances.put(this.o.instanceId, encodeRecord(record));
  }

  /** Reads the cluster, then gives up or takes what share.ts says. */
  private async balanceRound(): Promise<void> {
    const views = await this.readCluster();
    const view = this.view;
    if (!this.running) return;
    const giving = new Set([...this.held.values()].filter((h) => h.releasing).map((h) => h.partition));
    const keeping = new Set([...this.held.keys()].filter((p) => !giving.has(p)));
    // Partitions on their way out count as nobody's to take for now.
    const plan = planRound(this.o.instanceId, this.members, this.o.partitions, views.filter((v) => !giving.has(v.partition)), keeping);
    for (const r of plan.release) this.release(this.held.get(r.partition)!, r.heir, "rebalance");
    await Promise.all(plan.take.map((t) => this.take(t.partition, t.how === "create" ? 0 : view[t.partition]!.revision)));
    this.o.metrics?.clusterPartitionsOwned.set(this.owned().length);
  }

  /** Reads members and leases; returns the leases as share.ts sees them. */
  private async readCluster(): Promise<LeaseView[]> {
    const [instances, view] = await Promise.all([readInstances(this.b, limits.clusterInstancesMax), readLeases(this.b, this.o.partitions)]);
    this.noteDuplicates(instances);
    this.members = instances.filter((i) => i.state === "up" || i.instanceId === this.o.instanceId).map((i) => i.instanceId);
    if (!this.members.includes(this.o.instanceId)) this.members.push(this.o.instanceId);
    this.o.metrics?.clusterInstances.set(this.members.length);
    const views = view.map((e, p) => this.viewOf(p, e));
    this.freeBefore = new Set(views.filter((v) => v.state === "free").map((v) => v.partition));
    this.view = view;
    this.lastRoundAt = this.now();
    return views;
  }

  private viewOf(partition: number, e: LeaseEntry | null): LeaseView {
    if (e === null) return { partition, state: "free", seenFreeBefore: this.freeBefore.has(partition) };
    const r = e.record;
    // A delete marker, or a value we cannot read: nobody's to take until NATS drops it.
    if (r === null) return { partition, state: "released", heir: null };
    if (r.state === "released") return { partition, state: "released", heir: r.heir };
    return { partition, state: "held", owner: r.owner, mine: r.owner === this.o.instanceId && r.incarnation === this.incarnation };
  }

  private noteDuplicates(instances: InstanceRecord[]): void {
    const me = instances.find((i) => i.instanceId === this.o.instanceId);
    if (me && me.incarnation !== this.incarnation && me.heartbeatAt > this.startedAt) {
      this.o.log.error({ instanceId: this.o.instanceId, other: me.incarnation }, "another running process uses this cluster.instanceId; give every instance its own");
    }
  }

  /**
   * Takes a lease: a create (revision 0) of a free one, or an update of one that only
   * this instance may write (inherited from its releaser, or written by this very
   * incarnation without our seeing the acknowledgement).
   */
  private async take(partition: number, revision: number): Promise<void> {
    const taken = await this.chain(partition, async () => {
      if (this.held.has(partition) || !this.running) return false;
      const sent = mono();
      const acquiredAt = this.now();
      let rev: number;
      try {
        rev = await writeLease(this.b, partition, this.heldRecord(acquiredAt), revision);
      } catch (err) {
        if (!isWrongRevision(err)) this.o.log.warn({ err, partition }, "could not take a partition lease");
        return false; // someone else was first, or it changed since we read it
      }
      const h: Held = { partition, revision: rev, acquiredAt, deadline: sent + this.o.leaseTtlMs - this.marginMs, releasing: false };
      this.held.set(partition, h);
      this.o.metrics?.clusterLeaseChanges.labels("acquired").inc();
      this.o.log.info({ partition, revision: rev }, "partition lease acquired");
      return true;
    });
    // Outside the partition's chain: a long catch-up must not hold its renewals back.
    if (taken) {
      void Promise.resolve()
        .then(() => this.o.onAcquire?.(partition))
        .catch((err) => this.o.log.error({ err, partition }, "onAcquire failed"));
    }
  }

  /**
   * Gives a lease up: not owned from now on (isOwner false), still renewed while the
   * engine lets go (onRelease), then handed to `heir` by one revision-checked write.
   */
  private release(h: Held, heir: string | null, reason: "rebalance" | "shutdown"): void {
    h.releasing = true;
    this.o.log.info({ partition: h.partition, heir, reason }, "giving a partition lease up");
    let timer: NodeJS.Timeout | undefined;
    const bounded = Promise.race([
      this.emitRelease(h.partition, reason).then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), limits.clusterReleaseMsMax))),
    ]).finally(() => clearTimeout(timer));
    const done = bounded.then((settled) =>
      this.chain(h.partition, async () => {
        if (this.held.get(h.partition) !== h) return; // lost meanwhile: nothing to hand over
        this.held.delete(h.partition);
        if (!settled) {
          this.o.log.error({ partition: h.partition, waitedMs: limits.clusterReleaseMsMax }, "the engine did not let go of a partition in time; its lease is left to expire");
          return;
        }
        const record: LeaseRecord = { state: "released", owner: this.o.instanceId, incarnation: this.incarnation, heir, releasedAt: this.now() };
        await writeLease(this.b, h.partition, record, h.revision).catch((err) => {
          // Lost already, or unanswered: either way it expires in NATS without us.
          if (!isWrongRevision(err)) this.o.log.warn({ err, partition: h.partition }, "could not hand a partition over; its lease expires instead");
        });
        this.o.metrics?.clusterLeaseChanges.labels("released").inc();
      }),
    );
    this.releases.add(done);
    void done.finally(() => this.releases.delete(done));
  }
}
