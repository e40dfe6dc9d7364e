// Property tests of the ledger against a small reference model, on a real LMDB (fresh temp
// dir per run) with an injected clock. Random sequences of sales, re-sends (same and other
// content), partial / whole / over-returns, voids, authorise / capture / release, points to
// prepaid conversions, manual adjustments, clock jumps (seconds to days), the sweeper's
// expireHold and the expiry sweeper's sweepExpiry, applied in random batch sizes. After every
// batch the store, the verbs and the model must agree, and the ledger's invariants must hold.
import { allLots } from "../../src/ledger/lots.js";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { getEvent } from "../../src/ledger/event-records.js";
import type { Command } from "../../src/ledger/ledger.js";
import { purchaseRecordOf, tallyKey, type Tally } from "../../src/ledger/purchases.js";
import type { Store } from "../../src/ledger/store.js";
import { BASE_PROGRAMME } from "../fixtures.js";
import {
  allEntries,
  allHolds,
  cmd,
  customerIds,
  enrol,
  entriesOf,
  expireCmd,
  openHarness,
  type Harness,
  type Reply,
} from "./harness.js";

// ---- programmes: two accounts, line-level and basket-level points --------------------------

const DAY_MS = 86_400_000;
/** Base points expire a day after the sale that earned them; club points never. */
const EXPIRY_DAYS: Record<string, number> = { points: 1 };
const BASE = {
  ...BASE_PROGRAMME,
  expiry: { afterDays: EXPIRY_DAYS.points },
};
const CLUB = {
  id: "club",
  account: "club",
  currency: "EUR",
  rules: [
    { kind: "category", category: "drinks", pointsPerUnit: 2 },
    { kind: "visit", points: 1 },
  ],
};
const PROGRAMMES = [BASE, CLUB];
const HOLD_TTL_MS = 120_000;
/*
 * A capture or release that meets an open hold past its TTL expires it there and then (its
 * points are no longer held) and answers HOLD_EXPIRED; that expiry is committed although the
 * request failed, and the refusal is no idempotency record (a re-send is evaluated again).
 * The model does the same in fresh() ("capture"/"release").
 */

/** What each programme earns on a basket: base 1 point per 100 spent, club 2 per drink + 1 per visit. */
function expectedEarned(lines: RawLine[]): { club: number; points: number } {
  const total = lines.reduce((s, l) => s + amountOf(l), 0);
  const drinks = lines.filter((l) => l.category === "drinks").reduce((s, l) => s + l.qty, 0);
  return { points: Math.floor(total / 100), club: Math.floor(2 * drinks + 1e-9) + 1 };
}

// ---- abstract operations --------------------------------------------------------------------

interface RawLine {
  lineId: string;
  sku: string;
  qty: number;
  unitPrice: number;
  amount?: number;
  category?: string;
}
const amountOf = (l: RawLine) => l.amount ?? Math.round(l.qty * l.unitPrice);

type Op =
  | { t: "sale"; who: number; lines: readonly { qty: number; unitPrice: number; discount: boolean; category: string | null }[] }
  | { t: "dup"; pick: number; reorder: boolean }
  | { t: "conflict"; pick: number }
  | { t: "return"; pick: number; whole: boolean; lines: readonly { line: number; qty: ReturnQty }[] }
  | { t: "void"; pick: number }
  | { t: "authorize"; who: number; account: string; amount: number; ttlMs: number | null }
  | { t: "capture"; pick: number; amount: number | null }
  | { t: "release"; pick: number }
  | { t: "expire"; pick: number }
  /** who: 0..2 the cards, 3 an unknown card. */
  | { t: "convert"; who: number; from: string; to: string; amount: number }
  | { t: "adjust"; who: number; account: string; amount: number }
  /** The expiry sweeper's command for customer cu_00000{who} (4, 5: the phones, if enrolled; 6: nobody). */
  | { t: "sweep"; who: number }
  | { t: "advance"; ms: number }
  /** Moves the clock to exactly an open hold's expiry (delta 0) or 1 ms before it (delta -1). */
  | { t: "advanceTo"; pick: number; delta: number };

const CARDS = ["C-0", "C-1", "C-2"];
const PHONES = ["+48600000100", "+48600000101"];
const QTYS = [1, 1, 2, 3, 4, 0.5, 1.5, 0.25, 2.125];

