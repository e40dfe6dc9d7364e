// `simulator: b2b` against a real engine (NATS, worker threads, LMDB): it installs its
// programme and products through the back office, enrols the distributors, submits
// reports (some faulty), and its approver decides each: every faulty report is caught by
// the check it was made for and rejected, every clean one approved and credited.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startB2bSimulator } from "../../src/simulator/b2b.js";
import { FAULT_CHECK } from "../../src/simulator/b2b-reports.js";
import { send } from "./b2b-helpers.js";
import { startTestEnv, type TestEnv } from "./harness.js";

describe("the b2b simulator", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv({ partitions: 2, "reports.currency": "PLN" });
  });
  afterAll(async () => t?.stop());

  it("sets up a programme, submits reports now and then, and the approver decides each", { timeout: 60_000 }, async () => {
    const logged: string[] = [];
    const sim = await startB2bSimulator({ nc: t.nc, backOffice: t.engine.backOffice, reportsPerSec: 50, distributors: 4, currency: "PLN", faultRate: 0.4, seed: 3, summaryEveryMs: 500, log: (l) => logged.push(l) });
    const until = Date.now() + 30_000;
    while (sim.stats().approved + sim.stats().rejected < 40 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    await sim.stop();
    const s = sim.stats();
    expect(s.enrolled).toBe(4);
    expect(s.errorsByCode).toEqual({});
    expect(s.approved + s.rejected).toBe(s.submitted);
    expect(s.faulty).toBeGreaterThan(0);
    expect(s.caught).toBe(s.faulty);
    expect(s.rejected).toBe(s.faulty);
    expect(Object.keys(s.checks).every((c) => Object.values(FAULT_CHECK).includes(c))).toBe(true);
    expect(s.points).toBeGreaterThan(0);
    expect(logged[0]).toMatch(/sim b2b: programme b2b-demo, 5 products, 4 distributors enrolled/);
    expect(logged.some((l) => /reports \d+ submitted, \d+ approved, \d+ rejected/.test(l))).toBe(true);

    // The engine agrees: nothing left pending, the points on the distributors' balances, the target counting.
    expect((await send(t, "GET", "/v1/admin/reports?status=pending")).body.reports).toEqual([]);
    expect((await send(t, "GET", "/v1/admin/reports?status=rejected&limit=10000")).body.reports.length).toBe(s.rejected);
    let points = 0;
    let bonus = 0;
    for (let i = 1; i <= 4; i++) {
      const c = await t.rpc("customer", { customer: { customerId: `cu_${String(i).padStart(6, "0")}` } });
      expect(c).toMatchObject({ kind: "distributor", company: { name: `Hurtownia ${i}` } });
      const b = await t.rpc("balance", { customer: { customerId: c.customerId } });
      points += b.accounts.find((a: { account: string }) => a.account === "points")?.balance ?? 0;
      const target = (await t.rpc("targets", { customer: { customerId: c.customerId } })).targets[0];
      expect(target).toMatchObject({ targetId: "brushes-30d", goal: 40, points: 500 });
      expect(target.awarded).toBe((target.achieved >= 20 ? 200 : 0) + (target.achieved >= 40 ? 300 : 0));
      bonus += target.awarded;
    }
    // The approved reports' points, plus the target tiers reached.
    expect(points).toBe(s.points + bonus);

    // Started again on the same ledger: the same distributors, new reports.
    const again = await startB2bSimulator({ nc: t.nc, backOffice: t.engine.backOffice, reportsPerSec: 50, distributors: 4, currency: "PLN", seed: 3, log: () => {} });
    const until2 = Date.now() + 10_000;
    while (again.stats().submitted < 3 && Date.now() < until2) await new Promise((r) => setTimeout(r, 50));
    await again.stop();
    expect(again.stats()).toMatchObject({ enrolled: 4, errorsByCode: {} });
  });
});
