// The ledger's state machine, case by case, on a real LMDB in a temp dir with an injected
// clock: proportional returns, basket-level points, the whenSpent policies, enrolment at an
// unknown phone, holds and their expiry, idempotency, and isolation of failing commands.
import { describe, expect, it } from "vitest";
import { validate } from "../../src/codec/codec.js";
import { LoyaltyError } from "../../src/errors.js";
import { limits } from "../../src/limits.js";
import {
  BASE_PROGRAMME,
  T0,
  accountState,
  allAccounts,
  saleRecord,
  allEntries,
  allHolds,
  balanceCmd,
  cmd,
  customerIds,
  enrol,
  entriesOf,
  expireCmd,
  harnessPerTest,
  openHarness,
  pointsOf,
  ret,
  sale,
  snapshot,
  statementCmd,
  voidOf,
  type Harness,
  type Reply,
} from "./harness.js";
import type { Command } from "../../src/ledger/ledger.js";
import { getEvent } from "../../src/ledger/event-records.js";

const VISIT_PROGRAMME = { ...BASE_PROGRAMME, rules: [{ kind: "spend", per: 100, points: 1 }, { kind: "visit", points: 5 }] };
const CARD = { card: "C-1" };

const harness = harnessPerTest();

/** A harness with customer cu_000001 holding card C-1. */
async function withCustomer(...args: Parameters<typeof openHarness>): Promise<Harness> {
  const h = await harness(...args);
  const r = await h.one(enrol("e-1", "C-1"));
  expect(r).toMatchObject({ ok: true, customerId: "cu_000001" });
  return h;
}

async function points(h: Harness, customerId = "cu_000001", account = "points") {
  return pointsOf(await h.one(balanceCmd(customerId)), account);
}

function sumOfEntries(h: Harness, customerId = "cu_000001", account = "points"): number {
  return entriesOf(h.store, customerId)
    .filter((e) => e.account === account)
    .reduce((s, e) => s + e.amount, 0);
}

function errorCode(r: Reply): string | undefined {
  return r.ok === false ? r.error.code : undefined;
}