const qtyArb = fc.constantFrom(...QTYS);
/** A returned quantity relative to the line's sold quantity q: min(1, q), about q/2, q, or q + 1 (an over-return). */
type ReturnQty = "unit" | "half" | "all" | "over";
const returnQtyArb = fc.constantFrom<ReturnQty>("unit", "unit", "unit", "half", "half", "half", "all", "over");
function returnedQty(kind: ReturnQty, sold: number): number {
  if (kind === "unit") return Math.min(1, sold);
  if (kind === "half") return Math.max(1, Math.floor(milli(sold) / 2)) / 1000;
  if (kind === "all") return sold;
  return sold + 1;
}
const convertArb: fc.Arbitrary<Op> = fc.record({
  t: fc.constant("convert" as const),
  who: fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: 2 }) }, { weight: 1, arbitrary: fc.constant(3) }),
  // club has no conversion rate (VALIDATION); points may also go to the club account
  from: fc.constantFrom("points", "points", "points", "points", "points", "club"),
  to: fc.constantFrom("prepaid", "prepaid", "prepaid", "club"),
  amount: fc.integer({ min: 1, max: 40 }),
});
const adjustArb: fc.Arbitrary<Op> = fc.record({
  t: fc.constant("adjust" as const),
  who: fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: 2 }) }, { weight: 1, arbitrary: fc.constant(3) }),
  account: fc.constantFrom("points", "points", "points", "club", "prepaid"),
  amount: fc.oneof(fc.integer({ min: 1, max: 30 }), fc.integer({ min: -30, max: -1 })),
});
const sweepArb: fc.Arbitrary<Op> = fc.record({
  t: fc.constant("sweep" as const),
  who: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 2, arbitrary: fc.integer({ min: 4, max: 6 }) }),
});
/** Seconds (holds), minutes (hold TTLs) or about a day (points expiry). */
const advanceArb: fc.Arbitrary<Op> = fc.record({
  t: fc.constant("advance" as const),
  ms: fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 5000 }) },
    { weight: 3, arbitrary: fc.integer({ min: 60_000, max: 400_000 }) },
    { weight: 2, arbitrary: fc.integer({ min: DAY_MS / 2, max: DAY_MS + 3_600_000 }) },
  ),
});
const advanceToArb: fc.Arbitrary<Op> = fc.record({ t: fc.constant("advanceTo" as const), pick: fc.nat(), delta: fc.constantFrom(0, -1) });
const saleArb: fc.Arbitrary<Op> = fc.record({
  t: fc.constant("sale" as const),
  // 0..2 cards, 3..4 phones (enrolled at their first sale), 5 an unknown card
  who: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 2 }) }, { weight: 2, arbitrary: fc.integer({ min: 3, max: 4 }) }, { weight: 1, arbitrary: fc.constant(5) }),
  lines: fc.array(
    fc.record({
      qty: qtyArb,
      unitPrice: fc.integer({ min: 1, max: 6000 }),
      discount: fc.boolean(),
      category: fc.constantFrom("drinks", "food", null),
    }),
    { minLength: 1, maxLength: 3 },
  ),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: saleArb },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("dup" as const), pick: fc.nat(), reorder: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("conflict" as const), pick: fc.nat() }) },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant("return" as const),
      pick: fc.nat(),
      whole: fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 3, arbitrary: fc.constant(false) }),
      // line 3 does not exist in any sale; qty may exceed what is left (over-returns)
      lines: fc.array(
        fc.record({ line: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 2 }) }, { weight: 1, arbitrary: fc.constant(3) }), qty: returnQtyArb }),
        { minLength: 1, maxLength: 3 },
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("void" as const), pick: fc.nat() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("authorize" as const),
      who: fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: 2 }) }, { weight: 1, arbitrary: fc.constant(3) }), // 3 = an unknown card
      account: fc.constantFrom("points", "points", "club"),
      amount: fc.integer({ min: 1, max: 40 }),
      ttlMs: fc.option(fc.integer({ min: 1000, max: 300_000 }), { nil: null }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("capture" as const), pick: fc.nat(), amount: fc.option(fc.integer({ min: 1, max: 40 }), { nil: null }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("release" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("expire" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: convertArb },
  { weight: 2, arbitrary: adjustArb },
  { weight: 2, arbitrary: sweepArb },
  { weight: 3, arbitrary: advanceArb },
  { weight: 1, arbitrary: advanceToArb },
);

// ---- the reference model --------------------------------------------------------------------

const milli = (q: number) => Math.round(q * 1000);
/** Floored cumulative share in exact integer arithmetic (quantities in thousandths). */
const shareOf = (whole: number, partMilli: number, ofMilli: number) => (partMilli >= ofMilli ? whole : Math.floor((whole * partMilli) / ofMilli));
/** Picks from a list, favouring its most recent items (fc.nat() favours small numbers). */
const recent = <T>(list: readonly T[], pick: number): T => list[list.length - 1 - (pick % list.length)]!;
const wire = (v: unknown): Reply => JSON.parse(JSON.stringify(v));
const idOf = (seq: number, prefix: string) => `${prefix}_${seq.toString(36).padStart(6, "0")}`;

/** Points of one sale that expire together (the store's lot), consumed soonest-expiry first. */
interface MLot {
  customerId: string;
  account: string;
  expiresAt: number;
  /** Creation order: the store orders lots of one instant by their accrual entry's seq. */
  order: number;
  /** Points left. */
  r: number;
  /** The sale that earned them. */
  e: string;
}
interface MSale {
  customerId: string;
  at: number;
  /** Per line: its sku, category and amount, for what a return takes back of purchase knowledge. */
  items: Map<string, { sku: string; category: string | null; amount: number }>;
  /** Per programme (as progs): the lot its points went into, or null. */
  lots: (MLot | null)[];
  soldMilli: Map<string, number>;
  returnedMilli: Map<string, number>;
  progs: { account: string; earned: number; lineEarned: Record<string, number>; basketEarned: number }[];
  taken: Map<string, number>[];
  voided: boolean;
}
interface MHold {
  customerId: string;
  account: string;
  amount: number;
  status: "open" | "captured" | "released" | "expired";
  expiresAt: number;
}
interface MEntry {
  kind: string;
  amount: number;
  at: number;
  eventId?: string;
  holdId?: string;
  /** hold, release, hold.expired, redemption: what the hold held. */
  held?: number;
  account: string;
}

/** A list entry of purchase knowledge: [count, amount, first day, last day] (count: thousandths for skus and categories, visits for stores and channels). */
type MTally = [number, number, number, number];
/** Purchase knowledge as the ledger should keep it; the scenarios stay within every list's bound. */
interface MPurchases {
  visits: number;
  spend: number;
  firstAt: number;
  lastAt: number;
  /** month (year × 12 + month − 1, UTC: the harness's zone) -> [visits, spend] */
  months: Map<number, [number, number]>;
  stores: Map<string, MTally>;
  channels: Map<string, MTally>;
  skus: Map<string, MTally>;
  categories: Map<string, MTally>;
}
const monthOf = (at: number) => new Date(at).getUTCFullYear() * 12 + new Date(at).getUTCMonth();
function tallyAdd(list: Map<string, MTally>, key: string, count: number, amount: number, day: number): void {
  const t = list.get(key);
  if (t) list.set(key, [t[0] + count, t[1] + amount, Math.min(t[2], day), Math.max(t[3], day)]);
  else list.set(key, [count, amount, day, day]);
}
function tallyTake(list: Map<string, MTally>, key: string, count: number, amount: number): void {
  const t = list.get(key)!;
  list.set(key, [t[0] - count, t[1] - amount, t[2], t[3]]);
}

class Model {
  /** customer id -> purchase knowledge. */
  purchases = new Map<string, MPurchases>();
  customerSeq = 0;
  holdSeq = 0;
  refs = new Map<string, string>(); // "card:C-0" / "phone:+48..." -> customer id
  accounts = new Map<string, { balance: number; held: number }>(); // "cid|account"
  sales = new Map<string, MSale>();
  holds = new Map<string, MHold>();
  idem = new Map<string, { hash: string; reply: Reply }>();
  entries = new Map<string, MEntry[]>(); // by customer
  /** sale event id -> (account -> points taken back by its returns and voids) */
  takenBack = new Map<string, Map<string, number>>();
  lots: MLot[] = [];
  lotOrder = 0;
  /** "cid|account" whose balance went below zero at some point (policy "negative", adjustments). */
  everNegative = new Set<string>();
  /** "cid|account" that a negative adjustment lowered (it may take the available balance below zero). */
  adjustedDown = new Set<string>();

  constructor(readonly whenSpent: "negative" | "clamp") {}

  acc(cid: string, account: string) {
    let a = this.accounts.get(`${cid}|${account}`);
    if (!a) {
      a = { balance: 0, held: 0 };
      this.accounts.set(`${cid}|${account}`, a);
    }
    return a;
  }
  accountsOf(cid: string): [string, { balance: number; held: number }][] {
    return [...this.accounts.entries()]
      .filter(([k]) => k.startsWith(`${cid}|`))
      .map(([k, v]) => [k.slice(cid.length + 1), v] as [string, { balance: number; held: number }])
      .sort(([a], [b]) => (a < b ? -1 : 1));
  }
  post(cid: string, e: MEntry) {
    const a = this.acc(cid, e.account);
    a.balance += e.amount;
    if (a.balance < 0) this.everNegative.add(`${cid}|${e.account}`);
    const list = this.entries.get(cid) ?? [];
    list.push(e);
    this.entries.set(cid, list);
  }
  /** A customer's lots of one account, in the store's order: soonest expiry first, then oldest. */
  lotsOf(cid: string, account?: string): MLot[] {
    return this.lots
      .filter((l) => l.customerId === cid && (account === undefined || l.account === account))
      .sort((a, b) => (a.account !== b.account ? (a.account < b.account ? -1 : 1) : a.expiresAt - b.expiresAt || a.order - b.order));
  }
  /** Points leave lots soonest-expiry first, `prefer` (a return's own sale's lot) first of all. */
  consumeLots(cid: string, account: string, amount: number, prefer: MLot | null) {
    let left = amount;
    const take = (lot: MLot) => {
      const used = Math.min(lot.r, left);
      left -= used;
      lot.r -= used;
      if (lot.r === 0) this.lots.splice(this.lots.indexOf(lot), 1);
    };
    if (prefer && this.lots.includes(prefer)) take(prefer);
    for (const lot of this.lotsOf(cid, account)) {
      if (left <= 0) break;
      take(lot);
    }
  }
  /** The balance verb's `expiring`: remaining lots grouped by instant, soonest first. */
  expiring(cid: string, account: string): { amount: number; at: number }[] {
    const byAt = new Map<number, number>();
    for (const l of this.lotsOf(cid, account)) byAt.set(l.expiresAt, (byAt.get(l.expiresAt) ?? 0) + l.r);
    return [...byAt].map(([at, amount]) => ({ amount, at }));
  }
  find(ref: Record<string, string>): string | undefined {
    if ("card" in ref) return this.refs.get(`card:${ref.card}`);
    if ("phone" in ref) return this.refs.get(`phone:${ref.phone}`);
    return ref.customerId;
  }
  accrualReply(cid: string, earned: number, perAccount: Map<string, number>) {
    const accounts = this.accountsOf(cid).map(([account, s]) => ({ account, earned: perAccount.get(account) ?? 0, balance: s.balance, available: s.balance - s.held }));
    const primary = accounts.find((a) => a.account === "points") ?? accounts[0] ?? { balance: 0, available: 0 };
    return { customerId: cid, earned, balance: primary.balance, available: primary.available, accounts };
  }

  /** Predicts and checks one reply, advancing the model; `store` gives the sale's line attribution. */
  step(c: Command, reply: Reply, now: number, store: Store): void {
    const input = c.input as Record<string, any>;
    const key = c.verb === "accrue" ? `ev:${input.eventId}` : c.verb === "expireHold" || c.verb === "sweepExpiry" ? null : `rq:${input.requestId}`;
    const where = `${c.verb} ${JSON.stringify(input)}`;
    if (key) {
      const seen = this.idem.get(key);
      if (seen) {
        if (seen.hash === c.hash) expect(wire(reply), where).toEqual(wire({ ...seen.reply, duplicate: true }));
        else expect(reply, where).toEqual({ ok: false, error: expect.objectContaining({ code: "IDEMPOTENCY_CONFLICT" }), [key.startsWith("ev:") ? "eventId" : "requestId"]: key.slice(3) });
        return;
      }
    }
    const expected = this.fresh(c, input, now, store, reply);
    if (typeof expected === "string") {
      expect({ code: reply.ok === false ? reply.error.code : "(ok)", reply }, where).toMatchObject({ code: expected });
      // A refusal is never an idempotency record, so it is never answered as a duplicate either.
      expect(Object.keys(reply).sort(), where).toEqual(["error", "ok", ...(input.eventId ? ["eventId"] : input.requestId ? ["requestId"] : [])].sort());
      if (input.eventId) expect(reply.eventId).toBe(input.eventId);
      else if (input.requestId) expect(reply.requestId).toBe(input.requestId);
      return;
    }
    // As the wire (JSON) sees it: a reply saying -0 where nothing was taken back is not a bug here.
    expect(wire(reply), where).toMatchObject(wire(expected));
    if (key) this.idem.set(key, { hash: c.hash, reply });
  }

  /**
   * Either an error code or the expected reply, the model's state advanced accordingly. A failed
   * command changes nothing, except a capture or release that finds its hold past the TTL
   * (HOLD_EXPIRED): that hold's expiry stands.
   */
  private fresh(c: Command, input: Record<string, any>, now: number, store: Store, reply: Reply): string | Reply {
    switch (c.verb) {
      case "enroll": {
        this.customerSeq += 1;
        const cid = idOf(this.customerSeq, "cu");
        this.refs.set(`card:${input.card}`, cid);
        return { ok: true, customerId: cid };
      }
      case "accrue":
        return input.type === "sale" ? this.sale(input, store) : this.reverse(input);
      case "authorize": {
        const cid = this.find(input.customer);
        if (!cid) return "UNKNOWN_CUSTOMER";
        const peek = this.accounts.get(`${cid}|${input.account}`) ?? { balance: 0, held: 0 };
        const available = peek.balance - peek.held;
        if (input.amount > available) return { ok: true, approved: false, reason: "INSUFFICIENT_BALANCE", customerId: cid, requested: input.amount, available };
        const a = this.acc(cid, input.account);
        this.holdSeq += 1;
        const holdId = idOf(this.holdSeq, "h");
        const expiresAt = now + (input.ttlMs ?? HOLD_TTL_MS);
        this.holds.set(holdId, { customerId: cid, account: input.account, amount: input.amount, status: "open", expiresAt });
        a.held += input.amount;
        this.post(cid, { kind: "hold", amount: 0, at: now, holdId, held: input.amount, account: input.account });
        expect(a.balance - a.held, "an authorisation never approves more than is available").toBeGreaterThanOrEqual(0);
        return { ok: true, approved: true, holdId, customerId: cid, account: input.account, amount: input.amount, value: input.account === "points" ? input.amount * BASE.redemption.pointValue : null, available: a.balance - a.held, expiresAt };
      }
      case "capture":
      case "release": {
        const h = this.holds.get(input.holdId);
        if (!h) return "UNKNOWN_HOLD";
        if (h.status === "open" && now >= h.expiresAt) {
          // Lazy expiry: committed even though the request fails.
          this.expireHold(input.holdId, h);
          return "HOLD_EXPIRED";
        }
        if (h.status === "expired") return "HOLD_EXPIRED";
        if (h.status !== "open") return "HOLD_CLOSED";
        const captured = c.verb === "capture" ? (input.amount ?? h.amount) : 0;
        if (captured > h.amount) return "CAPTURE_EXCEEDS_HOLD";
        const a = this.acc(h.customerId, h.account);
        const availableBefore = a.balance - a.held;
        a.held -= h.amount;
        h.status = c.verb === "capture" ? "captured" : "released";
        if (c.verb === "release") {
          this.post(h.customerId, { kind: "release", amount: 0, at: now, holdId: input.holdId, held: h.amount, account: h.account });
          return { ok: true, holdId: input.holdId, customerId: h.customerId, released: h.amount, balance: a.balance, available: a.balance - a.held };
        }
        this.post(h.customerId, { kind: "redemption", amount: -captured, at: now, holdId: input.holdId, held: h.amount, account: h.account });
        this.consumeLots(h.customerId, h.account, captured, null);
        expect(a.balance - a.held, "a capture never lowers the available balance").toBeGreaterThanOrEqual(availableBefore);
        return { ok: true, holdId: input.holdId, customerId: h.customerId, captured, released: h.amount - captured, balance: a.balance, available: a.balance - a.held };
      }
      case "convert": {
        const cid = this.find(input.customer);
        if (!cid) return "UNKNOWN_CUSTOMER";
        if (input.from !== "points") return "VALIDATION"; // only base points have a conversion rate
        const peek = this.accounts.get(`${cid}|${input.from}`) ?? { balance: 0, held: 0 };
        const available = peek.balance - peek.held;
        if (input.amount > available) return { ok: true, approved: false, reason: "INSUFFICIENT_BALANCE", customerId: cid, requested: input.amount, available };
        this.post(cid, { kind: "conversion", amount: -input.amount, at: now, account: input.from });
        this.consumeLots(cid, input.from, input.amount, null);
        const value = input.amount * BASE.redemption.pointValue;
        this.post(cid, { kind: "conversion", amount: value, at: now, account: input.to });
        const from = this.acc(cid, input.from);
        const to = this.acc(cid, input.to);
        expect(from.balance - from.held, "a conversion never spends more than is available").toBeGreaterThanOrEqual(0);
        return {
          ok: true,
          approved: true,
          customerId: cid,
          from: { account: input.from, amount: -input.amount, balance: from.balance, available: from.balance - from.held },
          to: { account: input.to, amount: value, currency: "EUR", balance: to.balance, available: to.balance - to.held },
        };
      }
      case "adjust": {
        const cid = this.find(input.customer);
        if (!cid) return "UNKNOWN_CUSTOMER";
        this.post(cid, { kind: "adjustment", amount: input.amount, at: now, account: input.account });
        if (input.amount < 0) {
          this.adjustedDown.add(`${cid}|${input.account}`);
          this.consumeLots(cid, input.account, -input.amount, null);
        }
        const a = this.acc(cid, input.account);
        return { ok: true, customerId: cid, account: input.account, amount: input.amount, balance: a.balance, available: a.balance - a.held };
      }
      case "sweepExpiry": {
        const cid = input.customerId as string;
        let expired = 0;
        for (const lot of this.lotsOf(cid)) {
          if (lot.expiresAt > now) continue;
          // Never below what open holds need: only the available part of the lot is taken.
          const a = this.acc(cid, lot.account);
          const availableBefore = a.balance - a.held;
          const balanceBefore = a.balance;
          const amount = Math.min(lot.r, Math.max(0, availableBefore));
          if (amount > 0) this.post(cid, { kind: "expiry", amount: -amount, at: lot.expiresAt, eventId: lot.e, account: lot.account });
          // What open holds cover stays in the lot, to expire at a later sweep.
          if (amount === lot.r || balanceBefore <= 0) this.lots.splice(this.lots.indexOf(lot), 1);
          else lot.r -= amount;
          expired += amount;
          expect(a.balance - a.held, "an expiry never takes the available balance below zero").toBeGreaterThanOrEqual(Math.min(0, availableBefore));
        }
        return { ok: true, customerId: cid, expired };
      }
      case "expireHold": {
        const h = this.holds.get(input.holdId);
        if (!h || h.status !== "open" || now < h.expiresAt) return { ok: true, expired: false };
        this.expireHold(input.holdId, h);
        return { ok: true, expired: true, holdId: input.holdId };
      }
      default:
        throw new Error(`the model does not cover ${c.verb} (reply ${JSON.stringify(reply)})`);
    }
  }

  /** A hold past its time: freed, with a zero-amount mark in the statement dated when it lapsed. */
  private expireHold(holdId: string, h: MHold): void {
    h.status = "expired";
    this.acc(h.customerId, h.account).held -= h.amount;
    this.post(h.customerId, { kind: "hold.expired", amount: 0, at: h.expiresAt, holdId, held: h.amount, account: h.account });
  }

  /** A sale: a visit, its lines' amounts, its month, store s01, channel store, skus and categories. */
  private addPurchase(cid: string, input: Record<string, any>): void {
    let p = this.purchases.get(cid);
    if (!p) {
      p = { visits: 0, spend: 0, firstAt: input.at, lastAt: input.at, months: new Map(), stores: new Map(), channels: new Map(), skus: new Map(), categories: new Map() };
      this.purchases.set(cid, p);
    }
    const day = Math.floor(input.at / DAY_MS);
    let spend = 0;
    for (const l of input.lines as RawLine[]) {
      spend += amountOf(l);
      tallyAdd(p.skus, l.sku, milli(l.qty), amountOf(l), day);
      if (l.category) tallyAdd(p.categories, l.category, milli(l.qty), amountOf(l), day);
    }
    p.visits += 1;
    p.spend += spend;
    p.firstAt = Math.min(p.firstAt, input.at);
    p.lastAt = Math.max(p.lastAt, input.at);
    const m = p.months.get(monthOf(input.at)) ?? [0, 0];
    p.months.set(monthOf(input.at), [m[0] + 1, m[1] + spend]);
    tallyAdd(p.stores, "s01", 1, spend, day);
    tallyAdd(p.channels, "store", 1, spend, day);
  }

  /** A return takes back its lines' quantities and amount shares; a void the visit too. */
  private takeBackPurchase(sale: MSale, back: [string, number, number][], isVoid: boolean): void {
    const p = this.purchases.get(sale.customerId)!;
    let amount = 0;
    for (const [lineId, qMilli, a] of back) {
      const item = sale.items.get(lineId)!;
      amount += a;
      tallyTake(p.skus, item.sku, qMilli, a);
      if (item.category) tallyTake(p.categories, item.category, qMilli, a);
    }
    const visits = isVoid ? 1 : 0;
    p.visits -= visits;
    p.spend -= amount;
    const m = p.months.get(monthOf(sale.at))!;
    p.months.set(monthOf(sale.at), [m[0] - visits, m[1] - amount]);
    tallyTake(p.stores, "s01", visits, amount);
    tallyTake(p.channels, "store", visits, amount);
  }

  private sale(input: Record<string, any>, store: Store): string | Reply {
    let cid = this.find(input.customer);
    if (!cid) {
      if (!("phone" in input.customer)) return "UNKNOWN_CUSTOMER";
      this.customerSeq += 1;
      cid = idOf(this.customerSeq, "cu");
      this.refs.set(`phone:${input.customer.phone}`, cid);
    }
    const want = expectedEarned(input.lines);
    // The line attribution is the rule engine's (largest remainder); take it from the stored
    // sale record, whose earning fields never change after the sale, and check its sums.
    const record = getEvent(store, input.eventId)?.s;
    expect(record, `sale ${input.eventId} is recorded`).toBeDefined();
    expect(record!.customerId).toBe(cid);
    const progs = record!.programmes.map((p) => ({ account: p.account, earned: p.earned, lineEarned: { ...p.lineEarned }, basketEarned: p.basketEarned }));
    expect(Object.fromEntries(progs.map((p) => [p.account, p.earned])), `earned on ${input.eventId}`).toEqual(
      Object.fromEntries(Object.entries(want).filter(([, v]) => v > 0)),
    );
    const lineIds = new Set(input.lines.map((l: RawLine) => l.lineId));
    for (const p of progs) {
      expect(Object.values(p.lineEarned).reduce((s, v) => s + v, 0) + p.basketEarned).toBe(p.earned);
      for (const [lineId, v] of Object.entries(p.lineEarned)) {
        expect(lineIds.has(lineId)).toBe(true);
        expect(v).toBeGreaterThanOrEqual(0);
      }
      expect(p.basketEarned).toBeGreaterThanOrEqual(0);
    }
    const perAccount = new Map<string, number>();
    const lots: (MLot | null)[] = [];
    for (const p of progs) {
      this.post(cid, { kind: "accrual", amount: p.earned, at: input.at, eventId: input.eventId, account: p.account });
      perAccount.set(p.account, p.earned);
      const days = EXPIRY_DAYS[p.account];
      // Points that only pay back a negative balance never expire: the lot holds the rest.
      const lotAmount = Math.min(p.earned, Math.max(0, this.acc(cid, p.account).balance));
      const lot = lotAmount > 0 && days !== undefined ? { customerId: cid, account: p.account, expiresAt: input.at + days * DAY_MS, order: ++this.lotOrder, r: lotAmount, e: input.eventId } : null;
      if (lot) this.lots.push(lot);
      lots.push(lot);
    }
    expect(record!.lots.map((l) => l?.[0] ?? null), `lots of ${input.eventId}`).toEqual(lots.map((l) => l?.expiresAt ?? null));
    this.addPurchase(cid, input);
    this.sales.set(input.eventId, {
      customerId: cid,
      at: input.at,
      items: new Map(input.lines.map((l: RawLine) => [l.lineId, { sku: l.sku, category: l.category ?? null, amount: amountOf(l) }])),
      lots,
      soldMilli: new Map(input.lines.map((l: RawLine) => [l.lineId, milli(l.qty)])),
      returnedMilli: new Map(),
      progs,
      taken: progs.map(() => new Map()),
      voided: false,
    });
    return { ok: true, type: "sale", eventId: input.eventId, duplicate: false, ...this.accrualReply(cid, want.points + want.club, perAccount) };
  }

  private reverse(input: Record<string, any>): string | Reply {
    const sale = this.sales.get(input.originalEventId);
    if (!sale) return "UNKNOWN_EVENT";
    if (sale.voided) return "RETURN_EXCEEDS_SALE";
    const returning = new Map<string, number>();
    if (input.type === "return" && input.lines) {
      for (const l of input.lines as { lineId: string; qty: number }[]) {
        const sold = sale.soldMilli.get(l.lineId);
        if (sold === undefined) return "VALIDATION";
        const left = sold - (sale.returnedMilli.get(l.lineId) ?? 0) - (returning.get(l.lineId) ?? 0);
        if (milli(l.qty) > left) return "RETURN_EXCEEDS_SALE";
        returning.set(l.lineId, (returning.get(l.lineId) ?? 0) + milli(l.qty));
      }
    } else {
      for (const [lineId, sold] of sale.soldMilli) {
        const left = sold - (sale.returnedMilli.get(lineId) ?? 0);
        if (left > 0) returning.set(lineId, left);
      }
      if (input.type === "return" && returning.size === 0) return "RETURN_EXCEEDS_SALE";
    }
    const back: [string, number, number][] = [];
    for (const [lineId, q] of returning) {
      const before = sale.returnedMilli.get(lineId) ?? 0;
      const sold = sale.soldMilli.get(lineId)!;
      const whole = sale.items.get(lineId)!.amount;
      back.push([lineId, q, shareOf(whole, before + q, sold) - shareOf(whole, before, sold)]);
      sale.returnedMilli.set(lineId, before + q);
    }
    this.takeBackPurchase(sale, back, input.type === "void");
    const fully = [...sale.soldMilli].every(([id, sold]) => (sale.returnedMilli.get(id) ?? 0) >= sold);
    const perAccount = new Map<string, number>();
    let total = 0;
    sale.progs.forEach((p, i) => {
      const taken = sale.taken[i]!;
      let amount = 0;
      for (const lineId of returning.keys()) {
        const target = shareOf(p.lineEarned[lineId] ?? 0, sale.returnedMilli.get(lineId)!, sale.soldMilli.get(lineId)!);
        amount += target - (taken.get(lineId) ?? 0);
        taken.set(lineId, target);
      }
      if (fully || input.type === "void") {
        amount += p.basketEarned - (taken.get("") ?? 0);
        taken.set("", p.basketEarned);
      }
      if (amount === 0) return;
      const a = this.acc(sale.customerId, p.account);
      const back = this.whenSpent === "clamp" ? Math.min(amount, Math.max(0, a.balance - a.held)) : amount;
      if (back > 0) {
        this.post(sale.customerId, { kind: input.type, amount: -back, at: input.at, eventId: input.eventId, account: p.account });
        this.consumeLots(sale.customerId, p.account, back, sale.lots[i]!);
      }
      perAccount.set(p.account, -back);
      total += back;
      const t = this.takenBack.get(input.originalEventId) ?? new Map<string, number>();
      t.set(p.account, (t.get(p.account) ?? 0) + back);
      this.takenBack.set(input.originalEventId, t);
    });
    if (input.type === "void") sale.voided = true;
    return { ok: true, type: input.type, eventId: input.eventId, originalEventId: input.originalEventId, duplicate: false, ...this.accrualReply(sale.customerId, -total, perAccount) };
  }
}

// ---- building concrete commands from abstract operations -----------------------------------

interface Issued {
  verb: "accrue" | "enroll" | "authorize" | "capture" | "release" | "convert" | "adjust";
  raw: Record<string, any>;
}

class Builder {
  n = 0;
  sales: { eventId: string; lines: { lineId: string; qty: number }[] }[] = [];
  issued: Issued[] = [];
  /** Holds from earlier batches' replies, and those of them the model holds open. */
  knownHolds: string[] = [];
  openHolds: string[] = [];
  constructor(readonly clock: { now: number }) {}

  private issue(verb: Issued["verb"], raw: Record<string, any>): Command {
    this.issued.push({ verb, raw });
    return cmd(verb, raw);
  }

  enrolments(): Command[] {
    return CARDS.map((card, i) => {
      const c = enrol(`e-${i}`, card);
      this.issued.push({ verb: "enroll", raw: { requestId: `e-${i}`, card, profile: { name: `n-${card}` } } });
      return c;
    });
  }

  build(op: Exclude<Op, { t: "advance" | "advanceTo" }>): Command {
    const n = ++this.n;
    const at = this.clock.now;
    switch (op.t) {
      case "sale": {
        const customer = op.who < 3 ? { card: CARDS[op.who]! } : op.who < 5 ? { phone: PHONES[op.who - 3]! } : { card: "C-unknown" };
        const lines = op.lines.map((l, i) => {
          const line: RawLine = { lineId: String(i), sku: `sku-${i}`, qty: l.qty, unitPrice: l.unitPrice };
          if (l.category) line.category = l.category;
          if (l.discount) line.amount = Math.floor((Math.round(l.qty * l.unitPrice) * 9) / 10);
          return line;
        });
        this.sales.push({ eventId: `s-${n}`, lines: lines.map((l) => ({ lineId: l.lineId, qty: l.qty })) });
        return this.issue("accrue", { type: "sale", eventId: `s-${n}`, at, storeId: "s01", customer, currency: "EUR", lines });
      }
      case "return": {
        const target = this.sales.length === 0 || op.pick % 13 === 12 ? { eventId: "s-unknown", lines: [{ lineId: "0", qty: 1 }] } : recent(this.sales, op.pick);
        const raw: Record<string, any> = { type: "return", eventId: `r-${n}`, originalEventId: target.eventId, at };
        if (!op.whole) {
          // line 3 stands for line "9", which no sale has (a VALIDATION error)
          raw.lines = op.lines.map((l) => {
            const sold = l.line < 3 ? target.lines[l.line % target.lines.length] : undefined;
            return sold ? { lineId: sold.lineId, qty: returnedQty(l.qty, sold.qty) } : { lineId: "9", qty: 1 };
          });
        }
        return this.issue("accrue", raw);
      }
      case "void": {
        const target = this.sales.length === 0 ? "s-unknown" : recent(this.sales, op.pick).eventId;
        return this.issue("accrue", { type: "void", eventId: `v-${n}`, originalEventId: target, at });
      }
      case "authorize": {
        const raw: Record<string, any> = { requestId: `a-${n}`, customer: { card: op.who < 3 ? CARDS[op.who]! : "C-unknown" }, account: op.account, amount: op.amount };
        if (op.ttlMs !== null) raw.ttlMs = op.ttlMs;
        return this.issue("authorize", raw);
      }
      case "capture": {
        const raw: Record<string, any> = { requestId: `c-${n}`, holdId: this.hold(op.pick) };
        if (op.amount !== null) raw.amount = op.amount;
        return this.issue("capture", raw);
      }
      case "release":
        return this.issue("release", { requestId: `rl-${n}`, holdId: this.hold(op.pick) });
      case "expire":
        return expireCmd(this.hold(op.pick));
      case "convert": {
        const customer = { card: op.who < 3 ? CARDS[op.who]! : "C-unknown" };
        const to = op.to === op.from ? "prepaid" : op.to; // the codec refuses from === to
        return this.issue("convert", { requestId: `cv-${n}`, customer, from: op.from, to, amount: op.amount });
      }
      case "adjust": {
        const customer = { card: op.who < 3 ? CARDS[op.who]! : "C-unknown" };
        return this.issue("adjust", { requestId: `adj-${n}`, customer, account: op.account, amount: op.amount, reason: "goodwill", operator: "op-1" });
      }
      case "sweep":
        return { verb: "sweepExpiry", input: { customerId: idOf(op.who, "cu") }, hash: "" };
      case "dup": {
        const prev = recent(this.issued, op.pick);
        const raw = op.reorder ? Object.fromEntries(Object.entries(prev.raw).reverse()) : prev.raw;
        return cmd(prev.verb, raw);
      }
      case "conflict": {
        const prev = recent(this.issued, op.pick);
        const raw = { ...prev.raw };
        if (prev.verb === "accrue") raw.at = raw.at + 1;
        else if (prev.verb === "enroll") raw.profile = { name: "someone else" };
        else if (prev.verb === "authorize") raw.amount = raw.amount + 1;
        else if (prev.verb === "capture") raw.amount = (raw.amount ?? 0) + 1;
        else if (prev.verb === "convert") raw.amount = raw.amount + 1;
        else if (prev.verb === "adjust") raw.reason = `${raw.reason}, again`;
        else raw.holdId = `${raw.holdId}x`;
        return cmd(prev.verb, raw);
      }
    }
  }

  /** A hold from an earlier batch's reply, or (sometimes) one that does not exist. */
  private hold(pick: number): string {
    if (this.knownHolds.length === 0 || pick % 11 === 10) return "h_nohold";
    if (this.openHolds.length > 0 && pick % 4 !== 3) return recent(this.openHolds, pick);
    return recent(this.knownHolds, pick);
  }
}

// ---- invariants read from the store -----------------------------------------------------------

/** Every customer of a scenario has one of these references. */
const REFS: Record<string, string>[] = [...CARDS.map((card) => ({ card })), ...PHONES.map((phone) => ({ phone }))];
/** Appended to every batch: the balance and statement of every reference, after the batch's commands. */
const READS: Command[] = REFS.flatMap((customer) => [cmd("balance", { customer }), cmd("statement", { customer, limit: 1000 })]);

/** The expected `expiring` of a balance reply: the first 20 instants, each with its whole amount. */
function expiringView(groups: { amount: number; at: number }[]): unknown[] {
  return groups.slice(0, 20);
}

/** Purchase knowledge equals the model's for every customer: exact, however the sales were returned and voided. */
function checkPurchases(store: Store, model: Model): void {
  const sorted = (list: Tally[]) => [...list].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  // The record knows keys by hash and length, and lists them so.
  const fromModel = (list: Map<string, MTally>) => [...list].map(([k, t]) => [tallyKey(k), ...t] as Tally).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  for (const cid of customerIds(store)) {
    const r = purchaseRecordOf(store, cid);
    const m = model.purchases.get(cid);
    if (!m) {
      expect(r, `purchases of ${cid}, who bought nothing`).toBeNull();
      continue;
    }
    expect(
      r && { ...r, stores: sorted(r.stores), channels: sorted(r.channels), skus: sorted(r.skus), categories: sorted(r.categories) },
      `purchases of ${cid}`,
    ).toEqual({
      visits: m.visits,
      spend: m.spend,
      firstAt: m.firstAt,
      lastAt: m.lastAt,
      months: [...m.months].sort(([a], [b]) => a - b).map(([month, [visits, spend]]) => [month, visits, spend]),
      stores: fromModel(m.stores),
      channels: fromModel(m.channels),
      skus: fromModel(m.skus),
      categories: fromModel(m.categories),
      dropped: [-1, -1, -1, -1],
    });
  }
}

function checkInvariants(h: Harness, model: Model, reads: Reply[]): void {
  const { store } = h;
  expect(customerIds(store), "customers").toEqual([...new Set(model.refs.values())].sort());
  checkPurchases(store, model);
  const holds = allHolds(store);
  REFS.forEach((ref, i) => {
    const balance = reads[2 * i]!;
    const statement = reads[2 * i + 1]!;
    const cid = model.find(ref);
    if (cid === undefined) {
      expect([balance.error?.code, statement.error?.code], `${JSON.stringify(ref)} is no customer`).toEqual(["UNKNOWN_CUSTOMER", "UNKNOWN_CUSTOMER"]);
      return;
    }
    const entries = entriesOf(store, cid);
    // The ledger is the model's ledger, entry for entry: a failed command left nothing behind.
    expect(
      entries.map((e) => ({
        kind: e.kind,
        amount: e.amount,
        at: e.at,
        account: e.account,
        ...(e.eventId ? { eventId: e.eventId } : {}),
        ...(e.holdId ? { holdId: e.holdId } : {}),
        ...(e.held !== undefined ? { held: e.held } : {}),
      })),
      `entries of ${cid}`,
    ).toEqual(model.entries.get(cid) ?? []);
    expect(statement.entries.map((e: Reply) => [e.seq, e.kind, e.held])).toEqual(entries.map((e) => [e.seq, e.kind, e.held]));
    const expectedAccounts = model.accountsOf(cid).map(([account, s]) => ({
      account,
      unit: "points", // both programmes keep points (the default unit)
      balance: s.balance,
      held: s.held,
      available: s.balance - s.held,
      expiring: expiringView(model.expiring(cid, account)),
    }));
    expect(balance, `balance of ${cid}`).toEqual({ ok: true, customerId: cid, groups: [], accounts: expectedAccounts, tier: null });
    for (const a of balance.accounts as Reply[]) {
      const stored = store.wallets.get(cid)!.accounts[a.account]!;
      // balance == sum of the ledger entries (table, statement verb and balance verb agree)
      const sum = entries.filter((e) => e.account === a.account).reduce((s, e) => s + e.amount, 0);
      const stmtSum = (statement.entries as Reply[]).filter((e) => e.account === a.account).reduce((s, e) => s + e.amount, 0);
      expect({ cached: stored.balance, verb: a.balance, statement: stmtSum }, `balance = sum of entries, ${cid}/${a.account}`).toEqual({ cached: sum, verb: sum, statement: sum });
      // held == sum of the open holds; under "clamp" the available balance never goes negative
      const open = holds.filter((x) => x.customerId === cid && x.account === a.account && x.status === "open").reduce((s, x) => s + x.amount, 0);
      expect({ held: stored.held, verb: a.held }, `held = open holds, ${cid}/${a.account}`).toEqual({ held: open, verb: open });
      expect(a.available).toBe(a.balance - a.held);
      expect(a.held).toBeGreaterThanOrEqual(0);
      if (model.whenSpent === "clamp" && !model.adjustedDown.has(`${cid}|${a.account}`)) {
        expect(a.available, `available of ${cid}/${a.account}`).toBeGreaterThanOrEqual(0);
      }
      // The remaining expiring points never exceed the balance (points paying back a debt form no lot).
      const lots = model.lotsOf(cid, a.account).reduce((t, l) => t + l.r, 0);
      expect(lots, `lots of ${cid}/${a.account} <= balance`).toBeLessThanOrEqual(Math.max(0, a.balance));
    }
  });

  // The lots are the model's lots, point for point, each keyed by its sale's accrual entry and
  // mirrored in the sweeper's index; they only ever hold positive remainders.
  // Format 5: in the wallets; the format-4 table stays empty.
  expect(store.lots.getCount(), "the lots table is not written").toBe(0);
  const storedLots = [...allLots(store)];
  expect(
    storedLots.map(({ key, value }) => ({ customerId: key[0], account: key[1], expiresAt: key[2], r: value.r, e: value.e })),
    "lots",
  ).toEqual(model.lots.map((l) => l.customerId).filter((c, i, all) => all.indexOf(c) === i).sort().flatMap((c) => model.lotsOf(c).map(({ customerId, account, expiresAt, r, e }) => ({ customerId, account, expiresAt, r, e }))));
  const accrualSeq = new Map(allEntries(store).filter((e) => e.kind === "accrual").map((e) => [`${e.eventId}|${e.account}`, e.seq]));
  for (const { key, value } of storedLots) {
    expect(value.r).toBeGreaterThan(0);
    expect(key[3], `lot ${JSON.stringify(key)} keyed by its accrual`).toBe(accrualSeq.get(`${value.e}|${key[1]}`));
  }
  // The sweeper's index holds one key per customer with lots, never later than the lots need it.
  const dueKeys = [...store.expiryDue.getKeys()];
  expect(new Set(dueKeys.map((k) => k[1])).size, "one due key per customer").toBe(dueKeys.length);
  for (const [due, cid] of dueKeys) expect(store.wallets.get(cid)?.due, `due of ${cid}`).toBe(due);
  for (const { key, value } of storedLots) {
    const due = store.wallets.get(key[0])?.due;
    const needed = value.n ? key[2] : key[2] - h.ledger.options.expiryNoticeMs;
    expect(due !== undefined && due <= needed, `lot ${JSON.stringify(key)} is due at ${needed}, index says ${due}`).toBe(true);
  }

  // Failed commands recorded nothing: no idempotency record, no sale record.
  const idemKeys = [...[...store.events.getKeys()].map((k) => `ev:${String(k)}`), ...[...store.requests.getKeys()].map((k) => `rq:${String(k)}`)];
  expect(idemKeys.sort(), "idempotency records").toEqual([...model.idem.keys()].sort());
  const saleKeys = [...store.events.getRange()].filter(({ value }) => value.s).map(({ key }) => String(key));
  expect(saleKeys.sort(), "sale records").toEqual([...model.sales.keys()].sort());

  const entries = allEntries(store);
  // An event id takes effect at most once: one accrual entry per (sale, account), one per (return/void, account).
  // (Expiry entries name the sale whose points expire; a lot partly covered by a hold expires in parts.)
  const seen = new Set<string>();
  for (const e of entries) {
    if (!e.eventId || e.kind === "expiry") continue;
    const k = `${e.kind}|${e.eventId}|${e.account}`;
    expect(seen.has(k), `${k} applied twice`).toBe(false);
    seen.add(k);
  }
  // A hold is captured at most once, never for more than it held; its life is in the statement:
  // one "hold" entry, then one entry for how it ended (redemption, release or hold.expired).
  const byHold = new Map<string, number>();
  for (const e of entries) if (e.kind === "redemption") byHold.set(e.holdId!, (byHold.get(e.holdId!) ?? 0) + 1);
  const ENDS: Record<string, string | null> = { open: null, captured: "redemption", released: "release", expired: "hold.expired" };
  for (const x of holds) {
    const n = byHold.get(x.holdId) ?? 0;
    expect(n, `captures of ${x.holdId}`).toBe(x.status === "captured" ? 1 : 0);
    const marks = entries.filter((e) => e.holdId === x.holdId);
    const end = ENDS[x.status];
    expect(marks.map((e) => e.kind), `entries of ${x.holdId}`).toEqual(end ? ["hold", end] : ["hold"]);
    for (const e of marks) {
      expect({ held: e.held, account: e.account, customerId: e.customerId }, `${e.kind} of ${x.holdId}`).toEqual({ held: x.amount, account: x.account, customerId: x.customerId });
      if (e.kind !== "redemption") expect(e.amount, `${e.kind} of ${x.holdId} moves nothing`).toBe(0);
    }
    expect(x.captured).toBeLessThanOrEqual(x.amount);
    expect(x.status).toBe(model.holds.get(x.holdId)!.status);
    expect(x.amount).toBe(model.holds.get(x.holdId)!.amount);
  }
  expect(holds.length).toBe(model.holds.size);
  // Returns and voids never take back more than the sale earned, per account.
  const earnedBySale = new Map<string, number>();
  const backBySale = new Map<string, number>();
  for (const e of entries) {
    if (e.kind === "accrual") earnedBySale.set(`${e.eventId}|${e.account}`, e.amount);
    if (e.kind === "return" || e.kind === "void") {
      const sale = /of sale (\S+)$/.exec(e.cause)![1]!;
      backBySale.set(`${sale}|${e.account}`, (backBySale.get(`${sale}|${e.account}`) ?? 0) - e.amount);
    }
  }
  for (const [k, back] of backBySale) expect(back, `taken back from ${k}`).toBeLessThanOrEqual(earnedBySale.get(k) ?? 0);
  for (const [saleId, s] of model.sales) {
    const rec = getEvent(store, saleId)!.s!;
    expect(rec.voided).toBe(s.voided);
    rec.programmes.forEach((p, i) => {
      const taken = Object.values(rec.taken[i]!).reduce((a, b) => a + b, 0);
      expect(taken, `taken from ${saleId}/${p.account}`).toBeLessThanOrEqual(p.earned);
      if (model.whenSpent === "negative") expect(backBySale.get(`${saleId}|${p.account}`) ?? 0).toBe(taken);
    });
  }
}

// ---- coverage: LEDGER_PROPERTY_STATS=1 prints what the runs exercised ------------------------

const STATS = process.env.LEDGER_PROPERTY_STATS === "1";
/** LEDGER_PROPERTY_RUNS=10 multiplies the runs of every property (soak), LEDGER_PROPERTY_SEED replays one. */
const RUNS_FACTOR = Number(process.env.LEDGER_PROPERTY_RUNS ?? "1");
const settings = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns: Math.round(numRuns * RUNS_FACTOR),
  ...(process.env.LEDGER_PROPERTY_SEED ? { seed: Number(process.env.LEDGER_PROPERTY_SEED) } : {}),
  endOnFailure: process.env.LEDGER_PROPERTY_NO_SHRINK === "1",
});
const stats = new Map<string, number>();
function tally(c: Command, r: Reply): void {
  const input = c.input as Record<string, any>;
  const what = c.verb === "accrue" ? input.type : c.verb;
  const outcome =
    r.ok === false ? r.error.code
    : r.duplicate === true ? "duplicate"
    : r.approved === false ? "declined"
    : r.expired === true || r.expired > 0 ? "expired"
    : r.expired === 0 ? "nothing"
    : c.verb === "adjust" ? (input.amount > 0 ? "credit" : "debit")
    : "ok";
  const k = `${what}:${outcome}${what === "return" && r.ok !== false ? (input.lines ? ":partial" : ":whole") : ""}`;
  stats.set(k, (stats.get(k) ?? 0) + 1);
}

