// A merge across a cluster's partitions as the two logs hold it (ledger/merge-steps.ts):
// the survivor ends with both customers' points, lots and cards and the merged-away
// customer's sales; a step sent again changes nothing; replaying the two partitions'
// logs in the order they were made gives both exactly the records the live owners made,
// and in the other order too, but for the stored first replies of the merged-away
// customer's requests from before the merge.
import { afterAll, describe, expect, it } from "vitest";
import type { Command } from "../../src/ledger/ledger.js";
import { cmd, T0, type Harness } from "../ledger/harness.js";
import { ledger, logged, recordsOf } from "./ledgers.js";

const open: Harness[] = [];
afterAll(async () => Promise.all(open.map((h) => h.close())));
async function fresh(): Promise<Harness> {
  const h = await ledger();
  open.push(h);
  return h;
}

const step = (verb: Command["verb"], input: Record<string, unknown>): Command => ({ verb, input, hash: typeof input.hash === "string" ? input.hash : "" });
const saleOf = (eventId: string, customer: Record<string, string>, unitPrice: number) =>
  cmd("accrue", { type: "sale", eventId, at: T0, storeId: "s01", customer, currency: "EUR", lines: [{ lineId: "1", sku: "A", qty: 2, unitPrice }] });
const pointsOf = (h: Harness, id: string) => h.store.wallets.get(id)?.accounts.points?.balance ?? 0;

describe("a merge across partitions, step by step", () => {
  it("gives the survivor everything, and replays of the two logs in either order give the same partitions", async () => {
    const live = await fresh();
    const logs: Record<number, Command[]> = { 1: [], 2: [] };
    const run = async (vp: 1 | 2, commands: Command[]) => {
      const replies = await live.apply(logged(vp, commands, logs[vp]!.length));
      logs[vp]!.push(...commands);
      return replies;
    };
    // `from` enrolled by its first sale at an unknown card (enrolOnUnknownCard), then given a phone.
    const [from] = await run(1, [saleOf("f-s0", { card: "F-1" }, 500)]);
    expect(from, JSON.stringify(from)).toMatchObject({ ok: true });
    await run(1, [cmd("updateCustomer", { requestId: "f-u", customer: { card: "F-1" }, profile: { phone: "+48600100200", birthday: "1990-04-01" } })]);
    const [into] = await run(2, [cmd("enroll", { requestId: "i-e", card: "I-1", profile: {} })]);
    const fromId = from!.customerId as string;
    const intoId = into!.customerId as string;
    expect([fromId.slice(0, 6), intoId.slice(0, 6)]).toEqual(["cu_v1_", "cu_v2_"]);
    await run(1, [saleOf("f-s1", { card: "F-1" }, 4000), cmd("buyVoucher", { requestId: "f-v", customer: { card: "F-1" }, offerId: "TEN" })]);
    await run(2, [saleOf("i-s1", { card: "I-1" }, 3000)]);
    const [a, b] = [pointsOf(live, fromId), pointsOf(live, intoId)];
    expect(a).toBeGreaterThan(0);

    const merge = { merge: "m-1", hash: "content-of-m-1" };
    const common = { ...merge, operator: "ops", reason: "same person" };
    const [reserved] = await run(2, [step("mergeReserve", { merge: "m-1", customerId: intoId, from: fromId })]);
    expect(reserved).toMatchObject({ ok: true, merged: 0 });
    // While reserved, the survivor takes no other merge and no erasure.
    const [erase] = await run(2, [cmd("eraseCustomer", { customer: { customerId: intoId }, reason: "asked", operator: "ops" })]);
    expect(erase!.error).toMatchObject({ code: "VALIDATION" });
    const outStep = step("mergeOut", { ...common, requestId: "m-1\u001fout", customerId: fromId, into: intoId, intoPartition: 2, fromPartition: 1, intoMerged: 0 });
    const [out] = await run(1, [outStep]);
    expect(out!.ok, JSON.stringify(out)).toBe(true);
    const parcel = out!.parcel as { sales: unknown[]; lots: unknown[]; vouchers: unknown[]; cards: unknown[] };
    expect([parcel.sales.length, parcel.vouchers.length, parcel.cards.length]).toEqual([2, 1, 1]);
    // The points are in the parcel: in neither customer's balance.
    expect(pointsOf(live, fromId) + pointsOf(live, intoId)).toBe(b);
    const inStep = step("mergeIn", { ...common, requestId: "m-1\u001fin", customerId: intoId, from: fromId, intoPartition: 2, fromPartition: 1, parcel });
    const [merged] = await run(2, [inStep, step("mergeRelease", { merge: "m-1", customerId: intoId })]);
    expect(merged).toMatchObject({ ok: true, requestId: "m-1", from: fromId, into: intoId, cards: ["F-1"], vouchers: 1, released: [] });
    expect(pointsOf(live, intoId)).toBe(a + b);
    expect(pointsOf(live, fromId)).toBe(0);
    // Sent again: the same replies, nothing moves twice.
    const again = await run(1, [outStep]);
    expect(again[0]).toMatchObject({ ok: true, duplicate: true });
    expect((await run(2, [inStep]))[0]).toMatchObject({ ok: true, duplicate: true });
    expect(pointsOf(live, intoId)).toBe(a + b);

    // Afterwards: the merged-away card earns for the survivor, a return of its sale takes back there, and each partition enrols on.
    await run(2, [saleOf("i-s2", { card: "F-1" }, 1000), cmd("accrue", { type: "return", eventId: "f-r1", originalEventId: "f-s1", at: T0, lines: [{ lineId: "1", qty: 1 }] })]);
    const [later1] = await run(1, [cmd("enroll", { requestId: "f-e2", card: "F-2", profile: { phone: "+48600100300" } })]);
    const [later2] = await run(2, [cmd("enroll", { requestId: "i-e2", card: "I-2", profile: {} })]);
    expect(later1!.ok, JSON.stringify(later1)).toBe(true);
    const final = pointsOf(live, intoId);
    expect(final).toBeLessThan(a + b + 20);

    // Replayed in the order they were made (a rebuild, a takeover): both partitions exactly.
    const causal = await fresh();
    for (const vp of [1, 2] as const) await causal.apply(logged(vp, logs[vp]!));
    for (const vp of [1, 2]) expect(recordsOf(causal.store, vp), `partition ${vp}`).toEqual(recordsOf(live.store, vp));
    // The survivor's partition first (an instance that served it takes the other over from an older point):
    // the survivor's partition exactly.
    const reversed = await fresh();
    for (const vp of [2, 1] as const) await reversed.apply(logged(vp, logs[vp]!));
    expect(recordsOf(reversed.store, 2)).toEqual(recordsOf(live.store, 2));
    // The merged-away customer's partition: every record the same but the first replies of its requests
    // from before the merge (a card the survivor's now is not listed, the parcel is read from the survivor's records).
    const keysOnly = (r: Record<string, string[]>) => ({ ...r, requests: r.requests!.map((x) => JSON.parse(x)[0]) });
    expect(keysOnly(recordsOf(reversed.store, 1))).toEqual(keysOnly(recordsOf(live.store, 1)));
    expect(pointsOf(reversed, intoId)).toBe(final);
    expect(reversed.store.customers.get(later1!.customerId as string)).toEqual(live.store.customers.get(later1!.customerId as string));
    expect(reversed.store.customers.get(fromId)).toEqual(live.store.customers.get(fromId));
  });
});
