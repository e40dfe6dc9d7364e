// A partition's command log trimmed after a snapshot (cluster/log.ts): a replay that
// needs a trimmed message never skips it, whether the log was trimmed before the reader
// looked at its start or while it read; a replay after the trimmed part reads on.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandLog, TrimmedError } from "../../src/cluster/log.js";
import { startNatsServer, type NatsServer } from "../../src/ingest/nats-server.js";
import { tempDir } from "../e2e/harness.js";

let nats: NatsServer;
let nc: NatsConnection;
const dir = tempDir();

beforeAll(async () => {
  nats = await startNatsServer({ storeDir: join(dir, "js") });
  nc = await connect({ servers: nats.url });
}, 30_000);

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const read = async (log: CommandLog, from: number) => {
  const seqs: number[] = [];
  for await (const m of log.readAfter(from)) seqs.push(m.seq);
  return seqs;
};

describe("a trimmed command log", () => {
  it("refuses a replay that needs what was trimmed, before or while it reads, and reads on after it", async () => {
    const owner = await CommandLog.open(nc, 11, { replicas: 1 });
    for (let i = 0; i < 10; i++) await owner.append(new Uint8Array([i]));
    // A reader that learnt the log's start before the trim (a takeover racing a stale owner's snapshot).
    const early = (await CommandLog.existing(nc, 11))!;
    expect(await owner.trimBefore(6)).toBe(5);
    await expect(read(early, 0)).rejects.toBeInstanceOf(TrimmedError);
    // One that opens after it knows at once.
    const late = (await CommandLog.existing(nc, 11))!;
    await expect(read(late, 2)).rejects.toBeInstanceOf(TrimmedError);
    expect(await read(late, 5)).toEqual([6, 7, 8, 9, 10]);
    expect(await read(late, 8)).toEqual([9, 10]);
    // The fence is the log's last sequence, which a trim leaves alone.
    expect(await owner.append(new Uint8Array([10]))).toBe(11);
  });
});
