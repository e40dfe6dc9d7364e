// A customer's purchase knowledge as one binary record, the "book", kept in the wallet and
// laid out so that a sale updates it in place: fixed-size slots found by the key's 32-bit
// hash and its length, no string kept or decoded, a new key taking a free slot or the oldest
// one's place. Every byte of it is paid on every accrual (bench/RESULTS.md, 2026-11-30: with
// 15-byte key names in each slot the wallet was half as big again and the stats cost twice
// as much), so keys are not kept, only recognised; and its size has a hard bound
// (bookBytesMax). Pure: bytes in, bytes out.
//
// The layout (its constants, header and slots) is in purchase-book-layout.ts; the book
// decoded whole, for reads and merges, in purchase-book-read.ts.
import {
  CATEGORIES, CHANNELS, HEADER_BYTES, LISTS, MONTH_BYTES, OFF_DROPPED, OFF_FIRST, OFF_LAST, OFF_MONTHS, OFF_SLOTS, OFF_SPEND, OFF_VISITS,
  S_AMOUNT, S_COUNT, S_FIRST, S_LAST, S_LEN, SKUS, SLOT_BYTES, STORES, U16_MAX, U32_MAX, keyHash, keyLength, listStart, viewOf, type BookBounds, type ListIndex,
} from "./purchase-book-layout.js";

export {
  BOOK_FORMAT, CATEGORIES, CHANNELS, SKUS, SLOT_BYTES, STORES, bookBytesMax, emptyBook, isBook, keyHash, keyIdOf, type BookBounds, type KeyId, type ListIndex,
} from "./purchase-book-layout.js";
export { bookTotals, decodeBook, encodeBook, tallyKey, type MonthBucket, type PurchaseRecord, type Tally } from "./purchase-book-read.js";

/** One sale as the book counts it. Days and months are the caller's (local calendar). */
export interface SaleFacts {
  at: number;
  day: number;
  month: number;
  storeId: string;
  channel: string;
  /** A basket's lines: quantity in units (at most 3 decimals), amount in minor units. */
  lines: readonly { sku: string; category: string | null; qty: number; amount: number }[];
}

/** What a return or void takes back: the sale's day and month, and per line what comes back now. */
export interface TakeBack {
  day: number;
  month: number;
  storeId: string;
  channel: string;
  /** 1 for a void (the visit comes back), 0 for a return. */
  visits: number;
  /** Per returned line: its sku's and category's keyHash (0: no category), as the sale recorded them. */
  lines: readonly { skuHash: number; categoryHash: number; qtyMilli: number; amount: number }[];
}

function slotHolds(buf: Uint8Array, v: DataView, off: number, key: string, hash: number): boolean {
  return v.getUint32(off, true) === hash && buf[off + S_LEN] === keyLength(key);
}

function writeSlot(buf: Uint8Array, v: DataView, off: number, p: Pending, day: number): void {
  v.setUint32(off, p.hash, true);
  buf[off + S_LEN] = keyLength(p.key);
  v.setUint16(off + S_FIRST, day, true);
  v.setUint16(off + S_LAST, day, true);
  v.setUint32(off + S_COUNT, Math.min(U32_MAX, p.count), true);
  v.setFloat64(off + S_AMOUNT, p.amount, true);
}

const clampU16 = (n: number): number => Math.min(U16_MAX, Math.max(0, n));

function findSlot(buf: Uint8Array, v: DataView, l: ListIndex, key: string, hash: number): number {
  const start = listStart(buf, l);
  const n = buf[OFF_SLOTS + l]!;
  for (let i = 0; i < n; i++) {
    const off = start + i * SLOT_BYTES;
    if (slotHolds(buf, v, off, key, hash)) return off;
  }
  return -1;
}

/**
 * The slot of a key known by its hash alone (what a sale record keeps of its lines' keys; the
 * odds that another key of the list shares it are about 1 in 2^28).
 */
function findHash(buf: Uint8Array, v: DataView, l: ListIndex, hash: number): number {
  const start = listStart(buf, l);
  const n = buf[OFF_SLOTS + l]!;
  for (let i = 0; i < n; i++) if (v.getUint32(start + i * SLOT_BYTES, true) === hash) return start + i * SLOT_BYTES;
  return -1;
}

function findMonth(buf: Uint8Array, v: DataView, month: number): number {
  const n = buf[OFF_MONTHS]!;
  for (let i = 0; i < n; i++) {
    const off = HEADER_BYTES + i * MONTH_BYTES;
    if (v.getUint16(off, true) === month) return off;
  }
  return -1;
}

function addToSlot(v: DataView, off: number, count: number, amount: number, day: number): void {
  v.setUint32(off + S_COUNT, Math.min(U32_MAX, v.getUint32(off + S_COUNT, true) + count), true);
  v.setFloat64(off + S_AMOUNT, v.getFloat64(off + S_AMOUNT, true) + amount, true);
  if (day < v.getUint16(off + S_FIRST, true)) v.setUint16(off + S_FIRST, day, true);
  if (day > v.getUint16(off + S_LAST, true)) v.setUint16(off + S_LAST, day, true);
}

