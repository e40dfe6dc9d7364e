// The LMDB environment and its tables. Keys are laid out so appends go to the end of
// the B-tree (entries by a global sequence) with secondary indexes by customer.
import { open, type Database, type RootDatabase } from "lmdb";
import type { ProgrammeAccrual } from "../rules/types.js";

export interface Customer {
  id: string;
  profile: { name?: string; phone?: string; email?: string; birthday?: string; consents?: Record<string, boolean> };
  groups: string[];
  attributes: Record<string, string | number | boolean>;
  cards: string[];
  createdAt: number;
  /** How the customer came to be: "enroll" or "phone" (enrolled at a sale). */
  origin: string;
}

export interface Card {
  customerId: string;
  status: "active" | "blocked";
}

export interface Account {
  balance: number;
  held: number;
}

export interface Entry {
  seq: number;
  at: number;
  customerId: string;
  account: string;
  /** accrual | return | void | redemption | expiry | adjustment | conversion | voucher */
  kind: string;
  amount: number;
  /** Human-readable cause: "sale s-1", "return r-1 of s-1", "capture of h_12"... */
  cause: string;
  eventId?: string;
  holdId?: string;
  programme?: string;
  version?: number;
}

/** What one programme earned on a sale, kept for returns (the rule engine's accrual, minus its expiry). */
export type SaleProgramme = Omit<ProgrammeAccrual, "expiresAt">;

export interface SaleRecord {
  customerId: string;
  at: number;
  storeId: string;
  currency: string;
  lines: Record<string, { qty: number; amount: number }>;
  programmes: SaleProgramme[];
  /** Per programme: the lot its points went into ([expiresAt, seq]), or null (no expiry). */
  lots: ([number, number] | null)[];
  /** Quantity returned so far per line. */
  returnedQty: Record<string, number>;
  /** Points taken back so far, per programme index, per line ("" = basket-level). */
  taken: Record<string, number>[];
  voided: boolean;
}

export interface Hold {
  holdId: string;
  customerId: string;
  account: string;
  amount: number;
  value: number | null;
  status: "open" | "captured" | "released" | "expired";
  captured: number;
  createdAt: number;
  expiresAt: number;
  /** A redemption of a catalogue reward or a product: what the hold pays for (absent: plain authorize). */
  item?: HeldItem;
}

/** What a reward hold pays for; `qty` units of stock are taken while the hold is open. */
export interface HeldItem {
  rewardId?: string;
  sku?: string;
  qty: number;
  /** Points price per unit in force when the hold was placed. */
  price: number;
  /** Units taken from the reward's stock (0: unlimited), given back on release or expiry. */
  stockTaken: number;
}

/** A time-limited points price: in force for from <= t < to. */
export interface SeasonalPrice {
  from: number;
  to: number;
  pointsPrice: number;
}

/** A reward of the catalogue. Stock is decremented inside the ledger's write transaction. */
export interface Reward {
  id: string;
  name: string;
  category: string | null;
  account: string;
  pointsPrice: number;
  /** Units left; null = unlimited. */
  stock: number | null;
  seasonalPrices: SeasonalPrice[];
  active: boolean;
  updatedAt: number;
}

/** What a voucher gives: an amount off the bill, or a percentage off a category. */
export type VoucherTerms =
  | { kind: "amount"; value: number; currency: string }
  | { kind: "percent"; percent: number; category: string };

export type VoucherOffer = VoucherTerms & {
  id: string;
  name: string;
  /** The points account the voucher is bought from. */
  account: string;
  pointsCost: number;
  validDays: number;
  updatedAt: number;
};

export type Voucher = VoucherTerms & {
  code: string;
  customerId: string;
  offerId: string;
  name: string;
  account: string;
  pointsCost: number;
  issuedAt: number;
  expiresAt: number;
  status: "active" | "used" | "expired";
  /** Whether the "voucher expiring" notification went out. */
  noticed: boolean;
  usedAt?: number;
  /** The sale (or other event) the voucher paid for, when the terminal named it. */
  usedEventId?: string;
};

/** Points of one accrual that expire together; consumed oldest-expiry first. */
export interface Lot {
  /** Points of the lot not yet spent, taken back or expired. */
  r: number;
  /** The event that earned them. */
  e: string;
  /** Whether the "expiring soon" notification went out. */
  n: boolean;
}

/** The product card: what the rule engine and the rewards need to know of a SKU. */
export interface Product {
  sku: string;
  name?: string;
  category?: string;
  /** Points earned per unit sold (productCard rules). */
  pointsPerUnit?: number;
  /** Points price when the product is redeemed for points. */
  pointsPrice?: number;
}

export interface IdemRecord {
  /** Content hash of the first request. */
  h: string;
  /** The first reply. */
  r: Record<string, unknown>;
}

export interface StoredProgramme {
  version: number;
  programme: unknown;
  installedAt: number;
}

export interface Store {
  env: RootDatabase;
  customers: Database<Customer, string>;
  cards: Database<Card, string>;
  phones: Database<string, string>;
  accounts: Database<Account, [string, string]>;
  /** customerId -> the names of the customer's accounts (reading a few keys beats a range scan). */
  accountNames: Database<string[], string>;
  entries: Database<Entry, number>;
  byCustomer: Database<number, [string, number]>;
  idem: Database<IdemRecord, string>;
  sales: Database<SaleRecord, string>;
  holds: Database<Hold, string>;
  /** [customerId, account, expiresAt, entry seq] -> lot. */
  lots: Database<Lot, [string, string, number, number]>;
  /** [expiresAt, customerId, account, entry seq] -> 1: what the expiry sweeper scans. */
  lotsByExpiry: Database<number, [number, string, string, number]>;
  holdsByExpiry: Database<string, [number, string]>;
  turnover: Database<[number, number][], string>;
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
  meta: Database<number, string>;
}

const STRUCTURES = Symbol.for("loyaltyd.structures");

export function openStore(path: string): Store {
  // lmdb-js batches async transactions into shared commits; overlappingSync lets a
  // commit's fsync overlap the next one, so durability is awaited with env.flushed.
  const env = open({ path, maxDbs: 32, mapSize: 1024 ** 3 });
  // Shared msgpack structures (stored in each table): records decode without their key names.
  const db = <V, K extends import("lmdb").Key>(name: string) => env.openDB<V, K>({ name, sharedStructuresKey: STRUCTURES });
  return {
    env,
    customers: db("customers"),
    cards: db("cards"),
    phones: db("phones"),
    accounts: db("accounts"),
    accountNames: db("accountNames"),
    entries: db("entries"),
    byCustomer: db("byCustomer"),
    idem: db("idem"),
    sales: db("sales"),
    holds: db("holds"),
    lots: db("lots"),
    lotsByExpiry: db("lotsByExpiry"),
    holdsByExpiry: db("holdsByExpiry"),
    turnover: db("turnover"),
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
  };
}

export async function closeStore(store: Store): Promise<void> {
  await store.env.flushed;
  await store.env.close();
}
