// The customer lifecycle on a real LMDB in a temp dir: the `customer` read, updateCustomer
// (profile, consents, groups, attributes, loyalty id) with its identifiers re-indexed in
// one transaction, records written in the old consents shape, loyalty ids as references,
// enrolment at an unknown card, and the customer's tier moved by sales and returns.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Command, Notification } from "../../src/ledger/ledger.js";
import { limits } from "../../src/limits.js";
import { closeStore, openStore, type Customer } from "../../src/ledger/store.js";
import { BASE_PROGRAMME, T0, cmd, enrol, harnessPerTest, ret, sale, snapshot, type Harness, type Reply } from "./harness.js";

const DAY = 86_400_000;
const CARD = { card: "C-1" };

const harness = harnessPerTest();

/** Applies one command alone: its reply and the notifications it emitted. */
async function withNotes(h: Harness, c: Command): Promise<{ reply: Reply; notes: Notification[] }> {
  const [outcome] = await h.ledger.applyBatch([c]);
  h.store.env.resetReadTxn();
  return { reply: outcome!.reply as Reply, notes: outcome!.notifications };
}

const customerCmd = (customer: Record<string, string>) => cmd("customer", { customer });
const update = (requestId: string, customer: Record<string, string>, change: Record<string, unknown>) => cmd("updateCustomer", { requestId, customer, ...change });
/** What validation at the edge throws (the codec's code and field). */
function refusedAtEdge(verb: Parameters<typeof cmd>[0], raw: unknown): { code: string; field: string | undefined } {
  try {
    cmd(verb, raw);
  } catch (err) {
    const e = err as { code: string; field?: string };
    return { code: e.code, field: e.field };
  }
  throw new Error("accepted");
}

/** Every profile field. */
const ADA = {
  name: "Ada Lovelace",
  firstName: "Ada",
  lastName: "Lovelace",
  phone: "+48601000001",
  email: "ada@example.com",
  address: { line1: "Main St 1", postcode: "00-001", city: "Warsaw", country: "PL" },
  birthday: "12-10",
  language: "pl",
};

