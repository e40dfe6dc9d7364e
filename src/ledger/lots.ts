// Expiry lots in the wallet (format 5): each account's open lots, soonest expiry first, in
// the wallet record that every command moving points reads and writes anyway. Format 4 kept
// them in a table of their own (`lots`, keyed [customerId, account, expiresAt, seq]): a
// put of a random key and a page more per accrual (bench/RESULTS.md). A lot names the entry
// that earned it by seq; the event is read from that entry when the lot expires, and kept
// in the lot only when no entry of the customer's names it (a report's credit, a lot a
// merge brought in: its seq is the merged-away customer's).
import type { EntryGroup, Lot, Store, Wallet } from "./store.js";
import { own } from "./tx.js";
import { NO_TURNOVER } from "./turnover.js";

/**
 * One expiry lot as read from the wallet: [expiresAt, the seq of the entry that earned it,
 * points left, 1 once the "expiring" notice went out, and the event that earned it when no
 * entry of the customer's names it (a report's credit, a lot a merge brought in)].
 */
export type LotRow = [expiresAt: number, seq: number, left: number, noticed: 0 | 1, eventId?: string];

export const LOT_EXPIRES = 0;
export const LOT_SEQ = 1;
export const LOT_LEFT = 2;
export const LOT_NOTICED = 3;
export const LOT_EVENT = 4;

/**
 * An account's lots are one binary value of 25-byte rows: expiresAt, entry seq and points
 * left as float64 (little-endian), then a flag byte (1: noticed). An accrual appends a row
 * without decoding the others, and a wallet carrying them packs and unpacks as one copy
 * (measured: lots as msgpack arrays doubled the wallet's pack and unpack time).
 */
const ROW = 25;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** U+001F parts the key: no account name holds a control character (rules/programme.ts). */
const SEP = "\u001f";

function eventKey(account: string, expiresAt: number, seq: number): string {
  return `${account}${SEP}${expiresAt}${SEP}${seq}`;
}

/** The account's lots in order (soonest expiry, then oldest entry), decoded: changes go back with setLotRows. */
export function lotRows(w: Wallet, account: string): LotRow[] {
  const bytes = w.lots && own(w.lots, account);
  if (!bytes) return [];
  const v = view(bytes);
  const rows: LotRow[] = [];
  for (let o = 0; o + ROW <= bytes.byteLength; o += ROW) {
    const row: LotRow = [v.getFloat64(o, true), v.getFloat64(o + 8, true), v.getFloat64(o + 16, true), (v.getUint8(o + 24) & 1) as 0 | 1];
    const e = w.lotEvents && own(w.lotEvents, eventKey(account, row[LOT_EXPIRES], row[LOT_SEQ]));
    if (e !== undefined) row.push(e);
    rows.push(row);
  }
  return rows;
}

function writeRow(v: DataView, o: number, row: LotRow): void {
  v.setFloat64(o, row[LOT_EXPIRES], true);
  v.setFloat64(o + 8, row[LOT_SEQ], true);
  v.setFloat64(o + 16, row[LOT_LEFT], true);
  v.setUint8(o + 24, row[LOT_NOTICED] ? 1 : 0);
}

/** Stores the account's lots (in order; those left with no points leave), and the events the rows name. */
export function setLotRows(w: Wallet, account: string, rows: LotRow[]): void {
  const kept = rows.filter((r) => r[LOT_LEFT] > 0);
  if (w.lotEvents) {
    for (const key of Object.keys(w.lotEvents)) if (key.startsWith(`${account}${SEP}`)) delete w.lotEvents[key];
  }
  for (const r of kept) if (r[LOT_EVENT] !== undefined) (w.lotEvents ??= {})[eventKey(account, r[LOT_EXPIRES], r[LOT_SEQ])] = r[LOT_EVENT];
  if (w.lotEvents && Object.keys(w.lotEvents).length === 0) delete w.lotEvents;
  if (kept.length === 0) {
    if (w.lots) delete w.lots[account];
    if (w.lots && Object.keys(w.lots).length === 0) delete w.lots;
    return;
  }
  const bytes = new Uint8Array(kept.length * ROW);
  const v = view(bytes);
  kept.forEach((r, i) => writeRow(v, i * ROW, r));
  (w.lots ??= {})[account] = bytes;
}

/** The accounts that hold lots, in key order (as the format-4 table listed them). */
export function lotAccounts(w: Wallet): string[] {
  return w.lots ? Object.keys(w.lots).sort() : [];
}

/** The expiry and seq of the last row (the rest left as zeros): where an appended row must sort after. */
function lastRow(bytes: Uint8Array): LotRow {
  const v = view(bytes);
  const o = bytes.byteLength - ROW;
  return [v.getFloat64(o, true), v.getFloat64(o + 8, true), 0, 0];
}

function before(a: LotRow, b: LotRow): boolean {
  return a[LOT_EXPIRES] < b[LOT_EXPIRES] || (a[LOT_EXPIRES] === b[LOT_EXPIRES] && a[LOT_SEQ] < b[LOT_SEQ]);
}

/**
 * Puts a lot in its place: appended when it sorts last (an accrual's usually does: lots
 * are earned in time order), else among the others. A lot at the same expiry and seq adds
 * up with the one there, noticed only if both were (a merge across cluster partitions,
 * whose seqs are per partition, can bring two to one key).
 */
