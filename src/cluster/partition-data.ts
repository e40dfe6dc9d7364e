// A virtual partition's share of the ledger. An instance keeps every partition it serves
// in one LMDB environment; a partition's records are found by who they belong to: each
// table's records name a customer (in the key, the value, or, for idempotency records,
// the partition their command was logged in), and a customer's partition is the one the
// router sends it to. The table of owners below covers every table of the store (the
// compiler checks it), so a table added later must say whose its records are.
//
// A snapshot file is a gzip of MessagePack frames: a header, one [table, keys, values] per
// run of up to RUN_MAX records of a table, and a trailer with the count (a file cut
// short is refused). Reading a
// partition out uses one read transaction (a consistent cut: its records as of its `log@`
// position); writing one in first removes what the ledger held of that partition, in
// chunks, behind a `restoring@` mark that only the last chunk clears, so a restore cut
// short by a crash is redone, never taken for a partition's state.
import { closeSync, createReadStream, openSync, statSync, writeSync } from "node:fs";
import { createGunzip, gzipSync } from "node:zlib";
import { Packr, UnpackrStream } from "msgpackr";
import type { Database, Key, Transaction } from "lmdb";
import { partitionOf } from "../partition/hash.js";
import { scopedPartition } from "../partition/router.js";
import { portableWallet, type Store, type Wallet } from "../ledger/store.js";
import { moveLotsIntoWallets } from "../ledger/lots.js";

export type TableName = Exclude<keyof Store, "env">;

/** Whose a table's records are. */
type Owner =
  /** The key is a customer id. */
  | "key"
  /** key[i] is a customer id. */
  | { keyAt: number }
  /** The value is a customer id. */
  | "value"
  /** value.customerId. */
  | "field"
  /** An idempotency record: the partition its command was logged in (`v`), else the customer its record names. */
  | "idem"
  /** Meta keys `<counter>@<partition>`; other meta keys are the instance's. */
  | "meta"
  /** Not a partition's: the back office, the instance's own outbox and audit. */
  | "instance";

export const TABLE_OWNERS: Record<TableName, Owner> = {
  customers: "key",
  cards: "field",
  phones: "value",
  aliases: "value",
  loyaltyIds: "value",
  emails: { keyAt: 1 },
  wallets: "key",
  entries: { keyAt: 0 },
  events: "idem",
  requests: "idem",
  holds: "field",
  lots: { keyAt: 0 },
  expiryDue: { keyAt: 1 },
  holdsByExpiry: "value",
  programmes: "instance",
  programmeHistory: "instance",
  products: "instance",
  rewards: "instance",
  voucherOffers: "instance",
  vouchers: "field",
  vouchersByCustomer: { keyAt: 0 },
  vouchersByExpiry: "value",
  voucherNotices: "value",
  meta: "meta",
  notifyOutbox: "instance",
  birthdays: { keyAt: 1 },
  audit: "instance",
  approvals: "instance",
  segments: "instance",
  reports: "field",
  reportsByCustomer: { keyAt: 0 },
  reportsByStatus: "value",
  invoices: { keyAt: 0 },
  reportHistory: "key",
  targets: { keyAt: 0 },
  rankDays: { keyAt: 1 },
  importMappings: "instance",
  imports: "instance",
};

const PARTITION_TABLES = (Object.keys(TABLE_OWNERS) as TableName[]).filter((t) => TABLE_OWNERS[t] !== "instance");

/** The meta keys of a partition (Ledger vpMetaKey), and the mark of a restore under way. */
const PARTITION_META = /^(?:seq|customerSeq|holdSeq|log|restoring)@(\d+)$/;
export const restoringKey = (vp: number): string => `restoring@${vp}`;

export const SNAPSHOT_FORMAT = 1;

export interface SnapshotHeader {
  format: number;
  vp: number;
  /** The cluster's virtual partitions (a snapshot of another layout is refused). */
  partitions: number;
  /** The last log position the snapshot holds (Ledger `log@<vp>`): a replay continues after it. */
  pos: number;
  /** When it was taken (epoch ms). */
  at: number;
}

export interface PartitionFile {
  vp: number;
  file: string;
  pos: number;
  records: number;
  bytes: number;
}

/** Which virtual partition a record belongs to, in one read transaction; null: none (the instance's, or unknown). */
export function partitionReader(store: Store, partitions: number, txn?: Transaction) {
  const opts = txn ? { transaction: txn } : undefined;
  const ofCustomer = (id: unknown): number | null => {
    if (typeof id !== "string") return null;
    const scoped = scopedPartition(id);
    if (scoped !== null && scoped < partitions) return scoped;
    // As the router sends it: a merged-away customer's records go with its survivor.
    return partitionOf(store.aliases.get(id, opts) ?? id, partitions);
  };
  return (table: TableName, key: Key, value: unknown): number | null => {
    const owner = TABLE_OWNERS[table];
    switch (owner) {
      case "instance":
        return null;
      case "key":
        return ofCustomer(key);
      case "value":
        return ofCustomer(value);
      case "field":
        return ofCustomer((value as { customerId?: unknown } | null)?.customerId);
      case "idem": {
        const r = value as { v?: unknown; s?: { customerId?: unknown }; r?: { customerId?: unknown } } | null;
        if (typeof r?.v === "number") return r.v;
        return ofCustomer(r?.s?.customerId ?? r?.r?.customerId);
      }
      case "meta": {
        const m = typeof key === "string" ? PARTITION_META.exec(key) : null;
        return m ? Number(m[1]) : null;
      }
      default:
        return ofCustomer(Array.isArray(key) ? key[owner.keyAt] : undefined);
    }
  };
}

