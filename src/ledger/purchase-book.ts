// A customer's purchase knowledge as one binary record, the "book", kept in the wallet and
// laid out so that a sale updates it in place: fixed-size slots found by the key's 32-bit
// hash and its length, no string kept or decoded, a new key taking a free slot or the oldest
// one's place. Every byte of it is paid on every accrual (bench/RESULTS.md, 2026-11-30: with
// 15-byte key names in each slot the wallet was half as big again and the stats cost twice
// as much), so keys are not kept, only recognised; and its size has a hard bound
// (bookBytesMax). Pure: bytes in, bytes out.
//
// Layout (little-endian):
//   header  56 bytes: u8 format, u8 months, u8 × 4 slots in use (stores, channels,
//           categories, skus), u16 0, f64 visits, f64 spend, f64 firstAt, f64 lastAt,
//           i32 × 4 dropped (same order: the latest last day of an entry dropped to keep the
//           list within its bound, -1 when none was)
//   months  12 bytes each, ascending: u16 month (year × 12 + month − 1), u16 visits, f64 spend
//   slots   stores, channels, categories, skus, one list after the other, 21 bytes each:
//           u32 keyHash, u8 key length (UTF-16 units, 255: 255 or more), u16 first day, u16
//           last day, u32 count, f64 amount
// Days are local days since 1970-01-01. For skus and categories `count` is the net quantity
// in thousandths of a unit; for stores and channels the net number of visits. Counts stop at
// 2^32 − 1 and month visits at 65,535. Two keys of one list with the same hash and length
// would share a slot: about one customer in 10^8 with 16 skus.

export const BOOK_FORMAT = 1;
const HEADER_BYTES = 56;
const MONTH_BYTES = 12;
export const SLOT_BYTES = 21;
const OFF_MONTHS = 1;
const OFF_SLOTS = 2;
const OFF_VISITS = 8;
const OFF_SPEND = 16;
const OFF_FIRST = 24;
const OFF_LAST = 32;
const OFF_DROPPED = 40;
// Within a slot:
const S_LEN = 4;
const S_FIRST = 5;
const S_LAST = 7;
const S_COUNT = 9;
const S_AMOUNT = 13;
const U16_MAX = 0xffff;
const U32_MAX = 0xffff_ffff;

export const STORES = 0;
export const CHANNELS = 1;
export const CATEGORIES = 2;
export const SKUS = 3;
export type ListIndex = 0 | 1 | 2 | 3;
const LISTS: readonly ListIndex[] = [STORES, CHANNELS, CATEGORIES, SKUS];

/** How many months and slots per list (indexed by ListIndex) a book keeps; each at most 255. */
export interface BookBounds {
  months: number;
  lists: readonly [number, number, number, number];
}

/** The largest book the bounds allow: what the wallet must have room for. */
export function bookBytesMax(bounds: BookBounds): number {
  return HEADER_BYTES + bounds.months * MONTH_BYTES + bounds.lists.reduce((n, s) => n + s, 0) * SLOT_BYTES;
}

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

/** A key as a slot knows it: its keyHash and its length (keyLength). */
export interface KeyId {
  hash: number;
  length: number;
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

// ---- keys --------------------------------------------------------------------------------

/** FNV-1a over the UTF-16 code units: the same key always hashes alike, whatever its bytes. */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** What a slot keeps of a key besides its hash. */
const keyLength = (key: string): number => Math.min(key.length, 255);

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

// ---- the layout ---------------------------------------------------------------------------

function viewOf(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.length);
}

export function emptyBook(): Uint8Array {
  const buf = new Uint8Array(HEADER_BYTES);
  buf[0] = BOOK_FORMAT;
  const v = viewOf(buf);
  for (const l of LISTS) v.setInt32(OFF_DROPPED + 4 * l, -1, true);
  return buf;
}

/** Whether the bytes are a book whose header agrees with its length: anything else is a corrupted record. */
export function isBook(buf: Uint8Array): boolean {
  if (buf.length < HEADER_BYTES || buf[0] !== BOOK_FORMAT) return false;
  let slots = 0;
  for (const l of LISTS) slots += buf[OFF_SLOTS + l]!;
  return buf.length === HEADER_BYTES + buf[OFF_MONTHS]! * MONTH_BYTES + slots * SLOT_BYTES;
}

/** Where list `l`'s first slot lies. */
function listStart(buf: Uint8Array, l: ListIndex): number {
  let off = HEADER_BYTES + buf[OFF_MONTHS]! * MONTH_BYTES;
  for (let k = 0; k < l; k++) off += buf[OFF_SLOTS + k]! * SLOT_BYTES;
  return off;
}

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

/** A key's KeyId. */
export function keyIdOf(key: string): KeyId {
  return { hash: keyHash(key), length: keyLength(key) };
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

// ---- decoding, for reads ---------------------------------------------------------------------

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
