// Merging and erasing customers, case by case, on a real LMDB in a temp dir with an
// injected clock: what moves (balances as entries, holds, lots, vouchers, cards, phone,
// turnover, purchase records, profile), what the merged-away id resolves to, idempotency and refusals; what
// an erasure removes and what it keeps.
import { allLots } from "../../src/ledger/lots.js";
import { afterEach, describe, expect, it } from "vitest";
import { putVoucherOffer } from "../../src/admin/vouchers.js";
import type { Command } from "../../src/ledger/ledger.js";
import { purchaseRecordOf, purchaseStatsOf, tallyKey } from "../../src/ledger/purchases.js";
import { turnoverDays } from "../../src/ledger/turnover.js";
import { limits } from "../../src/limits.js";
import {
  BASE_PROGRAMME,
  T0,
  accountState,
  balanceCmd,
  cmd,
  enrol,
  entriesOf,
  expireCmd,
  openHarness,
  pointsOf,
  ret,
  sale,
  statementCmd,
  type Harness,
  type Reply,
} from "./harness.js";

const DAY_MS = 86_400_000;
/** Points expire 30 days after the sale; the notice goes out 7 days before (harness OPTIONS). */
const EXPIRING = { ...BASE_PROGRAMME, expiry: { afterDays: 30 } };
const A = "cu_000001";
const B = "cu_000002";
const C = "cu_000003";

let open: Harness[] = [];
async function harness(programmes: Record<string, unknown>[] = [EXPIRING]): Promise<Harness> {
  const h = await openHarness({}, programmes);
  open.push(h);
  return h;
}
afterEach(async () => {
  for (const h of open) await h.close();
  open = [];
});

function merge(requestId: string, from: unknown, into: unknown, extra: Record<string, unknown> = {}): Command {
  return cmd("mergeCustomers", { requestId, from, into, reason: "one person, two cards", operator: "ops-anna", ...extra });
}

function erase(customerId: string): Command {
  return cmd("eraseCustomer", { customer: { customerId }, reason: "GDPR request 17", operator: "ops-anna" });
}

function sumOfEntries(h: Harness, customerId: string, account = "points"): number {
  return entriesOf(h.store, customerId)
    .filter((e) => e.account === account)
    .reduce((s, e) => s + e.amount, 0);
}

function errorOf(r: Reply): { code: string; field?: string } | undefined {
  return r.ok === false ? r.error : undefined;
}

/** A with card C-A and phone +48600000001, B with card C-B; A earns 50, B earns 20. */
async function twoCustomers(h: Harness): Promise<void> {
  expect(await h.one(enrol("e-a", "C-A", { profile: { name: "Ann", phone: "+48600000001", email: "ann@example.com" }, group: "staff", attributes: { city: "Gdansk", shoe: 38 } }))).toMatchObject({ customerId: A });
  expect(await h.one(enrol("e-b", "C-B", { profile: { name: "Ann K." }, group: "VIP", attributes: { city: "Sopot" } }))).toMatchObject({ customerId: B });
  expect(await h.one(cmd("accrue", sale("s-a", { card: "C-A" }, [{ lineId: "1", qty: 1, unitPrice: 5000 }])))).toMatchObject({ ok: true, earned: 50 });
  expect(await h.one(cmd("accrue", sale("s-b", { card: "C-B" }, [{ lineId: "1", qty: 1, unitPrice: 2000 }], T0 + 60_000)))).toMatchObject({ ok: true, earned: 20 });
}