describe("the customer verb", () => {
  it("answers profile, consents, groups, attributes, cards with status, tier, stats and createdAt in one read", async () => {
    const h = await harness();
    h.clock.now = T0 + 5_000;
    const e = await h.one(
      cmd("enroll", {
        requestId: "e-1",
        card: "C-1",
        loyaltyId: "L-1",
        group: "VIP",
        attributes: { shoeSize: 42 },
        profile: { ...ADA, consents: { email: true, sms: { granted: false, at: T0 - 1000 } } },
      }),
    );
    expect(e).toEqual({ ok: true, customerId: "cu_000001" });
    await h.one(cmd("card", { requestId: "k-1", action: "replace", card: "C-1", newCard: "C-2" }));
    const r = await h.one(customerCmd({ loyaltyId: "L-1" }));
    expect(r).toEqual({
      ok: true,
      customerId: "cu_000001",
      loyaltyId: "L-1",
      profile: ADA,
      consents: { email: { granted: true, at: T0 + 5_000 }, sms: { granted: false, at: T0 - 1000 } },
      groups: ["VIP"],
      attributes: { shoeSize: 42 },
      cards: [
        { card: "C-1", status: "blocked" },
        { card: "C-2", status: "active" },
      ],
      tier: null,
      stats: { visits: 0, spend: 0, avgBasket: 0, lastVisitAt: null, firstVisitAt: null },
      createdAt: T0 + 5_000,
    });
  });

  it("counts visits (sales), spend and the average basket from the purchase record, net of returns", async () => {
    const h = await harness();
    await h.one(enrol("e-1", "C-1"));
    h.clock.now = T0 + 3 * 3_600_000;
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 2500 }], T0 + 3_600_000)));
    await h.one(cmd("accrue", sale("s-2", CARD, [{ lineId: "1", qty: 1, unitPrice: 500 }], T0 + 7_200_000)));
    h.clock.now = T0 + 2 * DAY;
    await h.one(cmd("accrue", sale("s-3", CARD, [{ lineId: "1", qty: 2, unitPrice: 1000 }], T0 + 2 * DAY)));
    await h.one(cmd("accrue", ret("r-3", "s-3", [{ lineId: "1", qty: 1 }], T0 + 2 * DAY)));
    const r = await h.one(customerCmd(CARD));
    // Three sales: 2500 and 500 on the first day, 2000 - 1000 on the third; times are the sales' own.
    expect(r.stats).toEqual({ visits: 3, spend: 4000, avgBasket: 1333, firstVisitAt: T0 + 3_600_000, lastVisitAt: T0 + 2 * DAY });
  });

  it("refuses an unknown customer, and a customer by a loyalty id nobody has", async () => {
    const h = await harness();
    expect(await h.one(customerCmd({ customerId: "cu_nobody" }))).toMatchObject({ ok: false, error: { code: "UNKNOWN_CUSTOMER" } });
    expect(await h.one(customerCmd({ loyaltyId: "L-none" }))).toMatchObject({ ok: false, error: { code: "UNKNOWN_CUSTOMER" } });
  });

  it("reads a record written with consents as booleans in its profile as given at enrolment", async () => {
    const h = await harness();
    const old: Customer = {
      id: "cu_000001",
      profile: { name: "Old", email: "old@example.com", consents: { sms: true, email: false } },
      groups: [],
      attributes: {},
      cards: [],
      createdAt: T0 - 10_000,
      origin: "enroll",
    };
    await h.store.customers.put(old.id, old);
    h.store.env.resetReadTxn();
    const r = await h.one(customerCmd({ customerId: old.id }));
    expect(r.profile).toEqual({ name: "Old", email: "old@example.com" });
    expect(r.consents).toEqual({ sms: { granted: true, at: T0 - 10_000 }, email: { granted: false, at: T0 - 10_000 } });
    // A consent change keeps the old ones and leaves the record in the new shape only.
    const u = await h.one(update("u-1", { customerId: old.id }, { consents: { email: true } }));
    expect(u.consents).toEqual({ sms: { granted: true, at: T0 - 10_000 }, email: { granted: true, at: T0 } });
    const stored = h.store.customers.get(old.id)!;
    expect(stored.profile.consents).toBeUndefined();
    expect(stored.consents).toEqual(u.consents);
  });
});

