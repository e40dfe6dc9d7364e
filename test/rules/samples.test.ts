// The demo's sample programmes (config/programmes/*.json) parse and earn what docs/rules.md says.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile, type Plan } from "../../src/rules/compile.js";
import { evaluate } from "../../src/rules/evaluate.js";
import { parseProgramme, type Programme } from "../../src/rules/programme.js";
import type { Basket, BasketLine, CustomerFacts, ProgrammeSelection } from "../../src/rules/types.js";

const dir = join(import.meta.dirname, "../../config/programmes");

function samples(): Programme[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => parseProgramme(JSON.parse(readFileSync(join(dir, f), "utf8"))));
}

function plan(selection: ProgrammeSelection): Plan {
  return compile(samples().map((programme) => ({ programme, version: 1 })), { selection, timeZone: "Europe/Warsaw" });
}

function line(lineId: string, category: string, amount: number): BasketLine {
  return { lineId, sku: `${category}-1`, qty: 1, unitPrice: amount, amount, category, promo: false };
}

function basket(at: number, lines: BasketLine[]): Basket {
  const total = lines.reduce((s, l) => s + l.amount, 0);
  return { eventId: "e", at, storeId: "s01", channel: "store", terminalId: null, currency: "EUR", lines, tenders: [{ type: "card", amount: total }], total };
}

const vip: CustomerFacts = { customerId: "c1", groups: ["VIP"], turnoverByWindowDays: {} };
const regular: CustomerFacts = { customerId: "c2", groups: [], turnoverByWindowDays: {} };
/** Wednesday 2026-01-07 and Saturday 2026-01-10, noon in Warsaw. */
const wednesday = Date.UTC(2026, 0, 7, 11);
const saturday = Date.UTC(2026, 0, 10, 11);

function earned(p: Plan, b: Basket, c: CustomerFacts): Record<string, number> {
  return Object.fromEntries(evaluate(p, b, c).programmes.map((x) => [x.programme, x.earned]));
}

function at(store: string, b: Basket): Basket {
  return { ...b, storeId: store };
}

describe("sample programmes", () => {
  it("all parse, with the ids, accounts and redemption the demo expects", () => {
    expect(samples().map((p) => [p.id, p.account, p.unit])).toEqual([
      ["base", "points", "points"],
      ["partner-store", "points", "points"],
      ["stored-value", "cashback", "money"],
    ]);
    const p = plan("strongestScope");
    expect(p.redemptionFor("points")).toEqual({ pointValue: 1, currency: "EUR" });
    expect(p.unitFor("cashback")).toBe("money");
  });

  it("base: a VIP buying 25.00 of bakery earns (25 + 5) × 2 = 60 points and 25 cents cashback", () => {
    expect(earned(plan("strongestScope"), basket(wednesday, [line("1", "bakery", 2500)]), vip)).toEqual({ base: 60, "stored-value": 25 });
  });

  it("base: 10.00 of drinks and 40.00 of bakery earn 50 + 10 (drinks) + 5 (visit) = 65", () => {
    const b = basket(saturday, [line("1", "drinks", 1000), line("2", "bakery", 4000)]);
    expect(earned(plan("strongestScope"), b, regular)).toEqual({ base: 65, "stored-value": 50 });
  });

  it("partner-store: at s05 the store's programme replaces base: (100 + 10) × 2 on a Saturday, 110 on a Wednesday", () => {
    const p = plan("strongestScope");
    const lines = [line("1", "drinks", 1000), line("2", "bakery", 4000)];
    expect(earned(p, at("s05", basket(saturday, lines)), regular)).toEqual({ "partner-store": 220, "stored-value": 50 });
    expect(earned(p, at("s05", basket(wednesday, lines)), regular)).toEqual({ "partner-store": 110, "stored-value": 50 });
  });

  it("strongestScope picks the store's programme even when base would earn more; bestForCustomer picks the larger", () => {
    // A VIP at s05 on a Wednesday: base (50 + 10 + 5) × 2 = 130; partner-store 100 + 10 = 110.
    const b = at("s05", basket(wednesday, [line("1", "drinks", 1000), line("2", "bakery", 4000)]));
    expect(earned(plan("strongestScope"), b, vip)).toEqual({ "partner-store": 110, "stored-value": 50 });
    expect(earned(plan("bestForCustomer"), b, vip)).toEqual({ base: 130, "stored-value": 50 });
  });

  it("partner-store caps one event at 1000 points", () => {
    const b = at("s05", basket(saturday, [line("1", "electronics", 300_000)]));
    expect(earned(plan("strongestScope"), b, regular)).toEqual({ "partner-store": 1000, "stored-value": 3000 });
  });
});
