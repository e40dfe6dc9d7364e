// kill -9 under JetStream load, restart: every event JetStream acknowledged to the
// publisher is applied exactly once.
import { afterAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "nats";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { childEngineEnv, line, sale, spawnEngine, tempDir } from "./harness.js";

const CUSTOMERS = 40;
const EVENTS = 3000;

describe("crash safety", () => {
  let nats: NatsServerHandle | null = null;
  let nc: NatsConnection | null = null;
  const dir = tempDir("loyaltyd-crash-");
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("applies every acknowledged event exactly once through kill -9 and restart", async () => {
    nats = await startNatsServer({ storeDir: join(dir, "js") });
    // What the killed engine had in flight comes back after the consumer's ack wait: 3 s, not the default 30.
    const env = childEngineEnv(dir, nats.url, { LOYALTYD_PARTITIONS: "2", LOYALTYD_EXECUTOR: "workers", LOYALTYD_EVENTS_ACK_WAIT_MS: "3000" });
    let engine = await spawnEngine(env);
    nc = await connect({ servers: nats.url });
    const rpc = async (verb: string, body: unknown) =>
      JSON.parse(Buffer.from((await nc!.request(`loyalty.rpc.${verb}`, Buffer.from(JSON.stringify(body)), { timeout: 10_000 })).data).toString());
    for (let c = 0; c < CUSTOMERS; c++) expect((await rpc("enroll", { requestId: `e-${c}`, card: `K-${c}` })).ok).toBe(true);

    let results = 0;
    const sub = nc.subscribe("loyalty.results.>", { callback: () => void results++ });
    const js = nc.jetstream();
    const expected = new Map<string, number>();
    let killed: Promise<unknown> | null = null;
    const publishing: Promise<unknown>[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const card = `K-${i % CUSTOMERS}`;
      const points = 1 + (i % 7);
      expected.set(card, (expected.get(card) ?? 0) + points);
      const ev = sale(`ev-${i}`, { card }, [line("1", 1, points * 100)]);
      // Some events are published twice: JetStream dedupes some, the ledger the rest.
      publishing.push(js.publish("loyalty.events.s01", Buffer.from(JSON.stringify(ev)), { msgID: ev.eventId }));
      if (i % 50 === 0) publishing.push(js.publish("loyalty.events.s01", Buffer.from(JSON.stringify(ev)), { msgID: `${ev.eventId}-again` }));
      if (i % 100 === 99) {
        await Promise.all(publishing.splice(0));
        await new Promise((r) => setTimeout(r, 15)); // let the engine work while we publish
      }
      if (!killed && results > 200) {
        const child = engine.child;
        killed = new Promise((r) => child.once("exit", r));
        child.kill("SIGKILL");
      }
    }
    await Promise.all(publishing); // every publish acknowledged by JetStream
    expect(killed).not.toBeNull(); // the crash came in the middle of the load
    // Gone before the restart: a dataDir lock naming a live (or not yet reaped) pid refuses the next engine.
    await killed;
    engine = await spawnEngine(env);
    try {
      const total = [...expected.values()].reduce((a, b) => a + b, 0);
      const deadline = Date.now() + 60_000;
      let sum = -1;
      while (Date.now() < deadline) {
        sum = 0;
        for (let c = 0; c < CUSTOMERS; c++) sum += (await rpc("balance", { customer: { card: `K-${c}` } })).accounts[0]?.balance ?? 0;
        if (sum >= total) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(sum).toBe(total);
      for (let c = 0; c < CUSTOMERS; c++) {
        const card = `K-${c}`;
        const b = await rpc("balance", { customer: { card } });
        expect(b.accounts[0].balance).toBe(expected.get(card));
        const st = await rpc("statement", { customer: { card }, limit: 1000 });
        const ids = st.entries.map((e: { eventId: string }) => e.eventId);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids.length).toBe(EVENTS / CUSTOMERS);
        expect(st.entries.reduce((s: number, e: { amount: number }) => s + e.amount, 0)).toBe(b.accounts[0].balance);
      }
    } finally {
      sub.unsubscribe();
      engine.child.kill("SIGTERM");
    }
  });
});
