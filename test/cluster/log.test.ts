// A partition's command log on a real 3-node nats-server cluster (R3): the log is the fence.
// Through src/cluster/log.ts against the server itself: three owners on three nodes racing
// with one expectation, exactly one wins each time (leases.test.ts pins the header's
// behaviour, and the per-subject one's failure, at the protocol level); an owner that lost
// the partition is refused at its next append; a retried append of the same command gets
// its first sequence back; a new owner replays what the old one wrote.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "nats";
import { CommandLog, FencedError, commandStream } from "../../src/cluster/log.js";
import { startNatsCluster, type NatsCluster } from "./harness.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe("a partition's command log", () => {
  let cluster: NatsCluster;
  let ncs: NatsConnection[];
  beforeAll(async () => {
    cluster = await startNatsCluster();
    // One connection per node: the writers reach the stream's leader through different servers.
    ncs = await Promise.all(cluster.servers.map((s) => connect({ servers: s })));
  }, 120_000);
  afterAll(async () => {
    await Promise.all((ncs ?? []).map((nc) => nc.close()));
    await cluster?.stop();
  });

  it("lets exactly one of three racing owners append after the same sequence, every time", async () => {
    const logs = await Promise.all(ncs.map((nc) => CommandLog.open(nc, 0, { replicas: 3 })));
    const rounds = 150;
    for (let round = 0; round < rounds; round++) {
      const results = await Promise.allSettled(logs.map((log, w) => log.append(enc(`w${w}r${round}`))));
      const won = results.flatMap((r, w) => (r.status === "fulfilled" ? [w] : []));
      expect(won, `round ${round}`).toHaveLength(1);
      for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(FencedError);
      // The losers catch up as a new owner would: reopen at the log's end.
      for (let w = 0; w < logs.length; w++) if (!won.includes(w)) logs[w] = await CommandLog.open(ncs[w]!, 0, { replicas: 3 });
    }
    const info = await (await ncs[0]!.jetstreamManager()).streams.info(commandStream(0));
    expect(info.state.messages).toBe(rounds);
    expect(info.config.num_replicas).toBe(3);
  }, 120_000);

  it("refuses a stale owner's next append once another owner appended, and the new owner replays the log", async () => {
    const old = await CommandLog.open(ncs[0]!, 1, { replicas: 3 });
    expect(await old.append(enc("a"), "cmd-a")).toBe(1);
    expect(await old.append(enc("b"), "cmd-b")).toBe(2);
    // The lease moved (its expiry, say): the new owner opens the log and replays it.
    const next = await CommandLog.open(ncs[1]!, 1, { replicas: 3 });
    expect(next.lastSeq).toBe(2);
    const replayed = [];
    for await (const c of next.readAfter(0)) replayed.push([c.seq, dec(c.data), c.id]);
    expect(replayed).toEqual([[1, "a", "cmd-a"], [2, "b", "cmd-b"]]);
    expect(await next.append(enc("c"))).toBe(3);
    // The old owner, not yet aware, tries to go on: refused, nothing written.
    const err = await old.append(enc("stale")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FencedError);
    expect((err as FencedError).expected).toBe(2);
    const replayedAgain = [];
    for await (const c of (await CommandLog.open(ncs[2]!, 1, { replicas: 3 })).readAfter(2)) replayedAgain.push(dec(c.data));
    expect(replayedAgain).toEqual(["c"]);
  }, 60_000);

  it("answers a retried append of the same command with its first sequence, not a second copy", async () => {
    const log = await CommandLog.open(ncs[0]!, 2, { replicas: 3 });
    expect(await log.append(enc("x"), "cmd-x")).toBe(1);
    // A view of the log from before "y" was appended: an owner that never saw that append's
    // acknowledgement (say) and retries it from where it stood.
    const before = await CommandLog.open(ncs[0]!, 2, { replicas: 3 });
    expect(await log.append(enc("y"), "cmd-y")).toBe(2);
    expect(await before.append(enc("y"), "cmd-y")).toBe(2);
    expect(before.lastSeq).toBe(2);
    const info = await (await ncs[0]!.jetstreamManager()).streams.info(commandStream(2));
    expect(info.state.messages).toBe(2);
  }, 60_000);
});
