// Cluster mode's command path. Every request is routed to its virtual partition; the
// instance that owns the partition serves it, any other forwards it there (NATS
// request on loyalty.cluster.vp.<p>) and relays the owner's reply. The owner appends
// every state-changing command to the partition's replicated log (src/cluster/log.ts)
// before it applies it: the LMDB ledger is a view of the logs, a new owner replays a
// partition's log from where its own ledger stopped before it serves, and a stale owner's
// append is refused by the log itself, so it never applies or acknowledges anything.
//
// Commands arriving while an append is in flight go together in the next one (group
// commit on the log); cluster/log-message.ts is the log message's format. A new owner
// restores the partition's snapshot first when its ledger is behind it
// (cluster/snapshots.ts); the owner's steps around a command (identifier claims, reward
// stock) are in cluster/owner-steps.ts.
import { randomBytes, randomUUID } from "node:crypto";
import { Packr } from "msgpackr";
import { ErrorCode, NatsError, type NatsConnection, type Subscription } from "nats";
import { decodeBytes, encodeReply } from "../codec/codec.js";
import { LoyaltyError, failure, toWireError } from "../errors.js";
import { LOG_SLOTS, vpMetaKey } from "../ledger/ledger.js";
import type { Store } from "../ledger/store.js";
import { limits } from "../limits.js";
import type { Logger } from "../observe/logger.js";
import type { Metrics } from "../observe/metrics.js";
import type { Handled, RawRequest } from "../partition/batch.js";
import type { Partitions } from "../partition/partitions.js";
import { isReadVerb } from "../verbs.js";
import { DROPPING_VERBS, IDENTITY_VERBS, type IdentitySync } from "./identities.js";
import { STOCK_VERBS, maybeLogged, preclaimed, releasingDropped, withStock } from "./owner-steps.js";
import { partitionOf } from "../partition/hash.js";
import { scopedPartition } from "../partition/router.js";

/** Verbs whose new identifiers are claimed before they are logged (IdentitySync.preclaim). */
const PRECLAIM_VERBS = new Set<string>(["enroll", "card", "updateCustomer"]);
import { CommandLog, FencedError } from "./log.js";
import { fromWire, logMessage, loggedRequests, toWire, type Wire } from "./log-message.js";
import { restoreCutShort } from "./partition-data.js";
import { SnapshotSchedule } from "./snapshot-schedule.js";
import type { Locator } from "./locator.js";
import type { CrossPartitionMerge } from "./merge.js";
import type { Snapshotter } from "./snapshots.js";
import type { ClusterStock } from "./stock.js";


const packr = new Packr({ useRecords: false, variableMapSize: true });
export const FORWARD_PREFIX = "loyalty.cluster.vp.";

interface Waiting {
  req: RawRequest;
  waitBounded: boolean;
  arrived: number;
  resolve: (h: Handled) => void;
  reject: (e: unknown) => void;
}

class VirtualPartition {
  log: CommandLog | null = null;
  /** The log sequence whose commands are all applied here (the replay's progress, then every append's). */
  applied = 0;
  /** Owned, replayed and answering: commands are appended and applied here. */
  serving = false;
  /** A takeover's replay or a release is under way. */
  changing: Promise<void> | null = null;
  queue: Waiting[] = [];
  appending: Promise<void> | null = null;
  sub: Subscription | null = null;
  /** Commands appended and handed to the partitions, not yet applied. */
  applying = 0;
  constructor(readonly vp: number) {}
}

export interface GateOptions {
  instanceId: string;
  /** Virtual partitions (config cluster.partitions). */
  partitions: number;
  /** The engine's own partitions (config partitions): virtual partition p applies on p mod this. */
  local: number;
  replicas: number;
  isOwner: (vp: number) => boolean;
  now: () => number;
  /** Snapshot a served partition after this many commands (config cluster.snapshotEveryCommands)... */
  snapshotEveryCommands?: number;
  /** ...or this long after its latest snapshot when it changed since (cluster.snapshotEveryMs). */
  snapshotEveryMs?: number;
  /** Trim a partition's log up to its stored snapshot (cluster.trimLog). */
  trimLog?: boolean;
  /** How long a forward is retried while nobody serves the partition (cluster.forwardMsMax). */
  forwardMsMax?: number;
}

