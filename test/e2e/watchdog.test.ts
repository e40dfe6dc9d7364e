// A wedged partition (a batch that never finishes) is found by the watchdog: readiness
// says so, and the process is killed for its supervisor to restart (a thread inside an
// LMDB write transaction cannot be stopped otherwise); the transaction rolls back, tills
// retry, a stream event that wedges it every time ends in LOYALTY_DLQ (as any event that
// keeps killing the engine), and nothing is lost or applied twice.
import { connect, type NatsConnection } from "nats";
import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { childEngineEnv, killHard, line, sale, spawnEngine, supervise, tempDir } from "./harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("watchdog", () => {
  let nats: NatsServerHandle | null = null;
  let nc: NatsConnection | null = null;
  let child: ChildProcess | null = null;
  const dir = tempDir("loyaltyd-watchdog-");
  afterAll(async () => {
    if (child) await killHard(child);
    await nc?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("finds a wedged partition, says so, and has the process restarted without losing or doubling anything", async () => {
    nats = await startNatsServer({ storeDir: join(dir, "js") });
    const env = childEngineEnv(dir, nats.url, {
      LOYALTYD_EVENTS_ACK_WAIT_MS: "1500",
      LOYALTYD_WATCHDOG_MS: "1000",
      LOYALTYD_FAILPOINT_WEDGE_EVENT_PREFIX: "wedge-",
    });
    const engine = await spawnEngine(env);
    child = engine.child;
    nc = await connect({ servers: nats.url });
    const rpc = async (verb: string, body: unknown) =>
      JSON.parse(Buffer.from((await nc!.request(`loyalty.rpc.${verb}`, JSON.stringify(body), { timeout: 5_000 })).data).toString());
    expect((await rpc("enroll", { requestId: "e-1", card: "W-1" })).ok).toBe(true);
    const results = new Map<string, Record<string, any>>();
    nc.subscribe("loyalty.results.>", {
      callback: (_e, m) => {
        const r = JSON.parse(Buffer.from(m.data).toString());
        results.set(r.eventId, r);
      },
    });
    await nc.jetstream().publish("loyalty.events.s01", JSON.stringify(sale("wedge-1", { card: "W-1" }, [line("1", 1, 1000)])), { msgID: "wedge-1" });

    // While it is wedged, readiness says so; then the process is gone.
    let sawNotReady = false;
    const until = Date.now() + 10_000;
    while (child.exitCode === null && child.signalCode === null && Date.now() < until) {
      const r = await fetch(`http://127.0.0.1:${engine.httpPort}/readyz`).then((x) => x.json() as Promise<{ ok: boolean; checks: Record<string, boolean> }>, () => null);
      if (r && !r.ok && r.checks.partitions === false) sawNotReady = true;
      await sleep(50);
    }
    expect(sawNotReady).toBe(true);
    expect(child.signalCode).toBe("SIGKILL");

    // A supervisor restarts it whenever it dies; tills retry until they get an answer.
    const supervisor = supervise(env, child);
    for (let i = 1; i <= 5; i++) {
      const ev = sale(`good-${i}`, { card: "W-1" }, [line("1", 1, 1000)]);
      let reply: Record<string, any> | null = null;
      for (let attempt = 0; !reply?.ok && attempt < 100; attempt++) {
        reply = await rpc("accrue", ev).catch(() => null); // no responders / timeout while it restarts
        if (!reply?.ok) await sleep(200);
      }
      expect(reply).toMatchObject({ ok: true });
    }
    // The event that wedges it every time ends in the dead-letter stream.
    const deadline = Date.now() + 60_000;
    while (!results.has("wedge-1") && Date.now() < deadline) await sleep(200);
    await supervisor.stop();
    child = supervisor.child;
    expect(results.get("wedge-1")).toMatchObject({ ok: false, error: { code: "INTERNAL" } });
    const jsm = await nc.jetstreamManager();
    const parked = await jsm.streams.getMessage("LOYALTY_DLQ", { last_by_subj: "loyalty.dlq.s01" });
    expect(JSON.parse(Buffer.from(parked.data).toString())).toMatchObject({ eventId: "wedge-1" });
    expect(supervisor.restarts).toBeGreaterThanOrEqual(4);
    // Exactly the five good sales, once each.
    const balance = await rpc("balance", { customer: { card: "W-1" } });
    expect(balance.accounts[0].balance).toBe(50);
    const st = await rpc("statement", { customer: { card: "W-1" }, limit: 100 });
    expect(st.entries.map((e: { eventId: string }) => e.eventId).sort()).toEqual(["good-1", "good-2", "good-3", "good-4", "good-5"]);
    expect(child.exitCode).toBeNull();
  });
});
