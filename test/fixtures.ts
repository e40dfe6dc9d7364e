// Fixtures shared by the unit, property and end-to-end tests.

/** 1 point per 1.00 EUR; 1 point redeems 0.01 EUR. */
export const BASE_PROGRAMME = {
  id: "base",
  name: "Base",
  account: "points",
  currency: "EUR",
  rules: [{ kind: "spend", per: 100, points: 1 }],
  redemption: { pointValue: 1, currency: "EUR" },
};

/** Distributors' reports (channel b2b): 1 point per unit of paint, 1 point per 10.00 PLN, double for the gold group. */
export const B2B_PROGRAMME = {
  id: "b2b",
  currency: "PLN",
  scope: { channels: ["b2b"] },
  rules: [
    { kind: "category", category: "paint", pointsPerUnit: 1 },
    { kind: "spend", per: 1000, points: 1 },
    { kind: "multiplier", groups: ["gold"], factor: 2 },
  ],
};