describe("returns", () => {
  it("takes back floored proportional shares, the last return taking the remainder (10 points, qty 3: 3, 3, 4)", async () => {
    const h = await withCustomer();
    const s = await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 3, unitPrice: 334, amount: 1000 }])));
    expect(s).toMatchObject({ ok: true, earned: 10, balance: 10 });
    const taken: number[] = [];
    for (const id of ["r-1", "r-2", "r-3"]) {
      const r = await h.one(cmd("accrue", ret(id, "s-1", [{ lineId: "1", qty: 1 }])));
      expect(r.ok).toBe(true);
      taken.push(-r.earned);
    }
    expect(taken).toEqual([3, 3, 4]);
    expect(await points(h)).toEqual({ balance: 0, held: 0, available: 0 });
    expect(sumOfEntries(h)).toBe(0);
    expect(entriesOf(h.store, "cu_000001").map((e) => [e.kind, e.amount, e.eventId])).toEqual([
      ["accrual", 10, "s-1"],
      ["return", -3, "r-1"],
      ["return", -3, "r-2"],
      ["return", -4, "r-3"],
    ]);
  });

  it("floors each cumulative share, not each increment (7 points, qty 2 returned 1 + 1 -> 3, 4)", async () => {
    const h = await withCustomer();
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 2, unitPrice: 350 }])));
    const r1 = await h.one(cmd("accrue", ret("r-1", "s-1", [{ lineId: "1", qty: 1 }])));
    const r2 = await h.one(cmd("accrue", ret("r-2", "s-1", [{ lineId: "1", qty: 1 }])));
    expect([r1.earned, r2.earned]).toEqual([-3, -4]);
  });

  it("handles fractional quantities (qty 0.9 earning 10, returned 0.3 three times: 3, 3, 4)", async () => {
    const h = await withCustomer();
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 0.9, unitPrice: 1111, amount: 1000 }])));
    const out: number[] = [];
    for (const id of ["r-1", "r-2", "r-3"]) out.push((await h.one(cmd("accrue", ret(id, "s-1", [{ lineId: "1", qty: 0.3 }])))).earned);
    expect(out).toEqual([-3, -3, -4]);
    const again = await h.one(cmd("accrue", ret("r-4", "s-1", [{ lineId: "1", qty: 0.001 }])));
    expect(errorCode(again)).toBe("RETURN_EXCEEDS_SALE");
  });

  it("gives back basket-level points only when the last line is fully returned", async () => {
    const h = await withCustomer({}, [VISIT_PROGRAMME]);
    const s = await h.one(
      cmd("accrue", sale("s-1", CARD, [
        { lineId: "A", qty: 2, unitPrice: 500 },
        { lineId: "B", qty: 1, unitPrice: 500 },
      ])),
    );
    expect(s.earned).toBe(20); // 10 (A) + 5 (B) + 5 (visit)
    const rec = saleRecord(h.store, "s-1")!;
    expect(rec.programmes[0]).toMatchObject({ earned: 20, lineEarned: { A: 10, B: 5 }, basketEarned: 5 });

    expect((await h.one(cmd("accrue", ret("r-1", "s-1", [{ lineId: "B", qty: 1 }])))).earned).toBe(-5);
    expect((await h.one(cmd("accrue", ret("r-2", "s-1", [{ lineId: "A", qty: 1 }])))).earned).toBe(-5);
    expect((await points(h)).balance).toBe(10);
    // The last unit of the last line: its 5 points plus the visit's 5.
    expect((await h.one(cmd("accrue", ret("r-3", "s-1", [{ lineId: "A", qty: 1 }])))).earned).toBe(-10);
    expect((await points(h)).balance).toBe(0);
    expect(sumOfEntries(h)).toBe(0);
  });

  it("a whole return (no lines) takes back what is left, basket points included", async () => {
    const h = await withCustomer({}, [VISIT_PROGRAMME]);
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "A", qty: 2, unitPrice: 500 }, { lineId: "B", qty: 1, unitPrice: 500 }])));
    expect((await h.one(cmd("accrue", ret("r-1", "s-1", [{ lineId: "A", qty: 1 }])))).earned).toBe(-5);
    expect((await h.one(cmd("accrue", ret("r-2", "s-1")))).earned).toBe(-15);
    expect(errorCode(await h.one(cmd("accrue", ret("r-3", "s-1"))))).toBe("RETURN_EXCEEDS_SALE");
    expect((await points(h)).balance).toBe(0);
  });

  it("a void takes back everything not yet returned, and a voided sale takes no more returns or voids", async () => {
    const h = await withCustomer({}, [VISIT_PROGRAMME]);
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "A", qty: 2, unitPrice: 500 }, { lineId: "B", qty: 1, unitPrice: 500 }])));
    await h.one(cmd("accrue", ret("r-1", "s-1", [{ lineId: "B", qty: 1 }])));
    const v = await h.one(cmd("accrue", voidOf("v-1", "s-1")));
    expect(v).toMatchObject({ ok: true, type: "void", earned: -15, originalEventId: "s-1", balance: 0 });
    expect(errorCode(await h.one(cmd("accrue", voidOf("v-2", "s-1"))))).toBe("RETURN_EXCEEDS_SALE");
    expect(errorCode(await h.one(cmd("accrue", ret("r-2", "s-1", [{ lineId: "A", qty: 1 }]))))).toBe("RETURN_EXCEEDS_SALE");
    expect(sumOfEntries(h)).toBe(0);
  });

  it("refuses an over-return, an unknown line and an unknown sale without a trace", async () => {
    const h = await withCustomer();
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 2, unitPrice: 500 }])));
    const before = snapshot(h.store);
    const replies = await h.apply([
      cmd("accrue", ret("r-1", "s-1", [{ lineId: "1", qty: 3 }])),
      cmd("accrue", ret("r-2", "s-1", [{ lineId: "1", qty: 1 }, { lineId: "1", qty: 1.5 }])),
      cmd("accrue", ret("r-3", "s-1", [{ lineId: "9", qty: 1 }])),
      cmd("accrue", ret("r-4", "s-404", [{ lineId: "1", qty: 1 }])),
      cmd("accrue", voidOf("v-1", "s-404")),
    ]);
    expect(replies.map(errorCode)).toEqual(["RETURN_EXCEEDS_SALE", "RETURN_EXCEEDS_SALE", "VALIDATION", "UNKNOWN_EVENT", "UNKNOWN_EVENT"]);
    expect(replies.map((r) => r.eventId)).toEqual(["r-1", "r-2", "r-3", "r-4", "v-1"]);
    expect(snapshot(h.store)).toBe(before);
  });

  it.each(["constructor", "toString", "hasOwnProperty", "valueOf"])(
    "refuses a return of a line %s that the sale does not have",
    async (lineId) => {
      const h = await withCustomer();
      await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 2, unitPrice: 500 }])));
      const before = snapshot(h.store);
      const r = await h.one(cmd("accrue", ret("r-1", "s-1", [{ lineId, qty: 1 }])));
      expect(r.ok).toBe(false);
      expect(r.error).toMatchObject({ code: "VALIDATION", field: "lines[0].lineId" });
      expect(snapshot(h.store)).toBe(before);
    },
  );

  it.each(["constructor", "toString", "hasOwnProperty"])("a sale line with the id %s is returned like any other line", async (lineId) => {
    const h = await withCustomer();
    const s = await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId, qty: 2, unitPrice: 500 }, { lineId: "b", qty: 1, unitPrice: 500 }])));
    expect(s.earned).toBe(15);
    const r1 = await h.one(cmd("accrue", ret("r-1", "s-1", [{ lineId, qty: 1 }])));
    const r2 = await h.one(cmd("accrue", ret("r-2", "s-1", [{ lineId, qty: 1 }])));
    expect([r1.earned, r2.earned]).toEqual([-5, -5]);
    expect(errorCode(await h.one(cmd("accrue", ret("r-3", "s-1", [{ lineId, qty: 1 }]))))).toBe("RETURN_EXCEEDS_SALE");
    expect((await points(h)).balance).toBe(5);
    expect(saleRecord(h.store, "s-1")!.returnedQty).toEqual({ [lineId]: 2 });
    expect(sumOfEntries(h)).toBe(5);
  });

  it("a whole return and a void find lines named constructor and toString among the sale's own lines", async () => {
    const h = await withCustomer({}, [VISIT_PROGRAMME]);
    const lines = [{ lineId: "constructor", qty: 1, unitPrice: 1000 }, { lineId: "toString", qty: 2, unitPrice: 500 }];
    expect((await h.one(cmd("accrue", sale("s-1", CARD, lines)))).earned).toBe(25);
    expect((await h.one(cmd("accrue", ret("r-1", "s-1", [{ lineId: "toString", qty: 1 }])))).earned).toBe(-5);
    expect((await h.one(cmd("accrue", ret("r-2", "s-1")))).earned).toBe(-20);
    // Nothing is left to take back, but the sale can still be voided.
    expect(await h.one(cmd("accrue", voidOf("v-1", "s-1")))).toMatchObject({ ok: true, earned: 0 });
    expect((await points(h)).balance).toBe(0);
    expect(sumOfEntries(h)).toBe(0);
  });

  describe('"__proto__" as an id is refused by the codec, before the ledger sees it', () => {
    const validation = (field: string) => expect.objectContaining({ code: "VALIDATION", field });
    it.each([
      ["a sale line", () => cmd("accrue", sale("s-1", CARD, [{ lineId: "__proto__", qty: 1, unitPrice: 100 }])), "lines[0].lineId"],
      ["a returned line", () => cmd("accrue", ret("r-1", "s-1", [{ lineId: "__proto__", qty: 1 }])), "lines[0].lineId"],
      ["a later returned line", () => cmd("accrue", ret("r-1", "s-1", [{ lineId: "1", qty: 1 }, { lineId: "__proto__", qty: 1 }])), "lines[1].lineId"],
      ["a sale's event id", () => cmd("accrue", sale("__proto__", CARD, [{ lineId: "1", qty: 1, unitPrice: 100 }])), "eventId"],
      ["a return's original event id", () => cmd("accrue", ret("r-1", "__proto__")), "originalEventId"],
      ["a card", () => cmd("accrue", sale("s-1", { card: "__proto__" }, [{ lineId: "1", qty: 1, unitPrice: 100 }])), "customer.card"],
      ["a sku", () => cmd("accrue", sale("s-1", CARD, [{ lineId: "1", sku: "__proto__", qty: 1, unitPrice: 100 }])), "lines[0].sku"],
      ["a request id", () => cmd("authorize", { requestId: "__proto__", customer: CARD, amount: 1 }), "requestId"],
      ["a hold id", () => cmd("capture", { requestId: "c-1", holdId: "__proto__" }), "holdId"],
      ["an account", () => cmd("authorize", { requestId: "a-1", customer: CARD, account: "__proto__", amount: 1 }), "account"],
    ])("in %s", (_what, build, field) => {
      expect(build).toThrow(LoyaltyError);
      expect(build).toThrow(validation(field));
    });

    it("other ids that Object.prototype knows are accepted", () => {
      for (const id of ["constructor", "toString", "hasOwnProperty", "__proto", "__proto__x", "_proto_"]) {
        expect(() => cmd("accrue", ret("r-1", "s-1", [{ lineId: id, qty: 1 }])), id).not.toThrow();
      }
    });

    it("the refusal happens at validate(), so an engine never applies such a command", async () => {
      const h = await withCustomer();
      await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 2, unitPrice: 500 }])));
      const before = snapshot(h.store);
      let thrown: unknown;
      try {
        validate("accrue", ret("r-1", "s-1", [{ lineId: "__proto__", qty: 1 }]));
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(LoyaltyError);
      expect((thrown as LoyaltyError).toWire()).toMatchObject({ code: "VALIDATION", field: "lines[0].lineId" });
      expect(snapshot(h.store)).toBe(before);
    });
  });
});

describe("quote and value-based authorisation", () => {
  it("authorises a value by the points that cover it, rounded up", async () => {
    const h = await withCustomer({}, [{ ...BASE_PROGRAMME, redemption: { pointValue: 3, currency: "EUR" } }]);
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }])));
    const a = await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, value: 10, currency: "EUR" }));
    // Contract v1.1: value is what the hold is worth, 4 points at 3 = 12 (it covers the 10 asked).
    expect(a).toMatchObject({ approved: true, amount: 4, value: 12, available: 6 });
    const wrong = await h.one(cmd("authorize", { requestId: "a-2", customer: CARD, value: 10, currency: "PLN" }));
    expect(wrong.error).toMatchObject({ code: "VALIDATION", field: "currency" });
    const tooMuch = await h.one(cmd("authorize", { requestId: "a-3", customer: CARD, value: 19 }));
    expect(tooMuch).toMatchObject({ approved: false, requested: 7, available: 6 });
  });

  it("a quote commits nothing", async () => {
    const h = await withCustomer();
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }])));
    const before = snapshot(h.store);
    const q = await h.one(cmd("quote", { ...sale("q-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 700 }]) }));
    expect(q).toMatchObject({ ok: true, customerId: "cu_000001", earned: 7, balance: 10, available: 10, redeemable: { points: 10, value: 10, currency: "EUR" } });
    const q2 = await h.one(cmd("quote", { ...sale("q-2", { phone: "+48601111111" }, [{ lineId: "1", qty: 1, unitPrice: 700 }]) }));
    expect(q2).toMatchObject({ ok: true, customerId: null, earned: 7 });
    expect(snapshot(h.store)).toBe(before);
  });
});

