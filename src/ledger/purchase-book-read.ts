// The purchase book decoded whole, and encoded back (what reads and merges use): the layout
// is in purchase-book-layout.ts, the in-place updates of a sale or a return in purchase-book.ts.
import {
  BOOK_FORMAT, CATEGORIES, CHANNELS, HEADER_BYTES, LISTS, MONTH_BYTES, OFF_DROPPED, OFF_FIRST, OFF_LAST, OFF_MONTHS, OFF_SLOTS, OFF_SPEND, OFF_VISITS,
  S_AMOUNT, S_COUNT, S_FIRST, S_LAST, S_LEN, SKUS, SLOT_BYTES, STORES, keyIdOf, listStart, viewOf, type KeyId, type ListIndex,
} from "./purchase-book-layout.js";

/** One list entry decoded: [key, count, amount, first day, last day]; the key as its KeyId, "hash/length" in hex/decimal. */
export type Tally = [key: string, count: number, amount: number, firstDay: number, lastDay: number];

/** How a decoded record names a key: its hash in 8 hex digits and its length, e.g. "0a1b2c3d/6". */
export function tallyKey(key: string): string {
  return idLabel(keyIdOf(key));
}

function idLabel(id: KeyId): string {
  return `${id.hash.toString(16).padStart(8, "0")}/${id.length}`;
}

/** [month (year × 12 + month − 1), visits, spend]. */
export type MonthBucket = [month: number, visits: number, spend: number];

/** The book decoded: what reads (the customer verb, segment queries, tests) see. */
export interface PurchaseRecord {
  /** Sales less the voided ones. */
  visits: number;
  /** What the lines paid (the sum of line amounts), minor units, less returns and voids. */
  spend: number;
  /** Earliest and latest `at` of a sale, 0 before the first (returns and voids do not move them). */
  firstAt: number;
  lastAt: number;
  months: MonthBucket[];
  /** Keys as tallyKey() names them: the book recognises a key, it does not keep it. */
  stores: Tally[];
  channels: Tally[];
  categories: Tally[];
  skus: Tally[];
  /** Per list (stores, channels, categories, skus): see the layout above. */
  dropped: [number, number, number, number];
}

/** Visits, spend, first and last sale: the header alone. */
export function bookTotals(buf: Uint8Array): { visits: number; spend: number; firstAt: number; lastAt: number } {
  const v = viewOf(buf);
  return { visits: v.getFloat64(OFF_VISITS, true), spend: v.getFloat64(OFF_SPEND, true), firstAt: v.getFloat64(OFF_FIRST, true), lastAt: v.getFloat64(OFF_LAST, true) };
}

function tallies(buf: Uint8Array, v: DataView, l: ListIndex): Tally[] {
  const out: Tally[] = [];
  const start = listStart(buf, l);
  for (let i = 0; i < buf[OFF_SLOTS + l]!; i++) {
    const off = start + i * SLOT_BYTES;
    const key = idLabel({ hash: v.getUint32(off, true), length: buf[off + S_LEN]! });
    out.push([key, v.getUint32(off + S_COUNT, true), v.getFloat64(off + S_AMOUNT, true), v.getUint16(off + S_FIRST, true), v.getUint16(off + S_LAST, true)]);
  }
  return out;
}

/** A decoded record as bytes again (what a merge writes back): decodeBook's inverse. */
export function encodeBook(r: PurchaseRecord): Uint8Array {
  const lists = [r.stores, r.channels, r.categories, r.skus];
  const buf: Uint8Array = Buffer.alloc(HEADER_BYTES + r.months.length * MONTH_BYTES + lists.reduce((n, t) => n + t.length, 0) * SLOT_BYTES);
  const v = viewOf(buf);
  buf[0] = BOOK_FORMAT;
  buf[OFF_MONTHS] = r.months.length;
  [r.visits, r.spend, r.firstAt, r.lastAt].forEach((x, i) => v.setFloat64(OFF_VISITS + 8 * i, x, true));
  let off = HEADER_BYTES;
  for (const [month, visits, spend] of r.months) {
    v.setUint16(off, month, true);
    v.setUint16(off + 2, visits, true);
    v.setFloat64(off + 4, spend, true);
    off += MONTH_BYTES;
  }
  for (const l of LISTS) {
    v.setInt32(OFF_DROPPED + 4 * l, r.dropped[l], true);
    buf[OFF_SLOTS + l] = lists[l]!.length;
    for (const [key, count, amount, first, last] of lists[l]!) {
      const [hash, length] = key.split("/");
      v.setUint32(off, Number.parseInt(hash!, 16), true);
      buf[off + S_LEN] = Number(length);
      v.setUint16(off + S_FIRST, first, true);
      v.setUint16(off + S_LAST, last, true);
      v.setUint32(off + S_COUNT, count, true);
      v.setFloat64(off + S_AMOUNT, amount, true);
      off += SLOT_BYTES;
    }
  }
  return buf;
}

export function decodeBook(buf: Uint8Array): PurchaseRecord {
  const v = viewOf(buf);
  const months: MonthBucket[] = [];
  for (let i = 0; i < buf[OFF_MONTHS]!; i++) {
    const off = HEADER_BYTES + i * MONTH_BYTES;
    months.push([v.getUint16(off, true), v.getUint16(off + 2, true), v.getFloat64(off + 4, true)]);
  }
  return {
    ...bookTotals(buf),
    months,
    stores: tallies(buf, v, STORES),
    channels: tallies(buf, v, CHANNELS),
    categories: tallies(buf, v, CATEGORIES),
    skus: tallies(buf, v, SKUS),
    dropped: [v.getInt32(OFF_DROPPED, true), v.getInt32(OFF_DROPPED + 4, true), v.getInt32(OFF_DROPPED + 8, true), v.getInt32(OFF_DROPPED + 12, true)],
  };
}
