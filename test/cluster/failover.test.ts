// Cluster mode end to end, engines in their own processes on a real 3-node NATS cluster:
// every state-changing command goes through its virtual partition's replicated log before
// it is applied, any instance answers for any customer, an owner killed with SIGKILL
// under load is replaced by another that replays the log, and an instance with an empty
// data directory rebuilds the partitions it takes over from the logs alone. Balances are
// checked against what the terminals were told, event by event: nothing lost, nothing
// applied twice.
import { rmSync } from "node:fs";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, killHard, until, line, sale, tempDir } from "../e2e/harness.js";
import { balanceOf, cli, clusterOf, post, rebuildEnv, settled as settledOf, startClusterEngine, type EngineProcess } from "./engines.js";
import { startNatsCluster, type NatsCluster } from "./harness.js";

const PARTITIONS = 8;
const CUSTOMERS = 24;

let cluster: NatsCluster;
let nc: NatsConnection;
const members = new Map<string, EngineProcess>();

async function start(id: string, dir?: string): Promise<EngineProcess> {
  const m = await startClusterEngine(cluster, id, PARTITIONS, dir);
  members.set(id, m);
  return m;
}

const settled = (live: EngineProcess[]) => settledOf(live, PARTITIONS);


/** A request over NATS rpc (any instance in the queue group answers), retried until a final reply. */
async function rpc(verb: string, body: unknown, pauses: number[]): Promise<any> {
  const started = Date.now();
  for (;;) {
    try {
      const reply = await nc.request(`loyalty.rpc.${verb}`, new TextEncoder().encode(JSON.stringify(body)), { timeout: 5000 });
      const r = JSON.parse(new TextDecoder().decode(reply.data));
      if (r.ok || !["UNAVAILABLE", "OVERLOADED"].includes(r.error?.code)) {
        pauses.push(Date.now() - started);
        return r;
      }
    } catch {
      // no engine answered in time (one was killed with the request): the same request again
    }
    if (Date.now() - started > 60_000) throw new Error(`${verb} not answered for 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  cluster = await startNatsCluster();
  nc = await connect({ servers: cluster.servers });
}, 60_000);

afterAll(async () => {
  for (const m of members.values()) await killHard(m.child);
  await nc?.close();
  await cluster?.stop();
  for (const m of members.values()) rmSync(m.dir, { recursive: true, force: true });
});

describe("cluster mode: the command logs", () => {
  it("serve any customer from any instance, survive an owner's SIGKILL under load, and rebuild a partition from its log alone", async () => {
    const e1 = await start("e1");
    const e2 = await start("e2");
    await settled([e1, e2]);

    // Enrolments through both instances: each customer's id names its virtual partition.
    const customers: string[] = [];
    for (let i = 0; i < CUSTOMERS; i++) {
      const via = i % 2 === 0 ? e1 : e2;
      const r = await post(via, "/v1/enroll", { requestId: `enrol-${i}`, profile: { name: `C${i}` }, card: `card-${i}` });
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(r.customerId).toMatch(/^cu_v[0-9a-z]+_/);
      customers.push(r.customerId);
    }
    // Identifiers other than the one a customer was enrolled (and routed) by: a phone given at
    // enrolment and a second card linked later. Any instance finds them (the identity directory).
    const phoneOf = (i: number) => `+4860000${String(i).padStart(4, "0")}`;
    for (let i = 0; i < CUSTOMERS; i++) {
      const via = i % 2 === 0 ? e2 : e1;
      const r = await post(via, "/v1/updateCustomer", { requestId: `phone-${i}`, customer: { customerId: customers[i] }, profile: { phone: phoneOf(i) } });
      expect(r.ok, JSON.stringify(r)).toBe(true);
      const link = await post(via, "/v1/admin/cards", { requestId: `link-${i}`, action: "link", card: `second-${i}`, customer: { customerId: customers[i] } });
      expect(link.ok, JSON.stringify(link)).toBe(true);
    }
    for (let i = 0; i < CUSTOMERS; i++) {
      for (const [via, ref] of [[e1, { phone: phoneOf(i) }], [e2, { phone: phoneOf(i) }], [e1, { card: `second-${i}` }], [e2, { card: `second-${i}` }]] as const) {
        const r = await post(via, "/v1/balance", { customer: ref });
        expect(r, JSON.stringify(ref)).toMatchObject({ ok: true, customerId: customers[i] });
      }
    }
    // A card another customer holds is refused, whichever partition the request lands on.
    const stolen = await post(e2, "/v1/enroll", { requestId: "enrol-stolen", profile: {}, loyaltyId: "L-stolen", card: "second-3" });
    expect(stolen).toMatchObject({ ok: false, error: { code: "VALIDATION" } });

    // A repeat through the other instance is the same enrolment.
    const again = await post(e2, "/v1/enroll", { requestId: "enrol-0", profile: { name: "C0" }, card: "card-0" });
    expect(again).toMatchObject({ ok: true, duplicate: true, customerId: customers[0] });

    // Sales over rpc, by card and by customer id, while e1 is killed halfway through.
    const earned = new Map<string, number>();
    const sent: { body: any; earned: number }[] = [];
    const pauses: number[] = [];
    let killedAt = 0;
    for (let n = 0; n < 240; n++) {
      const i = n % CUSTOMERS;
      const customer = n % 3 === 0 ? { card: `card-${i}` } : { customerId: customers[i]! };
      const body = sale(`ev-${n}`, customer, [line("1", 1, 1000 + 100 * (n % 7))]);
      if (n === 120) {
        await killHard(e1.child);
        killedAt = pauses.length;
      }
      const r = await rpc("accrue", body, pauses);
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(r.customerId).toBe(customers[i]);
      earned.set(customers[i]!, (earned.get(customers[i]!) ?? 0) + r.earned);
      sent.push({ body, earned: r.earned });
    }
    members.delete("e1");
    const worstPause = Math.max(...pauses.slice(killedAt));
    console.log(`cluster failover: the longest wait for a reply after the SIGKILL was ${worstPause} ms (lease TTL 2000 ms)`);

    // e2 owns everything now: every balance is the sum of what the terminals were told.
    await settled([e2]);
    for (const c of customers) expect(await balanceOf(e2, c)).toBe(earned.get(c) ?? 0);
    // Nothing applied twice: every event sent again is a duplicate with its first reply.
    for (const { body, earned: first } of sent.filter((_, k) => k % 5 === 0)) {
      const r = await rpc("accrue", body, []);
      expect(r).toMatchObject({ ok: true, duplicate: true, earned: first });
    }

    // e1 comes back on its own data directory: it replays what e2 appended meanwhile.
    const e1b = await start("e1", e1.dir);
    await settled([e1b, e2]);
    // A third instance with an empty data directory rebuilds its share from the logs alone.
    const e3 = await start("e3");
    await settled([e1b, e2, e3]);
    // Every partition's owner has applied its whole log (the status's lag, from the owners' heartbeats).
    await until(async () => (await clusterOf(e2)).partitions.every((p: any) => p.lag === 0));
    for (const m of [e1b, e2, e3]) {
      for (const c of customers) expect(await balanceOf(m, c), `${m.id} ${c}`).toBe(earned.get(c) ?? 0);
    }
    // Holds: authorised on one instance, captured through another.
    const hold = await post(e3, "/v1/authorize", { requestId: "az-1", customer: { card: "card-5" }, amount: 3 });
    expect(hold).toMatchObject({ ok: true, approved: true });
    expect(hold.holdId).toMatch(/^h_v[0-9a-z]+_/);
    const captured = await post(e1b, "/v1/capture", { requestId: "cap-1", holdId: hold.holdId });
    expect(captured).toMatchObject({ ok: true, captured: 3 });
    for (const m of [e1b, e2, e3]) expect(await balanceOf(m, customers[5]!)).toBe((earned.get(customers[5]!) ?? 0) - 3);

    // Merges: of two partitions (in steps, on both partitions' logs) and of one, through any instance; rebuild below replays both.
    const vpOf = (id: string) => /^cu_v([0-9a-z]+)_/.exec(id)![1];
    const [a, b] = customers.filter((c, k) => customers.findIndex((d) => vpOf(d) === vpOf(c)) !== k).flatMap((c) => [customers.find((d) => vpOf(d) === vpOf(c))!, c]);
    const other = customers.find((c) => vpOf(c) !== vpOf(a!))!;
    const both = (await balanceOf(e3, a!)) + (await balanceOf(e3, other));
    const across = await post(e2, "/v1/admin/customers/merge", { requestId: "merge-across", from: other, into: a, reason: "duplicate account", operator: "ops" });
    expect(across, JSON.stringify(across)).toMatchObject({ ok: true, from: other, into: a });
    for (const m of [e1b, e2, e3]) expect(await balanceOf(m, other)).toBe(both);
    const before = (await balanceOf(e3, a!)) + (await balanceOf(e3, b!));
    const merged = await post(e1b, "/v1/admin/customers/merge", { requestId: "merge-within", from: b, into: a, reason: "duplicate account", operator: "ops" });
    expect(merged.ok, JSON.stringify(merged)).toBe(true);
    for (const m of [e1b, e2, e3]) expect(await balanceOf(m, a!)).toBe(before);

    // `loyaltyd rebuild --verify`: a ledger from the logs alone, on an empty data directory, balance for balance the live cluster's.
    const rebuildDir = tempDir();
    const env = rebuildEnv(cluster, rebuildDir, PARTITIONS);
    try {
      const done = await cli(["rebuild", "--verify"], env);
      expect(done.code, done.stderr).toBe(0);
      const result = JSON.parse(done.stdout);
      expect(result).toMatchObject({ partitions: PARTITIONS, customers: CUSTOMERS, mismatches: [] });
      // 24 enrolments, 240 sales, the hold and its capture, whatever was retried: at least those.
      expect(result.commands).toBeGreaterThanOrEqual(CUSTOMERS + 240 + 2);
      expect(result.balancesCompared).toBeGreaterThanOrEqual(CUSTOMERS);
      // Again on the same data directory: refused, nothing overwritten.
      const again = await cli(["rebuild"], env);
      expect(again.code).toBe(78);
      expect(again.stderr).toMatch(/not empty/);
    } finally {
      rmSync(rebuildDir, { recursive: true, force: true });
    }

    // A voucher bought through one instance is redeemed by its code alone through another.
    // (After the rebuild: voucher offers are the back office's, per instance, and the rebuild has none.)
    for (const m of [e1b, e2, e3]) {
      const res = await fetch(`http://127.0.0.1:${m.httpPort}/v1/admin/voucher-offers/TEN`, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ name: "10 off", pointsCost: 5, kind: "amount", value: 1000, currency: "EUR", validDays: 10 }),
      });
      expect(res.status).toBe(200);
    }
    const bought = await post(e3, "/v1/buyVoucher", { requestId: "bv-1", customer: { customerId: customers[7] }, offerId: "TEN" });
    expect(bought).toMatchObject({ ok: true, approved: true });
    for (const m of [e1b, e2]) {
      const r = await post(m, "/v1/redeemVoucher", { requestId: "rv-1", code: bought.voucher.code, eventId: "ev-voucher" });
      expect(r, m.id).toMatchObject({ ok: true });
    }
  }, 240_000);
});
