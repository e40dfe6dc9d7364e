// The ledger's core: applies a micro-batch of commands in one LMDB write transaction
// (each command in a child transaction, so a failing command leaves no trace), keeps
// the idempotency records in the same transaction as the effects, and dispatches each
// verb to its domain module through the verb table (src/verbs.ts).
import { createHash, randomBytes } from "node:crypto";
import { LoyaltyError, toWireError } from "../errors.js";
import type { Plan } from "../rules/compile.js";
import { VERB_TABLE, isCommandVerb, isReadVerb, type CommandVerb } from "../verbs.js";
import { eventTable } from "./event-records.js";
import { outboxAppend } from "./notifications.js";
import { planOf } from "./programme-plan.js";
import type { Accrued } from "./sales.js";
import type { EventRecord, IdemRecord, Store } from "./store.js";
import { durableTransaction, writesSoFar } from "./store.js";
import type { LedgerOptions, Notification, Reply, Tx } from "./tx.js";
import { scopeOf } from "./scope.js";

export type { LedgerOptions, Notification } from "./tx.js";

export interface Command {
  verb: CommandVerb;
  input: unknown;
  /** Content hash for idempotent verbs. */
  hash: string;
  /** The store of the terminal key it came with (HTTP with terminalAuth). */
  scope?: string | null;
  /**
   * Cluster mode: the command as its partition's log holds it (src/cluster/gate.ts). It
   * applies at the time the log gave it (`at`), with its virtual partition's own id
   * counters, so that replaying the log anywhere makes the same ids and the same effects;
   * `pos` (log sequence × LOG_SLOTS + its place in the log message) is recorded with it.
   */
  logged?: { vp: number; at: number; pos: number; seed?: Uint8Array; backOffice?: number; stock?: [reserved: number, left: number] };
  /**
   * Cluster mode, a read (not logged): the virtual partition it is answered for, so that
   * it reads that partition's customers only (ledger/scope.ts), never a stale copy of
   * another partition this ledger holds.
   */
  readIn?: number;
}

/** Commands one log message may hold: a command's log position is seq × LOG_SLOTS + its index. */
export const LOG_SLOTS = 1024;

/** The meta keys of a virtual partition's counters and of the last log position applied. */
export const vpMetaKey = (what: "seq" | "customerSeq" | "holdSeq" | "log", vp: number): string => `${what}@${vp}`;

export interface Outcome {
  reply: Record<string, unknown>;
  notifications: Notification[];
}

/** Set only by tests (environment LOYALTYD_FAILPOINT_EVENT_PREFIX): events whose id starts with it fail with INTERNAL. */
const FAILPOINT_EVENT_PREFIX = process.env.LOYALTYD_FAILPOINT_EVENT_PREFIX ?? "";
/** Set only by tests (LOYALTYD_FAILPOINT_CRASH_EVENT_PREFIX): events whose id starts with it kill the process. */
const FAILPOINT_CRASH_EVENT_PREFIX = process.env.LOYALTYD_FAILPOINT_CRASH_EVENT_PREFIX ?? "";
/** Set only by tests (LOYALTYD_FAILPOINT_WEDGE_EVENT_PREFIX): events whose id starts with it never finish. */
const FAILPOINT_WEDGE_EVENT_PREFIX = process.env.LOYALTYD_FAILPOINT_WEDGE_EVENT_PREFIX ?? "";
/** Set only by tests (LOYALTYD_FAILPOINT_SLOW_EVENT_PREFIX, LOYALTYD_FAILPOINT_SLOW_MS): applying an event whose id starts with it holds its partition that long. */
const FAILPOINT_SLOW_EVENT_PREFIX = process.env.LOYALTYD_FAILPOINT_SLOW_EVENT_PREFIX ?? "";
const FAILPOINT_SLOW_MS = Number(process.env.LOYALTYD_FAILPOINT_SLOW_MS ?? 0);

interface Counters {
  seq: number;
  customerSeq: number;
  holdSeq: number;
}

/** A command failed after writing in a batch applied without child transactions: the batch is applied again with them. */
class Unguarded extends Error {
  constructor(readonly failure: unknown) {
    super("a command failed after writing, outside a child transaction", { cause: failure });
  }
}

export class Ledger implements Tx {
  /** Batches applied again with a child transaction per command (see applyOne). */
  batchesReapplied = 0;
  private compiled: Plan | null = null;
  private planVersion = -1;
  seq = 0;
  private customerSeq = 0;
  private holdSeq = 0;
  private notes: Notification[] = [];
  now = 0;
  idScope = "";
  /** Cluster mode: the virtual partition of the logged command being applied (its idempotency record names it), else null. */
  private vp: number | null = null;
  stockReservation: [number, number] | null | undefined = undefined;
  /** Units of rewards the command gave back (cluster mode), for its reply's `stockReturned`. */
  private returned: [string, number][] = [];
  /** The command being applied, for random(): its log seed and position, and how many draws it made. */
  private drawing: { seed: Uint8Array; pos: number; draws: number } | null = null;
  scope: string | null = null;
  /** The events table as the idempotency step sees it (sale records unpacked). */
  private readonly events: ReturnType<typeof eventTable>;

