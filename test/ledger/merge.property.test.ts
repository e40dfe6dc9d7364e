// Property test of merges and erasures on a real LMDB: random sequences of sales,
// returns, voids, holds (authorize, capture, release, expiry), adjustments, vouchers,
// expiry sweeps and clock jumps over four customers, with merges of any two of them (by
// id or card, re-sent, refused) and erasures mixed in. Each merge is applied in a batch
// of its own and must keep the sum of the two customers' balances and holds; after every
// batch each wallet must be the sum of its entries and the indexes must agree; the
// survivor's purchase record must count both customers' sales. The purchase books' merge
// is also checked alone: against one book of both customers' sales, and within bounds.
import { allLots } from "../../src/ledger/lots.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { putVoucherOffer } from "../../src/admin/vouchers.js";
import { entriesAt } from "../../src/ledger/accounts.js";
import type { Command } from "../../src/ledger/ledger.js";
import type { Store } from "../../src/ledger/store.js";
import { addSaleToBook, decodeBook, emptyBook, type BookBounds, type PurchaseRecord, type SaleFacts, type Tally } from "../../src/ledger/purchase-book.js";
import { mergeBooks } from "../../src/ledger/purchase-merge.js";
import { purchaseRecordOf } from "../../src/ledger/purchases.js";
import { BASE_PROGRAMME, T0, cmd, enrol, entriesOf, expireCmd, openHarness, ret, sale, voidOf, type Harness, type Reply } from "./harness.js";

const DAY_MS = 86_400_000;
const PROGRAMMES = [
  { ...BASE_PROGRAMME, expiry: { afterDays: 1 } },
  { id: "club", account: "club", currency: "EUR", rules: [{ kind: "visit", points: 3 }] },
];
const CARDS = ["C-0", "C-1", "C-2", "C-3"];
const IDS = CARDS.map((_, i) => `cu_${(i + 1).toString(36).padStart(6, "0")}`);
const RUNS_FACTOR = Number(process.env.LEDGER_PROPERTY_RUNS ?? "1");

type Op =
  | { t: "sale"; who: number; byId: boolean; price: number }
  | { t: "return"; pick: number; whole: boolean }
  | { t: "void"; pick: number }
  | { t: "authorize"; who: number; account: string; amount: number; ttlMs: number }
  | { t: "capture"; pick: number; amount: number | null }
  | { t: "release"; pick: number }
  | { t: "expire"; pick: number }
  | { t: "adjust"; who: number; amount: number }
  | { t: "voucher"; who: number }
  | { t: "sweep"; who: number }
  | { t: "merge"; from: number; into: number; byCard: boolean; resend: boolean }
  | { t: "erase"; who: number }
  | { t: "advance"; ms: number };

const who = fc.integer({ min: 0, max: 3 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant("sale" as const), who, byId: fc.boolean(), price: fc.integer({ min: 100, max: 6000 }), sku: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("return" as const), pick: fc.nat(), whole: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("void" as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("authorize" as const), who, account: fc.constantFrom("points", "points", "club"), amount: fc.integer({ min: 1, max: 30 }), ttlMs: fc.integer({ min: 1000, max: 2 * 3_600_000 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("capture" as const), pick: fc.nat(), amount: fc.option(fc.integer({ min: 1, max: 30 }), { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("release" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("expire" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("adjust" as const), who, amount: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: -60, max: -1 })) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("voucher" as const), who }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("sweep" as const), who }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("merge" as const), from: who, into: who, byCard: fc.boolean(), resend: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("erase" as const), who }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("advance" as const), ms: fc.oneof(fc.integer({ min: 0, max: 600_000 }), fc.integer({ min: DAY_MS / 2, max: DAY_MS + 3_600_000 })) }) },
);

const pick = <T>(list: readonly T[], n: number): T | undefined => (list.length === 0 ? undefined : list[list.length - 1 - (n % list.length)]);

/** Builds commands from operations, remembering sales, holds and merges to refer back to. */
class Builder {
  sales: string[] = [];
  holds: string[] = [];
  merges: Command[] = [];
  private n = 0;
  constructor(private readonly clock: { now: number }) {}

