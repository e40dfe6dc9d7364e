// The hold sweeper's passes (src/sweepers.ts): a full pass whose commands took the holds
// out of the index asks for the next one at once; a pass that moved nothing (refused,
// skipped for another instance's partition) does not, so it cannot spin. The points-expiry
// and voucher sweeps hand their commands over a chunk at a time, so that the stream's
// events, in the same bulk lane, never wait behind a whole sweep.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { limits } from "../src/limits.js";
import { openStore, type Store } from "../src/ledger/store.js";
import { createLogger } from "../src/observe/logger.js";
import type { Handled } from "../src/partition/batch.js";
import { NOT_SWEPT_HERE, holdSweeper, sweepHolds, sweepPointsExpiry, sweepVouchers, type InternalVerb, type SweepDeps } from "../src/sweepers.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const batchMax = limits.holdSweepBatchMax;
const chunkMax = limits.sweepChunkMax;
afterEach(() => {
  limits.holdSweepBatchMax = batchMax;
  limits.sweepChunkMax = chunkMax;
});

const NOW = Date.UTC(2026, 11, 1);
const ok: Handled = { bytes: new Uint8Array(0), outcome: "ok", label: "expireHold", notifications: [], refusal: null, points: 0 };

/** A store whose index holds `n` holds past their time (and one not yet due). */
function storeWithDueHolds(n: number): Store {
  const dir = mkdtempSync(join(tmpdir(), "loyaltyd-sweep-"));
  dirs.push(dir);
  const store = openStore(join(dir, "ledger"));
  store.env.transactionSync(() => {
    for (let i = 0; i < n; i++) store.holdsByExpiry.put([NOW - 1000 + i, `h_${String(i).padStart(6, "0")}`], `cu_${i % 7}`);
    store.holdsByExpiry.put([NOW + 60_000, "h_later"], "cu_0");
  });
  return store;
}

/** Deps whose partition expires each hold it is sent (takes it out of the index), or refuses it. */
function deps(store: Store, outcome: "expire" | "refuse" | "skip", sent: string[], applied: Promise<unknown>[] = []): SweepDeps {
  const apply = async (holdId: string): Promise<Handled> => {
    if (outcome === "refuse") throw new Error("OVERLOADED");
    if (outcome === "skip") return NOT_SWEPT_HERE;
    await store.env.transaction(() => {
      for (const { key } of store.holdsByExpiry.getRange({})) if (key[1] === holdId) store.holdsByExpiry.remove(key);
    });
    return ok;
  };
  return {
    store,
    now: () => NOW,
    log: createLogger("silent"),
    publishNotifications: () => undefined,
    expiryNoticeMs: 0,
    submit: (_customerId, verb, input) => {
      expect(verb).toBe("expireHold");
      const holdId = String(input.holdId);
      sent.push(holdId);
      const done = apply(holdId);
      applied.push(done.catch(() => undefined));
      return done;
    },
  };
}

describe("the hold sweeper", () => {
  it("goes on at once after a full pass that expired its holds, until a pass is not full", async () => {
    limits.holdSweepBatchMax = 4;
    const store = storeWithDueHolds(11);
    const sent: string[] = [];
    const applied: Promise<unknown>[] = [];
    const d = deps(store, "expire", sent, applied);
    const passes: boolean[] = [];
    for (;;) {
      const more = await sweepHolds(d);
      passes.push(more);
      if (!more) break;
    }
    expect(passes).toEqual([true, true, false]);
    expect(sent).toHaveLength(11);
    expect(new Set(sent).size).toBe(11);
    await Promise.all(applied); // the last pass (not full) does not wait for its commands
    store.env.resetReadTxn();
    expect([...store.holdsByExpiry.getKeys({})].map((k) => k[1])).toEqual(["h_later"]);
    await store.env.close();
  });

  it("does not ask for another pass when the pass's commands were refused or skipped: the holds stay for the timer's next pass", async () => {
    limits.holdSweepBatchMax = 4;
    for (const outcome of ["refuse", "skip"] as const) {
      const store = storeWithDueHolds(9);
      const sent: string[] = [];
      expect(await sweepHolds(deps(store, outcome, sent))).toBe(false);
      expect(sent).toEqual(["h_000000", "h_000001", "h_000002", "h_000003"]);
      store.env.resetReadTxn();
      expect(store.holdsByExpiry.getKeysCount({})).toBe(10);
      await store.env.close();
    }
  });

  it("runs one sweep at a time on the timer's ticks, each going on while passes are full, and stops once the engine closes", async () => {
    limits.holdSweepBatchMax = 4;
    const store = storeWithDueHolds(11);
    const sent: string[] = [];
    const applied: Promise<unknown>[] = [];
    const tick = holdSweeper(deps(store, "expire", sent, applied), () => false);
    tick();
    tick(); // still running: ignored
    // Bounded at 5 s, not 0.5 s: a loaded machine may stall this process that long; the ticks are only the two above.
    for (let i = 0; i < 500 && sent.length < 11; i++) await new Promise((r) => setTimeout(r, 10));
    await Promise.all(applied);
    expect(sent).toHaveLength(11);
    expect(new Set(sent).size).toBe(11);
    await store.env.close();

    const closingStore = storeWithDueHolds(11);
    const closingSent: string[] = [];
    let closed = false;
    const closingTick = holdSweeper(deps(closingStore, "expire", closingSent), () => closed);
    closed = true;
    closingTick();
    await new Promise((r) => setTimeout(r, 50));
    expect(closingSent).toEqual([]);
    await closingStore.env.close();
  });
});

