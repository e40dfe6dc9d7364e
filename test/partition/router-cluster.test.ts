// The router in cluster mode: ids made in cluster mode name their virtual partition, the
// identity directory answers before this instance's ledger (whose copy of other
// instances' partitions may be stale), a reference neither knows is flagged (the handler
// syncs the directory and routes again), and a merge across partitions is recognised.
import { afterEach, describe, expect, it } from "vitest";
import { Router, scopedPartition } from "../../src/partition/router.js";
import { partitionOf } from "../../src/partition/hash.js";
import { cmd, openHarness, type Harness } from "../ledger/harness.js";

const PARTITIONS = 64;
let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

/** A directory stand-in: a plain map per kind (the real one is tested in test/cluster/directory.test.ts). */
function directory(entries: Record<string, string>) {
  return { lookup: (kind: string, value: string) => entries[`${kind}:${value}`] ?? null };
}

describe("router in cluster mode", () => {
  it("reads the partition from a customer or hold id made in cluster mode, and hashes any other key", () => {
    expect(scopedPartition("cu_v0_000001")).toBe(0);
    expect(scopedPartition("cu_v1r_00000a")).toBe(parseInt("1r", 36));
    expect(scopedPartition("h_v3_000002")).toBe(3);
    for (const key of ["cu_000001", "h_000001", "card:cu_v3_1", "cu_v_000001", "xcu_v3_000001", "cu_vZZZZ_1"]) expect(scopedPartition(key)).toBeNull();
  });

  it("routes by the id's partition, by the directory first, then the ledger, then the hash", async () => {
    h = await openHarness();
    // This ledger says card C-1 is cu_v5_000009's (stale: the card moved on another instance).
    h.store.cards.putSync("C-1", { customerId: "cu_v5_000009", status: "active" });
    const router = new Router(h.store, PARTITIONS, false, directory({ "card:C-1": "cu_v7_000001", "phone:+48601000002": "cu_v9_000004", "voucher:ABCD": "cu_vb_000001" }));
    // The partition is written in base 36: "c" is 12, "1a" is 46.
    expect(router.route("balance", { customer: { customerId: "cu_vc_000001" } }).partition).toBe(12);
    expect(router.route("capture", { requestId: "c", holdId: "h_v1a_000001" }).partition).toBe(46);
    expect(router.route("balance", { customer: { card: "C-1" } }).partition).toBe(7);
    expect(router.route("balance", { customer: { phone: "+48601000002" } }).partition).toBe(9);
    expect(router.route("redeemVoucher", { requestId: "r", code: "abcd" }).partition).toBe(11);
    expect(router.missed).toBe(false);
    // Neither knows it: hashed like the enrolment it may be, and flagged.
    expect(router.route("balance", { customer: { card: "C-unknown" } }).partition).toBe(partitionOf("card:C-unknown", PARTITIONS));
    expect(router.missed).toBe(true);
    router.route("balance", { customer: { customerId: "cu_v1_000001" } });
    expect(router.missed).toBe(false);
  });

  it("tells a merge of one partition's customers from one across partitions", async () => {
    h = await openHarness();
    const router = new Router(h.store, PARTITIONS, false, directory({}));
    expect(router.mergeParties({ requestId: "m", from: "cu_v3_000001", into: "cu_v3_000002" })).toBe(null);
    expect(router.mergeParties({ requestId: "m", from: { customerId: "cu_v3_000001" }, into: "cu_v4_000001" })).toEqual({ from: "cu_v3_000001", into: "cu_v4_000001" });
    // By card, through the directory; an unknown card is the ledger's to refuse.
    const byCard = new Router(h.store, PARTITIONS, false, directory({ "card:C-5": "cu_v5_000002" }));
    expect(byCard.mergeParties({ from: { card: "C-5" }, into: "cu_v4_000001" })).toEqual({ from: "cu_v5_000002", into: "cu_v4_000001" });
    expect(byCard.mergeParties({ from: { card: "C-none" }, into: "cu_v4_000001" })).toBe(null);
    // A single-node ledger's ids hash: across partitions they cannot be merged; a single partition never spans.
    const e = await h.one(cmd("enroll", { requestId: "e-1", card: "C-9", profile: {} }));
    const other = [...Array(PARTITIONS).keys()].map((i) => `cu_v${i.toString(36)}_000001`).find((id) => partitionOf(e.customerId, PARTITIONS) !== scopedPartition(id))!;
    expect(router.mergeParties({ from: e.customerId, into: other })).toBe("unscoped");
    expect(new Router(h.store, 1, false).mergeParties({ from: e.customerId, into: "cu_v4_000001" })).toBe(null);
    // Merged into a customer of another partition: the directory's alias names the survivor.
    const aliased = new Router(h.store, PARTITIONS, false, directory({ "customer:cu_v3_000007": "cu_v9_000001" }));
    expect(aliased.route("balance", { customer: { customerId: "cu_v3_000007" } }).partition).toBe(9);
  });
});