function table(store: Store, name: TableName): Database<unknown, Key> {
  return store[name] as unknown as Database<unknown, Key>;
}

const packr = new Packr({ useRecords: false, variableMapSize: true });
/** Uncompressed bytes gathered before a gzip member is written. */
const CHUNK_BYTES = 1 << 20;

/** One partition's snapshot file being written. */
interface Out {
  file: string;
  fd: number;
  parts: Buffer[];
  size: number;
  records: number;
  bytes: number;
  pos: number;
  /** Records of one table gathered into one frame [table, keys, values]: one frame per record cost more to read than the records. */
  run: { table: TableName; keys: Key[]; values: unknown[] } | null;
}

/** Records of one table per frame at most. */
const RUN_MAX = 1000;

function flush(o: Out): void {
  if (o.size === 0) return;
  const z = gzipSync(Buffer.concat(o.parts), { level: 1 });
  writeSync(o.fd, z);
  o.bytes += z.length;
  o.parts = [];
  o.size = 0;
}

function writeFrame(o: Out, frame: unknown): void {
  const b = packr.pack(frame);
  o.parts.push(b);
  o.size += b.length;
  if (o.size >= CHUNK_BYTES) flush(o);
}

function endRun(o: Out): void {
  if (o.run) writeFrame(o, [o.run.table, o.run.keys, o.run.values]);
  o.run = null;
}

function addRecord(o: Out, name: TableName, key: Key, value: unknown): void {
  if (o.run && (o.run.table !== name || o.run.keys.length >= RUN_MAX)) endRun(o);
  o.run ??= { table: name, keys: [], values: [] };
  o.run.keys.push(key);
  o.run.values.push(value);
  o.records++;
}

/**
 * Writes the records of partitions `vps` as they stand now, one file per partition, in
 * one pass over the ledger under one read transaction (`dir/<vp>.snap`).
 */
export function exportPartitions(store: Store, partitions: number, vps: number[], dir: string, now: number): PartitionFile[] {
  // This thread only reads between its own writes: without a reset, lmdb-js may hand it the
  // read transaction it last had, older than what the partitions' workers have committed
  // since (seen: a new owner's every snapshot held the position it had restored, so its
  // logs were never trimmed; test/cluster/snapshots.test.ts failed 2 runs in 5).
  store.env.resetReadTxn();
  const txn = store.env.useReadTransaction();
  try {
    const opts = { transaction: txn };
    const of = partitionReader(store, partitions, txn);
    const out = new Map<number, Out>();
    for (const vp of vps) {
      const file = `${dir}/${vp}.snap`;
      const pos = (store.meta.get(`log@${vp}`, opts) as number | undefined) ?? 0;
      const o: Out = { file, fd: openSync(file, "w"), parts: [], size: 0, records: 0, bytes: 0, pos, run: null };
      out.set(vp, o);
      writeFrame(o, { format: SNAPSHOT_FORMAT, vp, partitions, pos, at: now } satisfies SnapshotHeader);
    }
    try {
      for (const name of PARTITION_TABLES) {
        for (const { key, value } of table(store, name).getRange({ transaction: txn } as never)) {
          const vp = of(name, key, value);
          const o = vp === null ? undefined : out.get(vp);
          if (!o) continue;
          if (name === "meta" && (key as string).startsWith("restoring@")) continue;
          // A wallet in the form every ledger format reads: another instance restores it, whatever its release.
          addRecord(o, name, key, name === "wallets" ? portableWallet(value as Wallet) : value);
        }
      }
      for (const o of out.values()) {
        endRun(o);
        writeFrame(o, { end: true, records: o.records });
        flush(o);
      }
    } finally {
      for (const o of out.values()) closeSync(o.fd);
    }
    return [...out.entries()].map(([vp, o]) => ({ vp, file: o.file, pos: o.pos, records: o.records, bytes: statSync(o.file).size }));
  } finally {
    txn.done();
  }
}

/** The keys of a partition's records in the ledger now, table by table. */
function keysOf(store: Store, partitions: number, vp: number): [TableName, Key][] {
  store.env.resetReadTxn(); // the ledger as the workers left it (see exportPartitions)
  const txn = store.env.useReadTransaction();
  try {
    const of = partitionReader(store, partitions, txn);
    const keys: [TableName, Key][] = [];
    for (const name of PARTITION_TABLES) {
      for (const { key, value } of table(store, name).getRange({ transaction: txn } as never)) if (of(name, key, value) === vp) keys.push([name, key]);
    }
    return keys;
  } finally {
    txn.done();
  }
}