  build(op: Exclude<Op, { t: "advance" }>): Command | null {
    const id = `${op.t}-${++this.n}`;
    const now = this.clock.now;
    switch (op.t) {
      case "sale":
        this.sales.push(id);
        return cmd("accrue", sale(id, op.byId ? { customerId: IDS[op.who]! } : { card: CARDS[op.who]! }, [{ lineId: "1", qty: 1, unitPrice: op.price, sku: `sku-${op.sku}` }], now));
      case "return": {
        const s = pick(this.sales, op.pick);
        return s ? cmd("accrue", ret(id, s, op.whole ? undefined : [{ lineId: "1", qty: 0.5 }], now)) : null;
      }
      case "void": {
        const s = pick(this.sales, op.pick);
        return s ? cmd("accrue", voidOf(id, s, now)) : null;
      }
      case "authorize":
        return cmd("authorize", { requestId: id, customer: { customerId: IDS[op.who]! }, account: op.account, amount: op.amount, ttlMs: op.ttlMs });
      case "capture":
      case "release": {
        const holdId = pick(this.holds, op.pick);
        if (!holdId) return null;
        return op.t === "capture" && op.amount !== null ? cmd("capture", { requestId: id, holdId, amount: op.amount }) : cmd(op.t, { requestId: id, holdId });
      }
      case "expire": {
        const holdId = pick(this.holds, op.pick);
        return holdId ? expireCmd(holdId) : null;
      }
      case "adjust":
        return cmd("adjust", { requestId: id, customer: { customerId: IDS[op.who]! }, amount: op.amount, reason: "test", operator: "prop" });
      case "voucher":
        return cmd("buyVoucher", { requestId: id, customer: { customerId: IDS[op.who]! }, offerId: "V" });
      case "sweep":
        return { verb: "sweepExpiry", input: { customerId: IDS[op.who]! }, hash: "" };
      case "merge": {
        const again = op.resend ? pick(this.merges, op.from + op.into) : undefined;
        if (again) return again;
        const ref = (i: number) => (op.byCard ? { card: CARDS[i]! } : IDS[i]!);
        const c = cmd("mergeCustomers", { requestId: id, from: ref(op.from), into: ref(op.into), reason: "property", operator: "prop" });
        this.merges.push(c);
        return c;
      }
      case "erase":
        return cmd("eraseCustomer", { customer: { customerId: IDS[op.who]! }, reason: "property", operator: "prop" });
    }
  }
}

type Balances = Record<string, { balance: number; held: number }>;

function accountsOf(store: Store, customerId: string): Balances {
  return structuredClone(store.wallets.get(customerId)?.accounts ?? {});
}

/** Balances of two customers added up, per account. */
function added(a: Balances, b: Balances): Balances {
  const out: Balances = structuredClone(a);
  for (const [k, v] of Object.entries(b)) {
    const o = (out[k] ??= { balance: 0, held: 0 });
    o.balance += v.balance;
    o.held += v.held;
  }
  return out;
}

const nonZero = (x: Balances) => Object.fromEntries(Object.entries(x).filter(([, v]) => v.balance !== 0 || v.held !== 0));

