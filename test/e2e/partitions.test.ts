// Cross-partition lookups under concurrency, with four worker partitions: a card or a
// phone claimed from two partitions at once goes to exactly one customer, two sales at
// one new phone enrol one customer, and a return right behind its sale finds it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, line, sale, send, startTestEnv, type TestEnv } from "./harness.js";

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe("cross-partition lookups (workers, 4 partitions)", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv({ executor: "workers", partitions: 4 });
  });
  afterAll(async () => t?.stop());

  it("gives a card claimed at once by an enrolment and by a link to another customer to exactly one of them", async () => {
    const owners: string[] = [];
    for (let i = 0; i < 20; i++) owners.push((await t.rpc("enroll", { requestId: `own-${i}`, card: `OWN-${i}` })).customerId);
    const rounds = await Promise.all(
      owners.map(async (customerId, i) => {
        const card = `RACE-${i}`;
        const [enrolled, linked] = await Promise.all([
          t.rpc("enroll", { requestId: `race-e-${i}`, card }),
          send(t, "POST", "/v1/admin/cards", { requestId: `race-l-${i}`, action: "link", card, customer: { customerId } }, auth),
        ]);
        const balance = await t.rpc("balance", { customer: { card } });
        return { enrolled, linked: linked.body, holder: balance.customerId as string, owner: customerId };
      }),
    );
    for (const r of rounds) {
      expect([r.enrolled.ok, r.linked.ok].filter(Boolean)).toHaveLength(1);
      expect(r.holder).toBe(r.enrolled.ok ? r.enrolled.customerId : r.owner);
      if (!r.enrolled.ok) expect(r.enrolled.error).toMatchObject({ code: "VALIDATION", field: "card" });
      if (!r.linked.ok) expect(r.linked.error).toMatchObject({ code: "VALIDATION", field: "card" });
    }
  });

  it("enrols one customer for sales that arrive together at a new phone, and routes a return right behind its sale", async () => {
    const at = Date.UTC(2026, 0, 5, 12);
    const phone = { phone: "+48600111222" };
    const sales = await Promise.all(Array.from({ length: 8 }, (_, i) => t.rpc("accrue", sale(`ph-${i}`, phone, [line("1", 1, 1000)], { at }))));
    expect(sales.every((s) => s.ok)).toBe(true);
    expect(new Set(sales.map((s) => s.customerId)).size).toBe(1);
    const [s, r] = await Promise.all([
      t.rpc("accrue", sale("sr-1", phone, [line("1", 2, 1000)], { at })),
      t.rpc("accrue", { type: "return", eventId: "rr-1", originalEventId: "sr-1", at, lines: [{ lineId: "1", qty: 1 }] }),
    ]);
    expect(s).toMatchObject({ ok: true, earned: 20 });
    expect(r).toMatchObject({ ok: true, earned: -10, customerId: s.customerId });
    const balance = await t.rpc("balance", { customer: phone });
    expect(balance.accounts[0]).toMatchObject({ account: "points", balance: 8 * 10 + 20 - 10 });
  });

  it("uses a voucher code once when tills redeem it at the same moment", async () => {
    expect((await send(t, "PUT", "/v1/admin/voucher-offers/TEN", { name: "10 off", pointsCost: 50, kind: "amount", value: 1000, currency: "EUR", validDays: 60 }, auth)).body.ok).toBe(true);
    await t.rpc("enroll", { requestId: "v-e", card: "V-1" });
    await t.rpc("accrue", sale("v-s", { card: "V-1" }, [line("1", 1, 10_000)], { at: Date.now() }));
    const bought = await t.rpc("buyVoucher", { requestId: "v-b", customer: { card: "V-1" }, offerId: "TEN" });
    expect(bought).toMatchObject({ ok: true, approved: true });
    const code = bought.voucher.code as string;
    // Typed differently at each till: the router must still find one partition for them all.
    const typed = (i: number) => (i % 2 ? code.toLowerCase() : `${code.slice(0, 4)}-${code.slice(4)}`);
    const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => t.rpc("redeemVoucher", { requestId: `v-r${i}`, code: typed(i) })));
    expect(replies.filter((r) => r.ok)).toHaveLength(1);
    expect(replies.filter((r) => !r.ok).every((r) => r.error.code === "VOUCHER_USED")).toBe(true);
  });
});

