// Splitting the customers between a segment job's threads by key range. The boundaries lie
// evenly between the first and the last customer id read as numbers past their common
// prefix: in base 36 when both are lower-case base-36 digits of one length (the engine's
// own ids, cu_000001...: an even split), else their characters' codes in base 128 (any
// other ids: near even when their characters spread evenly). Finding them costs two key
// reads, not a count. The ranges are open at both ends, so together they cover every key
// whatever is written meanwhile. Pure.

/** Keys from `start` (inclusive; none: from the first) to `end` (exclusive; none: to the last). */
export interface KeyRange {
  start?: string;
  end?: string;
}

/** Characters past the common prefix the boundaries are worked out in. */
const PLACES = 10;
const BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz";

interface Radix {
  base: bigint;
  digit(ch: string): number;
  char(d: number): string;
}

const base36: Radix = { base: 36n, digit: (ch) => BASE36.indexOf(ch), char: (d) => BASE36[d]! };
// Characters beyond ASCII count as the last one: still in order, if less even.
const ascii: Radix = { base: 128n, digit: (ch) => Math.min(127, ch.charCodeAt(0)), char: (d) => String.fromCharCode(d) };

function radixFor(a: string, b: string): Radix {
  return a.length === b.length && /^[0-9a-z]*$/.test(a + b) ? base36 : ascii;
}

/** The first PLACES characters of `s` as a number (missing ones: digit 0). */
function numberOf(s: string, r: Radix): bigint {
  let n = 0n;
  for (let i = 0; i < PLACES; i++) n = n * r.base + BigInt(i < s.length ? r.digit(s[i]!) : 0);
  return n;
}

function stringOf(n: bigint, r: Radix): string {
  const chars: string[] = [];
  for (let i = 0; i < PLACES; i++) {
    chars.unshift(r.char(Number(n % r.base)));
    n /= r.base;
  }
  return chars.join("");
}

/**
 * At most `parts` consecutive ranges covering every key, split between `first` and `last`
 * (the smallest and largest key now). Fewer when the keys are too close to split (one
 * range when first === last, or no keys: first null).
 */
export function splitRange(first: string | null, last: string | null, parts: number): KeyRange[] {
  if (first === null || last === null || parts <= 1 || first >= last) return [{}];
  let common = 0;
  while (common < first.length && first[common] === last[common]) common++;
  const prefix = first.slice(0, common);
  const [a, b] = [first.slice(common), last.slice(common)];
  const r = radixFor(a, b);
  const [x, y] = [numberOf(a, r), numberOf(b, r)];
  const bounds: string[] = [];
  for (let k = 1; k < parts; k++) {
    const key = (prefix + stringOf(x + ((y - x) * BigInt(k)) / BigInt(parts), r)).replace(/\0+$/, "");
    // Strictly inside (first, last] and ascending, or left out: each range then holds a key.
    // No NUL or lone surrogate: UTF-8 (LMDB's order) must sort the key as JavaScript does.
    if (key > first && key <= last && (bounds.length === 0 || key > bounds.at(-1)!) && !/[\0\ud800-\udfff]/.test(key)) bounds.push(key);
  }
  return [...bounds, undefined].map((end, i) => ({ ...(i > 0 ? { start: bounds[i - 1]! } : {}), ...(end !== undefined ? { end } : {}) }));
}
