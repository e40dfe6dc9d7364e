// The durable consumer across crashes: a restart resumes above what was acknowledged, and
// a second crash before any ack does not rewind it to the start of the stream.
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { CONSUMER, STREAM, ensureStream } from "../../src/ingest/stream.js";
import { tempDir } from "./harness.js";

describe("durable consumer restarts", () => {
  let dir: string;
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  beforeAll(async () => {
    dir = tempDir();
    nats = await startNatsServer({ storeDir: join(dir, "js") });
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Pulls n messages; acknowledges them when asked, else leaves them pending (a run that crashed). */
  async function pull(n: number, ack: boolean): Promise<number[]> {
    const consumer = await nc.jetstream().consumers.get(STREAM, CONSUMER);
    const seqs: number[] = [];
    const batch = await consumer.fetch({ max_messages: n, expires: 2000 });
    for await (const m of batch) {
      seqs.push(m.seq);
      if (ack) m.ack();
    }
    await nc.flush();
    return seqs;
  }

  const policy = { maxAgeMs: 0, maxBytes: 0, denyDelete: true, denyPurge: true, ackWaitMs: 1000 };

  it("keeps the consumer across crashes: nothing acknowledged comes back, what was in flight comes back after ack wait", async () => {
    await ensureStream(nc, policy);
    const jsm = await nc.jetstreamManager();
    const created = (await jsm.consumers.info(STREAM, CONSUMER)).created;
    const js = nc.jetstream();
    for (let i = 1; i <= 100; i++) await js.publish("loyalty.events.s1", JSON.stringify({ n: i }), { msgID: `c-${i}` });
    expect(await pull(50, true)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // Three crashes in a row, each with 10 delivered and none acknowledged.
    const inFlight: number[] = [];
    for (let crash = 0; crash < 3; crash++) {
      inFlight.push(...(await pull(10, false)));
      await ensureStream(nc, policy);
    }
    expect((await jsm.consumers.info(STREAM, CONSUMER)).created).toBe(created);
    expect(inFlight.every((s) => s > 50)).toBe(true);
    // The rest, acknowledged: every sequence from 51 on exactly once, none of 1..50 again.
    const seen = new Map<number, number>();
    const deadline = Date.now() + 10_000;
    const consumer = await nc.jetstream().consumers.get(STREAM, CONSUMER);
    while (seen.size < 50 && Date.now() < deadline) {
      const batch = await consumer.fetch({ max_messages: 50, expires: 1500 });
      for await (const m of batch) {
        seen.set(m.seq, m.info.redeliveryCount);
        m.ack();
      }
    }
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 51));
    // What was in flight was delivered again (count > 1); what was not, once.
    for (const [seq, count] of seen) expect(count > 1).toBe(inFlight.includes(seq));
  });

  it("moves the consumer only when a restored ledger asks for it", async () => {
    const jsm = await nc.jetstreamManager();
    await ensureStream(nc, policy, undefined, 91);
    expect(await pull(3, true)).toEqual([91, 92, 93]);
    const info = await jsm.consumers.info(STREAM, CONSUMER);
    expect(info.config.opt_start_seq).toBe(91);
  });
});
