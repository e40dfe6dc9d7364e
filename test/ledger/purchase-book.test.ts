// The purchase book (pure: bytes in, bytes out) against a plain model of its rules, over random
// sales, late sales, returns and voids with more keys and months than its bounds hold, so that
// every list drops entries and the months roll.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addSaleToBook,
  bookBytesMax,
  decodeBook,
  emptyBook,
  isBook,
  keyHash,
  takeBackFromBook,
  type BookBounds,
  type PurchaseRecord,
  type SaleFacts,
  type Tally,
  tallyKey,
} from "../../src/ledger/purchase-book.js";

const DAY_MS = 86_400_000;
const BOUNDS: BookBounds = { months: 3, lists: [3, 2, 4, 5] };
const monthOfDay = (day: number) => new Date(day * DAY_MS).getUTCFullYear() * 12 + new Date(day * DAY_MS).getUTCMonth();

interface MEntry {
  key: string;
  count: number;
  amount: number;
  first: number;
  last: number;
}

/** The rules as docs/operations.md states them, on plain arrays. */
class Model {
  visits = 0;
  spend = 0;
  firstAt = 0;
  lastAt = 0;
  months: [number, number, number][] = [];
  lists: MEntry[][] = [[], [], [], []];
  dropped = [-1, -1, -1, -1];

  sale(s: SaleFacts): void {
    const pending: { list: number; key: string; count: number; amount: number }[] = [];
    const bump = (list: number, key: string, count: number, amount: number) => {
      const e = this.lists[list]!.find((x) => x.key === key);
      if (e) {
        e.count += count;
        e.amount += amount;
        e.first = Math.min(e.first, s.day);
        e.last = Math.max(e.last, s.day);
        return;
      }
      const p = pending.find((x) => x.list === list && x.key === key);
      if (p) {
        p.count += count;
        p.amount += amount;
      } else pending.push({ list, key, count, amount });
    };
    let spend = 0;
    for (const l of s.lines) {
      spend += l.amount;
      bump(3, l.sku, Math.round(l.qty * 1000), l.amount);
      if (l.category !== null) bump(2, l.category, Math.round(l.qty * 1000), l.amount);
    }
    bump(0, s.storeId, 1, spend);
    bump(1, s.channel, 1, spend);
    this.firstAt = this.lastAt === 0 ? s.at : Math.min(this.firstAt, s.at);
    this.lastAt = Math.max(this.lastAt, s.at);
    this.visits += 1;
    this.spend += spend;
    this.addMonth(s.month, spend);
    for (const list of [0, 1, 2, 3]) {
      for (const p of pending.filter((x) => x.list === list)) {
        const entries = this.lists[list]!;
        const fresh = { key: p.key, count: p.count, amount: p.amount, first: s.day, last: s.day };
        if (entries.length < BOUNDS.lists[list]!) {
          entries.push(fresh);
          continue;
        }
        let oldest = 0;
        entries.forEach((e, i) => {
          const o = entries[oldest]!;
          if (e.last < o.last || (e.last === o.last && e.amount < o.amount)) oldest = i;
        });
        const out = entries[oldest]!;
        const replaces = s.day > out.last || (s.day === out.last && p.amount >= out.amount);
        this.dropped[list] = Math.max(this.dropped[list]!, replaces ? out.last : s.day);
        if (replaces) {
          entries.splice(oldest, 1);
          entries.push(fresh);
        }
      }
    }
  }

  private addMonth(month: number, spend: number): void {
    const m = this.months.find((x) => x[0] === month);
    if (m) {
      m[1] += 1;
      m[2] += spend;
      return;
    }
    const floor = Math.max(month, ...this.months.map((x) => x[0])) - BOUNDS.months;
    this.months = this.months.filter((x) => x[0] > floor);
    if (month > floor) this.months.push([month, 1, spend]);
    this.months.sort((a, b) => a[0] - b[0]);
  }

  takeBack(day: number, month: number, storeId: string, channel: string, visits: number, lines: { sku: string; category: string | null; qtyMilli: number; amount: number }[]): void {
    const take = (list: number, key: string, count: number, amount: number) => {
      const e = this.lists[list]!.find((x) => x.key === key);
      if (!e || day < e.first) return;
      e.count = Math.max(0, e.count - count);
      e.amount = Math.max(0, e.amount - amount);
    };
    let amount = 0;
    for (const l of lines) {
      amount += l.amount;
      take(3, l.sku, l.qtyMilli, l.amount);
      if (l.category !== null) take(2, l.category, l.qtyMilli, l.amount);
    }
    take(0, storeId, visits, amount);
    take(1, channel, visits, amount);
    this.visits -= visits;
    this.spend -= amount;
    const m = this.months.find((x) => x[0] === month);
    if (m) {
      m[1] = Math.max(0, m[1] - visits);
      m[2] -= amount;
    }
  }

