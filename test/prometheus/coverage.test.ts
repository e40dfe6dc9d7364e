// The live Prometheus test's scenarios cover every alert of alerts.yml.
import { describe, expect, it } from "vitest";
import { alertNames } from "./prom.js";
import { SCENARIOS } from "./scenarios.js";

describe("the live Prometheus test's scenarios", () => {
  it("cover every alert of alerts.yml", () => {
    const provoked = [...new Set(Object.values(SCENARIOS).flat().map((c) => c.alertname))].sort();
    expect(provoked).toEqual(alertNames().sort());
  });
});
