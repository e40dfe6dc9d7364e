// A poison event: one that fails with INTERNAL on every delivery allowed goes to the
// durable stream LOYALTY_DLQ (with its error, deliveries and position) before it is
// acknowledged, is counted, and the stream moves on; the events around it are applied.
import { connect, type NatsConnection } from "nats";
import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { limits } from "../../src/limits.js";
import { childEngineEnv, line, sale, spawnEngine, tempDir } from "./harness.js";

describe("poison events", () => {
  let nats: NatsServerHandle | null = null;
  let nc: NatsConnection | null = null;
  let engine: Awaited<ReturnType<typeof spawnEngine>> | null = null;
  const dir = tempDir("loyaltyd-dlq-");
  afterAll(async () => {
    engine?.child.kill("SIGKILL");
    await nc?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("dead-letters an event that keeps failing with INTERNAL, and applies the others", async () => {
    nats = await startNatsServer({ storeDir: join(dir, "js") });
    engine = await spawnEngine(childEngineEnv(dir, nats.url, { LOYALTYD_FAILPOINT_EVENT_PREFIX: "poison-" }));
    nc = await connect({ servers: nats.url });
    const enrolled = JSON.parse(Buffer.from((await nc.request("loyalty.rpc.enroll", JSON.stringify({ requestId: "e-1", card: "C-1" }))).data).toString());
    expect(enrolled.ok).toBe(true);
    const results = new Map<string, Record<string, any>>();
    nc.subscribe("loyalty.results.>", { callback: (_e, m) => { const r = JSON.parse(Buffer.from(m.data).toString()); results.set(r.eventId, r); } });
    const js = nc.jetstream();
    for (const id of ["good-1", "poison-1", "good-2"]) {
      await js.publish("loyalty.events.s01", JSON.stringify(sale(id, { card: "C-1" }, [line("1", 1, 1000)])), { msgID: id });
    }
    const deadline = Date.now() + 30_000;
    while (results.size < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(results.get("good-1")).toMatchObject({ ok: true, earned: 10 });
    expect(results.get("good-2")).toMatchObject({ ok: true, earned: 10 });
    expect(results.get("poison-1")).toMatchObject({ ok: false, error: { code: "INTERNAL" } });

    // The poison event is parked, as it came, with why and where.
    const jsm = await nc.jetstreamManager();
    const parked = await jsm.streams.getMessage("LOYALTY_DLQ", { last_by_subj: "loyalty.dlq.s01" });
    expect(JSON.parse(Buffer.from(parked.data).toString())).toMatchObject({ eventId: "poison-1" });
    expect(JSON.parse(parked.header.get("Loyalty-Error"))).toMatchObject({ code: "INTERNAL" });
    expect(Number(parked.header.get("Loyalty-Deliveries"))).toBe(limits.streamInternalRetriesMax);
    expect(parked.header.get("Loyalty-Subject")).toBe("loyalty.events.s01");
    // Nothing is left pending: the stream moved on, and the poison event applied nothing.
    const info = await jsm.consumers.info("LOYALTY_EVENTS", "loyaltyd");
    expect(info.num_ack_pending).toBe(0);
    const balance = JSON.parse(Buffer.from((await nc.request("loyalty.rpc.balance", JSON.stringify({ customer: { card: "C-1" } }))).data).toString());
    expect(balance.accounts[0]).toMatchObject({ balance: 20 });
    const metrics = await (await fetch(`http://127.0.0.1:${engine.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^loyalty_dead_letters_total 1$/m);
  });
});
