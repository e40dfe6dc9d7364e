// A customer's daily turnover (format 7): the wallet's [day, minor units] buckets, kept for
// tier windows, as one binary value of varint rows, day ascending. Every accrual reads and
// writes the wallet, and a daily shopper's wallet carries up to limits.turnoverDaysKept
// buckets: as msgpack pairs they took ~30 us of a wallet's read and write at 300 days,
// as one binary value they are a copy (bench/RESULTS.md, 2026-12-02), and smaller.
//
// Row: varint(day − previous row's day; the first row: day since the epoch), then
// varint(zigzag(amount)). Varints are little-endian base 128 and exact up to 2^53, so any
// safe integer amount is kept (returns make a day's bucket negative).

/** One day's bucket: [day since epoch (UTC), turnover that day in minor units, returns deducted]. */
export type TurnoverDay = [day: number, amount: number];

/** No turnover: shared, never written into (every change makes a new value). */
export const NO_TURNOVER: Uint8Array = new Uint8Array(0);

let scratch = new Uint8Array(1024);

/** Room for `more` bytes after `at` in the scratch buffer (grown, keeping what is written). */
function room(at: number, more: number): void {
  if (at + more <= scratch.length) return;
  const grown = new Uint8Array(Math.max(scratch.length * 2, at + more));
  grown.set(scratch.subarray(0, at));
  scratch = grown;
}

function putVarint(at: number, n: number): number {
  while (n >= 128) {
    scratch[at++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  scratch[at++] = n;
  return at;
}

/** A varint at `pos.at` of `bytes`, `pos.at` moved past it. */
function getVarint(bytes: Uint8Array, pos: { at: number }): number {
  let n = 0;
  let scale = 1;
  for (;;) {
    const b = bytes[pos.at++];
    if (b === undefined) throw new Error("turnover: a row is cut short");
    n += (b & 127) * scale;
    if (b < 128) return n;
    scale *= 128;
  }
}

const zig = (a: number): number => (a >= 0 ? a * 2 : -a * 2 - 1);
const unzig = (z: number): number => (z % 2 === 0 ? z / 2 : -(z + 1) / 2);

/** A writer of rows in day order into the scratch buffer. */
class Rows {
  private at = 0;
  private last = 0;
  add(day: number, amount: number): void {
    if (!Number.isSafeInteger(day) || day < this.last || (this.at > 0 && day === this.last)) throw new Error(`turnover: day ${day} out of order`);
    if (!Number.isSafeInteger(amount) || Math.abs(amount) > 2 ** 51) throw new Error(`turnover: ${amount} is not a whole amount`);
    room(this.at, 20);
    this.at = putVarint(this.at, day - this.last);
    this.at = putVarint(this.at, zig(amount));
    this.last = day;
  }
  done(): Uint8Array {
    return this.at === 0 ? NO_TURNOVER : scratch.slice(0, this.at);
  }
}

/** Calls `fn` with each bucket, day ascending. */
export function eachTurnoverDay(t: Uint8Array, fn: (day: number, amount: number) => void): void {
  const pos = { at: 0 };
  let day = 0;
  while (pos.at < t.length) {
    day += getVarint(t, pos);
    fn(day, unzig(getVarint(t, pos)));
  }
}

/** The buckets, day ascending. */
export function turnoverDays(t: Uint8Array): TurnoverDay[] {
  const days: TurnoverDay[] = [];
  eachTurnoverDay(t, (day, amount) => days.push([day, amount]));
  return days;
}

/** Buckets as the binary value, in any order: those of one day add up (format 6 and earlier kept pairs; merges bring two sets). */
export function turnoverOf(days: readonly (readonly [number, number])[]): Uint8Array {
  const byDay = new Map<number, number>();
  for (const [day, amount] of days) byDay.set(day, (byDay.get(day) ?? 0) + amount);
  const rows = new Rows();
  for (const day of [...byDay.keys()].sort((a, b) => a - b)) rows.add(day, byDay.get(day)!);
  return rows.done();
}

/** Turnover over the days after `afterDay` up to and including `lastDay`. */
export function turnoverBetween(t: Uint8Array, afterDay: number, lastDay: number): number {
  let sum = 0;
  const pos = { at: 0 };
  let day = 0;
  while (pos.at < t.length) {
    day += getVarint(t, pos);
    const z = getVarint(t, pos);
    if (day > lastDay) break;
    if (day > afterDay) sum += unzig(z);
  }
  return sum;
}

/**
 * `amount` added to the bucket of `day` (created when missing), buckets of days up to
 * `keepAfterDay` dropped: a new value, `t` is left as it is.
 */
export function withTurnover(t: Uint8Array, day: number, amount: number, keepAfterDay: number): Uint8Array {
  const rows = new Rows();
  let placed = false;
  eachTurnoverDay(t, (d, a) => {
    if (d <= keepAfterDay) return;
    if (!placed && d >= day) {
      placed = true;
      if (d === day) return rows.add(d, a + amount);
      rows.add(day, amount);
    }
    rows.add(d, a);
  });
  if (!placed) rows.add(day, amount);
  return rows.done();
}
