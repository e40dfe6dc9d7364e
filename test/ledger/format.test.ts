// The store's format: a new store is stamped with this code's format; ledgers of formats 2,
// 3 and 4 (fixtures written by those releases' code) are migrated at open and read as they
// did, re-sent sales answered with their first replies, lots moved into the wallets; one
// of format 1 is refused with what to do.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Ledger, type Command } from "../../src/ledger/ledger.js";
import { allLots } from "../../src/ledger/lots.js";
import { closeStore, FORMAT_VERSION, openStore, rawWallets, StoreFormatError, type Lot, type Store } from "../../src/ledger/store.js";
import { turnoverDays } from "../../src/ledger/turnover.js";
import { cmd, OPTIONS, T0, type Reply } from "./harness.js";

const FIXTURE_V1 = join(import.meta.dirname, "..", "fixtures", "ledger-v1");
type Expected = {
  statement: Reply;
  balance: Reply;
  holdId: string;
  replies?: Record<string, { request: Reply; reply: Reply }>;
  lots?: { key: [string, string, number, number]; value: Lot }[];
  openHoldId?: string;
  holds?: Record<string, [string, number, number]>;
  turnover?: [number, number][];
};
const fixture = (name: string): { dir: string; expected: Expected } => ({
  dir: join(import.meta.dirname, "..", "fixtures", name),
  expected: JSON.parse(readFileSync(join(import.meta.dirname, "..", "fixtures", `${name}.expected.json`), "utf8")) as Expected,
});
/** Written by test/fixtures/ledger-fixture.make.mjs with 9eb041f's code (format 2), 41bad72's (format 3), 3b95502's (format 4), 229d6b2's (format 5) and 6d6bca7's (format 6), with what that code replied and read back. */
const { dir: FIXTURE_V2, expected: EXPECTED_V2 } = fixture("ledger-v2");
const { dir: FIXTURE_V3, expected: EXPECTED_V3 } = fixture("ledger-v3");
const { dir: FIXTURE_V4, expected: EXPECTED_V4 } = fixture("ledger-v4");
const { dir: FIXTURE_V5, expected: EXPECTED_V5 } = fixture("ledger-v5");
const { dir: FIXTURE_V6, expected: EXPECTED_V6 } = fixture("ledger-v6");
let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), "loyaltyd-format-"));
  dirs.push(d);
  return d;
}

/**
 * A copy of a fixture opened (and so migrated) by this code, checked to read as its own
 * release read it: the statement and the balance that release's code replied.
 */
async function openMigrated(fixtureDir: string, expected: Expected): Promise<{ store: Store; one: (c: Command) => Promise<Reply> }> {
  const dir = scratch();
  cpSync(fixtureDir, dir, { recursive: true });
  const store = openStore(dir);
  expect(store.meta.get("formatVersion")).toBe(FORMAT_VERSION);
  const ledger = new Ledger(store, { ...OPTIONS, notifyOutbox: false }, () => T0 + 10_000);
  const one = async (c: Command): Promise<Reply> => {
    const [o] = await ledger.applyBatch([c]);
    store.env.resetReadTxn();
    return o!.reply as Reply;
  };
  expect(await one(cmd("statement", { customer: { card: "C-1" } }))).toEqual(expected.statement);
  expect(await one(cmd("balance", { customer: { card: "C-1" }, asOf: T0 + 5000 }))).toEqual(expected.balance);
  return { store, one };
}

