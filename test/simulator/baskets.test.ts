// The POS traffic generator: deterministic per seed, contract-shaped, honest about its mix.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createBasketGenerator,
  enrolRequest,
  enrolRequests,
  type GeneratedEvent,
  type ReturnEvent,
  type SaleEvent,
} from "../../src/simulator/baskets.js";
import { mulberry32, zipfSampler } from "../../src/simulator/random.js";

const STORES = new Set(["s01", "s02", "s03", "s04", "s05"]);
const CATEGORIES = new Set(["drinks", "bakery", "dairy", "produce", "household", "electronics"]);
const ID_RE = /^[\x21-\x7e]{1,128}$/;

function take(seed: number, n: number, customers = 1000): GeneratedEvent[] {
  const gen = createBasketGenerator({ seed, customers });
  return Array.from({ length: n }, () => gen.next());
}

function expectValidSale(e: SaleEvent, customers: number): void {
  expect(e.eventId).toMatch(ID_RE);
  expect(Number.isSafeInteger(e.at)).toBe(true);
  expect(STORES.has(e.storeId)).toBe(true);
  expect(["store", "webshop"]).toContain(e.channel);
  expect(e.currency).toBe("EUR");
  expect(e.lines.length).toBeGreaterThanOrEqual(1);
  expect(e.lines.length).toBeLessThanOrEqual(20);
  const lineIds = new Set(e.lines.map((l) => l.lineId));
  expect(lineIds.size).toBe(e.lines.length);
  for (const l of e.lines) {
    expect(Number.isSafeInteger(l.unitPrice) && l.unitPrice > 0).toBe(true);
    expect(Number.isSafeInteger(l.qty) && l.qty > 0).toBe(true);
    expect(CATEGORIES.has(l.category)).toBe(true);
    expect(l.sku).toMatch(ID_RE);
  }
  const sumLines = e.lines.reduce((s, l) => s + l.qty * l.unitPrice, 0);
  expect(e.total).toBe(sumLines);
  expect(e.tenders.every((t) => Number.isSafeInteger(t.amount) && t.amount > 0)).toBe(true);
  expect(e.tenders.reduce((s, t) => s + t.amount, 0)).toBe(e.total);
  if ("card" in e.customer) {
    const n = Number(e.customer.card.slice(2));
    expect(e.customer.card).toMatch(/^C-\d+$/);
    expect(n >= 1 && n <= customers).toBe(true);
  } else if ("phone" in e.customer) {
    expect(e.customer.phone).toMatch(/^\+4860\d{7}$/);
  } else {
    throw new Error("a sale names its customer by card or phone");
  }
}