describe("updateCustomer", () => {
  it("changes the profile field by field: a value sets, null clears, what is not given stays", async () => {
    const h = await harness();
    await h.one(cmd("enroll", { requestId: "e-1", card: "C-1", profile: { name: "Ada", birthday: "1990-04-01", language: "en" } }));
    const u = await h.one(update("u-1", CARD, { profile: { firstName: "Ada", birthday: null, address: { city: "Kraków", country: "PL" } } }));
    expect(u).toMatchObject({ ok: true, customerId: "cu_000001", profile: { name: "Ada", firstName: "Ada", language: "en", address: { city: "Kraków", country: "PL" } } });
    expect(u.profile.birthday).toBeUndefined();
    expect(await h.one(customerCmd(CARD))).toEqual(u);
  });

  it("keeps the phone, e-mail and birthday indexes of fields a change leaves out", async () => {
    const h = await harness();
    await h.one(cmd("enroll", { requestId: "e-1", card: "C-1", profile: { name: "Ada", phone: "+48601000009", email: "ada@example.com", birthday: "1990-04-01" } }));
    expect(await h.one(update("u-1", CARD, { profile: { name: "Ada L." } }))).toMatchObject({ ok: true });
    expect(await h.one(cmd("balance", { customer: { phone: "+48601000009" } }))).toMatchObject({ ok: true, customerId: "cu_000001" });
    expect([...h.store.emails.getKeys()]).toEqual([["ada@example.com", "cu_000001"]]);
    expect([...h.store.birthdays.getKeys()]).toEqual([["04-01", "cu_000001"]]);
    expect(await h.one(update("u-2", CARD, { profile: { birthday: "05-02" } }))).toMatchObject({ ok: true });
    expect([...h.store.birthdays.getKeys()]).toEqual([["05-02", "cu_000001"]]);
  });

  it("moves a changed phone and e-mail in their indexes in the same transaction", async () => {
    const h = await harness();
    await h.one(cmd("enroll", { requestId: "e-1", card: "C-1", profile: { phone: "+48601000001", email: "Ada@Example.com" } }));
    const u = await h.one(update("u-1", CARD, { profile: { phone: "+48601000002", email: "ada@new.example" } }));
    expect(u.profile).toMatchObject({ phone: "+48601000002", email: "ada@new.example" });
    expect(h.store.phones.get("+48601000001")).toBeUndefined();
    expect(h.store.phones.get("+48601000002")).toBe("cu_000001");
    expect([...h.store.emails.getKeys()]).toEqual([["ada@new.example", "cu_000001"]]);
    expect(await h.one(cmd("balance", { customer: { phone: "+48601000001" } }))).toMatchObject({ ok: false, error: { code: "UNKNOWN_CUSTOMER" } });
    expect(await h.one(cmd("balance", { customer: { phone: "+48601000002" } }))).toMatchObject({ ok: true, customerId: "cu_000001" });
    // Cleared: gone from both.
    await h.one(update("u-2", CARD, { profile: { phone: null, email: null } }));
    expect([...h.store.phones.getKeys()]).toEqual([]);
    expect([...h.store.emails.getKeys()]).toEqual([]);
  });

  it("refuses a phone another customer has, without saying whose, and changes nothing else of the request", async () => {
    const h = await harness();
    await h.one(cmd("enroll", { requestId: "e-1", card: "C-1", profile: { phone: "+48601000001" } }));
    await h.one(cmd("enroll", { requestId: "e-2", card: "C-2", profile: { phone: "+48601000002", email: "b@example.com" } }));
    const before = snapshot(h.store);
    const r = await h.one(update("u-1", { card: "C-2" }, { profile: { email: "b2@example.com", phone: "+48601000001" }, groups: { add: ["VIP"] } }));
    expect(r).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "profile.phone" }, requestId: "u-1" });
    expect(JSON.stringify(r)).not.toContain("cu_000001");
    expect(snapshot(h.store)).toBe(before);
    // Its own phone again is no change, not a conflict.
    expect(await h.one(update("u-2", { card: "C-2" }, { profile: { phone: "+48601000002" } }))).toMatchObject({ ok: true });
  });

  it("indexes e-mails without case, and lets a family share one", async () => {
    const h = await harness();
    await h.one(cmd("enroll", { requestId: "e-1", card: "C-1", profile: { email: "Home@Example.com" } }));
    await h.one(cmd("enroll", { requestId: "e-2", card: "C-2", profile: { email: "home@example.com" } }));
    expect([...h.store.emails.getKeys({ start: ["home@example.com"], end: ["home@example.com\u0000"] })]).toEqual([
      ["home@example.com", "cu_000001"],
      ["home@example.com", "cu_000002"],
    ]);
    // A change of case alone moves nothing.
    await h.one(update("u-1", CARD, { profile: { email: "HOME@example.com" } }));
    expect([...h.store.emails.getKeys()]).toHaveLength(2);
  });

  it("adds and removes any number of groups, up to the bound", async () => {
    const h = await harness();
    await h.one(cmd("enroll", { requestId: "e-1", card: "C-1", group: "staff" }));
    const u1 = await h.one(update("u-1", CARD, { groups: { add: ["VIP", "staff", "family"] } }));
    expect(u1.groups).toEqual(["staff", "VIP", "family"]);
    const u2 = await h.one(update("u-2", CARD, { groups: { remove: ["staff", "nope"], add: ["club"] } }));
    expect(u2.groups).toEqual(["VIP", "family", "club"]);
    expect(refusedAtEdge("updateCustomer", { requestId: "u-3", customer: CARD, groups: { add: ["a"], remove: ["a"] } })).toEqual({ code: "VALIDATION", field: "groups.add[0]" });
    const many = Array.from({ length: limits.customerGroupsMax + 1 }, (_, i) => `g${i}`);
    expect(refusedAtEdge("updateCustomer", { requestId: "u-4", customer: CARD, groups: { add: many } })).toEqual({ code: "LIMIT_EXCEEDED", field: "groups.add" });
    const r = await h.one(update("u-5", CARD, { groups: { add: many.slice(0, limits.customerGroupsMax - 2) } }));
    expect(r).toMatchObject({ ok: false, error: { code: "LIMIT_EXCEEDED", field: "groups.add" } });
    expect(h.store.customers.get("cu_000001")!.groups).toEqual(["VIP", "family", "club"]);
  });

  it("sets and removes attributes, bounded in count and size", async () => {
    const h = await harness();
    await h.one(cmd("enroll", { requestId: "e-1", card: "C-1", attributes: { a: 1, b: "x" } }));
    const u = await h.one(update("u-1", CARD, { attributes: { a: null, c: true, b: "y" } }));
    expect(u.attributes).toEqual({ b: "y", c: true });
    expect(refusedAtEdge("updateCustomer", { requestId: "u-2", customer: CARD, attributes: { long: "x".repeat(limits.attributeValueLengthMax + 1) } }).code).toBe("VALIDATION");
    // A "__proto__" key never reaches the record (zod's record drops it).
    const proto = cmd("updateCustomer", { requestId: "u-2", customer: CARD, attributes: JSON.parse('{"__proto__": {"polluted": true}}') });
    expect(Object.keys((proto.input as { attributes: object }).attributes)).toEqual([]);
    expect(await h.one(proto)).toMatchObject({ ok: true, attributes: { b: "y", c: true } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const full = Object.fromEntries(Array.from({ length: limits.customerAttributesMax - 1 }, (_, i) => [`k${i}`, i]));
    expect(await h.one(update("u-3", CARD, { attributes: full }))).toMatchObject({ ok: false, error: { code: "LIMIT_EXCEEDED", field: "attributes" } });
    expect(h.store.customers.get("cu_000001")!.attributes).toEqual({ b: "y", c: true });
  });

  it("records a consent per channel with the time it was given or withdrawn", async () => {
    const h = await harness();
    await h.one(enrol("e-1", "C-1"));
    h.clock.now = T0 + 60_000;
    const u = await h.one(update("u-1", CARD, { consents: { email: true, post: { granted: false, at: T0 + 1 } } }));
    expect(u.consents).toEqual({ email: { granted: true, at: T0 + 60_000 }, post: { granted: false, at: T0 + 1 } });
    h.clock.now = T0 + 120_000;
    const u2 = await h.one(update("u-2", CARD, { consents: { email: false } }));
    expect(u2.consents.email).toEqual({ granted: false, at: T0 + 120_000 });
    expect(refusedAtEdge("updateCustomer", { requestId: "u-3", customer: CARD, consents: { fax: true } })).toEqual({ code: "VALIDATION", field: "consents.fax" });
  });

  it("is idempotent by requestId: the same request answers its first reply, other content conflicts", async () => {
    const h = await harness();
    await h.one(enrol("e-1", "C-1"));
    const first = await h.one(update("u-1", CARD, { groups: { add: ["VIP"] } }));
    await h.one(update("u-2", CARD, { groups: { add: ["club"] } }));
    const again = await h.one(update("u-1", CARD, { groups: { add: ["VIP"] } }));
    expect(again).toEqual({ ...first, duplicate: true });
    expect(await h.one(update("u-1", CARD, { groups: { add: ["other"] } }))).toMatchObject({ ok: false, error: { code: "IDEMPOTENCY_CONFLICT" } });
  });

  it("validates birthdays as calendar dates, with or without the year", async () => {
    const ok = (birthday: string) => cmd("enroll", { requestId: "e", profile: { birthday } });
    for (const b of ["1990-04-01", "2024-02-29", "02-29", "12-31"]) expect(() => ok(b), b).not.toThrow();
    for (const b of ["2023-02-29", "1990-13-01", "04-31", "00-10", "1990-4-1", "12/31"]) {
      expect(refusedAtEdge("enroll", { requestId: "e", profile: { birthday: b } }), b).toEqual({ code: "VALIDATION", field: "profile.birthday" });
    }
    expect(refusedAtEdge("updateCustomer", { requestId: "u", customer: CARD, profile: { language: "polish language" } }).field).toBe("profile.language");
  });
});

