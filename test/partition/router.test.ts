// The router across a customer merge, on a real LMDB: while a merge is in flight, what
// names the merged-away customer goes to the survivor's partition behind it; after it,
// the merged-away id and its sales' returns route to the survivor's partition for good.
import { afterEach, describe, expect, it } from "vitest";
import { partitionOf } from "../../src/partition/hash.js";
import { Router } from "../../src/partition/router.js";
import { cmd, enrol, openHarness, sale, type Harness } from "../ledger/harness.js";

const PARTITIONS = 4;
let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

describe("router and merges", () => {
  it("sends the merged-away customer's commands to the survivor's partition, during the merge and after it", async () => {
    h = await openHarness();
    const ids = (await h.apply(Array.from({ length: 8 }, (_, i) => enrol(`e-${i}`, `C-${i}`)))).map((r) => r.customerId as string);
    const from = ids[0]!;
    const into = ids.find((id) => partitionOf(id, PARTITIONS) !== partitionOf(from, PARTITIONS))!;
    const [pFrom, pInto] = [partitionOf(from, PARTITIONS), partitionOf(into, PARTITIONS)];
    expect(await h.one(cmd("accrue", sale("s-1", { card: "C-0" }, [{ lineId: "1", qty: 1, unitPrice: 1000 }])))).toMatchObject({ ok: true, customerId: from });
    const router = new Router(h.store, PARTITIONS, false);
    const balanceOf = (customer: unknown) => router.route("balance", { customer }).partition;
    const returnOfS1 = () => router.route("accrue", { type: "return", eventId: "r-1", originalEventId: "s-1" }).partition;
    expect([balanceOf({ customerId: from }), balanceOf({ card: "C-0" }), returnOfS1()]).toEqual([pFrom, pFrom, pFrom]);

    const merge = router.route("mergeCustomers", { requestId: "m-1", from, into: { card: `C-${ids.indexOf(into)}` }, reason: "r", operator: "o" });
    expect(merge.partition).toBe(pInto);
    expect(merge.keys.sort()).toEqual([from, into].sort());
    // In flight: whatever resolves to the merged-away customer queues behind the merge.
    expect([balanceOf({ customerId: from }), balanceOf({ card: "C-0" }), returnOfS1()]).toEqual([pInto, pInto, pInto]);
    router.release(merge.keys);
    expect(balanceOf({ customerId: from })).toBe(pFrom);

    expect(await h.one(cmd("mergeCustomers", { requestId: "m-1", from, into, reason: "r", operator: "o" }))).toMatchObject({ ok: true });
    // Committed: the alias, the moved card and the survivor's sales all lead to its partition.
    expect([balanceOf({ customerId: from }), balanceOf({ card: "C-0" }), returnOfS1(), balanceOf({ customerId: into })]).toEqual([pInto, pInto, pInto, pInto]);
  });
});