// ---- a sale -------------------------------------------------------------------------------

// A sale is worked out in one reused buffer (evaluate() is synchronous, and so is this): the
// book is copied in, changed there, grown there by moving its tail, and copied out once. No
// view or buffer is allocated per sale but the one returned, a slice of Node's pool.
const WORK = new Uint8Array(HEADER_BYTES + 255 * MONTH_BYTES + 4 * 255 * SLOT_BYTES);
const W = new DataView(WORK.buffer);
/** The workspace's length in use, and where each list starts in it. */
let workLength = 0;
const workStart = [0, 0, 0, 0];

function openWork(book: Uint8Array): void {
  WORK.set(book, 0);
  workLength = book.length;
  let off = HEADER_BYTES + WORK[OFF_MONTHS]! * MONTH_BYTES;
  for (const l of LISTS) {
    workStart[l] = off;
    off += WORK[OFF_SLOTS + l]! * SLOT_BYTES;
  }
}

/** Opens `bytes` of room at `at`, moving what follows, and the starts of lists `moved` and after. */
function makeRoom(at: number, bytes: number, moved: number): void {
  WORK.copyWithin(at + bytes, at, workLength);
  workLength += bytes;
  for (let l = moved; l < LISTS.length; l++) workStart[l]! += bytes;
}

function findInWork(l: ListIndex, key: string, hash: number): number {
  const start = workStart[l]!;
  const n = WORK[OFF_SLOTS + l]!;
  const length = keyLength(key);
  for (let i = 0, off = start; i < n; i++, off += SLOT_BYTES) {
    if (W.getUint32(off, true) === hash && WORK[off + S_LEN] === length) return off;
  }
  return -1;
}

/** A key the sale brings that its list does not hold yet. */
interface Pending {
  list: ListIndex;
  key: string;
  hash: number;
  count: number;
  amount: number;
}

/** Onto the key's slot, or into `pending` (merged with an earlier line of the same key). */
function bump(pending: Pending[], list: ListIndex, key: string, count: number, amount: number, day: number): void {
  const hash = keyHash(key);
  const off = findInWork(list, key, hash);
  if (off >= 0) {
    addToSlot(W, off, count, amount, day);
    return;
  }
  for (const p of pending) {
    if (p.list !== list || p.hash !== hash || p.key !== key) continue;
    p.count += count;
    p.amount += amount;
    return;
  }
  pending.push({ list, key, hash, count, amount });
}

/** The lines, store and channel onto the keys the book holds; returns the sale's spend. */
function bumpAll(pending: Pending[], sale: SaleFacts, day: number): number {
  let spend = 0;
  for (const line of sale.lines) {
    const qtyMilli = Math.round(line.qty * 1000);
    spend += line.amount;
    bump(pending, SKUS, line.sku, qtyMilli, line.amount, day);
    if (line.category !== null) bump(pending, CATEGORIES, line.category, qtyMilli, line.amount, day);
  }
  bump(pending, STORES, sale.storeId, 1, spend, day);
  bump(pending, CHANNELS, sale.channel, 1, spend, day);
  return spend;
}

/**
 * Adds a sale: one visit, the lines' amounts, its month, store, channel, skus and
 * categories. Returns the new book (`book` itself is left as it was), never longer than
 * bookBytesMax(bounds).
 */
export function addSaleToBook(book: Uint8Array, sale: SaleFacts, bounds: BookBounds): Uint8Array {
  openWork(book);
  const day = clampU16(sale.day);
  const pending: Pending[] = [];
  const spend = bumpAll(pending, sale, day);
  const last = W.getFloat64(OFF_LAST, true);
  W.setFloat64(OFF_FIRST, last === 0 ? sale.at : Math.min(W.getFloat64(OFF_FIRST, true), sale.at), true);
  W.setFloat64(OFF_LAST, Math.max(last, sale.at), true);
  W.setFloat64(OFF_VISITS, W.getFloat64(OFF_VISITS, true) + 1, true);
  W.setFloat64(OFF_SPEND, W.getFloat64(OFF_SPEND, true) + spend, true);
  addMonth(clampU16(sale.month), spend, bounds.months);
  for (const l of LISTS) for (const p of pending) if (p.list === l) placeKey(p, day, bounds.lists[l]);
  const out = Buffer.allocUnsafe(workLength);
  out.set(WORK.subarray(0, workLength), 0);
  return out;
}

/**
 * The sale's month: added to its bucket, or a new bucket in order, the months older than the
 * newest minus the bound dropped; a month already older than that (a late till's sale) is
 * counted in the totals only.
 */