export class ClusterGate {
  private readonly vps: VirtualPartition[];
  /** Set by the engine: where the notifications of commands forwarded here go (the forwarder publishes none). */
  onNotifications: ((n: Handled["notifications"]) => void) | null = null;
  private readonly incarnation = randomUUID().slice(0, 8);
  private appends = 0;
  private closing = false;
  /** Set by the engine in cluster mode: the back office every instance shares (cluster/backoffice.ts). */
  backOffice: { readonly position: number; caughtUp(seq: number): Promise<void> } | null = null;
  /** Set by the engine in cluster mode: snapshots of the partitions served here (cluster/snapshots.ts), and when (useSnapshots). */
  snapshots: Snapshotter | null = null;
  private schedule: SnapshotSchedule | null = null;

  constructor(
    private readonly nc: NatsConnection,
    private readonly store: Store,
    private readonly parts: Partitions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly o: GateOptions,
  ) {
    this.vps = Array.from({ length: o.partitions }, (_, i) => new VirtualPartition(i));
    metrics.onScrape(() => {
      const lag = this.lag();
      for (const p of this.vps) {
        const value = lag[String(p.vp)];
        if (value === undefined) metrics.clusterPartitionLag.remove(String(p.vp));
        else metrics.clusterPartitionLag.labels(String(p.vp)).set(value);
      }
    });
  }

