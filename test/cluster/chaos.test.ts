// Cluster mode under trouble, with JetStream and rpc traffic running throughout: three
// engines (own processes) on a 3-node NATS cluster; one NATS node is killed and comes
// back, every engine is restarted in turn, a fourth engine joins. After each step every
// balance, read through every engine, is exactly the sum of what the terminals were
// told (each event counted once, by its first reply), and every event sent again is a
// duplicate. Partitions are snapshotted every 40 commands and their logs trimmed, so
// takeovers restore snapshots throughout. Two customers are merged into customers of
// other partitions under load, before the fourth engine joins.
import { rmSync } from "node:fs";
import { connect, type JetStreamClient, type NatsConnection, type Subscription } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killHard, line, sale } from "../e2e/harness.js";
import { balanceOf, clusterOf, metricSum, post, settled, startClusterEngine, type EngineProcess } from "./engines.js";
import { startNatsCluster, type NatsCluster } from "./harness.js";

const PARTITIONS = 8;
const CUSTOMERS = 16;
/** `npm run test:cluster` runs it longer (LOYALTYD_CHAOS_SCALE=5): each phase's traffic and outage that many times longer. */
const SCALE = Number(process.env.LOYALTYD_CHAOS_SCALE ?? 1);
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const dec = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));

let cluster: NatsCluster;
let nc: NatsConnection;
let js: JetStreamClient;
let results: Subscription;
const engines = new Map<string, EngineProcess>();
const dirs = new Set<string>();

/** What the terminals were told: each event's earned points by its first ok reply, and its customer. */
const told = new Map<string, { customerId: string; earned: number }>();
/** Every event sent, by id. */
const bodies = new Map<string, unknown>();
const customers: string[] = [];
/** Customers merged away (across partitions) -> their survivors. */
const survivors = new Map<string, string>();
const survivorOf = (c: string) => survivors.get(c) ?? c;

async function start(id: string, dir?: string): Promise<EngineProcess> {
  // An event delivered to an engine that then lost its NATS node is redelivered after 3 s, not 30.
  // Snapshots every 40 commands: the logs are trimmed throughout, so takeovers restore snapshots under the trouble too.
  const e = await startClusterEngine(cluster, id, PARTITIONS, dir, { LOYALTYD_EVENTS_ACKWAITMS: "3000", LOYALTYD_CLUSTER_SNAPSHOTEVERYCOMMANDS: "40" });
  engines.set(id, e);
  dirs.add(e.dir);
  return e;
}

function record(r: any): void {
  if (!r.ok) return;
  const first = told.get(r.eventId);
  if (first) {
    expect(r.earned, `${r.eventId} answered twice with different points`).toBe(first.earned);
    return;
  }
  told.set(r.eventId, { customerId: r.customerId, earned: r.earned });
}

