import { describe, expect, it } from "vitest";
import { ConfigError, envNamesFor, loadConfig } from "../../src/config/config.js";

const URL = "nats://nats.internal:4222";

function refusal(env: Record<string, string>, overrides: Record<string, unknown> = {}): { key: string; message: string } {
  try {
    loadConfig({ env, overrides });
  } catch (err) {
    if (err instanceof ConfigError) return { key: err.key, message: err.message };
    throw err;
  }
  throw new Error("did not throw");
}

describe("NATS credentials in the configuration", () => {
  it("has none by default: the engine connects as before", () => {
    expect(loadConfig({ env: {} }).nats).toEqual({
      url: null,
      user: null,
      pass: null,
      passFile: null,
      token: null,
      tokenFile: null,
      credsFile: null,
      nkeySeedFile: null,
      tls: { ca: null, cert: null, key: null },
    });
  });

  it("reads every key from LOYALTYD_NATS_* variables, keeping secrets of digits as strings", () => {
    expect(envNamesFor("nats.pass")).toEqual(["LOYALTYD_NATS_PASS"]);
    expect(envNamesFor("nats.passFile")).toEqual(["LOYALTYD_NATS_PASSFILE", "LOYALTYD_NATS_PASS_FILE"]);
    expect(envNamesFor("nats.tls.ca")).toEqual(["LOYALTYD_NATS_TLS_CA"]);
    const c = loadConfig({
      env: {
        LOYALTYD_NATS_URL: URL,
        LOYALTYD_NATS_USER: "loyaltyd",
        LOYALTYD_NATS_PASS: "0123456789",
        LOYALTYD_NATS_TLS_CA: "/etc/nats/ca.pem",
        LOYALTYD_NATS_TLS_CERT: "/etc/nats/engine.pem",
        LOYALTYD_NATS_TLS_KEY: "/etc/nats/engine-key.pem",
      },
    });
    expect(c.nats).toMatchObject({ url: URL, user: "loyaltyd", pass: "0123456789", tls: { ca: "/etc/nats/ca.pem", cert: "/etc/nats/engine.pem", key: "/etc/nats/engine-key.pem" } });
    expect(loadConfig({ env: { LOYALTYD_NATS_URL: URL, LOYALTYD_NATS_TOKEN_FILE: "/run/secrets/nats-token" } }).nats.tokenFile).toBe("/run/secrets/nats-token");
    expect(loadConfig({ env: { LOYALTYD_NATS_URL: URL, LOYALTYD_NATS_CREDS_FILE: "/etc/nats/engine.creds" } }).nats.credsFile).toBe("/etc/nats/engine.creds");
    expect(loadConfig({ env: { LOYALTYD_NATS_URL: URL, LOYALTYD_NATS_NKEY_SEED_FILE: "/etc/nats/engine.nk" } }).nats.nkeySeedFile).toBe("/etc/nats/engine.nk");
    expect(loadConfig({ env: { LOYALTYD_NATS_URL: URL, LOYALTYD_NATS_USER: "u", LOYALTYD_NATS_PASS_FILE: "/run/p" } }).nats).toMatchObject({ user: "u", passFile: "/run/p" });
  });

  it("accepts credentials in the URL", () => {
    expect(loadConfig({ env: { LOYALTYD_NATS_URL: "nats://loyaltyd:s3cret@nats.internal:4222" } }).nats.url).toBe("nats://loyaltyd:s3cret@nats.internal:4222");
  });

  it("refuses inconsistent credentials, naming the key, without echoing a secret", () => {
    const withUrl = (o: Record<string, unknown>) => ({ "nats.url": URL, ...o });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ "nats.user": "u", "nats.pass": "s3cret-p" }, "nats.user"], // no nats.url: the embedded server makes its own
      [{ "nats.tls.ca": "/ca.pem" }, "nats.tls.ca"],
      [withUrl({ "nats.pass": "s3cret-p" }), "nats.pass"],
      [withUrl({ "nats.user": "u" }), "nats.user"],
      [withUrl({ "nats.user": "u", "nats.pass": "s3cret-p", "nats.passFile": "/p" }), "nats.passFile"],
      [withUrl({ "nats.token": "s3cret-t", "nats.tokenFile": "/t" }), "nats.tokenFile"],
      [withUrl({ "nats.user": "u", "nats.pass": "s3cret-p", "nats.token": "s3cret-t" }), "nats.token"],
      [withUrl({ "nats.credsFile": "/c", "nats.nkeySeedFile": "/n" }), "nats.nkeySeedFile"],
      [{ "nats.url": "nats://u:s3cret-u@h:4222", "nats.token": "s3cret-t" }, "nats.token"],
      [withUrl({ "nats.tls.cert": "/cert.pem" }), "nats.tls.key"],
      [withUrl({ "nats.tls.key": "/key.pem" }), "nats.tls.cert"],
      [withUrl({ "nats.password": "s3cret-p" }), "nats.password"],
      [withUrl({ "nats.pass": "" }), "nats.pass"],
    ];
    for (const [overrides, key] of cases) {
      const r = refusal({}, overrides);
      expect(r.key, JSON.stringify(overrides)).toBe(key);
      expect(r.message).not.toContain("s3cret");
    }
    expect(refusal({ LOYALTYD_NATS_URL: URL, LOYALTYD_NATS_PASS: "hunter22" }).message).not.toContain("hunter22");
  });
});