describe("merge", () => {
  it("moves each balance as a pair of merge entries naming the request and both ids, so each wallet is still the sum of its entries", async () => {
    const h = await harness();
    await twoCustomers(h);
    const r = await h.one(merge("m-1", A, B));
    expect(r).toMatchObject({ ok: true, requestId: "m-1", from: A, into: B, accounts: [{ account: "points", moved: 50, balance: 70, held: 0, available: 70 }], lots: 1, holds: 0, cards: ["C-A"] });
    expect(accountState(h.store, A, "points")).toEqual({ balance: 0, held: 0 });
    expect(accountState(h.store, B, "points")).toEqual({ balance: 70, held: 0 });
    for (const id of [A, B]) expect(sumOfEntries(h, id), id).toBe(accountState(h.store, id, "points").balance);
    const pair = [...entriesOf(h.store, A), ...entriesOf(h.store, B)].filter((e) => e.kind === "merge");
    expect(pair.map((e) => [e.customerId, e.amount])).toEqual([[A, -50], [B, 50]]);
    for (const e of pair) expect(e.cause).toBe(`merge m-1 of ${A} into ${B} by ops-anna: one person, two cards`);
  });

  it("resolves the merged-away id, card and phone to the survivor afterwards", async () => {
    const h = await harness();
    await twoCustomers(h);
    await h.one(merge("m-1", A, B));
    for (const customer of [{ customerId: A }, { card: "C-A" }, { phone: "+48600000001" }]) {
      const bal = await h.one(cmd("balance", { customer }));
      expect(bal, JSON.stringify(customer)).toMatchObject({ ok: true, customerId: B });
      expect(pointsOf(bal).balance).toBe(70);
    }
    const s = await h.one(cmd("accrue", sale("s-a2", { customerId: A }, [{ lineId: "1", qty: 1, unitPrice: 1000 }], T0 + 120_000)));
    expect(s).toMatchObject({ ok: true, customerId: B, earned: 10, balance: 80 });
    expect(sumOfEntries(h, A)).toBe(0);
    expect(h.store.aliases.get(A)).toBe(B);
  });

  it("moves the loyalty id and e-mail the survivor lacks into their indexes, so they find the survivor", async () => {
    const h = await harness();
    await twoCustomers(h);
    expect(await h.one(cmd("updateCustomer", { requestId: "u-a", customer: { customerId: A }, loyaltyId: "LOY-A" }))).toMatchObject({ ok: true });
    const r = await h.one(merge("m-1", A, B));
    expect(r.released).toEqual([]);
    expect(await h.one(cmd("balance", { customer: { loyaltyId: "LOY-A" } }))).toMatchObject({ ok: true, customerId: B });
    expect(h.store.loyaltyIds.get("LOY-A")).toBe(B);
    expect([...h.store.emails.getKeys({ start: ["ann@example.com", ""], end: ["ann@example.com", "\uffff"] })]).toEqual([["ann@example.com", B]]);
  });

  it("joins cards, groups and attributes with the survivor's values winning, and takes the profile fields it lacks", async () => {
    const h = await harness();
    await twoCustomers(h);
    await h.one(merge("m-1", { card: "C-A" }, { card: "C-B" }));
    const survivor = h.store.customers.get(B)!;
    expect(survivor.cards).toEqual(["C-B", "C-A"]);
    expect(survivor.groups).toEqual(["VIP", "staff"]);
    expect(survivor.attributes).toEqual({ city: "Sopot", shoe: 38 });
    expect(survivor.profile).toEqual({ name: "Ann K.", phone: "+48600000001", email: "ann@example.com" });
    expect(survivor.mergedFrom).toEqual([A]);
    expect(h.store.cards.get("C-A")).toEqual({ customerId: B, status: "active" });
    expect(h.store.phones.get("+48600000001")).toBe(B);
    // Nothing personal stays on the merged-away record.
    const gone = h.store.customers.get(A)!;
    expect(gone).toMatchObject({ id: A, mergedInto: B, mergedAt: T0, profile: {}, cards: [], groups: [], attributes: {} });
  });

  it("keeps the survivor's phone and releases the other's: it then finds nobody, and a sale at it enrols a new customer", async () => {
    const h = await harness();
    await h.one(enrol("e-a", "C-A", { profile: { phone: "+48600000001" } }));
    await h.one(enrol("e-b", "C-B", { profile: { phone: "+48600000002" } }));
    const r = await h.one(merge("m-1", A, B));
    expect(r).toMatchObject({ ok: true, released: ["phone"] });
    expect(h.store.customers.get(B)!.profile.phone).toBe("+48600000002");
    expect(h.store.phones.get("+48600000001")).toBeUndefined();
    expect(h.store.phones.get("+48600000002")).toBe(B);
    const s = await h.one(cmd("accrue", sale("s-p", { phone: "+48600000001" }, [{ lineId: "1", qty: 1, unitPrice: 100 }])));
    expect(s).toMatchObject({ ok: true, customerId: C });
  });

  it("sums the daily turnover buckets, so tier windows count both customers' spend", async () => {
    const h = await harness();
    await twoCustomers(h);
    h.clock.now = T0 + DAY_MS;
    expect(await h.one(cmd("accrue", sale("s-b2", { card: "C-B" }, [{ lineId: "1", qty: 1, unitPrice: 700 }], T0 + DAY_MS)))).toMatchObject({ ok: true });
    await h.one(merge("m-1", A, B));
    const day = Math.floor(T0 / DAY_MS);
    expect(turnoverDays(h.store.wallets.get(B)!.turnover)).toEqual([[day, 7000], [day + 1, 700]]);
    expect(turnoverDays(h.store.wallets.get(A)!.turnover)).toEqual([]);
  });

  it("merges the purchase records: visits, spend, months and lists count both customers' sales, and a return of either's sale comes off the survivor's", async () => {
    const h = await harness();
    await twoCustomers(h);
    h.clock.now = T0 + 40 * DAY_MS;
    const later = { ...sale("s-b2", { card: "C-B" }, [{ lineId: "1", qty: 2, unitPrice: 300, sku: "sku-1", category: "shoes" }], h.clock.now), storeId: "s02" };
    expect(await h.one(cmd("accrue", later))).toMatchObject({ ok: true });
    const before = [purchaseStatsOf(h.store, A), purchaseStatsOf(h.store, B)];
    await h.one(merge("m-1", A, B));
    const stats = purchaseStatsOf(h.store, B);
    expect(stats).toMatchObject({ visits: 3, spend: 7600, avgBasket: 2533, firstVisitAt: T0, lastVisitAt: T0 + 40 * DAY_MS });
    expect(stats.months).toEqual([
      { month: "2026-01", visits: 2, spend: 7000 },
      { month: "2026-02", visits: 1, spend: 600 },
    ]);
    expect(stats.stores.map((t) => [t.key, t.count, t.amount])).toEqual([[tallyKey("s01"), 2, 7000], [tallyKey("s02"), 1, 600]]);
    expect(stats.skus.map((t) => [t.key, t.count, t.amount, t.firstOn])).toEqual([[tallyKey("sku-1"), 4, 7600, "2026-01-01"]]);
    expect(stats.categories.map((t) => [t.key, t.count, t.amount])).toEqual([[tallyKey("shoes"), 2, 600]]);
    expect(purchaseRecordOf(h.store, A), "the merged-away customer keeps no purchase record").toBeNull();
    expect(before[0]!.visits + before[1]!.visits).toBe(stats.visits);
    await h.one(cmd("accrue", ret("r-a", "s-a", [{ lineId: "1", qty: 1 }], h.clock.now)));
    expect(purchaseStatsOf(h.store, B)).toMatchObject({ visits: 3, spend: 2600 });
    expect(purchaseStatsOf(h.store, B).stores.map((t) => [t.key, t.amount])).toEqual([[tallyKey("s01"), 2000], [tallyKey("s02"), 600]]);
  });

  it("moves open holds with their ids: the merged customer's hold is captured on the survivor, and its held points moved", async () => {
    const h = await harness();
    await twoCustomers(h);
    const auth = await h.one(cmd("authorize", { requestId: "a-1", customer: { card: "C-A" }, amount: 30 }));
    expect(auth).toMatchObject({ ok: true, approved: true });
    const holdId = auth.holdId as string;
    const r = await h.one(merge("m-1", A, B));
    expect(r).toMatchObject({ ok: true, holds: 1, accounts: [{ account: "points", moved: 50, balance: 70, held: 30, available: 40 }] });
    expect(accountState(h.store, A, "points")).toEqual({ balance: 0, held: 0 });
    expect(h.store.holds.get(holdId)).toMatchObject({ customerId: B, status: "open", amount: 30 });
    expect(h.store.holdsByExpiry.get([auth.expiresAt, holdId])).toBe(B);
    expect(h.store.wallets.get(B)!.holds).toEqual({ [holdId]: ["points", 30, auth.expiresAt] });
    const cap = await h.one(cmd("capture", { requestId: "c-1", holdId, amount: 25 }));
    expect(cap).toMatchObject({ ok: true, customerId: B, captured: 25, balance: 45, available: 45 });
    expect(sumOfEntries(h, B)).toBe(45);
  });

  it("lets the hold sweeper expire a moved hold on the survivor", async () => {
    const h = await harness();
    await twoCustomers(h);
    const auth = await h.one(cmd("authorize", { requestId: "a-1", customer: { card: "C-A" }, amount: 30, ttlMs: 1000 }));
    await h.one(merge("m-1", A, B));
    h.clock.now = auth.expiresAt;
    expect(await h.one(expireCmd(auth.holdId))).toMatchObject({ ok: true, expired: true });
    expect(accountState(h.store, B, "points")).toEqual({ balance: 70, held: 0 });
  });

  it("moves lots with their original expiry, and the survivor's sweeper key to the earlier of the two", async () => {
    const h = await harness();
    await twoCustomers(h);
    const expiresA = T0 + 30 * DAY_MS;
    const expiresB = T0 + 60_000 + 30 * DAY_MS;
    expect(h.store.wallets.get(A)!.due).toBe(expiresA - 7 * DAY_MS);
    await h.one(merge("m-1", A, B));
    expect([...allLots(h.store)].map(({ key, value }) => [key[0], key[2], value.r])).toEqual([[B, expiresA, 50], [B, expiresB, 20]]);
    expect([...h.store.expiryDue.getKeys()]).toEqual([[expiresA - 7 * DAY_MS, B]]);
    expect(h.store.wallets.get(A)!.due).toBeUndefined();
    const bal = await h.one(balanceCmd(B));
    expect(bal.accounts[0].expiring).toEqual([{ amount: 50, at: expiresA }, { amount: 20, at: expiresB }]);
    // The sweeper expires A's former points on the survivor, at their own time.
    h.clock.now = expiresA;
    const outcomes = await h.ledger.applyBatch([{ verb: "sweepExpiry", input: { customerId: B }, hash: "" }]);
    expect(outcomes[0]!.reply).toMatchObject({ ok: true, expired: 50 });
    expect(accountState(h.store, B, "points").balance).toBe(20);
    expect(sumOfEntries(h, B)).toBe(20);
  });

  it("takes a return of the merged-away customer's sale from the survivor, out of that sale's own lot", async () => {
    const h = await harness();
    await twoCustomers(h);
    await h.one(merge("m-1", A, B));
    const r = await h.one(cmd("accrue", ret("r-a", "s-a", [{ lineId: "1", qty: 1 }], T0 + 120_000)));
    expect(r).toMatchObject({ ok: true, customerId: B, earned: -50, balance: 20 });
    expect([...allLots(h.store)].map(({ key, value }) => [key[0], value.e, value.r])).toEqual([[B, "s-b", 20]]);
    expect(sumOfEntries(h, A)).toBe(0);
    expect(sumOfEntries(h, B)).toBe(20);
  });

  it("keeps expiring points within a positive balance when one side was in debt", async () => {
    const h = await harness();
    await twoCustomers(h);
    await h.one(cmd("adjust", { requestId: "d-1", customer: { customerId: A }, amount: -80, reason: "clawback", operator: "ops" }));
    expect(accountState(h.store, A, "points").balance).toBe(-30);
    await h.one(merge("m-1", A, B));
    expect(accountState(h.store, B, "points").balance).toBe(-10);
    expect([...allLots(h.store)]).toEqual([]);
    const h2 = await harness();
    await twoCustomers(h2);
    await h2.one(cmd("adjust", { requestId: "d-1", customer: { customerId: B }, amount: -35, reason: "clawback", operator: "ops" }));
    await h2.one(merge("m-1", A, B));
    // B owed 15; A's 50 points pay it back, and only 35 of them stay in a lot.
    expect(accountState(h2.store, B, "points").balance).toBe(35);
    expect([...allLots(h2.store)].map(({ value }) => value.r)).toEqual([35]);
  });

  it("moves vouchers with their codes: listed, swept and redeemed as the survivor's", async () => {
    const h = await harness();
    await putVoucherOffer(h.store, "TEN", { name: "10 off", pointsCost: 30, kind: "amount", value: 1000, currency: "EUR", validDays: 10 }, T0);
    await twoCustomers(h);
    const bought = await h.one(cmd("buyVoucher", { requestId: "v-1", customer: { card: "C-A" }, offerId: "TEN" }));
    expect(bought).toMatchObject({ ok: true, approved: true });
    const code = bought.voucher.code as string;
    const r = await h.one(merge("m-1", A, B));
    expect(r).toMatchObject({ ok: true, vouchers: 1, accounts: [{ moved: 20, balance: 40 }] });
    expect(h.store.vouchers.get(code)!.customerId).toBe(B);
    expect([...h.store.vouchersByCustomer.getKeys()].map((k) => k[0])).toEqual([B]);
    expect([...h.store.vouchersByExpiry.getRange()].map(({ value }) => value)).toEqual([B]);
    expect([...h.store.voucherNotices.getRange()].map(({ value }) => value)).toEqual([B]);
    const listed = await h.one(cmd("vouchers", { customer: { customerId: A } }));
    expect(listed).toMatchObject({ ok: true, customerId: B, vouchers: [{ code }] });
    expect(await h.one(cmd("redeemVoucher", { requestId: "rv-1", code }))).toMatchObject({ ok: true, customerId: B });
  });

  it("shows the merged-away customer's history in the survivor's statement, and its balance as of before the merge", async () => {
    const h = await harness();
    await twoCustomers(h);
    h.clock.now = T0 + DAY_MS;
    await h.one(merge("m-1", A, B));
    const st = await h.one(statementCmd(B));
    expect(st.entries.map((e: Reply) => [e.kind, e.amount, e.customerId ?? null])).toEqual([
      ["accrual", 50, A],
      ["accrual", 20, null],
      ["merge", -50, A],
      ["merge", 50, null],
    ]);
    const asOf = await h.one(cmd("balance", { customer: { customerId: B }, asOf: T0 + 7_200_000 }));
    expect(pointsOf(asOf).balance).toBe(70);
    const after = await h.one(cmd("balance", { customer: { customerId: B }, asOf: T0 + DAY_MS }));
    expect(pointsOf(after).balance).toBe(70);
  });

  it("answers a repeated request with its first reply, and the same id with other content with IDEMPOTENCY_CONFLICT", async () => {
    const h = await harness();
    await twoCustomers(h);
    const first = await h.one(merge("m-1", A, B));
    const again = await h.one(merge("m-1", A, B));
    expect(again).toEqual({ ...first, duplicate: true });
    expect(errorOf(await h.one(merge("m-1", A, B, { reason: "other" })))).toMatchObject({ code: "IDEMPOTENCY_CONFLICT" });
    expect(accountState(h.store, B, "points").balance).toBe(70);
    expect(entriesOf(h.store, B).filter((e) => e.kind === "merge")).toHaveLength(1);
  });

  it("refuses a merge into itself, of or into a merged-away or erased customer, and of an unknown one, leaving no trace", async () => {
    const h = await harness();
    await twoCustomers(h);
    await h.one(enrol("e-c", "C-C"));
    expect(errorOf(await h.one(merge("m-0", A, { card: "C-A" })))).toMatchObject({ code: "VALIDATION", field: "into" });
    expect(errorOf(await h.one(merge("m-x", "cu_nobody", B)))).toMatchObject({ code: "UNKNOWN_CUSTOMER", field: "from" });
    expect(errorOf(await h.one(merge("m-y", A, { card: "NOPE" })))).toMatchObject({ code: "UNKNOWN_CUSTOMER", field: "into" });
    await h.one(merge("m-1", A, B));
    expect(errorOf(await h.one(merge("m-2", C, A)))).toMatchObject({ code: "VALIDATION", field: "into" });
    expect(errorOf(await h.one(merge("m-3", A, C)))).toMatchObject({ code: "VALIDATION", field: "from" });
    await h.one(erase(C));
    expect(errorOf(await h.one(merge("m-4", C, B)))).toMatchObject({ code: "VALIDATION", field: "from" });
    expect(errorOf(await h.one(merge("m-5", B, C)))).toMatchObject({ code: "VALIDATION", field: "into" });
    expect(accountState(h.store, B, "points").balance).toBe(70);
    // A refusal is no idempotency record: the same id may be used for a valid merge.
    expect(h.store.requests.get("m-2")).toBeUndefined();
  });

  it("keeps every merged-away id one hop from its survivor when the survivor is merged in turn", async () => {
    const h = await harness();
    await twoCustomers(h);
    await h.one(enrol("e-c", "C-C"));
    await h.one(merge("m-1", A, B));
    const r = await h.one(merge("m-2", B, C));
    expect(r).toMatchObject({ ok: true, from: B, into: C, accounts: [{ moved: 70, balance: 70 }] });
    expect(h.store.customers.get(A)!.mergedInto).toBe(C);
    expect(h.store.customers.get(C)!.mergedFrom).toEqual([B, A]);
    expect(h.store.aliases.get(A)).toBe(C);
    expect(h.store.aliases.get(B)).toBe(C);
    for (const ref of [{ customerId: A }, { card: "C-A" }, { customerId: B }, { card: "C-B" }]) {
      expect(await h.one(cmd("balance", { customer: ref })), JSON.stringify(ref)).toMatchObject({ customerId: C });
    }
    // The statement of C reads all three histories in order.
    const st = await h.one(statementCmd(C));
    expect(st.entries.map((e: Reply) => e.seq)).toEqual([...st.entries.map((e: Reply) => e.seq)].sort((x, y) => x - y));
    expect(st.entries.filter((e: Reply) => e.kind === "accrual").map((e: Reply) => e.customerId)).toEqual([A, B]);
  });

  it("refuses to make one customer stand for more than limits.mergedIdsMax merged ones", async () => {
    const h = await harness([BASE_PROGRAMME]);
    const n = limits.mergedIdsMax + 1;
    await h.apply(Array.from({ length: n + 1 }, (_, i) => enrol(`e-${i}`, `C-${i}`)));
    const last = `cu_${(n + 1).toString(36).padStart(6, "0")}`;
    const replies = await h.apply(Array.from({ length: n }, (_, i) => merge(`m-${i}`, { card: `C-${i}` }, last)));
    expect(replies.slice(0, n - 1).every((r) => r.ok)).toBe(true);
    expect(errorOf(replies[n - 1]!)).toMatchObject({ code: "LIMIT_EXCEEDED", field: "from" });
    expect(h.store.customers.get(last)!.mergedFrom).toHaveLength(limits.mergedIdsMax);
  });
});

