// Retention on a real LMDB with an injected clock: what each window lets go and what it
// keeps, what a re-send or retry after the window gets, and the scan's bounds and cursor.
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { limits } from "../../src/limits.js";
import { Pruner, cursorKey, type RetentionOptions, type StepReport } from "../../src/ledger/retention.js";
import { DAY_MS } from "../../src/ledger/tx.js";
import { OPTIONS, T0, balanceCmd, cmd, enrol, entriesOf, expireCmd, openHarness, pointsOf, ret, sale, snapshot, type Harness, type Reply } from "./harness.js";

const CARD = { card: "C-1" };
const LATE_MS = OPTIONS.eventLateMsMax;
const WINDOWS: RetentionOptions = { salesMs: LATE_MS, requestsMs: 7 * DAY_MS, holdsMs: 2 * DAY_MS, scanMax: 1000, eventFutureMsMax: OPTIONS.eventFutureMsMax };

let open: Harness[] = [];
afterEach(async () => {
  for (const h of open) await h.close();
  open = [];
});

/** A ledger with customer cu_000001 (card C-1) enrolled at T0. */
async function withCustomer(): Promise<Harness> {
  const h = await openHarness();
  open.push(h);
  expect(await h.one(enrol("e-1", "C-1"))).toMatchObject({ ok: true, customerId: "cu_000001" });
  return h;
}

function pruner(h: Harness, options: Partial<RetentionOptions> = {}): Pruner {
  return new Pruner(h.store, { ...WINDOWS, ...options }, () => h.clock.now);
}

/** One step with the clock at `now`; the reports by kind. */
async function stepAt(h: Harness, p: Pruner, now: number): Promise<Record<string, StepReport>> {
  h.clock.now = now;
  const reports = await p.step();
  h.store.env.resetReadTxn();
  return Object.fromEntries(reports.map((r) => [r.kind, r]));
}

const errorOf = (r: Reply) => (r.ok === false ? { code: r.error.code, field: r.error.field } : null);
const sale10 = (eventId: string, at = T0) => cmd("accrue", sale(eventId, CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }], at));

describe("retention of event records", () => {
  it("keeps a sale's record until its at is older than the window, then a re-send is refused with VALIDATION on at, never applied again", async () => {
    const h = await withCustomer();
    expect(await h.one(sale10("s-1"))).toMatchObject({ ok: true, earned: 10, balance: 10 });
    const p = pruner(h);

    expect((await stepAt(h, p, T0 + LATE_MS)).event).toMatchObject({ pruned: 0 });
    expect(h.store.events.get("s-1")).toBeDefined();
    // Still inside the event window: the re-send is a duplicate.
    expect(await h.one(sale10("s-1"))).toMatchObject({ ok: true, duplicate: true, balance: 10 });

    expect((await stepAt(h, p, T0 + LATE_MS + 1)).event).toMatchObject({ pruned: 1 });
    expect(h.store.events.get("s-1")).toBeUndefined();
    const resent = await h.one(sale10("s-1"));
    expect(errorOf(resent)).toEqual({ code: "VALIDATION", field: "at" });
    expect(pointsOf(await h.one(balanceCmd("cu_000001"))).balance).toBe(10);
    expect(entriesOf(h.store, "cu_000001")).toHaveLength(1);
  });

  it("dates a return's record by the return's own at; a return of a sale past its window meets UNKNOWN_EVENT", async () => {
    const h = await withCustomer();
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 2, unitPrice: 1000 }])));
    h.clock.now = T0 + 10 * DAY_MS;
    expect(await h.one(cmd("accrue", ret("r-1", "s-1", [{ lineId: "1", qty: 1 }], T0 + 10 * DAY_MS)))).toMatchObject({ ok: true, earned: -10 });
    expect(h.store.events.get("r-1")?.a).toBe(T0 + 10 * DAY_MS);
    const p = pruner(h);

    const first = (await stepAt(h, p, T0 + LATE_MS + 1));
    expect(first.event).toMatchObject({ scanned: 2, pruned: 1 });
    expect(h.store.events.get("s-1")).toBeUndefined();
    expect(await h.one(cmd("accrue", ret("r-1", "s-1", [{ lineId: "1", qty: 1 }], T0 + 10 * DAY_MS)))).toMatchObject({ ok: true, duplicate: true });
    const late = await h.one(cmd("accrue", ret("r-2", "s-1", [{ lineId: "1", qty: 1 }], T0 + LATE_MS)));
    expect(errorOf(late)?.code).toBe("UNKNOWN_EVENT");

    expect((await stepAt(h, p, T0 + 10 * DAY_MS + LATE_MS + 1)).event).toMatchObject({ pruned: 1 });
    expect(errorOf(await h.one(cmd("accrue", ret("r-1", "s-1", [{ lineId: "1", qty: 1 }], T0 + 10 * DAY_MS))))).toEqual({ code: "VALIDATION", field: "at" });
    expect(pointsOf(await h.one(balanceCmd("cu_000001"))).balance).toBe(10);
  });
});

