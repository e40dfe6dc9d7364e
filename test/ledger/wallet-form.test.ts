// A wallet's stored form (formats 6 and 7): its maps keyed by hold ids and lot keys go to
// disk as rows and come back as the same maps, its turnover is one binary value, through
// every way the ledger and the cluster read and write the wallets table; a wallet stored as
// format 5 did (maps) or as format 6 did (turnover pairs) reads the same.
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { closeStore, openStore, portableWallet, rawWallets, storedWallet, walletOf, type Store, type Wallet } from "../../src/ledger/store.js";
import { NO_TURNOVER, turnoverDays, turnoverOf } from "../../src/ledger/turnover.js";
import { T0, cmd, enrol, openHarness, type Harness } from "./harness.js";

const opened: Store[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await closeStore(s);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function freshStore(): Store {
  const dir = mkdtempSync(join(tmpdir(), "loyaltyd-wallet-form-"));
  dirs.push(dir);
  const store = openStore(join(dir, "data"));
  opened.push(store);
  return store;
}

/** A wallet with its turnover as pairs, to compare (msgpackr may read the rows as a Buffer). */
const plain = (w: Wallet) => ({ ...w, turnover: turnoverDays(w.turnover) });


const key = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => k !== "__proto__");
const wallet: fc.Arbitrary<Wallet> = fc.record(
  {
    accounts: fc.dictionary(key, fc.record({ balance: fc.integer(), held: fc.nat() })),
    turnover: fc.array(fc.tuple(fc.nat(30_000), fc.integer())).map(turnoverOf),
    due: fc.nat(),
    holds: fc.dictionary(key, fc.tuple(key, fc.nat(), fc.nat())),
    lotEvents: fc.dictionary(key, key),
  },
  { requiredKeys: ["accounts", "turnover"] },
);

describe("a wallet's stored form", () => {
  it("stores holds and lot events as rows and reads them back as the same maps (any wallet)", async () => {
    const store = freshStore();
    const raw = rawWallets(store);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(wallet, async (w) => {
        const id = `c${n++}`;
        const before = structuredClone(w);
        await store.wallets.put(id, w);
        expect(plain(w), "the caller's wallet is left as it was").toEqual(plain(before));
        expect(plain(store.wallets.get(id)!)).toEqual(plain(w));
        const stored = raw.get(id)!;
        if (w.holds) expect(stored.holds).toEqual(Object.entries(w.holds).map(([h, row]) => [h, ...row]));
        if (w.lotEvents) expect(stored.lotEvents).toEqual(Object.entries(w.lotEvents));
        expect(stored.turnover).toBeInstanceOf(Uint8Array);
        expect([...(stored.turnover as Uint8Array)]).toEqual([...w.turnover]);
        expect(plain(walletOf(storedWallet(w)))).toEqual(plain(w));
        // What a cluster snapshot carries: turnover as format 6's pairs, which any release reads.
        expect(portableWallet(w).turnover).toEqual(turnoverDays(w.turnover));
        expect(plain(walletOf(storedWallet(structuredClone(portableWallet(w)) as unknown as Wallet)))).toEqual(plain(w));
      }),
      { numRuns: 200 },
    );
    // A range read (the cluster's snapshots, the lots migration) converts as a get does.
    const ranged = [...store.wallets.getRange()];
    expect(ranged.length).toBe(n);
    for (const { key: id, value } of ranged) expect(plain(value)).toEqual(plain(store.wallets.get(id)!));
  });

  it("reads turnover stored as pairs (format 6) into rows, and writes it back as rows", async () => {
    const store = freshStore();
    const raw = rawWallets(store);
    await raw.put("c1", { accounts: {}, turnover: [[20_005, 300], [20_001, 1_000], [20_003, -200]] });
    await raw.put("c2", { accounts: {} });
    const read = store.wallets.get("c1")!;
    expect(turnoverDays(read.turnover)).toEqual([[20_001, 1_000], [20_003, -200], [20_005, 300]]);
    expect(store.wallets.get("c2")!.turnover).toBe(NO_TURNOVER);
    await store.wallets.put("c1", read);
    expect(turnoverDays(raw.get("c1")!.turnover as Uint8Array)).toEqual([[20_001, 1_000], [20_003, -200], [20_005, 300]]);
  });

  it("reads a wallet stored with maps (format 5) as it is, and writes it back as rows", async () => {
    const store = freshStore();
    const raw = rawWallets(store);
    const w = { accounts: { points: { balance: 100, held: 30 } }, turnover: [], holds: { h_1: ["points", 30, T0 + 60_000] }, lotEvents: { "points\u001f1\u001f2": "s-1" } };
    await raw.put("c1", w as unknown as Record<string, unknown>);
    const read = store.wallets.get("c1")!;
    expect(plain(read)).toEqual(w);
    await store.wallets.put("c1", read);
    expect(raw.get("c1")!.holds).toEqual([["h_1", "points", 30, T0 + 60_000]]);
    expect(raw.get("c1")!.lotEvents).toEqual([["points\u001f1\u001f2", "s-1"]]);
  });
});

describe("open holds through the ledger", () => {
  let h: Harness | null = null;
  afterEach(async () => {
    await h?.close();
    h = null;
  });

  it("keeps each open hold in the wallet's rows until it is captured or released", async () => {
    h = await openHarness();
    const enrolled = await h.one(enrol("e-1", "C-1"));
    const customerId = enrolled.customerId as string;
    const adjusted = await h.one(cmd("adjust", { requestId: "adj-1", customer: { customerId }, account: "points", amount: 500, reason: "test", operator: "op" }));
    expect(adjusted.ok, JSON.stringify(adjusted)).toBe(true);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const [r] = await h.apply([cmd("authorize", { requestId: `a-${i}`, customer: { customerId }, amount: 10 + i })]);
      expect(r!.ok, JSON.stringify(r)).toBe(true);
      ids.push(r!.holdId as string);
    }
    const raw = rawWallets(h.store);
    expect((raw.get(customerId)!.holds as unknown[][]).map((row) => row.slice(0, 3))).toEqual(ids.map((id, i) => [id, "points", 10 + i]));
    const [captured] = await h.apply([cmd("capture", { requestId: "cap-1", holdId: ids[1], amount: 11 })]);
    const [released] = await h.apply([cmd("release", { requestId: "rel-1", holdId: ids[2] })]);
    expect([captured!.ok, released!.ok]).toEqual([true, true]);
    expect((raw.get(customerId)!.holds as unknown[][]).map((row) => row[0])).toEqual([ids[0], ids[3]]);
    const [bal] = await h.apply([cmd("balance", { customer: { customerId } })]);
    expect(bal!.accounts).toEqual([expect.objectContaining({ account: "points", balance: 489, held: 10 + 13, available: 489 - 23 })]);
  });
});