describe("erase", () => {
  it("makes the customer findable by nothing: card, phone and id all answer UNKNOWN_CUSTOMER", async () => {
    const h = await harness();
    await twoCustomers(h);
    const r = await h.one(erase(A));
    expect(r).toEqual({ ok: true, customerId: A, erasedAt: T0, cards: 1, identifiers: ["phone", "email"], duplicate: false });
    expect([...h.store.emails.getKeys({ start: ["ann@example.com", ""], end: ["ann@example.com", "\uffff"] })]).toEqual([]);
    for (const customer of [{ customerId: A }, { card: "C-A" }, { phone: "+48600000001" }]) {
      expect(errorOf(await h.one(cmd("balance", { customer }))), JSON.stringify(customer)).toMatchObject({ code: "UNKNOWN_CUSTOMER" });
    }
    expect(h.store.cards.get("C-A")).toBeUndefined();
    expect(h.store.phones.get("+48600000001")).toBeUndefined();
  });

  it("removes the profile, attributes and groups, and keeps the wallet, entries, lots and sale records", async () => {
    const h = await harness();
    await twoCustomers(h);
    const entriesBefore = entriesOf(h.store, A);
    await h.one(erase(A));
    const c = h.store.customers.get(A)!;
    expect(c).toEqual({ id: A, profile: {}, groups: [], attributes: {}, cards: [], createdAt: T0, origin: "enroll", erasedAt: T0, erasure: { operator: "ops-anna", reason: "GDPR request 17" } });
    expect(JSON.stringify(c)).not.toMatch(/Ann|4860|example|Gdansk|C-A/);
    expect(entriesOf(h.store, A)).toEqual(entriesBefore);
    expect(accountState(h.store, A, "points").balance).toBe(50);
    expect(h.store.events.get("s-a")!.s!.customerId).toBe(A);
    expect([...allLots(h.store)].filter(({ key }) => key[0] === A).map(({ value }) => value.r)).toEqual([50]);
  });

  it("sends no more notices to the erased customer, while its points still expire on time", async () => {
    const h = await harness();
    await twoCustomers(h);
    await h.one(erase(A));
    const expiresA = T0 + 30 * DAY_MS;
    expect(h.store.wallets.get(A)!.due).toBe(expiresA);
    h.clock.now = expiresA - DAY_MS;
    const notice = await h.ledger.applyBatch([{ verb: "sweepExpiry", input: { customerId: A }, hash: "" }]);
    expect(notice[0]!.notifications).toEqual([]);
    h.clock.now = expiresA;
    const swept = await h.ledger.applyBatch([{ verb: "sweepExpiry", input: { customerId: A }, hash: "" }]);
    expect(swept[0]!.reply).toMatchObject({ ok: true, expired: 50 });
    expect(swept[0]!.notifications).toEqual([]);
    expect(sumOfEntries(h, A)).toBe(0);
  });

  it("frees the card and phone for a new enrolment", async () => {
    const h = await harness();
    await twoCustomers(h);
    await h.one(erase(A));
    expect(await h.one(enrol("e-new", "C-A", { profile: { phone: "+48600000001" } }))).toMatchObject({ ok: true, customerId: C });
  });

  it("answers erasing again with duplicate: true, refuses a merged-away id, and an unknown one", async () => {
    const h = await harness();
    await twoCustomers(h);
    await h.one(erase(A));
    h.clock.now = T0 + 1000;
    expect(await h.one(erase(A))).toMatchObject({ ok: true, customerId: A, erasedAt: T0, duplicate: true });
    await h.one(enrol("e-c", "C-C"));
    await h.one(merge("m-1", B, C));
    expect(errorOf(await h.one(erase(B)))).toMatchObject({ code: "VALIDATION", field: "customerId" });
    expect(errorOf(await h.one(erase("cu_nobody")))).toMatchObject({ code: "UNKNOWN_CUSTOMER", field: "customerId" });
  });

  it("erases a survivor together with what it merged: the merged-away ids find nobody either", async () => {
    const h = await harness();
    await twoCustomers(h);
    await h.one(merge("m-1", A, B));
    await h.one(erase(B));
    for (const customer of [{ customerId: A }, { customerId: B }, { card: "C-A" }, { card: "C-B" }, { phone: "+48600000001" }]) {
      expect(errorOf(await h.one(cmd("balance", { customer }))), JSON.stringify(customer)).toMatchObject({ code: "UNKNOWN_CUSTOMER" });
    }
    expect(JSON.stringify([h.store.customers.get(A), h.store.customers.get(B)])).not.toMatch(/Ann|4860|example|Gdansk|Sopot/);
  });
});
