// The global identity directory of cluster mode: card, phone and loyalty id -> customer
// id, shared by every instance on one NATS cluster. One replicated stream,
// LOYALTY_IDENTITY, one subject per key (identity.ts), one message per change; each
// instance follows it from the start into a local cache that lookups read synchronously.
//
// A claim, release or move is an append that names the stream's last sequence as this
// instance knows it (Nats-Expected-Last-Sequence): it lands only if nothing was appended
// since the cache that decided it, so two instances can never both take a key. Not KV's
// create / expected revision: on nats-server 2.9.10 that per-subject check let several
// racing writers through (src/cluster/log.ts); the stream-wide one never did.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { DiscardPolicy, ErrorCode, NatsError, StorageType, type JetStreamClient, type JetStreamManager, type NatsConnection, type StreamInfo } from "nats";
import { id } from "../codec/primitives.js";
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import type { Logger } from "../observe/logger.js";
import { StreamFollower } from "./follow.js";
import {
  IDENTITY_KINDS, IDENTITY_STREAM, IDENTITY_SUBJECT_PREFIX, decodeIdentityRecord, encodeIdentityRecord, identitySubject, parseIdentitySubject,
  type IdentityKind, type IdentityRecord,
} from "./identity.js";

export { IDENTITY_KINDS, IDENTITY_STREAM, type IdentityKind } from "./identity.js";

export interface DirectoryOptions {
  /** Copies of the stream when this instance creates it (1, 3 or 5); default 3. */
  replicas?: number;
  /**
   * One claim, release, move or sync in all, creating the stream, and the longest the
   * first read of the stream may go without progress, ms; default limits.identityTimeoutMsDefault.
   */
  timeoutMs?: number;
  /** How long a retried operation id is answered as a duplicate, when this instance creates the stream, ms. */
  duplicateWindowMs?: number;
  log?: Logger;
  /** Wall clock for the records' `at` (epoch ms). */
  now?: () => number;
}

/**
 * ok: the directory holds the asked state at stream sequence `seq` (this operation's
 * append, or the sequence at which it found it so already). `duplicate`: the operation
 * id was appended before (within the duplicate window) and this one appended nothing.
 * Refused: `owner` holds the key (null: nobody, for a move of a free key).
 */
export type DirectoryResult = { ok: true; seq: number; duplicate: boolean } | { ok: false; owner: string | null };

export interface WriteOptions {
  /**
   * The operation's id (Nats-Msg-Id): a repeat with the same id within the duplicate
   * window appends nothing and is answered `duplicate` (a command replayed after a lost
   * acknowledgement or a crash). The stream remembers ids across all keys: make one per
   * operation and key (`<command id>/card/<value>`), never one per command. Default: a new
   * id per call, kept across its own retries.
   */
  id?: string;
}

export interface DirectoryStats {
  /** The stream sequence the cache reflects. */
  applied: number;
  keys: Record<IdentityKind, number>;
  /** Appends that landed (claims, releases, moves). */
  written: number;
  /** Appends the stream refused because another instance appended first (each followed by a retry). */
  raced: number;
  /** Operations answered with another owner. */
  refused: number;
  /** Messages of the stream this version could not read. */
  unreadable: number;
  /** Times the follower was started anew (its node died, the connection moved). */
  refollowed: number;
}

/** What one operation wants done with a key's current owner (undefined: free). */
type Decision = { write: string | null } | { done: true } | { refused: string | null };

/** nats-server's "wrong last sequence: N" (JSStreamWrongLastSequenceErrF). */
const WRONG_LAST_SEQUENCE = 10071;
/** nats-server's "no message found" (a key never written). */
const NO_MESSAGE = 10037;

function wrongLastSequence(err: unknown): number | null {
  if (!(err instanceof NatsError) || err.api_error?.err_code !== WRONG_LAST_SEQUENCE) return null;
  const m = /(\d+)\s*$/.exec(err.api_error.description ?? "");
  return m ? Number(m[1]) : 0;
}

const mono = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Pause before the next try after a NATS error: 50 ms doubling to 1 s. */
const backoffMs = (attempt: number) => Math.min(1000, 50 * 2 ** Math.min(attempt, 5));

