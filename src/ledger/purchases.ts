// Purchase knowledge: per customer, what they bought, where, how often and for how much,
// kept in the wallet as one binary record (the book, ledger/purchase-book.ts) and updated in
// the same transaction as the sale, return or void that changes it: always exact, and cheap.
// docs/operations.md ("Purchase knowledge") gives the record, its bounds and its bytes.
import { limits } from "../limits.js";
import { zoneOffsetMs } from "../rules/time.js";
import type { Basket } from "../rules/types.js";
import { addSaleToBook, bookTotals, decodeBook, emptyBook, isBook, keyHash, tallyKey, takeBackFromBook, type BookBounds, type PurchaseRecord, type Tally } from "./purchase-book.js";
import type { SaleRecord, Store, Wallet } from "./store.js";
import { assertInvariant, DAY_MS, type Tx } from "./tx.js";

export { tallyKey, type PurchaseRecord, type Tally } from "./purchase-book.js";

/** Indexed as the book's lists: stores, channels, categories, skus. */
export const PURCHASE_BOUNDS: BookBounds = {
  months: limits.purchaseMonthsKept,
  lists: [limits.purchaseStoresKept, limits.purchaseChannelsKept, limits.purchaseCategoriesKept, limits.purchaseSkusKept],
};

/** One returned (or voided) line: how much of it comes back now. */
export interface LineBack {
  lineId: string;
  /** Thousandths of a unit. */
  qtyMilli: number;
  amount: number;
}

/** Whether this ledger keeps purchase knowledge (LedgerOptions.purchaseStats, default on). */
export function keepsPurchases(tx: Tx): boolean {
  return tx.options.purchaseStats !== false;
}

// ---- calendar --------------------------------------------------------------------------

/** Local day (days since 1970-01-01) of an instant in a time zone. */
export function localDayOf(at: number, zone: string): number {
  return Math.floor((at + zoneOffsetMs(zone, at)) / DAY_MS);
}

/** Year × 12 + month − 1 of a day since 1970-01-01 (proleptic Gregorian; H. Hinnant's civil_from_days). */
export function monthOfDay(day: number): number {
  const z = day + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return year * 12 + month - 1;
}

/** "YYYY-MM" of a month index. */
export function monthLabel(month: number): string {
  return `${Math.floor(month / 12)}-${String((month % 12) + 1).padStart(2, "0")}`;
}

/** "YYYY-MM-DD" of a day since 1970-01-01. */
export function dayLabel(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

// ---- the ledger's calls -------------------------------------------------------------------

/** The wallet's book (a copy: lmdb-js copies embedded bytes when it decodes a record), checked. */
function bookOf(w: Wallet, customerId: string): Uint8Array | null {
  const bytes = w.purchases;
  if (bytes === undefined) return null;
  assertInvariant(isBook(bytes), `the purchase record of ${customerId} is not a book`);
  return bytes;
}

/**
 * A sale: one visit, its line amounts, its month, store, channel, skus and categories, into
 * the wallet the caller saves. The sale record keeps its channel and its lines' sku and
 * category hashes (itemsOf), so that a return or void takes back exactly what this added.
 */
export function addSale(tx: Tx, customerId: string, w: Wallet, basket: Basket): void {
  const day = localDayOf(basket.at, tx.options.timeZone);
  const facts = { at: basket.at, day, month: monthOfDay(day), storeId: basket.storeId, channel: basket.channel, lines: basket.lines };
  w.purchases = addSaleToBook(bookOf(w, customerId) ?? emptyBook(), facts, PURCHASE_BOUNDS);
}

/**
 * SaleRecord.items of a counted sale: per line, in the order of Object.keys(lines) (the order
 * the record keeps through msgpack), its sku's keyHash and its category's (0: none). Plain
 * numbers: the strings took twice the bytes, a byte string more time to build.
 */
export function itemsOf(lines: Record<string, unknown>, basket: Basket["lines"]): number[] {
  const ids = Object.keys(lines);
  // Usually the basket's own order (line ids "1", "2"...): no map needed to find a line.
  const inOrder = ids.every((id, i) => basket[i]!.lineId === id);
  const byId = inOrder ? null : new Map(basket.map((l) => [l.lineId, l]));
  const items = new Array<number>(ids.length * 2);
  for (let i = 0; i < ids.length; i++) {
    const line = byId ? byId.get(ids[i]!)! : basket[i]!;
    items[2 * i] = keyHash(line.sku);
    items[2 * i + 1] = line.category === null ? 0 : keyHash(line.category);
  }
  return items;
}

/** SaleRecord.items read back: lineId -> [sku hash, category hash (0: none)]. */
function itemsByLine(sale: SaleRecord): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  const items = sale.items!;
  Object.keys(sale.lines).forEach((id, i) => {
    if (2 * i + 1 < items.length) out.set(id, [items[2 * i]!, items[2 * i + 1]!]);
  });
  return out;
}

