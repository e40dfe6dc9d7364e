// A virtual partition's share of the ledger (cluster/partition-data.ts): read out of one
// ledger into a snapshot file and written into another that holds other partitions and
// an older state of this one, it replaces exactly that partition's records; the log's
// tail then applies on both with the same replies.
import { mkdtempSync, rmSync, truncateSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { exportPartitions, importPartition, partitionReader, restoreCutShort, TABLE_OWNERS, type TableName } from "../../src/cluster/partition-data.js";
import { LOG_SLOTS, vpMetaKey, type Command } from "../../src/ledger/ledger.js";
import type { Store } from "../../src/ledger/store.js";
import { cmd, T0 } from "../ledger/harness.js";
import { ledger, logged, PARTITIONS, recordsOf } from "./ledgers.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "loyaltyd-vp-"));
  dirs.push(d);
  return d;
};

/** One partition's log: enrolments (card, phone, e-mail, birthday, loyalty id), sales, returns, holds, captures, vouchers, a merge. */
function logOf(vp: number, n: number): Command[] {
  const out: Command[] = [];
  const card = (i: number) => `v${vp}-card-${i}`;
  for (let i = 0; i < n; i++) {
    out.push(cmd("enroll", { requestId: `v${vp}-e-${i}`, card: card(i), loyaltyId: `v${vp}-L${i}`, profile: { name: `C${i}`, phone: `+4860${vp}00${i}`, email: `c${i}@v${vp}.example`, birthday: "1990-04-01" } }));
  }
  for (let k = 0; k < 3 * n; k++) {
    const who = { card: card(k % n) };
    out.push(cmd("accrue", { type: "sale", eventId: `v${vp}-s-${k}`, at: T0, storeId: "s01", customer: who, currency: "EUR", lines: [{ lineId: "1", sku: "A", qty: 2, unitPrice: 2500 + k }] }));
    if (k % 3 === 1) out.push(cmd("accrue", { type: "return", eventId: `v${vp}-r-${k}`, originalEventId: `v${vp}-s-${k}`, at: T0, lines: [{ lineId: "1", qty: 1 }] }));
    if (k % 4 === 2) out.push(cmd("authorize", { requestId: `v${vp}-a-${k}`, customer: who, amount: 3, ttlMs: 86_400_000 }));
    if (k % 5 === 4) out.push(cmd("buyVoucher", { requestId: `v${vp}-b-${k}`, customer: who, offerId: "TEN" }));
  }
  out.push(cmd("mergeCustomers", { requestId: `v${vp}-m`, into: { card: card(0) }, from: { card: card(1) }, operator: "ops", reason: "same person" }));
  return out;
}

