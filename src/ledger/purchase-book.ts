// A customer's purchase knowledge as one binary record, the "book", kept in the wallet and
// laid out so that a sale updates it in place: fixed-size slots, keys found by a 32-bit
// hash and checked byte for byte, no string decoded on the hot path, a new key taking a
// free slot or the oldest one's place. Its size has a hard bound (bookBytesMax) so that the
// wallet stays within an LMDB node: a record over ~2 KB goes to overflow pages, which cost
// an accrual a third more (bench/RESULTS.md, 2026-11-30). Pure: bytes in, bytes out.
//
// Layout (little-endian):
//   header  56 bytes: u8 format, u8 months, u8 × 4 slots in use (stores, channels,
//           categories, skus), u16 0, f64 visits, f64 spend, f64 firstAt, f64 lastAt,
//           i32 × 4 dropped (same order: the latest last day of an entry dropped to keep the
//           list within its bound, -1 when none was)
//   months  12 bytes each, ascending: u16 month (year × 12 + month − 1), u16 visits, f64 spend
//   slots   stores, channels, categories, skus, one list after the other, 35 bytes each:
//           u32 hash, u16 first day, u16 last day, u32 count, f64 amount, u8 key bytes (255:
//           255 or more), the key's first 14 bytes
// Days are local days since 1970-01-01. For skus and categories `count` is the net quantity
// in thousandths of a unit; for stores and channels the net number of visits. Counts stop at
// 2^32 − 1 and month visits at 65,535; a key longer than 14 bytes is told apart by its hash
// and length, and listed by its first bytes.

export const BOOK_FORMAT = 1;
const HEADER_BYTES = 56;
const MONTH_BYTES = 12;
export const SLOT_BYTES = 35;
/** Bytes of a key kept in its slot. */
export const KEY_PREFIX_BYTES = 14;
const OFF_MONTHS = 1;
const OFF_SLOTS = 2;
const OFF_VISITS = 8;
const OFF_SPEND = 16;
const OFF_FIRST = 24;
const OFF_LAST = 32;
const OFF_DROPPED = 40;
// Within a slot:
const S_FIRST = 4;
const S_LAST = 6;
const S_COUNT = 8;
const S_AMOUNT = 12;
const S_LEN = 20;
const S_KEY = 21;
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

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** The key's UTF-8 bytes, or null for an ASCII key (its bytes are its char codes: nothing to allocate). */
function nonAscii(key: string): Uint8Array | null {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0x7f) return utf8.encode(key);
  return null;
}

/** Whether the slot at `off` holds `key`: hash, length and the kept prefix all agree. */
function slotHolds(buf: Uint8Array, v: DataView, off: number, key: string, hash: number): boolean {
  if (v.getUint32(off, true) !== hash) return false;
  const bytes = nonAscii(key);
  const n = bytes?.length ?? key.length;
  const len = buf[off + S_LEN]!;
  if (len !== Math.min(n, 255)) return false;
  for (let i = 0; i < Math.min(n, KEY_PREFIX_BYTES); i++) if (buf[off + S_KEY + i] !== (bytes ? bytes[i] : key.charCodeAt(i))) return false;
  return true;
}

