// Purchase knowledge through the ledger, on a real LMDB in a temp dir: what a sale adds, what
// returns and voids take back, the bounds of each list, the month buckets, and the switch.
import { afterEach, describe, expect, it } from "vitest";
import { limits } from "../../src/limits.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { bookBytesMax } from "../../src/ledger/purchase-book.js";
import { PURCHASE_BOUNDS, purchaseRecordOf, purchaseStatsOf, purchaseTallyOf, purchaseTotalsOf, tallyKey } from "../../src/ledger/purchases.js";
import { statsOf } from "../../src/ledger/stats-view.js";
import { T0, cmd, enrol, openHarness, ret, sale, voidOf, type Harness, type LineSpec, type Reply } from "./harness.js";

const DAY_MS = 86_400_000;
const CARD = { card: "C-1" };
const ID = "cu_000001";
/** 2026-01-01 is day 20454 since 1970-01-01; January 2026 is month 2026 × 12 + 0. */
const DAY0 = T0 / DAY_MS;
const JAN_2026 = 2026 * 12;

let open: Harness[] = [];
afterEach(async () => {
  for (const h of open) await h.close();
  open = [];
});

async function withCustomer(options: Parameters<typeof openHarness>[0] = {}): Promise<Harness> {
  const h = await openHarness(options);
  open.push(h);
  expect(await h.one(enrol("e-1", "C-1"))).toMatchObject({ ok: true, customerId: ID });
  return h;
}

function saleAt(eventId: string, lines: LineSpec[], at: number, extra: Record<string, unknown> = {}) {
  return cmd("accrue", { ...sale(eventId, CARD, lines, at), ...extra });
}

async function ok(h: Harness, c: ReturnType<typeof cmd>): Promise<Reply> {
  const r = await h.one(c);
  expect(r.ok, JSON.stringify(r)).toBe(true);
  return r;
}

const record = (h: Harness) => purchaseRecordOf(h.store, ID)!;
/** A list entry by its key's name (the record knows keys by hash and length). */
const tally = (list: [string, number, number, number, number][], key: string) => {
  const t = list.find((x) => x[0] === tallyKey(key));
  return t && [key, ...t.slice(1)];
};
const K = tallyKey;

