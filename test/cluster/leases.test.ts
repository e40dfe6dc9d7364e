// Partition leases on a real 3-node NATS cluster (R3 buckets): exclusive under racing
// claimers, rebalanced on join and leave, taken over after a crash, lost by a paused
// owner that notices before acting again, and kept through the loss of a NATS node.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startNatsCluster, type NatsCluster } from "./harness.js";
import {
  emptyBuckets, isEven, sleep, spawnMember, split, startMember, until, watchExclusive,
  type ChildMember, type Member, type Timing,
} from "./members.js";
import { connect, headers } from "nats";
import { LEASES_BUCKET } from "../../src/cluster/kv.js";

// Short lifetimes keep the suite quick; the protocol is the same at the defaults.
const T: Timing = { partitions: 12, leaseTtlMs: 2000, renewMs: 400 };

let cluster: NatsCluster;
let members: Member[] = [];
let children: ChildMember[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

afterEach(async () => {
  for (const c of children) c.child.kill("SIGKILL");
  await Promise.all(members.map((x) => x.stop().catch(() => undefined)));
  members = [];
  children = [];
  await emptyBuckets(cluster);
});

async function join(id: string, timing = T, releaseDelayMs = 0): Promise<Member> {
  const x = await startMember(cluster, id, timing, releaseDelayMs);
  members.push(x);
  return x;
}

describe("partition leases on a 3-node NATS cluster", () => {
  it("gives every partition to exactly one of several instances that claim at once", async () => {
    const guard = watchExclusive(() => members, T.partitions);
    await Promise.all(["a", "b", "c", "d"].map((id) => join(id)));
    await until("an even split", () => isEven(members, T.partitions), 15_000);
    await sleep(3 * T.renewMs);
    guard.stop();
    expect(guard.violations).toEqual([]);
    expect([...split(members, T.partitions)!.values()]).toEqual([3, 3, 3, 3]);
    // Every acquisition's interval [acquire, release) is disjoint from every other member's for the same partition.
    const spans = members.flatMap((x) => {
      const open = new Map<number, number>();
      const out: { id: string; p: number; from: number; to: number }[] = [];
      for (const e of x.events) {
        if (e.ev === "acquire") open.set(e.p, e.t);
        else if (open.has(e.p)) out.push({ id: x.id, p: e.p, from: open.get(e.p)!, to: e.t }), open.delete(e.p);
      }
      for (const [p, from] of open) out.push({ id: x.id, p, from, to: Infinity });
      return out;
    });
    for (const s of spans) {
      for (const o of spans) if (o !== s && o.p === s.p && o.id !== s.id) expect(o.from >= s.to || o.to <= s.from, `${JSON.stringify(s)} vs ${JSON.stringify(o)}`).toBe(true);
    }
    // Nobody lost a lease: claims were refused, not overwritten.
    expect(members.flatMap((x) => x.events.filter((e) => e.reason === "lost" || e.reason === "expired"))).toEqual([]);
  });

  it("rebalances evenly as instances join and leave, handing partitions over without waiting for expiry", async () => {
    const P = 16;
    const timing = { ...T, partitions: P };
    const guard = watchExclusive(() => members, P);
    const a = await join("a", timing);
    await until("a owning everything", () => a.m.owned().length === P, 10_000);
    await join("b", timing);
    await until("a 8/8 split", () => isEven(members, P), 10_000);
    await join("c", timing);
    await until("a 6/5/5 split", () => isEven(members, P), 10_000);
    expect([...split(members, P)!.entries()].sort()).toEqual([["a", 6], ["b", 5], ["c", 5]]);
    // A graceful leave hands each partition to an heir: far quicker than the lease lifetime.
    const b = members.find((x) => x.id === "b")!;
    const t0 = Date.now();
    await b.stop();
    members = members.filter((x) => x !== b);
    const tookMs = await until("an 8/8 split after b left", () => isEven(members, P), 10_000);
    expect(Date.now() - t0).toBeLessThan(T.leaseTtlMs);
    expect(b.events.filter((e) => e.ev === "release").every((e) => e.reason === "rebalance" || e.reason === "shutdown")).toBe(true);
    guard.stop();
    expect(guard.violations).toEqual([]);
    console.log(`handover after a graceful leave: ${tookMs} ms`);
  });

  it("keeps a lease given up renewed, and nobody else's, until the engine has let go, however long past the lease lifetime", async () => {
    const P = 4;
    const timing = { ...T, partitions: P };
    const drainMs = 1.5 * T.leaseTtlMs;
    const guard = watchExclusive(() => members, P);
    const a = await join("a", timing, drainMs);
    await until("a owning everything", () => a.m.owned().length === P, 10_000);
    const b = await join("b", timing);
    await until("a 2/2 split", () => isEven(members, P), 3 * drainMs);
    guard.stop();
    expect(guard.violations).toEqual([]);
    const given = a.events.filter((e) => e.ev === "release");
    expect(given.map((e) => e.reason)).toEqual(["rebalance", "rebalance"]);
    for (const g of given) {
      const taken = b.events.find((e) => e.ev === "acquire" && e.p === g.p)!;
      expect(taken.t - g.t).toBeGreaterThanOrEqual(drainMs);
    }
    // Handed over, not expired: a's renewals went on while it drained.
    expect(a.events.filter((e) => e.reason === "lost" || e.reason === "expired")).toEqual([]);
  });

  it("takes a killed instance's partitions over once its leases expire, not before", async () => {
    await Promise.all(["a", "b"].map((id) => join(id)));
    const c = await spawnMember(cluster, "c", T);
    children.push(c);
    await until("a 4/4/4 split", () => members.every((x) => x.m.owned().length === 4) && c.owned().length === 4, 15_000);
    const orphans = c.owned();
    const guard = watchExclusive(() => members, T.partitions);
    const killedAt = Date.now();
    c.child.kill("SIGKILL");
    await until("a 6/6 split", () => isEven(members, T.partitions), 15_000);
    guard.stop();
    expect(guard.violations).toEqual([]);
    const takenAt = orphans.map((p) => Math.min(...members.flatMap((x) => x.events.filter((e) => e.ev === "acquire" && e.p === p && e.t >= killedAt).map((e) => e.t))));
    // Not before NATS dropped the lease (its last renewal was at most renewMs before the kill) ...
    for (const t of takenAt) expect(t - killedAt).toBeGreaterThanOrEqual(T.leaseTtlMs - T.renewMs - 50);
    // ... and soon after: the lifetime, then seen free at two rounds.
    const worst = Math.max(...takenAt) - killedAt;
    expect(worst).toBeLessThan(T.leaseTtlMs + 4 * T.renewMs + 1000);
    console.log(`takeover after kill -9: ${Math.min(...takenAt) - killedAt}..${worst} ms (leaseTtlMs ${T.leaseTtlMs}, renewMs ${T.renewMs})`);
  });

  it("a paused owner loses its leases and, resumed, believes in none of them before it takes one anew", async () => {
    await Promise.all(["a", "b"].map((id) => join(id)));
    const c = await spawnMember(cluster, "c", T);
    children.push(c);
    await until("a 4/4/4 split", () => members.every((x) => x.m.owned().length === 4) && c.owned().length === 4, 15_000);
    const before = c.owned();
    c.child.kill("SIGSTOP");
    const pausedAt = Date.now();
    // While it sleeps its leases expire in NATS and the two others share everything.
    await until("a and b owning all 12", () => isEven(members, T.partitions), 15_000);
    await sleep(T.renewMs);
    const resumedAt = Date.now();
    c.child.kill("SIGCONT");
    // Back, it rejoins and gets its share again, by new acquisitions.
    const guard = watchExclusive(() => members, T.partitions, () => new Map(c.owned().map((p) => [p, "c"])));
    await until("a 4/4/4 split again", () => members.every((x) => x.m.owned().length === 4) && c.owned().length === 4, 15_000);
    guard.stop();
    expect(guard.violations).toEqual([]);
    const after = c.lines.filter((l) => l.t >= resumedAt);
    // Every partition it reported owning after the pause it had acquired again after the pause.
    for (const l of after.filter((x) => x.ev === "owned")) {
      for (const p of l.owned!) expect(after.some((e) => e.ev === "acquire" && e.p === p && e.t <= l.t), `partition ${p} reported at ${l.t}`).toBe(true);
    }
    // And each partition it held before was let go as lost or expired, not as an orderly release.
    const let_go = new Map(after.filter((e) => e.ev === "release").map((e) => [e.p!, e.reason]));
    for (const p of before) expect(["lost", "expired"]).toContain(let_go.get(p));
    expect(resumedAt - pausedAt).toBeGreaterThan(T.leaseTtlMs);
  });

  it("keeps every partition owned, once, when the NATS node leading the lease bucket is killed", async () => {
    await Promise.all(["a", "b", "c"].map((id) => join(id)));
    await until("a 4/4/4 split", () => isEven(members, T.partitions), 15_000);
    const leader = await cluster.streamLeader(`KV_${LEASES_BUCKET}`);
    expect(leader).not.toBeNull();
    const before = new Map(members.flatMap((x) => x.m.owned().map((p) => [p, x.m.revisionOf(p)!] as const)));
    const guard = watchExclusive(() => members, T.partitions);
    const killedAt = Date.now();
    await cluster.kill(leader!);
    try {
      // A new stream leader takes 4 to 9 s to be elected on nats-server 2.9; leases may
      // expire meanwhile and move, but never to two owners. Settled: an even split in
      // which every lease was written again through the new leader.
      const written = () => isEven(members, T.partitions) && members.every((x) => x.m.owned().every((p) => x.m.revisionOf(p) !== before.get(p)));
      await until("a 4/4/4 split renewed on two NATS nodes", written, 30_000);
      const settledMs = Date.now() - killedAt;
      // Renewals go on: each owner's revision moves while it keeps the partition. Awaited up to
      // a lease lifetime rather than a fixed three renewals (short for a loaded machine on a
      // cluster that just lost a node); a lease not renewed in that time is lost, and fails below.
      const revisions = members.flatMap((x) => x.m.owned().map((p) => ({ x, p, rev: x.m.revisionOf(p)! })));
      await until("every lease renewed again", () => revisions.every((r) => (r.x.m.revisionOf(r.p) ?? 0) > r.rev), T.leaseTtlMs).catch(() => undefined);
      for (const r of revisions) {
        expect(r.x.m.isOwner(r.p)).toBe(true);
        expect(r.x.m.revisionOf(r.p)!).toBeGreaterThan(r.rev);
      }
      guard.stop();
      expect(guard.violations).toEqual([]);
      const moved = [...before.keys()].filter((p) => members.some((x) => x.events.some((e) => e.ev === "acquire" && e.p === p && e.t > killedAt))).length;
      console.log(`ownership settled ${settledMs} ms after the lease bucket's NATS leader (${leader}) was killed; ${moved} of ${T.partitions} partitions were acquired again`);
    } finally {
      await cluster.restart(leader!);
    }
  });

  // What the protocol relies on, pinned on the server the suite runs (Debian's 2.9.10):
  // several creates of one key racing, and several appends quoting one stream sequence
  // racing, each let exactly one through. (Racing updates quoting one key's revision do
  // not on 2.9.10, nats-server#4320: the protocol never lets two instances write one
  // lease revision, and the next step's fence must quote stream sequences.)
  it("lets one of several racing creates, and one of several racing appends quoting a stream sequence, through", async () => {
    const ncs = await Promise.all(cluster.servers.flatMap((s) => [s, s]).map((s) => connect({ servers: s })));
    try {
      const jsm = await ncs[0]!.jetstreamManager();
      await jsm.streams.add({ name: "FACTS", subjects: ["facts.>"], num_replicas: 3 });
      const jss = ncs.map((nc) => nc.jetstream());
      const createOnce = () => {
        const h = headers();
        h.set("Nats-Expected-Last-Subject-Sequence", "0");
        return h;
      };
      for (let round = 0; round < 40; round++) {
        const creates = await Promise.allSettled(jss.map((js) => js.publish(`facts.key.${round}`, new Uint8Array(1), { headers: createOnce() })));
        expect(creates.filter((r) => r.status === "fulfilled")).toHaveLength(1);
        const last = await jss[0]!.publish("facts.log", new Uint8Array(1));
        const appends = await Promise.allSettled(jss.map((js) => js.publish("facts.log", new Uint8Array(1), { expect: { lastSequence: last.seq } })));
        expect(appends.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      }
      await jsm.streams.delete("FACTS");
    } finally {
      await Promise.all(ncs.map((nc) => nc.close()));
    }
  });
});