/** rpc accrue, retried with the same event until it gets a final reply. */
async function rpcAccrue(body: any): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const r = dec((await nc.request("loyalty.rpc.accrue", enc(body), { timeout: 5000 })).data);
      if (r.ok || !["UNAVAILABLE", "OVERLOADED"].includes(r.error?.code)) {
        expect(r.ok, JSON.stringify(r)).toBe(true);
        return record(r);
      }
    } catch {
      // no answer in time: the same event again
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${body.eventId}: no final reply in 60 s`);
}

/** Traffic until stopped: half the events over rpc, half published to LOYALTY_EVENTS. */
function traffic(tag: string) {
  let stopped = false;
  let n = 0;
  const published = new Map<string, any>();
  const worker = async (w: number) => {
    while (!stopped) {
      const k = n++;
      const i = k % CUSTOMERS;
      const body = sale(`${tag}-${w}-${k}`, k % 2 ? { card: `card-${i}` } : { customerId: customers[i]! }, [line("1", 1, 1000 + 100 * (k % 9))]);
      bodies.set(body.eventId, body);
      if (k % 2 === 0) {
        await rpcAccrue(body);
      } else {
        published.set(body.eventId, body);
        for (;;) {
          try {
            await js.publish("loyalty.events.s01", enc(body), { msgID: body.eventId, timeout: 5000 });
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 200)); // a NATS node down: publish again (same msgID)
          }
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const running = Promise.all([0, 1, 2, 3].map(worker));
  return {
    async stop(): Promise<void> {
      stopped = true;
      await running;
      // Every published event answered on loyalty.results.s01. A result is plain NATS: one
      // published while this client reconnected (its node was the one killed) is gone, so a
      // missing one is asked for again, as a POS would: the same event over rpc answers with
      // its first reply (or applies it, if the stream had not yet).
      const deadline = Date.now() + 15_000;
      while ([...published.keys()].some((id) => !told.has(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      for (const [id, body] of published) if (!told.has(id)) await rpcAccrue(body);
      expect([...published.keys()].filter((id) => !told.has(id))).toEqual([]);
    },
  };
}

/** A merge of two customers of different partitions, through any engine, sent again until it answers for good. */
async function mergeAcross(live: EngineProcess[], from: string, into: string): Promise<void> {
  const body = { requestId: `merge-${from}`, from, into, reason: "duplicate account", operator: "ops" };
  const deadline = Date.now() + 60_000;
  for (let k = 0; Date.now() < deadline; k++) {
    const r = await post(live[k % live.length]!, "/v1/admin/customers/merge", body).catch(() => null);
    if (r && (r.ok || !["UNAVAILABLE", "OVERLOADED"].includes(r.error?.code))) {
      expect(r, JSON.stringify(r)).toMatchObject({ ok: true, from, into });
      survivors.set(from, into);
      return;
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`merge of ${from} into ${into}: no final reply in 60 s`);
}

/** Every balance through every live engine equals the sum of what was told; events sent again are duplicates. */
async function verify(live: EngineProcess[]): Promise<void> {
  const expected = new Map<string, number>();
  for (const t of told.values()) expected.set(survivorOf(t.customerId), (expected.get(survivorOf(t.customerId)) ?? 0) + t.earned);
  // A merged-away customer's id reads as its survivor.
  for (const e of live) for (const c of customers) expect(await balanceOf(e, c), `${e.id}: ${c}`).toBe(expected.get(survivorOf(c)) ?? 0);
  // Every balance is the sum of its entries (read through another engine than the owner, for some).
  for (const [k, c] of customers.entries()) {
    const st = await post(live[k % live.length]!, "/v1/statement", { customer: { customerId: c }, limit: 1000 });
    expect(st.ok && !st.truncated, JSON.stringify(st).slice(0, 200)).toBe(true);
    const sum = st.entries.filter((e: any) => e.account === "points").reduce((a: number, e: any) => a + e.amount, 0);
    expect(sum, c).toBe(expected.get(survivorOf(c)) ?? 0);
  }
  // No partition is held by two instances, by their own accounts of what they hold.
  const held = (await Promise.all(live.map((e) => clusterOf(e)))).flatMap((s: any) => s.self.owned.map((o: any) => o.partition));
  expect(held.length).toBe(new Set(held).size);
  const sample = [...told.entries()].filter((_, k) => k % 7 === 0);
  for (const [eventId, t] of sample) {
    const r = await post(live[eventId.length % live.length]!, "/v1/accrue", bodies.get(eventId));
    expect(r, eventId).toMatchObject({ ok: true, duplicate: true, earned: t.earned });
  }
}

beforeAll(async () => {
  cluster = await startNatsCluster();
  nc = await connect({ servers: cluster.servers });
  js = nc.jetstream({ timeout: 5000 });
  results = nc.subscribe("loyalty.results.s01", {
    callback: (_err, m) => {
      const r = dec(m.data);
      record(r);
    },
  });
}, 60_000);

afterAll(async () => {
  results?.unsubscribe();
  for (const e of engines.values()) await killHard(e.child);
  await nc?.close();
  await cluster?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("cluster mode under trouble", () => {
  it("loses nothing and applies nothing twice through a NATS node's death, a rolling restart and a fourth instance", async () => {
    const live = [await start("e1"), await start("e2"), await start("e3")];
    await settled(live, PARTITIONS);
    for (let i = 0; i < CUSTOMERS; i++) {
      const r = await post(live[i % 3]!, "/v1/enroll", { requestId: `enrol-${i}`, profile: { name: `C${i}` }, card: `card-${i}` });
      expect(r.ok, JSON.stringify(r)).toBe(true);
      customers.push(r.customerId);
    }

    // 1. A NATS node dies under load and comes back.
    let load = traffic("nats");
    await new Promise((r) => setTimeout(r, 1500 * SCALE));
    await cluster.kill("n2");
    await new Promise((r) => setTimeout(r, 3000 * SCALE));
    await cluster.restart("n2");
    await load.stop();
    await settled(live, PARTITIONS, 60_000);
    await verify(live);

    // 2. Rolling restart: each engine stopped in order (SIGTERM) and started again on its data.
    load = traffic("rolling");
    for (let k = 0; k < live.length; k++) {
      const old = live[k]!;
      const exited = new Promise((r) => old.child.once("exit", r));
      old.child.kill("SIGTERM");
      await exited;
      live[k] = await start(old.id, old.dir);
      await settled(live, PARTITIONS, 60_000);
      await new Promise((r) => setTimeout(r, 500 * (SCALE - 1)));
    }
    await load.stop();
    await verify(live);

    // 2b. Two customers merged into customers of other partitions under load (their cards and ids go on
    // earning, for the survivors now; what was in flight is retried by the terminals).
    load = traffic("merge");
    const vpOf = (c: string) => /^cu_v([0-9a-z]+)_/.exec(c)![1];
    for (const from of [customers[0]!, customers[1]!]) {
      const into = customers.slice(2).find((c) => vpOf(c) !== vpOf(from) && !survivors.has(c) && ![...survivors.values()].includes(c))!;
      await mergeAcross(live, from, into);
    }
    await load.stop();
    await verify(live);

    // 3. A fourth instance joins under load and takes its share.
    load = traffic("join");
    live.push(await start("e4"));
    await settled(live, PARTITIONS, 60_000);
    await new Promise((r) => setTimeout(r, 1000 * (SCALE - 1)));
    await load.stop();
    await verify(live);
    // The newcomer's empty ledger took its share from the snapshots (the logs were trimmed behind them).
    expect(await metricSum(live[3]!, "loyalty_cluster_restores_total", 'outcome="ok"')).toBeGreaterThan(0);
    console.log(`cluster chaos: ${told.size} events, ${customers.length} customers, every balance exact through ${live.length} engines`);
  }, 300_000 * SCALE);
});
