// parseProgramme(): the contract's programme format, its defaults, and errors that name the field.
import { describe, expect, it } from "vitest";
import { LoyaltyError } from "../../src/errors.js";
import { parseProgramme } from "../../src/rules/programme.js";

const minimal = { id: "base", currency: "EUR", rules: [{ kind: "spend", per: 100, points: 1 }] };

function errorOf(input: unknown): { code: string; field: string | undefined; message: string } {
  try {
    parseProgramme(input);
  } catch (err) {
    if (err instanceof LoyaltyError) return { code: err.code, field: err.field, message: err.message };
    throw err;
  }
  throw new Error("parsed without error");
}

describe("parseProgramme", () => {
  it("accepts the contract's example programme as written", () => {
    const p = parseProgramme({
      id: "base",
      name: "Base",
      account: "points",
      currency: "EUR",
      scope: { customers: [], groups: [], skus: [], categories: [], stores: [], channels: [] },
      validFrom: null,
      validTo: null,
      promoItemsEarn: false,
      rules: [
        { kind: "spend", per: 100, points: 1 },
        { kind: "sku", sku: "A1", pointsPerUnit: 5 },
        { kind: "category", category: "drinks", per: 100, points: 2 },
        { kind: "visit", points: 10 },
        { kind: "tender", tender: "giftcard", per: 100, points: 1 },
        { kind: "threshold", minTotal: 10000, points: 50 },
        { kind: "multiplier", groups: ["VIP"], factor: 2 },
        { kind: "period", weekdays: [6, 7], hours: [9, 12], factor: 3 },
        {
          kind: "tier",
          windowDays: 365,
          tiers: [
            { minSpend: 0, factor: 1 },
            { minSpend: 100000, factor: 1.5 },
          ],
        },
      ],
      rounding: "floor",
      capPerEvent: null,
      expiry: { afterDays: 365 },
      redemption: { pointValue: 1, currency: "EUR" },
    });
    expect(p.rules).toHaveLength(9);
    expect(p.timeZone).toBeNull();
  });

  it("fills the defaults of a minimal programme", () => {
    expect(parseProgramme(minimal)).toEqual({
      id: "base",
      account: "points",
      unit: "points",
      currency: "EUR",
      timeZone: null,
      scope: { customers: [], groups: [], skus: [], categories: [], stores: [], channels: [], segments: [], attributes: {} },
      validFrom: null,
      validTo: null,
      promoItemsEarn: false,
      rules: [{ kind: "spend", per: 100, points: 1 }],
      rounding: "floor",
      capPerEvent: null,
      expiry: null,
      redemption: null,
    });
  });

  it("accepts every extension: productCard, timeZone, periods with points, thresholds on quantity, atYearEnd", () => {
    const p = parseProgramme({
      ...minimal,
      timeZone: "Europe/Warsaw",
      scope: { stores: ["s01"] },
      rules: [
        { kind: "productCard" },
        { kind: "category", category: "dairy", pointsPerUnit: 2 },
        { kind: "sku", sku: "A1", per: 1000, points: 3 },
        { kind: "period", validFrom: 0, validTo: 1000, points: 5 },
        { kind: "period", hours: [22, 6], factor: 2 },
        { kind: "threshold", minQty: 2.5, points: 5 },
      ],
      expiry: { atYearEnd: true },
    });
    expect(p.scope.stores).toEqual(["s01"]);
    expect(p.scope.groups).toEqual([]);
  });

  it.each([
    ["an unknown top-level field", { ...minimal, rouding: "floor" }, "rouding", "unknown field rouding"],
    ["an unknown field in a rule", { ...minimal, rules: [{ kind: "spend", per: 100, pts: 1 }] }, "rules[0].pts", "unknown field rules[0].pts"],
    ["an unknown scope key (sku for skus)", { ...minimal, scope: { sku: ["A1"] } }, "scope.sku", "unknown field scope.sku"],
    ["a negative per", { ...minimal, rules: [{ kind: "spend", per: -100, points: 1 }] }, "rules[0].per", "rules[0].per: must be a positive integer (minor units)"],
    ["a fractional per", { ...minimal, rules: [{ kind: "spend", per: 1.5, points: 1 }] }, "rules[0].per", "rules[0].per: must be an integer"],
    ["negative points", { ...minimal, rules: [{ kind: "visit", points: -1 }] }, "rules[0].points", "rules[0].points: must not be negative"],
    ["a missing per", { ...minimal, rules: [{ kind: "spend", points: 1 }] }, "rules[0].per", "rules[0].per: is required"],
    ["a bad rounding", { ...minimal, rounding: "up" }, "rounding", undefined],
    ["an unknown rule kind", { ...minimal, rules: [{ kind: "bonus", points: 1 }] }, "rules[0].kind", undefined],
    ["a missing currency", { id: "x", rules: minimal.rules }, "currency", "currency: is required"],
    ["a lower-case currency", { ...minimal, currency: "eur" }, "currency", undefined],
    ["a zero factor", { ...minimal, rules: [{ kind: "multiplier", groups: ["VIP"], factor: 0 }] }, "rules[0].factor", "rules[0].factor: must be a positive number"],
    ["an infinite factor", { ...minimal, rules: [{ kind: "multiplier", groups: ["VIP"], factor: Infinity }] }, "rules[0].factor", undefined],
    ["a multiplier without groups", { ...minimal, rules: [{ kind: "multiplier", groups: [], factor: 2 }] }, "rules[0].groups", undefined],
    ["a period with both factor and points", { ...minimal, rules: [{ kind: "period", weekdays: [1], factor: 2, points: 3 }] }, "rules[0].factor", undefined],
    ["a period with no condition", { ...minimal, rules: [{ kind: "period", factor: 2 }] }, "rules[0].weekdays", undefined],
    ["weekday 8", { ...minimal, rules: [{ kind: "period", weekdays: [8], factor: 2 }] }, "rules[0].weekdays[0]", undefined],
    ["weekday 0", { ...minimal, rules: [{ kind: "period", weekdays: [0], factor: 2 }] }, "rules[0].weekdays[0]", undefined],
    ["hour 25", { ...minimal, rules: [{ kind: "period", hours: [9, 25], factor: 2 }] }, "rules[0].hours[1]", undefined],
    ["an empty hour window", { ...minimal, rules: [{ kind: "period", hours: [9, 9], factor: 2 }] }, "rules[0].hours", undefined],
    ["a period window ending before it starts", { ...minimal, rules: [{ kind: "period", validFrom: 10, validTo: 5, factor: 2 }] }, "rules[0].validTo", undefined],
    [
      "tiers out of order",
      { ...minimal, rules: [{ kind: "tier", windowDays: 30, tiers: [{ minSpend: 100, factor: 2 }, { minSpend: 50, factor: 3 }] }] },
      "rules[0].tiers[1].minSpend",
      undefined,
    ],
    ["a tier window longer than the turnover kept", { ...minimal, rules: [{ kind: "tier", windowDays: 1000, tiers: [{ minSpend: 0, factor: 1 }] }] }, "rules[0].windowDays", undefined],
    ["a threshold with neither minTotal nor minQty", { ...minimal, rules: [{ kind: "threshold", points: 5 }] }, "rules[0].minTotal", undefined],
    ["a sku rule with pointsPerUnit and per", { ...minimal, rules: [{ kind: "sku", sku: "A1", pointsPerUnit: 1, per: 100, points: 1 }] }, "rules[0].pointsPerUnit", undefined],
    ["a category rule with points but no per", { ...minimal, rules: [{ kind: "category", category: "drinks", points: 1 }] }, "rules[0].per", undefined],
    ["the second rule wrong", { ...minimal, rules: [minimal.rules[0], { kind: "visit" }] }, "rules[1].points", "rules[1].points: is required"],
    ["no rules", { ...minimal, rules: [] }, "rules", undefined],
    ["a negative cap", { ...minimal, capPerEvent: -1 }, "capPerEvent", undefined],
    ["expiry after 0 days", { ...minimal, expiry: { afterDays: 0 } }, "expiry", undefined],
    ["expiry atYearEnd false", { ...minimal, expiry: { atYearEnd: false } }, "expiry", undefined],
    ["a redemption in another currency", { ...minimal, redemption: { pointValue: 1, currency: "PLN" } }, "redemption.currency", undefined],
    ["a fractional pointValue", { ...minimal, redemption: { pointValue: 0.5, currency: "EUR" } }, "redemption.pointValue", undefined],
    ["a validity window ending before it starts", { ...minimal, validFrom: 2000, validTo: 1000 }, "validTo", undefined],
    ["an unknown time zone", { ...minimal, timeZone: "Europe/Atlantis" }, "timeZone", undefined],
    ["an id with a control character", { ...minimal, id: "a\nb" }, "id", undefined],
    ["a bad account unit", { ...minimal, unit: "miles" }, "unit", undefined],
    ["an offer rule with both points and pointsPerUnit", { ...minimal, rules: [{ kind: "offer", offerId: "O1", points: 5, pointsPerUnit: 1 }] }, "rules[0].points", undefined],
    ["an offer rule with neither points nor pointsPerUnit", { ...minimal, rules: [{ kind: "offer", offerId: "O1" }] }, "rules[0].points", undefined],
    ["an offer rule without an offerId", { ...minimal, rules: [{ kind: "offer", points: 5 }] }, "rules[0].offerId", "rules[0].offerId: is required"],
    ["an offer window ending before it starts", { ...minimal, rules: [{ kind: "offer", offerId: "O1", points: 5, from: 2000, to: 1000 }] }, "rules[0].to", "rules[0].to: must be after from"],
    ["an empty offer window", { ...minimal, rules: [{ kind: "offer", offerId: "O1", points: 5, from: 1000, to: 1000 }] }, "rules[0].to", undefined],
    ["an offer rule with a typo (validTo for to)", { ...minimal, rules: [{ kind: "offer", offerId: "O1", points: 5, validTo: 1000 }] }, "rules[0].validTo", "unknown field rules[0].validTo"],
    ["negative offer points", { ...minimal, rules: [{ kind: "offer", offerId: "O1", pointsPerUnit: -1 }] }, "rules[0].pointsPerUnit", undefined],
    ["a fractional offer window", { ...minimal, rules: [{ kind: "offer", offerId: "O1", points: 1, from: 1.5 }] }, "rules[0].from", undefined],
  ])("rejects %s, naming the field", (_l, input, field, message) => {
    const e = errorOf(input);
    expect(e.code).toBe("VALIDATION");
    expect(e.field === field || e.field?.startsWith(`${field}.`) || e.field?.startsWith(`${field}[`)).toBe(true);
    if (message !== undefined) expect(e.message).toBe(message);
    else expect(e.message.startsWith(`${e.field}: `)).toBe(true);
  });

  it("accepts offer rules per basket and per unit, with or without a window", () => {
    const p = parseProgramme({
      ...minimal,
      rules: [
        { kind: "offer", offerId: "LEAFLET-12", points: 50 },
        { kind: "offer", offerId: "COFFEE-X2", pointsPerUnit: 10, from: 1000, to: 2000 },
        { kind: "offer", offerId: "OPEN-END", points: 5, from: 1000 },
      ],
    });
    expect(p.rules).toEqual([
      { kind: "offer", offerId: "LEAFLET-12", points: 50 },
      { kind: "offer", offerId: "COFFEE-X2", pointsPerUnit: 10, from: 1000, to: 2000 },
      { kind: "offer", offerId: "OPEN-END", points: 5, from: 1000 },
    ]);
  });

  it("rejects a value that is not an object", () => {
    expect(errorOf(null)).toMatchObject({ code: "VALIDATION", field: "(programme)" });
    expect(errorOf([])).toMatchObject({ code: "VALIDATION", field: "(programme)" });
  });
});
