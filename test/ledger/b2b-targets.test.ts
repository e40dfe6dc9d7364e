// Sales targets (rule kind target) on a real LMDB: progress kept as reports are approved
// and rejected, the bonus credited once when the goal is reached and taken back when a
// rejection drops the total below it, milestones and reached/lost notifications, the
// targets verb; and a property over random approvals and rejections.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Command, Notification } from "../../src/ledger/ledger.js";
import { B2B_PROGRAMME } from "../fixtures.js";
import { T0, cmd, entriesOf, harnessPerTest, openHarness, type Harness, type Reply } from "./harness.js";

const harness = harnessPerTest();
const DAY = 86_400_000;
const FROM = Date.UTC(2025, 11, 1);
const TO = Date.UTC(2026, 1, 1);

const TARGET = { kind: "target", id: "winter-paint", metric: "qty", categories: ["paint"], from: FROM, to: TO, goal: 10, points: 500 };
const PROGRAMME = { ...B2B_PROGRAMME, rules: [...B2B_PROGRAMME.rules, TARGET, { kind: "target", metric: "amount", from: FROM, to: TO, goal: 1_000_000, points: 50 }] };
const REPORTS = { autoApprove: false, currency: "PLN", windowDaysBack: 90, windowDaysAhead: 1, plausibilityFactor: 3, plausibilityHistoryMin: 1000, priceTolerancePct: 5, targetMilestonesPct: [50, 80] };

async function open(open = harness, programme: Record<string, unknown> = PROGRAMME): Promise<{ h: Harness; id: string }> {
  const h = await open({ reports: REPORTS }, [programme]);
  await h.store.env.transaction(() => {
    h.store.products.put("PAINT", { sku: "PAINT", category: "paint" });
    h.store.products.put("BRUSH", { sku: "BRUSH", category: "tools" });
  });
  const e = await h.one(cmd("enroll", { requestId: "e-1", kind: "distributor", company: { name: "Farby", taxId: "PL1" } }));
  return { h, id: e.customerId as string };
}

async function run(h: Harness, c: Command): Promise<{ reply: Reply; notes: Notification[] }> {
  const [o] = await h.ledger.applyBatch([c]);
  h.store.env.resetReadTxn();
  return { reply: o!.reply as Reply, notes: o!.notifications };
}

let n = 0;
/** Submits and approves a report of `qty` paint (and a brush), dated `date`. */
async function approved(h: Harness, id: string, reportId: string, qty: number, date = "2025-12-20"): Promise<{ reply: Reply; notes: Notification[] }> {
  await h.one(cmd("submitReport", { requestId: `rq-${reportId}`, customer: { customerId: id }, reportId, lines: [{ invoice: `F-${++n}`, date, sku: "PAINT", qty, amount: qty * 100 }, { invoice: `F-${++n}`, date, sku: "BRUSH", qty: 1, amount: 100 }] }));
  return run(h, cmd("approveReport", { reportId, operator: "olga" }));
}
const reject = (h: Harness, reportId: string) => run(h, cmd("rejectReport", { reportId, operator: "olga", reason: "void invoice" }));
const targetEntries = (h: Harness, id: string) => entriesOf(h.store, id).filter((e) => e.kind.startsWith("target")).map((e) => [e.kind, e.amount, e.reportId]);

describe("sales targets", () => {
  it("publishes milestones, credits the bonus once on reaching the goal, and shows progress in targets", async () => {
    const { h, id } = await open();
    const first = await approved(h, id, "R-1", 6);
    expect(first.notes.filter((x) => x.kind.startsWith("target")).map((x) => [x.kind, x.payload.milestonePct, x.payload.achieved])).toEqual([["target.progress", 50, 6]]);
    const t = await h.one(cmd("targets", { customer: { customerId: id } }));
    expect(t.targets[0]).toEqual({
      targetId: "winter-paint", programme: "b2b", metric: "qty", goal: 10, achieved: 6, remaining: 4, reached: false, points: 500, awarded: 0, from: FROM, to: TO, daysLeft: Math.ceil((TO - T0) / DAY),
    });
    // The amount target (id by position) counts every line of the window.
    expect(t.targets[1]).toMatchObject({ targetId: "b2b#4", metric: "amount", achieved: 700, remaining: 999_300 });
    const second = await approved(h, id, "R-2", 5);
    expect(second.notes.filter((x) => x.kind.startsWith("target")).map((x) => [x.kind, x.payload.achieved])).toEqual([["target.progress", 11], ["target.reached", 11]]);
    expect(second.notes.find((x) => x.kind === "target.progress")!.payload.milestonePct).toBe(80);
    await approved(h, id, "R-3", 3);
    expect(targetEntries(h, id)).toEqual([["target", 500, "R-2"]]);
    expect((await h.one(cmd("targets", { customer: { customerId: id } }))).targets[0]).toMatchObject({ achieved: 14, remaining: 0, reached: true, awarded: 500 });
  });

  it("takes the bonus back when a rejection drops the total below the goal, and gives it again when reached again", async () => {
    const { h, id } = await open();
    await approved(h, id, "R-1", 6);
    await approved(h, id, "R-2", 5);
    await approved(h, id, "R-3", 3);
    expect(targetEntries(h, id)).toEqual([["target", 500, "R-2"]]);
    // 14 - 3 = 11: still reached.
    await reject(h, "R-3");
    expect(targetEntries(h, id)).toHaveLength(1);
    const lost = await reject(h, "R-2");
    expect(lost.notes.map((x) => x.kind)).toContain("target.lost");
    expect(targetEntries(h, id)).toEqual([["target", 500, "R-2"], ["target.lost", -500, "R-2"]]);
    await approved(h, id, "R-4", 4);
    expect(targetEntries(h, id)).toEqual([["target", 500, "R-2"], ["target.lost", -500, "R-2"], ["target", 500, "R-4"]]);
  });

  it("counts only matching lines dated within the window", async () => {
    const { h, id } = await open();
    await approved(h, id, "R-1", 7, "2025-11-30");
    expect((await h.one(cmd("targets", { customer: { customerId: id } }))).targets[0]).toMatchObject({ achieved: 0 });
    await approved(h, id, "R-2", 2, "2025-12-01");
    expect((await h.one(cmd("targets", { customer: { customerId: id } }))).targets[0]).toMatchObject({ achieved: 2 });
  });

  it("never leaves the bonus other than once for a total at or above the goal, whatever approvals and rejections come (property)", async () => {
    const step = fc.record({ qty: fc.integer({ min: 1, max: 8 }), reject: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), async (steps) => {
        const { h, id } = await open(openHarness);
        try {
          const live = new Map<string, number>();
          for (const [i, s] of steps.entries()) {
            const reportId = `P-${i}`;
            await approved(h, id, reportId, s.qty);
            live.set(reportId, s.qty);
            if (s.reject) {
              await reject(h, reportId);
              live.delete(reportId);
            }
            const total = [...live.values()].reduce((a, b) => a + b, 0);
            const bonus = entriesOf(h.store, id).filter((e) => e.kind.startsWith("target") && e.programme === "b2b" && e.cause.includes("winter-paint"));
            expect(bonus.reduce((a, e) => a + e.amount, 0)).toBe(total >= 10 ? 500 : 0);
            expect(h.store.targets.get([id, "winter-paint"])?.achieved).toBe(total * 1000);
          }
        } finally {
          await h.close();
        }
      }),
      { numRuns: 15 },
    );
  });
});