function validate(kind: IdentityKind, value: string, customers: Record<string, string>, opId?: string): void {
  if (!(IDENTITY_KINDS as readonly string[]).includes(kind)) throw new LoyaltyError("VALIDATION", `kind: must be one of ${IDENTITY_KINDS.join(", ")}`, "kind");
  const fields: [string, string | undefined][] = [["value", value], ...Object.entries(customers), ["id", opId]];
  for (const [field, v] of fields) {
    if (v !== undefined && !id.safeParse(v).success) throw new LoyaltyError("VALIDATION", `${field}: must be 1-128 printable characters`, field);
  }
}

interface Waiter {
  target: number;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class IdentityDirectory {
  private readonly owners = Object.fromEntries(IDENTITY_KINDS.map((k) => [k, new Map<string, string>()])) as Record<IdentityKind, Map<string, string>>;
  private readonly pendingKeys = new Map<string, [IdentityKind, string, string]>();
  /** Keys whose last message this version could not read: never written over from here. */
  private readonly unreadableKeys = new Set<string>();
  private applied = 0;
  private waiters: Waiter[] = [];
  /** One operation at a time: this instance never races itself on the stream's last sequence. */
  private chain: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private readonly follower: StreamFollower;
  /** Notices a follower that stopped delivering while someone waits for it. */
  private readonly watchdog: NodeJS.Timeout;
  private appliedAtLastCheck = 0;
  private closed = false;
  private readonly counts = { written: 0, raced: 0, refused: 0, unreadable: 0 };
  private readonly js: JetStreamClient;
  private readonly now: () => number;

  private constructor(
    nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly timeoutMs: number,
    private readonly log: Logger | undefined,
    now: (() => number) | undefined,
  ) {
    this.js = nc.jetstream({ timeout: Math.min(timeoutMs, limits.identityTryMs) });
    this.now = now ?? Date.now;
    this.follower = new StreamFollower(nc, this.js, {
      stream: IDENTITY_STREAM,
      filterSubject: `${IDENTITY_SUBJECT_PREFIX}.>`,
      nextSeq: () => this.applied + 1,
      onMessage: (subject, data, seq) => this.apply(subject, data, seq),
      startMs: 2 * limits.identityTryMs,
      expiresMs: limits.identityFollowExpiresMs,
      batchMax: limits.identityFollowBatchMax,
      missedMax: limits.identityFollowMissedMax,
      ...(log ? { log } : {}),
    });
    this.watchdog = setInterval(() => {
      if (this.waiters.length > 0 && this.applied === this.appliedAtLastCheck) void this.follower.restart("behind the stream");
      this.appliedAtLastCheck = this.applied;
    }, limits.identityFollowExpiresMs);
    this.watchdog.unref();
  }

  /**
   * Creates the stream when missing (or binds to it), reads every current mapping into
   * the cache and keeps following; resolves once the cache holds the stream as it was
   * when opened.
   */
  static async open(nc: NatsConnection, opts: DirectoryOptions = {}): Promise<IdentityDirectory> {
    const timeoutMs = opts.timeoutMs ?? limits.identityTimeoutMsDefault;
    const tryMs = Math.min(timeoutMs, limits.identityTryMs);
    // Short tries, repeated: a request to a stream whose leader just died goes unanswered.
    const jsm = await nc.jetstreamManager({ timeout: tryMs, checkAPI: false });
    const deadline = mono() + timeoutMs;
    let info: StreamInfo;
    for (let attempt = 0; ; attempt++) {
      try {
        info = await ensureStream(jsm, opts.replicas ?? 3, opts.duplicateWindowMs ?? limits.identityDuplicateWindowMsDefault);
        break;
      } catch (err) {
        const unanswered = err instanceof NatsError && (err.code === ErrorCode.Timeout || err.code === ErrorCode.NoResponders);
        if (!unanswered || mono() + backoffMs(attempt) > deadline) throw err;
        await sleep(backoffMs(attempt));
      }
    }
    const dir = new IdentityDirectory(nc, jsm, timeoutMs, opts.log, opts.now);
    dir.follower.start();
    // A large directory takes a while to read: wait as long as the cache keeps growing.
    for (let progress = 0; ; ) {
      try {
        await dir.waitApplied(info.state.last_seq, mono() + timeoutMs);
        return dir;
      } catch (err) {
        if (dir.applied > progress) {
          progress = dir.applied;
          continue;
        }
        await dir.close();
        throw err;
      }
    }
  }

  /** Who holds the key by this instance's cache (milliseconds behind the stream; sync() to be sure). */
  lookup(kind: IdentityKind, value: string): string | null {
    return this.owners[kind]?.get(value) ?? null;
  }

  /** Resolves once the cache holds every change the stream had when called (read-your-writes across instances). */
  async sync(): Promise<void> {
    const deadline = mono() + this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new LoyaltyError("UNAVAILABLE", "the identity directory is closed");
      let target: number;
      try {
        target = await this.lastSeq();
      } catch (err) {
        // No stream leader for a moment (a NATS node died): ask again until the deadline.
        const wait = backoffMs(attempt);
        if (mono() + wait > deadline || (err instanceof NatsError && err.code === ErrorCode.PermissionsViolation)) {
          throw new LoyaltyError("UNAVAILABLE", `the identity directory cannot read the stream: ${err instanceof Error ? err.message : String(err)}`);
        }
        await sleep(wait);
        continue;
      }
      return this.waitApplied(target, deadline);
    }
  }

