// The purchase book's layout (ledger/purchase-book.ts): its constants, its header, where
// its lists lie, and how a slot knows a key. Shared by the book's updates (purchase-book.ts)
// and its whole-record codec (purchase-book-read.ts). Pure.
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
export const HEADER_BYTES = 56;
export const MONTH_BYTES = 12;
export const SLOT_BYTES = 21;
export const OFF_MONTHS = 1;
export const OFF_SLOTS = 2;
export const OFF_VISITS = 8;
export const OFF_SPEND = 16;
export const OFF_FIRST = 24;
export const OFF_LAST = 32;
export const OFF_DROPPED = 40;
// Within a slot:
export const S_LEN = 4;
export const S_FIRST = 5;
export const S_LAST = 7;
export const S_COUNT = 9;
export const S_AMOUNT = 13;
export const U16_MAX = 0xffff;
export const U32_MAX = 0xffff_ffff;

export const STORES = 0;
export const CHANNELS = 1;
export const CATEGORIES = 2;
export const SKUS = 3;
export type ListIndex = 0 | 1 | 2 | 3;
export const LISTS: readonly ListIndex[] = [STORES, CHANNELS, CATEGORIES, SKUS];

/** How many months and slots per list (indexed by ListIndex) a book keeps; each at most 255. */
export interface BookBounds {
  months: number;
  lists: readonly [number, number, number, number];
}

/** The largest book the bounds allow: what the wallet must have room for. */
export function bookBytesMax(bounds: BookBounds): number {
  return HEADER_BYTES + bounds.months * MONTH_BYTES + bounds.lists.reduce((n, s) => n + s, 0) * SLOT_BYTES;
}

/** A key as a slot knows it: its keyHash and its length (keyLength). */
export interface KeyId {
  hash: number;
  length: number;
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
export const keyLength = (key: string): number => Math.min(key.length, 255);

/** A key's KeyId. */
export function keyIdOf(key: string): KeyId {
  return { hash: keyHash(key), length: keyLength(key) };
}

// ---- the layout ---------------------------------------------------------------------------

export function viewOf(buf: Uint8Array): DataView {
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
export function listStart(buf: Uint8Array, l: ListIndex): number {
  let off = HEADER_BYTES + buf[OFF_MONTHS]! * MONTH_BYTES;
  for (let k = 0; k < l; k++) off += buf[OFF_SLOTS + k]! * SLOT_BYTES;
  return off;
}
