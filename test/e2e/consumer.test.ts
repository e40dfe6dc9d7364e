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

  it("resumes just above the ack floor, and a crash before the first ack does not replay the stream", async () => {
    await ensureStream(nc);
    const js = nc.jetstream();
    for (let i = 1; i <= 100; i++) await js.publish("loyalty.events.s1", JSON.stringify({ n: i }), { msgID: `c-${i}` });
    expect(await pull(50, true)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(await pull(10, false)).toEqual(Array.from({ length: 10 }, (_, i) => i + 51));
    // Crash 1: 10 delivered, none acknowledged. The restart resumes at 51 at once.
    await ensureStream(nc);
    expect(await pull(5, false)).toEqual([51, 52, 53, 54, 55]);
    // Crash 2, before any ack of the new consumer (its ack floor reads 0): still 51, not 1.
    await ensureStream(nc);
    // Crash 3, the same.
    await ensureStream(nc);
    const after = await pull(50, true);
    expect(after[0]).toBe(51);
    expect(after).toEqual(Array.from({ length: 50 }, (_, i) => i + 51));
  });
});