/** The ledger's invariants, read straight from the tables. */
function checkInvariants(store: Store, noticeMs: number): void {
  const merged = new Set<string>();
  for (const { key, value: c } of store.customers.getRange()) {
    if (c.mergedInto === undefined) continue;
    merged.add(key as string);
    const survivor = store.customers.get(c.mergedInto)!;
    expect(survivor.mergedInto, `${key} is one hop from its survivor`).toBeUndefined();
    expect(survivor.mergedFrom, `${c.mergedInto} lists ${key}`).toContain(key);
    expect(store.aliases.get(key as string)).toBe(c.mergedInto);
  }
  const openHolds = new Map<string, { customerId: string; account: string; amount: number; expiresAt: number }>();
  for (const { value: h } of store.holds.getRange()) if (h.status === "open") openHolds.set(h.holdId, h);
  for (const { key, value: w } of store.wallets.getRange()) {
    const cid = key as string;
    for (const [account, state] of Object.entries(w.accounts)) {
      const sum = entriesOf(store, cid).filter((e) => e.account === account).reduce((s, e) => s + e.amount, 0);
      expect(state.balance, `${cid}/${account}: balance = sum of entries`).toBe(sum);
      const held = Object.values(w.holds ?? {}).filter(([a]) => a === account).reduce((s, [, amount]) => s + amount, 0);
      expect(state.held, `${cid}/${account}: held = its open holds`).toBe(held);
      let lots = 0;
      for (const { key, value } of allLots(store)) if (key[0] === cid && key[1] === account) lots += value.r;
      expect(lots, `${cid}/${account}: lots <= balance`).toBeLessThanOrEqual(Math.max(0, state.balance));
      if (merged.has(cid)) expect(state, `${cid} was merged away`).toEqual({ balance: 0, held: 0 });
    }
    for (const [holdId, [account, amount, expiresAt]] of Object.entries(w.holds ?? {})) {
      expect(openHolds.get(holdId), `hold ${holdId} in ${cid}'s wallet`).toMatchObject({ customerId: cid, account, amount, expiresAt });
      expect(store.holdsByExpiry.get([expiresAt, holdId])).toBe(cid);
      openHolds.delete(holdId);
    }
  }
  expect([...openHolds.keys()], "open holds in no wallet").toEqual([]);
  // The sweeper's index: one key per customer with lots, never later than they need it.
  for (const { key, value } of allLots(store)) {
    const [cid, , expiresAt] = key;
    expect(merged.has(cid), `lot of merged-away ${cid}`).toBe(false);
    const due = store.wallets.get(cid)?.due;
    expect(due !== undefined && due <= (value.n ? expiresAt : expiresAt - noticeMs), `lot ${JSON.stringify(key)} is due by ${due}`).toBe(true);
    expect(store.expiryDue.get([due!, cid])).toBe(1);
  }
  for (const { value } of store.cards.getRange()) {
    const owner = store.customers.get(value.customerId)!;
    expect(owner.mergedInto === undefined && owner.erasedAt === undefined, `card of ${value.customerId}`).toBe(true);
  }
  for (const { key, value: code } of store.vouchersByCustomer.getRange()) {
    const v = store.vouchers.get(code)!;
    expect(v.customerId).toBe(key[0]);
    expect(merged.has(key[0])).toBe(false);
    if (v.status === "active") expect(store.vouchersByExpiry.get([v.expiresAt, code])).toBe(key[0]);
  }
  // A merge's entries cancel out over the ledger, account by account.
  const merges = new Map<string, number>();
  for (const { key, value } of store.entries.getRange()) {
    for (const e of entriesAt(key[0], key[1], value)) if (e.kind === "merge") merges.set(e.account, (merges.get(e.account) ?? 0) + e.amount);
  }
  for (const [account, sum] of merges) expect(sum, `merge entries of ${account}`).toBe(0);
}

const LISTS = ["stores", "channels", "categories", "skus"] as const;

/** Both sides' entries per key, added up (the union, nothing dropped). */
function summedList(a: readonly Tally[], b: readonly Tally[]): Map<string, Tally> {
  const out = new Map<string, Tally>();
  for (const t of [...a, ...b]) {
    const m = out.get(t[0]);
    out.set(t[0], m ? [t[0], m[1] + t[1], m[2] + t[2], Math.min(m[3], t[3]), Math.max(m[4], t[4])] : t);
  }
  return out;
}

/** A ledger merge's survivor record: few keys and days here, so nothing is dropped and everything adds up. */
function checkMergedRecord(from: PurchaseRecord | null, into: PurchaseRecord | null, merged: PurchaseRecord | null): void {
  if (!from || !into) {
    expect(merged).toEqual(from ?? into);
    return;
  }
  expect(merged!.visits).toBe(from.visits + into.visits);
  expect(merged!.spend).toBe(from.spend + into.spend);
  expect(merged!.lastAt).toBe(Math.max(from.lastAt, into.lastAt));
  const months = summedList(from.months.map(([m, v, s]) => [String(m), v, s, 0, 0]), into.months.map(([m, v, s]) => [String(m), v, s, 0, 0]));
  expect(merged!.months.map(([m, v, s]) => [String(m), v, s])).toEqual([...months.values()].map(([m, v, s]) => [m, v, s]).sort((x, y) => Number(x[0]) - Number(y[0])));
  for (const name of LISTS) expect(sortTallies(merged![name]), name).toEqual(sortTallies([...summedList(into[name], from[name]).values()]));
}

