// Credential files: per-store terminal keys and per-operator tokens, held as SHA-256
// digests; parsing refuses what would make a secret ambiguous, and lookups find by secret.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";
import { loadCredentials, newToken, parseOperators, parseTerminalKeys, sha256Hex } from "../../src/config/credentials.js";

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("did not throw");
}

const KEY_A = "key-of-store-a-0123456789abcdef0123456789";
const KEY_B = "key-of-store-b-0123456789abcdef0123456789";

describe("credential digests", () => {
  it("hashes with SHA-256, hex", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("draws 256-bit tokens and gives their digest", () => {
    const a = newToken();
    const b = newToken();
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.sha256).toBe(sha256Hex(a.token));
    expect(a.token).not.toBe(b.token);
  });
});

describe("terminal keys file", () => {
  const file = { keys: [{ id: "s01-tills", store: "s01", keySha256: sha256Hex(KEY_A) }, { id: "s02-tills", store: "s02", keySha256: sha256Hex(KEY_B).toUpperCase() }] };

  it("finds the key a secret names, and nothing for another secret", () => {
    const ring = parseTerminalKeys(file, "keys.json");
    expect(ring.find(KEY_A)).toEqual({ id: "s01-tills", store: "s01" });
    // An upper-case digest in the file is the same digest.
    expect(ring.find(KEY_B)).toEqual({ id: "s02-tills", store: "s02" });
    expect(ring.find(KEY_A + "x")).toBeNull();
    expect(ring.find("")).toBeNull();
    expect(ring.find(sha256Hex(KEY_A))).toBeNull();
  });

  it("refuses a bad digest, an unknown field, and a key id or digest given twice, naming the config key", () => {
    const bad = errorOf(() => parseTerminalKeys({ keys: [{ id: "k", store: "s01", keySha256: "abc" }] }, "keys.json"));
    expect(bad.key).toBe("terminalAuth.keysFile");
    expect(bad.message).toContain("keys[0].keySha256");
    expect(errorOf(() => parseTerminalKeys({ keys: [{ id: "k", store: "s01", keySha256: sha256Hex(KEY_A), secret: KEY_A }] }, "k.json")).message).toContain(
      "keys[0].secret",
    );
    expect(errorOf(() => parseTerminalKeys({ keys: [file.keys[0], { ...file.keys[1], id: "s01-tills" }] }, "k.json")).message).toContain("key id s01-tills is given twice");
    expect(errorOf(() => parseTerminalKeys({ keys: [file.keys[0], { ...file.keys[0], id: "other" }] }, "k.json")).message).toContain("keySha256");
    expect(errorOf(() => parseTerminalKeys([file.keys[0]], "k.json")).key).toBe("terminalAuth.keysFile");
  });
});

describe("operators file", () => {
  const anna = { name: "anna", tokenSha256: sha256Hex("anna-token-0123456789abcdef"), roles: ["read", "money"] };

  it("gives each operator their roles, and the legacy adminToken every role as \"admin\"", () => {
    const ring = parseOperators({ operators: [anna] }, "ops.yaml", "legacy-admin-token");
    expect(ring.find("anna-token-0123456789abcdef")).toEqual({ name: "anna", roles: ["read", "money"], legacy: false });
    expect(ring.find("legacy-admin-token")).toEqual({ name: "admin", roles: ["read", "write", "money"], legacy: true });
    expect(parseOperators(null, "adminToken", null).size).toBe(0);
  });

  it("refuses an unknown role, no role, a bad name, and a name taken by the adminToken", () => {
    expect(errorOf(() => parseOperators({ operators: [{ ...anna, roles: ["root"] }] }, "o.json", null)).message).toContain("operators[0].roles[0]");
    expect(errorOf(() => parseOperators({ operators: [{ ...anna, roles: [] }] }, "o.json", null)).message).toContain("operators[0].roles");
    expect(errorOf(() => parseOperators({ operators: [{ ...anna, name: "anna smith" }] }, "o.json", null)).message).toContain("operators[0].name");
    const clash = errorOf(() => parseOperators({ operators: [{ ...anna, name: "admin" }] }, "o.json", "legacy-admin-token"));
    expect(clash.key).toBe("admin.operatorsFile");
    expect(clash.message).toContain("admin");
    // Without an adminToken, "admin" is a name like any other.
    expect(parseOperators({ operators: [{ ...anna, name: "admin" }] }, "o.json", null).find("anna-token-0123456789abcdef")?.legacy).toBe(false);
  });
});