describe("loyalty ids", () => {
  it("finds a customer by the loyalty id given at enrolment, wherever a customer is named", async () => {
    const h = await harness();
    await h.one(cmd("enroll", { requestId: "e-1", loyaltyId: "LOY-77" }));
    const s = await h.one(cmd("accrue", sale("s-1", { loyaltyId: "LOY-77" }, [{ lineId: "1", qty: 1, unitPrice: 1200 }])));
    expect(s).toMatchObject({ ok: true, customerId: "cu_000001", earned: 12 });
    expect(await h.one(cmd("balance", { customer: { loyaltyId: "LOY-77" } }))).toMatchObject({ customerId: "cu_000001", accounts: [{ balance: 12 }] });
    const a = await h.one(cmd("authorize", { requestId: "a-1", customer: { loyaltyId: "LOY-77" }, amount: 5 }));
    expect(a).toMatchObject({ approved: true, customerId: "cu_000001" });
    expect(await h.one(cmd("accrue", sale("s-2", { loyaltyId: "LOY-0" }, [{ lineId: "1", qty: 1, unitPrice: 100 }])))).toMatchObject({ ok: false, error: { code: "UNKNOWN_CUSTOMER" } });
  });

  it("sets, moves and removes a loyalty id by updateCustomer; one another customer has is refused", async () => {
    const h = await harness();
    await h.one(enrol("e-1", "C-1"));
    await h.one(cmd("enroll", { requestId: "e-2", card: "C-2", loyaltyId: "L-2" }));
    expect(await h.one(cmd("enroll", { requestId: "e-3", loyaltyId: "L-2" }))).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "loyaltyId" } });
    expect((await h.one(update("u-1", CARD, { loyaltyId: "L-1" }))).loyaltyId).toBe("L-1");
    expect((await h.one(update("u-2", CARD, { loyaltyId: "L-1b" }))).loyaltyId).toBe("L-1b");
    expect(h.store.loyaltyIds.get("L-1")).toBeUndefined();
    expect(h.store.loyaltyIds.get("L-1b")).toBe("cu_000001");
    const taken = await h.one(update("u-3", CARD, { loyaltyId: "L-2" }));
    expect(taken).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "loyaltyId" } });
    expect(JSON.stringify(taken)).not.toContain("cu_000002");
    const removed = await h.one(update("u-4", CARD, { loyaltyId: null }));
    expect(removed).toMatchObject({ ok: true });
    expect("loyaltyId" in removed).toBe(false);
    expect([...h.store.loyaltyIds.getKeys()]).toEqual(["L-2"]);
  });
});