// ---- the properties ---------------------------------------------------------------------------

async function runScenario(whenSpent: "negative" | "clamp", ops: Op[], sizes: number[], commit: "worker" | "inline" = "worker"): Promise<void> {
  const h = await openHarness({ whenSpent }, PROGRAMMES, commit);
  try {
    const model = new Model(whenSpent);
    const builder = new Builder(h.clock);
    const apply = async (commands: Command[]) => {
      if (commands.length === 0) return;
      const all = await h.apply([...commands, ...READS]);
      const replies = all.slice(0, commands.length);
      commands.forEach((c, i) => {
        model.step(c, replies[i]!, h.clock.now, h.store);
        if (STATS) tally(c, replies[i]!);
      });
      for (const r of replies) if (r.approved === true && typeof r.holdId === "string" && !builder.knownHolds.includes(r.holdId)) builder.knownHolds.push(r.holdId);
      builder.openHolds = [...model.holds].filter(([, x]) => x.status === "open").map(([id]) => id);
      checkInvariants(h, model, all.slice(commands.length));
    };
    await apply(builder.enrolments());
    let batch: Command[] = [];
    let b = 0;
    for (const op of ops) {
      if (op.t === "advance" || op.t === "advanceTo") {
        await apply(batch);
        batch = [];
        if (op.t === "advance") h.clock.now += op.ms;
        else if (builder.openHolds.length > 0) {
          const to = model.holds.get(recent(builder.openHolds, op.pick))!.expiresAt + op.delta;
          h.clock.now = Math.max(h.clock.now, to);
        }
        continue;
      }
      batch.push(builder.build(op));
      if (batch.length >= sizes[b % sizes.length]!) {
        await apply(batch);
        batch = [];
        b += 1;
      }
    }
    await apply(batch);
  } finally {
    await h.close();
  }
}