/** A return or void of a counted sale (its record names its channel): the lines come back, a void's visit too. */
export function takeBackSale(tx: Tx, w: Wallet, sale: SaleRecord, back: readonly LineBack[], isVoid: boolean): void {
  if (sale.channel === undefined || sale.items === undefined) return;
  const book = bookOf(w, sale.customerId);
  if (!book) return;
  const day = localDayOf(sale.at, tx.options.timeZone);
  const items = itemsByLine(sale);
  const lines = back.flatMap((b) => {
    const hashes = items.get(b.lineId);
    return hashes ? [{ skuHash: hashes[0], categoryHash: hashes[1], qtyMilli: b.qtyMilli, amount: b.amount }] : [];
  });
  takeBackFromBook(book, { day, month: monthOfDay(day), storeId: sale.storeId, channel: sale.channel, visits: isVoid ? 1 : 0, lines });
  w.purchases = book;
}

// ---- reading ----------------------------------------------------------------------------------

function storedBook(source: Store | Tx, customerId: string): Uint8Array | null {
  const store = "store" in source ? source.store : source;
  const w = store.wallets.get(customerId);
  return w ? bookOf(w, customerId) : null;
}

/** The decoded record, or null for a customer without a counted sale. */
export function purchaseRecordOf(source: Store | Tx, customerId: string): PurchaseRecord | null {
  const book = storedBook(source, customerId);
  return book ? decodeBook(book) : null;
}

/** The headline figures (the `customer` verb's `stats`). */
export interface PurchaseTotals {
  visits: number;
  spend: number;
  /** spend ÷ visits, rounded half up to minor units; 0 without visits. */
  avgBasket: number;
  firstVisitAt: number | null;
  lastVisitAt: number | null;
}

/** One list entry: `key` is tallyKey(the key) (the record recognises keys, it does not keep them). */
export interface TallyStats {
  key: string;
  /** Stores and channels: net visits; skus and categories: net units bought (returns deducted). */
  count: number;
  /** Net spend there, or on it, minor units. */
  amount: number;
  /** Local dates ("YYYY-MM-DD") of the first and last visit or purchase. */
  firstOn: string;
  lastOn: string;
}

export interface PurchaseStats extends PurchaseTotals {
  /** "YYYY-MM" (deployment time zone) with that month's visits and spend: the months kept. */
  months: { month: string; visits: number; spend: number }[];
  /** Each list largest amount first. */
  stores: TallyStats[];
  channels: TallyStats[];
  categories: TallyStats[];
  skus: TallyStats[];
}

export type PurchaseList = "stores" | "channels" | "categories" | "skus";

/** spend ÷ visits in whole minor units, half up. */
export function averageBasketOf(spend: number, visits: number): number {
  return visits > 0 ? Math.floor(spend / visits + 0.5) : 0;
}

function totalsOf(t: { visits: number; spend: number; firstAt: number; lastAt: number } | null): PurchaseTotals {
  if (!t || t.lastAt === 0) return { visits: 0, spend: 0, avgBasket: 0, firstVisitAt: null, lastVisitAt: null };
  return { visits: t.visits, spend: t.spend, avgBasket: averageBasketOf(t.spend, t.visits), firstVisitAt: t.firstAt, lastVisitAt: t.lastAt };
}

/** Visits, spend, average basket, first and last visit: one wallet read, the book's header decoded. */
export function purchaseTotalsOf(source: Store | Tx, customerId: string): PurchaseTotals {
  const book = storedBook(source, customerId);
  return totalsOf(book ? bookTotals(book) : null);
}

function tallyStats(t: Tally, list: PurchaseList): TallyStats {
  const count = list === "skus" || list === "categories" ? t[1] / 1000 : t[1];
  return { key: t[0], count, amount: t[2], firstOn: dayLabel(t[3]), lastOn: dayLabel(t[4]) };
}

/** The customer's purchase knowledge, from a write transaction or from the store (a read snapshot). */
export function purchaseStatsOf(source: Store | Tx, customerId: string): PurchaseStats {
  const r = purchaseRecordOf(source, customerId);
  if (!r || r.lastAt === 0) return { ...totalsOf(null), months: [], stores: [], channels: [], categories: [], skus: [] };
  const list = (name: PurchaseList) => [...r[name]].sort((a, b) => b[2] - a[2] || (a[0] < b[0] ? -1 : 1)).map((t) => tallyStats(t, name));
  return {
    ...totalsOf(r),
    months: r.months.map(([month, visits, spend]) => ({ month: monthLabel(month), visits, spend })),
    stores: list("stores"),
    channels: list("channels"),
    categories: list("categories"),
    skus: list("skus"),
  };
}

/**
 * What the record knows of one store, channel, category or sku: its entry, or null when the
 * key is not in the list (never bought, or dropped: then `record.dropped` says until when).
 */
export function purchaseTallyOf(record: PurchaseRecord, list: PurchaseList, key: string): TallyStats | null {
  const label = tallyKey(key);
  const t = record[list].find((x) => x[0] === label);
  return t ? tallyStats(t, list) : null;
}