/** Records written per write transaction of a restore: other partitions' commits go in between. */
const RESTORE_CHUNK = 50_000;

/** Whether the ledger holds anything of the partition (its counters, position, or a restore cut short). */
export function holdsPartition(store: Store, vp: number): boolean {
  return ["seq", "customerSeq", "holdSeq", "log", "restoring"].some((k) => store.meta.get(`${k}@${vp}`) !== undefined);
}

/** Whether a restore of the partition was cut short here (its records are partial: restore again before serving). */
export function restoreCutShort(store: Store, vp: number): boolean {
  return store.meta.get(restoringKey(vp)) !== undefined;
}

/**
 * Removes the partition's records from the ledger, behind the mark of a restore under
 * way (which only the restore's last transaction clears). Synchronous transactions: call
 * it off the main thread (the snapshot worker) or on a ledger nothing else writes.
 */
function clearPartition(store: Store, partitions: number, vp: number): number {
  // Nothing of it here (never served here, no restore cut short): nothing to look for.
  store.env.resetReadTxn(); // the ledger as the workers left it (see exportPartitions)
  const held = holdsPartition(store, vp);
  store.env.transactionSync(() => store.meta.put(restoringKey(vp), 1));
  if (!held) return 0;
  const keys = keysOf(store, partitions, vp).filter(([name, key]) => !(name === "meta" && key === restoringKey(vp)));
  for (let i = 0; i < keys.length; i += RESTORE_CHUNK) {
    store.env.transactionSync(() => {
      for (const [name, key] of keys.slice(i, i + RESTORE_CHUNK)) table(store, name).remove(key);
    });
  }
  return keys.length;
}

/**
 * Replaces the partition's records in the ledger with the snapshot file's; resolves with
 * its header and how many records it wrote (and removed first). The partition must not
 * be applying commands meanwhile (a takeover restores before it serves).
 */
export async function importPartition(store: Store, partitions: number, vp: number, file: string): Promise<{ header: SnapshotHeader; records: number; removed: number }> {
  const source = createReadStream(file);
  const gunzip = createGunzip();
  const frames = new UnpackrStream({ useRecords: false });
  // pipe() passes data on, not errors: a file cut short fails the iteration below.
  source.on("error", (err) => frames.destroy(err));
  gunzip.on("error", (err) => frames.destroy(err));
  source.pipe(gunzip).pipe(frames);
  let header: SnapshotHeader | null = null;
  let ended: { records: number } | null = null;
  let removed = 0;
  let records = 0;
  const metas: [string, number][] = [];
  let chunk: [TableName, Key, unknown][] = [];
  const write = () => {
    const c = chunk;
    chunk = [];
    if (c.length) store.env.transactionSync(() => c.forEach(([name, key, value]) => table(store, name).put(key, value)));
  };
  for await (const frame of frames as AsyncIterable<unknown>) {
    if (header === null) {
      header = frame as SnapshotHeader;
      if (header?.format !== SNAPSHOT_FORMAT || header.vp !== vp || header.partitions !== partitions) {
        throw new Error(`snapshot ${file}: not a format ${SNAPSHOT_FORMAT} snapshot of partition ${vp} of ${partitions} (header ${JSON.stringify(header)})`);
      }
      removed = clearPartition(store, partitions, vp);
      continue;
    }
    if (ended) throw new Error(`snapshot ${file}: data after its end`);
    if (!Array.isArray(frame)) {
      ended = frame as { records: number };
      continue;
    }
    const [name, keys, values] = frame as [TableName, Key[], unknown[]];
    if (!Object.hasOwn(TABLE_OWNERS, name) || TABLE_OWNERS[name] === "instance") throw new Error(`snapshot ${file}: records of table ${String(name)}`);
    if (!Array.isArray(keys) || !Array.isArray(values) || keys.length !== values.length) throw new Error(`snapshot ${file}: a malformed frame of table ${name}`);
    records += keys.length;
    for (let i = 0; i < keys.length; i++) {
      // The partition's counters and position go in last, with the mark's removal.
      if (name === "meta") metas.push([keys[i] as string, values[i] as number]);
      else chunk.push([name, keys[i]!, values[i]]);
    }
    if (chunk.length >= RESTORE_CHUNK) write();
  }
  if (!header) throw new Error(`snapshot ${file}: empty`);
  if (!ended || ended.records !== records) throw new Error(`snapshot ${file}: cut short (${records} records, trailer ${JSON.stringify(ended)})`);
  write();
  // A snapshot an instance of ledger format 4 made has its lots in that table: into the wallets with them.
  moveLotsIntoWallets(store);
  store.env.transactionSync(() => {
    for (const [key, value] of metas) store.meta.put(key, value);
    store.meta.remove(restoringKey(vp));
  });
  return { header, records, removed };
}