describe("purchase knowledge: a sale", () => {
  it("counts a visit, the lines' amounts, the month, store, channel, skus (in thousandths) and categories", async () => {
    const h = await withCustomer();
    h.clock.now = T0 + 3_600_000;
    await ok(h, saleAt("s-1", [
      { lineId: "1", sku: "A1", qty: 2, unitPrice: 250, category: "drinks" },
      { lineId: "2", sku: "B1", qty: 0.75, unitPrice: 400, amount: 280, category: "bakery" },
      { lineId: "3", sku: "A1", qty: 1, unitPrice: 250, category: "drinks" },
    ], T0 + 3_600_000, { storeId: "s07", channel: "webshop" }));
    const r = record(h);
    expect({ visits: r.visits, spend: r.spend, firstAt: r.firstAt, lastAt: r.lastAt }).toEqual({ visits: 1, spend: 500 + 280 + 250, firstAt: T0 + 3_600_000, lastAt: T0 + 3_600_000 });
    expect(r.months).toEqual([[JAN_2026, 1, 1030]]);
    expect(r.stores).toEqual([[K("s07"), 1, 1030, DAY0, DAY0]]);
    expect(r.channels).toEqual([[K("webshop"), 1, 1030, DAY0, DAY0]]);
    expect(r.skus).toEqual([[K("A1"), 3000, 750, DAY0, DAY0], [K("B1"), 750, 280, DAY0, DAY0]]);
    expect(r.categories).toEqual([[K("drinks"), 3000, 750, DAY0, DAY0], [K("bakery"), 750, 280, DAY0, DAY0]]);
    expect(r.dropped).toEqual([-1, -1, -1, -1]);
  });

  it("accumulates visits and spend, keeps the first and last visit whatever order the sales come in, and averages the basket half up", async () => {
    const h = await withCustomer();
    h.clock.now = T0 + 10 * DAY_MS;
    await ok(h, saleAt("s-1", [{ lineId: "1", qty: 1, unitPrice: 1001 }], T0 + 5 * DAY_MS));
    await ok(h, saleAt("s-2", [{ lineId: "1", qty: 1, unitPrice: 1000 }], T0 + 2 * DAY_MS)); // a late till
    await ok(h, saleAt("s-3", [{ lineId: "1", qty: 1, unitPrice: 1000 }], T0 + 9 * DAY_MS));
    expect(statsOf(h.ledger, ID)).toEqual({ visits: 3, spend: 3001, avgBasket: 1000, firstVisitAt: T0 + 2 * DAY_MS, lastVisitAt: T0 + 9 * DAY_MS });
    await ok(h, saleAt("s-4", [{ lineId: "1", qty: 1, unitPrice: 1001 }], T0 + 9 * DAY_MS));
    // 4002 / 4 = 1000.5: half up
    expect(purchaseTotalsOf(h.store, ID).avgBasket).toBe(1001);
    const sku = tally(record(h).skus, "sku-1")!;
    expect([sku[3], sku[4]]).toEqual([DAY0 + 2, DAY0 + 9]);
  });

  it("reads zeros and nulls for a customer without a sale, and for one nobody knows", async () => {
    const h = await withCustomer();
    const none = { visits: 0, spend: 0, avgBasket: 0, firstVisitAt: null, lastVisitAt: null };
    expect(statsOf(h.ledger, ID)).toEqual(none);
    expect(purchaseStatsOf(h.store, "cu_nobody")).toEqual({ ...none, months: [], stores: [], channels: [], skus: [], categories: [] });
  });

  it("is not counted twice for a re-sent sale, nor at all for a refused one", async () => {
    const h = await withCustomer();
    const s = saleAt("s-1", [{ lineId: "1", qty: 1, unitPrice: 500 }], T0);
    await ok(h, s);
    expect((await h.one(s)).duplicate).toBe(true);
    const refused = await h.one(saleAt("s-2", [{ lineId: "1", qty: 1, unitPrice: 500 }], T0 + 400 * DAY_MS)); // outside the event time window
    expect(refused.ok).toBe(false);
    expect(record(h)).toMatchObject({ visits: 1, spend: 500 });
  });

  it("dates months and days in the deployment's time zone: 23:30 UTC on 31 January is February in Warsaw", async () => {
    const h = await withCustomer({ timeZone: "Europe/Warsaw" });
    const at = Date.UTC(2026, 0, 31, 23, 30);
    h.clock.now = at;
    await ok(h, saleAt("s-1", [{ lineId: "1", qty: 1, unitPrice: 100 }], at));
    const stats = purchaseStatsOf(h.store, ID);
    expect(stats.months).toEqual([{ month: "2026-02", visits: 1, spend: 100 }]);
    expect(stats.skus[0]).toMatchObject({ key: K("sku-1"), firstOn: "2026-02-01", lastOn: "2026-02-01" });
    expect(purchaseTallyOf(purchaseRecordOf(h.store, ID)!, "skus", "sku-1")).toMatchObject({ firstOn: "2026-02-01" });
  });

  it("lists the record as the customer verb and segment queries read it, and finds an entry by its key", async () => {
    const h = await withCustomer();
    await ok(h, saleAt("s-1", [{ lineId: "1", sku: "A1", qty: 1.5, unitPrice: 200, category: "drinks" }, { lineId: "2", sku: "B1", qty: 1, unitPrice: 900 }], T0));
    const on = { firstOn: "2026-01-01", lastOn: "2026-01-01" };
    expect(purchaseStatsOf(h.store, ID)).toEqual({
      visits: 1,
      spend: 1200,
      avgBasket: 1200,
      firstVisitAt: T0,
      lastVisitAt: T0,
      months: [{ month: "2026-01", visits: 1, spend: 1200 }],
      stores: [{ key: K("s01"), count: 1, amount: 1200, ...on }],
      channels: [{ key: K("store"), count: 1, amount: 1200, ...on }],
      categories: [{ key: K("drinks"), count: 1.5, amount: 300, ...on }],
      skus: [
        { key: K("B1"), count: 1, amount: 900, ...on },
        { key: K("A1"), count: 1.5, amount: 300, ...on },
      ],
    });
    const r = record(h);
    expect(purchaseTallyOf(r, "skus", "A1")).toEqual({ key: K("A1"), count: 1.5, amount: 300, ...on });
    expect(purchaseTallyOf(r, "skus", "A2")).toBeNull();
    expect(purchaseTallyOf(r, "stores", "s01")).toMatchObject({ count: 1, amount: 1200 });
  });
});