  constructor(
    readonly store: Store,
    readonly options: LedgerOptions,
    private readonly clock: () => number = Date.now,
    /**
     * Commit with a synchronous write transaction (a worker thread, which may block)
     * rather than lmdb-js's async one (the main thread): one thread hop less per batch.
     */
    private readonly syncCommit = false,
  ) {
    this.events = eventTable(store);
  }

  /**
   * Applies commands in order in one durable transaction; one outcome per command.
   * A broken invariant stops the batch at the command that broke it: that command's
   * child transaction rolls back, the ones before it stay applied and consistent
   * (counters included), and the batch rejects so the caller crashes and restarts
   * from durable state; clients retrying meet their idempotency records.
   */
  async applyBatch(commands: Command[]): Promise<Outcome[]> {
    const { outcomes, durable } = await this.commitBatch(commands);
    await durable;
    return outcomes;
  }

  /**
   * Like applyBatch, but resolves as soon as the batch is committed (visible), with a
   * promise for when it is durable: the caller may start the next batch while this
   * one's fsync runs, and must not reply before `durable` resolves.
   */
  async commitBatch(commands: Command[]): Promise<{ outcomes: Outcome[]; durable: Promise<unknown> }> {
    const outcomes: Outcome[] = new Array(commands.length);
    const { env, meta } = this.store;
    const writes: number[] = [];
    const reads: number[] = [];
    commands.forEach((c, i) => (isRead(c) ? reads : writes).push(i));
    let fatal: unknown = null;
    let guarded = !this.syncCommit;
    const apply = () => {
      this.idScope = "";
      this.refreshPlan();
      this.restore({ seq: meta.get("seq") ?? 0, customerSeq: meta.get("customerSeq") ?? 0, holdSeq: meta.get("holdSeq") ?? 0 });
      const batchNow = this.clock();
      /** Cluster mode: each virtual partition's counters and last log position as this batch leaves them. */
      const partitions = new Map<number, Counters & { pos: number }>();
      for (let k = 0; k < writes.length && fatal === null; k++) {
        const cmd = commands[writes[k]!]!;
        const global = this.counters();
        this.now = cmd.logged ? cmd.logged.at : batchNow;
        const applied = cmd.logged ? this.enterPartition(cmd.logged.vp, partitions) : 0;
        this.vp = cmd.logged ? cmd.logged.vp : null;
        this.stockReservation = cmd.logged ? (cmd.logged.stock ?? null) : undefined;
        const marks = this.counters();
        this.drawing = cmd.logged?.seed ? { seed: cmd.logged.seed, pos: cmd.logged.pos, draws: 0 } : null;
        if (cmd.logged && cmd.logged.pos <= applied) {
          // Already applied (a replay that overlapped what was in flight): the log applies once.
          outcomes[writes[k]!] = { reply: { ok: true, alreadyApplied: true }, notifications: [] };
        } else {
          try {
            outcomes[writes[k]!] = this.applyOne(cmd, guarded);
          } catch (err) {
            if (err instanceof Unguarded) throw err;
            this.restore(marks);
            fatal = err;
          }
        }
        if (cmd.logged) {
          const pos = fatal === null ? Math.max(applied, cmd.logged.pos) : applied;
          partitions.set(cmd.logged.vp, { ...this.counters(), pos });
          this.restore(global);
          this.idScope = "";
        }
      }
      this.now = batchNow;
      this.drawing = null;
      this.vp = null;
      this.stockReservation = undefined;
      meta.put("seq", this.seq);
      meta.put("customerSeq", this.customerSeq);
      meta.put("holdSeq", this.holdSeq);
      for (const [vp, c] of partitions) {
        meta.put(vpMetaKey("seq", vp), c.seq);
        meta.put(vpMetaKey("customerSeq", vp), c.customerSeq);
        meta.put(vpMetaKey("holdSeq", vp), c.holdSeq);
        if (c.pos > 0) meta.put(vpMetaKey("log", vp), c.pos);
      }
      // In the batch's transaction: what commits with its effect is published, at least once.
      if (this.options.notifyOutbox) outboxAppend(this.store, writes.flatMap((i) => outcomes[i]?.notifications ?? []), this.now);
    };
    if (writes.length > 0) {
      if (!this.syncCommit) await env.transaction(apply);
      else {
        try {
          durableTransaction(this.store, apply);
        } catch (err) {
          if (!(err instanceof Unguarded)) throw err;
          // A command failed after writing: the batch rolled back whole; again, each command in a child transaction.
          this.batchesReapplied++;
          guarded = true;
          outcomes.fill(undefined as unknown as Outcome);
          durableTransaction(this.store, apply);
        }
      }
      if (fatal) throw fatal;
    }
    if (reads.length > 0) this.applyReads(commands, reads, outcomes);
    // Reads wait for durability too: a balance must not show what a crash could still undo.
    return { outcomes, durable: env.flushed };
  }

