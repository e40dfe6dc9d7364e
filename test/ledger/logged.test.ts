// Cluster mode's logged commands (Command.logged): a virtual partition's log applied on
// any ledger, in any split into batches and interleaved with other partitions' commands,
// gives the same replies, the same ids and the same balances, and records how far it got.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LOG_SLOTS, vpMetaKey, type Command } from "../../src/ledger/ledger.js";
import { putVoucherOffer } from "../../src/admin/vouchers.js";
import { cmd, openHarness, T0, type Reply } from "./harness.js";

/** One partition's log: enrolments, sales, holds and captures of its own customers, by card. */
function logOf(vp: number, customers: number, sales: number): { command: Command; at: number }[] {
  const out: { command: Command; at: number }[] = [];
  let at = T0;
  const card = (i: number) => `v${vp}-card-${i}`;
  for (let i = 0; i < customers; i++) out.push({ command: cmd("enroll", { requestId: `v${vp}-enrol-${i}`, profile: { name: `C${i}` }, card: card(i) }), at: (at += 1000) });
  for (let n = 0; n < sales; n++) {
    const sale = { type: "sale", eventId: `v${vp}-ev-${n}`, at: T0, storeId: "s01", customer: { card: card(n % customers) }, currency: "EUR", lines: [{ lineId: "1", sku: "A", qty: 1, unitPrice: 1000 + 100 * n }] };
    out.push({ command: cmd("accrue", sale), at: (at += 1000) });
    if (n % 4 === 3) out.push({ command: cmd("authorize", { requestId: `v${vp}-az-${n}`, customer: { card: card(n % customers) }, amount: 2, ttlMs: 60_000 }), at: (at += 1000) });
  }
  return out;
}

const logged = (vp: number, entries: { command: Command; at: number }[]): Command[] =>
  entries.map(({ command, at }, k) => ({ ...command, logged: { vp, at, pos: (k + 1) * LOG_SLOTS } }));

/** Applies `commands` cut at `cuts`, returns every reply in order. */
async function applySplit(commands: Command[], cuts: number[], clockAt: number): Promise<{ replies: Reply[]; h: Awaited<ReturnType<typeof openHarness>> }> {
  const h = await openHarness({ eventLateMsMax: 400 * 86_400_000 });
  h.clock.now = clockAt;
  const replies: Reply[] = [];
  let from = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b).concat(commands.length)) {
    if (cut <= from) continue;
    replies.push(...(await h.apply(commands.slice(from, cut))));
    from = cut;
  }
  return { replies, h };
}

describe("logged commands", () => {
  it("make ids that name their partition, count per partition, apply at the log's time and record the position", async () => {
    const a = logged(3, logOf(3, 2, 4));
    const b = logged(5, logOf(5, 2, 4));
    // Interleaved with each other and with an unlogged command of the node itself.
    const mixed = [a[0]!, b[0]!, cmd("enroll", { requestId: "local-1", profile: {}, card: "local-card" }), a[1]!, b[1]!];
    const { replies, h } = await applySplit(mixed, [], T0 + 10 * 86_400_000);
    try {
      expect(replies.map((r) => r.customerId)).toEqual(["cu_v3_000001", "cu_v5_000001", "cu_000001", "cu_v3_000002", "cu_v5_000002"]);
      const customer = h.store.customers.get("cu_v3_000001")!;
      expect(customer.createdAt).toBe(a[0]!.logged!.at);
      expect(h.store.meta.get(vpMetaKey("log", 3))).toBe(a[1]!.logged!.pos);
      expect(h.store.meta.get(vpMetaKey("customerSeq", 5))).toBe(2);
      expect(h.store.meta.get("customerSeq")).toBe(1);
    } finally {
      await h.close();
    }
  });

  it("apply once: a log position already applied is skipped, whatever the command", async () => {
    const commands = logged(2, logOf(2, 2, 6));
    const { replies, h } = await applySplit(commands, [5], T0 + 86_400_000);
    try {
      const balances = () => h.store.wallets.getRange().map(({ key, value }) => [key, JSON.stringify(value)]).asArray;
      const before = balances();
      // The whole log again, and an overlapping tail: nothing applies twice, ids do not move on.
      const again = await h.apply(commands);
      expect(again.every((r) => r.alreadyApplied === true)).toBe(true);
      await h.apply(commands.slice(3));
      expect(balances()).toEqual(before);
      expect(h.store.meta.get(vpMetaKey("customerSeq", 2))).toBe(2);
      expect(replies.filter((r) => r.ok).length).toBe(commands.length);
    } finally {
      await h.close();
    }
  });

  it("draw their voucher codes from the log's seed: a replay issues the same codes, another seed others", async () => {
    const seed = new Uint8Array(16).fill(7);
    const commands: Command[] = [
      cmd("enroll", { requestId: "e-1", profile: {}, card: "V-1" }),
      cmd("adjust", { requestId: "a-1", customer: { card: "V-1" }, amount: 100, reason: "welcome", operator: "ops" }),
      cmd("buyVoucher", { requestId: "b-1", customer: { card: "V-1" }, offerId: "TEN" }),
      cmd("buyVoucher", { requestId: "b-2", customer: { card: "V-1" }, offerId: "TEN" }),
    ].map((c, k) => ({ ...c, logged: { vp: 4, at: T0 + k * 1000, pos: (k + 1) * LOG_SLOTS, seed } }));
    const codes = async (withSeed: Command[]) => {
      const h = await openHarness({ eventLateMsMax: 400 * 86_400_000 });
      try {
        await putVoucherOffer(h.store, "TEN", { name: "10 off", pointsCost: 30, kind: "amount", value: 1000, currency: "EUR", validDays: 10 }, T0);
        const replies = await h.apply(withSeed);
        return replies.filter((r) => r.voucher).map((r) => r.voucher.code as string);
      } finally {
        await h.close();
      }
    };
    const first = await codes(commands);
    expect(first).toHaveLength(2);
    expect(new Set(first).size).toBe(2);
    expect(await codes(commands)).toEqual(first);
    const other = await codes(commands.map((c) => ({ ...c, logged: { ...c.logged!, seed: new Uint8Array(16).fill(8) } })));
    expect(other).not.toEqual(first);
  });

  it("replayed in any split into batches, on a ledger with a different clock, give the same replies", async () => {
    const commands = logged(7, logOf(7, 3, 12));
    const first = await applySplit(commands, [], T0 + 86_400_000);
    const expected = first.replies;
    await first.h.close();
    expect(expected.filter((r) => typeof r.holdId === "string").every((r) => r.holdId.startsWith("h_v7_"))).toBe(true);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: commands.length - 1 }), { maxLength: 6 }), fc.integer({ min: 0, max: 30 }), async (cuts, days) => {
        const again = await applySplit(commands, cuts, T0 + days * 86_400_000);
        try {
          expect(again.replies).toEqual(expected);
        } finally {
          await again.h.close();
        }
      }),
      { numRuns: 12 },
    );
  });
});