describe("purchase knowledge: returns and voids", () => {
  const lines: LineSpec[] = [
    { lineId: "1", sku: "A1", qty: 3, unitPrice: 334, amount: 1000, category: "drinks" },
    { lineId: "2", sku: "B1", qty: 1, unitPrice: 500, category: "bakery" },
  ];

  it("a return takes back its lines' quantities and floored amount shares, never the visit; the last return takes the rest", async () => {
    const h = await withCustomer();
    await ok(h, saleAt("s-1", lines, T0));
    await ok(h, cmd("accrue", ret("r-1", "s-1", [{ lineId: "1", qty: 1 }])));
    let r = record(h);
    expect({ visits: r.visits, spend: r.spend }).toEqual({ visits: 1, spend: 1500 - 333 });
    expect(tally(r.skus, "A1")).toEqual(["A1", 2000, 667, DAY0, DAY0]);
    expect(tally(r.categories, "drinks")).toEqual(["drinks", 2000, 667, DAY0, DAY0]);
    expect(r.months).toEqual([[JAN_2026, 1, 1167]]);
    expect(r.stores).toEqual([[K("s01"), 1, 1167, DAY0, DAY0]]);
    await ok(h, cmd("accrue", ret("r-2", "s-1", [{ lineId: "1", qty: 2 }])));
    r = record(h);
    expect(tally(r.skus, "A1")).toEqual(["A1", 0, 0, DAY0, DAY0]);
    expect({ visits: r.visits, spend: r.spend }).toEqual({ visits: 1, spend: 500 });
  });

  it("a void takes back the whole sale and its visit; after a partial return, what was left", async () => {
    const h = await withCustomer();
    await ok(h, saleAt("s-0", [{ lineId: "1", sku: "A1", qty: 1, unitPrice: 100, category: "drinks" }], T0));
    await ok(h, saleAt("s-1", lines, T0));
    await ok(h, cmd("accrue", ret("r-1", "s-1", [{ lineId: "1", qty: 1 }])));
    await ok(h, cmd("accrue", voidOf("v-1", "s-1")));
    const r = record(h);
    expect({ visits: r.visits, spend: r.spend }).toEqual({ visits: 1, spend: 100 });
    expect(r.months).toEqual([[JAN_2026, 1, 100]]);
    expect(r.stores).toEqual([[K("s01"), 1, 100, DAY0, DAY0]]);
    expect(r.channels).toEqual([[K("store"), 1, 100, DAY0, DAY0]]);
    expect(tally(r.skus, "A1")).toEqual(["A1", 1000, 100, DAY0, DAY0]);
    expect(tally(r.skus, "B1")).toEqual(["B1", 0, 0, DAY0, DAY0]);
    // The first and last visit stay: a void does not move them.
    expect([r.firstAt, r.lastAt]).toEqual([T0, T0]);
  });

  it("a whole return takes back every line but not the visit", async () => {
    const h = await withCustomer();
    await ok(h, saleAt("s-1", lines, T0));
    await ok(h, cmd("accrue", ret("r-1", "s-1")));
    const r = record(h);
    expect({ visits: r.visits, spend: r.spend }).toEqual({ visits: 1, spend: 0 });
    expect(r.months).toEqual([[JAN_2026, 1, 0]]);
  });

  it("a refused return (over-return) takes nothing back", async () => {
    const h = await withCustomer();
    await ok(h, saleAt("s-1", lines, T0));
    const before = record(h);
    expect((await h.one(cmd("accrue", ret("r-1", "s-1", [{ lineId: "2", qty: 2 }])))).error.code).toBe("RETURN_EXCEEDS_SALE");
    expect(record(h)).toEqual(before);
  });

  it("a return finds its lines when the line ids are not in the basket's order", async () => {
    const h = await withCustomer();
    await ok(h, saleAt("s-1", [
      { lineId: "b", sku: "B1", qty: 1, unitPrice: 200, category: "bakery" },
      { lineId: "10", sku: "X1", qty: 1, unitPrice: 300, category: "drinks" },
      { lineId: "2", sku: "Y1", qty: 1, unitPrice: 400 },
    ], T0));
    await ok(h, cmd("accrue", ret("r-1", "s-1", [{ lineId: "10", qty: 1 }, { lineId: "b", qty: 1 }])));
    const r = record(h);
    expect(r.skus.map((t) => [t[0], t[2]])).toEqual([[K("B1"), 0], [K("X1"), 0], [K("Y1"), 400]]);
    expect(r.categories.map((t) => [t[0], t[2]])).toEqual([[K("bakery"), 0], [K("drinks"), 0]]);
  });
});