describe("loading the configured files", () => {
  const dir = mkdtempSync(join(tmpdir(), "creds-"));
  const keysYaml = join(dir, "keys.yaml");
  writeFileSync(keysYaml, `keys:\n  - id: s01-tills\n    store: s01\n    keySha256: ${sha256Hex(KEY_A)}\n`);
  const opsJson = join(dir, "operators.json");
  writeFileSync(opsJson, JSON.stringify({ operators: [{ name: "anna", tokenSha256: sha256Hex("anna-token-0123456789abcdef"), roles: ["read"] }] }));

  it("reads YAML and JSON files named by the configuration", () => {
    const cfg = loadConfig({ env: {}, overrides: { "terminalAuth.keysFile": keysYaml, "admin.operatorsFile": opsJson } });
    const c = loadCredentials(cfg);
    expect(c.terminals?.find(KEY_A)?.store).toBe("s01");
    expect(c.operators.find("anna-token-0123456789abcdef")?.name).toBe("anna");
  });

  it("has no terminal keys unless configured", () => {
    expect(loadCredentials(loadConfig({ env: {} })).terminals).toBeNull();
  });

  it("refuses a secret that is both a terminal key and an operator token", () => {
    const cfg = loadConfig({ env: {}, overrides: { "terminalAuth.keysFile": keysYaml, adminToken: KEY_A } });
    expect(errorOf(() => loadCredentials(cfg)).key).toBe("terminalAuth.keysFile");
  });

  it("names the key of a missing file", () => {
    const cfg = loadConfig({ env: {}, overrides: { "admin.operatorsFile": join(dir, "nope.json") } });
    expect(errorOf(() => loadCredentials(cfg)).key).toBe("admin.operatorsFile");
  });
});

describe("configuration of the HTTP security keys", () => {
  it("keeps everything off by default", () => {
    const c = loadConfig({ env: {} });
    expect(c.terminalAuth).toEqual({ keysFile: null });
    expect(c.admin).toEqual({ port: null, host: "127.0.0.1", operatorsFile: null, approvalAbove: null });
    expect(c.rateLimits.enabled).toBeNull();
    expect(c.rateLimits.exemptLoopback).toBe(true);
    expect(c.http).toMatchObject({ headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 72_000, connectionTimeoutMs: 120_000, connectionsMax: 10_000 });
  });

  it("maps the new keys onto LOYALTYD_ variables", () => {
    const c = loadConfig({
      env: { LOYALTYD_ADMIN_PORT: "9091", LOYALTYD_RATE_LIMITS_CREDENTIAL_LOOKUPS_PER_MINUTE: "5", LOYALTYD_HTTP_CONNECTIONS_MAX: "7", LOYALTYD_RATELIMITS_ENABLED: "on" },
    });
    expect(c.admin.port).toBe(9091);
    expect(c.rateLimits.credential.lookupsPerMinute).toBe(5);
    expect(c.rateLimits.enabled).toBe(true);
    expect(c.http.connectionsMax).toBe(7);
  });

  it("refuses combinations that cannot work, naming the key", () => {
    expect(errorOf(() => loadConfig({ env: {}, overrides: { "admin.approvalAbove": 100 } })).key).toBe("admin.approvalAbove");
    expect(errorOf(() => loadConfig({ env: {}, overrides: { "admin.port": 8080 } })).key).toBe("admin.port");
    expect(errorOf(() => loadConfig({ env: {}, overrides: { "http.headersTimeoutMs": 5000, "http.requestTimeoutMs": 1000 } })).key).toBe("http.headersTimeoutMs");
  });
});
