// The LMDB environment and its tables, laid out for the hot path: an accrual writes the
// customer's wallet (its expiry lots inside, ledger/lots.ts), one entries record for the
// accounts it moves (keyed by customer, so a statement is a range read) and one event
// record (idempotency, reply and the sale's provenance for returns). docs/operations.md
// lists every table.
import { TransactionFlags, open, type Database, type RootDatabase } from "lmdb";
import { checkFormat } from "./format.js";
import { NO_TURNOVER, turnoverDays, turnoverOf, type TurnoverDay } from "./turnover.js";
import type { Approval } from "../admin/approvals.js";
import type { Segment } from "../admin/segments/saved.js";
import type { ImportMapping } from "../admin/sheets/mappings.js";
import type { ImportRecord } from "../admin/sheets/records.js";
import type { AuditRecord, Card, Customer, ReportStatus, Hold, Lot, OutboxRecord, Product, RankDay, Report, ReportHistory, Reward, StoredEntry, StoredEventRecord, StoredProgramme, TargetProgress, Voucher, VoucherOffer, Wallet, IdemRecord, BirthdayMark } from "./records.js";

export * from "./records.js";

export interface Store {
  env: RootDatabase;
  customers: Database<Customer, string>;
  cards: Database<Card, string>;
  phones: Database<string, string>;
  /** Merged-away customerId -> its survivor's: what the router reads (no customer record to decode). */
  aliases: Database<string, string>;
  /** loyaltyId (retailer-assigned) -> customerId. */
  loyaltyIds: Database<string, string>;
  /** [e-mail lower-cased, customerId] -> 1: who has an e-mail (several customers may share one). */
  emails: Database<number, [string, string]>;
  /** customerId -> accounts, turnover, the expiry sweeper's due time, open holds, tier and purchase knowledge. */
  wallets: Database<Wallet, string>;
  /** [customerId, seq] -> one entry, or the entries seq, seq + 1, ... of one event: a customer's entries in order, a statement is one range read. */
  entries: Database<StoredEntry, [string, number]>;
  /** eventId -> idempotency record of a sale, return or void (plus the sale's record for returns). */
  events: Database<StoredEventRecord, string>;
  /** requestId -> idempotency record of a request verb (enroll, authorize, capture...). */
  requests: Database<IdemRecord, string>;
  holds: Database<Hold, string>;
  /** [customerId, account, expiresAt, entry seq] -> lot. */
  /** Format 4's expiry lots: empty from format 5 (moved into the wallets at open, ledger/lots.ts). */
  lots: Database<Lot, [string, string, number, number]>;
  /** [dueAt, customerId] -> 1: when a customer's lots next need the sweeper (expiry or notice). */
  expiryDue: Database<number, [number, string]>;
  holdsByExpiry: Database<string, [number, string]>;
  programmes: Database<StoredProgramme, string>;
  /** Every version ever installed, so any entry can say which version earned it. */
  programmeHistory: Database<StoredProgramme, [string, number]>;
  products: Database<Product, string>;
  rewards: Database<Reward, string>;
  voucherOffers: Database<VoucherOffer, string>;
  /** code -> voucher; its customerId is how the router finds a code's partition. */
  vouchers: Database<Voucher, string>;
  /** [customerId, issuedAt, code] -> code: a customer's vouchers in issue order. */
  vouchersByCustomer: Database<string, [string, number, string]>;
  /** [expiresAt, code] -> customerId: active vouchers, for the sweeper to expire. */
  vouchersByExpiry: Database<string, [number, string]>;
  /** [expiresAt, code] -> customerId: active vouchers whose expiring notice has not gone out. */
  voucherNotices: Database<string, [number, string]>;
  /** Counters and versions; also the retention scan's positions (string keys: see ledger/retention.ts). */
  meta: Database<number, string>;
  /** outbox sequence -> the notifications of one batch not yet all stored by JetStream (config notify.outbox; see ledger/notifications.ts). */
  notifyOutbox: Database<OutboxRecord, number>;
  /** ["MM-DD", customerId] -> the last local year a birthday notification went out (0: none yet), with the customer's own time zone if any; see ledger/birthdays.ts. */
  birthdays: Database<BirthdayMark, [string, string]>;
  /** [at, seq] -> admin action: append-only, written by the main thread only. */
  audit: Database<AuditRecord, [number, number]>;
  /** approvalId -> a money adjustment waiting for its second operator (written by the main thread only). */
  approvals: Database<Approval, string>;
  /** segmentId -> a saved segment {id, name, filter, updatedAt} (admin). */
  segments: Database<Segment, string>;
  /** reportId -> a distributor's sales report. */
  reports: Database<Report, string>;
  /** [customerId, submittedAt, reportId] -> status: a participant's reports in order (statements). */
  reportsByCustomer: Database<ReportStatus, [string, number, string]>;
  /** [status, submittedAt, reportId] -> customerId: the review queue (GET /v1/admin/reports?status=). */
  reportsByStatus: Database<string, [string, number, string]>;
  /** [customerId, invoice] -> the reportId that claimed it (pending or approved). */
  invoices: Database<string, [string, string]>;
  /** customerId -> recent approved lines (the plausibility checks). */
  reportHistory: Database<ReportHistory, string>;
  /** [customerId, targetId] -> progress towards a sales target (rule kind target). */
  targets: Database<TargetProgress, [string, string]>;
  /** [invoice date, customerId] -> the distributor's approved sales of that date (rankings). */
  rankDays: Database<RankDay, [string, string]>;
  /** mapping name -> how one source's spreadsheets map onto an import's fields (admin/sheets/mappings.ts; main thread only). */
  importMappings: Database<ImportMapping, string>;
  /** importId (time-ordered) -> one spreadsheet import's outcome and row errors, for download (admin/sheets/records.ts; main thread only). */
  imports: Database<ImportRecord, string>;
}