  /**
   * Reads (balance, statement, quote, vouchers) run after the batch's writes committed,
   * in a read snapshot that sees them, outside the write lock: they write nothing, so
   * they need no child transaction, and they never hold up another partition's commit.
   */
  private applyReads(commands: Command[], reads: number[], outcomes: Outcome[]): void {
    this.store.env.resetReadTxn();
    this.refreshPlan();
    this.now = this.clock();
    for (const i of reads) {
      const cmd = commands[i]!;
      this.idScope = cmd.readIn === undefined ? "" : scopeOf(cmd.readIn);
      try {
        outcomes[i] = { reply: this.dispatch(cmd), notifications: [] };
      } catch (err) {
        if ((err as { fatal?: boolean }).fatal) throw err;
        outcomes[i] = { reply: { ok: false, error: toWireError(err), ...idOf(cmd) }, notifications: [] };
      } finally {
        this.idScope = "";
      }
    }
  }

  /**
   * Switches to a virtual partition's counters (as this batch left them, else as stored)
   * and id scope; returns the last log position applied to it.
   */
  private enterPartition(vp: number, partitions: Map<number, Counters & { pos: number }>): number {
    const { meta } = this.store;
    const c = partitions.get(vp) ?? {
      seq: meta.get(vpMetaKey("seq", vp)) ?? 0,
      customerSeq: meta.get(vpMetaKey("customerSeq", vp)) ?? 0,
      holdSeq: meta.get(vpMetaKey("holdSeq", vp)) ?? 0,
      pos: meta.get(vpMetaKey("log", vp)) ?? 0,
    };
    this.restore(c);
    this.idScope = scopeOf(vp);
    return c.pos;
  }

  private counters(): Counters {
    return { seq: this.seq, customerSeq: this.customerSeq, holdSeq: this.holdSeq };
  }

  private restore(c: Counters): void {
    this.seq = c.seq;
    this.customerSeq = c.customerSeq;
    this.holdSeq = c.holdSeq;
  }

  /**
   * One command; an operating error leaves no trace. Rethrows broken invariants.
   *
   * Guarded, it runs in a child transaction, which a refusal rolls back. Unguarded (a
   * worker's synchronous batch, first try) it runs in the batch's transaction itself:
   * child transactions cost the worker ~10 % of its CPU per accrual (bench/RESULTS.md,
   * 2026-12-01), and most refusals come before a command's first write. A refusal that
   * wrote nothing is answered as it is; any other failure (a refusal after a write, a
   * broken invariant) throws {@link Unguarded}, which rolls the batch back whole, to be
   * applied again guarded.
   */
  private applyOne(cmd: Command, guarded: boolean): Outcome {
    this.notes = [];
    this.returned = [];
    this.scope = cmd.scope ?? null;
    const marks = this.counters();
    const written = writesSoFar();
    try {
      const reply = guarded ? this.store.env.transactionSync(() => this.dispatch(cmd)) : this.dispatch(cmd);
      // Cluster mode: what the owner gives back to the cluster's stock count (cluster/gate.ts strips it from the reply).
      if (this.returned.length > 0) return { reply: { ...reply, stockReturned: this.returned }, notifications: this.notes };
      return { reply, notifications: this.notes };
    } catch (err) {
      const fatal = (err as { fatal?: boolean }).fatal === true;
      if (!guarded && (fatal || writesSoFar() !== written)) throw new Unguarded(err);
      if (fatal) throw err;
      // The child transaction rolled back (or nothing was written): so do the counters it advanced.
      this.restore(marks);
      return { reply: { ok: false, error: toWireError(err), ...idOf(cmd) }, notifications: [] };
    }
  }

  private dispatch(cmd: Command): Reply {
    if (!isCommandVerb(cmd.verb)) throw new LoyaltyError("BAD_REQUEST", `unknown verb ${String(cmd.verb)}`);
    const spec = VERB_TABLE[cmd.verb];
    const apply = spec.apply as (tx: Tx, input: unknown) => Reply;
    switch (spec.idempotency) {
      case "event":
        return this.idempotentEvent(cmd);
      case "request": {
        const requestId = (cmd.input as { requestId: string }).requestId;
        return this.idempotent(this.store.requests, requestId, cmd.hash, () => ({ reply: apply(this, cmd.input) }), { t: this.now });
      }
      default:
        return apply(this, cmd.input);
    }
  }

