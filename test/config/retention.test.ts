// The retention section of the configuration: long defaults, keep-for-ever with 0, and
// an event window never shorter than the time a re-sent event can still be applied.
import { describe, expect, it } from "vitest";
import { ConfigError, envNamesFor, loadConfig } from "../../src/config/config.js";
import { limits } from "../../src/limits.js";

const DAY_MS = 86_400_000;

function errorOf(fn: () => unknown): { key: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return { key: err.key, message: err.message };
    throw err;
  }
  throw new Error("did not throw");
}

describe("retention configuration", () => {
  it("keeps records for days by default: requests and closed holds 30 days, event records 400", () => {
    expect(loadConfig({ env: {} }).retention).toEqual({ requestsMs: 30 * DAY_MS, holdsMs: 30 * DAY_MS, salesMs: 400 * DAY_MS, sweepMs: 1000, scanMax: 250 });
    expect(limits.retentionSalesMsDefault).toBe(400 * DAY_MS);
  });

  it("keeps event records at least as long as events.lateMsMax when their window is not set", () => {
    const c = loadConfig({ env: {}, overrides: { "events.lateMsMax": 3650 * DAY_MS } });
    expect(c.retention.salesMs).toBe(3650 * DAY_MS);
  });

  it("refuses an event window shorter than events.lateMsMax, naming the key", () => {
    const err = errorOf(() => loadConfig({ env: { LOYALTYD_RETENTION_SALES_MS: String(29 * DAY_MS) } }));
    expect(err.key).toBe("retention.salesMs");
    expect(err.message).toContain("events.lateMsMax");
    expect(loadConfig({ env: { LOYALTYD_RETENTION_SALESMS: String(30 * DAY_MS) } }).retention.salesMs).toBe(30 * DAY_MS);
  });

  it("takes 0 as keep for ever, and refuses a request or event window under an hour", () => {
    const c = loadConfig({ env: { LOYALTYD_RETENTION_REQUESTS_MS: "0", LOYALTYD_RETENTION_HOLDS_MS: "0", LOYALTYD_RETENTION_SALES_MS: "0" } });
    expect(c.retention).toMatchObject({ requestsMs: 0, holdsMs: 0, salesMs: 0 });
    expect(errorOf(() => loadConfig({ env: {}, overrides: { "retention.requestsMs": 60_000 } })).key).toBe("retention.requestsMs");
    expect(errorOf(() => loadConfig({ env: {}, overrides: { "retention.scanMax": limits.retentionScanMaxCeiling + 1 } })).key).toBe("retention.scanMax");
    expect(errorOf(() => loadConfig({ env: {}, overrides: { "retention.colour": 1 } })).key).toBe("retention.colour");
  });

  it("maps every retention key to its environment variables", () => {
    expect(envNamesFor("retention.requestsMs")).toEqual(["LOYALTYD_RETENTION_REQUESTSMS", "LOYALTYD_RETENTION_REQUESTS_MS"]);
    const c = loadConfig({ env: { LOYALTYD_RETENTION_SWEEP_MS: "5000", LOYALTYD_RETENTION_SCANMAX: "200", LOYALTYD_RETENTION_HOLDSMS: "3600000" } });
    expect(c.retention).toMatchObject({ sweepMs: 5000, scanMax: 200, holdsMs: 3_600_000 });
  });
});