const sortTallies = (list: readonly Tally[]): Tally[] => [...list].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

async function runScenario(ops: Op[], sizes: number[]): Promise<void> {
  const h: Harness = await openHarness({}, PROGRAMMES);
  try {
    await putVoucherOffer(h.store, "V", { name: "V", pointsCost: 10, kind: "amount", value: 100, currency: "EUR", validDays: 2 }, T0);
    const enrolled = await h.apply(CARDS.map((card, i) => enrol(`e-${i}`, card)));
    expect(enrolled.map((r) => r.customerId)).toEqual(IDS);
    const builder = new Builder(h.clock);
    const noticeMs = h.ledger.options.expiryNoticeMs;
    const apply = async (commands: Command[]): Promise<Reply[]> => {
      if (commands.length === 0) return [];
      const replies = await h.apply(commands);
      for (const r of replies) if (r.approved === true && typeof r.holdId === "string") builder.holds.push(r.holdId);
      checkInvariants(h.store, noticeMs);
      return replies;
    };
    const applyMerge = async (c: Command) => {
      const input = c.input as { from: unknown; into: unknown };
      const idOf = (ref: unknown) => (typeof ref === "string" ? ref : h.store.cards.get((ref as { card: string }).card)?.customerId);
      const [fromId, intoId] = [idOf(input.from), idOf(input.into)];
      const before = fromId && intoId ? added(accountsOf(h.store, fromId), accountsOf(h.store, intoId)) : null;
      const openBefore = fromId && intoId ? [fromId, intoId].flatMap((id) => Object.keys(h.store.wallets.get(id)?.holds ?? {})).sort() : [];
      const booksBefore = fromId && intoId ? [purchaseRecordOf(h.store, fromId), purchaseRecordOf(h.store, intoId)] : [];
      const [r] = await apply([c]);
      if (r!.ok && r!.duplicate !== true) {
        checkMergedRecord(booksBefore[0]!, booksBefore[1]!, purchaseRecordOf(h.store, r!.into));
        expect(purchaseRecordOf(h.store, r!.from)).toBeNull();
        expect(nonZero(accountsOf(h.store, r!.into)), `merge ${JSON.stringify(input)} keeps the sum of both`).toEqual(nonZero(before!));
        expect(Object.keys(h.store.wallets.get(r!.into)?.holds ?? {}).sort()).toEqual(openBefore);
        expect(nonZero(accountsOf(h.store, r!.from))).toEqual({});
      }
      if (r!.ok === false) expect(["VALIDATION", "UNKNOWN_CUSTOMER", "IDEMPOTENCY_CONFLICT"]).toContain(r!.error.code);
    };
    let batch: Command[] = [];
    let b = 0;
    for (const op of ops) {
      if (op.t === "advance") {
        await apply(batch);
        batch = [];
        h.clock.now += op.ms;
        continue;
      }
      const c = builder.build(op);
      if (!c) continue;
      if (c.verb === "mergeCustomers") {
        await apply(batch);
        batch = [];
        await applyMerge(c);
        continue;
      }
      batch.push(c);
      if (batch.length >= sizes[b % sizes.length]!) {
        await apply(batch);
        batch = [];
        b++;
      }
    }
    await apply(batch);
  } finally {
    await h.close();
  }
}

describe("merge properties", () => {
  it("keeps both customers' sum through a merge, and every wallet the sum of its entries, through any sequence", { timeout: 120_000 * RUNS_FACTOR }, async () => {
    const warmUp: Op[] = [
      { t: "sale", who: 0, byId: false, price: 5000, sku: 0 },
      { t: "sale", who: 1, byId: false, price: 3000, sku: 1 },
      { t: "authorize", who: 0, account: "points", amount: 20, ttlMs: 60_000 },
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 50, size: "max" }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 6 }),
        (ops, sizes) => runScenario([...warmUp, ...ops], sizes),
      ),
      {
        numRuns: Math.round(100 * RUNS_FACTOR),
        ...(process.env.LEDGER_PROPERTY_SEED ? { seed: Number(process.env.LEDGER_PROPERTY_SEED) } : {}),
      },
    );
  });
});

// ---- the purchase books' merge alone ----------------------------------------------------------

