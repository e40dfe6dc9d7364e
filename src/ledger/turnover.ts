// A customer's daily turnover (format 7): the wallet's [day, minor units] buckets, kept for
// tier windows, as one binary value of fixed-width rows, day ascending. Every accrual reads
// and writes the wallet, and a daily shopper's wallet carries up to limits.turnoverDaysKept
// buckets: as msgpack pairs they took ~30 us of a wallet's read and write at 300 days; as
// one binary value they are a copy (bench/RESULTS.md, 2026-12-02). Fixed-width rows let an
// accrual append, add to its day and drop the oldest days with bulk copies, and a tier
// window sum read the rows in place.
//
// Two layouts, the first byte says which:
// - narrow (1): int32 base day, then 6-byte rows [uint16 day − base, int32 amount]: every
//   bucket of a retailer's customer (400 days of amounts within ±2^31 minor units);
// - wide (2): 12-byte rows [int32 day, float64 amount]: any day since the epoch, any whole
//   amount up to 2^53 (a distributor's daily turnover in a currency of small units).
// All little-endian. A change that no longer fits the narrow layout writes the wide one.

/** One day's bucket: [day since epoch (UTC), turnover that day in minor units, returns deducted]. */
export type TurnoverDay = [day: number, amount: number];

/** No turnover: shared, never written into (every change makes a new value). */
export const NO_TURNOVER: Uint8Array = new Uint8Array(0);

const NARROW = 1;
const WIDE = 2;
const NARROW_HEAD = 5;
const NARROW_ROW = 6;
const WIDE_HEAD = 1;
const WIDE_ROW = 12;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

const viewOf = (t: Uint8Array): DataView => new DataView(t.buffer, t.byteOffset, t.byteLength);

/** A value's layout, read: where its rows start, how wide they are, how many, and how to read one. */
class Rows {
  readonly v: DataView;
  readonly narrow: boolean;
  readonly head: number;
  readonly width: number;
  readonly count: number;
  readonly base: number;
  constructor(readonly t: Uint8Array) {
    this.v = viewOf(t);
    const kind = t.length === 0 ? NARROW : t[0];
    if (kind !== NARROW && kind !== WIDE) throw new Error(`turnover: unknown layout ${kind}`);
    this.narrow = kind === NARROW;
    this.head = t.length === 0 ? 0 : this.narrow ? NARROW_HEAD : WIDE_HEAD;
    this.width = this.narrow ? NARROW_ROW : WIDE_ROW;
    if (t.length > 0 && (t.length < this.head || (t.length - this.head) % this.width !== 0)) throw new Error("turnover: a row is cut short");
    this.count = t.length === 0 ? 0 : (t.length - this.head) / this.width;
    this.base = this.narrow && t.length > 0 ? this.v.getInt32(1, true) : 0;
  }
  day(i: number): number {
    const o = this.head + i * this.width;
    return this.narrow ? this.base + this.v.getUint16(o, true) : this.v.getInt32(o, true);
  }
  amount(i: number): number {
    const o = this.head + i * this.width;
    return this.narrow ? this.v.getInt32(o + 2, true) : this.v.getFloat64(o + 4, true);
  }
}

function checkAmount(amount: number): number {
  if (!Number.isSafeInteger(amount)) throw new Error(`turnover: ${amount} is not a whole amount`);
  return amount;
}

const fitsNarrow = (base: number, day: number, amount: number): boolean => day >= base && day - base <= 0xffff && amount >= INT32_MIN && amount <= INT32_MAX;

/** Buckets (day ascending, days distinct, amounts whole) as a new value, narrow when they fit. */
function encode(days: readonly number[], amounts: readonly number[]): Uint8Array {
  const n = days.length;
  if (n === 0) return NO_TURNOVER;
  for (let i = 0; i < n; i++) {
    if (!Number.isSafeInteger(days[i]) || days[i]! < 0 || days[i]! > INT32_MAX || (i > 0 && days[i]! <= days[i - 1]!)) throw new Error(`turnover: day ${days[i]} out of order`);
    checkAmount(amounts[i]!);
  }
  const base = days[0]!;
  let narrow = true;
  for (let i = 0; i < n && narrow; i++) narrow = fitsNarrow(base, days[i]!, amounts[i]!);
  const out = new Uint8Array(narrow ? NARROW_HEAD + n * NARROW_ROW : WIDE_HEAD + n * WIDE_ROW);
  const v = viewOf(out);
  out[0] = narrow ? NARROW : WIDE;
  if (narrow) v.setInt32(1, base, true);
  for (let i = 0; i < n; i++) {
    if (narrow) {
      const o = NARROW_HEAD + i * NARROW_ROW;
      v.setUint16(o, days[i]! - base, true);
      v.setInt32(o + 2, amounts[i]!, true);
    } else {
      const o = WIDE_HEAD + i * WIDE_ROW;
      v.setInt32(o, days[i]!, true);
      v.setFloat64(o + 4, amounts[i]!, true);
    }
  }
  return out;
}

