// Lanes: a partition's batches on more than one worker thread, in turn. A batch's commit
// releases LMDB's write lock before its fsync (overlapping sync, ledger/store.ts
// durableTransaction), but a thread that commits waits for its own fsync. With one
// thread per partition the partition applies nothing meanwhile; with two lanes, batch
// k + 1 applies on the other thread while batch k's fsync runs, and the ledger still
// sees the partition's batches one after the other, in the order the main thread cut them.
//
// The order is kept by two counters in memory the lanes share (batch numbers wrap at 2^32):
// - `next`: the batch that may begin its write transaction. Batch k waits for it to be k,
//   and passes it to k + 1 when its writes are done, still holding the write lock, so
//   k + 1's transaction begins only once k's has committed;
// - `durable`: the latest batch committed and synced. A batch that writes nothing waits
//   for its predecessor's fsync before it reads (a reply never shows what a crash could
//   undo), and passes the turn only after its reads.
// A batch that writes reads inside its own transaction (ledger.ts), before it passes the
// turn: what it reads is then exactly the partition's state after its own writes.

import type { Turn } from "../ledger/ledger.js";

const NEXT = 0;
const DURABLE = 1;
/** How long one wait lasts before looking again (a lost wake-up costs this, never a hang). */
const WAIT_MS = 1000;

/** Atomics.waitAsync (Node 16+; ES2024 in TypeScript's libraries, newer than this project's target). */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, ms: number): { value: Promise<unknown> | string } }).waitAsync;

/** Whether batch number a comes at or after b (numbers wrap). */
const atOrAfter = (a: number, b: number): boolean => ((a - b) | 0) >= 0;


/** The counters a partition's lanes share: created by the main thread, handed to each lane's worker. */
export function createTurnMemory(): SharedArrayBuffer {
  const memory = new SharedArrayBuffer(8);
  const counters = new Int32Array(memory);
  counters[NEXT] = 0;
  counters[DURABLE] = -1;
  return memory;
}

export function turnOf(memory: SharedArrayBuffer, batch: number): Turn {
  const counters = new Int32Array(memory);
  const k = batch | 0;
  return {
    wait() {
      for (;;) {
        const next = Atomics.load(counters, NEXT);
        if (next === k) return;
        Atomics.wait(counters, NEXT, next, WAIT_MS);
      }
    },
    waitForPredecessor() {
      for (;;) {
        const done = Atomics.load(counters, DURABLE);
        if (atOrAfter(done, (k - 1) | 0)) return;
        Atomics.wait(counters, DURABLE, done, WAIT_MS);
      }
    },
    pass() {
      if (Atomics.compareExchange(counters, NEXT, k, (k + 1) | 0) === k) Atomics.notify(counters, NEXT);
    },
    durable() {
      for (;;) {
        const done = Atomics.load(counters, DURABLE);
        if (atOrAfter(done, k)) return;
        if (Atomics.compareExchange(counters, DURABLE, done, k) === done) {
          Atomics.notify(counters, DURABLE);
          return;
        }
      }
    },
  };
}

/**
 * The main thread's side: numbers a partition's batches and names the lane of each. A
 * batch that did not run to its end in its worker (the thread died, or its task failed
 * before the ledger had the batch) is passed over by `abandon`, once its turn comes, so
 * that the batches behind it do not wait for ever.
 */
export class LaneOrder {
  private issued = 0;
  readonly memory = createTurnMemory();
  constructor(readonly lanes: number) {}

  /** The next batch's number and lane. */
  take(): { batch: number; lane: number } {
    const batch = this.issued;
    this.issued = (this.issued + 1) | 0;
    return { batch, lane: (batch >>> 0) % this.lanes };
  }

  async abandon(batch: number): Promise<void> {
    const counters = new Int32Array(this.memory);
    const turn = turnOf(this.memory, batch);
    for (;;) {
      const next = Atomics.load(counters, NEXT);
      if (next === batch) {
        turn.pass();
        break;
      }
      if (atOrAfter(next, batch)) break;
      await waitAsync(counters, NEXT, next, WAIT_MS).value;
    }
    turn.durable();
  }
}