const saleArb: fc.Arbitrary<SaleFacts> = fc
  .record({ day: fc.integer({ min: 20_000, max: 20_200 }), store: fc.nat(6), channel: fc.nat(3), lines: fc.array(fc.record({ sku: fc.nat(9), cat: fc.option(fc.nat(5), { nil: null }), qty: fc.integer({ min: 1, max: 3 }), amount: fc.integer({ min: 0, max: 5000 }) }), { minLength: 1, maxLength: 4 }) })
  .map(({ day, store, channel, lines }) => ({
    at: day * DAY_MS + 3_600_000,
    day,
    month: new Date(day * DAY_MS).getUTCFullYear() * 12 + new Date(day * DAY_MS).getUTCMonth(),
    storeId: `s${store}`,
    channel: `c${channel}`,
    lines: lines.map((l) => ({ sku: `sku-${l.sku}`, category: l.cat === null ? null : `cat-${l.cat}`, qty: l.qty, amount: l.amount })),
  }));

const bookOf = (sales: readonly SaleFacts[], bounds: BookBounds): Uint8Array => sales.reduce((b, f) => addSaleToBook(b, f, bounds), emptyBook());

describe("purchase books merged", () => {
  it("with room for every key and month, equal one book of both customers' sales (lists in any order)", () => {
    const wide: BookBounds = { months: 255, lists: [255, 255, 255, 255] };
    fc.assert(
      fc.property(fc.array(saleArb, { maxLength: 12 }), fc.array(saleArb, { maxLength: 12 }), (a, b) => {
        const merged = mergeBooks(a.length ? bookOf(a, wide) : null, b.length ? bookOf(b, wide) : null, wide);
        if (a.length + b.length === 0) {
          expect(merged).toBeNull();
          return;
        }
        const one = decodeBook(bookOf([...b, ...a], wide));
        const got = decodeBook(merged!);
        expect({ ...got, ...Object.fromEntries(LISTS.map((n) => [n, sortTallies(got[n])])) }).toEqual({ ...one, ...Object.fromEntries(LISTS.map((n) => [n, sortTallies(one[n])])) });
      }),
      { numRuns: 300 },
    );
  });

  it("within bounds keep the newest keys of the union added up, the newest months, and say up to when a list was cut", () => {
    const small: BookBounds = { months: 2, lists: [3, 2, 3, 4] };
    fc.assert(
      fc.property(fc.array(saleArb, { minLength: 1, maxLength: 12 }), fc.array(saleArb, { minLength: 1, maxLength: 12 }), (a, b) => {
        const [from, into] = [decodeBook(bookOf(a, small)), decodeBook(bookOf(b, small))];
        const merged = decodeBook(mergeBooks(bookOf(a, small), bookOf(b, small), small)!);
        expect([merged.visits, merged.spend]).toEqual([from.visits + into.visits, from.spend + into.spend]);
        expect(merged.months.length).toBeLessThanOrEqual(small.months);
        const newest = Math.max(from.months.at(-1)![0], into.months.at(-1)![0]);
        for (const [m, v, s] of merged.months) {
          expect(m).toBeGreaterThan(newest - small.months);
          const sides = [...from.months, ...into.months].filter((x) => x[0] === m);
          expect([v, s]).toEqual([sides.reduce((n, x) => n + x[1], 0), sides.reduce((n, x) => n + x[2], 0)]);
        }
        LISTS.forEach((name, l) => {
          const union = summedList(into[name], from[name]);
          expect(merged[name].length).toBe(Math.min(small.lists[l]!, union.size));
          for (const t of merged[name]) expect(t, `${name} ${t[0]}`).toEqual(union.get(t[0]));
          const kept = new Set(merged[name].map((t) => t[0]));
          const cut = [...union.values()].filter((t) => !kept.has(t[0]));
          for (const out of cut) {
            for (const t of merged[name]) expect(out[4] < t[4] || (out[4] === t[4] && out[2] <= t[2]), `${name}: ${out[0]} went before ${t[0]}`).toBe(true);
          }
          expect(merged.dropped[l]).toBe(Math.max(from.dropped[l]!, into.dropped[l]!, ...cut.map((t) => t[4])));
        });
      }),
      { numRuns: 300 },
    );
  });
});