export { FORMAT_VERSION, StoreFormatError, migratesFrom } from "./format.js";

const STRUCTURES = Symbol.for("loyaltyd.structures");

/** Calls of a table's writing methods in this thread so far (see {@link writesSoFar}). */
let writeCalls = 0;

/**
 * How many times this thread has written through the store's tables. A command that
 * refuses with the count unchanged left nothing in the transaction, so the partition's
 * batch needs no child transaction to roll it back (ledger.ts, Ledger.applyOne).
 */
export function writesSoFar(): number {
  return writeCalls;
}

/** The table, its writing methods counted (on the instance: lmdb-js's own methods run as before). */
function counted<V, K extends import("lmdb").Key>(db: Database<V, K>): Database<V, K> {
  const target = db as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ["put", "putSync", "remove", "removeSync", "ifNoExists"]) {
    const write = target[name]!;
    target[name] = function (this: unknown, a: unknown, b: unknown, c: unknown, d: unknown) {
      writeCalls++;
      return write.call(this, a, b, c, d);
    };
  }
  return db;
}

/**
 * A wallet as formats 6 and 7 store it: its maps keyed by hold ids and lot keys as arrays of
 * [key, ...value] rows. msgpackr shares one structure per key set, so a map whose keys
 * are new each time (every hold's id is) made a structure of its own on every write:
 * a wallet with one open hold took twice as long to read and write, and grew slower
 * with every hold more (bench/RESULTS.md, 2026-12-02). In memory they stay maps.
 */
interface StoredWallet extends Omit<Wallet, "holds" | "lotEvents" | "turnover"> {
  holds?: Wallet["holds"] | [holdId: string, account: string, amount: number, expiresAt: number][];
  lotEvents?: Wallet["lotEvents"] | [key: string, eventId: string][];
  /** Format 7's binary rows; format 6 and earlier wrote [day, amount] pairs (as cluster snapshots still carry them). */
  turnover: Uint8Array | TurnoverDay[];
}

/**
 * The wallet as stored: its hold and lot-event maps as rows, its turnover binary (a new
 * object when anything changes form; the caller's is left as it is).
 */
export function storedWallet(w: Wallet | StoredWallet): StoredWallet {
  const holds = w.holds !== undefined && !Array.isArray(w.holds);
  const lotEvents = w.lotEvents !== undefined && !Array.isArray(w.lotEvents);
  const pairs = Array.isArray(w.turnover);
  if (!holds && !lotEvents && !pairs) return w;
  const out: StoredWallet = { ...w };
  if (pairs) out.turnover = turnoverOf(w.turnover as TurnoverDay[]);
  if (holds) out.holds = Object.entries(w.holds as NonNullable<Wallet["holds"]>).map(([id, [account, amount, expiresAt]]) => [id, account, amount, expiresAt]);
  if (lotEvents) out.lotEvents = Object.entries(w.lotEvents as NonNullable<Wallet["lotEvents"]>);
  return out;
}