describe("whenSpent", () => {
  async function spendThenReturn(whenSpent: "negative" | "clamp", keepHeld = 0): Promise<Harness> {
    const h = await withCustomer({ whenSpent });
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }]))); // 10 points
    await h.one(cmd("accrue", sale("s-2", CARD, [{ lineId: "1", qty: 1, unitPrice: 500 }]))); // 5 points
    const a = await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 12 }));
    await h.one(cmd("capture", { requestId: "c-1", holdId: a.holdId }));
    if (keepHeld > 0) {
      const a2 = await h.one(cmd("authorize", { requestId: "a-2", customer: CARD, amount: keepHeld }));
      expect(a2.approved).toBe(true);
    }
    return h;
  }

  it('"clamp" never takes the balance below zero', async () => {
    const h = await spendThenReturn("clamp");
    expect(await points(h)).toMatchObject({ balance: 3 });
    const r = await h.one(cmd("accrue", ret("r-1", "s-1")));
    expect(r).toMatchObject({ ok: true, earned: -3, balance: 0 });
    const r2 = await h.one(cmd("accrue", ret("r-2", "s-2")));
    expect(r2).toMatchObject({ ok: true, balance: 0 });
    expect(Math.abs(r2.earned)).toBe(0); // (the reply says -0 here; JSON makes it 0)
    expect(await points(h)).toEqual({ balance: 0, held: 0, available: 0 });
    expect(sumOfEntries(h)).toBe(0);
    // No zero-amount take-back: the only zero entries are the hold's marks (hold h_000001 here).
    expect(entriesOf(h.store, "cu_000001").filter((e) => e.amount === 0).map((e) => e.kind)).toEqual(["hold"]);
  });

  it('"clamp" leaves open holds covered: it takes back only what is available', async () => {
    const h = await spendThenReturn("clamp", 2);
    const r = await h.one(cmd("accrue", ret("r-1", "s-1")));
    expect(r).toMatchObject({ ok: true, earned: -1 });
    expect(await points(h)).toEqual({ balance: 2, held: 2, available: 0 });
  });

  it('"clamp" does not take back later what it forgave (a void after a clamped return)', async () => {
    const h = await spendThenReturn("clamp");
    await h.one(cmd("accrue", ret("r-1", "s-1", [{ lineId: "1", qty: 1 }]))); // wanted 10, took 3
    await h.one(cmd("accrue", sale("s-3", CARD, [{ lineId: "1", qty: 1, unitPrice: 2000 }]))); // +20
    const v = await h.one(cmd("accrue", voidOf("v-1", "s-1")));
    expect(v).toMatchObject({ ok: true, balance: 20 });
    expect(Math.abs(v.earned)).toBe(0);
  });

  it('"negative" takes back everything even when spent', async () => {
    const h = await spendThenReturn("negative");
    const r = await h.one(cmd("accrue", ret("r-1", "s-1")));
    expect(r).toMatchObject({ ok: true, earned: -10, balance: -7, available: -7 });
    expect(sumOfEntries(h)).toBe(-7);
    // A negative balance approves nothing.
    const a = await h.one(cmd("authorize", { requestId: "a-9", customer: CARD, amount: 1 }));
    expect(a).toMatchObject({ ok: true, approved: false, reason: "INSUFFICIENT_BALANCE", available: -7 });
  });
});

describe("enrolment at an unknown phone", () => {
  const PHONE = { phone: "+48601234567" };

  it("creates exactly one customer for two sales at the same new phone in one batch", async () => {
    const h = await harness();
    const outcomes = await h.ledger.applyBatch([
      cmd("accrue", sale("s-1", PHONE, [{ lineId: "1", qty: 1, unitPrice: 1000 }])),
      cmd("accrue", sale("s-2", PHONE, [{ lineId: "1", qty: 1, unitPrice: 500 }])),
    ]);
    h.store.env.resetReadTxn();
    const [r1, r2] = outcomes.map((o) => o.reply as Reply);
    expect(r1).toMatchObject({ ok: true, customerId: "cu_000001", earned: 10, balance: 10 });
    expect(r2).toMatchObject({ ok: true, customerId: "cu_000001", earned: 5, balance: 15 });
    expect(customerIds(h.store)).toEqual(["cu_000001"]);
    expect(h.store.phones.get(PHONE.phone)).toBe("cu_000001");
    expect(h.store.customers.get("cu_000001")).toMatchObject({ origin: "phone", profile: { phone: PHONE.phone } });
    const enrolled = outcomes.flatMap((o) => o.notifications).filter((n) => n.kind === "enrolled");
    expect(enrolled).toHaveLength(1);
    expect(enrolled[0]!.payload).toMatchObject({ customerId: "cu_000001", via: "sale", eventId: "s-1" });
    // The next batch finds the customer too.
    const r3 = await h.one(cmd("accrue", sale("s-3", PHONE, [{ lineId: "1", qty: 1, unitPrice: 100 }])));
    expect(r3).toMatchObject({ customerId: "cu_000001", balance: 16 });
    expect(customerIds(h.store)).toEqual(["cu_000001"]);
  });

  it("does not enrol when the option is off, nor for an unknown card", async () => {
    const h = await harness({ enrolOnUnknownPhone: false });
    // The first batch with a write writes the ledger's counters (a refused one included).
    await h.apply([cmd("accrue", sale("s-0", PHONE, [{ lineId: "1", qty: 1, unitPrice: 1000 }]))]);
    const before = snapshot(h.store);
    const [a, b] = await h.apply([
      cmd("accrue", sale("s-1", PHONE, [{ lineId: "1", qty: 1, unitPrice: 1000 }])),
      cmd("accrue", sale("s-2", { card: "nope" }, [{ lineId: "1", qty: 1, unitPrice: 1000 }])),
    ]);
    expect([errorCode(a!), errorCode(b!)]).toEqual(["UNKNOWN_CUSTOMER", "UNKNOWN_CUSTOMER"]);
    expect(snapshot(h.store)).toBe(before);
  });
});

