// The durable consumer through repeated kill -9: it never rewinds (no event acknowledged
// before a crash is delivered again after it), and an event that kills the process every
// time it is applied is dead-lettered after a bounded number of crashes while the events
// around it are applied exactly once.
import { connect, type NatsConnection, type JetStreamManager } from "nats";
import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { limits } from "../../src/limits.js";
import { closeStore, openStore } from "../../src/ledger/store.js";
import { streamMarks } from "../../src/ledger/marks.js";
import { childEngineEnv, killHard, line, sale, spawnEngine, supervise, tempDir } from "./harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function engineEnv(dir: string, natsUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return childEngineEnv(dir, natsUrl, { LOYALTYD_EVENTS_ACK_WAIT_MS: "1500", ...extra });
}

describe("crash loops", () => {
  let nats: NatsServerHandle | null = null;
  let nc: NatsConnection | null = null;
  let child: ChildProcess | null = null;
  const dir = tempDir("loyaltyd-crashloop-");
  /** Every nats-server the tests started: stopped at the end even when a test fails half-way. */
  const servers: NatsServerHandle[] = [];
  afterAll(async () => {
    if (child) await killHard(child);
    await nc?.close();
    for (const s of servers) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const rpc = async (verb: string, body: unknown) =>
    JSON.parse(Buffer.from((await nc!.request(`loyalty.rpc.${verb}`, Buffer.from(JSON.stringify(body)), { timeout: 10_000 })).data).toString());

  it("three kill -9 in a row under load: nothing acknowledged is replayed, every event applied once", async () => {
    const sub = tempDir("loyaltyd-rewind-");
    nats = await startNatsServer({ storeDir: join(sub, "js") });
    servers.push(nats);
    nc = await connect({ servers: nats.url });
    const env = engineEnv(sub, nats.url, { LOYALTYD_PARTITIONS: "2", LOYALTYD_EXECUTOR: "workers" });
    child = (await spawnEngine(env)).child;
    const CUSTOMERS = 20;
    const EVENTS = 3000;
    for (let c = 0; c < CUSTOMERS; c++) expect((await rpc("enroll", { requestId: `e-${c}`, card: `K-${c}` })).ok).toBe(true);

    // Every result, by eventId, with the phase it arrived in.
    let phase = 0;
    const resultsByEvent = new Map<string, number[]>();
    const s = nc.subscribe("loyalty.results.>", {
      callback: (_e, m) => {
        const id = JSON.parse(Buffer.from(m.data).toString()).eventId as string;
        resultsByEvent.set(id, [...(resultsByEvent.get(id) ?? []), phase]);
      },
    });
    const js = nc.jetstream();
    const seqOf = new Map<string, number>();
    const expected = new Map<string, number>();
    for (let i = 0; i < EVENTS; i++) {
      const card = `K-${i % CUSTOMERS}`;
      const points = 1 + (i % 5);
      expected.set(card, (expected.get(card) ?? 0) + points);
      const ev = sale(`ev-${i}`, { card }, [line("1", 1, points * 100)]);
      seqOf.set(ev.eventId, (await js.publish("loyalty.events.s01", Buffer.from(JSON.stringify(ev)), { msgID: ev.eventId })).seq);
      if (i === 1000) await sleep(50);
    }
    const jsm: JetStreamManager = await nc.jetstreamManager();
    // Wait until the engine has acknowledged a good part, then note the floor and kill it.
    const deadline = Date.now() + 30_000;
    let floor = 0;
    while (Date.now() < deadline && floor < 500) {
      floor = (await jsm.consumers.info("LOYALTY_EVENTS", "loyaltyd")).ack_floor.stream_seq;
      await sleep(20);
    }
    expect(floor).toBeGreaterThan(0);
    await killHard(child);
    phase = 1;
    floor = (await jsm.consumers.info("LOYALTY_EVENTS", "loyaltyd")).ack_floor.stream_seq;
    // Two more kills, each as soon as the engine is ready.
    for (let k = 0; k < 2; k++) {
      child = (await spawnEngine(env)).child;
      await killHard(child);
    }
    child = (await spawnEngine(env)).child;
    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    const until = Date.now() + 60_000;
    let sum = -1;
    while (Date.now() < until) {
      sum = 0;
      for (let c = 0; c < CUSTOMERS; c++) sum += (await rpc("balance", { customer: { card: `K-${c}` } })).accounts[0]?.balance ?? 0;
      if (sum >= total) break;
      await sleep(250);
    }
    expect(sum).toBe(total);
    for (let c = 0; c < CUSTOMERS; c++) {
      const b = await rpc("balance", { customer: { card: `K-${c}` } });
      expect(b.accounts[0].balance).toBe(expected.get(`K-${c}`));
    }
    // Every event has its result (a result may trail its effect by a moment).
    while (Date.now() < until && [...seqOf.keys()].some((id) => !resultsByEvent.has(id))) await sleep(100);
    expect([...seqOf.keys()].filter((id) => !resultsByEvent.has(id))).toEqual([]);
    // No replay: no event at or below the ack floor of the first crash had a result after it.
    const replayed = [...resultsByEvent].filter(([id, phases]) => seqOf.get(id)! <= floor && phases.some((p) => p > 0));
    expect(replayed).toEqual([]);
    // The ledger records how far it covers the stream (read every streamInfoMs): once JetStream's
    // ack floor has reached the last event (the ack follows its result), two reads later.
    const last = Math.max(...seqOf.values());
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(100)) {
      if ((await jsm.consumers.info("LOYALTY_EVENTS", "loyaltyd")).ack_floor.stream_seq >= last) break;
    }
    await sleep(limits.streamInfoMs * 2 + 500);
    s.unsubscribe();
    await killHard(child);
    child = null;
    const store = openStore(join(sub, "data", "ledger"));
    try {
      expect(streamMarks(store).ackFloor()).toBe(Math.max(...seqOf.values()));
    } finally {
      await closeStore(store);
    }
    await nc.close();
    nc = null;
    await nats.stop();
    nats = null;
    rmSync(sub, { recursive: true, force: true });
  });

  it("dead-letters an event that kills the engine each time it is applied, after a bounded number of crashes", async () => {
    nats = await startNatsServer({ storeDir: join(dir, "js") });
    servers.push(nats);
    nc = await connect({ servers: nats.url });
    const env = engineEnv(dir, nats.url, { LOYALTYD_FAILPOINT_CRASH_EVENT_PREFIX: "crash-" });
    child = (await spawnEngine(env)).child;
    expect((await rpc("enroll", { requestId: "e-1", card: "C-1" })).ok).toBe(true);
    const results = new Map<string, Record<string, any>>();
    nc.subscribe("loyalty.results.>", {
      callback: (_e, m) => {
        const r = JSON.parse(Buffer.from(m.data).toString());
        results.set(r.eventId, r);
      },
    });
    const js = nc.jetstream();
    const ids = ["good-1", "good-2", "crash-1", "good-3", "good-4"];
    for (const id of ids) await js.publish("loyalty.events.s01", JSON.stringify(sale(id, { card: "C-1" }, [line("1", 1, 1000)])), { msgID: id });
    const supervisor = supervise(env, child);
    const deadline = Date.now() + 90_000;
    while (results.size < ids.length && Date.now() < deadline) await sleep(100);
    await supervisor.stop();
    child = supervisor.child;
    expect(results.get("crash-1")).toMatchObject({ ok: false, error: { code: "INTERNAL" } });
    for (const id of ids.filter((x) => x.startsWith("good-"))) expect(results.get(id)).toMatchObject({ ok: true, earned: 10 });
    // Two crashes in a batch, then streamCrashesMax alone, then parked untried.
    expect(supervisor.restarts).toBe(2 + limits.streamCrashesMax);
    const jsm = await nc.jetstreamManager();
    const parked = await jsm.streams.getMessage("LOYALTY_DLQ", { last_by_subj: "loyalty.dlq.s01" });
    expect(JSON.parse(Buffer.from(parked.data).toString())).toMatchObject({ eventId: "crash-1" });
    expect(JSON.parse(parked.header.get("Loyalty-Error")).message).toMatch(/stopped 3 times/);
    const balance = await rpc("balance", { customer: { card: "C-1" } });
    expect(balance.accounts[0].balance).toBe(40);
    const info = await jsm.consumers.info("LOYALTY_EVENTS", "loyaltyd");
    expect(info.num_ack_pending).toBe(0);
    expect(child.exitCode).toBeNull();
  });
});