describe("enrolment at an unknown card", () => {
  const newCardSale = (eventId: string) => cmd("accrue", sale(eventId, { card: "C-new" }, [{ lineId: "1", qty: 1, unitPrice: 900 }]));

  it("is off by default: an unknown card is UNKNOWN_CUSTOMER for a sale and a quote", async () => {
    const h = await harness();
    expect(await h.one(newCardSale("s-1"))).toMatchObject({ ok: false, error: { code: "UNKNOWN_CUSTOMER" } });
    expect(await h.one(cmd("quote", sale("q-1", { card: "C-new" }, [{ lineId: "1", qty: 1, unitPrice: 900 }])))).toMatchObject({ ok: false, error: { code: "UNKNOWN_CUSTOMER" } });
    expect(h.store.cards.get("C-new")).toBeUndefined();
  });

  it("with enrolOnUnknownCard, enrols the card's holder in the sale's transaction and notifies", async () => {
    const h = await harness({ enrolOnUnknownCard: true });
    const q = await h.one(cmd("quote", sale("q-1", { card: "C-new" }, [{ lineId: "1", qty: 1, unitPrice: 900 }])));
    expect(q).toMatchObject({ ok: true, customerId: null, earned: 9 });
    const { reply, notes } = await withNotes(h, newCardSale("s-1"));
    expect(reply).toMatchObject({ ok: true, customerId: "cu_000001", earned: 9 });
    expect(notes).toContainEqual(expect.objectContaining({ kind: "enrolled", id: expect.any(String), payload: expect.objectContaining({ customerId: "cu_000001", via: "sale", eventId: "s-1", card: "C-new", at: T0 }) }));
    expect(await h.one(newCardSale("s-2"))).toMatchObject({ ok: true, customerId: "cu_000001", balance: 18 });
    expect(await h.one(customerCmd({ card: "C-new" }))).toMatchObject({ cards: [{ card: "C-new", status: "active" }], createdAt: T0 });
    expect(h.store.customers.get("cu_000001")!.origin).toBe("card");
  });

  it("still refuses a blocked card rather than enrolling anyone", async () => {
    const h = await harness({ enrolOnUnknownCard: true });
    await h.one(enrol("e-1", "C-new"));
    await h.one(cmd("card", { requestId: "k-1", action: "block", card: "C-new" }));
    expect(await h.one(newCardSale("s-1"))).toMatchObject({ ok: false, error: { code: "CARD_BLOCKED" } });
  });
});

