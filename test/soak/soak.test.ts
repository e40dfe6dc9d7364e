// Proof under fire: cycles of kill -9 of the engine under JetStream and rpc load, a few
// restarts of nats-server, random bad input mixed in. At the end every event the tills
// had acknowledged is counted exactly once, every approved hold is captured or released
// exactly once, balance = sum of entries for every account, and LOYALTY_DLQ holds no valid
// event. Not in the default suite: `npm run soak` (SOAK_CYCLES, default 20; CI runs 3).
import { connect, type NatsConnection } from "nats";
import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { childEngineEnv, killHard, line, sale, spawnEngine, tempDir } from "../e2e/harness.js";

const CYCLES = Number(process.env.SOAK_CYCLES ?? 20);
const NATS_RESTARTS = Math.min(3, Math.max(1, Math.floor(CYCLES / 5)));
const CUSTOMERS = 40;
const LOAD_MS = 1500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("soak", () => {
  const dir = tempDir("loyaltyd-soak-");
  let nats: NatsServerHandle | null = null;
  let nc: NatsConnection | null = null;
  let child: Awaited<ReturnType<typeof spawnEngine>>["child"] | null = null;
  afterAll(async () => {
    if (child) await killHard(child);
    await nc?.close().catch(() => undefined);
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`survives ${CYCLES} kill -9 cycles and ${NATS_RESTARTS} nats-server restarts with nothing lost or doubled`, { timeout: 60_000 + CYCLES * 20_000 }, async () => {
    nats = await startNatsServer({ storeDir: join(dir, "js") });
    const port = nats.port;
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const env = childEngineEnv(dir, nats.url, { LOYALTYD_PARTITIONS: "2", LOYALTYD_EVENTS_ACK_WAIT_MS: "2000" });

    /** A request retried (same ids) until the engine answers it: through kills and NATS restarts. */
    const call = async (verb: string, body: unknown): Promise<Record<string, any>> => {
      for (;;) {
        try {
          const m = await nc!.request(`loyalty.rpc.${verb}`, JSON.stringify(body), { timeout: 2000 });
          const reply = JSON.parse(Buffer.from(m.data).toString()) as Record<string, any>;
          if (reply.ok === false && ["OVERLOADED", "UNAVAILABLE", "INTERNAL"].includes(reply.error.code)) throw new Error(reply.error.code);
          return reply;
        } catch {
          await sleep(100);
        }
      }
    };
    /** A stream event published until JetStream acknowledges it (same Nats-Msg-Id, same eventId). */
    const publish = async (subject: string, data: string, msgID: string): Promise<void> => {
      for (;;) {
        try {
          await nc!.jetstream().publish(subject, data, { msgID, timeout: 2000 });
          return;
        } catch {
          await sleep(100);
        }
      }
    };

    const timesToReady: number[] = [];
    const start = async () => {
      const t0 = Date.now();
      child = (await spawnEngine(env)).child;
      timesToReady.push(Date.now() - t0);
    };
    await start();
    for (let c = 0; c < CUSTOMERS; c++) expect((await call("enroll", { requestId: `e-${c}`, card: `K-${c}` })).ok).toBe(true);

    const earned = new Map<string, number>(); // card -> points of acknowledged sales
    const captured = new Map<string, number>(); // card -> points captured
    const captures = new Map<string, number>(); // card -> number of captures
    let events = 0;
    let holdsApproved = 0;
    let holdsReleased = 0;
    let badInputs = 0;
    let n = 0;
    const rnd = (k: number) => Math.floor(Math.random() * k);

    // One till's work for a while: stream sales, rpc sales, holds, and some garbage.
    const load = async (until: number): Promise<void> => {
      while (Date.now() < until) {
        const i = n++;
        const card = `K-${i % CUSTOMERS}`;
        const points = 1 + rnd(9);
        const kind = rnd(10);
        if (kind < 5) {
          const ev = sale(`s-${i}`, { card }, [line("1", 1, points * 100)]);
          await publish("loyalty.events.s01", JSON.stringify(ev), ev.eventId);
          earned.set(card, (earned.get(card) ?? 0) + points);
          events++;
        } else if (kind < 8) {
          const reply = await call("accrue", sale(`r-${i}`, { card }, [line("1", 1, points * 100)]));
          expect(reply).toMatchObject({ ok: true, earned: points });
          earned.set(card, (earned.get(card) ?? 0) + points);
          events++;
        } else if (kind < 9) {
          const amount = 1 + rnd(3);
          const hold = await call("authorize", { requestId: `a-${i}`, customer: { card }, amount });
          expect(hold.ok).toBe(true);
          if (hold.approved !== true) continue; // not enough points yet: nothing held
          holdsApproved++;
          if (rnd(2) === 0) {
            const cap = await call("capture", { requestId: `c-${i}`, holdId: hold.holdId });
            expect(cap).toMatchObject({ ok: true });
            captured.set(card, (captured.get(card) ?? 0) + amount);
            captures.set(card, (captures.get(card) ?? 0) + 1);
          } else {
            expect(await call("release", { requestId: `l-${i}`, holdId: hold.holdId })).toMatchObject({ ok: true });
            holdsReleased++;
          }
        } else {
          badInputs++;
          const garbage = [
            "{not json",
            JSON.stringify(sale(`bad-${i}`, { card }, [line("1", -3, 100)])),
            JSON.stringify({ type: "sale", eventId: `bad-${i}`, lines: "many" }),
            JSON.stringify(sale(`bad-${i}`, { card: `nobody-${i}` }, [line("1", 1, 100)])),
          ][rnd(4)]!;
          if (rnd(2) === 0) await publish("loyalty.events.s01", garbage, `bad-${i}`);
          else await nc!.request("loyalty.rpc.accrue", garbage, { timeout: 2000 }).catch(() => undefined);
        }
      }
    };

    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      // Kill in the middle of the load, while requests are in flight.
      const working = Promise.all([load(Date.now() + LOAD_MS), load(Date.now() + LOAD_MS)]);
      await sleep(LOAD_MS / 2 + rnd(LOAD_MS / 2));
      await killHard(child!);
      if (cycle % Math.ceil(CYCLES / NATS_RESTARTS) === 0) {
        await nats.stop();
        nats = await startNatsServer({ storeDir: join(dir, "js"), port });
      }
      await start();
      await working;
    }

    // Drain: the stream consumed, nothing pending.
    const jsm = await nc.jetstreamManager();
    const deadline = Date.now() + 120_000;
    for (;;) {
      const info = await jsm.consumers.info("LOYALTY_EVENTS", "loyaltyd").catch(() => null);
      if (info && info.num_pending === 0 && info.num_ack_pending === 0) break;
      if (Date.now() > deadline) throw new Error(`stream not drained: ${JSON.stringify(info?.num_pending)} pending`);
      await sleep(250);
    }

    let entriesChecked = 0;
    for (let c = 0; c < CUSTOMERS; c++) {
      const card = `K-${c}`;
      const b = await call("balance", { customer: { card } });
      const balance = b.accounts[0]?.balance ?? 0;
      expect(balance).toBe((earned.get(card) ?? 0) - (captured.get(card) ?? 0));
      expect(b.accounts[0]?.held ?? 0).toBe(0); // every approved hold captured or released
      const st = await call("statement", { customer: { card }, limit: 1000 });
      expect(st.entries.reduce((s: number, e: { amount: number }) => s + e.amount, 0)).toBe(balance);
      const sales = st.entries.filter((e: { amount: number }) => e.amount > 0).map((e: { eventId: string }) => e.eventId);
      expect(new Set(sales).size).toBe(sales.length);
      expect(st.entries.filter((e: { amount: number }) => e.amount < 0).length).toBe(captures.get(card) ?? 0);
      entriesChecked += st.entries.length;
    }
    // The dead-letter stream holds no valid event (and the garbage was refused, not parked).
    const dlq = await jsm.streams.info("LOYALTY_DLQ").then((s) => s.state.messages, () => 0);
    expect(dlq).toBe(0);
    const figures = {
      cycles: CYCLES,
      natsRestarts: NATS_RESTARTS,
      events,
      holdsApproved,
      holdsReleased,
      badInputs,
      entriesChecked,
      timeToReadyMs: { median: timesToReady.sort((a, b) => a - b)[timesToReady.length >> 1], max: Math.max(...timesToReady) },
    };
    console.log(`soak: ${JSON.stringify(figures)}`);
  });
});