describe("store format", () => {
  it("stamps a new store with the current format, and opens it again", async () => {
    const dir = scratch();
    const store = openStore(dir);
    expect(store.meta.get("formatVersion")).toBe(FORMAT_VERSION);
    await closeStore(store);
    const again = openStore(dir);
    expect(again.meta.get("formatVersion")).toBe(FORMAT_VERSION);
    await closeStore(again);
  });

  it("refuses a ledger written in format 1, saying what to do", () => {
    const dir = scratch();
    cpSync(FIXTURE_V1, dir, { recursive: true });
    expect(() => openStore(dir)).toThrow(StoreFormatError);
    expect(() => openStore(dir)).toThrow(new RegExp(`format 1; this loyaltyd reads format ${FORMAT_VERSION}.*empty dataDir`));
  });

  it("migrates a format-2 ledger at open: it reads as its own release read it, and takes new events", async () => {
    const { store, one } = await openMigrated(FIXTURE_V2, EXPECTED_V2);
    try {
      // New events over old records: a void of a format-2 sale, a return of the rest of another.
      expect((await one(cmd("accrue", { type: "void", eventId: "v-2", originalEventId: "s-2", at: T0 + 9000 }))).ok).toBe(true);
      expect((await one(cmd("accrue", { type: "return", eventId: "r-2", originalEventId: "s-1", at: T0 + 9500 }))).ok).toBe(true);
      const st = await one(cmd("statement", { customer: { card: "C-1" } }));
      const old = EXPECTED_V2.statement.entries as Reply[];
      expect(st.entries.slice(0, old.length)).toEqual(old);
      const added = st.entries.slice(old.length) as Reply[];
      expect(added.map((e) => [e.kind, e.eventId, e.cause])).toEqual([
        ["void", "v-2", "void v-2 of sale s-2"],
        ["void", "v-2", "void v-2 of sale s-2"],
        ["return", "r-2", "return r-2 of sale s-1"],
        ["return", "r-2", "return r-2 of sale s-1"],
      ]);
      const bal = await one(cmd("balance", { customer: { card: "C-1" } }));
      for (const a of bal.accounts as Reply[]) {
        expect(a.balance, a.account).toBe((st.entries as Reply[]).filter((e) => e.account === a.account).reduce((s, e) => s + e.amount, 0));
      }
    } finally {
      await closeStore(store);
    }
  });

  it("migrates a format-3 ledger at open: re-sent sales get their first replies, new sales keep theirs as figures", async () => {
    const { store, one } = await openMigrated(FIXTURE_V3, EXPECTED_V3);
    try {
      const replies = Object.entries(EXPECTED_V3.replies!);
      expect(replies.length).toBe(2);
      for (const [eventId, { request, reply }] of replies) {
        expect(store.events.get(eventId)?.r, `${eventId} is kept whole, as format 3 wrote it`).toBeDefined();
        const again = await one(cmd("accrue", request));
        expect(JSON.stringify(again), eventId).toBe(JSON.stringify({ ...reply, duplicate: true }));
      }
      // A new sale is kept in format 4: its reply as figures, rebuilt for a re-send.
      const sale = { type: "sale", eventId: "s-4", at: T0 + 9000, storeId: "s01", customer: { card: "C-1" }, currency: "EUR", lines: [{ lineId: "1", sku: "A", qty: 3, unitPrice: 1250, category: "drinks" }] };
      const first = await one(cmd("accrue", sale));
      expect(first.ok).toBe(true);
      const raw = store.events.get("s-4")!;
      expect(raw.r).toBeUndefined();
      expect(raw.f).toBeDefined();
      expect(JSON.stringify(await one(cmd("accrue", sale)))).toBe(JSON.stringify({ ...first, duplicate: true }));
    } finally {
      await closeStore(store);
    }
  });

  it("migrates a format-4 ledger at open: its lots move into the wallet, and expire on time naming the sales that earned them", async () => {
    const { store, one } = await openMigrated(FIXTURE_V4, EXPECTED_V4);
    try {
      const before = EXPECTED_V4.lots!;
      expect(before.length).toBe(4);
      expect(store.lots.getCount(), "the format-4 table is emptied").toBe(0);
      expect([...allLots(store)], "the same lots, read from the wallet").toEqual(before);
      // Sales' lots name their event through their entry, not in the wallet.
      const w = store.wallets.get(before[0]!.key[0])!;
      expect(w.lotEvents).toBeUndefined();
      // A return takes from its own sale's lots (keyed as the sale record names them), not
      // from the soonest ones: s-2 returned whole leaves s-1's lots as they were.
      expect((await one(cmd("accrue", { type: "return", eventId: "r-4", originalEventId: "s-2", at: T0 + 9000, lines: [{ lineId: "1", qty: 1 }] }))).ok).toBe(true);
      expect([...allLots(store)]).toEqual(before.filter(({ value }) => value.e === "s-1"));
      // Past their expiry the sweeper expires what is left, each entry naming its sale.
      const expiresAt = Math.max(...before.map(({ key }) => key[2]));
      const sweepLedger = new Ledger(store, { ...OPTIONS, notifyOutbox: false }, () => expiresAt + 1);
      const [swept] = await sweepLedger.applyBatch([{ verb: "sweepExpiry", input: { customerId: before[0]!.key[0] }, hash: "" }]);
      expect(swept!.reply.ok).toBe(true);
      store.env.resetReadTxn();
      expect([...allLots(store)]).toEqual([]);
      const st = await one(cmd("statement", { customer: { card: "C-1" } }));
      const expiries = (st.entries as Reply[]).filter((e) => e.kind === "expiry");
      expect(expiries.map((e) => [e.account, e.amount, e.eventId])).toEqual(
        before.filter(({ value }) => value.e === "s-1").map(({ key, value }) => [key[1], -value.r, "s-1"]),
      );
      for (const e of expiries) expect(e.cause).toBe(`expiry of points earned by ${e.eventId}`);
      const bal = await one(cmd("balance", { customer: { card: "C-1" } }));
      for (const a of bal.accounts as Reply[]) {
        expect(a.balance, a.account).toBe((st.entries as Reply[]).filter((e) => e.account === a.account).reduce((sum, e) => sum + e.amount, 0));
        expect(a.expiring, a.account).toEqual([]);
      }
    } finally {
      await closeStore(store);
    }
  });

  it("migrates a format-5 ledger at open: a wallet's open hold kept as a map reads as it did, is captured, and the wallet is written back as rows", async () => {
    const { store, one } = await openMigrated(FIXTURE_V5, EXPECTED_V5);
    try {
      const holdId = EXPECTED_V5.openHoldId!;
      const customerId = (EXPECTED_V5.balance as { customerId: string }).customerId;
      const raw = rawWallets(store);
      expect(raw.get(customerId)!.holds, "format 5 wrote it as a map").toEqual(EXPECTED_V5.holds);
      expect(store.wallets.get(customerId)!.holds).toEqual(EXPECTED_V5.holds);
      // The open hold counts in what the customer may spend, as it did.
      const before = await one(cmd("balance", { customer: { card: "C-1" } }));
      const points = (before.accounts as Reply[]).find((a) => a.account === "points")!;
      expect(points.held).toBe(30);
      const captured = await one(cmd("capture", { requestId: "c-2", holdId, amount: 30 }));
      expect(captured.ok, JSON.stringify(captured)).toBe(true);
      const after = (await one(cmd("balance", { customer: { card: "C-1" } }))).accounts as Reply[];
      expect(after.find((a) => a.account === "points")).toMatchObject({ balance: (points.balance as number) - 30, held: 0 });
      // A new hold: the wallet is written in format 6's rows.
      const placed = await one(cmd("authorize", { requestId: "a-3", customer: { card: "C-1" }, amount: 5 }));
      expect(placed.ok, JSON.stringify(placed)).toBe(true);
      store.env.resetReadTxn();
      expect(raw.get(customerId)!.holds).toEqual([[placed.holdId, "points", 5, expect.any(Number)]]);
      expect(Object.keys(store.wallets.get(customerId)!.holds!)).toEqual([placed.holdId]);
    } finally {
      await closeStore(store);
    }
  });

  it("migrates a format-6 ledger at open: turnover kept as pairs gives the tier it gave, takes new sales and returns, and is written back as rows", async () => {
    const { store, one } = await openMigrated(FIXTURE_V6, EXPECTED_V6);
    try {
      const customerId = (EXPECTED_V6.balance as { customerId: string }).customerId;
      const pairs = EXPECTED_V6.turnover!;
      const raw = rawWallets(store);
      expect(raw.get(customerId)!.turnover, "format 6 wrote pairs").toEqual(pairs);
      expect(turnoverDays(store.wallets.get(customerId)!.turnover)).toEqual(pairs);
      // The balance openMigrated compared names the tier format 6's code gave: 201.50 over 30 days, silver.
      expect(EXPECTED_V6.balance.tier).toMatchObject({ id: "silver" });
      const [day0, day2] = [pairs[0]![0], pairs[1]![0]];
      const sale = cmd("accrue", { type: "sale", eventId: "s-9", at: T0 + 5000, storeId: "s01", customer: { card: "C-1" }, currency: "EUR", lines: [{ lineId: "1", sku: "E", qty: 1, unitPrice: 10_000, category: "food" }] });
      expect(await one(sale)).toMatchObject({ ok: true });
      expect((await one(cmd("balance", { customer: { card: "C-1" } }))).tier).toMatchObject({ id: "gold" });
      store.env.resetReadTxn();
      const written = raw.get(customerId)!.turnover;
      expect(written).toBeInstanceOf(Uint8Array);
      expect(turnoverDays(written as Uint8Array)).toEqual([[day0, 5000], [day2, pairs[1]![1] + 10_000]]);
      // The oldest day's sale returned: its turnover comes off day0's bucket, and the tier follows.
      expect(await one(cmd("accrue", { type: "return", eventId: "r-9", originalEventId: "s-0", at: T0 + 6000, lines: [{ lineId: "1", qty: 1 }] }))).toMatchObject({ ok: true });
      store.env.resetReadTxn();
      expect(turnoverDays(store.wallets.get(customerId)!.turnover)).toEqual([[day0, 5000], [day2, pairs[1]![1] + 10_000 - 5000]]);
      expect((await one(cmd("balance", { customer: { card: "C-1" } }))).tier).toMatchObject({ id: "silver" });
    } finally {
      await closeStore(store);
    }
  });

  it("makes `loyaltyd serve` on a format-1 dataDir exit 78 with the message, starting nothing", () => {
    const dir = scratch();
    mkdirSync(join(dir, "data"));
    cpSync(FIXTURE_V1, join(dir, "data", "ledger"), { recursive: true });
    const root = join(import.meta.dirname, "..", "..");
    const run = spawnSync(process.execPath, [join(root, "dist/src/cli.js"), "serve"], {
      env: { ...process.env, LOYALTYD_DATA_DIR: join(dir, "data"), LOYALTYD_HTTP_PORT: "0", LOYALTYD_PROGRAMMES_DIR: join(root, "config", "programmes") },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(run.status).toBe(78);
    expect(run.stderr).toMatch(new RegExp(`is in format 1; this loyaltyd reads format ${FORMAT_VERSION}`));
  });
});