describe("holds", () => {
  async function withPoints(n: number, options = {}): Promise<Harness> {
    const h = await withCustomer(options);
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: n * 100 }])));
    expect((await points(h)).balance).toBe(n);
    return h;
  }

  it("never approves more than is available, counting open holds", async () => {
    const h = await withPoints(10);
    const [a1, a2, a3, a4] = await h.apply([
      cmd("authorize", { requestId: "a-1", customer: CARD, amount: 6 }),
      cmd("authorize", { requestId: "a-2", customer: CARD, amount: 5 }),
      cmd("authorize", { requestId: "a-3", customer: CARD, amount: 4 }),
      cmd("authorize", { requestId: "a-4", customer: CARD, amount: 1 }),
    ]);
    expect(a1).toMatchObject({ ok: true, approved: true, holdId: "h_000001", amount: 6, available: 4, expiresAt: T0 + 120_000 });
    expect(a2).toMatchObject({ ok: true, approved: false, reason: "INSUFFICIENT_BALANCE", requested: 5, available: 4 });
    expect(a3).toMatchObject({ approved: true, holdId: "h_000002", available: 0 });
    expect(a4).toMatchObject({ approved: false, available: 0 });
    expect(await points(h)).toEqual({ balance: 10, held: 10, available: 0 });
  });

  it("captures at most the held amount, once; a partial capture releases the rest", async () => {
    const h = await withPoints(10);
    const a = await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 6 }));
    const over = await h.one(cmd("capture", { requestId: "c-1", holdId: a.holdId, amount: 7 }));
    expect(over.error).toMatchObject({ code: "CAPTURE_EXCEEDS_HOLD", field: "amount" });
    expect(await points(h)).toEqual({ balance: 10, held: 6, available: 4 });
    const c = await h.one(cmd("capture", { requestId: "c-2", holdId: a.holdId, amount: 4 }));
    expect(c).toMatchObject({ ok: true, captured: 4, released: 2, balance: 6, available: 6 });
    const again = await h.one(cmd("capture", { requestId: "c-3", holdId: a.holdId, amount: 1 }));
    expect(errorCode(again)).toBe("HOLD_CLOSED");
    const rel = await h.one(cmd("release", { requestId: "rl-1", holdId: a.holdId }));
    expect(errorCode(rel)).toBe("HOLD_CLOSED");
    expect(await points(h)).toEqual({ balance: 6, held: 0, available: 6 });
    expect(h.store.holds.get(a.holdId)).toMatchObject({ status: "captured", captured: 4, amount: 6 });
    expect(entriesOf(h.store, "cu_000001").filter((e) => e.kind === "redemption").map((e) => e.amount)).toEqual([-4]);
  });

  it("a release frees the hold and spends nothing", async () => {
    const h = await withPoints(10);
    const a = await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 6 }));
    const r = await h.one(cmd("release", { requestId: "rl-1", holdId: a.holdId }));
    expect(r).toMatchObject({ ok: true, released: 6, balance: 10, available: 10 });
    expect(errorCode(await h.one(cmd("capture", { requestId: "c-1", holdId: a.holdId })))).toBe("HOLD_CLOSED");
    expect(errorCode(await h.one(cmd("capture", { requestId: "c-2", holdId: "h_zzzzzz" })))).toBe("UNKNOWN_HOLD");
  });

  it("a hold is still capturable 1 ms before its expiry", async () => {
    const h = await withPoints(10);
    const a = await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 6 }));
    h.clock.now = a.expiresAt - 1;
    expect(await h.one(cmd("capture", { requestId: "c-1", holdId: a.holdId }))).toMatchObject({ ok: true, captured: 6, balance: 4 });
  });

  it("a capture past the TTL expires the hold there and then, answers HOLD_EXPIRED, and that expiry is committed", async () => {
    const h = await withPoints(10);
    const a = await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 6, ttlMs: 5000 }));
    expect(a.expiresAt).toBe(T0 + 5000);
    // Not yet due: the sweeper's command is a no-op.
    h.clock.now = T0 + 4999;
    expect(await h.one(expireCmd(a.holdId))).toEqual({ ok: true, expired: false });
    expect(await points(h)).toEqual({ balance: 10, held: 6, available: 4 });
    h.clock.now = T0 + 5000;
    const c = await h.one(cmd("capture", { requestId: "c-1", holdId: a.holdId }));
    expect(c).toEqual({ ok: false, error: { code: "HOLD_EXPIRED", message: expect.any(String), field: "holdId" }, requestId: "c-1" });
    // The request failed, but the hold's expiry stays: closed, unindexed, its points no longer held.
    expect(h.store.holds.get(a.holdId)).toMatchObject({ status: "expired", captured: 0, amount: 6 });
    expect(h.store.holdsByExpiry.get([a.expiresAt, a.holdId])).toBeUndefined();
    expect(accountState(h.store, "cu_000001", "points")).toEqual({ balance: 10, held: 0 });
    expect(await points(h)).toEqual({ balance: 10, held: 0, available: 10 });
    // A refusal is no idempotency record: the same request re-sent is evaluated again.
    expect(h.store.requests.get("c-1")).toBeUndefined();
    const again = await h.one(cmd("capture", { requestId: "c-1", holdId: a.holdId }));
    expect(again).toEqual(c);
    expect(again.duplicate).toBeUndefined();
    expect(errorCode(await h.one(cmd("release", { requestId: "rl-1", holdId: a.holdId })))).toBe("HOLD_EXPIRED");
    // The sweeper finds nothing left to do.
    expect(await h.one(expireCmd(a.holdId))).toEqual({ ok: true, expired: false });
    expect(h.store.holds.get(a.holdId)).toMatchObject({ status: "expired" });
    expect(entriesOf(h.store, "cu_000001").some((e) => e.kind === "redemption")).toBe(false);
    expect(sumOfEntries(h)).toBe(10);
    const a2 = await h.one(cmd("authorize", { requestId: "a-2", customer: CARD, amount: 10 }));
    expect(a2).toMatchObject({ approved: true, holdId: "h_000002", available: 0 });
  });

  it("a release past the TTL expires the hold in the same way", async () => {
    const h = await withPoints(10);
    const a = await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 6 }));
    h.clock.now = a.expiresAt + 1;
    const r = await h.one(cmd("release", { requestId: "rl-1", holdId: a.holdId }));
    expect(r).toEqual({ ok: false, error: { code: "HOLD_EXPIRED", message: expect.any(String), field: "holdId" }, requestId: "rl-1" });
    expect(h.store.holds.get(a.holdId)).toMatchObject({ status: "expired" });
    expect(await points(h)).toEqual({ balance: 10, held: 0, available: 10 });
    expect(h.store.requests.get("rl-1")).toBeUndefined();
    expect(await h.one(cmd("release", { requestId: "rl-1", holdId: a.holdId }))).toEqual(r);
    expect(errorCode(await h.one(cmd("capture", { requestId: "c-1", holdId: a.holdId })))).toBe("HOLD_EXPIRED");
    expect(await h.one(expireCmd(a.holdId))).toEqual({ ok: true, expired: false });
  });

  it("a lazy expiry leaves the store exactly as the sweeper's expireHold would", async () => {
    const run = async (expire: (holdId: string) => Command) => {
      const h = await withPoints(10);
      const a = await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 6 }));
      h.clock.now = a.expiresAt;
      const reply = await h.one(expire(a.holdId));
      return { h, reply };
    };
    const lazyCapture = await run((holdId) => cmd("capture", { requestId: "c-1", holdId, amount: 2 }));
    const lazyRelease = await run((holdId) => cmd("release", { requestId: "rl-1", holdId }));
    const swept = await run((holdId) => expireCmd(holdId));
    expect([errorCode(lazyCapture.reply), errorCode(lazyRelease.reply)]).toEqual(["HOLD_EXPIRED", "HOLD_EXPIRED"]);
    expect(swept.reply).toEqual({ ok: true, expired: true, holdId: "h_000001" });
    expect(snapshot(lazyCapture.h.store)).toBe(snapshot(swept.h.store));
    expect(snapshot(lazyRelease.h.store)).toBe(snapshot(swept.h.store));
  });

  it("a lazy expiry is seen by the later commands of its batch", async () => {
    const h = await withPoints(10);
    const a = await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 6 }));
    h.clock.now = a.expiresAt;
    const [c, a2, e, rl] = await h.apply([
      cmd("capture", { requestId: "c-1", holdId: a.holdId, amount: 7 }), // expiry is checked before the amount
      cmd("authorize", { requestId: "a-2", customer: CARD, amount: 10 }),
      expireCmd(a.holdId),
      cmd("release", { requestId: "rl-1", holdId: a.holdId }),
    ]);
    expect(errorCode(c!)).toBe("HOLD_EXPIRED");
    expect(a2).toMatchObject({ ok: true, approved: true, holdId: "h_000002", available: 0 });
    expect(e).toEqual({ ok: true, expired: false });
    expect(errorCode(rl!)).toBe("HOLD_EXPIRED");
    expect(await points(h)).toEqual({ balance: 10, held: 10, available: 0 });
  });

  it("a request id refused with HOLD_EXPIRED is free: re-used with other content it is evaluated afresh", async () => {
    const h = await withPoints(10);
    const old = await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 6, ttlMs: 1000 }));
    const fresh = await h.one(cmd("authorize", { requestId: "a-2", customer: CARD, amount: 3 }));
    h.clock.now = old.expiresAt;
    expect(errorCode(await h.one(cmd("capture", { requestId: "c-1", holdId: old.holdId })))).toBe("HOLD_EXPIRED");
    const c = await h.one(cmd("capture", { requestId: "c-1", holdId: fresh.holdId }));
    expect(c).toMatchObject({ ok: true, holdId: fresh.holdId, captured: 3, balance: 7, available: 7 });
    expect(await h.one(cmd("capture", { requestId: "c-1", holdId: fresh.holdId }))).toEqual({ ...c, duplicate: true });
    expect(errorCode(await h.one(cmd("capture", { requestId: "c-1", holdId: old.holdId })))).toBe("IDEMPOTENCY_CONFLICT");
  });

  it("an expired hold no longer counts against the available balance, even before the sweeper runs", async () => {
    const h = await withPoints(10);
    const a = await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 6 }));
    h.clock.now = a.expiresAt;
    // Capture answers that the hold expired...
    expect(errorCode(await h.one(cmd("capture", { requestId: "c-1", holdId: a.holdId })))).toBe("HOLD_EXPIRED");
    // ...so its 6 points are no longer held: available = balance - open holds = 10.
    const b = await points(h);
    const a2 = await h.one(cmd("authorize", { requestId: "a-2", customer: CARD, amount: 10 }));
    expect({ balance: b, approved: a2.approved }).toEqual({ balance: { balance: 10, held: 0, available: 10 }, approved: true });
  });
});

