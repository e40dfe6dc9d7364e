import { describe, expect, it } from "vitest";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, envNamesFor, loadConfig } from "../../src/config/config.js";
import { limits } from "../../src/limits.js";

function keyOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.key;
    throw err;
  }
  throw new Error("did not throw");
}

describe("configuration", () => {
  it("has defaults for the embedded run", () => {
    const c = loadConfig({ env: {} });
    expect(c).toMatchObject({ nats: { url: null }, http: { port: 8080, host: "127.0.0.1" }, partitions: 1, simulator: false });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("maps LOYALTYD_ variables onto keys, dots as underscores", () => {
    expect(envNamesFor("http.port")).toEqual(["LOYALTYD_HTTP_PORT"]);
    expect(envNamesFor("dataDir")).toEqual(["LOYALTYD_DATADIR", "LOYALTYD_DATA_DIR"]);
    const c = loadConfig({ env: { LOYALTYD_HTTP_PORT: "0", LOYALTYD_NATS_URL: "nats://127.0.0.1:4222", LOYALTYD_SIMULATOR: "on", LOYALTYD_DATA_DIR: "/tmp/x" } });
    expect(c).toMatchObject({ http: { port: 0 }, nats: { url: "nats://127.0.0.1:4222" }, simulator: true, dataDir: "/tmp/x" });
  });

  it("takes simulator b2b (the distributors' reports) besides on and off, and nothing else", () => {
    expect(loadConfig({ env: { LOYALTYD_SIMULATOR: "b2b" } }).simulator).toBe("b2b");
    expect(loadConfig({ env: { LOYALTYD_SIMULATOR: "off" } }).simulator).toBe(false);
    expect(() => loadConfig({ env: { LOYALTYD_SIMULATOR: "shop" } })).toThrow(/simulator/);
  });

  it("enrols at an unknown phone by default, at an unknown card only when enrolOnUnknownCard is on", () => {
    expect(loadConfig({ env: {} })).toMatchObject({ enrolOnUnknownPhone: true, enrolOnUnknownCard: false });
    expect(loadConfig({ env: { LOYALTYD_ENROL_ON_UNKNOWN_CARD: "on" } }).enrolOnUnknownCard).toBe(true);
    expect(loadConfig({ env: {}, overrides: { enrolOnUnknownCard: "on" } }).enrolOnUnknownCard).toBe(true);
    expect(keyOf(() => loadConfig({ env: { LOYALTYD_ENROLONUNKNOWNCARD: "maybe" } }))).toBe("enrolOnUnknownCard");
  });

  it("reads JSON and YAML files", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    writeFileSync(join(dir, "a.yaml"), "partitions: 4\nhttp:\n  port: 9000\n");
    writeFileSync(join(dir, "a.json"), JSON.stringify({ partitions: 3 }));
    expect(loadConfig({ file: join(dir, "a.yaml"), env: {} })).toMatchObject({ partitions: 4, http: { port: 9000 } });
    expect(loadConfig({ file: join(dir, "a.json"), env: {} }).partitions).toBe(3);
  });

  it("stops with an error naming the key", () => {
    expect(keyOf(() => loadConfig({ env: { LOYALTYD_HTTP_PORT: "70000" } }))).toBe("http.port");
    expect(keyOf(() => loadConfig({ env: { LOYALTYD_PARTITIONS: "zero" } }))).toBe("partitions");
    expect(keyOf(() => loadConfig({ env: {}, overrides: { colour: "red" } }))).toBe("colour");
    expect(keyOf(() => loadConfig({ env: {}, overrides: { "http.colour": "red" } }))).toBe("http.colour");
    expect(keyOf(() => loadConfig({ env: { LOYALTYD_NATS_URL: "not a url" } }))).toBe("nats.url");
    expect(keyOf(() => loadConfig({ env: { LOYALTYD_TIMEZONE: "Mars/Olympus" } }))).toBe("timeZone");
  });

  it("bounds an event's time to 30 days late and 5 minutes early by default, settable by key and environment", () => {
    expect(loadConfig({ env: {} }).events).toMatchObject({ lateMsMax: limits.eventLateMsDefault, futureMsMax: limits.eventFutureMsDefault });
    expect(limits.eventLateMsDefault).toBe(30 * 86_400_000);
    expect(limits.eventFutureMsDefault).toBe(300_000);
    expect(envNamesFor("events.lateMsMax")).toEqual(["LOYALTYD_EVENTS_LATEMSMAX", "LOYALTYD_EVENTS_LATE_MS_MAX"]);
    const c = loadConfig({ env: { LOYALTYD_EVENTS_LATE_MS_MAX: "86400000", LOYALTYD_EVENTS_FUTUREMSMAX: "0" } });
    expect(c.events).toMatchObject({ lateMsMax: 86_400_000, futureMsMax: 0 });
    expect(loadConfig({ env: {}, overrides: { "events.futureMsMax": 60_000 } }).events).toMatchObject({ lateMsMax: limits.eventLateMsDefault, futureMsMax: 60_000 });
    expect(keyOf(() => loadConfig({ env: { LOYALTYD_EVENTS_LATE_MS_MAX: "-1" } }))).toBe("events.lateMsMax");
    expect(keyOf(() => loadConfig({ env: { LOYALTYD_EVENTS_FUTURE_MS_MAX: "soon" } }))).toBe("events.futureMsMax");
  });

  it("sheds rpc and HTTP load past 100 ms with 64 unanswered by default, settable by key and environment, within bounds", () => {
    expect(loadConfig({ env: {} }).admission).toEqual({ queueWaitMs: 100, backlogMin: 64 });
    expect(limits.queueWaitMsMax).toBe(100);
    expect(limits.admissionBacklogMin).toBe(64);
    expect(envNamesFor("admission.queueWaitMs")).toEqual(["LOYALTYD_ADMISSION_QUEUEWAITMS", "LOYALTYD_ADMISSION_QUEUE_WAIT_MS"]);
    const c = loadConfig({ env: { LOYALTYD_ADMISSION_QUEUE_WAIT_MS: "250", LOYALTYD_ADMISSION_BACKLOG_MIN: "1" } });
    expect(c.admission).toEqual({ queueWaitMs: 250, backlogMin: 1 });
    expect(loadConfig({ env: {}, overrides: { "admission.backlogMin": 512 } }).admission).toEqual({ queueWaitMs: 100, backlogMin: 512 });
    expect(keyOf(() => loadConfig({ env: { LOYALTYD_ADMISSION_QUEUE_WAIT_MS: "5" } }))).toBe("admission.queueWaitMs");
    expect(keyOf(() => loadConfig({ env: { LOYALTYD_ADMISSION_QUEUE_WAIT_MS: "60001" } }))).toBe("admission.queueWaitMs");
    expect(keyOf(() => loadConfig({ env: { LOYALTYD_ADMISSION_BACKLOG_MIN: "0" } }))).toBe("admission.backlogMin");
    expect(keyOf(() => loadConfig({ env: {}, overrides: { "admission.backlogMin": limits.partitionQueueMax + 1 } }))).toBe("admission.backlogMin");
  });

  it("protects the event stream by default (no purge, no message deletion, no age or size limit), settable by key and environment", () => {
    expect(loadConfig({ env: {} }).events).toMatchObject({ streamMaxAgeMs: 0, streamMaxBytes: 0, streamDenyDelete: true, streamDenyPurge: true });
    const c = loadConfig({ env: { LOYALTYD_EVENTS_STREAM_MAX_AGE_MS: "7776000000", LOYALTYD_EVENTS_STREAM_DENY_PURGE: "off" } });
    expect(c.events).toMatchObject({ streamMaxAgeMs: 7_776_000_000, streamDenyPurge: false, streamDenyDelete: true });
  });
});