function writeSlot(buf: Uint8Array, v: DataView, off: number, p: Pending, day: number): void {
  v.setUint32(off, p.hash, true);
  v.setUint16(off + S_FIRST, day, true);
  v.setUint16(off + S_LAST, day, true);
  v.setUint32(off + S_COUNT, Math.min(U32_MAX, p.count), true);
  v.setFloat64(off + S_AMOUNT, p.amount, true);
  const bytes = nonAscii(p.key);
  const n = bytes?.length ?? p.key.length;
  buf[off + S_LEN] = Math.min(n, 255);
  for (let i = 0; i < KEY_PREFIX_BYTES; i++) buf[off + S_KEY + i] = i >= n ? 0 : bytes ? bytes[i]! : p.key.charCodeAt(i);
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

/** The slot whose key hashes to `hash`: what a return has of its sale's keys (the odds that another key of the list shares it: about 1 in 2^28). */
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

/** A key the sale brings that its list does not hold yet. */
interface Pending {
  list: ListIndex;
  key: string;
  hash: number;
  count: number;
  amount: number;
}

/** Onto the key's slot, or into `pending` (merged with an earlier line of the same key). */
function bump(buf: Uint8Array, v: DataView, pending: Pending[], list: ListIndex, key: string, count: number, amount: number, day: number): void {
  const hash = keyHash(key);
  const off = findSlot(buf, v, list, key, hash);
  if (off >= 0) {
    addToSlot(v, off, count, amount, day);
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
function bumpAll(buf: Uint8Array, v: DataView, pending: Pending[], sale: SaleFacts, day: number): number {
  let spend = 0;
  for (const line of sale.lines) {
    const qtyMilli = Math.round(line.qty * 1000);
    spend += line.amount;
    bump(buf, v, pending, SKUS, line.sku, qtyMilli, line.amount, day);
    if (line.category !== null) bump(buf, v, pending, CATEGORIES, line.category, qtyMilli, line.amount, day);
  }
  bump(buf, v, pending, STORES, sale.storeId, 1, spend, day);
  bump(buf, v, pending, CHANNELS, sale.channel, 1, spend, day);
  return spend;
}

/**
 * Adds a sale: one visit, the lines' amounts, its month, store, channel, skus and
 * categories. Returns the book to store: `book` itself, changed in place, when it needed no
 * more room; else a new, longer one, never longer than bookBytesMax(bounds).
 */
export function addSaleToBook(book: Uint8Array, sale: SaleFacts, bounds: BookBounds): Uint8Array {
  const v = viewOf(book);
  const day = clampU16(sale.day);
  const pending: Pending[] = [];
  const spend = bumpAll(book, v, pending, sale, day);
  const last = v.getFloat64(OFF_LAST, true);
  v.setFloat64(OFF_FIRST, last === 0 ? sale.at : Math.min(v.getFloat64(OFF_FIRST, true), sale.at), true);
  v.setFloat64(OFF_LAST, Math.max(last, sale.at), true);
  v.setFloat64(OFF_VISITS, v.getFloat64(OFF_VISITS, true) + 1, true);
  v.setFloat64(OFF_SPEND, v.getFloat64(OFF_SPEND, true) + spend, true);
  const month = clampU16(sale.month);
  const monthOff = findMonth(book, v, month);
  if (monthOff >= 0) {
    v.setUint16(monthOff + 2, Math.min(U16_MAX, v.getUint16(monthOff + 2, true) + 1), true);
    v.setFloat64(monthOff + 4, v.getFloat64(monthOff + 4, true) + spend, true);
  }
  if (pending.length === 0 && monthOff >= 0) return book;
  // Room for the new keys each list can still take; the others replace its oldest slots.
  const room = [0, 0, 0, 0];
  for (const p of pending) room[p.list]!++;
  for (const l of LISTS) room[l] = Math.max(0, Math.min(room[l]!, bounds.lists[l] - book[OFF_SLOTS + l]!));
  const out = monthOff < 0 || room.some((r) => r > 0) ? relaid(book, v, monthOff < 0 ? { month, spend } : null, bounds.months, room) : book;
  placePending(out, pending, day, room);
  return out;
}

/**
 * Puts the sale's new keys into the room `relaid` made behind each list, then in place of
 * the oldest slot of their list: the smallest last day, then the smallest amount, then the
 * one added longest ago (a list's slots are kept in the order they were added). A new key
 * older than every slot (a late till's sale) is the one left out. Lists are filled in
 * layout order, so that a list's room is right behind its slots in use.
 */
function placePending(buf: Uint8Array, pending: readonly Pending[], day: number, room: readonly number[]): void {
  const v = viewOf(buf);
  for (const l of LISTS) {
    let free = room[l]!;
    for (const p of pending) {
      if (p.list !== l) continue;
      const n = buf[OFF_SLOTS + l]!;
      const start = listStart(buf, l);
      const end = start + n * SLOT_BYTES;
      if (free > 0) {
        free--;
        buf[OFF_SLOTS + l] = n + 1;
        writeSlot(buf, v, end, p, day);
        continue;
      }
      if (n === 0) continue;
      const off = oldestSlot(v, start, n);
      const outDay = v.getUint16(off + S_LAST, true);
      const replaces = day > outDay || (day === outDay && p.amount >= v.getFloat64(off + S_AMOUNT, true));
      v.setInt32(OFF_DROPPED + 4 * l, Math.max(v.getInt32(OFF_DROPPED + 4 * l, true), replaces ? outDay : day), true);
      if (!replaces) continue;
      buf.copyWithin(off, off + SLOT_BYTES, end);
      writeSlot(buf, v, end - SLOT_BYTES, p, day);
    }
  }
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

/**
 * A new book: the months with `fresh` added (ascending, none older than the newest minus
 * the bound), and each list's slots followed by room for `grow[l]` more. The slot counts
 * stay those in use; placePending raises them as it fills the room.
 */
function relaid(buf: Uint8Array, v: DataView, fresh: { month: number; spend: number } | null, monthsMax: number, grow: readonly number[]): Uint8Array {
  const count = buf[OFF_MONTHS]!;
  const newest = Math.max(fresh?.month ?? -1, count > 0 ? v.getUint16(HEADER_BYTES + (count - 1) * MONTH_BYTES, true) : -1);
  const floor = newest - monthsMax;
  const months: number[] = [];
  for (let i = 0; i < count; i++) if (v.getUint16(HEADER_BYTES + i * MONTH_BYTES, true) > floor) months.push(HEADER_BYTES + i * MONTH_BYTES);
  const keepFresh = fresh !== null && fresh.month > floor;
  const monthCount = months.length + (keepFresh ? 1 : 0);
  const slotsStart = HEADER_BYTES + count * MONTH_BYTES;
  const slotBytes = buf.length - slotsStart;
  const out = new Uint8Array(HEADER_BYTES + monthCount * MONTH_BYTES + slotBytes + grow.reduce((n, g) => n + g, 0) * SLOT_BYTES);
  const w = viewOf(out);
  out.set(buf.subarray(0, HEADER_BYTES), 0);
  out[OFF_MONTHS] = monthCount;
  let at = HEADER_BYTES;
  let freshDone = !keepFresh;
  for (const from of months) {
    if (!freshDone && v.getUint16(from, true) > fresh!.month) {
      writeMonth(w, at, fresh!);
      at += MONTH_BYTES;
      freshDone = true;
    }
    out.set(buf.subarray(from, from + MONTH_BYTES), at);
    at += MONTH_BYTES;
  }
  if (!freshDone) {
    writeMonth(w, at, fresh!);
    at += MONTH_BYTES;
  }
  let from = slotsStart;
  for (const l of LISTS) {
    const bytes = buf[OFF_SLOTS + l]! * SLOT_BYTES;
    out.set(buf.subarray(from, from + bytes), at);
    from += bytes;
    at += bytes + grow[l]! * SLOT_BYTES;
  }
  return out;
}

function writeMonth(w: DataView, off: number, fresh: { month: number; spend: number }): void {
  w.setUint16(off, fresh.month, true);
  w.setUint16(off + 2, 1, true);
  w.setFloat64(off + 4, fresh.spend, true);
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

/** One list entry decoded: [key, count, amount, first day, last day]. */
export type Tally = [key: string, count: number, amount: number, firstDay: number, lastDay: number];

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
  /** Keys longer than KEY_PREFIX_BYTES bytes are listed by their first bytes and "…". */
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
    const len = buf[off + S_LEN]!;
    const prefix = fromUtf8.decode(buf.subarray(off + S_KEY, off + S_KEY + Math.min(len, KEY_PREFIX_BYTES)));
    const key = len > KEY_PREFIX_BYTES ? `${prefix}…` : prefix;
    out.push([key, v.getUint32(off + S_COUNT, true), v.getFloat64(off + S_AMOUNT, true), v.getUint16(off + S_FIRST, true), v.getUint16(off + S_LAST, true)]);
  }
  return out;
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
