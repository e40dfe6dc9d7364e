// LOYALTY_EVENTS as the engine creates it: retention from the configuration, and no
// purge or message deletion by default, so the record of what tills sent stays whole.
import { nanos } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureStream, STREAM } from "../../src/ingest/stream.js";
import { startTestEnv, type TestEnv } from "./harness.js";

describe("event stream policy", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv({ "events.streamMaxAgeMs": 90 * 86_400_000 });
  });
  afterAll(async () => t?.stop());

  it("creates the stream with the configured age limit, refusing purges and message deletion", async () => {
    const jsm = await t.nc.jetstreamManager();
    const { config } = await jsm.streams.info(STREAM);
    expect(config).toMatchObject({ max_age: nanos(90 * 86_400_000), max_bytes: -1, deny_delete: true, deny_purge: true });
    await t.nc.jetstream().publish("loyalty.events.s01", JSON.stringify({ probe: 1 }), { msgID: "probe-1" });
    await expect(jsm.streams.purge(STREAM)).rejects.toThrow();
    await expect(jsm.streams.deleteMessage(STREAM, 1)).rejects.toThrow();
  });

  it("brings an existing stream's limits to the configuration at start", async () => {
    await ensureStream(t.nc, { maxAgeMs: 0, maxBytes: 1 << 30, denyDelete: true, denyPurge: true, ackWaitMs: 30_000 });
    const { config } = await (await t.nc.jetstreamManager()).streams.info(STREAM);
    expect(config).toMatchObject({ max_age: 0, max_bytes: 1 << 30 });
  });
});