export function putLot(w: Wallet, account: string, row: LotRow): void {
  const bytes = (w.lots && own(w.lots, account)) ?? new Uint8Array(0);
  const n = bytes.byteLength;
  if (row[LOT_EVENT] === undefined && row[LOT_LEFT] > 0 && (n === 0 || before(lastRow(bytes), row))) {
    const grown = new Uint8Array(n + ROW);
    grown.set(bytes);
    writeRow(view(grown), n, row);
    (w.lots ??= {})[account] = grown;
    return;
  }
  const rows = lotRows(w, account);
  let i = rows.length;
  while (i > 0 && before(row, rows[i - 1]!)) i--;
  const there = rows[i - 1];
  if (there && there[LOT_EXPIRES] === row[LOT_EXPIRES] && there[LOT_SEQ] === row[LOT_SEQ]) {
    there[LOT_LEFT] += row[LOT_LEFT];
    there[LOT_NOTICED] = there[LOT_NOTICED] && row[LOT_NOTICED] ? 1 : 0;
  } else rows.splice(i, 0, row);
  setLotRows(w, account, rows);
}

/** Keeps the account's lots `keep` says to (it may change a row it keeps: the change is stored). */
export function keepLots(w: Wallet, account: string, keep: (row: LotRow) => boolean): void {
  setLotRows(w, account, lotRows(w, account).filter(keep));
}

/** How many lots the wallet holds. */
export function lotCount(w: Wallet): number {
  return lotAccounts(w).reduce((n, a) => n + Math.floor(w.lots![a]!.byteLength / ROW), 0);
}

/** The wallet without lots (a merge moved them away). */
export function dropLots(w: Wallet): void {
  delete w.lots;
  delete w.lotEvents;
}

/** The event an entry of the customer names, by the entry's seq (a grouped record's postings included). */
export function eventOfEntry(store: Store, customerId: string, seq: number): string | undefined {
  // Most lots are a record's first posting (one key read); a later posting's record starts below it.
  // Either record form (a posting of its own, a grouped record) names its event as eventId.
  const at = store.entries.get([customerId, seq]);
  if (at !== undefined) return (at as { eventId?: string }).eventId;
  const range = store.entries.getRange({ start: [customerId, seq], end: [customerId] as unknown as [string, number], reverse: true, limit: 1 });
  for (const { key, value } of range) {
    const postings = (value as Partial<EntryGroup>).p;
    return postings !== undefined && seq < key[1] + postings.length ? (value as EntryGroup).eventId : undefined;
  }
  return undefined;
}

/** The event that earned a lot: its own, else the one its entry names ("" when neither says). */
export function lotEvent(store: Store, customerId: string, row: LotRow): string {
  return row[LOT_EVENT] ?? eventOfEntry(store, customerId, row[LOT_SEQ]) ?? "";
}

/** A lot as format 4 kept it (what a merge parcel carries): its event always named. */
export function lotRecord(store: Store, customerId: string, row: LotRow): Lot {
  return { r: row[LOT_LEFT], e: lotEvent(store, customerId, row), n: row[LOT_NOTICED] === 1 };
}

/** A lot of the customer's own entry at `seq`: the event is kept only when that entry does not name it. */
export function ownLotRow(store: Store, customerId: string, expiresAt: number, seq: number, lot: Lot): LotRow {
  const n = lot.n ? 1 : 0;
  return eventOfEntry(store, customerId, seq) === lot.e ? [expiresAt, seq, lot.r, n] : [expiresAt, seq, lot.r, n, lot.e];
}

/** Every lot of the ledger as format 4's table listed them (key order, event named): for tests and tools. */
export function* allLots(store: Store): Generator<{ key: [string, string, number, number]; value: Lot }> {
  for (const { key: customerId, value: w } of store.wallets.getRange()) {
    for (const account of lotAccounts(w)) {
      for (const row of lotRows(w, account)) yield { key: [customerId, account, row[LOT_EXPIRES], row[LOT_SEQ]], value: lotRecord(store, customerId, row) };
    }
  }
}

/**
 * Format 4 -> 5: the `lots` table moves into the wallets, a chunk of lots per write
 * transaction, each lot removed from the table in the transaction that adds it to its
 * wallet (an interrupted move resumes where it stopped). Returns the lots moved.
 */
export function moveLotsIntoWallets(store: Store, chunk = 10_000): number {
  let moved = 0;
  for (;;) {
    const n = store.env.transactionSync(() => {
      const range = [...store.lots.getRange({ limit: chunk })];
      const wallets = new Map<string, Wallet>();
      for (const { key, value } of range) {
        const [customerId, account, expiresAt, seq] = key;
        let w = wallets.get(customerId);
        if (!w) {
          w = store.wallets.get(customerId) ?? { accounts: {}, turnover: NO_TURNOVER };
          wallets.set(customerId, w);
        }
        putLot(w, account, ownLotRow(store, customerId, expiresAt, seq, value));
        store.lots.remove(key);
      }
      for (const [customerId, w] of wallets) store.wallets.put(customerId, w);
      return range.length;
    });
    if (n === 0) return moved;
    moved += n;
  }
}
