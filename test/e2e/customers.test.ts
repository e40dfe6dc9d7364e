// The customer lifecycle end to end: real nats-server, real engine on worker threads
// across two partitions, real LMDB. customer and updateCustomer over NATS (JSON and
// MessagePack) and HTTP, loyalty ids as references, enrolment at an unknown card, the
// tier in balance with its tier.changed notification, and a hold's life in the statement.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_PROGRAMME, line, sale, startTestEnv, type TestEnv } from "./harness.js";

const TIERED = {
  ...BASE_PROGRAMME,
  rules: [
    { kind: "spend", per: 100, points: 1 },
    { kind: "tier", windowDays: 365, tiers: [{ id: "basic", minSpend: 0, factor: 1 }, { id: "gold", minSpend: 100_000, factor: 2 }] },
  ],
};

/** The next message on a subject, decoded. */
function next(t: TestEnv, subject: string): Promise<Record<string, any>> {
  const sub = t.nc.subscribe(subject, { max: 1 });
  return (async () => {
    for await (const m of sub) return JSON.parse(Buffer.from(m.data).toString());
    throw new Error(`no message on ${subject}`);
  })();
}

describe("customers end to end", () => {
  let t: TestEnv;
  let ada: string;
  beforeAll(async () => {
    t = await startTestEnv({ executor: "workers", partitions: 2, enrolOnUnknownCard: "on" }, [TIERED]);
    const r = await t.rpc("enroll", {
      requestId: "e-ada",
      card: "C-ADA",
      loyaltyId: "LOY-ADA",
      group: "VIP",
      profile: { name: "Ada", phone: "+48601100001", email: "ada@example.com", birthday: "12-10", consents: { email: true } },
    });
    expect(r.ok).toBe(true);
    ada = r.customerId;
  });
  afterAll(async () => t?.stop());

  it("answers customer over NATS JSON, MessagePack and HTTP alike, by any reference", async () => {
    const byCard = await t.rpc("customer", { customer: { card: "C-ADA" } });
    expect(byCard).toMatchObject({
      ok: true,
      customerId: ada,
      loyaltyId: "LOY-ADA",
      profile: { name: "Ada", phone: "+48601100001", email: "ada@example.com", birthday: "12-10" },
      consents: { email: { granted: true, at: expect.any(Number) } },
      groups: ["VIP"],
      attributes: {},
      cards: [{ card: "C-ADA", status: "active" }],
      tier: { id: "basic", since: byCard.createdAt },
      stats: { visits: 0, spend: 0, avgBasket: 0, lastVisitAt: null, firstVisitAt: null },
    });
    expect(await t.rpcPack("customer", { customer: { loyaltyId: "LOY-ADA" } })).toEqual(byCard);
    const http = await t.post("/v1/customer", { customer: { phone: "+48601100001" } });
    expect(http).toEqual({ status: 200, body: byCard });
    const unknown = await t.post("/v1/customer", { customer: { loyaltyId: "LOY-NONE" } });
    expect(unknown).toMatchObject({ status: 404, body: { ok: false, error: { code: "UNKNOWN_CUSTOMER" } } });
  });

  it("updates profile, consents, groups, attributes and the loyalty id over HTTP, idempotently", async () => {
    const body = {
      requestId: "u-1",
      customer: { loyaltyId: "LOY-ADA" },
      profile: { lastName: "Lovelace", phone: "+48601100002", address: { city: "London", country: "GB" } },
      consents: { sms: { granted: true, at: 1_767_225_600_000 } },
      groups: { add: ["club"], remove: ["VIP"] },
      attributes: { pet: "cat" },
      loyaltyId: "LOY-ADA-2",
    };
    const r = await t.post("/v1/updateCustomer", body);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      ok: true,
      customerId: ada,
      loyaltyId: "LOY-ADA-2",
      profile: { name: "Ada", lastName: "Lovelace", phone: "+48601100002", address: { city: "London", country: "GB" } },
      consents: { email: { granted: true }, sms: { granted: true, at: 1_767_225_600_000 } },
      groups: ["club"],
      attributes: { pet: "cat" },
    });
    expect(await t.post("/v1/updateCustomer", body)).toEqual({ status: 200, body: { ...r.body, duplicate: true } });
    // The old phone and loyalty id find nobody now; the new ones find Ada, whichever partition asks.
    expect((await t.rpc("balance", { customer: { phone: "+48601100001" } })).error.code).toBe("UNKNOWN_CUSTOMER");
    expect((await t.rpc("balance", { customer: { loyaltyId: "LOY-ADA" } })).error.code).toBe("UNKNOWN_CUSTOMER");
    expect(await t.rpc("balance", { customer: { phone: "+48601100002" } })).toMatchObject({ ok: true, customerId: ada });
    expect(await t.rpc("customer", { customer: { loyaltyId: "LOY-ADA-2" } })).toMatchObject({ ok: true, customerId: ada, groups: ["club"] });
  });

  it("refuses a phone another customer has, without saying whose (422 over HTTP, the same over NATS)", async () => {
    const bob = await t.rpc("enroll", { requestId: "e-bob", card: "C-BOB", profile: { phone: "+48601100003" } });
    const http = await t.post("/v1/updateCustomer", { requestId: "u-bob", customer: { card: "C-BOB" }, profile: { phone: "+48601100002" } });
    expect(http).toMatchObject({ status: 422, body: { ok: false, error: { code: "VALIDATION", field: "profile.phone" }, requestId: "u-bob" } });
    expect(JSON.stringify(http.body)).not.toContain(ada);
    const nats = await t.rpc("updateCustomer", { requestId: "u-bob2", customer: { customerId: bob.customerId }, loyaltyId: "LOY-ADA-2" });
    expect(nats).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "loyaltyId" } });
    const bad = await t.rpc("updateCustomer", { requestId: "u-bob3", customer: { card: "C-BOB" }, consents: { fax: true } });
    expect(bad).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "consents.fax" } });
    expect(await t.rpc("customer", { customer: { card: "C-BOB" } })).toMatchObject({ profile: { phone: "+48601100003" } });
  });

  it("accrues by loyalty id, and moves the tier with a notification that balance then reports", async () => {
    const changed = next(t, "loyalty.notify.tier.changed");
    const s = await t.rpc("accrue", sale("s-gold", { loyaltyId: "LOY-ADA-2" }, [line("1", 1, 120_000)]));
    expect(s).toMatchObject({ ok: true, customerId: ada, earned: 1200 });
    const n = await changed;
    expect(n).toMatchObject({ kind: "tier.changed", customerId: ada, from: "basic", to: "gold", at: Date.UTC(2026, 0, 5, 12, 0, 0) });
    const b = await t.post("/v1/balance", { customer: { card: "C-ADA" } });
    expect(b.body).toMatchObject({ ok: true, customerId: ada, tier: { id: "gold", since: n.at } });
    const c = await t.rpc("customer", { customer: { card: "C-ADA" } });
    expect(c).toMatchObject({ tier: { id: "gold", since: n.at }, stats: { visits: 1, spend: 120_000, avgBasket: 120_000 } });
  });

  it("enrols the holder of an unknown card at a sale (enrolOnUnknownCard on) and notifies", async () => {
    const enrolled = next(t, "loyalty.notify.enrolled");
    const s = await t.rpc("accrue", sale("s-new-card", { card: "C-FRESH" }, [line("1", 1, 900)]));
    expect(s).toMatchObject({ ok: true, earned: 9 });
    expect(await enrolled).toMatchObject({ kind: "enrolled", customerId: s.customerId, via: "sale", card: "C-FRESH" });
    expect(await t.post("/v1/customer", { customer: { card: "C-FRESH" } })).toMatchObject({ status: 200, body: { customerId: s.customerId, cards: [{ card: "C-FRESH", status: "active" }] } });
  });

  it("shows a hold and its release in the statement, the balance still the sum of the entries", async () => {
    const a = await t.rpc("authorize", { requestId: "a-ada", customer: { card: "C-ADA" }, amount: 300 });
    expect(a).toMatchObject({ approved: true });
    expect(await t.post("/v1/release", { requestId: "rl-ada", holdId: a.holdId })).toMatchObject({ status: 200, body: { ok: true, released: 300 } });
    const st = await t.post("/v1/statement", { customer: { card: "C-ADA" } });
    const kinds = st.body.entries.map((e: Record<string, any>) => [e.kind, e.amount, e.held ?? null, e.holdId ?? null]);
    expect(kinds).toEqual([
      ["accrual", 1200, null, null],
      ["hold", 0, 300, a.holdId],
      ["release", 0, 300, a.holdId],
    ]);
    const b = await t.rpc("balance", { customer: { card: "C-ADA" } });
    expect(b.accounts[0]).toMatchObject({ balance: 1200, held: 0, available: 1200 });
  });
});
