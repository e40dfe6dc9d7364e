// Rankings of distributors read day aggregates that approvals and rejections keep: the
// aggregates against a model recomputed from the approved reports (property), and the
// ranking's order, ranks, period and group.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseRankingQuery, ranking } from "../../src/admin/rankings.js";
import { B2B_PROGRAMME } from "../fixtures.js";
import { cmd, harnessPerTest, openHarness, type Harness } from "./harness.js";

const harness = harnessPerTest();
const REPORTS = { autoApprove: true, currency: "PLN", windowDaysBack: 90, windowDaysAhead: 1, plausibilityFactor: 3, plausibilityHistoryMin: 1000, priceTolerancePct: 5, targetMilestonesPct: [] };

async function open(opener = harness): Promise<Harness> {
  const h = await opener({ reports: REPORTS }, [B2B_PROGRAMME]);
  await h.store.env.transaction(() => h.store.products.put("PAINT", { sku: "PAINT", category: "paint" }));
  return h;
}

async function distributor(h: Harness, name: string, groups: string[]): Promise<string> {
  return (await h.one(cmd("enroll", { requestId: `e-${name}`, kind: "distributor", company: { name, taxId: name }, groups }))).customerId as string;
}

let invoice = 0;
/** An auto-approved report of `qty` paint at 10.00 a unit, dated `date`: qty + qty points (double for gold). */
async function report(h: Harness, id: string, reportId: string, qty: number, date: string) {
  return h.one(cmd("submitReport", { requestId: `rq-${reportId}`, customer: { customerId: id }, reportId, lines: [{ invoice: `F-${++invoice}`, date, sku: "PAINT", qty, amount: qty * 1000 }] }));
}
const q = (query: Record<string, string>) => parseRankingQuery({ metric: "qty", from: "2025-12-01", to: "2025-12-31", ...query });

describe("rankings", () => {
  it("ranks distributors by points, qty or amount over a period and group, equal values sharing a rank", async () => {
    const h = await open();
    const a = await distributor(h, "A", ["north"]);
    const b = await distributor(h, "B", ["north", "gold"]);
    const c = await distributor(h, "C", ["south"]);
    await report(h, a, "R-1", 5, "2025-12-10");
    await report(h, b, "R-2", 3, "2025-12-11");
    await report(h, b, "R-3", 2, "2025-11-30");
    await report(h, c, "R-4", 3, "2025-12-31");
    const byQty = ranking(h.store, q({}));
    expect(byQty.rankings.map((r) => [r.rank, r.company, r.value])).toEqual([[1, "A", 5], [2, "B", 3], [2, "C", 3]]);
    // B is gold: 3 + 3 doubled.
    expect(ranking(h.store, q({ metric: "points" })).rankings.map((r) => [r.rank, r.company, r.value])).toEqual([[1, "B", 12], [2, "A", 10], [3, "C", 6]]);
    expect(ranking(h.store, q({ metric: "amount", group: "north" })).rankings.map((r) => [r.company, r.value])).toEqual([["A", 5000], ["B", 3000]]);
    expect(ranking(h.store, q({ from: "2025-11-30", to: "2025-11-30" })).rankings.map((r) => [r.company, r.qty, r.points])).toEqual([["B", 2, 8]]);
    expect(ranking(h.store, q({ limit: "1" }))).toMatchObject({ participants: 3, rankings: [{ company: "A" }] });
  });

  it("takes a rejected report out, and refuses a bad query", async () => {
    const h = await open();
    const a = await distributor(h, "A", []);
    await report(h, a, "R-1", 5, "2025-12-10");
    await report(h, a, "R-2", 1, "2025-12-10");
    await h.one(cmd("rejectReport", { reportId: "R-1", operator: "olga", reason: "void" }));
    expect(ranking(h.store, q({})).rankings.map((r) => [r.company, r.qty, r.amount, r.points])).toEqual([["A", 1, 1000, 2]]);
    await h.one(cmd("rejectReport", { reportId: "R-2", operator: "olga", reason: "void" }));
    expect([...h.store.rankDays.getRange()]).toEqual([]);
    expect(() => q({ metric: "visits" })).toThrow(/metric/);
    expect(() => q({ to: "2025-11-01" })).toThrow(/to/);
  });

  it("keeps every day aggregate equal to the sum over the approved reports of that day (property)", async () => {
    const step = fc.record({ who: fc.integer({ min: 0, max: 1 }), qty: fc.integer({ min: 1, max: 5 }), day: fc.integer({ min: 1, max: 3 }), reject: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 10 }), async (steps) => {
        const h = await open(openHarness);
        try {
          const ids = [await distributor(h, "A", []), await distributor(h, "B", [])];
          const live: { who: number; qty: number; date: string }[] = [];
          for (const [i, s] of steps.entries()) {
            const date = `2025-12-0${s.day}`;
            await report(h, ids[s.who]!, `P-${i}`, s.qty, date);
            if (s.reject) await h.one(cmd("rejectReport", { reportId: `P-${i}`, operator: "o", reason: "r" }));
            else live.push({ who: s.who, qty: s.qty, date });
          }
          const model = new Map<string, number>();
          for (const l of live) model.set(`${l.date}|${ids[l.who]}`, (model.get(`${l.date}|${ids[l.who]}`) ?? 0) + l.qty);
          const kept = new Map([...h.store.rankDays.getRange()].map(({ key, value }) => [`${key[0]}|${key[1]}`, value]));
          expect(new Set(kept.keys())).toEqual(new Set(model.keys()));
          for (const [k, qty] of model) expect(kept.get(k)).toEqual({ qty: qty * 1000, amount: qty * 1000, points: qty * 2 });
        } finally {
          await h.close();
        }
      }),
      { numRuns: 15 },
    );
  });
});