describe("the points-expiry and voucher sweeps", () => {
  /** A store with `n` customers due for the expiry sweep and `n` vouchers past their time (and one of each not yet due). */
  function storeWithDue(n: number): Store {
    const dir = mkdtempSync(join(tmpdir(), "loyaltyd-sweep-"));
    dirs.push(dir);
    const store = openStore(join(dir, "ledger"));
    store.env.transactionSync(() => {
      for (let i = 0; i < n; i++) {
        store.expiryDue.put([NOW - 1000 + i, `cu_${String(i).padStart(4, "0")}`], 1);
        store.vouchersByExpiry.put([NOW - 1000 + i, `V-${i}`], `cu_${i}`);
      }
      store.expiryDue.put([NOW + 60_000, "cu_later"], 1);
      store.vouchersByExpiry.put([NOW + 60_000, "V-later"], "cu_later");
    });
    return store;
  }

  /** Deps whose partition answers each command a few turns later, counting how many were unanswered at once. */
  function pacedDeps(store: Store) {
    const seen = { sent: [] as string[], inFlight: 0, inFlightMax: 0 };
    const d: SweepDeps = {
      store,
      now: () => NOW,
      log: createLogger("silent"),
      publishNotifications: () => undefined,
      expiryNoticeMs: 0,
      submit: async (customerId: string, verb: InternalVerb, input: Record<string, unknown>) => {
        seen.sent.push(verb === "sweepVoucher" ? String(input.code) : customerId);
        seen.inFlightMax = Math.max(seen.inFlightMax, ++seen.inFlight);
        for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
        seen.inFlight--;
        return ok;
      },
    };
    return { d, seen };
  }

  it("hands the due customers and vouchers over a chunk at a time, each once the chunk before is answered, every one of them in order", async () => {
    limits.sweepChunkMax = 8;
    const store = storeWithDue(30);
    const expiry = pacedDeps(store);
    await sweepPointsExpiry(expiry.d);
    expect(expiry.seen.sent).toEqual(Array.from({ length: 30 }, (_, i) => `cu_${String(i).padStart(4, "0")}`));
    expect(expiry.seen.inFlightMax).toBe(8);
    expect(expiry.seen.inFlight).toBe(0);
    const vouchers = pacedDeps(store);
    await sweepVouchers(vouchers.d);
    expect(vouchers.seen.sent).toEqual(Array.from({ length: 30 }, (_, i) => `V-${i}`));
    expect(vouchers.seen.inFlightMax).toBe(8);
    await store.env.close();
  });

  it("stops between chunks once told to (the engine closing), and a refused command does not stop the others", async () => {
    limits.sweepChunkMax = 8;
    const store = storeWithDue(30);
    const { d, seen } = pacedDeps(store);
    let stop = false;
    const submit = d.submit;
    d.submit = (customerId, verb, input) => {
      if (seen.sent.length === 10) stop = true;
      if (customerId === "cu_0003") return Promise.reject(new Error("OVERLOADED"));
      return submit(customerId, verb, input);
    };
    await sweepPointsExpiry(d, () => stop);
    // The first chunk (8) and the second (8, during which it was told to stop) went; no third.
    expect(seen.sent).toHaveLength(15);
    expect(seen.sent).not.toContain("cu_0003");
    await store.env.close();
  });
});
