// What cluster mode's instances share, engines in this process on one NATS server. The
// back office (cluster/backoffice.ts): a programme, a product, a reward or a voucher
// offer changed through any instance's admin API is the same on every instance, one that
// joins later with an empty data directory included; a change refused by validation
// changes nothing anywhere; points earned anywhere follow the programme installed
// through another. Reward stock (cluster/stock.ts), counted once. Identifiers a customer
// gives up (cluster/identities.ts) are free again for others.
import { describe, expect, it } from "vitest";
import type { Engine } from "../../src/engine.js";
import { call, inProcessCluster } from "./in-process.js";
import { IdentityDirectory } from "../../src/cluster/directory.js";
import { connect } from "nats";
import { line, sale, until } from "../e2e/harness.js";

const PARTITIONS = 4;
// A short forward bound (5 s, not 15): a request's stale claim is freed after twice it, which the repair test waits out.
const cluster = inProcessCluster(PARTITIONS, { "cluster.directorySweepMs": 500, "cluster.forwardMsMax": 5000 });
const engines = cluster.engines;
const member = cluster.member;

describe("cluster mode: the back office", () => {
  it("is the same on every instance: changed through one, applied by all, refused alike, and given to one that joins", async () => {
    const e1 = await member("b1");
    const e2 = await member("b2");
    // Both serve: every partition is owned between them.
    await until(async () => (await call(e1, "GET", "/v1/admin/cluster")).body.partitions.every((p: any) => p.owner !== null), 20_000);

    // A programme installed through e1 for category "X"; enrolments through e2, sales through both.
    const bonus = { id: "bonus", name: "Bonus", account: "points", currency: "EUR", rules: [{ kind: "spend", per: 100, points: 1 }], scope: { categories: ["X"] } };
    const installed = await call(e1, "PUT", "/v1/admin/programmes/bonus", bonus);
    expect(installed.body, JSON.stringify(installed.body)).toMatchObject({ ok: true, id: "bonus", version: 1 });
    // e1 answered once it had applied it; e2 applies it within moments.
    await until(async () => (await call(e2, "GET", "/v1/admin/programmes")).body.programmes.some((p: any) => p.id === "bonus"), 10_000);
    const customers: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await call(e2, "POST", "/v1/enroll", { requestId: `bo-enrol-${i}`, profile: {}, card: `BO-${i}` });
      expect(r.body.ok, JSON.stringify(r.body)).toBe(true);
      customers.push(r.body.customerId);
    }
    // Whichever instance serves the customer's partition, the sale earns under the programme installed through e1.
    for (let i = 0; i < 8; i++) {
      const r = await call(i % 2 ? e1 : e2, "POST", "/v1/accrue", sale(`bo-sale-${i}`, { card: `BO-${i}` }, [{ ...line("1", 1, 1000), category: "X" }]));
      expect(r.body.ok, JSON.stringify(r.body)).toBe(true);
      expect(r.body.breakdown.map((b: any) => b.programme), JSON.stringify(r.body)).toContain("bonus");
    }

    // A product, a reward and a voucher offer through e2: e1 has them too.
    expect((await call(e2, "PUT", "/v1/admin/products/SKU-1", { name: "Paint", category: "X" })).body.ok).toBe(true);
    expect((await call(e2, "PUT", "/v1/admin/rewards/MUG", { name: "Mug", pointsPrice: 5, stock: 10 })).body.ok).toBe(true);
    expect((await call(e2, "PUT", "/v1/admin/voucher-offers/TEN", { name: "10 off", pointsCost: 5, kind: "amount", value: 1000, currency: "EUR", validDays: 10 })).body.ok).toBe(true);
    await until(async () => (await call(e1, "GET", "/v1/admin/voucher-offers/TEN")).status === 200, 10_000);
    expect((await call(e1, "GET", "/v1/admin/rewards/MUG")).body.reward).toMatchObject({ id: "MUG", pointsPrice: 5 });
    expect((await call(e1, "GET", "/v1/admin/products")).body.products.map((p: any) => p.sku)).toContain("SKU-1");
    // A voucher bought through either instance, whoever serves the customer.
    for (let i = 0; i < 4; i++) {
      const r = await call(i % 2 ? e1 : e2, "POST", "/v1/buyVoucher", { requestId: `bo-buy-${i}`, customer: { customerId: customers[i] }, offerId: "TEN" });
      expect(r.body, JSON.stringify(r.body)).toMatchObject({ ok: true, approved: true });
    }

    // Refused by validation through e1: its caller gets the error; nothing changes anywhere.
    const refused = await call(e1, "PUT", "/v1/admin/voucher-offers/BAD", { name: "bad", pointsCost: -5, kind: "amount", value: 1000, currency: "EUR", validDays: 10 });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    // Removed through e1: gone from e2.
    expect((await call(e1, "DELETE", "/v1/admin/rewards/MUG")).body.ok).toBe(true);
    await until(async () => (await call(e2, "GET", "/v1/admin/rewards/MUG")).status !== 200, 10_000);
    for (const e of [e1, e2]) expect((await call(e, "GET", "/v1/admin/voucher-offers/BAD")).status).not.toBe(200);

    // An instance that joins with an empty data directory gets the whole back office.
    const e3 = await member("b3");
    await until(async () => (await call(e3, "GET", "/v1/admin/voucher-offers/TEN")).status === 200, 20_000);
    const programmes = (await call(e3, "GET", "/v1/admin/programmes")).body.programmes;
    expect(programmes.find((p: any) => p.id === "bonus")).toMatchObject({ version: 1 });
    expect((await call(e3, "GET", "/v1/admin/rewards/MUG")).status).not.toBe(200);
    expect((await call(e3, "GET", "/v1/admin/voucher-offers/BAD")).status).not.toBe(200);
  }, 90_000);

  it("counts a reward's stock once for the cluster: redemptions through every instance take no more than there is, and a release gives back", async () => {
    const [e1, e2, e3] = engines as [Engine, Engine, Engine];
    // The instance that joined last has its share of the partitions, served (a request during a handover may wait it out and be refused).
    await cluster.settled();
    expect((await call(e1, "PUT", "/v1/admin/rewards/CAP", { name: "Cap", pointsPrice: 10, stock: 3 })).body.ok).toBe(true);
    await until(async () => (await call(e3, "GET", "/v1/admin/rewards/CAP")).status === 200, 10_000);
    // Eight customers with 10 points each, spread over the partitions (and so over the instances).
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await call(engines[i % 3]!, "POST", "/v1/enroll", { requestId: `st-enrol-${i}`, profile: {}, card: `ST-${i}` });
      ids.push(r.body.customerId);
      expect((await call(e1, "POST", "/v1/accrue", sale(`st-sale-${i}`, { card: `ST-${i}` }, [line("1", 1, 1000)]))).body.ok).toBe(true);
    }
    const redeem = (i: number, via: Engine, tag: string) => call(via, "POST", "/v1/redeemReward", { requestId: `st-${tag}-${i}`, customer: { customerId: ids[i] }, rewardId: "CAP" });
    // Six at once, through the three instances: three approved, three out of stock.
    const first = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => redeem(i, engines[i % 3]!, "a")));
    const approved = first.filter((r) => r.body.approved === true);
    expect(first.map((r) => r.body.ok), JSON.stringify(first.map((r) => r.body))).toEqual([true, true, true, true, true, true]);
    expect(approved).toHaveLength(3);
    expect(first.filter((r) => r.body.reason === "OUT_OF_STOCK")).toHaveLength(3);
    // A release through another instance gives its unit back; a redemption refused for its balance takes none.
    expect((await call(e2, "POST", "/v1/release", { requestId: "st-rel-1", holdId: approved[0]!.body.holdId })).body).toMatchObject({ ok: true, released: 10 });
    const poor = await call(e3, "POST", "/v1/enroll", { requestId: "st-enrol-poor", profile: {}, card: "ST-poor" });
    expect((await call(e1, "POST", "/v1/redeemReward", { requestId: "st-poor", customer: { customerId: poor.body.customerId }, rewardId: "CAP" })).body).toMatchObject({ approved: false, reason: "INSUFFICIENT_BALANCE" });
    expect((await redeem(6, e3, "b")).body).toMatchObject({ ok: true, approved: true });
    expect((await redeem(7, e1, "b")).body).toMatchObject({ ok: true, approved: false, reason: "OUT_OF_STOCK", stock: 0 });
    // A repeat of an approved redemption is its first reply and takes nothing more.
    expect((await redeem(6, e2, "b")).body).toMatchObject({ approved: true, duplicate: true });
    // The operator's word: one more on hand.
    expect((await call(e2, "PUT", "/v1/admin/rewards/CAP", { name: "Cap", pointsPrice: 10, stock: 1 })).body.ok).toBe(true);
    expect((await redeem(7, e3, "c")).body).toMatchObject({ ok: true, approved: true });
    expect((await redeem(5, e1, "c")).body).toMatchObject({ ok: true, approved: false, reason: "OUT_OF_STOCK" });
    // A price change that leaves the stock out leaves the count alone (the catalogue's stock is the operator's last word, not what is left).
    expect((await call(e3, "PUT", "/v1/admin/rewards/CAP", { name: "Cap", pointsPrice: 9 })).body.ok).toBe(true);
    expect((await redeem(5, e2, "d")).body).toMatchObject({ ok: true, approved: false, reason: "OUT_OF_STOCK", stock: 0 });
  }, 90_000);

  it("frees the identifiers a customer gives up: an old phone after a new one, every card and phone after an erasure", async () => {
    const [e1, e2, e3] = engines as [Engine, Engine, Engine];
    const a = await call(e1, "POST", "/v1/enroll", { requestId: "id-enrol-a", profile: { phone: "+48601100001" }, card: "ID-A", loyaltyId: "ID-LA" });
    expect(a.body.ok, JSON.stringify(a.body)).toBe(true);
    // Taken: refused through any instance.
    expect((await call(e3, "POST", "/v1/enroll", { requestId: "id-enrol-b0", profile: { phone: "+48601100001" } })).body).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect((await call(e2, "POST", "/v1/updateCustomer", { requestId: "id-phone", customer: { card: "ID-A" }, profile: { phone: "+48601100002" } })).body.ok).toBe(true);
    // The old phone is free for another customer; each phone finds its own.
    const b = await call(e3, "POST", "/v1/enroll", { requestId: "id-enrol-b", profile: { phone: "+48601100001" } });
    expect(b.body.ok, JSON.stringify(b.body)).toBe(true);
    for (const e of [e1, e2, e3]) {
      expect((await call(e, "POST", "/v1/balance", { customer: { phone: "+48601100001" } })).body.customerId).toBe(b.body.customerId);
      expect((await call(e, "POST", "/v1/balance", { customer: { phone: "+48601100002" } })).body.customerId).toBe(a.body.customerId);
    }
    // Erased: its card, phone and loyalty id may go to someone new.
    expect((await call(e2, "POST", `/v1/admin/customers/${a.body.customerId}/erase`, { reason: "GDPR request", operator: "ops" })).body.ok).toBe(true);
    const c = await call(e1, "POST", "/v1/enroll", { requestId: "id-enrol-c", profile: { phone: "+48601100002" }, card: "ID-A", loyaltyId: "ID-LA" });
    expect(c.body.ok, JSON.stringify(c.body)).toBe(true);
    for (const e of [e1, e2, e3]) expect((await call(e, "POST", "/v1/balance", { customer: { card: "ID-A" } })).body.customerId).toBe(c.body.customerId);
  }, 60_000);

  it("repairs the identity directory from the ledgers: a claim lost in a crash is made again, a request's claim goes to its customer or is freed", async () => {
    const [e1] = engines as [Engine, Engine, Engine];
    const nc = await connect({ servers: cluster.natsUrl() });
    const directory = await IdentityDirectory.open(nc, { replicas: 1 });
    try {
      const a = await call(e1, "POST", "/v1/enroll", { requestId: "sw-enrol-1", profile: {}, card: "SW-1" });
      const b = await call(e1, "POST", "/v1/enroll", { requestId: "sw-enrol-3", profile: {}, card: "SW-3" });
      const vpOf = (id: string) => parseInt(/^cu_v([0-9a-z]+)_/.exec(id)![1]!, 36);
      await directory.sync();
      expect(directory.lookup("card", "SW-1")).toBe(a.body.customerId);
      // As if the owner had died between applying the enrolment and claiming its card...
      expect((await directory.release("card", "SW-1", a.body.customerId)).ok).toBe(true);
      // ... or between claiming for the request and applying it (it applied) ...
      expect((await directory.move("card", "SW-3", b.body.customerId, `pending:${vpOf(b.body.customerId)}:sw-enrol-3`)).ok).toBe(true);
      // ... or before applying a request that never came to be.
      const claimedAt = Date.now();
      expect((await directory.claim("card", "SW-2", `pending:${vpOf(a.body.customerId)}:sw-never`)).ok).toBe(true);
      await until(async () => {
        await directory.sync();
        return directory.lookup("card", "SW-1") === a.body.customerId && directory.lookup("card", "SW-3") === b.body.customerId;
      }, 20_000);
      // A request's claim that never applied is freed only once it is stale (twice the forward bound, here 10 s): nothing in flight loses its claim.
      expect(directory.lookup("card", "SW-2")).toBe(`pending:${vpOf(a.body.customerId)}:sw-never`);
      await until(async () => {
        await directory.sync();
        return directory.lookup("card", "SW-2") === null;
      }, 30_000);
      // Not before its time: a round first saw the claim once it was made (a round's clock is read just before it lists the claims).
      expect(Date.now() - claimedAt).toBeGreaterThanOrEqual(9_500);
    } finally {
      await directory.close();
      await nc.close();
    }
  }, 90_000);

  it("gives a card linked at once to two customers of different partitions to exactly one of them", async () => {
    const [e1, e2, e3] = engines as [Engine, Engine, Engine];
    // Two customers whose ids name different partitions.
    const made: string[] = [];
    for (let i = 0; made.length < 2 || made[0]!.slice(0, 6) === made[1]!.slice(0, 6); i++) {
      const r = await call(e1, "POST", "/v1/enroll", { requestId: `race-enrol-${i}`, profile: {} });
      if (made.length < 2) made.push(r.body.customerId);
      else made[1] = r.body.customerId;
    }
    const [a, b] = made as [string, string];
    for (let k = 0; k < 6; k++) {
      const card = `RACE-${k}`;
      const link = (via: Engine, who: string, tag: string) => call(via, "POST", "/v1/admin/cards", { requestId: `race-${tag}-${k}`, action: "link", card, customer: { customerId: who } });
      const [ra, rb] = await Promise.all([link(k % 2 ? e1 : e2, a, "a"), link(k % 2 ? e2 : e3, b, "b")]);
      const winners = [ra, rb].filter((r) => r.body.ok === true);
      expect(winners, JSON.stringify([ra.body, rb.body])).toHaveLength(1);
      expect([ra, rb].find((r) => r.body.ok !== true)!.body).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
      const owner = ra.body.ok === true ? a : b;
      for (const e of [e1, e2, e3]) expect((await call(e, "POST", "/v1/balance", { customer: { card } })).body.customerId).toBe(owner);
    }
  }, 60_000);
});