  /** Takes the key for `customerId`; ok too when it holds it already. Refused with the holder otherwise. */
  async claim(kind: IdentityKind, value: string, customerId: string, opts: WriteOptions = {}): Promise<DirectoryResult> {
    validate(kind, value, { customerId }, opts.id);
    return this.enqueue(kind, value, opts, (owner) => {
      if (owner === undefined) return { write: customerId };
      return owner === customerId ? { done: true } : { refused: owner };
    }, { op: "claim", by: customerId });
  }

  /** Frees the key; only its holder may (refused with the holder otherwise). ok when it is free already. */
  async release(kind: IdentityKind, value: string, customerId: string, opts: WriteOptions = {}): Promise<DirectoryResult> {
    validate(kind, value, { customerId }, opts.id);
    return this.enqueue(kind, value, opts, (owner) => {
      if (owner === customerId) return { write: null };
      return owner === undefined ? { done: true } : { refused: owner };
    }, { op: "release", by: customerId });
  }

  /** Hands the key from `from` to `to` (a merge); ok when `to` holds it already; refused when free or someone else's. */
  async move(kind: IdentityKind, value: string, from: string, to: string, opts: WriteOptions = {}): Promise<DirectoryResult> {
    validate(kind, value, { from, to }, opts.id);
    return this.enqueue(kind, value, opts, (owner) => {
      if (owner === from) return { write: to };
      return owner === to ? { done: true } : { refused: owner ?? null };
    }, { op: "move", by: from });
  }

  stats(): DirectoryStats {
    const keys = Object.fromEntries(IDENTITY_KINDS.map((k) => [k, this.owners[k].size])) as Record<IdentityKind, number>;
    return { applied: this.applied, keys, ...this.counts, refollowed: this.follower.restarts };
  }

  /** Stops following; operations afterwards are UNAVAILABLE. Does not close the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    this.follower.close();
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new LoyaltyError("UNAVAILABLE", "the identity directory is closed"));
    }
  }

  /** One message of the stream, in order, into the cache. */
  private apply(subject: string, data: Uint8Array, seq: number): void {
    if (seq <= this.applied) return; // this instance's own append, applied at its acknowledgement
    const key = parseIdentitySubject(subject);
    const record = key ? decodeIdentityRecord(data) : null;
    if (key && record) this.set(key.kind, key.value, record.owner);
    else {
      this.counts.unreadable++;
      if (key) this.unreadableKeys.add(`${key.kind}\u0000${key.value}`);
      this.log?.warn({ subject, seq }, "identity directory: a message this version cannot read");
    }
    this.advance(seq);
  }