/** Every scenario starts with points on two of the cards, in a batch of its own. */
const WARM_UP: Op[] = [
  { t: "sale", who: 0, lines: [{ qty: 2, unitPrice: 2500, discount: false, category: "drinks" }] },
  { t: "sale", who: 1, lines: [{ qty: 1, unitPrice: 4000, discount: false, category: "drinks" }] },
  { t: "advance", ms: 0 },
];

describe("ledger properties", () => {
  if (STATS) {
    beforeEach(() => stats.clear());
    afterEach((ctx) => console.log(`${ctx.task.name}\n  ${[...stats].sort().map(([k, v]) => `${k} ${v}`).join("\n  ")}`));
  }

  it("agrees with a reference model and keeps its invariants through any sequence of commands", { timeout: 120_000 * RUNS_FACTOR }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<"negative" | "clamp">("negative", "clamp"),
        fc.array(opArb, { minLength: 1, maxLength: 50, size: "max" }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8 }),
        fc.constantFrom<"worker" | "inline">("worker", "inline"),
        (whenSpent, ops, sizes, commit) => runScenario(whenSpent, [...WARM_UP, ...ops], sizes, commit),
      ),
      settings(60),
    );
  });

  it("returns and voids of one sale, in any order and size, take back exactly what it earned and never more", { timeout: 60_000 * RUNS_FACTOR }, async () => {
    const lineArb = fc.record({ qty: fc.constantFrom(1, 2, 3, 4, 5, 6, 2.5, 0.75), unitPrice: fc.integer({ min: 1, max: 5000 }), discount: fc.boolean(), category: fc.constantFrom("drinks", "food", null) });
    const retArb = fc.record({
      t: fc.constant("return" as const),
      pick: fc.constant(0),
      whole: fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 6, arbitrary: fc.constant(false) }),
      lines: fc.array(fc.record({ line: fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: 2 }) }, { weight: 1, arbitrary: fc.constant(3) }), qty: returnQtyArb }), { minLength: 1, maxLength: 2 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.oneof({ weight: 8, arbitrary: retArb }, { weight: 1, arbitrary: fc.constant({ t: "void" as const, pick: 0 }) }), { minLength: 1, maxLength: 12, size: "max" }),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
        async (lines, reversals, sizes) => {
          const ops: Op[] = [{ t: "sale", who: 0, lines }, ...reversals, { t: "void", pick: 0 }];
          await runScenario("negative", ops, sizes);
        },
      ),
      settings(60),
    );
  });

  it("holds never approve more than available, are captured at most once and expire with the clock", { timeout: 60_000 * RUNS_FACTOR }, async () => {
    const holdOps: fc.Arbitrary<Op> = fc.oneof(
      { weight: 2, arbitrary: fc.record({ t: fc.constant("sale" as const), who: fc.integer({ min: 0, max: 1 }), lines: fc.constant([{ qty: 2, unitPrice: 2500, discount: false, category: "drinks" }]) }) },
      { weight: 5, arbitrary: fc.record({ t: fc.constant("authorize" as const), who: fc.integer({ min: 0, max: 1 }), account: fc.constantFrom("points", "points", "points", "club"), amount: fc.integer({ min: 1, max: 25 }), ttlMs: fc.option(fc.integer({ min: 1000, max: 10_000 }), { nil: null }) }) },
      { weight: 4, arbitrary: fc.record({ t: fc.constant("capture" as const), pick: fc.nat(), amount: fc.option(fc.integer({ min: 1, max: 25 }), { nil: null }) }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant("release" as const), pick: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant("expire" as const), pick: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant("dup" as const), pick: fc.nat(), reorder: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant("return" as const), pick: fc.nat(), whole: fc.constant(true), lines: fc.constant([]) }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 15_000 }) }) },
      { weight: 2, arbitrary: advanceToArb },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<"negative" | "clamp">("negative", "clamp"),
        fc.array(holdOps, { minLength: 1, maxLength: 40, size: "max" }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 6 }),
        (whenSpent, ops, sizes) => runScenario(whenSpent, [...WARM_UP, ...ops], sizes),
      ),
      settings(50),
    );
  });

  it("expiring points: lots are spent soonest first, a return first from its own sale, and swept never below what holds need", { timeout: 60_000 * RUNS_FACTOR }, async () => {
    const who = fc.integer({ min: 0, max: 1 });
    const expiryOps: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ t: fc.constant("sale" as const), who, lines: fc.array(fc.record({ qty: fc.constantFrom(1, 2, 0.5), unitPrice: fc.integer({ min: 100, max: 3000 }), discount: fc.constant(false), category: fc.constantFrom("drinks", null) }), { minLength: 1, maxLength: 2 }) }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant("sweep" as const), who: fc.integer({ min: 1, max: 2 }) }) },
      // hours between sales, so that lots of one customer expire at different instants; a day and more
      { weight: 4, arbitrary: fc.record({ t: fc.constant("advance" as const), ms: fc.oneof(fc.integer({ min: 0, max: 200_000 }), fc.integer({ min: 1, max: 30 }).map((h) => h * 3_600_000)) }) },
      // holds that outlive a lot's expiry (the TTL goes up to a day), so that sweeps meet them
      { weight: 3, arbitrary: fc.record({ t: fc.constant("authorize" as const), who, account: fc.constant("points"), amount: fc.integer({ min: 1, max: 30 }), ttlMs: fc.option(fc.integer({ min: 1, max: 24 }).map((h) => h * 3_600_000), { nil: null }) }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant("capture" as const), pick: fc.nat(), amount: fc.option(fc.integer({ min: 1, max: 30 }), { nil: null }) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant("release" as const), pick: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant("convert" as const), who, from: fc.constant("points"), to: fc.constant("prepaid"), amount: fc.integer({ min: 1, max: 30 }) }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant("adjust" as const), who, account: fc.constant("points"), amount: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: -20, max: -1 })) }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant("return" as const), pick: fc.nat(), whole: fc.boolean(), lines: fc.array(fc.record({ line: fc.integer({ min: 0, max: 1 }), qty: returnQtyArb }), { minLength: 1, maxLength: 2 }) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant("void" as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant("dup" as const), pick: fc.nat(), reorder: fc.boolean() }) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<"negative" | "clamp">("negative", "clamp"),
        fc.array(expiryOps, { minLength: 1, maxLength: 45, size: "max" }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 6 }),
        (whenSpent, ops, sizes) => runScenario(whenSpent, [...WARM_UP, ...ops], sizes),
      ),
      settings(50),
    );
  });
});