describe("retention of request records", () => {
  it("keeps a request's record for its window from when it was written; a retry after it is applied again", async () => {
    const h = await withCustomer();
    await h.one(sale10("s-1"));
    h.clock.now = T0 + DAY_MS;
    const auth = cmd("authorize", { requestId: "a-1", customer: CARD, amount: 3 });
    const first = await h.one(auth);
    expect(first).toMatchObject({ ok: true, approved: true, holdId: "h_000001" });
    expect(h.store.requests.get("a-1")?.t).toBe(T0 + DAY_MS);
    const p = pruner(h);

    expect((await stepAt(h, p, T0 + 7 * DAY_MS)).request).toMatchObject({ scanned: 2, pruned: 0 });
    h.clock.now = T0 + 8 * DAY_MS;
    expect(await h.one(auth)).toMatchObject({ ok: true, holdId: "h_000001", duplicate: true });

    // The enrolment (T0) and the authorisation (T0 + 1 day) are both past 7 days now.
    expect((await stepAt(h, p, T0 + 8 * DAY_MS + 1)).request).toMatchObject({ scanned: 2, pruned: 2 });
    expect(await h.one(auth)).toMatchObject({ ok: true, approved: true, holdId: "h_000002" });
  });
});

describe("retention of holds", () => {
  it("prunes a hold only once it is closed and its expiry time is older than the window", async () => {
    const h = await withCustomer();
    await h.one(sale10("s-1"));
    const ttlMs = 3_600_000;
    for (const id of ["a-1", "a-2"]) expect(await h.one(cmd("authorize", { requestId: id, customer: CARD, amount: 1, ttlMs }))).toMatchObject({ approved: true });
    expect(await h.one(cmd("release", { requestId: "rl-1", holdId: "h_000001" }))).toMatchObject({ ok: true });
    const p = pruner(h, { requestsMs: 0 });
    const expiresAt = T0 + ttlMs;

    expect((await stepAt(h, p, expiresAt + 2 * DAY_MS)).hold).toMatchObject({ scanned: 2, pruned: 0 });
    const after = (await stepAt(h, p, expiresAt + 2 * DAY_MS + 1)).hold;
    expect(after).toMatchObject({ scanned: 2, pruned: 1 });
    expect(h.store.holds.get("h_000001")).toBeUndefined();
    // h_000002 is open (the sweeper never came by): kept, whatever its age.
    expect(h.store.holds.get("h_000002")?.status).toBe("open");
    expect(errorOf(await h.one(cmd("release", { requestId: "rl-2", holdId: "h_000001" })))?.code).toBe("UNKNOWN_HOLD");

    expect(await h.one(expireCmd("h_000002"))).toMatchObject({ expired: true });
    expect((await stepAt(h, p, h.clock.now + 1)).hold).toMatchObject({ pruned: 1 });
    expect([...h.store.holds.getKeys()]).toEqual([]);
    expect(pointsOf(await h.one(balanceCmd("cu_000001")))).toEqual({ balance: 10, held: 0, available: 10 });
  });
});