/** The wallet as the ledger works with it, from any stored form (format 5's maps, format 6's turnover pairs). */
export function walletOf(w: StoredWallet): Wallet {
  if (!(w.turnover instanceof Uint8Array)) w.turnover = w.turnover === undefined ? NO_TURNOVER : turnoverOf(w.turnover);
  if (Array.isArray(w.holds)) {
    const holds: NonNullable<Wallet["holds"]> = {};
    for (const [id, account, amount, expiresAt] of w.holds) holds[id] = [account, amount, expiresAt];
    w.holds = holds;
  }
  if (Array.isArray(w.lotEvents)) w.lotEvents = Object.fromEntries(w.lotEvents);
  return w as Wallet;
}

/**
 * A wallet in the form every format reads (format 6's: turnover as [day, amount] pairs), for
 * what leaves this ledger for another instance: a cluster snapshot of a partition.
 */
export function portableWallet(w: Wallet): Omit<Wallet, "turnover"> & { turnover: TurnoverDay[] } {
  return { ...w, turnover: turnoverDays(w.turnover) };
}

/** The wallets table as lmdb-js decodes it, without the conversion of walletTable (each stored form as it is: tests and migrations). */
export function rawWallets(store: Store): Database<Record<string, unknown>, string> {
  return store.env.openDB<Record<string, unknown>, string>({ name: "wallets", sharedStructuresKey: STRUCTURES });
}

/** The wallets table, read and written in memory's form (the rows of storedWallet on disk). */
function walletTable(db: Database<Wallet, string>): Database<Wallet, string> {
  const raw = db as unknown as Database<StoredWallet, string>;
  const get = raw.get.bind(raw);
  const put = raw.put.bind(raw);
  const getRange = raw.getRange.bind(raw);
  const target = db as unknown as Record<string, unknown>;
  target.get = (key: string, options?: unknown) => {
    const w = get(key, options as never);
    return w === undefined ? undefined : walletOf(w);
  };
  target.put = (key: string, value: Wallet, ...rest: unknown[]) => (put as (...a: unknown[]) => unknown)(key, storedWallet(value), ...rest);
  target.getRange = (options?: unknown) => getRange(options as never).map(({ key, value }) => ({ key, value: walletOf(value) }));
  return db;
}

export function openStore(path: string): Store {
  // lmdb-js batches async transactions into shared commits; overlappingSync lets a
  // commit's fsync overlap the next one, so durability is awaited with env.flushed.
  const env = open({ path, maxDbs: 64, mapSize: 64 * 1024 ** 3 });
  // Shared msgpack structures (stored in each table): records decode without their key names.
  const db = <V, K extends import("lmdb").Key>(name: string) => counted(env.openDB<V, K>({ name, sharedStructuresKey: STRUCTURES }));
  const store: Store = {
    env,
    customers: db("customers"),
    cards: db("cards"),
    phones: db("phones"),
    aliases: db("aliases"),
    loyaltyIds: db("loyaltyIds"),
    emails: db("emails"),
    wallets: walletTable(db("wallets")),
    entries: db("ledgerEntries"),
    events: db("events"),
    requests: db("requests"),
    holds: db("holds"),
    lots: db("lots"),
    expiryDue: db("expiryDue"),
    holdsByExpiry: db("holdsByExpiry"),
    programmes: db("programmes"),
    programmeHistory: db("programmeHistory"),
    products: db("products"),
    rewards: db("rewards"),
    voucherOffers: db("voucherOffers"),
    vouchers: db("vouchers"),
    vouchersByCustomer: db("vouchersByCustomer"),
    vouchersByExpiry: db("vouchersByExpiry"),
    voucherNotices: db("voucherNotices"),
    meta: db("meta"),
    // No shared structures: its entry count is then exactly its records (the pending gauge reads it).
    notifyOutbox: counted(env.openDB<OutboxRecord, number>({ name: "notifyOutbox" })),
    birthdays: db("birthdays"),
    audit: db("audit"),
    approvals: db("approvals"),
    segments: db("segments"),
    reports: db("reports"),
    reportsByCustomer: db("reportsByCustomer"),
    reportsByStatus: db("reportsByStatus"),
    invoices: db("invoices"),
    reportHistory: db("reportHistory"),
    targets: db("targets"),
    rankDays: db("rankDays"),
    importMappings: db("importMappings"),
    imports: db("imports"),
  };
  try {
    checkFormat(store, path);
    indexEmailsOnce(store);
  } catch (err) {
    void env.close();
    throw err;
  }
  return store;
}

