// A sale's first reply kept as figures (format 4) is rebuilt key for key and value for
// value: through the ledger (every re-sent sale of a varied traffic gets its first reply
// back) and alone (a reply of any other shape is kept whole, never rebuilt differently).
import { describe, expect, it } from "vitest";
import { saleFigures, saleReply } from "../../src/ledger/sale-reply.js";
import { packSale } from "../../src/ledger/event-records.js";
import type { PackedSale } from "../../src/ledger/store.js";
import { createBasketGenerator, enrolRequests } from "../../src/simulator/baskets.js";
import { benchProgrammes } from "../../bench/engine.js";
import { cmd, harnessPerTest, T0, type Reply } from "./harness.js";

const open = harnessPerTest();

/** The bench's programmes, the base one capped per event so that "cap" items occur, plus an offer. */
function programmes(): Record<string, unknown>[] {
  const [base, ...rest] = benchProgrammes();
  const offers = { ...base!, id: "offers", name: "Offers", account: "offers", capPerEvent: null, rules: [{ kind: "offer", offerId: "LEAFLET-1", points: 7 }, { kind: "sku", sku: "FOOD-002", pointsPerUnit: 3 }] };
  return [{ ...base!, capPerEvent: 60 }, ...rest, offers];
}

describe("a sale's first reply as figures", () => {
  it("answers every re-sent sale of a varied traffic with its first reply, byte for byte", async () => {
    const h = await open({ eventLateMsMax: 400 * 86_400_000 }, programmes());
    const customers = 60;
    for (const e of enrolRequests(customers)) expect((await h.one(cmd("enroll", { ...e, groups: Number(e.requestId.replace(/\D/g, "")) % 3 === 0 ? ["VIP"] : [] }))).ok).toBe(true);
    let at = T0 - 86_400_000;
    const gen = createBasketGenerator({ seed: 7, customers, linesMin: 1, linesMax: 12, clock: () => (at += 60_000), rates: { phone: 0 } });
    const firsts = new Map<string, { request: Reply; reply: string }>();
    const kinds = new Set<string>();
    for (let batch = 0; batch < 20; batch++) {
      const events = Array.from({ length: 25 }, () => gen.next().event as Reply);
      for (const e of events) if (e.type === "sale" && !firsts.has(e.eventId) && batch % 2 === 0) e.offerIds = ["LEAFLET-1"];
      const replies = await h.apply(events.map((e) => cmd("accrue", e)));
      replies.forEach((r, i) => {
        const e = events[i]!;
        if (e.type !== "sale" || r.ok !== true || r.duplicate) return;
        firsts.set(e.eventId, { request: e, reply: JSON.stringify(r) });
        for (const b of r.breakdown as Reply[]) kinds.add(b.rule);
      });
    }
    // The traffic exercised what figures must rebuild: caps, line rules, basket rules, several accounts.
    expect([...kinds].sort()).toEqual(expect.arrayContaining(["cap", "category", "offer", "spend", "threshold", "visit"]));
    expect(firsts.size).toBeGreaterThan(200);
    let asFigures = 0;
    const resent = [...firsts.values()];
    for (let i = 0; i < resent.length; i += 50) {
      const chunk = resent.slice(i, i + 50);
      const replies = await h.apply(chunk.map((f) => cmd("accrue", f.request)));
      replies.forEach((r, k) => expect(JSON.stringify(r)).toBe(JSON.stringify({ ...JSON.parse(chunk[k]!.reply), duplicate: true })));
    }
    for (const id of firsts.keys()) if (h.store.events.get(id)?.f) asFigures++;
    // Sales later returned or voided are rewritten with their reply rebuilt: still figures.
    expect(asFigures).toBe(firsts.size);
  });

  describe("alone", () => {
    const sale: PackedSale = packSale({
      customerId: "cu_9",
      at: T0,
      storeId: "s01",
      currency: "EUR",
      lines: { "2": { qty: 1, amount: 500 }, a: { qty: 2, amount: 900 } },
      programmes: [
        { programme: "base", version: 3, account: "points", earned: 14, lineEarned: { "2": 5, a: 9 }, basketEarned: 0 },
        { programme: "drinks", version: 1, account: "drinks", earned: 4, lineEarned: { a: 4 }, basketEarned: 0 },
      ],
      lots: [null, null],
      returnedQty: {},
      taken: [{}, {}],
      voided: false,
    });
    const reply = (): Reply => ({
      ok: true,
      type: "sale",
      eventId: "s-1",
      customerId: "cu_9",
      earned: 18,
      balance: 114,
      available: 100,
      accounts: [
        { account: "points", earned: 14, balance: 114, available: 100 },
        { account: "drinks", earned: 4, balance: 4, available: 4 },
        { account: "other", earned: 0, balance: -3, available: -3 },
      ],
      breakdown: [
        { programme: "base", version: 3, rule: "spend", ruleIndex: 0, amount: 14, lines: ["a", "2", "a"] },
        { programme: "base", version: 3, rule: "cap", amount: -2 },
        { programme: "drinks", version: 1, rule: "multiplier", ruleIndex: 2, amount: 4 },
      ],
      duplicate: false,
    });

    it("rebuilds a reply of the sale's shape exactly, key order included", () => {
      const f = saleFigures("s-1", reply(), sale)!;
      expect(f).not.toBeNull();
      expect(JSON.stringify(saleReply("s-1", f, sale))).toBe(JSON.stringify(reply()));
    });

    const offShape: [string, (r: Reply) => void][] = [
      ["another event id", (r) => (r.eventId = "s-2")],
      ["another customer", (r) => (r.customerId = "cu_1")],
      ["a refusal", (r) => (r.ok = false)],
      ["a duplicate", (r) => (r.duplicate = true)],
      ["a return", (r) => (r.type = "return")],
      ["a key more", (r) => (r.note = "x")],
      ["keys in another order", (r) => {
        const { earned } = r;
        delete r.earned;
        r.earned = earned;
      }],
      ["a fraction", (r) => (r.balance = 1.5)],
      ["minus zero", (r) => (r.available = -0)],
      ["an account key more", (r) => ((r.accounts as Reply[])[0]!.held = 1)],
      ["a programme the sale does not name", (r) => ((r.breakdown as Reply[])[0]!.programme = "vip")],
      ["another version", (r) => ((r.breakdown as Reply[])[0]!.version = 2)],
      ["a line the sale does not have", (r) => ((r.breakdown as Reply[])[0]!.lines = ["zz"])],
      ["an item key more", (r) => ((r.breakdown as Reply[])[2]!.lines = "a")],
      ["a rule that is not a string", (r) => ((r.breakdown as Reply[])[1]!.rule = 3)],
    ];
    it.each(offShape)("keeps a reply whole when it has %s", (_, change) => {
      const r = reply();
      change(r);
      expect(saleFigures("s-1", r, sale)).toBeNull();
    });
  });
});