function addMonth(month: number, spend: number, bound: number): void {
  const n = WORK[OFF_MONTHS]!;
  let at = HEADER_BYTES;
  for (let i = 0; i < n; i++, at += MONTH_BYTES) {
    const m = W.getUint16(at, true);
    if (m === month) {
      W.setUint16(at + 2, Math.min(U16_MAX, W.getUint16(at + 2, true) + 1), true);
      W.setFloat64(at + 4, W.getFloat64(at + 4, true) + spend, true);
      return;
    }
    if (m > month) break;
  }
  const newest = n > 0 ? Math.max(month, W.getUint16(HEADER_BYTES + (n - 1) * MONTH_BYTES, true)) : month;
  const floor = newest - bound;
  if (month <= floor) return;
  makeRoom(at, MONTH_BYTES, STORES);
  W.setUint16(at, month, true);
  W.setUint16(at + 2, 1, true);
  W.setFloat64(at + 4, spend, true);
  let stale = 0;
  while (stale < n + 1 && W.getUint16(HEADER_BYTES + stale * MONTH_BYTES, true) <= floor) stale++;
  if (stale > 0) {
    WORK.copyWithin(HEADER_BYTES, HEADER_BYTES + stale * MONTH_BYTES, workLength);
    workLength -= stale * MONTH_BYTES;
    for (const l of LISTS) workStart[l]! -= stale * MONTH_BYTES;
  }
  WORK[OFF_MONTHS] = n + 1 - stale;
}

/**
 * A key new to its list: a slot at the list's end while the list is below its bound; else in
 * place of the oldest slot (smallest last day, then smallest amount, then the one added
 * longest ago: slots are kept in the order they were added), unless the key is older still
 * (a late till's sale), when it is the one left out. Lists are filled in layout order.
 */
function placeKey(p: Pending, day: number, bound: number): void {
  const l = p.list;
  const n = WORK[OFF_SLOTS + l]!;
  const start = workStart[l]!;
  const end = start + n * SLOT_BYTES;
  if (n < bound) {
    makeRoom(end, SLOT_BYTES, l + 1);
    WORK[OFF_SLOTS + l] = n + 1;
    writeSlot(WORK, W, end, p, day);
    return;
  }
  if (n === 0) return;
  const off = oldestSlot(W, start, n);
  const outDay = W.getUint16(off + S_LAST, true);
  const replaces = day > outDay || (day === outDay && p.amount >= W.getFloat64(off + S_AMOUNT, true));
  const dropped = OFF_DROPPED + 4 * l;
  W.setInt32(dropped, Math.max(W.getInt32(dropped, true), replaces ? outDay : day), true);
  if (!replaces) return;
  WORK.copyWithin(off, off + SLOT_BYTES, end);
  writeSlot(WORK, W, end - SLOT_BYTES, p, day);
}

function oldestSlot(v: DataView, start: number, n: number): number {
  let best = start;
  let bestDay = v.getUint16(start + S_LAST, true);
  let bestAmount = v.getFloat64(start + S_AMOUNT, true);
  for (let i = 1; i < n; i++) {
    const off = start + i * SLOT_BYTES;
    const d = v.getUint16(off + S_LAST, true);
    if (d > bestDay) continue;
    const amount = v.getFloat64(off + S_AMOUNT, true);
    // On a tie the earlier slot, added longer ago, stays the one to go.
    if (d < bestDay || amount < bestAmount) {
      best = off;
      bestDay = d;
      bestAmount = amount;
    }
  }
  return best;
}

// ---- a return or void ----------------------------------------------------------------------

/**
 * Takes back what a sale of `back.day` added: amounts and counts of the returned lines, and
 * for a void the visit. A slot begun after the sale's day was begun anew after the sale's
 * own was dropped, so the sale's part is not in it; a late sale may still have been added to
 * such a slot, so counts and amounts never go below zero. Changes `book` in place.
 */
export function takeBackFromBook(book: Uint8Array, back: TakeBack): void {
  const v = viewOf(book);
  const day = clampU16(back.day);
  let amount = 0;
  for (const line of back.lines) {
    amount += line.amount;
    takeBackAt(v, findHash(book, v, SKUS, line.skuHash), line.qtyMilli, line.amount, day);
    if (line.categoryHash !== 0) takeBackAt(v, findHash(book, v, CATEGORIES, line.categoryHash), line.qtyMilli, line.amount, day);
  }
  takeBackAt(v, findSlot(book, v, STORES, back.storeId, keyHash(back.storeId)), back.visits, amount, day);
  takeBackAt(v, findSlot(book, v, CHANNELS, back.channel, keyHash(back.channel)), back.visits, amount, day);
  v.setFloat64(OFF_VISITS, v.getFloat64(OFF_VISITS, true) - back.visits, true);
  v.setFloat64(OFF_SPEND, v.getFloat64(OFF_SPEND, true) - amount, true);
  const monthOff = findMonth(book, v, clampU16(back.month));
  if (monthOff >= 0) {
    v.setUint16(monthOff + 2, Math.max(0, v.getUint16(monthOff + 2, true) - back.visits), true);
    v.setFloat64(monthOff + 4, v.getFloat64(monthOff + 4, true) - amount, true);
  }
}

function takeBackAt(v: DataView, off: number, count: number, amount: number, day: number): void {
  if (off < 0 || day < v.getUint16(off + S_FIRST, true)) return;
  v.setUint32(off + S_COUNT, Math.max(0, v.getUint32(off + S_COUNT, true) - count), true);
  v.setFloat64(off + S_AMOUNT, Math.max(0, v.getFloat64(off + S_AMOUNT, true) - amount), true);
}
