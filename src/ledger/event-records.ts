// The events table's records as stored. A sale's record keeps its lines, the programmes'
// per-line points and what returns took so far; in memory these are maps keyed by lineId,
// but stored (format 3) they are arrays in line order: maps keyed by lineIds give every
// basket a key set of its own, which msgpackr cannot share as a structure, so each record
// carried its keys' names (and the table's structure slots filled up with them).
import type { EventRecord, PackedSale, SaleRecord, StoredEventRecord, Store } from "./store.js";
import { saleFigures, saleReply } from "./sale-reply.js";

function isPacked(s: SaleRecord | PackedSale): s is PackedSale {
  return (s as PackedSale).li !== undefined;
}

/** Values aligned to `ids`; null when every one is absent or zero (nothing to store). */
function aligned(ids: readonly string[], map: Record<string, number>): number[] | null {
  let any = false;
  const out = ids.map((id) => {
    const v = Object.hasOwn(map, id) ? map[id]! : 0;
    if (v !== 0) any = true;
    return v;
  });
  return any ? out : null;
}

/** The map an aligned array stands for: zeros are left out, as the ledger never reads a zero differently from none. */
function mapOf(ids: readonly string[], values: readonly number[] | undefined, out: Record<string, number> = {}): Record<string, number> {
  if (!values) return out;
  for (let i = 0; i < ids.length; i++) if (values[i]) out[ids[i]!] = values[i]!;
  return out;
}

export function packSale(s: SaleRecord): PackedSale {
  const li = Object.keys(s.lines);
  const p: PackedSale = {
    customerId: s.customerId,
    at: s.at,
    storeId: s.storeId,
    currency: s.currency,
    li,
    lq: li.map((id) => s.lines[id]!.qty),
    la: li.map((id) => s.lines[id]!.amount),
    pg: s.programmes.map((g) => [g.programme, g.version, g.account, g.earned, g.basketEarned, aligned(li, g.lineEarned) ?? []]),
    lots: s.lots,
  };
  if (s.channel !== undefined) p.channel = s.channel;
  if (s.items !== undefined) p.items = s.items;
  const rq = aligned(li, s.returnedQty);
  if (rq) p.rq = rq;
  const takenAny = s.taken.some((t) => Object.keys(t).length > 0);
  // Per programme: what each line gave back, then the basket-level part.
  if (takenAny) p.tk = s.taken.map((t) => [...li.map((id) => (Object.hasOwn(t, id) ? t[id]! : 0)), t[""] ?? 0]);
  if (s.voided) p.v = 1;
  return p;
}

export function unpackSale(s: SaleRecord | PackedSale): SaleRecord {
  if (!isPacked(s)) return s;
  const lines: SaleRecord["lines"] = {};
  s.li.forEach((id, i) => (lines[id] = { qty: s.lq[i]!, amount: s.la[i]! }));
  const out: SaleRecord = {
    customerId: s.customerId,
    at: s.at,
    storeId: s.storeId,
    currency: s.currency,
    ...(s.channel !== undefined ? { channel: s.channel } : {}),
    ...(s.items !== undefined ? { items: s.items } : {}),
    lines,
    programmes: s.pg.map(([programme, version, account, earned, basketEarned, lineEarned]) => ({ programme, version, account, earned, lineEarned: mapOf(s.li, lineEarned), basketEarned })),
    lots: s.lots,
    returnedQty: mapOf(s.li, s.rq),
    taken: s.pg.map((_, i) => {
      const t = s.tk?.[i];
      if (!t) return {};
      const m = mapOf(s.li, t);
      if (t[s.li.length]) m[""] = t[s.li.length]!;
      return m;
    }),
    voided: s.v === 1,
  };
  return out;
}

/** An event's record as the ledger works with it (format 2, 3 and 4 records alike). */
export function getEvent(store: Store, eventId: string): EventRecord | undefined {
  const stored = store.events.get(eventId);
  if (!stored?.s) return stored as EventRecord | undefined;
  const packed = isPacked(stored.s) ? stored.s : null;
  const r = stored.f && packed ? saleReply(eventId, stored.f, packed) : stored.r!;
  // The stored keys in their order, less the figures, the sale unpacked, then the reply (as
  // `{ ...rest, r, s }` would build it: object rest costs V8 ~1.5 µs a call, a loop ~0.04).
  const out: Record<string, unknown> = {};
  for (const k in stored) if (k !== "f") out[k] = k === "s" ? unpackSale(stored.s) : stored[k as keyof StoredEventRecord];
  out.r = r;
  return out as unknown as EventRecord;
}

/** A sale's record keeps its first reply as figures when they rebuild it exactly (format 4). */
export function putEvent(store: Store, eventId: string, record: EventRecord): void {
  if (!record.s) return void store.events.put(eventId, record as StoredEventRecord);
  const s = packSale(record.s);
  const f = saleFigures(eventId, record.r, s);
  // The record's keys in their order with the sale packed, then the figures or the whole
  // reply: the key order `{ ...rest, f, s }` gave, so the table's msgpackr structures stay the same.
  const stored: Record<string, unknown> = {};
  for (const k in record) if (k !== "r") stored[k] = k === "s" ? s : record[k as keyof EventRecord];
  if (f) stored.f = f;
  else stored.r = record.r;
  store.events.put(eventId, stored as StoredEventRecord);
}

/** The events table as the ledger's idempotency step reads and writes it. */
export function eventTable(store: Store): { get(key: string): EventRecord | undefined; put(key: string, value: EventRecord): void } {
  return { get: (key) => getEvent(store, key), put: (key, value) => putEvent(store, key, value) };
}
