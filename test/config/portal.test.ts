// config portal.*: defaults, the environment, and each key's bounds (errors name the key).
import { describe, expect, it } from "vitest";
import { ConfigError, LEAF_KEYS, loadConfig } from "../../src/config/config.js";

function keyOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.key;
    throw err;
  }
  throw new Error("did not throw");
}

describe("portal configuration", () => {
  it("is on by default: codes for 5 minutes, 5 tries, sessions for an hour, 5 codes a customer and 30 an address an hour, 60 sign-ins an address", () => {
    expect(loadConfig({ env: {} }).portal).toEqual({
      enabled: true, otpTtlMs: 300_000, otpAttemptsMax: 5, sessionTtlMs: 3_600_000, otpPerHourPerCustomer: 5, otpPerHourPerIp: 30, signInPerHourPerIp: 60,
    });
  });

  it("reads every key from the environment", () => {
    expect(LEAF_KEYS).toEqual(expect.arrayContaining(["portal.enabled", "portal.otpTtlMs", "portal.otpAttemptsMax", "portal.sessionTtlMs", "portal.otpPerHourPerCustomer", "portal.otpPerHourPerIp", "portal.signInPerHourPerIp"]));
    const c = loadConfig({
      env: {
        LOYALTYD_PORTAL_ENABLED: "off", LOYALTYD_PORTAL_OTP_TTL_MS: "60000", LOYALTYD_PORTAL_OTPATTEMPTSMAX: "3", LOYALTYD_PORTAL_SESSION_TTL_MS: "86400000",
        LOYALTYD_PORTAL_OTP_PER_HOUR_PER_CUSTOMER: "0", LOYALTYD_PORTAL_OTP_PER_HOUR_PER_IP: "100", LOYALTYD_PORTAL_SIGN_IN_PER_HOUR_PER_IP: "200",
      },
    });
    expect(c.portal).toEqual({ enabled: false, otpTtlMs: 60_000, otpAttemptsMax: 3, sessionTtlMs: 86_400_000, otpPerHourPerCustomer: 0, otpPerHourPerIp: 100, signInPerHourPerIp: 200 });
  });

  it("refuses values out of bounds, naming the key", () => {
    const bad: [string, unknown][] = [
      ["portal.otpTtlMs", 29_999], ["portal.otpTtlMs", 3_600_001], ["portal.otpAttemptsMax", 0], ["portal.otpAttemptsMax", 21],
      ["portal.sessionTtlMs", 59_999], ["portal.sessionTtlMs", 30 * 86_400_000 + 1], ["portal.otpPerHourPerIp", -1], ["portal.signInPerHourPerIp", 1.5],
    ];
    for (const [key, value] of bad) expect(keyOf(() => loadConfig({ env: {}, overrides: { [key]: value } })), `${key}=${value}`).toBe(key);
    expect(keyOf(() => loadConfig({ env: {}, overrides: { "portal.cookie": true } }))).toBe("portal.cookie");
  });
});
