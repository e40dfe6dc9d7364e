// Two customers' purchase books as one (an admin merge, ledger/merge.ts): the survivor's
// book then counts both customers' sales, so its visits, spend, months and lists read as if
// one customer had made them, and a later return of either's sale takes back from it. Pure.
//
// How the bounded parts merge:
// - totals (visits, spend) add up; first and last visit are the earlier and the later;
// - months add up month by month; only the bound's newest months are kept (months older
//   than the newest minus the bound are dropped, as a sale drops them);
// - each list (stores, channels, categories, skus) is the union of both, one key's entries
//   added up (counts, amounts; first day the earlier, last day the later). When the union
//   holds more keys than the bound, the oldest go as a sale would evict them (smallest last
//   day, then smallest amount, then the one added longer ago, the survivor's before the
//   other's); `dropped` is the later of both sides' and of the last days dropped here;
// - a key one side had dropped earlier is not known to that side any more: the merged entry
//   counts the other side's part only, which `dropped` already says (the list is complete
//   only for keys last bought after that day).
import { decodeBook, encodeBook, type BookBounds, type MonthBucket, type PurchaseRecord, type Tally } from "./purchase-book.js";

const U16_MAX = 0xffff;
const U32_MAX = 0xffff_ffff;
const LIST_NAMES = ["stores", "channels", "categories", "skus"] as const;

/** The merged book (null when neither has one); `from` and `into` are left as they were. */
export function mergeBooks(from: Uint8Array | null, into: Uint8Array | null, bounds: BookBounds): Uint8Array | null {
  if (from === null) return into;
  if (into === null) return from;
  return encodeBook(mergePurchaseRecords(decodeBook(from), decodeBook(into), bounds));
}

/** Two decoded records as one (the rules above); exported for the tests. */
export function mergePurchaseRecords(from: PurchaseRecord, into: PurchaseRecord, bounds: BookBounds): PurchaseRecord {
  const dropped = [...into.dropped] as PurchaseRecord["dropped"];
  const lists = LIST_NAMES.map((name, l) => {
    const { kept, droppedDay } = mergeList(into[name], from[name], bounds.lists[l]!);
    dropped[l] = Math.max(dropped[l]!, from.dropped[l]!, droppedDay);
    return kept;
  });
  return {
    visits: into.visits + from.visits,
    spend: into.spend + from.spend,
    firstAt: earliestAt(from, into),
    lastAt: Math.max(from.lastAt, into.lastAt),
    months: mergeMonths(from.months, into.months, bounds.months),
    stores: lists[0]!,
    channels: lists[1]!,
    categories: lists[2]!,
    skus: lists[3]!,
    dropped,
  };
}

/** firstAt of a book before any sale is 0 (lastAt too): it does not count. */
function earliestAt(a: PurchaseRecord, b: PurchaseRecord): number {
  if (a.lastAt === 0) return b.firstAt;
  if (b.lastAt === 0) return a.firstAt;
  return Math.min(a.firstAt, b.firstAt);
}

function mergeMonths(a: readonly MonthBucket[], b: readonly MonthBucket[], bound: number): MonthBucket[] {
  const byMonth = new Map<number, [number, number]>();
  for (const [month, visits, spend] of [...b, ...a]) {
    const m = byMonth.get(month) ?? [0, 0];
    byMonth.set(month, [m[0] + visits, m[1] + spend]);
  }
  const months = [...byMonth.keys()].sort((x, y) => x - y);
  const floor = (months.at(-1) ?? 0) - bound;
  return months.filter((m) => m > floor).map((m) => {
    const [visits, spend] = byMonth.get(m)!;
    return [m, Math.min(U16_MAX, visits), spend];
  });
}

/** The union (the survivor's keys in their order, then the other's new ones), cut to the bound; and the latest last day cut (-1: none). */
function mergeList(into: readonly Tally[], from: readonly Tally[], bound: number): { kept: Tally[]; droppedDay: number } {
  const byKey = new Map<string, Tally>();
  for (const t of [...into, ...from]) {
    const m = byKey.get(t[0]);
    byKey.set(t[0], m ? [t[0], Math.min(U32_MAX, m[1] + t[1]), m[2] + t[2], Math.min(m[3], t[3]), Math.max(m[4], t[4])] : [...t]);
  }
  const kept = [...byKey.values()];
  let droppedDay = -1;
  while (kept.length > bound) {
    const i = oldestIndex(kept);
    droppedDay = Math.max(droppedDay, kept[i]![4]);
    kept.splice(i, 1);
  }
  return { kept, droppedDay };
}

/** As purchase-book's eviction: smallest last day, then smallest amount, then the earliest in the list. */
function oldestIndex(list: readonly Tally[]): number {
  let best = 0;
  for (let i = 1; i < list.length; i++) {
    const [, , amount, , last] = list[i]!;
    const [, , bestAmount, , bestLast] = list[best]!;
    if (last < bestLast || (last === bestLast && amount < bestAmount)) best = i;
  }
  return best;
}
