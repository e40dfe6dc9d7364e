// Expiry lots in the wallet (ledger/lots.ts): their order, how spending takes from them, and
// the format 4 -> 5 move of the `lots` table into the wallets on a real store.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { consumeLots } from "../../src/ledger/expiry.js";
import { allLots, eventOfEntry, lotCount, lotRows, moveLotsIntoWallets, putLot } from "../../src/ledger/lots.js";
import { closeStore, openStore, type Lot, type Store, type Wallet } from "../../src/ledger/store.js";
import { NO_TURNOVER } from "../../src/ledger/turnover.js";

const wallet = (): Wallet => ({ accounts: {}, turnover: NO_TURNOVER });

describe("lots in the wallet", () => {
  it("keeps each account's lots soonest expiry first, then oldest entry, and adds up two at one key", () => {
    const w = wallet();
    putLot(w, "points", [300, 5, 10, 0]);
    putLot(w, "points", [100, 9, 20, 0]);
    putLot(w, "points", [300, 2, 30, 1]);
    putLot(w, "drinks", [50, 1, 5, 0]);
    putLot(w, "points", [300, 2, 4, 0, "s-9"]);
    putLot(w, "points", [400, 7, 6, 0, "report-R1"]);
    putLot(w, "points", [500, 8, 1.5e11, 0]);
    expect(lotRows(w, "points")).toEqual([
      [100, 9, 20, 0],
      [300, 2, 34, 0],
      [300, 5, 10, 0],
      [400, 7, 6, 0, "report-R1"],
      [500, 8, 1.5e11, 0],
    ]);
    expect(lotRows(w, "drinks")).toEqual([[50, 1, 5, 0]]);
    expect(lotRows(w, "__proto__")).toEqual([]);
    expect(lotCount(w)).toBe(6);
    // 25 bytes a lot; the one event no entry names beside them.
    expect(w.lots!.points!.byteLength).toBe(5 * 25);
    expect(w.lotEvents).toEqual({ "points\u001f400\u001f7": "report-R1" });
  });

  it("spends the preferred lot first, then the soonest, and drops emptied lots and accounts", () => {
    const w = wallet();
    putLot(w, "points", [100, 1, 20, 0]);
    putLot(w, "points", [200, 2, 30, 0]);
    putLot(w, "points", [300, 3, 40, 0]);
    consumeLots(w, "points", 35, [300, 3]);
    expect(lotRows(w, "points")).toEqual([
      [100, 1, 20, 0],
      [200, 2, 30, 0],
      [300, 3, 5, 0],
    ]);
    consumeLots(w, "points", 30, null);
    expect(lotRows(w, "points")).toEqual([
      [200, 2, 20, 0],
      [300, 3, 5, 0],
    ]);
    putLot(w, "points", [400, 4, 1, 0, "report-R1"]);
    consumeLots(w, "points", 1_000, null);
    expect(w.lots).toBeUndefined();
    expect(w.lotEvents, "an emptied lot's event leaves too").toBeUndefined();
  });
});

describe("moving format 4's lots table into the wallets", () => {
  let dir = "";
  let store: Store;
  afterEach(async () => {
    await closeStore(store);
    rmSync(dir, { recursive: true, force: true });
  });

  it("moves every lot, in chunks, into its wallet; keeps the event only where no entry of the customer names it", async () => {
    dir = mkdtempSync(join(tmpdir(), "loyaltyd-lots-"));
    store = openStore(join(dir, "ledger"));
    const table: { key: [string, string, number, number]; value: Lot }[] = [
      { key: ["cu_a", "points", 1_000, 1], value: { r: 10, e: "s-1", n: false } },
      { key: ["cu_a", "points", 1_000, 4], value: { r: 3, e: "report-R1-2026-01-02", n: true } },
      { key: ["cu_a", "points", 2_000, 2], value: { r: 7, e: "s-2", n: false } },
      { key: ["cu_b", "drinks", 500, 3], value: { r: 5, e: "s-3", n: false } },
    ];
    await store.env.transaction(() => {
      // As format 4 wrote them: a sale's entries (a grouped record of two postings, a single one), a report's entry (no event), the lots.
      store.entries.put(["cu_a", 1], { at: 0, kind: "accrual", eventId: "s-1", st: "s01", p: [["points", 10, "base", 1], ["drinks", 2, "drinks", 1]] });
      store.entries.put(["cu_a", 4], { at: 0, kind: "report", account: "points", amount: 3, cause: "report R1" });
      store.entries.put(["cu_a", 2], { at: 0, kind: "accrual", account: "points", amount: 7, cause: "sale s-2", eventId: "s-2" });
      store.entries.put(["cu_b", 3], { at: 0, kind: "accrual", eventId: "s-3", st: "s01", p: [["drinks", 5, "drinks", 1]] });
      store.wallets.put("cu_a", { accounts: { points: { balance: 20, held: 0 } }, turnover: NO_TURNOVER, due: 900 });
      for (const { key, value } of table) store.lots.put(key, value);
    });
    expect(eventOfEntry(store, "cu_a", 1)).toBe("s-1");
    expect(eventOfEntry(store, "cu_a", 2)).toBe("s-2");
    expect(eventOfEntry(store, "cu_a", 4)).toBeUndefined();
    expect(eventOfEntry(store, "cu_b", 4), "the seq after a group's postings").toBeUndefined();

    expect(moveLotsIntoWallets(store, 1)).toBe(4);
    expect(store.lots.getCount()).toBe(0);
    expect([...allLots(store)]).toEqual(table);
    const a = store.wallets.get("cu_a")!;
    expect(lotRows(a, "points")).toEqual([[1_000, 1, 10, 0], [1_000, 4, 3, 1, "report-R1-2026-01-02"], [2_000, 2, 7, 0]]);
    expect(a.lotEvents).toEqual({ "points\u001f1000\u001f4": "report-R1-2026-01-02" });
    expect(a.accounts, "the rest of the wallet is kept").toEqual({ points: { balance: 20, held: 0 } });
    expect(a.due).toBe(900);
    expect(moveLotsIntoWallets(store), "nothing is left to move").toBe(0);
  });
});