describe("idempotency", () => {
  it("a re-sent sale returns the first reply with duplicate: true and earns nothing", async () => {
    const h = await withCustomer();
    const raw = sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }]);
    const [first, dupInBatch] = await h.apply([cmd("accrue", raw), cmd("accrue", raw)]);
    expect(first).toMatchObject({ ok: true, earned: 10, duplicate: false });
    expect(dupInBatch).toEqual({ ...first, duplicate: true });
    await h.one(cmd("accrue", sale("s-2", CARD, [{ lineId: "1", qty: 1, unitPrice: 500 }])));
    const dupLater = await h.one(cmd("accrue", raw));
    expect(dupLater).toEqual({ ...first, duplicate: true }); // the first reply, balance 10 included
    expect(await points(h)).toMatchObject({ balance: 15 });
    expect(allEntries(h.store).filter((e) => e.eventId === "s-1")).toHaveLength(1);
  });

  it("the same content with its keys in another order is a duplicate, not a conflict", async () => {
    const h = await withCustomer();
    const raw = sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }]);
    await h.one(cmd("accrue", raw));
    const reordered = Object.fromEntries(Object.entries(raw).reverse());
    expect(await h.one(cmd("accrue", reordered))).toMatchObject({ ok: true, duplicate: true });
  });

  it("an id re-used with other content is an IDEMPOTENCY_CONFLICT and changes nothing", async () => {
    const h = await withCustomer();
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }])));
    const a = await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 3 }));
    const before = snapshot(h.store);
    const replies = await h.apply([
      cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 2000 }])),
      cmd("accrue", ret("s-1", "s-1")),
      cmd("authorize", { requestId: "a-1", customer: CARD, amount: 4 }),
      cmd("capture", { requestId: "a-1", holdId: a.holdId }),
      cmd("enroll", { requestId: "a-1", card: "C-9" }),
    ]);
    expect(replies.map(errorCode)).toEqual(Array(5).fill("IDEMPOTENCY_CONFLICT"));
    expect(snapshot(h.store)).toBe(before);
  });

  it("a re-sent authorisation gives the same hold, a re-sent capture the same capture", async () => {
    const h = await withCustomer();
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }])));
    const auth = { requestId: "a-1", customer: CARD, amount: 6 };
    const [a1, a2] = await h.apply([cmd("authorize", auth), cmd("authorize", auth)]);
    expect(a2).toEqual({ ...a1, duplicate: true });
    expect(await points(h)).toMatchObject({ held: 6 });
    const cap = { requestId: "c-1", holdId: a1!.holdId, amount: 5 };
    const c1 = await h.one(cmd("capture", cap));
    const c2 = await h.one(cmd("capture", cap));
    expect(c2).toEqual({ ...c1, duplicate: true });
    expect(await points(h)).toEqual({ balance: 5, held: 0, available: 5 });
    // A re-sent refusal is refused again, still without effect.
    const declined = { requestId: "a-2", customer: CARD, amount: 50 };
    const d1 = await h.one(cmd("authorize", declined));
    expect(d1).toMatchObject({ approved: false });
    expect(await h.one(cmd("authorize", declined))).toEqual({ ...d1, duplicate: true });
  });
});