describe("a partition's share of the ledger", () => {
  const head = (vp: number) => logOf(vp, 6);

  it("classifies every table: the partition's records are its customers', and the instance keeps the back office", async () => {
    const h = await ledger();
    try {
      await h.apply([...logged(1, head(1)), ...logged(2, head(2))]);
      const one = recordsOf(h.store, 1);
      const two = recordsOf(h.store, 2);
      // Each partition has its customers, cards, phones, e-mails, wallets, entries, lots, events, requests, holds and vouchers.
      for (const t of ["customers", "cards", "phones", "emails", "loyaltyIds", "aliases", "wallets", "entries", "events", "requests", "holds", "holdsByExpiry", "vouchers", "vouchersByCustomer", "birthdays", "meta"]) {
        expect(one[t]!.length, t).toBeGreaterThan(0);
        expect(two[t]!.length, t).toBe(one[t]!.length);
      }
      // Nothing counted twice, and the instance's tables are nobody's.
      expect(one.customers!.some((r) => r.includes("cu_v2_"))).toBe(false);
      expect(one.voucherOffers).toEqual([]);
      expect(one.programmes).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it("moves to another ledger: the same records there, other partitions untouched, an older state replaced, and the log's tail gives the same replies", async () => {
    const log = logOf(1, 6);
    const cut = Math.floor(log.length * 0.7);
    const a = await ledger();
    const b = await ledger();
    try {
      // a: partitions 1 and 3 up to the cut; b: partition 2, and partition 1 only up to an earlier point.
      await a.apply([...logged(1, log.slice(0, cut)), ...logged(3, head(3))]);
      await b.apply([...logged(2, head(2)), ...logged(1, log.slice(0, 10))]);
      const bTwo = recordsOf(b.store, 2);
      const dir = tmp();
      const [file] = exportPartitions(a.store, PARTITIONS, [1], dir, T0);
      expect(file!.pos).toBe(cut * LOG_SLOTS);
      expect(file!.records).toBeGreaterThan(50);
      const done = await importPartition(b.store, PARTITIONS, 1, file!.file);
      expect(done.header.pos).toBe(cut * LOG_SLOTS);
      expect(done.removed).toBeGreaterThan(0);
      expect(recordsOf(b.store, 1)).toEqual(recordsOf(a.store, 1));
      expect(recordsOf(b.store, 2)).toEqual(bTwo);
      expect(b.store.meta.get(vpMetaKey("log", 1))).toBe(cut * LOG_SLOTS);
      expect(restoreCutShort(b.store, 1)).toBe(false);
      // The tail of the log: the same replies on both, and a replay of what the snapshot held applies nothing.
      const tail = logged(1, log.slice(cut), cut);
      expect(await b.apply(tail)).toEqual(await a.apply(tail));
      expect((await b.apply(logged(1, log.slice(cut - 3, cut), cut - 3))).every((r) => r.alreadyApplied === true)).toBe(true);
      expect(recordsOf(b.store, 1)).toEqual(recordsOf(a.store, 1));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("never changes a customer of one partition through another's log (an instance serving both holds both)", async () => {
    const a = await ledger();
    try {
      const [enrolled, sold] = await a.apply(logged(1, [
        cmd("enroll", { requestId: "g-e", card: "g-card", profile: {} }),
        cmd("accrue", { type: "sale", eventId: "g-s", at: T0, storeId: "s01", customer: { card: "g-card" }, currency: "EUR", lines: [{ lineId: "1", sku: "A", qty: 2, unitPrice: 2500 }] }),
      ]));
      const customerId = enrolled!.customerId as string;
      expect(customerId.startsWith("cu_v1_")).toBe(true);
      expect(sold!.ok).toBe(true);
      const before = JSON.stringify(recordsOf(a.store, 1));
      // Logged in partition 2: a return of the sale, a sale by the customer's id, an adjustment.
      const misrouted = await a.apply(logged(2, [
        cmd("accrue", { type: "return", eventId: "g-r", originalEventId: "g-s", at: T0, lines: [{ lineId: "1", qty: 1 }] }),
        cmd("accrue", { type: "sale", eventId: "g-s2", at: T0, storeId: "s01", customer: { customerId }, currency: "EUR", lines: [{ lineId: "1", sku: "A", qty: 1, unitPrice: 900 }] }),
        cmd("adjust", { requestId: "g-adj", customer: { customerId }, account: "points", amount: 5, reason: "goodwill", operator: "ops" }),
      ]));
      for (const r of misrouted) expect(r, JSON.stringify(r)).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
      expect(JSON.stringify(recordsOf(a.store, 1))).toBe(before);
      // Through its own partition's log, the return applies.
      const [returned] = await a.apply(logged(1, [cmd("accrue", { type: "return", eventId: "g-r", originalEventId: "g-s", at: T0, lines: [{ lineId: "1", qty: 1 }] })], 2));
      expect(returned!.ok, JSON.stringify(returned)).toBe(true);
    } finally {
      await a.close();
    }
  });

  it("refuses a file cut short or of another partition, and leaves the mark that makes the next takeover restore again", async () => {
    const a = await ledger();
    const b = await ledger();
    try {
      await a.apply(logged(1, head(1)));
      await b.apply(logged(1, head(1).slice(0, 8)));
      const [file] = exportPartitions(a.store, PARTITIONS, [1], tmp(), T0);
      await expect(importPartition(b.store, PARTITIONS, 2, file!.file)).rejects.toThrow(/not a format 1 snapshot of partition 2/);
      expect(restoreCutShort(b.store, 1)).toBe(false);
      truncateSync(file!.file, Math.floor(statSync(file!.file).size / 2));
      await expect(importPartition(b.store, PARTITIONS, 1, file!.file)).rejects.toThrow();
      b.store.env.resetReadTxn();
      expect(restoreCutShort(b.store, 1)).toBe(true);
      // The counters and position of a partition cut short are gone: no replay can take its partial records for a state.
      expect(b.store.meta.get(vpMetaKey("log", 1))).toBeUndefined();
      const [whole] = exportPartitions(a.store, PARTITIONS, [1], tmp(), T0);
      await importPartition(b.store, PARTITIONS, 1, whole!.file);
      expect(restoreCutShort(b.store, 1)).toBe(false);
      expect(recordsOf(b.store, 1)).toEqual(recordsOf(a.store, 1));
    } finally {
      await a.close();
      await b.close();
    }
  });
});