/** Calls `fn` with each bucket, day ascending. */
export function eachTurnoverDay(t: Uint8Array, fn: (day: number, amount: number) => void): void {
  const r = new Rows(t);
  for (let i = 0; i < r.count; i++) fn(r.day(i), r.amount(i));
}

/** The buckets, day ascending. */
export function turnoverDays(t: Uint8Array): TurnoverDay[] {
  const days: TurnoverDay[] = [];
  eachTurnoverDay(t, (day, amount) => days.push([day, amount]));
  return days;
}

/** Buckets as the binary value, in any order: those of one day add up (format 6 and earlier kept pairs; merges bring two sets). */
export function turnoverOf(pairs: readonly (readonly [number, number])[]): Uint8Array {
  const byDay = new Map<number, number>();
  for (const [day, amount] of pairs) byDay.set(day, checkAmount((byDay.get(day) ?? 0) + checkAmount(amount)));
  const days = [...byDay.keys()].sort((a, b) => a - b);
  return encode(days, days.map((d) => byDay.get(d)!));
}

/** Turnover over the days after `afterDay` up to and including `lastDay`. */
export function turnoverBetween(t: Uint8Array, afterDay: number, lastDay: number): number {
  const r = new Rows(t);
  let sum = 0;
  if (r.narrow) {
    // The usual layout, read in place: the window as offsets from the base day.
    const { v } = r;
    const after = afterDay - r.base;
    const last = lastDay - r.base;
    for (let o = NARROW_HEAD; o < t.length; o += NARROW_ROW) {
      const d = v.getUint16(o, true);
      if (d > last) break;
      if (d > after) sum += v.getInt32(o + 2, true);
    }
    return sum;
  }
  for (let i = 0; i < r.count; i++) {
    const day = r.day(i);
    if (day > lastDay) break;
    if (day > afterDay) sum += r.amount(i);
  }
  return sum;
}

/**
 * `amount` added to the bucket of `day` (created when missing), buckets of days up to
 * `keepAfterDay` dropped: a new value, `t` is left as it is. A narrow value the change
 * still fits keeps its base day, so its kept rows are copied as they are.
 */
export function withTurnover(t: Uint8Array, day: number, amount: number, keepAfterDay: number): Uint8Array {
  checkAmount(amount);
  const r = new Rows(t);
  let first = 0;
  while (first < r.count && r.day(first) <= keepAfterDay) first++;
  // Where the day goes: after the last row (the usual), on a row of its own day, or between two.
  let at = r.count;
  if (first < r.count && day <= r.day(r.count - 1)) {
    let lo = first;
    let hi = r.count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r.day(mid) < day) lo = mid + 1;
      else hi = mid;
    }
    at = lo;
  }
  const same = at < r.count && r.day(at) === day;
  const total = checkAmount((same ? r.amount(at) : 0) + amount);
  if (r.narrow && r.count > 0 && fitsNarrow(r.base, day, total)) {
    const rows = r.count - first + (same ? 0 : 1);
    const out = new Uint8Array(NARROW_HEAD + rows * NARROW_ROW);
    out.set(t.subarray(0, NARROW_HEAD));
    const row = (i: number) => NARROW_HEAD + i * NARROW_ROW;
    out.set(t.subarray(row(first), row(at)), NARROW_HEAD);
    const o = NARROW_HEAD + (at - first) * NARROW_ROW;
    const v = viewOf(out);
    v.setUint16(o, day - r.base, true);
    v.setInt32(o + 2, total, true);
    out.set(t.subarray(row(same ? at + 1 : at), row(r.count)), o + NARROW_ROW);
    return out;
  }
  // Anything else (the first bucket, a day before the base, an amount past int32, a wide value): rows rewritten.
  const days: number[] = [];
  const amounts: number[] = [];
  for (let i = first; i < r.count; i++) {
    if (i === at && !same) {
      days.push(day);
      amounts.push(total);
    }
    days.push(r.day(i));
    amounts.push(i === at && same ? total : r.amount(i));
  }
  if (at === r.count) {
    days.push(day);
    amounts.push(total);
  }
  return encode(days, amounts);
}