describe("tiers", () => {
  const tiered = (windowDays: number, tiers: Record<string, unknown>[]) => ({
    ...BASE_PROGRAMME,
    rules: [{ kind: "spend", per: 100, points: 1 }, { kind: "tier", windowDays, tiers }],
  });
  const LADDER = tiered(365, [
    { id: "basic", minSpend: 0, factor: 1 },
    { id: "gold", minSpend: 10_000, factor: 2 },
  ]);
  const buy = (eventId: string, amount: number, at = T0) => cmd("accrue", sale(eventId, CARD, [{ lineId: "1", qty: 1, unitPrice: amount }], at));
  const tierOf = async (h: Harness) => (await h.one(cmd("balance", { customer: CARD }))).tier;

  it("is null in balance and customer without a tier rule", async () => {
    const h = await harness();
    await h.one(enrol("e-1", "C-1"));
    expect(await tierOf(h)).toBeNull();
  });

  it("puts a new customer in the tier that no spend reaches, since enrolment", async () => {
    const h = await harness({}, [LADDER]);
    await h.one(enrol("e-1", "C-1"));
    expect(await tierOf(h)).toEqual({ id: "basic", since: T0 });
    const { notes } = await withNotes(h, buy("s-1", 500));
    expect(notes.filter((n) => n.kind === "tier.changed")).toEqual([]);
    expect(await tierOf(h)).toEqual({ id: "basic", since: T0 });
  });

  it("moves up with the sale that reaches a tier and down with the return that leaves it, notifying each move", async () => {
    const h = await harness({}, [LADDER]);
    await h.one(enrol("e-1", "C-1"));
    h.clock.now = T0 + DAY;
    const up = await withNotes(h, buy("s-1", 12_000, T0 + DAY));
    // The sale that lifts the customer earns at the tier they had.
    expect(up.reply).toMatchObject({ ok: true, earned: 120 });
    expect(up.notes).toContainEqual(expect.objectContaining({ kind: "tier.changed", id: expect.any(String), payload: expect.objectContaining({ customerId: "cu_000001", from: "basic", to: "gold", at: T0 + DAY }) }));
    expect(await tierOf(h)).toEqual({ id: "gold", since: T0 + DAY });
    expect((await h.one(cmd("customer", { customer: CARD }))).tier).toEqual({ id: "gold", since: T0 + DAY });
    expect((await h.one(buy("s-2", 1000, T0 + DAY))).earned).toBe(20);
    h.clock.now = T0 + 2 * DAY;
    const down = await withNotes(h, cmd("accrue", ret("r-1", "s-1", undefined, T0 + 2 * DAY)));
    expect(down.reply).toMatchObject({ ok: true });
    expect(down.notes).toContainEqual(expect.objectContaining({ kind: "tier.changed", id: expect.any(String), payload: expect.objectContaining({ customerId: "cu_000001", from: "gold", to: "basic", at: T0 + 2 * DAY }) }));
    expect(await tierOf(h)).toEqual({ id: "basic", since: T0 + 2 * DAY });
  });

  it("names tiers by position without ids, and is null below every tier", async () => {
    const h = await harness({}, [tiered(365, [{ minSpend: 5000, factor: 1 }, { minSpend: 20_000, factor: 1.5 }])]);
    await h.one(enrol("e-1", "C-1"));
    expect(await tierOf(h)).toBeNull();
    const first = await withNotes(h, buy("s-1", 6000));
    expect(first.notes).toContainEqual(expect.objectContaining({ kind: "tier.changed", id: expect.any(String), payload: expect.objectContaining({ customerId: "cu_000001", from: null, to: "0", at: T0 }) }));
    await h.one(buy("s-2", 15_000));
    expect(await tierOf(h)).toEqual({ id: "1", since: T0 });
  });

  it("drops a tier when a later sale finds the window's turnover below it", async () => {
    const h = await harness({}, [tiered(30, [{ id: "basic", minSpend: 0, factor: 1 }, { id: "gold", minSpend: 10_000, factor: 2 }])]);
    await h.one(enrol("e-1", "C-1"));
    await h.one(buy("s-1", 12_000));
    expect((await tierOf(h)).id).toBe("gold");
    h.clock.now = T0 + 40 * DAY;
    const later = await withNotes(h, buy("s-2", 100, T0 + 40 * DAY));
    expect(later.notes).toContainEqual(expect.objectContaining({ kind: "tier.changed", id: expect.any(String), payload: expect.objectContaining({ customerId: "cu_000001", from: "gold", to: "basic", at: T0 + 40 * DAY }) }));
  });

  it("evaluates a late sale no earlier than the tier was last evaluated: a tier never moves back in time", async () => {
    const h = await harness({}, [LADDER]);
    await h.one(enrol("e-1", "C-1"));
    h.clock.now = T0 + 10 * DAY;
    await h.one(buy("s-1", 12_000, T0 + 10 * DAY));
    // A till that was offline sends a sale from day 1: the window ending then would not see day 10.
    const late = await withNotes(h, buy("s-0", 100, T0 + DAY));
    expect(late.reply).toMatchObject({ ok: true });
    expect(late.notes.filter((n) => n.kind === "tier.changed")).toEqual([]);
    expect(await tierOf(h)).toEqual({ id: "gold", since: T0 + 10 * DAY });
  });

  it("refuses a ladder with the same tier id twice", async () => {
    const { parseProgramme } = await import("../../src/rules/programme.js");
    expect(() => parseProgramme(tiered(365, [{ id: "a", minSpend: 0, factor: 1 }, { id: "a", minSpend: 10, factor: 2 }]))).toThrow(/tiers\[1\]\.id/);
    expect(() => parseProgramme(tiered(365, [{ minSpend: 0, factor: 1 }, { id: "0", minSpend: 10, factor: 2 }]))).toThrow(/appears twice/);
  });
});

