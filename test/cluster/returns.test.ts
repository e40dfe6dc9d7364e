// Commands that name no customer, across instances in cluster mode: a return or void
// names only its original sale, a report's approval only the report; each is applied by
// the partition of the sale's or report's customer, whichever instance it comes through
// (cluster/locator.ts).
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/engine.js";
import { call, inProcessCluster, pointsOf } from "./in-process.js";
import { line as invoiceLine } from "../e2e/b2b-helpers.js";
import { line, sale, until } from "../e2e/harness.js";

const PARTITIONS = 6;
const cluster = inProcessCluster(PARTITIONS);
const engines = cluster.engines;
const balance = (e: Engine, customerId: string) => pointsOf(e, { customerId });

beforeAll(async () => {
  for (const id of ["r1", "r2"]) await cluster.member(id);
  await cluster.settled();
}, 40_000);

describe("cluster mode: returns and voids", () => {
  it("find their original sale's partition through any instance", async () => {
    const [e1, e2] = engines as [Engine, Engine];
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await call(e1, "POST", "/v1/enroll", { requestId: `rt-enrol-${i}`, profile: {}, card: `RT-${i}` });
      expect(r.body.ok, JSON.stringify(r.body)).toBe(true);
      ids.push(r.body.customerId);
      const s = await call(i % 2 ? e1 : e2, "POST", "/v1/accrue", sale(`rt-sale-${i}`, { card: `RT-${i}` }, [line("1", 2, 1000), line("2", 1, 500)]));
      expect(s.body.ok, JSON.stringify(s.body)).toBe(true);
    }
    const before = await Promise.all(ids.map((id) => balance(e1, id)));
    expect(before.every((b) => b > 0)).toBe(true);
    for (let i = 0; i < 12; i++) {
      // Through both instances: at least half of them come through one that does not serve the sale's partition.
      const via = i % 3 === 0 ? e1 : e2;
      const event = i % 4 === 3
        ? { type: "void", eventId: `rt-void-${i}`, originalEventId: `rt-sale-${i}`, at: Date.UTC(2026, 0, 5, 13) }
        : { type: "return", eventId: `rt-ret-${i}`, originalEventId: `rt-sale-${i}`, at: Date.UTC(2026, 0, 5, 13), lines: [{ lineId: "1", qty: 1 }] };
      const r = await call(via, "POST", "/v1/accrue", event);
      expect(r.body.ok, `${i}: ${JSON.stringify(r.body)}`).toBe(true);
    }
    const after = await Promise.all(ids.map((id) => balance(e2, id)));
    ids.forEach((_, i) => {
      // A void takes back the whole sale; a return of one of two units of line 1, part of it.
      if (i % 4 === 3) expect(after[i], `${i}`).toBe(0);
      else {
        expect(after[i]!, `${i}`).toBeLessThan(before[i]!);
        expect(after[i]!, `${i}`).toBeGreaterThan(0);
      }
    });
    // Sent again through the other instance: the same return, not a second one.
    const again = await call(e1, "POST", "/v1/accrue", { type: "return", eventId: "rt-ret-1", originalEventId: "rt-sale-1", at: Date.UTC(2026, 0, 5, 13), lines: [{ lineId: "1", qty: 1 }] });
    expect(again.body, JSON.stringify(again.body)).toMatchObject({ ok: true, duplicate: true });
    expect(await balance(e1, ids[1]!)).toBe(after[1]);
    // A sale no instance holds: refused as unknown through either.
    for (const via of [e1, e2]) {
      const r = await call(via, "POST", "/v1/accrue", { type: "void", eventId: "rt-void-x", originalEventId: "rt-nosuch", at: Date.UTC(2026, 0, 5, 13) });
      expect(r.body.error?.code, JSON.stringify(r.body)).toBe("UNKNOWN_EVENT");
    }
  }, 60_000);

  it("a report's approval finds the report's partition through any instance", async () => {
    const [e1, e2] = engines as [Engine, Engine];
    expect((await call(e1, "PUT", "/v1/admin/products/BRUSH", { category: "tools", listPrice: 2_000 })).status).toBe(200);
    await until(async () => (await call(e2, "GET", "/v1/admin/products")).body.products?.some((p: any) => p.sku === "BRUSH"), 10_000);
    for (let i = 0; i < 8; i++) {
      const d = await call(e1, "POST", "/v1/enroll", { requestId: `rt-dist-${i}`, kind: "distributor", company: { name: `Depot ${i}`, taxId: "PL120001246" } });
      expect(d.body.ok, JSON.stringify(d.body)).toBe(true);
      const r = await call(e1, "POST", "/v1/admin/reports", { requestId: `rt-rep-${i}`, customer: { customerId: d.body.customerId }, reportId: `${i}-RT`, lines: [invoiceLine(`F-${i}`, "BRUSH", 2, 4_000)] });
      expect(r.body.ok, JSON.stringify(r.body)).toBe(true);
      const decided = await call(i % 2 ? e1 : e2, "POST", `/v1/admin/reports/${i}-RT/${i % 3 === 0 ? "reject" : "approve"}`, { operator: "olga", ...(i % 3 === 0 ? { reason: "duplicate invoice" } : {}) });
      expect(decided.body, `${i}: ${JSON.stringify(decided.body)}`).toMatchObject({ ok: true, status: i % 3 === 0 ? "rejected" : "approved" });
    }
    const none = await call(e2, "POST", "/v1/admin/reports/RT-R-nosuch/approve", { operator: "olga" });
    expect(none.body.error?.code, JSON.stringify(none.body)).toBe("UNKNOWN_REPORT");
  }, 60_000);
});