describe("purchase knowledge: bounds", () => {
  it("keeps at most purchaseSkusKept skus, dropping the one bought longest ago, and says up to when it dropped", async () => {
    const h = await withCustomer();
    const n = limits.purchaseSkusKept;
    for (let i = 0; i < n; i++) {
      h.clock.now = T0 + i * DAY_MS;
      await ok(h, saleAt(`s-${i}`, [{ lineId: "1", sku: `K${i}`, qty: 1, unitPrice: 100 + i }], h.clock.now));
    }
    expect(record(h).skus).toHaveLength(n);
    expect(record(h).dropped[3]).toBe(-1);
    // K0 is bought again today: K1 is now the oldest, and the new sku takes its place.
    h.clock.now = T0 + n * DAY_MS;
    await ok(h, saleAt("s-new", [{ lineId: "1", sku: "K0", qty: 1, unitPrice: 100 }, { lineId: "2", sku: "NEW", qty: 1, unitPrice: 5 }], h.clock.now));
    const r = record(h);
    expect(r.skus).toHaveLength(n);
    expect(r.skus.map((t) => t[0])).not.toContain(K("K1"));
    expect(tally(r.skus, "NEW")).toEqual(["NEW", 1000, 5, DAY0 + n, DAY0 + n]);
    expect(tally(r.skus, "K0")).toEqual(["K0", 2000, 200, DAY0, DAY0 + n]);
    expect(r.dropped[3]).toBe(DAY0 + 1);
    // The visit and spend totals are whole whatever the lists drop.
    expect(r.visits).toBe(n + 1);
  });

  it("a return of a dropped sku's sale leaves the tally begun anew after it alone", async () => {
    const h = await withCustomer();
    const n = limits.purchaseSkusKept;
    await ok(h, saleAt("s-old", [{ lineId: "1", sku: "OLD", qty: 1, unitPrice: 700 }], T0));
    for (let i = 1; i <= n; i++) {
      h.clock.now = T0 + i * DAY_MS;
      await ok(h, saleAt(`s-${i}`, [{ lineId: "1", sku: `K${i}`, qty: 1, unitPrice: 100 }], h.clock.now));
    }
    expect(record(h).skus.map((t) => t[0])).not.toContain(K("OLD"));
    h.clock.now = T0 + (n + 1) * DAY_MS;
    await ok(h, saleAt("s-again", [{ lineId: "1", sku: "OLD", qty: 2, unitPrice: 50 }], h.clock.now));
    await ok(h, cmd("accrue", ret("r-1", "s-old", undefined, h.clock.now)));
    const r = record(h);
    expect(tally(r.skus, "OLD")).toEqual(["OLD", 2000, 100, DAY0 + n + 1, DAY0 + n + 1]);
    expect(r.spend).toBe(n * 100 + 100);
  });

  it("keeps stores, channels and categories within their bounds too", async () => {
    const h = await withCustomer();
    const count = Math.max(limits.purchaseStoresKept, limits.purchaseChannelsKept, limits.purchaseCategoriesKept) + 2;
    for (let i = 0; i < count; i++) {
      h.clock.now = T0 + i * 60_000;
      await ok(h, saleAt(`s-${i}`, [{ lineId: "1", qty: 1, unitPrice: 100, category: `cat-${i}` }], h.clock.now, { storeId: `st-${i}`, channel: `ch-${i}` }));
    }
    const r = record(h);
    expect([r.stores.length, r.channels.length, r.categories.length]).toEqual([limits.purchaseStoresKept, limits.purchaseChannelsKept, limits.purchaseCategoriesKept]);
    // All on one day with equal amounts: the one added longest ago goes first, so the last ones stay.
    const last = (n: number, p: string) => Array.from({ length: n }, (_, i) => K(`${p}-${count - n + i}`)).sort();
    expect(r.stores.map((t) => t[0]).sort()).toEqual(last(limits.purchaseStoresKept, "st"));
    expect(r.channels.map((t) => t[0]).sort()).toEqual(last(limits.purchaseChannelsKept, "ch"));
    expect(r.categories.map((t) => t[0]).sort()).toEqual(last(limits.purchaseCategoriesKept, "cat"));
    expect(r.dropped.slice(0, 3)).toEqual([DAY0, DAY0, DAY0]);
  });

  it("keeps purchaseMonthsKept months behind the newest, a late sale older than them counting in the totals only", async () => {
    const h = await withCustomer({ eventLateMsMax: 1000 * DAY_MS });
    const kept = limits.purchaseMonthsKept;
    for (let m = 0; m <= kept; m++) {
      const at = Date.UTC(2024, m, 15);
      h.clock.now = at;
      await ok(h, saleAt(`s-${m}`, [{ lineId: "1", qty: 1, unitPrice: 100 }], at));
    }
    let r = record(h);
    expect(r.months).toHaveLength(kept);
    expect(r.months[0]![0]).toBe(2024 * 12 + 1);
    expect(r.months.at(-1)![0]).toBe(2024 * 12 + kept);
    const before = r.months;
    await ok(h, saleAt("s-late", [{ lineId: "1", qty: 1, unitPrice: 100 }], Date.UTC(2024, 0, 20)));
    r = record(h);
    expect(r.months).toEqual(before);
    expect({ visits: r.visits, firstAt: r.firstAt }).toEqual({ visits: kept + 2, firstAt: Date.UTC(2024, 0, 15) });
  });

  it("keeps skus apart by their hash and length, whatever they share", async () => {
    const h = await withCustomer();
    await ok(h, saleAt("s-1", [{ lineId: "1", sku: "LONG-SKU-NUMBER-0001", qty: 1, unitPrice: 100 }, { lineId: "2", sku: "LONG-SKU-NUMBER-0002", qty: 1, unitPrice: 200 }], T0));
    await ok(h, saleAt("s-2", [{ lineId: "1", sku: "LONG-SKU-NUMBER-0002", qty: 1, unitPrice: 300 }], T0));
    const r = record(h);
    expect([tally(r.skus, "LONG-SKU-NUMBER-0001")![2], tally(r.skus, "LONG-SKU-NUMBER-0002")![2]]).toEqual([100, 500]);
  });

  it("never grows the wallet's record past bookBytesMax, whatever the keys", async () => {
    const h = await withCustomer();
    const long = (p: string, i: number) => `${p}-${"é".repeat(60)}-${i}`;
    for (let i = 0; i < 40; i++) {
      h.clock.now = T0 + i * 60_000;
      const lines = Array.from({ length: 5 }, (_, k) => ({ lineId: String(k), sku: long("sku", i * 5 + k), qty: 1, unitPrice: 100, category: long("cat", i * 5 + k) }));
      await ok(h, saleAt(`s-${i}`, lines, h.clock.now, { storeId: long("st", i), channel: long("ch", i) }));
      expect(h.store.wallets.get(ID)!.purchases!.length).toBeLessThanOrEqual(bookBytesMax(PURCHASE_BOUNDS));
    }
    expect(bookBytesMax(PURCHASE_BOUNDS)).toBe(926);
  });
});