/** The key of a customer's e-mail in `emails`: e-mail addresses are matched without case. */
export function emailKey(email: string, customerId: string): [string, string] {
  return [email.toLowerCase(), customerId];
}

/**
 * The `emails` index came after customers had e-mails: a ledger that has not had it yet
 * gets it once, from every customer record (meta `emailsIndexed` says it is done). No
 * format change: a release without the index simply does not read the table.
 */
function indexEmailsOnce(store: Store): void {
  if (store.meta.get("emailsIndexed") === 1) return;
  store.env.transactionSync(() => {
    for (const { key, value } of store.customers.getRange()) {
      if (value.profile.email) store.emails.put(emailKey(value.profile.email, key), 1);
    }
    store.meta.put("emailsIndexed", 1);
  });
}

/**
 * A synchronous write transaction (a partition's worker commits its batches so), durable
 * when it returns, that holds LMDB's write lock only while it writes its pages.
 *
 * With overlappingSync (lmdb-js's default on Linux) it commits as lmdb-js's own writer
 * thread does (TransactionFlags.NO_SYNC_FLUSH: the LMDB txn flag MDB_NOSYNC): the commit
 * writes the pages and a meta page marked not yet flushed, releases the write lock (for
 * a transaction of up to ~500 dirty pages), and then, still in this thread, fdatasyncs
 * and writes the flushed meta page (mdb_txn_commit, lmdb-js's liblmdb fork). After a
 * crash of the machine LMDB opens at the last flushed meta, so nothing half-written is
 * ever read. A full-sync commit fsyncs while holding the lock: two partitions' workers
 * then wait for each other's fsyncs (measured, bench/RESULTS.md 2026-12-01: two writer
 * threads on one environment 2,848 sales/s full-sync, 5,184 this way; one, 2,664 and 2,968).
 * lmdb-js documents NO_SYNC_FLUSH as "may return before the flush", so the env's sync
 * follows: it returns at once when the commit synced itself (its transaction id is
 * covered) and syncs now otherwise. Without overlappingSync (an environment created
 * without it) the flag would skip the sync altogether: a full-sync commit then.
 */
export function durableTransaction<T>(store: Store, fn: () => T): T {
  const root = store.env as RootDatabase & { overlappingSync?: boolean; env?: { sync?: () => void } };
  if (!root.overlappingSync || typeof root.env?.sync !== "function") return root.transactionSync(fn);
  const result = root.transactionSync(fn, TransactionFlags.ABORTABLE | TransactionFlags.SYNCHRONOUS_COMMIT | TransactionFlags.NO_SYNC_FLUSH);
  root.env.sync();
  return result;
}

/**
 * Whether a failed write is the storage refusing it (disk full, map full, an I/O error
 * writing pages), not a fault of the command: the transaction rolled back as a whole, and
 * the same write may succeed once space returns. lmdb-js reports a page write failure as
 * EIO (5) or ENOSPC (28), and an async commit failure as "Commit failed" with the cause in
 * a second, rejected promise that is settled here so that it cannot crash the process.
 */
export function isStorageRefusal(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; commitError?: Promise<unknown> };
  e.commitError?.catch(() => undefined);
  if (e.code === 5 || e.code === 28 || e.code === "ENOSPC" || e.code === "EIO" || e.code === "EDQUOT") return true;
  return typeof e.message === "string" && /No space left|Input\/output error|MDB_MAP_FULL|Disk quota|Commit failed/.test(e.message);
}

export async function closeStore(store: Store): Promise<void> {
  await store.env.flushed;
  await store.env.close();
}