describe.each(["worker", "inline"] as const)("batches (%s commit)", (commit) => {
  it("a command that throws midway does not affect the other commands of its batch", async () => {
    // A programme that can be made to throw inside the rule engine, after the sale has
    // already enrolled its (new) phone customer: that enrolment must roll back too.
    const explosive = { ...BASE_PROGRAMME, rules: [{ kind: "spend", per: 100, points: 1 }, { kind: "sku", sku: "BOOM", pointsPerUnit: 1_000_000_000 }] };
    const build = (withFailures: boolean) => {
      const ok1 = cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }]));
      const boom = cmd("accrue", sale("s-boom", { phone: "+48600000001" }, [{ lineId: "1", sku: "BOOM", qty: 1_000_000, unitPrice: 1 }]));
      const ok2 = cmd("accrue", sale("s-2", { phone: "+48600000002" }, [{ lineId: "1", qty: 1, unitPrice: 700 }]));
      const tooMuch = cmd("capture", { requestId: "c-x", holdId: "h_000001", amount: 6 });
      const ok3 = cmd("authorize", { requestId: "a-2", customer: CARD, amount: 12 });
      const over = cmd("accrue", ret("r-1", "s-1", [{ lineId: "1", qty: 2 }]));
      const ok4 = cmd("accrue", ret("r-2", "s-1", [{ lineId: "1", qty: 1 }]));
      const conflict = cmd("authorize", { requestId: "a-2", customer: CARD, amount: 13 });
      return withFailures ? [ok1, boom, ok2, tooMuch, ok3, over, ok4, conflict] : [ok1, ok2, ok3, ok4];
    };
    const run = async (withFailures: boolean) => {
      const h = await withCustomer({}, [explosive], commit);
      await h.one(cmd("accrue", sale("s-0", CARD, [{ lineId: "1", qty: 1, unitPrice: 2000 }])));
      const a = await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 5 }));
      expect(a.holdId).toBe("h_000001");
      return { h, replies: await h.apply(build(withFailures)) };
    };
    const withF = await run(true);
    const without = await run(false);
    expect(withF.replies.map((r) => r.ok)).toEqual([true, false, true, false, true, false, true, false]);
    expect(withF.replies.filter((r) => r.ok === false).map(errorCode)).toEqual([
      "VALIDATION",
      "CAPTURE_EXCEEDS_HOLD",
      "RETURN_EXCEEDS_SALE",
      "IDEMPOTENCY_CONFLICT",
    ]);
    // The succeeding commands got the same replies, ids included (no counter was burnt)...
    expect(withF.replies.filter((r) => r.ok !== false)).toEqual(without.replies);
    expect(withF.replies[2]).toMatchObject({ customerId: "cu_000002" });
    expect(withF.replies[4]).toMatchObject({ approved: true, holdId: "h_000002" });
    // ...and the stores are identical: the failures left no trace at all.
    expect(snapshot(withF.h.store)).toBe(snapshot(without.h.store));
    expect(withF.h.store.phones.get("+48600000001")).toBeUndefined();
    // The worker's commit: s-boom failed after its enrolment's writes, so the batch rolled
    // back whole and was applied again with a child transaction per command.
    expect(withF.h.ledger.batchesReapplied).toBe(commit === "worker" ? 1 : 0);
    expect(without.h.ledger.batchesReapplied).toBe(0);
  });

  it("refusals that wrote nothing are answered in the batch's first pass, the rest applied as if they were not there", async () => {
    const h = await withCustomer({}, [BASE_PROGRAMME], commit);
    const control = await withCustomer({}, [BASE_PROGRAMME], commit);
    for (const x of [h, control]) await x.one(cmd("accrue", sale("s-0", CARD, [{ lineId: "1", qty: 1, unitPrice: 2000 }])));
    const ok = [
      cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }])),
      cmd("authorize", { requestId: "a-1", customer: CARD, amount: 5 }),
      cmd("accrue", ret("r-1", "s-1", [{ lineId: "1", qty: 1 }])),
    ];
    const refused = [
      cmd("accrue", ret("r-x", "s-1", [{ lineId: "1", qty: 2 }])),
      cmd("accrue", ret("r-y", "s-unknown")),
      cmd("authorize", { requestId: "a-2", customer: CARD, amount: 1_000_000 }),
      cmd("accrue", sale("s-x", { card: "C-unknown" }, [{ lineId: "1", qty: 1, unitPrice: 1000 }])),
      cmd("authorize", { requestId: "a-1", customer: CARD, amount: 6 }),
    ];
    const replies = await h.apply([ok[0]!, refused[0]!, refused[1]!, ok[1]!, refused[2]!, refused[3]!, ok[2]!, refused[4]!]);
    expect(replies.map((r) => errorCode(r) ?? r.approved ?? "ok")).toEqual([
      "ok",
      "RETURN_EXCEEDS_SALE",
      "UNKNOWN_EVENT",
      true,
      false,
      "UNKNOWN_CUSTOMER",
      "ok",
      "IDEMPOTENCY_CONFLICT",
    ]);
    expect(h.ledger.batchesReapplied).toBe(0);
    const controlReplies = await control.apply(ok);
    expect([replies[0], replies[3], replies[6]]).toEqual(controlReplies);
    // The declined authorisation is an answer, not a failure: its idempotency record stays.
    const declined = h.store.requests.get("a-2");
    expect(declined?.r).toMatchObject({ approved: false });
    await h.store.requests.remove("a-2");
    h.store.env.resetReadTxn();
    expect(snapshot(h.store)).toBe(snapshot(control.store));
  });

  // Customer operating errors never break an invariant (a balance beyond the business
  // bound is LIMIT_EXCEEDED); corruption does: a stored balance that is not an integer.
  const big = (eventId: string) => cmd("accrue", sale(eventId, CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }]));
  const small = (eventId: string) => cmd("accrue", sale(eventId, { card: "C-2" }, [{ lineId: "1", qty: 1, unitPrice: 1000 }]));
  async function corrupt(h: Harness, customerId: string, account: string): Promise<void> {
    const w = h.store.wallets.get(customerId)!;
    w.accounts[account]!.balance += 0.5;
    await h.store.wallets.put(customerId, w);
    h.store.env.resetReadTxn();
  }
  async function nearlyOverflowing(): Promise<Harness> {
    const h = await withCustomer({}, [BASE_PROGRAMME], commit);
    await h.one(enrol("e-2", "C-2"));
    const replies = await h.apply(Array.from({ length: 9 }, (_, i) => big(`big-${i}`)));
    expect(replies.every((r) => r.ok === true)).toBe(true);
    await corrupt(h, "cu_000001", "points");
    return h;
  }

  /**
   * The store is consistent in itself: every cached balance is the sum of its entries, every
   * held amount the sum of its open holds, and the meta counters are where the rows say they
   * are (entry seqs 1..seq without a gap, one customer and one hold per id handed out).
   */
  function expectConsistent(h: Harness, corrupted = "cu_000001/points"): void {
    h.store.env.resetReadTxn();
    const entries = allEntries(h.store);
    const seq = h.store.meta.get("seq") ?? 0;
    expect(entries.map((e) => e.seq), "entry seqs").toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    const customers = customerIds(h.store);
    expect(customers.length, "customerSeq").toBe(h.store.meta.get("customerSeq") ?? 0);
    expect(customers.at(-1) ?? null).toBe(customers.length ? `cu_${customers.length.toString(36).padStart(6, "0")}` : null);
    const holds = allHolds(h.store);
    expect(holds.length, "holdSeq").toBe(h.store.meta.get("holdSeq") ?? 0);
    for (const { key, value } of allAccounts(h.store)) {
      const [cid, account] = key;
      if (`${cid}/${account}` === corrupted) continue;
      const sum = entries.filter((e) => e.customerId === cid && e.account === account).reduce((t, e) => t + e.amount, 0);
      const held = holds.filter((x) => x.customerId === cid && x.account === account && x.status === "open").reduce((t, x) => t + x.amount, 0);
      expect(value, `${cid}/${account}`).toEqual({ balance: sum, held });
    }
  }

  it("an invariant breach stops the batch there: what came before stays applied, the breach and what follows leave nothing", async () => {
    const before = [small("s-ok"), cmd("authorize", { requestId: "a-ok", customer: { card: "C-2" }, amount: 4 }), cmd("accrue", sale("s-phone", { phone: "+48600000009" }, [{ lineId: "1", qty: 1, unitPrice: 500 }]))];
    const after = [small("s-after"), enrol("e-3", "C-3"), cmd("authorize", { requestId: "a-after", customer: { card: "C-2" }, amount: 1 })];
    // C-2 first earns enough for the hold in a batch of its own.
    const h = await nearlyOverflowing();
    await h.one(small("s-0"));
    await expect(h.apply([...before, big("big-9"), ...after])).rejects.toThrow(/invariant broken/);
    h.store.env.resetReadTxn();

    // The store is exactly as if the batch had stopped right before the breaching command.
    const control = await nearlyOverflowing();
    await control.one(small("s-0"));
    const controlReplies = await control.apply(before);
    expect(controlReplies.map((r) => r.ok)).toEqual([true, true, true]);
    expect(snapshot(h.store)).toBe(snapshot(control.store));

    // The earlier commands' effects: entries, idempotency records, balances, hold, new customer.
    expect(getEvent(h.store, "s-ok")?.r).toMatchObject({ ok: true, customerId: "cu_000002", earned: 10, balance: 20 });
    expect(h.store.requests.get("a-ok")?.r).toMatchObject({ ok: true, approved: true, holdId: "h_000001" });
    expect(getEvent(h.store, "s-phone")?.r).toMatchObject({ ok: true, customerId: "cu_000003", earned: 5 });
    expect(entriesOf(h.store, "cu_000002").map((e) => [e.kind, e.amount, e.eventId ?? e.holdId])).toEqual([
      ["accrual", 10, "s-0"],
      ["accrual", 10, "s-ok"],
      ["hold", 0, "h_000001"],
    ]);
    expect(accountState(h.store, "cu_000002", "points")).toEqual({ balance: 20, held: 4 });
    expect(accountState(h.store, "cu_000003", "points")).toEqual({ balance: 5, held: 0 });
    // The breaching command and those after it: nothing.
    for (const key of ["big-9", "s-after"]) expect(h.store.events.get(key), key).toBeUndefined();
    for (const key of ["e-3", "a-after"]) expect(h.store.requests.get(key), key).toBeUndefined();
    expect(saleRecord(h.store, "big-9")).toBeUndefined();
    expect(saleRecord(h.store, "s-after")).toBeUndefined();
    expect(h.store.cards.get("C-3")).toBeUndefined();
    expect(allEntries(h.store).filter((e) => e.eventId === "big-9" || e.eventId === "s-after")).toEqual([]);
    expect(entriesOf(h.store, "cu_000001")).toHaveLength(9);
    expect(allHolds(h.store).map((x) => x.holdId)).toEqual(["h_000001"]);
    expect(h.store.meta.get("customerSeq")).toBe(3);
    expect(h.store.meta.get("holdSeq")).toBe(1);
    expectConsistent(h);

    // Clients retrying the earlier commands meet their records.
    const [dup] = await h.apply([before[0]!]);
    expect(dup).toEqual({ ...getEvent(h.store, "s-ok")!.r, duplicate: true });
  });

  it("the next batch after a breach gets fresh sequence numbers: no entry, customer or hold id is reused", async () => {
    const h = await nearlyOverflowing();
    const seqBefore = h.store.meta.get("seq")!;
    await expect(
      h.apply([small("s-ok"), cmd("authorize", { requestId: "a-ok", customer: { card: "C-2" }, amount: 4 }), enrol("e-3", "C-3"), big("big-9")]),
    ).rejects.toThrow(/invariant broken/);
    h.store.env.resetReadTxn();
    // s-ok's accrual and a-ok's hold entry.
    expect(h.store.meta.get("seq")).toBe(seqBefore + 2);
    const next = await h.apply([
      small("s-next"),
      cmd("authorize", { requestId: "a-next", customer: { card: "C-2" }, amount: 1 }),
      enrol("e-4", "C-4"),
      cmd("accrue", sale("s-phone", { phone: "+48600000009" }, [{ lineId: "1", qty: 1, unitPrice: 500 }])),
    ]);
    expect(next.map((r) => r.ok)).toEqual([true, true, true, true]);
    expect(next[0]).toMatchObject({ customerId: "cu_000002", balance: 20 });
    expect(next[1]).toMatchObject({ approved: true, holdId: "h_000002" });
    expect(next[2]).toMatchObject({ customerId: "cu_000004" });
    expect(next[3]).toMatchObject({ customerId: "cu_000005" });
    const seqs = (id: string) => allEntries(h.store).filter((e) => e.eventId === id).map((e) => e.seq);
    expect(seqs("s-ok")).toEqual([seqBefore + 1]);
    expect(seqs("s-next")).toEqual([seqBefore + 3]);
    expect(seqs("s-phone")).toEqual([seqBefore + 5]); // after a-next's hold entry
    const balance = accountState(h.store, "cu_000002", "points").balance;
    expect({ balance, entries: sumOfEntries(h, "cu_000002") }).toEqual({ balance: 20, entries: 20 });
    expectConsistent(h);
  });

  it("a breach after the breaching command already posted an entry rolls that entry and its seq back too", async () => {
    // A conversion posts the points leg first; the prepaid leg then meets a corrupted balance.
    const h = await withCustomer({}, [BASE_PROGRAMME], commit);
    await h.apply([cmd("accrue", sale("s-0", CARD, [{ lineId: "1", qty: 1, unitPrice: 5000 }]))]); // 50 points
    const adj = await h.one(cmd("adjust", { requestId: "adj-1", customer: CARD, account: "prepaid", amount: 100, reason: "test", operator: "op" }));
    expect(adj).toMatchObject({ ok: true, balance: 100 });
    await corrupt(h, "cu_000001", "prepaid");
    const seqBefore = h.store.meta.get("seq")!;
    const ok = cmd("accrue", sale("s-ok", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }]));
    const boom = cmd("convert", { requestId: "cv-1", customer: CARD, from: "points", to: "prepaid", amount: 10 });
    await expect(h.apply([ok, boom, cmd("accrue", sale("s-after", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }]))])).rejects.toThrow(/invariant broken/);
    h.store.env.resetReadTxn();
    expect(h.store.meta.get("seq")).toBe(seqBefore + 1);
    expect(h.store.requests.get("cv-1")).toBeUndefined();
    expect(allEntries(h.store).filter((e) => e.kind === "conversion")).toEqual([]);
    expect(accountState(h.store, "cu_000001", "points")).toEqual({ balance: 60, held: 0 });
    expect(accountState(h.store, "cu_000001", "prepaid")).toEqual({ balance: 100.5, held: 0 });
    expectConsistent(h, "cu_000001/prepaid");
    const [next] = await h.apply([cmd("accrue", sale("s-next", CARD, [{ lineId: "1", qty: 1, unitPrice: 700 }]))]);
    expect(next).toMatchObject({ ok: true, balance: 67 });
    expect(allEntries(h.store).find((e) => e.eventId === "s-next")!.seq).toBe(seqBefore + 2);
    expectConsistent(h, "cu_000001/prepaid");
  });
});

