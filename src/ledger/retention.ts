// Retention: idempotency records, closed holds and event records are deleted once past
// their windows, by a background scan that reads a bounded slice of each table per step
// and resumes where it stopped (its position is kept in meta). The hot path writes
// nothing for it: records are dated by what they already hold.
import type { Database } from "lmdb";
import { limits } from "../limits.js";
import type { EventRecord, Hold, IdemRecord, Store } from "./store.js";
import { assertInvariant } from "./tx.js";

export type RetentionKind = "event" | "request" | "hold";

export interface RetentionOptions {
  /** How long after its `at` an event record (sale, return, void) is kept, ms; 0 = for ever. Never below events.lateMsMax. */
  salesMs: number;
  /** How long after it was written a requestId's record is kept, ms; 0 = for ever. */
  requestsMs: number;
  /** How long after its expiry time a closed hold is kept, ms; 0 = for ever. */
  holdsMs: number;
  /** Records read per table per step (so also deleted at most, in one write transaction). */
  scanMax: number;
  /** events.futureMsMax: how far ahead of the clock that wrote its record an event's `at` may lie. */
  eventFutureMsMax: number;
}

export interface StepReport {
  kind: RetentionKind;
  scanned: number;
  pruned: number;
  /** Records written before retention that got their date (read on, then pruned a window later). */
  stamped: number;
  /** The scan reached the end of the table: the next step starts a new pass from the start. */
  wrapped: boolean;
  /** How long the step held LMDB's write lock (0: it wrote nothing), ms: what it may hold up a partition's commit. */
  writeMs: number;
  /** How long it waited for the write lock (a partition's batch was committing), ms. */
  lockWaitMs: number;
}

/** What to do with one record: keep it, delete it, or (an older record without its date) write it back dated. */
type Verdict<V> = "keep" | "prune" | { stamp: V };

interface Table<V> {
  kind: RetentionKind;
  db: Database<V, string>;
  windowMs: number;
  verdict(value: V, now: number): Verdict<V>;
}

/** The meta key of a table's scan position: the last key read (absent: at the start). */
export function cursorKey(kind: RetentionKind): string {
  return `retentionCursor:${kind}`;
}

/**
 * A re-send of a pruned event is refused (VALIDATION on `at`), never applied again:
 * its `at` is older than the window, and the window is at least events.lateMsMax.
 */
function eventVerdict(o: RetentionOptions): (r: EventRecord, now: number) => Verdict<EventRecord> {
  return (r, now) => {
    const at = r.s?.at ?? r.a;
    // Written no later than now, so its `at` is at most now + the future window.
    if (at === undefined) return { stamp: { ...r, a: now + o.eventFutureMsMax } };
    return at < now - o.salesMs ? "prune" : "keep";
  };
}

function requestVerdict(o: RetentionOptions): (r: IdemRecord, now: number) => Verdict<IdemRecord> {
  return (r, now) => {
    if (r.t === undefined) return { stamp: { ...r, t: now } };
    return r.t < now - o.requestsMs ? "prune" : "keep";
  };
}

/** Only closed holds: an open one is still in its customer's wallet and the expiry index. */
function holdVerdict(o: RetentionOptions): (h: Hold, now: number) => Verdict<Hold> {
  return (h, now) => (h.status !== "open" && h.expiresAt < now - o.holdsMs ? "prune" : "keep");
}

/** The prune write: small (scanMax records at most), and not waiting for its fsync, which the next commit carries. */

/**
 * Steps the scan of each table with a window. Runs on the engine's main thread, beside
 * the partitions' writers: each step's deletions are one write transaction of at most
 * scanMax records, so it holds LMDB's single write lock for a short, bounded time. The
 * write is an asynchronous transaction: lmdb-js's write thread waits for the lock (held
 * by a partition's batch meanwhile), not the main thread, which keeps serving HTTP,
 * /metrics and the watchdog even while a wedged partition holds the lock for good.
 */
export class Pruner {
  private readonly steps: (() => Promise<StepReport>)[] = [];
  private readonly cursors = new Map<RetentionKind, string | undefined>();
  private readonly savedAt = new Map<RetentionKind, number>();

  constructor(
    private readonly store: Store,
    private readonly options: RetentionOptions,
    private readonly clock: () => number = Date.now,
  ) {
    this.add({ kind: "event", db: store.events, windowMs: options.salesMs, verdict: eventVerdict(options) });
    this.add({ kind: "request", db: store.requests, windowMs: options.requestsMs, verdict: requestVerdict(options) });
    this.add({ kind: "hold", db: store.holds, windowMs: options.holdsMs, verdict: holdVerdict(options) });
  }

  /** A table with a window (0: kept for ever, never scanned), resumed where the last run saved its position. */
  private add<V>(t: Table<V>): void {
    if (t.windowMs <= 0) return;
    this.cursors.set(t.kind, this.positions().get(cursorKey(t.kind)));
    this.savedAt.set(t.kind, this.clock());
    this.steps.push(() => this.stepTable(t));
  }

  /** The meta table holds numbers, and these positions: the keys they stopped at. */
  private positions(): Database<string, string> {
    return this.store.meta as unknown as Database<string, string>;
  }

  /** One bounded step over every table with a window, one table after the other. */
  async step(): Promise<StepReport[]> {
    const reports: StepReport[] = [];
    for (const step of this.steps) {
      this.store.env.resetReadTxn();
      reports.push(await step());
    }
    return reports;
  }

  private async stepTable<V>(t: Table<V>): Promise<StepReport> {
    const now = this.clock();
    const { scanMax } = this.options;
    const start = this.cursors.get(t.kind);
    const prune: string[] = [];
    const stamps: [string, V][] = [];
    let scanned = 0;
    let last = start;
    // No `start` at all for the first slice: an explicit `start: undefined` would also
    // yield the table's shared msgpack structures, kept under a symbol key.
    const range = start === undefined ? { limit: scanMax } : { start, exclusiveStart: true, limit: scanMax };
    for (const { key, value } of t.db.getRange(range)) {
      assertInvariant(typeof key === "string", `retention met a ${typeof key} key in the ${t.kind} table`);
      scanned++;
      last = key;
      const v = t.verdict(value, now);
      if (v === "prune") prune.push(key);
      else if (v !== "keep") stamps.push([key, v.stamp]);
    }
    const wrapped = scanned < scanMax;
    const next = wrapped ? undefined : last;
    const save = prune.length > 0 || stamps.length > 0 || now - this.savedAt.get(t.kind)! >= limits.retentionCursorPersistMs;
    let writeMs = 0;
    let lockWaitMs = 0;
    if (save) {
      const t0 = performance.now();
      let locked = t0;
      let written = t0;
      await this.store.env.transaction(() => {
        locked = performance.now();
        for (const key of prune) t.db.remove(key);
        for (const [key, value] of stamps) t.db.put(key, value);
        if (next === undefined) this.positions().remove(cursorKey(t.kind));
        else this.positions().put(cursorKey(t.kind), next);
        written = performance.now();
      });
      writeMs = written - locked;
      lockWaitMs = locked - t0;
      this.savedAt.set(t.kind, now);
    }
    this.cursors.set(t.kind, next);
    return { kind: t.kind, scanned, pruned: prune.length, stamped: stamps.length, wrapped, writeMs, lockWaitMs };
  }
}