describe("the e-mail index of an older ledger", () => {
  it("is built once from the customer records when the store is first opened by this release", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loyaltyd-emails-"));
    try {
      let store = openStore(dir);
      const c: Customer = { id: "cu_000001", profile: { email: "Old@Example.com" }, groups: [], attributes: {}, cards: [], createdAt: T0, origin: "enroll" };
      await store.customers.put(c.id, c);
      await store.meta.remove("emailsIndexed"); // as a ledger written before the index
      await closeStore(store);
      store = openStore(dir);
      expect([...store.emails.getKeys()]).toEqual([["old@example.com", "cu_000001"]]);
      expect(store.meta.get("emailsIndexed")).toBe(1);
      await closeStore(store);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("programmes scoped to customer attributes", () => {
  it("credit a sale by the attributes the customer has at the sale, as updateCustomer left them", async () => {
    const B2B_SMB = { id: "smb", currency: "EUR", scope: { attributes: { segment: ["smb", "corporate"] } }, rules: [{ kind: "spend", per: 100, points: 3 }] };
    const h = await harness({}, [BASE_PROGRAMME, B2B_SMB]);
    h.clock.now = T0;
    expect((await h.one(enrol("e-1", "C-1", { attributes: { segment: "retail" } }))).ok).toBe(true);
    const earned = async (eventId: string) => (await h.one(cmd("accrue", sale(eventId, CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }])))).earned;
    expect(await earned("s-1")).toBe(10); // base only: "retail" is not in the scope
    expect((await h.one(update("u-1", CARD, { attributes: { segment: "smb" } }))).ok).toBe(true);
    expect(await earned("s-2")).toBe(30); // the attribute-scoped programme wins the account
    expect((await h.one(update("u-2", CARD, { attributes: { segment: null } }))).ok).toBe(true);
    expect(await earned("s-3")).toBe(10);
  });
});