describe("purchase knowledge: switched off", () => {
  it("records nothing, and a return of a sale counted before it was switched off changes nothing either", async () => {
    const h = await withCustomer({ purchaseStats: false });
    await ok(h, saleAt("s-1", [{ lineId: "1", qty: 1, unitPrice: 100 }], T0));
    expect(purchaseRecordOf(h.store, ID)).toBeNull();
    expect(h.store.events.get("s-1")!.s).not.toHaveProperty("channel");
    expect(h.store.events.get("s-1")!.s).not.toHaveProperty("items");
  });

  it("a sale made while it was off is not taken back once it is on", async () => {
    const h = await withCustomer({ purchaseStats: false });
    await ok(h, saleAt("s-off", [{ lineId: "1", qty: 1, unitPrice: 100 }], T0));
    // The same store under a ledger with stats on: the earlier sale carries no channel, so nothing of it is taken back.
    const ledger = new Ledger(h.store, { ...h.ledger.options, purchaseStats: true }, () => h.clock.now);
    await ledger.applyBatch([saleAt("s-on", [{ lineId: "1", qty: 1, unitPrice: 300 }], T0)]);
    await ledger.applyBatch([cmd("accrue", voidOf("v-1", "s-off"))]);
    h.store.env.resetReadTxn();
    expect(record(h)).toMatchObject({ visits: 1, spend: 300 });
  });
});