describe("reads", () => {
  it("bounds a statement's scan of a long history, and says it stopped", async () => {
    const h = await withCustomer();
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }])));
    // A long history written straight into the table (what years of visits would leave).
    await h.store.env.transaction(() => {
      for (let i = 0; i < limits.statementScanMax + 10; i++) {
        h.store.entries.put(["cu_000001", 1_000_000 + i], { at: T0 - 1000, account: "points", kind: "adjustment", amount: 0, cause: "old" });
      }
    });
    // A window that matches only the last entry: the scan stops first, and says so.
    const st = await h.one(cmd("statement", { customer: CARD, from: T0, limit: 10 }));
    expect(st).toMatchObject({ ok: true, truncated: true });
    const recent = await h.one(cmd("statement", { customer: CARD, limit: 10 }));
    expect(recent.entries).toHaveLength(10);
    expect(recent.truncated).toBeUndefined();
  });

  it("run outside the write transaction, after the batch's writes, which they see; a batch of reads alone writes nothing", async () => {
    const h = await withCustomer();
    const seqBefore = h.store.meta.get("seq");
    const before = snapshot(h.store);
    const [b0, st0] = await h.apply([balanceCmd("cu_000001"), statementCmd("cu_000001")]);
    expect(pointsOf(b0!)).toEqual({ balance: 0, held: 0, available: 0 });
    expect(st0!.entries).toEqual([]);
    expect(snapshot(h.store)).toBe(before);
    expect(h.store.meta.get("seq")).toBe(seqBefore);
    // In one batch, a read placed before a write still answers after it: reads see the batch's writes.
    const [b1, s1] = await h.apply([balanceCmd("cu_000001"), cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }]))]);
    expect(s1).toMatchObject({ ok: true, earned: 10 });
    expect(pointsOf(b1!)).toMatchObject({ balance: 10 });
  });
});

describe("event time window", () => {
  it("refuses a new event dated outside the window around the clock, but still answers a re-sent old one as a duplicate", async () => {
    const h = await withCustomer();
    const first = await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }], T0)));
    expect(first).toMatchObject({ ok: true, earned: 10 });
    h.clock.now = T0 + 31 * 86_400_000;
    expect(await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }], T0)))).toEqual({ ...first, duplicate: true });
    expect(await h.one(cmd("accrue", sale("s-2", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }], T0)))).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "at" } });
    expect(await h.one(cmd("accrue", ret("r-1", "s-1", undefined, T0)))).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "at" } });
    expect(await h.one(cmd("accrue", sale("s-3", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }], h.clock.now + 10 * 60_000)))).toMatchObject({ ok: false, error: { field: "at" } });
    expect(await h.one(cmd("accrue", ret("r-2", "s-1", undefined, h.clock.now)))).toMatchObject({ ok: true, earned: -10 });
  });
});

describe("business limits", () => {
  const HUGE = { ...BASE_PROGRAMME, rules: [{ kind: "spend", per: 100, points: 1 }, { kind: "sku", sku: "BIG", pointsPerUnit: 1_000_000_000 }] };
  it("refuses with LIMIT_EXCEEDED a sale that would take a balance past the bound, and keeps serving the customer", async () => {
    const h = await withCustomer({}, [HUGE]);
    const [first, refused, next] = await h.apply([
      cmd("accrue", sale("s-1", CARD, [{ lineId: "1", sku: "BIG", qty: 900, unitPrice: 1 }])),
      cmd("accrue", sale("s-2", CARD, [{ lineId: "1", sku: "BIG", qty: 200, unitPrice: 1 }])),
      cmd("accrue", sale("s-3", CARD, [{ lineId: "1", qty: 1, unitPrice: 500 }])),
    ]);
    expect(first).toMatchObject({ ok: true, balance: 900_000_000_009 });
    expect(refused).toMatchObject({ ok: false, eventId: "s-2", error: { code: "LIMIT_EXCEEDED" } });
    expect(next).toMatchObject({ ok: true, balance: 900_000_000_014 });
    expect(h.store.events.get("s-2")).toBeUndefined();
    expect(sumOfEntries(h)).toBe(900_000_000_014);
  });

  it("refuses with LIMIT_EXCEEDED an adjustment that would take a balance past the bound", async () => {
    const h = await withCustomer();
    const ok = await h.one(cmd("adjust", { requestId: "a-1", customer: CARD, amount: 1_000_000_000, reason: "r", operator: "op" }));
    expect(ok).toMatchObject({ ok: true, balance: 1_000_000_000 });
    const many = Array.from({ length: 1000 }, (_, i) => cmd("adjust", { requestId: `a-${i + 2}`, customer: CARD, amount: 1_000_000_000, reason: "r", operator: "op" }));
    const replies = await h.apply(many);
    expect(replies.filter((r) => r.ok).length).toBe(999);
    expect(replies.at(-1)).toMatchObject({ ok: false, error: { code: "LIMIT_EXCEEDED" } });
    expect(sumOfEntries(h)).toBe(1_000_000_000_000);
  });
});