  /** Per partition owned here with its log open: sequences known and not applied yet (the status's lag). */
  lag(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of this.vps) if (p.log && this.o.isOwner(p.vp)) out[String(p.vp)] = Math.max(0, p.log.lastSeq - p.applied);
    return out;
  }

  /** Whether this instance serves the partition now (owns it and has replayed its log). */
  serves(vp: number): boolean {
    return this.vps[vp]!.serving;
  }

  /**
   * The reply to a request of virtual partition `vp`, from here or from its owner.
   * `value`: the request decoded, when the caller has it (the router decoded it).
   */
  submit(vp: number, req: RawRequest, waitBounded: boolean, value?: unknown): Promise<Handled> {
    const p = this.vps[vp]!;
    return p.serving ? this.serve(p, req, waitBounded, value) : this.forward(p, req, waitBounded);
  }

  // ---- the owner ----------------------------------------------------------------------

  private serve(p: VirtualPartition, req: RawRequest, waitBounded: boolean, decoded?: unknown): Promise<Handled> {
    const local = p.vp % this.o.local;
    // Reads change nothing: served by the owner, never logged.
    if (isReadVerb(req.verb)) return this.parts.submit(local, { ...req, readIn: p.vp }, waitBounded);
    // Admitted before the append: once in the log, a command is applied whatever the queue.
    const refused = this.parts.admits(local, waitBounded);
    if (refused) return Promise.reject(refused);
    const ids = this.identities;
    const value = ids ? (decoded !== undefined && decoded !== null && IDENTITY_VERBS.has(req.verb) ? decoded : ids.valueOf(req)) : null;
    let repeat = false;
    if (ids && value !== null) {
      const taken = ids.refusal(req.verb, value, p.vp);
      // A repeat of a request already applied goes on: the ledger answers it with its first reply.
      repeat = (taken !== null || PRECLAIM_VERBS.has(req.verb)) && this.seen(value);
      if (taken && !repeat) return Promise.reject(taken);
    }
    const log = () => (this.stock && STOCK_VERBS.has(req.verb) ? withStock(this.store, this.stock, req, (r) => this.append(p, r, waitBounded)) : this.append(p, req, waitBounded));
    let applied = ids && value !== null && PRECLAIM_VERBS.has(req.verb) && !repeat ? preclaimed(ids, p.vp, req, value, log) : log();
    if (ids && value !== null && DROPPING_VERBS.has(req.verb)) applied = releasingDropped(this.store, ids, value, applied);
    if (!ids || value === null || !ids.pending(req.verb, value)) return applied;
    // The directory learns the identifiers the command gave before the reply goes out.
    return applied.then(async (h) => {
      if (h.outcome === "ok") await ids.afterApply(req.verb, value, decodeBytes(h.bytes, req.encoding) as Record<string, unknown>);
      return h;
    });
  }

  /** Starts the identity directory's repair rounds over the partitions served here (IdentitySync.startSweep). */
  startDirectorySweep(everyMs: number): void {
    const vpOf = (id: string) => scopedPartition(id) ?? partitionOf(id, this.o.partitions);
    this.identities?.startSweep(this.store, (vp) => this.serves(vp), vpOf, everyMs, this.forwardMsMax);
  }

  /** Into the partition's log, then applied: resolves with the reply. */
  private append(p: VirtualPartition, req: RawRequest, waitBounded: boolean): Promise<Handled> {
    return new Promise<Handled>((resolve, reject) => {
      p.queue.push({ req, waitBounded, arrived: performance.now(), resolve, reject });
      p.appending ??= this.appendLoop(p);
    });
  }

  /** Set by the engine in cluster mode: the cluster's count of reward stock (cluster/stock.ts). */
  stock: ClusterStock | null = null;

  /** Whether the ledger holds the request's idempotency record already (its requestId was applied). */
  private seen(value: unknown): boolean {
    const requestId = (value as { requestId?: unknown }).requestId;
    if (typeof requestId !== "string") return false;
    this.store.env.resetReadTxn();
    return this.store.requests.get(requestId) !== undefined;
  }

  /** Set by the engine in cluster mode: the identity directory kept in step (cluster/identities.ts). */
  identities: IdentitySync | null = null;

  /** Set by the engine in cluster mode: which partition holds a sale a return names, or a report (cluster/locator.ts). */
  locator: Locator | null = null;

  /** Set by the engine in cluster mode: merges of customers of two partitions (cluster/merge.ts). */
  merges: CrossPartitionMerge | null = null;

  private async appendLoop(p: VirtualPartition): Promise<void> {
    // Not a step before append() stored this loop in p.appending (the finally clears it): with every batch
    // forwarded it would end at once and leave a settled promise there, release() spinning on it (gate-append.test.ts).
    await null;
    try {
      while (p.queue.length > 0) {
        const batch = p.queue.splice(0, limits.clusterAppendMax);
        if (!p.serving) {
          for (const w of batch) this.forward(p, w.req, w.waitBounded).then(w.resolve, w.reject);
          continue;
        }
        try {
          await this.appendBatch(p, batch);
        } catch (err) {
          // A catch-up replay that could not run (the log trimmed past this ledger, NATS away):
          // nothing of this batch was appended; stop serving and take the partition over again.
          this.log.error({ err, partition: p.vp }, "could not catch up with the partition's log; taking it over again");
          this.stopServing(p);
          const unavailable = new LoyaltyError("UNAVAILABLE", `partition ${p.vp} is being taken over again; retry later`);
          for (const w of [...batch, ...p.queue.splice(0)]) w.reject(unavailable);
          if (this.o.isOwner(p.vp) && !this.closing) void this.acquire(p.vp);
        }
      }
    } finally {
      p.appending = null;
    }
  }

  private async appendBatch(p: VirtualPartition, batch: Waiting[]): Promise<void> {
    const at = this.o.now();
    // The randomness its commands draw (voucher codes), in the log so that a replay draws the same.
    const seed = new Uint8Array(randomBytes(16));
    const data = logMessage(batch.map((w) => w.req), at, seed, this.backOffice?.position ?? 0);
    const id = `${this.o.instanceId}.${this.incarnation}.${++this.appends}`;
    let seq: number;
    for (;;) {
      try {
        seq = await p.log!.append(data, id);
        this.metrics.clusterLogAppends.labels("ok").inc();
        break;
      } catch (err) {
        if (err instanceof FencedError) {
          this.metrics.clusterLogAppends.labels("fenced").inc();
          // Another instance appended: while the lease is still ours that was a stale owner
          // (its next append is refused now); apply what it wrote, then append after it.
          if (this.o.isOwner(p.vp) && !this.closing) {
            this.log.warn({ partition: p.vp, expected: err.expected }, "another instance appended to this partition's log; catching up");
            await p.log!.refresh();
            // What this instance appended before is applied first: the replay starts after it.
            while (p.applying > 0) await sleep(1);
            await this.replay(p);
            continue;
          }
          this.log.warn({ partition: p.vp }, "partition lost to another instance; its commands go there");
          this.stopServing(p);
          for (const w of batch) this.forward(p, w.req, w.waitBounded).then(w.resolve, w.reject);
          return;
        }
        // No answer: the append may have landed. Retried with the same id, JetStream answers
        // a landed one with its first sequence rather than storing it twice.
        this.metrics.clusterLogAppends.labels("error").inc();
        if (!this.o.isOwner(p.vp) || this.closing) {
          this.stopServing(p);
          // The append may have landed: whoever replays the log applies it.
          const unavailable = maybeLogged(new LoyaltyError("UNAVAILABLE", `partition ${p.vp}: its log cannot be written now; retry later`));
          for (const w of batch) w.reject(unavailable);
          return;
        }
        this.log.warn({ err: (err as Error).message, partition: p.vp }, "append to the command log failed; retrying");
        await sleep(limits.clusterRetryMs);
      }
    }
    const now = performance.now();
    for (const w of batch) this.metrics.clusterLogAppendDuration.observe((now - w.arrived) / 1000);
    this.metrics.clusterLoggedCommands.inc(batch.length);
    this.schedule?.applied(p.vp, batch.length);
    this.metrics.clusterLogPosition.labels(String(p.vp)).set(seq);
    const local = p.vp % this.o.local;
    batch.forEach((w, k) => {
      p.applying++;
      this.parts
        .enqueue(local, { ...w.req, logged: { vp: p.vp, at, pos: seq * LOG_SLOTS + k, seed, ...(w.req.stock ? { stock: w.req.stock } : {}) } }, true)
        .then(w.resolve, (err: unknown) => w.reject(maybeLogged(err)))
        .finally(() => {
          p.applying--;
          if (p.applied < seq) p.applied = seq;
        });
    });
  }

  /**
   * Applies the log from where this instance's ledger stopped up to the log's last known
   * sequence; replies are dropped (whoever sent those commands was answered by the owner
   * that appended them).
   */
  private async replay(p: VirtualPartition): Promise<number> {
    this.store.env.resetReadTxn();
    const done = this.store.meta.get(vpMetaKey("log", p.vp)) ?? 0;
    const fromSeq = Math.floor(done / LOG_SLOTS);
    const local = p.vp % this.o.local;
    let applied = 0;
    let pending: Promise<unknown>[] = [];
    try {
      for await (const m of p.log!.readAfter(Math.max(0, fromSeq - 1))) {
        const requests = loggedRequests(p.vp, m, this.log);
        // Applied under the back office its owner had: this instance's is at least as far first.
        const b = requests[0]?.logged?.backOffice ?? 0;
        if (this.backOffice && b > this.backOffice.position) {
          await Promise.all(pending);
          await this.backOffice.caughtUp(b);
        }
        for (const req of requests) {
          if (req.logged!.pos <= done) continue;
          pending.push(this.parts.enqueue(local, req, true));
          applied++;
        }
        if (pending.length >= limits.clusterAppendMax) {
          await Promise.all(pending);
          pending = [];
          p.applied = m.seq;
        }
      }
    } finally {
      // Whatever happens, what was handed over is applied before anyone replays again.
      await Promise.allSettled(pending);
    }
    await Promise.all(pending);
    p.applied = p.log!.lastSeq;
    this.schedule?.applied(p.vp, applied);
    this.metrics.clusterReplayed.inc(applied);
    this.metrics.clusterLogPosition.labels(String(p.vp)).set(p.log!.lastSeq);
    return applied;
  }

  /** The lease is ours: open the log, replay it, then serve (and answer forwards). */
  acquire(vp: number): Promise<void> {
    const p = this.vps[vp]!;
    const run = async () => {
      await p.changing?.catch(() => undefined);
      const started = performance.now();
      // NATS may be electing the log's leader (a node just died): tried again while the lease is ours.
      for (let attempt = 1; !this.closing && this.o.isOwner(vp) && !p.serving; attempt++) {
        try {
          p.log = await CommandLog.open(this.nc, vp, { replicas: this.o.replicas });
          await this.restore(p);
          const applied = await this.replay(p);
          if (!this.o.isOwner(vp) || this.closing) return;
          p.serving = true;
          this.metrics.clusterPartitionsServing.inc();
          p.sub = this.nc.subscribe(FORWARD_PREFIX + vp, { callback: (_err, msg) => void this.answerForward(p, msg) });
          this.log.info({ partition: vp, replayed: applied, logSeq: p.log.lastSeq, ms: Math.round(performance.now() - started) }, "virtual partition served here");
        } catch (err) {
          this.log.warn({ err: (err as Error).message, partition: vp, attempt }, "could not take the partition over yet; trying again");
          await sleep(Math.min(2000, limits.clusterRetryMs * 2 ** attempt));
        }
      }
    };
    p.changing = run();
    return p.changing;
  }

  /**
   * A takeover's first step: when the partition's latest snapshot is further along than
   * this ledger (or a restore here was cut short), this ledger takes the snapshot's state
   * and the replay goes on from there; the log may no longer hold what came before it.
   */
  private async restore(p: VirtualPartition): Promise<void> {
    if (!this.snapshots) return;
    this.store.env.resetReadTxn();
    const local = this.store.meta.get(vpMetaKey("log", p.vp)) ?? 0;
    await this.snapshots.restore(p.vp, local, restoreCutShort(this.store, p.vp));
    this.schedule?.takenOver(p.vp);
  }

  /** Snapshots the partitions served here from now on, when due (cluster/snapshot-schedule.ts). */
  useSnapshots(snapshots: Snapshotter): void {
    this.snapshots = snapshots;
    this.schedule = new SnapshotSchedule(snapshots, this.metrics, {
      partitions: this.o.partitions,
      now: this.o.now,
      serves: (vp) => this.serves(vp),
      everyCommands: this.o.snapshotEveryCommands,
      everyMs: this.o.snapshotEveryMs,
    });
    this.schedule.start();
  }

  /** One round of snapshots now (all that applied anything with `force`); resolves with the partitions stored. */
  snapshotDue(force = false): Promise<number[]> {
    return this.schedule?.take(force) ?? Promise.resolve([]);
  }

  /** After a snapshot of the partition is stored: drop the log messages it holds, while this instance still serves it. */
  async trimLog(vp: number, pos: number): Promise<number> {
    const p = this.vps[vp]!;
    if (!(this.o.trimLog ?? true) || !p.serving || !p.log || !this.o.isOwner(vp)) return 0;
    // Never past what the bucket holds now (a racing owner's older snapshot may have landed last).
    const latest = await this.snapshots?.latest(vp);
    if (!latest) return 0;
    // The message holding the position stays: a batch may have applied only part of it.
    const trimmed = await p.log.trimBefore(Math.floor(Math.min(pos, latest.pos) / LOG_SLOTS));
    this.metrics.clusterLogTrimmed.inc(trimmed);
    return trimmed;
  }

  /** Stop serving: later commands are forwarded; resolves once what was taken is applied. */
  release(vp: number): Promise<void> {
    const p = this.vps[vp]!;
    const run = async () => {
      await p.changing?.catch(() => undefined);
      this.stopServing(p);
      while (p.appending || p.applying > 0) await (p.appending ?? sleep(5));
    };
    p.changing = run();
    return p.changing;
  }

  private stopServing(p: VirtualPartition): void {
    if (!p.serving) return;
    p.serving = false;
    this.metrics.clusterPartitionsServing.dec();
    this.metrics.clusterLogPosition.remove(String(p.vp));
    p.sub?.unsubscribe();
    p.sub = null;
  }

  private async answerForward(p: VirtualPartition, msg: { data: Uint8Array; respond(data: Uint8Array): boolean }): Promise<void> {
    let handled: Handled;
    let encoding: RawRequest["encoding"] = "json";
    try {
      const f = packr.unpack(msg.data) as { q: Wire; w: boolean };
      if (!p.serving) {
        msg.respond(packr.pack({ moved: true }));
        return;
      }
      const req = fromWire(f.q);
      encoding = req.encoding;
      handled = await this.serve(p, req, f.w).catch((err) => refusal(err, encoding));
    } catch (err) {
      handled = refusal(err, encoding);
    }
    msg.respond(packr.pack({ b: handled.bytes, o: handled.outcome, l: handled.label, p: handled.points, r: handled.refusal }));
    // The owner published the command's notifications; the forwarder publishes none.
    if (handled.notifications.length) this.onNotifications?.(handled.notifications);
  }

  // ---- any instance -------------------------------------------------------------------

  private get forwardMsMax(): number { return this.o.forwardMsMax ?? limits.clusterForwardMsMax; }

  /** To the partition's owner; retried while none serves it (a takeover) up to forwardMsMax. */
  private async forward(p: VirtualPartition, req: RawRequest, waitBounded: boolean): Promise<Handled> {
    const deadline = performance.now() + this.forwardMsMax;
    const data = packr.pack({ q: toWire(req), w: waitBounded });
    for (;;) {
      if (p.serving) return this.serve(p, req, waitBounded);
      const left = deadline - performance.now();
      if (left <= 0 || this.closing) break;
      try {
        const reply = await this.nc.request(FORWARD_PREFIX + p.vp, data, { timeout: Math.min(left, this.forwardMsMax) });
        const r = packr.unpack(reply.data) as { moved?: boolean; b: Uint8Array; o: string; l: string; p: number; r: Handled["refusal"] };
        if (!r.moved) {
          this.metrics.clusterForwarded.labels("ok").inc();
          return { bytes: r.b, outcome: r.o, label: r.l, points: r.p, refusal: r.r ?? null, notifications: [], forwarded: true };
        }
      } catch (err) {
        // No owner subscribed (503): a takeover under way. A timeout: the owner took the
        // command and did not answer in time, so it may have applied it: not retried.
        if (!(err instanceof NatsError && err.code === ErrorCode.NoResponders)) {
          this.metrics.clusterForwarded.labels("unavailable").inc();
          throw new LoyaltyError("UNAVAILABLE", `partition ${p.vp}: its owner did not answer in time; retry later`);
        }
      }
      await sleep(limits.clusterRetryMs);
    }
    this.metrics.clusterForwarded.labels("unavailable").inc();
    throw new LoyaltyError("UNAVAILABLE", `partition ${p.vp} has no owner serving it now; retry later`);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.identities?.stopSweep();
    this.locator?.close();
    await this.schedule?.stop();
    await Promise.all(this.vps.map((p) => this.release(p.vp)));
  }
}

function refusal(err: unknown, encoding: RawRequest["encoding"]): Handled {
  const error = toWireError(err);
  return { bytes: encodeReply(failure(error), encoding), outcome: error.code, label: "unknown", notifications: [], refusal: { error, ids: {} }, points: 0 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