describe("the retention scan", () => {
  it("touches nothing but the records it deletes: wallets, entries, lots and open holds stay as they were", async () => {
    const h = await withCustomer();
    for (let i = 0; i < 5; i++) await h.one(sale10(`s-${i}`));
    await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 2, ttlMs: 86_400_000 }));
    const before = JSON.parse(snapshot(h.store)) as Record<string, unknown>;
    (await stepAt(h, pruner(h), T0 + 400 * DAY_MS));
    const after = JSON.parse(snapshot(h.store)) as Record<string, unknown[]>;
    for (const t of ["customers", "cards", "wallets", "entries", "lots", "expiryDue", "holds", "holdsByExpiry"]) expect(after[t], t).toEqual(before[t]);
    expect(after.events).toEqual([]);
    expect(after.requests).toEqual([]);
    const balance = pointsOf(await h.one(balanceCmd("cu_000001"))).balance;
    expect(balance).toBe(50);
    expect(entriesOf(h.store, "cu_000001").reduce((s, e) => s + e.amount, 0)).toBe(balance);
  });

  it("reads at most scanMax records of a table per step, and resumes where it stopped after a restart", async () => {
    const h = await withCustomer();
    for (let i = 0; i < 24; i++) await h.one(cmd("authorize", { requestId: `a-${String(i).padStart(2, "0")}`, customer: CARD, amount: 1 }));
    const keys = [...h.store.requests.getKeys()] as string[];
    expect(keys).toHaveLength(25);
    const late = T0 + 8 * DAY_MS;
    const options = { scanMax: 10, salesMs: 0, holdsMs: 0 };

    const first = (await stepAt(h, pruner(h, options), late));
    expect(Object.keys(first)).toEqual(["request"]);
    expect(first.request).toMatchObject({ scanned: 10, pruned: 10, wrapped: false });
    expect(h.store.meta.get(cursorKey("request")) as unknown).toBe(keys[9]);
    expect([...h.store.requests.getKeys()]).toEqual(keys.slice(10));

    // A new pruner (the engine restarted) goes on from the saved position.
    const p = pruner(h, options);
    expect((await stepAt(h, p, late)).request).toMatchObject({ scanned: 10, pruned: 10, wrapped: false });
    expect((await stepAt(h, p, late)).request).toMatchObject({ scanned: 5, pruned: 5, wrapped: true });
    expect(h.store.meta.get(cursorKey("request"))).toBeUndefined();
    expect([...h.store.requests.getKeys()]).toEqual([]);
  });

  it("writes nothing in a step that deletes nothing, and saves its position at most every retentionCursorPersistMs", async () => {
    const h = await withCustomer();
    for (let i = 0; i < 4; i++) await h.one(sale10(`s-${i}`));
    const p = pruner(h, { scanMax: 2, requestsMs: 0, holdsMs: 0 });
    const quiet = (await stepAt(h, p, T0 + limits.retentionCursorPersistMs - 1)).event!;
    expect(quiet).toMatchObject({ scanned: 2, pruned: 0, writeMs: 0 });
    expect(h.store.meta.get(cursorKey("event"))).toBeUndefined();
    const later = (await stepAt(h, p, T0 + limits.retentionCursorPersistMs)).event!;
    expect(later).toMatchObject({ scanned: 2, pruned: 0 });
    expect(later.writeMs).toBeGreaterThan(0);
    expect(h.store.meta.get(cursorKey("event")) as unknown).toBe("s-3");
  });

  it("dates records written before retention when it first meets them, and prunes them a window later", async () => {
    const h = await withCustomer();
    await h.store.requests.put("old-request", { h: "x", r: { ok: true } });
    await h.store.events.put("old-return", { h: "y", r: { ok: true, type: "return" } });
    const p = pruner(h, { holdsMs: 0 });
    const now = T0 + 2 * DAY_MS;
    const first = (await stepAt(h, p, now));
    expect(first.request).toMatchObject({ scanned: 2, stamped: 1, pruned: 0 }); // and e-1, dated at T0, is 2 days old
    expect(first.event).toMatchObject({ stamped: 1, pruned: 0 });
    expect(h.store.requests.get("old-request")?.t).toBe(now);
    expect(h.store.events.get("old-return")?.a).toBe(now + OPTIONS.eventFutureMsMax);

    expect((await stepAt(h, p, now + 7 * DAY_MS)).request).toMatchObject({ pruned: 1 }); // e-1
    expect(h.store.requests.get("old-request")).toBeDefined();
    expect((await stepAt(h, p, now + 7 * DAY_MS + 1)).request).toMatchObject({ pruned: 1 });
    expect(h.store.requests.get("old-request")).toBeUndefined();
    expect((await stepAt(h, p, now + OPTIONS.eventFutureMsMax + LATE_MS)).event).toMatchObject({ pruned: 0 });
    expect((await stepAt(h, p, now + OPTIONS.eventFutureMsMax + LATE_MS + 1)).event).toMatchObject({ pruned: 1 });
  });

  it("keeps a table for ever when its window is 0", async () => {
    const h = await withCustomer();
    await h.one(sale10("s-1"));
    const reports = (await stepAt(h, pruner(h, { salesMs: 0, requestsMs: 0, holdsMs: 0 }), T0 + 3650 * DAY_MS));
    expect(reports).toEqual({});
    expect(h.store.events.get("s-1")).toBeDefined();
    expect(h.store.requests.get("e-1")).toBeDefined();
  });
});

describe("the retention write beside a partition's long write transaction", () => {
  it("waits for LMDB's write lock without blocking the thread it runs on (the engine's main thread keeps serving)", async () => {
    const h = await withCustomer();
    expect(await h.one(sale10("s-1"))).toMatchObject({ ok: true });
    const p = pruner(h);
    // Another thread (as a partition's worker) holds the write lock for 1.5 s: a wedged batch, in small.
    const holder = new Worker(
      `const { workerData, parentPort } = require("node:worker_threads");
       import(workerData.storeUrl).then(({ openStore }) => {
         const store = openStore(workerData.path);
         store.env.transactionSync(() => {
           store.meta.put("lockHolder", 1);
           parentPort.postMessage("locked");
           Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
         });
         parentPort.postMessage("released");
       });`,
      { eval: true, workerData: { storeUrl: new URL("../../dist/src/ledger/store.js", import.meta.url).href, path: join(h.dir, "data") } },
    );
    const released = new Promise<void>((resolve) => holder.on("message", (m) => m === "released" && resolve()));
    await new Promise<void>((resolve) => holder.on("message", (m) => m === "locked" && resolve()));
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 20);
    h.clock.now = T0 + LATE_MS + 1;
    const step = p.step(); // s-1's record is due: this step writes
    await released;
    const ticksWhileLocked = ticks;
    const reports = await step;
    clearInterval(ticker);
    await holder.terminate();
    // A blocking write (transactionSync) would have held this thread for the whole 1.5 s: no tick.
    expect(ticksWhileLocked).toBeGreaterThan(20);
    expect(reports.find((r) => r.kind === "event")).toMatchObject({ pruned: 1 });
    expect(reports.find((r) => r.kind === "event")!.lockWaitMs).toBeGreaterThan(500);
  });
});
