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