  private set(kind: IdentityKind, value: string, owner: string | null): void {
    this.unreadableKeys.delete(`${kind}\u0000${value}`);
    if (owner === null) this.owners[kind].delete(value);
    else this.owners[kind].set(value, owner);
    // Keys a request holds while it is logged and applied (cluster/identities.ts PENDING_HOLDER): few, swept by their partition's owner.
    const k = `${kind}\u0000${value}`;
    if (owner !== null && owner.startsWith("pending:")) this.pendingKeys.set(k, [kind, value, owner]);
    else this.pendingKeys.delete(k);
  }

  /** Keys held by a request, not yet by a customer: [kind, value, holder]. */
  pending(): [IdentityKind, string, string][] {
    return [...this.pendingKeys.values()];
  }

  private advance(seq: number): void {
    this.applied = seq;
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.target <= seq);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.target > seq);
    for (const w of ready) {
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  private waitApplied(target: number, deadline: number): Promise<void> {
    if (this.applied >= target) return Promise.resolve();
    if (this.closed) return Promise.reject(new LoyaltyError("UNAVAILABLE", "the identity directory is closed"));
    return new Promise((resolve, reject) => {
      const w: Waiter = { target, resolve, reject, timer: setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new LoyaltyError("UNAVAILABLE", `the identity directory did not reach sequence ${target} in time (at ${this.applied})`));
      }, Math.max(0, deadline - mono())) };
      this.waiters.push(w);
    });
  }

  /** The stream's last sequence, from its leader. */
  private async lastSeq(): Promise<number> {
    return (await this.jsm.streams.info(IDENTITY_STREAM)).state.last_seq;
  }

  private enqueue(kind: IdentityKind, value: string, opts: WriteOptions, decide: (owner: string | undefined) => Decision, act: Pick<IdentityRecord, "op" | "by">): Promise<DirectoryResult> {
    if (this.closed) return Promise.reject(new LoyaltyError("UNAVAILABLE", "the identity directory is closed"));
    if (this.queued >= limits.identityQueueMax) return Promise.reject(new LoyaltyError("OVERLOADED", "too many identity claims waiting"));
    this.queued++;
    const run = this.chain.then(() => this.operate(kind, value, opts.id ?? randomUUID(), decide, act));
    this.chain = run.catch(() => undefined).finally(() => this.queued--);
    return run;
  }

  /**
   * Decides on the cache, then appends after the sequence the cache reflects. A refused
   * append means the cache was behind: decide again on a view at least as new as the
   * stream was when it refused. An answer that appends nothing (ok as is, or refused) is
   * given only from a view newer than the call.
   */
  private async operate(kind: IdentityKind, value: string, msgID: string, decide: (owner: string | undefined) => Decision, act: Pick<IdentityRecord, "op" | "by">): Promise<DirectoryResult> {
    const deadline = mono() + this.timeoutMs;
    const subject = identitySubject(kind, value);
    /** null: decide on the cache; a number: on a view at least that new (0: as new as the stream now). */
    let needed: number | null = null;
    let lastError: unknown = null;
    for (let attempt = 0; attempt <= limits.identityRetriesMax && mono() <= deadline; attempt++) {
      if (this.closed) throw new LoyaltyError("UNAVAILABLE", "the identity directory is closed");
      try {
        const view = needed === null ? this.cached(kind, value) : await this.freshView(kind, value, needed, deadline);
        const decision = decide(view.owner);
        if (!("write" in decision)) {
          if (needed === null) {
            needed = 0;
            continue;
          }
          if ("done" in decision) return { ok: true, seq: view.known, duplicate: false };
          this.counts.refused++;
          return { ok: false, owner: decision.refused };
        }
        const record: IdentityRecord = { ...act, owner: decision.write, at: this.now() };
        const ack = await this.js.publish(subject, encodeIdentityRecord(record), {
          expect: { lastSequence: view.known }, msgID, timeout: Math.max(1, Math.min(limits.identityTryMs, deadline - mono())),
        });
        // Right after what the cache holds: the cache takes it now, ahead of the follower, which then skips it.
        if (!ack.duplicate && ack.seq === view.known + 1 && this.applied === view.known) {
          this.set(kind, value, decision.write);
          this.advance(ack.seq);
        }
        if (!ack.duplicate) this.counts.written++;
        return { ok: true, seq: ack.seq, duplicate: ack.duplicate };
      } catch (err) {
        if (err instanceof LoyaltyError) throw err; // an unreadable entry: no retry changes it
        if (err instanceof NatsError && err.code === ErrorCode.PermissionsViolation) throw err;
        lastError = err;
        const streamAt = wrongLastSequence(err);
        if (streamAt !== null) {
          // Another instance appended first.
          this.counts.raced++;
          needed = streamAt;
          continue;
        }
        // No answer (a leader election, a lost connection): the append may have landed.
        // Try again with the same id, so that it is not appended twice.
        needed = null;
        this.log?.warn({ err, kind, attempt }, "identity directory: retrying after an error");
        await sleep(backoffMs(attempt));
      }
    }
    throw new LoyaltyError("UNAVAILABLE", `the identity directory could not complete a ${act.op} in time: ${lastError instanceof Error ? lastError.message : "too many concurrent changes"}`);
  }

  private cached(kind: IdentityKind, value: string): { owner: string | undefined; known: number } {
    if (this.unreadableKeys.has(`${kind}\u0000${value}`)) throw new LoyaltyError("UNAVAILABLE", `the ${kind}'s directory entry was written by another version of loyaltyd`);
    return { owner: this.owners[kind].get(value), known: this.applied };
  }

  /**
   * The key's owner as of a stream sequence at least `target` (0: the stream's last one
   * now): from the cache once it caught up, which takes a moment when the follower is
   * well; else (its node died, say) from the stream's leader: the key's last message, read
   * after `target`, holds its state at `target` when it is not newer.
   */
  private async freshView(kind: IdentityKind, value: string, target: number, deadline: number): Promise<{ owner: string | undefined; known: number }> {
    let at = target || (await this.lastSeq());
    const caughtUp = await this.waitApplied(at, Math.min(deadline, mono() + limits.identityCatchUpMs)).then(() => true, () => false);
    if (caughtUp) return this.cached(kind, value);
    for (let tries = 0; tries <= limits.identityRetriesMax && mono() <= deadline; tries++) {
      const m = await this.jsm.streams.getMessage(IDENTITY_STREAM, { last_by_subj: identitySubject(kind, value) }).catch((err: unknown) => {
        if (err instanceof NatsError && err.api_error?.err_code === NO_MESSAGE) return null;
        throw err;
      });
      if (m && m.seq > at) {
        at = await this.lastSeq();
        continue;
      }
      if (!m) return { owner: undefined, known: at };
      const record = decodeIdentityRecord(m.data);
      if (!record) throw new LoyaltyError("UNAVAILABLE", `the ${kind}'s directory entry was written by another version of loyaltyd`);
      return { owner: record.owner ?? undefined, known: at };
    }
    throw new LoyaltyError("UNAVAILABLE", `the ${kind}'s directory entry keeps changing`);
  }
}

/** The stream, created when missing; concurrent creators with one config get one stream. */
async function ensureStream(jsm: JetStreamManager, replicas: number, duplicateWindowMs: number): Promise<StreamInfo> {
  const found = await jsm.streams.info(IDENTITY_STREAM).catch((err: unknown) => {
    if (err instanceof NatsError && err.api_error?.err_code === 10059) return null; // stream not found
    throw err;
  });
  if (found) return found;
  return jsm.streams.add({
    name: IDENTITY_STREAM,
    subjects: [`${IDENTITY_SUBJECT_PREFIX}.>`],
    num_replicas: replicas,
    storage: StorageType.File,
    // The current state of every key is its last message; older ones only slow a start.
    max_msgs_per_subject: 1,
    discard: DiscardPolicy.Old,
    duplicate_window: duplicateWindowMs * 1_000_000,
    // A removed last message would leave the caches waiting for a sequence that never comes.
    deny_delete: true,
    deny_purge: true,
  }).catch(async (err: unknown) => {
    // Another instance created it in between (with another config, or an older server that says so).
    if (err instanceof NatsError && err.api_error?.err_code === 10058) return jsm.streams.info(IDENTITY_STREAM);
    throw err;
  });
}
