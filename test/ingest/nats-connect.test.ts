import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "nats";
import { loadConfig } from "../../src/config/config.js";
import { natsConnectOptions, redactUrl, splitUrlCredentials } from "../../src/ingest/nats-connect.js";

const optionsFor = (overrides: Record<string, unknown>) => {
  const c = loadConfig({ env: {}, overrides });
  return natsConnectOptions({ ...c.nats, url: c.nats.url! });
};

/** A ConfigError naming this key. */
const namingKey = (key: string) => expect.objectContaining({ name: "Error", key });

describe("NATS URLs and credentials", () => {
  it("redacts user info, whole, from every URL of a list", () => {
    expect(redactUrl("nats://loyaltyd:s3cret@nats.internal:4222")).toBe("nats://***@nats.internal:4222");
    expect(redactUrl("nats://the-token@nats.internal:4222")).toBe("nats://***@nats.internal:4222");
    expect(redactUrl("tls://u:p%40ss@a:4222, nats://b:4222,nats://u:x@c:4222")).toBe("tls://***@a:4222,nats://b:4222,nats://***@c:4222");
    expect(redactUrl("nats://u:p@ss@a:4222")).toBe("nats://***@a:4222");
    expect(redactUrl("nats://127.0.0.1:4222")).toBe("nats://127.0.0.1:4222");
  });

  it("takes user and password, or a token, out of the URL and gives nats.js bare servers", () => {
    expect(splitUrlCredentials("nats://loyaltyd:p%40ss%3Aword@a:4222,nats://b:4222")).toEqual({
      servers: ["nats://a:4222", "nats://b:4222"],
      user: "loyaltyd",
      pass: "p@ss:word",
    });
    expect(splitUrlCredentials("nats://tok3n@a:4222")).toEqual({ servers: ["nats://a:4222"], token: "tok3n" });
    expect(splitUrlCredentials("nats://a:4222")).toEqual({ servers: ["nats://a:4222"] });
    expect(optionsFor({ "nats.url": "nats://loyaltyd:pw@a:4222" })).toEqual({ servers: ["nats://a:4222"], user: "loyaltyd", pass: "pw" });
  });

  it("builds nats.js options from the keys, reading secret files without their final line break", () => {
    const dir = mkdtempSync(join(tmpdir(), "nats-connect-"));
    writeFileSync(join(dir, "pass"), "from-a-file\n");
    writeFileSync(join(dir, "token"), "tok-from-file\n");
    expect(optionsFor({ "nats.url": "nats://a:4222" })).toEqual({ servers: ["nats://a:4222"] });
    expect(optionsFor({ "nats.url": "nats://a:4222", "nats.user": "u", "nats.pass": "p" })).toMatchObject({ user: "u", pass: "p" });
    expect(optionsFor({ "nats.url": "nats://a:4222", "nats.user": "u", "nats.passFile": join(dir, "pass") })).toMatchObject({ user: "u", pass: "from-a-file" });
    expect(optionsFor({ "nats.url": "nats://a:4222", "nats.tokenFile": join(dir, "token") })).toMatchObject({ token: "tok-from-file" });
    writeFileSync(join(dir, "ca.pem"), "x");
    writeFileSync(join(dir, "cert.pem"), "x");
    writeFileSync(join(dir, "key.pem"), "x");
    const tls = optionsFor({ "nats.url": "tls://a:4222", "nats.tls.ca": join(dir, "ca.pem"), "nats.tls.cert": join(dir, "cert.pem"), "nats.tls.key": join(dir, "key.pem") }).tls;
    expect(tls).toEqual({ caFile: join(dir, "ca.pem"), certFile: join(dir, "cert.pem"), keyFile: join(dir, "key.pem") });
    const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
    writeFileSync(join(dir, "engine.nk"), seed + "\n");
    expect(typeof optionsFor({ "nats.url": "nats://a:4222", "nats.nkeySeedFile": join(dir, "engine.nk") }).authenticator).toBe("function");
  });

  it("refuses a missing, empty or malformed secret file, naming its key", () => {
    const dir = mkdtempSync(join(tmpdir(), "nats-connect-"));
    writeFileSync(join(dir, "empty"), "\n");
    writeFileSync(join(dir, "junk"), "not a seed\n");
    const url = { "nats.url": "nats://a:4222" };
    expect(() => optionsFor({ ...url, "nats.user": "u", "nats.passFile": join(dir, "absent") })).toThrow(namingKey("nats.passFile"));
    expect(() => optionsFor({ ...url, "nats.tokenFile": join(dir, "empty") })).toThrow(namingKey("nats.tokenFile"));
    expect(() => optionsFor({ ...url, "nats.nkeySeedFile": join(dir, "junk") })).toThrow(namingKey("nats.nkeySeedFile"));
    expect(() => optionsFor({ ...url, "nats.credsFile": join(dir, "junk") })).toThrow(namingKey("nats.credsFile"));
    expect(() => optionsFor({ ...url, "nats.tls.ca": join(dir, "absent.pem") })).toThrow(namingKey("nats.tls.ca"));
  });
});
