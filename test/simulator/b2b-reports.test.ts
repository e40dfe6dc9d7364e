// The B2B simulator's pure parts: the demo programme parses (with its target), the
// distributors' enrol requests, and the reports: deterministic per seed, clean ones at
// list price within the date window, faulty ones with exactly the fault asked for.
import { describe, expect, it } from "vitest";
import { parseProgramme } from "../../src/rules/programme.js";
import { B2B_DEMO_PRODUCTS, b2bDemoProgramme, b2bDistributorEnrol, createReportGenerator, REPORT_FAULTS, type GeneratedReport } from "../../src/simulator/b2b-reports.js";
import { mulberry32 } from "../../src/simulator/random.js";

const NOW = Date.UTC(2026, 2, 15, 12);
const DAY = 86_400_000;

function reports(seed: number, n: number, faultRate: number, distributors = 4): GeneratedReport[] {
  const gen = createReportGenerator({ rng: mulberry32(seed), distributors, faultRate, idPrefix: "t-", clock: () => NOW });
  return Array.from({ length: n }, () => gen.next());
}

describe("b2b demo programme and participants", () => {
  it("parses as a programme on the b2b channel with a 30-day target in two tiers starting now", () => {
    const p = parseProgramme(b2bDemoProgramme(NOW, "PLN"));
    expect(p).toMatchObject({ id: "b2b-demo", currency: "PLN", scope: { channels: ["b2b"] } });
    expect(p.rules.find((r) => r.kind === "target")).toMatchObject({ id: "brushes-30d", tiers: [{ goal: 20, points: 200 }, { goal: 40, points: 300 }], from: NOW - DAY, to: NOW + 30 * DAY });
  });

  it("enrols distributors idempotently, every third in gold", () => {
    expect(b2bDistributorEnrol(1)).toMatchObject({ requestId: "sim-b2b-enrol-1", kind: "distributor", groups: ["standard"], users: ["user-1"] });
    expect(b2bDistributorEnrol(3).groups).toEqual(["gold"]);
    expect(b2bDistributorEnrol(7)).toEqual(b2bDistributorEnrol(7));
  });
});

describe("b2b report generator", () => {
  it("replays the same reports for the same seed, and others for another", () => {
    expect(reports(5, 50, 0.3)).toEqual(reports(5, 50, 0.3));
    expect(reports(6, 50, 0.3)).not.toEqual(reports(5, 50, 0.3));
  });

  it("makes clean reports of active products at list price, dated in the last 5 days, ids unique", () => {
    const all = reports(1, 300, 0);
    expect(all.every((r) => r.fault === null)).toBe(true);
    expect(new Set(all.map((r) => r.reportId)).size).toBe(300);
    for (const r of all) {
      expect(r.lines.length).toBeGreaterThanOrEqual(1);
      expect(r.lines.length).toBeLessThanOrEqual(3);
      expect(r.distributor).toBeGreaterThanOrEqual(0);
      expect(r.distributor).toBeLessThan(4);
      for (const l of r.lines) {
        const product = B2B_DEMO_PRODUCTS[l.sku]!;
        expect(product.active).not.toBe(false);
        expect(l.amount).toBe(l.qty * product.listPrice!);
        const age = (NOW - Date.parse(`${l.date}T12:00:00Z`)) / DAY;
        expect(age).toBeGreaterThanOrEqual(0);
        expect(age).toBeLessThanOrEqual(5);
      }
    }
  });

  it("gives a faulty report exactly its fault on the first line, each kind occurring", () => {
    const all = reports(2, 600, 0.5);
    const faulty = all.filter((r) => r.fault !== null);
    expect(faulty.length).toBeGreaterThan(200);
    expect(faulty.length).toBeLessThan(400);
    expect(new Set(faulty.map((r) => r.fault))).toEqual(new Set(REPORT_FAULTS));
    const cleanInvoices = new Map<number, Set<string>>();
    for (const r of all) {
      const first = r.lines[0]!;
      if (r.fault === "duplicateInvoice") expect(cleanInvoices.get(r.distributor)?.has(first.invoice)).toBe(true);
      if (r.fault === "unknownProduct") expect(B2B_DEMO_PRODUCTS[first.sku]).toBeUndefined();
      if (r.fault === "inactiveProduct") expect(B2B_DEMO_PRODUCTS[first.sku]!.active).toBe(false);
      if (r.fault === "priceMismatch") expect(first.amount).toBe(Math.round(first.qty * B2B_DEMO_PRODUCTS[first.sku]!.listPrice! * 1.5));
      if (r.fault === "dateOutOfWindow") expect(first.date).toBe(new Date(NOW - 200 * DAY).toISOString().slice(0, 10));
      if (r.fault === null) {
        const set = cleanInvoices.get(r.distributor) ?? new Set();
        for (const l of r.lines) set.add(l.invoice);
        cleanInvoices.set(r.distributor, set);
      }
    }
  });

  it("refuses no distributors", () => {
    expect(() => createReportGenerator({ rng: mulberry32(1), distributors: 0, faultRate: 0, idPrefix: "", clock: () => NOW })).toThrow();
  });
});