describe("reads", () => {
  it("balance equals the sum of entries, and the statement lists them in order with their causes", async () => {
    const h = await withCustomer({}, [VISIT_PROGRAMME]);
    await h.apply([
      cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 2, unitPrice: 1000 }])),
      cmd("accrue", sale("s-2", CARD, [{ lineId: "1", qty: 1, unitPrice: 300 }])),
    ]);
    const a = await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 7 }));
    await h.one(cmd("capture", { requestId: "c-1", holdId: a.holdId, amount: 4 }));
    await h.one(cmd("accrue", ret("r-1", "s-1", [{ lineId: "1", qty: 1 }])));
    const st = await h.one(statementCmd("cu_000001"));
    expect(st.entries.map((e: Reply) => [e.kind, e.amount])).toEqual([
      ["accrual", 25],
      ["accrual", 8],
      ["hold", 0],
      ["redemption", -4],
      ["return", -10],
    ]);
    expect(st.entries[2]).toMatchObject({ holdId: a.holdId, held: 7 });
    expect(st.entries[3]).toMatchObject({ holdId: a.holdId, held: 7, cause: expect.stringContaining(a.holdId) });
    expect(st.entries[4]).toMatchObject({ eventId: "r-1", programme: "base", version: 1, cause: expect.stringContaining("s-1") });
    const sum = st.entries.reduce((s: number, e: Reply) => s + e.amount, 0);
    expect(await points(h)).toEqual({ balance: sum, held: 0, available: sum });
    expect(accountState(h.store, "cu_000001", "points").balance).toBe(sum);
  });

  it("a balance as of a future instant projects it: lots expired by then are gone, holds expired by then are released", async () => {
    const EXPIRING = { ...BASE_PROGRAMME, expiry: { afterDays: 1 } };
    const h = await withCustomer({}, [EXPIRING]);
    const H = 3_600_000;
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }], T0)));
    h.clock.now = T0 + 12 * H;
    await h.one(cmd("accrue", sale("s-2", CARD, [{ lineId: "1", qty: 1, unitPrice: 500 }], T0 + 12 * H)));
    const a = await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 3, ttlMs: H }));
    expect(a).toMatchObject({ approved: true, amount: 3, value: 3 });
    const at = async (asOf: number) => {
      const r = await h.one(cmd("balance", { customer: CARD, asOf }));
      const acc = (r.accounts as Reply[])[0]!;
      return { balance: acc.balance, held: acc.held, available: acc.available, expiring: acc.expiring };
    };
    expect(await at(T0 + 12.5 * H)).toEqual({ balance: 15, held: 3, available: 12, expiring: [{ amount: 10, at: T0 + 24 * H }, { amount: 5, at: T0 + 36 * H }] });
    expect(await at(T0 + 14 * H)).toMatchObject({ balance: 15, held: 0, available: 15 });
    expect(await at(T0 + 24 * H)).toEqual({ balance: 5, held: 0, available: 5, expiring: [{ amount: 5, at: T0 + 36 * H }] });
    expect(await at(T0 + 48 * H)).toEqual({ balance: 0, held: 0, available: 0, expiring: [] });
    // The projection changes nothing: now, the balance and the hold are as they were.
    expect(await points(h)).toEqual({ balance: 15, held: 3, available: 12 });
  });

  it("says what a hold is worth at the account's rate whether the authorisation named points or a value", async () => {
    const h = await withCustomer({}, [{ ...BASE_PROGRAMME, redemption: { pointValue: 5, currency: "EUR" } }]);
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 10_000 }])));
    expect(await h.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 7 }))).toMatchObject({ approved: true, amount: 7, value: 35 });
    // 12 minor units need 3 points (rounded up), worth 15.
    expect(await h.one(cmd("authorize", { requestId: "a-2", customer: CARD, value: 12 }))).toMatchObject({ approved: true, amount: 3, value: 15 });
    const noRate = await withCustomer({}, [{ ...BASE_PROGRAMME, redemption: null }]);
    await noRate.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 10_000 }])));
    expect(await noRate.one(cmd("authorize", { requestId: "a-1", customer: CARD, amount: 7 }))).toMatchObject({ approved: true, value: null });
  });

  it("a balance as of a past instant sums the entries up to it", async () => {
    const h = await withCustomer();
    await h.one(cmd("accrue", sale("s-1", CARD, [{ lineId: "1", qty: 1, unitPrice: 1000 }], T0)));
    await h.one(cmd("accrue", sale("s-2", CARD, [{ lineId: "1", qty: 1, unitPrice: 500 }], T0 + 10)));
    h.clock.now = T0 + 1000; // T0 + 5 is in the past: history, not a projection
    const r = await h.one(cmd("balance", { customer: CARD, asOf: T0 + 5 }));
    expect(pointsOf(r)).toMatchObject({ balance: 10 });
  });
});

describe("offers", () => {
  const OFFERS = {
    ...BASE_PROGRAMME,
    rules: [
      { kind: "spend", per: 100, points: 1 },
      { kind: "offer", offerId: "LEAFLET", points: 50 },
      { kind: "offer", offerId: "COFFEE", pointsPerUnit: 10, from: T0, to: T0 + 86_400_000 },
    ],
  };

  it("a sale earns a basket's offer once and a line's offer per unit; returning the line takes its offer points back, the basket's stay until the last line goes", async () => {
    const h = await harness({}, [OFFERS]);
    expect(await h.one(enrol("e-1", "C-1"))).toMatchObject({ ok: true });
    const s = await h.one(
      cmd("accrue", {
        ...sale("s-1", CARD, [
          { lineId: "1", sku: "C1", qty: 2, unitPrice: 500 },
          { lineId: "2", sku: "A1", qty: 1, unitPrice: 1000 },
        ]),
        offerIds: ["LEAFLET"],
        lines: [
          { lineId: "1", sku: "C1", qty: 2, unitPrice: 500, offerId: "COFFEE" },
          { lineId: "2", sku: "A1", qty: 1, unitPrice: 1000 },
        ],
      }),
    );
    expect(s).toMatchObject({ ok: true, earned: 20 + 50 + 20 });
    expect((s.breakdown as Reply[]).map((i) => [i.rule, i.amount])).toEqual([
      ["spend", 20],
      ["offer", 50],
      ["offer", 20],
    ]);
    const r = await h.one(cmd("accrue", ret("r-1", "s-1", [{ lineId: "1", qty: 2 }])));
    expect(r).toMatchObject({ ok: true, earned: -(10 + 20) });
    const last = await h.one(cmd("accrue", ret("r-2", "s-1", [{ lineId: "2", qty: 1 }])));
    expect(last).toMatchObject({ ok: true, earned: -(10 + 50), balance: 0 });
  });

  it("a sale after the offer's window earns no offer points", async () => {
    const h = await harness({}, [OFFERS]);
    await h.one(enrol("e-1", "C-1"));
    h.clock.now = T0 + 86_400_000;
    const s = await h.one(cmd("accrue", { ...sale("s-1", CARD, [{ lineId: "1", sku: "C1", qty: 2, unitPrice: 500 }], h.clock.now), lines: [{ lineId: "1", sku: "C1", qty: 2, unitPrice: 500, offerId: "COFFEE" }] }));
    expect(s).toMatchObject({ ok: true, earned: 10 });
  });
});