describe("sales targets with tiers", () => {
  /** 5 units of paint earn 50, 12 earn 120 more, 20 earn 300 more. */
  const TIERS = [{ goal: 5, points: 50 }, { goal: 12, points: 120 }, { goal: 20, points: 300 }];
  const TIERED = { ...B2B_PROGRAMME, rules: [...B2B_PROGRAMME.rules, { kind: "target", id: "paint-tiers", metric: "qty", categories: ["paint"], from: FROM, to: TO, tiers: TIERS }] };
  const award = (total: number) => TIERS.filter((t) => t.goal <= total).reduce((s, t) => s + t.points, 0);

  it("credits each tier once as the total reaches it, and takes back only the tiers a rejection drops below", async () => {
    const { h, id } = await open(harness, TIERED);
    const first = await approved(h, id, "R-1", 6);
    expect(first.notes.filter((x) => x.kind === "target.reached").map((x) => [x.payload.credited, x.payload.awarded])).toEqual([[50, 50]]);
    // 6 + 14 = 20: two tiers at once, in one entry.
    await approved(h, id, "R-2", 14);
    expect(targetEntries(h, id)).toEqual([["target", 50, "R-1"], ["target", 420, "R-2"]]);
    const t = await h.one(cmd("targets", { customer: { customerId: id } }));
    expect(t.targets[0]).toMatchObject({
      targetId: "paint-tiers", goal: 20, achieved: 20, remaining: 0, reached: true, points: 470, awarded: 470,
      tiers: [{ goal: 5, points: 50, reached: true }, { goal: 12, points: 120, reached: true }, { goal: 20, points: 300, reached: true }],
    });
    // Rejecting R-1: 14 left, the third tier goes (300), the first two stay.
    const lost = await reject(h, "R-1");
    expect(lost.notes.filter((x) => x.kind === "target.lost").map((x) => [x.payload.takenBack, x.payload.awarded])).toEqual([[300, 170]]);
    expect(targetEntries(h, id).at(-1)).toEqual(["target.lost", -300, "R-1"]);
    // Reaching 20 again credits the third tier again, and only it.
    await approved(h, id, "R-3", 7);
    expect(targetEntries(h, id).at(-1)).toEqual(["target", 300, "R-3"]);
    expect((await h.one(cmd("targets", { customer: { customerId: id } }))).targets[0]).toMatchObject({ achieved: 21, awarded: 470 });
    await reject(h, "R-2");
    expect(targetEntries(h, id).at(-1)).toEqual(["target.lost", -420, "R-2"]);
    expect((await h.one(cmd("targets", { customer: { customerId: id } }))).targets[0].tiers.map((x: { reached: boolean }) => x.reached)).toEqual([true, false, false]);
  });

  it("holds exactly the reached tiers' points, whatever approvals and rejections come (property)", async () => {
    const step = fc.record({ qty: fc.integer({ min: 1, max: 9 }), reject: fc.integer({ min: -1, max: 7 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), async (steps) => {
        const { h, id } = await open(openHarness, TIERED);
        try {
          const live = new Map<string, number>();
          for (const [i, s] of steps.entries()) {
            await approved(h, id, `P-${i}`, s.qty);
            live.set(`P-${i}`, s.qty);
            // Now and then an earlier report (still approved) is rejected.
            const victim = [...live.keys()][s.reject];
            if (victim !== undefined) {
              await reject(h, victim);
              live.delete(victim);
            }
            const total = [...live.values()].reduce((a, b) => a + b, 0);
            const held = entriesOf(h.store, id).filter((e) => e.kind.startsWith("target")).reduce((a, e) => a + e.amount, 0);
            expect(held).toBe(award(total));
            expect(h.store.targets.get([id, "paint-tiers"])).toMatchObject({ achieved: total * 1000, awarded: award(total) });
          }
        } finally {
          await h.close();
        }
      }),
      { numRuns: 15 },
    );
  });
});