  record(): PurchaseRecord {
    // The book recognises keys by hash and length; it lists them so.
    const tallies = (list: number): Tally[] => this.lists[list]!.map((e) => [tallyKey(e.key), e.count, e.amount, e.first, e.last]);
    return {
      visits: this.visits,
      spend: this.spend,
      firstAt: this.firstAt,
      lastAt: this.lastAt,
      months: this.months.map((m) => [...m] as [number, number, number]),
      stores: tallies(0),
      channels: tallies(1),
      categories: tallies(2),
      skus: tallies(3),
      dropped: [...this.dropped] as [number, number, number, number],
    };
  }
}

const lineArb = fc.record({
  sku: fc.constantFrom(...Array.from({ length: 12 }, (_, i) => `S${i}`), "ŻÓŁW-ä", "a-very-long-sku-code-0001", "a-very-long-sku-code-0002"),
  category: fc.option(fc.constantFrom("c0", "c1", "c2", "c3", "c4", "c5", "kategoria-długa-nazwa"), { nil: null }),
  qty: fc.constantFrom(1, 2, 0.5, 1.25),
  amount: fc.integer({ min: 0, max: 5000 }),
});
type Op =
  | { t: "sale"; dayStep: number; late: number; store: string; channel: string; lines: { sku: string; category: string | null; qty: number; amount: number }[] }
  | { t: "back"; pick: number; isVoid: boolean; share: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant("sale" as const),
      dayStep: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 20, max: 70 })),
      late: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 90 }) }),
      store: fc.constantFrom("st0", "st1", "st2", "st3", "st4"),
      channel: fc.constantFrom("store", "web", "app", "phone"),
      lines: fc.array(lineArb, { minLength: 1, maxLength: 6 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("back" as const), pick: fc.nat(), isVoid: fc.boolean(), share: fc.constantFrom(0.25, 0.5, 1) }) },
);

describe("purchase book", () => {
  it("agrees with a plain model of its rules through sales, late sales, returns and voids past every bound", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        let book = emptyBook();
        const model = new Model();
        let today = 20_450;
        const sales: { day: number; at: number; store: string; channel: string; lines: { sku: string; category: string | null; qtyMilli: number; amount: number }[]; voided: boolean }[] = [];
        for (const op of ops) {
          if (op.t === "sale") {
            today += op.dayStep;
            const day = today - op.late;
            const at = day * DAY_MS + 3_600_000;
            const facts: SaleFacts = { at, day, month: monthOfDay(day), storeId: op.store, channel: op.channel, lines: op.lines };
            book = addSaleToBook(book, facts, BOUNDS);
            model.sale(facts);
            sales.push({ day, at, store: op.store, channel: op.channel, lines: op.lines.map((l) => ({ sku: l.sku, category: l.category, qtyMilli: Math.round(l.qty * 1000), amount: l.amount })), voided: false });
          } else {
            const open = sales.filter((x) => !x.voided);
            if (open.length === 0) continue;
            const s = open[op.pick % open.length]!;
            const lines = s.lines.map((l) => ({ ...l, qtyMilli: Math.floor(l.qtyMilli * op.share), amount: Math.floor(l.amount * op.share) }));
            for (const [i, l] of lines.entries()) {
              s.lines[i]!.qtyMilli -= l.qtyMilli;
              s.lines[i]!.amount -= l.amount;
            }
            const visits = op.isVoid ? 1 : 0;
            s.voided = op.isVoid;
            const month = monthOfDay(s.day);
            takeBackFromBook(book, { day: s.day, month, storeId: s.store, channel: s.channel, visits, lines: lines.map((l) => ({ skuHash: keyHash(l.sku), categoryHash: l.category === null ? 0 : keyHash(l.category), qtyMilli: l.qtyMilli, amount: l.amount })) });
            model.takeBack(s.day, month, s.store, s.channel, visits, lines);
          }
          expect(isBook(book)).toBe(true);
          expect(book.length).toBeLessThanOrEqual(bookBytesMax(BOUNDS));
          expect(decodeBook(book)).toEqual(model.record());
        }
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 300) },
    );
  });

  it("keeps its size bound: an empty book is its header, a full one bookBytesMax", () => {
    expect(emptyBook().length).toBe(56);
    expect(bookBytesMax({ months: 13, lists: [5, 3, 10, 16] })).toBe(56 + 13 * 12 + 34 * 21);
  });
});