describe("basket generator", () => {
  it("replays the same traffic for the same seed", () => {
    expect(JSON.stringify(take(42, 3000))).toBe(JSON.stringify(take(42, 3000)));
  });

  it("sends other traffic for another seed", () => {
    expect(JSON.stringify(take(42, 50))).not.toBe(JSON.stringify(take(43, 50)));
  });

  it("emits contract-shaped sales with integer money and tenders summing to the total", () => {
    for (const g of take(7, 2000)) if (g.event.type === "sale") expectValidSale(g.event, 1000);
  });

  it("gives every original event a unique id and re-sends duplicates unchanged", () => {
    const seen = new Map<string, GeneratedEvent>();
    for (const g of take(3, 20_000)) {
      if (g.duplicate) {
        const first = seen.get(g.event.eventId);
        expect(first).toBeDefined();
        expect(JSON.stringify(g.event)).toBe(JSON.stringify(first!.event));
        expect(g.storeId).toBe(first!.storeId);
      } else {
        expect(seen.has(g.event.eventId)).toBe(false);
        seen.set(g.event.eventId, g);
      }
    }
  });

  it("returns and voids only earlier sales, on their store, never more than was sold", () => {
    const sales = new Map<string, { sale: SaleEvent; left: Map<string, number>; closed: boolean }>();
    for (const g of take(11, 30_000)) {
      if (g.duplicate) continue;
      const e = g.event;
      if (e.type === "sale") {
        sales.set(e.eventId, { sale: e, left: new Map(e.lines.map((l) => [l.lineId, l.qty])), closed: false });
        continue;
      }
      const orig = sales.get(e.originalEventId);
      expect(orig, `${e.eventId} references an earlier sale`).toBeDefined();
      expect(orig!.closed).toBe(false);
      expect(g.storeId).toBe(orig!.sale.storeId);
      expect(e.at).toBeGreaterThanOrEqual(orig!.sale.at);
      if (e.type === "void" || !(e as ReturnEvent).lines) {
        // A void or whole return needs an untouched sale.
        expect([...orig!.left.values()]).toEqual(orig!.sale.lines.map((l) => l.qty));
        orig!.closed = true;
        continue;
      }
      for (const l of (e as ReturnEvent).lines!) {
        const left = orig!.left.get(l.lineId)!;
        expect(Number.isSafeInteger(l.qty) && l.qty >= 1 && l.qty <= left).toBe(true);
        orig!.left.set(l.lineId, left - l.qty);
      }
    }
  });

  it("roughly honours the configured rates", () => {
    const n = 50_000;
    const events = take(5, n);
    const share = (pred: (g: GeneratedEvent) => boolean): number => events.filter(pred).length / n;
    expect(share((g) => g.duplicate)).toBeCloseTo(0.02, 2);
    expect(share((g) => !g.duplicate && g.event.type === "return")).toBeCloseTo(0.02, 2);
    expect(share((g) => !g.duplicate && g.event.type === "void")).toBeGreaterThan(0.002);
    expect(share((g) => !g.duplicate && g.event.type === "void")).toBeLessThan(0.006);
    const sales = events.filter((g): g is GeneratedEvent & { event: SaleEvent } => !g.duplicate && g.event.type === "sale");
    const phone = sales.filter((g) => "phone" in g.event.customer).length / sales.length;
    const web = sales.filter((g) => g.event.channel === "webshop").length / sales.length;
    expect(phone).toBeCloseTo(0.05, 1);
    expect(web).toBeCloseTo(0.1, 1);
  });

  it("honours rates of zero and a fixed line count", () => {
    const gen = createBasketGenerator({
      seed: 9,
      customers: 100,
      linesMin: 5,
      linesMax: 5,
      rates: { duplicate: 0, return: 0, void: 0, phone: 0 },
    });
    for (let i = 0; i < 2000; i++) {
      const g = gen.next();
      expect(g.duplicate).toBe(false);
      expect(g.event.type).toBe("sale");
      expect((g.event as SaleEvent).lines).toHaveLength(5);
      expect("card" in (g.event as SaleEvent).customer).toBe(true);
    }
  });

  it("draws customers skewed towards the head", () => {
    const customers = 10_000;
    const counts = new Map<string, number>();
    for (const g of take(1, 20_000, customers)) {
      if (g.event.type !== "sale" || !("card" in g.event.customer)) continue;
      counts.set(g.event.customer.card, (counts.get(g.event.customer.card) ?? 0) + 1);
    }
    const head = [...Array(100).keys()].reduce((s, i) => s + (counts.get(`C-${i + 1}`) ?? 0), 0);
    const tail = [...Array(100).keys()].reduce((s, i) => s + (counts.get(`C-${customers - i}`) ?? 0), 0);
    expect(head).toBeGreaterThan(5 * tail);
  });

  it("makes quote sales that leave the traffic mix unchanged", () => {
    const a = createBasketGenerator({ seed: 21, customers: 500 });
    const b = createBasketGenerator({ seed: 21, customers: 500 });
    const fromA: GeneratedEvent[] = [];
    for (let i = 0; i < 500; i++) {
      if (i % 7 === 0) expectValidSale(a.sale(), 500);
      fromA.push(a.next());
    }
    const fromB = Array.from({ length: 500 }, () => b.next());
    expect(JSON.stringify(fromA)).toBe(JSON.stringify(fromB));
  });
});

describe("enrol requests", () => {
  it("names each card customer once, with a stable request id", () => {
    const all = [...enrolRequests(50)];
    expect(all).toHaveLength(50);
    expect(new Set(all.map((r) => r.card)).size).toBe(50);
    expect(all[41]).toEqual(enrolRequest(42));
    expect(enrolRequest(42)).toMatchObject({ requestId: "sim-enrol-42", card: "C-42" });
    expect(enrolRequest(42).profile.name.length).toBeGreaterThan(0);
  });
});

describe("zipf sampler", () => {
  it("stays within 1..n for any seed, size and skew", () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 10_000_000 }), fc.double({ min: 0.1, max: 0.99, noNaN: true }), (seed, n, s) => {
        const rng = mulberry32(seed);
        const draw = zipfSampler(n, s);
        for (let i = 0; i < 50; i++) {
          const x = draw(rng);
          if (!Number.isInteger(x) || x < 1 || x > n) return false;
        }
        return true;
      }),
    );
  });
});