  private idempotentEvent(cmd: Command): Reply {
    const { eventId, at } = cmd.input as { eventId: string; at: number };
    // Fault injection for the tests of the poison-event path: an unexpected exception mid-command.
    if (FAILPOINT_EVENT_PREFIX && eventId.startsWith(FAILPOINT_EVENT_PREFIX)) throw new Error(`failpoint: ${eventId}`);
    if (FAILPOINT_CRASH_EVENT_PREFIX && eventId.startsWith(FAILPOINT_CRASH_EVENT_PREFIX)) process.kill(process.pid, "SIGKILL");
    if (FAILPOINT_WEDGE_EVENT_PREFIX && eventId.startsWith(FAILPOINT_WEDGE_EVENT_PREFIX)) for (;;);
    // Slow work, not a slow lookup: a duplicate of a slow event answers at once.
    const slow = FAILPOINT_SLOW_EVENT_PREFIX !== "" && eventId.startsWith(FAILPOINT_SLOW_EVENT_PREFIX);
    return this.idempotent(
      this.events,
      eventId,
      cmd.hash,
      () => {
        if (slow) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, FAILPOINT_SLOW_MS);
        return VERB_TABLE.accrue.apply(this, cmd.input as never);
      },
      { a: at },
    );
  }

  /**
   * Same id + same content -> the first reply with duplicate: true; other content -> IDEMPOTENCY_CONFLICT.
   * `age` is what retention dates the record by (a sale's record has its `at` in `s`).
   */
  private idempotent(
    table: { get(key: string): IdemRecord | undefined; put(key: string, value: EventRecord): unknown },
    key: string,
    hash: string,
    effect: () => Accrued,
    age: Pick<EventRecord, "t" | "a">,
  ): Reply {
    const seen = table.get(key);
    // Cluster mode: a record a merge moved from this partition to another is not this partition's (a replay of its time before the merge).
    const movedAway = seen !== undefined && this.vp !== null && seen.m === this.vp && seen.v !== this.vp;
    if (seen && !movedAway) {
      if (seen.h !== hash) throw new LoyaltyError("IDEMPOTENCY_CONFLICT", `${key} was already used with other content`);
      return { ...seen.r, duplicate: true };
    }
    const { reply, sale } = effect();
    // Cluster mode: the record names its partition (a snapshot of the partition takes it: cluster/partition-data.ts).
    const v = this.vp === null ? {} : { v: this.vp };
    // A refusal that still changed state (a hold found expired) is not the request's effect: a retry re-evaluates it.
    if (reply.ok !== false && !movedAway) table.put(key, sale ? { h: hash, r: reply, s: sale, ...v } : { h: hash, r: reply, ...age, ...v });
    return reply;
  }

  // ---- Tx -----------------------------------------------------------------------------

  /** The compiled plan, recompiled when an admin change bumped the programme-set version (atomic per batch). */
  plan(): Plan {
    if (!this.compiled) this.refreshPlan();
    return this.compiled!;
  }

  private refreshPlan(): void {
    const version = this.store.meta.get("programmesVersion") ?? 0;
    if (this.compiled && version === this.planVersion) return;
    this.compiled = planOf(this.store, this.options);
    this.planVersion = version;
  }

  random(n: number): Uint8Array {
    const d = this.drawing;
    if (!d) return randomBytes(n);
    // SHA-256 of the seed, the command's position and the draw's number: as unpredictable as the seed, the same on a replay.
    const out = new Uint8Array(n);
    for (let filled = 0; filled < n; filled += 32) {
      const block = createHash("sha256").update(d.seed).update(`${d.pos}:${d.draws++}`).digest();
      out.set(block.subarray(0, Math.min(32, n - filled)), filled);
    }
    return out;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  nextCustomerSeq(): number {
    return ++this.customerSeq;
  }

  nextHoldSeq(): number {
    return ++this.holdSeq;
  }

  notify(n: Notification): void {
    this.notes.push(n);
  }

  stockReturned(rewardId: string, qty: number): void {
    this.returned.push([rewardId, qty]);
  }
}

/** A terminal verb without an idempotency record writes nothing: it can run outside the write transaction. */
function isRead(cmd: Command): boolean {
  return isCommandVerb(cmd.verb) && isReadVerb(cmd.verb);
}

function idOf(cmd: Command): Reply {
  const input = cmd.input as { eventId?: string; requestId?: string };
  if (input?.eventId) return { eventId: input.eventId };
  if (input?.requestId) return { requestId: input.requestId };
  return {};
}
