// The ledger's records: what each LMDB table of store.ts holds (docs/operations.md lists
// every table with its key, value, writer and bytes per record). Types only.
import type { ProgrammeAccrual } from "../rules/types.js";
import type { SaleFigures } from "./sale-reply.js";

export interface Address {
  line1?: string;
  line2?: string;
  postcode?: string;
  city?: string;
  country?: string;
}

/** A birthday index entry's value: the last local year notified, or [that year, the customer's own time zone]. */
export type BirthdayMark = number | [year: number, zone: string];

export interface Profile {
  name?: string;
  firstName?: string;
  lastName?: string;
  phone?: string;
  email?: string;
  address?: Address;
  /** "YYYY-MM-DD" or "MM-DD". */
  birthday?: string;
  language?: string;
  /** The customer's IANA time zone (its birthday greeting goes out on its local date); none: the deployment's. */
  timeZone?: string;
  /**
   * Consents as records written before consents kept their time: channel -> given. Read
   * (as given at createdAt) when the customer has no `consents`; never written any more.
   */
  consents?: Record<string, boolean>;
}

/** A consent on one channel: whether it stands, and when it was given or withdrawn (epoch ms). */
export interface Consent {
  granted: boolean;
  at: number;
}

export interface Customer {
  id: string;
  profile: Profile;
  /** Channel (email, sms, post, or a v1 enrolment's own name) -> consent. */
  consents?: Record<string, Consent>;
  /** The retailer-assigned loyalty id, indexed in `loyaltyIds`. */
  loyaltyId?: string;
  groups: string[];
  attributes: Record<string, string | number | boolean>;
  cards: string[];
  createdAt: number;
  /** How the customer came to be: "enroll", "phone" or "card" (enrolled at a sale). */
  origin: string;
  /** Merged away (ledger/merge.ts): the survivor every reference to this id resolves to. */
  mergedInto?: string;
  mergedAt?: number;
  /**
   * Cluster mode: the request of a merge into this customer from another partition, under
   * way (ledger/merge-steps.ts). Until it ends the customer is neither merged away nor
   * erased, and takes no other merge.
   */
  mergingIn?: string;
  /** On a survivor: the ids merged into it (each one hop from it, also in `aliases`). */
  mergedFrom?: string[];
  /** Erased (GDPR, ledger/merge.ts): profile and identifiers gone, ledger kept; found by nothing. */
  erasedAt?: number;
  erasure?: { operator: string; reason: string };
  /** "distributor": a B2B participant (docs/b2b.md); absent: a shopper. */
  kind?: "distributor";
  company?: Company;
  /** The people who may submit sales reports for a distributor. */
  users?: string[];
  /**
   * Dated group changes, in the order of their first day (ledger/groups.ts): absent until
   * the first dated change; `groups` is then what they come to today.
   */
  groupChanges?: GroupChange[];
}

export interface Company {
  name: string;
  taxId: string;
  address?: Address;
}

/** From `from` ("YYYY-MM-DD", inclusive) the customer is in `group` (in: true) or out of it. */
export interface GroupChange {
  from: string;
  group: string;
  in: boolean;
}

export interface Card {
  customerId: string;
  status: "active" | "blocked";
}

export interface Account {
  balance: number;
  held: number;
}

/** Everything the hot path reads and writes of one customer, in one record. */
export interface Wallet {
  /** Account name -> state. */
  accounts: Record<string, Account>;
  /**
   * Daily turnover buckets, pruned to limits.turnoverDaysKept: one binary value of
   * [day since epoch, minor units] rows, day ascending (format 7, ledger/turnover.ts; format 6
   * and earlier stored pairs, which the wallets table reads into this form).
   */
  turnover: Uint8Array;
  /** This customer's key in `expiryDue` (when the sweeper should next look), if any. */
  due?: number;
  /** Open holds: holdId -> [account, amount, expiresAt] (what a projected balance releases). */
  holds?: Record<string, [string, number, number]>;
  /**
   * Purchase knowledge (ledger/purchases.ts): one binary record that sales, returns and
   * voids update in place, kept here because every accrual reads and writes the wallet
   * anyway (a table of its own cost a read, a write and a page more per sale, measured).
   */
  purchases?: Uint8Array;
  /** The customer's tier as the last sale, return or void left it (absent: never evaluated). */
  tier?: WalletTier;
  /**
   * Open expiry lots (format 5): account -> its lots as 25-byte rows (expiresAt, entry seq,
   * points left as float64; a notice flag), soonest expiry first, then oldest entry (ledger/lots.ts).
   */
  lots?: Record<string, Uint8Array>;
  /** The event that earned a lot, for the few lots no entry of the customer's names it ("<account>␟<expiresAt>␟<seq>", parted by U+001F -> eventId). */
  lotEvents?: Record<string, string>;
}

/** A customer's tier under the programmes' tier ladder (see ledger/tiers.ts). */
export interface WalletTier {
  /** The tier's id; null: below every tier. */
  id: string | null;
  /** When the customer entered it (the `at` of the event that moved them), epoch ms. */
  since: number;
  /** The latest time it was evaluated at: a late event is evaluated no earlier. */
  at: number;
}

export interface Entry {
  seq: number;
  at: number;
  customerId: string;
  account: string;
  /**
   * accrual | return | void | redemption | expiry | adjustment | compensation | conversion | voucher, and
   * the zero-amount marks of a hold's life: hold | release | hold.expired.
   */
  kind: string;
  amount: number;
  /** hold, release, hold.expired and redemption: the amount the hold held. */
  held?: number;
  /** Human-readable cause: "sale s-1", "return r-1 of s-1", "capture of h_12"... */
  cause: string;
  eventId?: string;
  holdId?: string;
  programme?: string;
  version?: number;
  /** adjustment and compensation: who made it, and why (also in `cause`, for display). */
  operator?: string;
  reason?: string;
  /** The sales report whose approval (or rejection) posted it. */
  reportId?: string;
}

/** What one programme earned on a sale, kept for returns (the rule engine's accrual, minus its expiry). */
export type SaleProgramme = Omit<ProgrammeAccrual, "expiresAt">;

/** What a sale's record holds besides its lines, the same in memory and as format 3 stores it. */
export interface SaleHead {
  customerId: string;
  at: number;
  storeId: string;
  currency: string;
  /** The sale's channel, kept when the sale was counted in purchase knowledge (absent: it was not). */
  channel?: string;
  /**
   * With `channel`: each line's sku and category as their key hashes, for a return to find
   * what to take back from purchase knowledge (ledger/purchases.ts, itemsOf).
   */
  items?: number[];
}

export interface SaleRecord extends SaleHead {
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
  /** The store whose terminal key placed it (HTTP with terminalAuth): only that store may capture or release it. */
  store?: string;
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

/** Points of one accrual that expire together; consumed oldest-expiry first. Format 4's `lots` table held these (a wallet's LotRow since format 5); a merge parcel still carries them so. */
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
  /** false: withdrawn (a sales report naming it is held for review); absent: active. */
  active?: boolean;
  /** List price per unit, minor units: a report line's amount is checked against it. */
  listPrice?: number;
}

export interface IdemRecord {
  /** Content hash of the first request. */
  h: string;
  /** The first reply. */
  r: Record<string, unknown>;
  /** A request record's age for retention: the engine's clock when it was written (or, for an older record, first met by the pruner). */
  t?: number;
  /** Cluster mode: the virtual partition whose log the command came from (cluster/partition-data.ts). */
  v?: number;
  /**
   * Cluster mode: the partition a merge across partitions moved this record from (`v` is
   * then the survivor's): a replay of that partition's time before the merge does not
   * meet it as its own (ledger/ledger.ts idempotent).
   */
  m?: number;
}

/**
 * A sale's record as format 3 stores it (ledger/event-records.ts): the maps keyed by
 * lineId as arrays in line order (li).
 */
export interface PackedSale extends SaleHead {
  /** Line ids, in the order of Object.keys(SaleRecord.lines). */
  li: string[];
  /** Per line: quantity sold, amount paid. */
  lq: number[];
  la: number[];
  /** Per programme: [programme, version, account, earned, basketEarned, points per line (empty: none)]. */
  pg: [string, number, string, number, number, number[]][];
  lots: ([number, number] | null)[];
  /** Per line: quantity returned so far (absent: none). */
  rq?: number[];
  /** Per programme: points taken back per line, then the basket-level part (absent: none). */
  tk?: number[][];
  /** 1: voided. */
  v?: 1;
}

/**
 * An events record as stored: a sale's part in format 2 (SaleRecord) or 3 (PackedSale); a
 * sale's first reply whole (`r`, formats 2 and 3) or, from format 4, as figures (`f`,
 * ledger/sale-reply.ts) rebuilt with the packed sale.
 */
export type StoredEventRecord = Omit<EventRecord, "s" | "r"> & { r?: EventRecord["r"]; f?: SaleFigures; s?: SaleRecord | PackedSale };

/** A POS event's record: its idempotency record and, for a sale, what returns need. */
export interface EventRecord extends IdemRecord {
  s?: SaleRecord;
  /**
   * A return's or void's `at`, for retention (a sale's is `s.at`); on a record written
   * before retention, an upper bound of it that the pruner stamped.
   */
  a?: number;
}

/**
 * The notifications of one committed batch, in the outbox (config notify.outbox) until
 * JetStream has acknowledged every one of them. One record per batch, not per
 * notification: one append per transaction, one removal per batch.
 */
export interface OutboxRecord {
  /** The engine's clock when the batch ran. */
  t: number;
  /** The messages as published (each carries its `id` and `kind`). */
  p: Record<string, unknown>[];
}

export type ReportStatus = "pending" | "approved" | "rejected";

/** One invoice line of a sales report, with the category its product had when it was submitted. */
export interface ReportLine {
  invoice: string;
  date: string;
  sku: string;
  qty: number;
  amount: number;
  category?: string;
}

/** A verification finding: `code` says which check, `line` which line (index). */
export interface ReportCheck {
  code: string;
  line: number;
  message: string;
}

/** Points one programme credited for one invoice date of an approved report, and the lot they went into. */
export interface ReportCredit {
  date: string;
  programme: string;
  version: number;
  account: string;
  amount: number;
  lot: [number, number] | null;
}

/** A distributor's sales report (ledger/reports.ts). */
export interface Report {
  reportId: string;
  customerId: string;
  submittedAt: number;
  user?: string;
  currency: string;
  lines: ReportLine[];
  checks: ReportCheck[];
  status: ReportStatus;
  decidedAt?: number;
  /** The operator who approved or rejected it; "auto" when approved on submission. */
  decidedBy?: string;
  reason?: string;
  /** Points credited on approval, per invoice date and programme (taken back on rejection). */
  credits: ReportCredit[];
  /** Net points the report stands at now (0 when pending or rejected). */
  points: number;
  /** What its approval added to each sales target (target id -> qty thousandths or minor units), taken off on rejection. */
  targets?: Record<string, number>;
}

/** One distributor's approved sales of one invoice date (ledger/rankings.ts): what rankings add up. */
export interface RankDay {
  /** Points its approved reports' lines of that date earned. */
  points: number;
  /** Thousandths of a unit. */
  qty: number;
  /** Minor units. */
  amount: number;
}

/** A participant's progress towards one sales target (ledger/targets.ts). */
export interface TargetProgress {
  /** Approved total so far: qty in thousandths of a unit, amount in minor units. */
  achieved: number;
  /** The points credited for reaching the goal (0: not reached, or taken back). */
  awarded: number;
  /** The highest milestone (percent of the goal) notified. */
  milestone: number;
  /** The goal as the target last had it (what a rejection compares with if the target has gone since). */
  goal: number;
  /** A tiered target's tiers as it last had them (for the same reason); absent without tiers. */
  tiers?: { goal: number; points: number }[];
}

/** A distributor's recent approved line quantities and amounts (the plausibility checks' history). */
export interface ReportHistory {
  qty: number[];
  amount: number[];
}

/** One posting as stored (format 2, and format 3 outside sales and reversals): its customer and sequence number are its key. */
export type SingleEntry = Omit<Entry, "seq" | "customerId">;

/**
 * Format 3: every posting of one sale, return or void in one record under the first
 * posting's key; posting i has sequence number seq + i. The cause is not stored but read
 * from the record: "sale <eventId> at <st>", "<kind> <eventId> of sale <o>".
 */
export interface EntryGroup {
  at: number;
  kind: string;
  eventId: string;
  /** A sale's store. */
  st?: string;
  /** A return's or void's sale. */
  o?: string;
  /** Per posting: [account, amount, programme, programme version]. */
  p: [string, number, string, number][];
}

/** A record of the entries table: one posting, or the postings of one event. */
export type StoredEntry = SingleEntry | EntryGroup;

export interface StoredProgramme {
  version: number;
  programme: unknown;
  installedAt: number;
}

/** One admin action, as the audit table keeps it (never overwritten; see admin/audit.ts). */
export interface AuditRecord {
  at: number;
  seq: number;
  /** The operator the credential names; null when none was recognised. */
  operator: string | null;
  /** The role the route needs. */
  role: string;
  method: string;
  /** The route's pattern, e.g. /v1/admin/programmes/:id. */
  route: string;
  /** The ids the action names: path parameters and the body's ids (requestId, jobId, customer...). */
  targets: Record<string, unknown>;
  /** "ok", "pending" (an approval was opened) or the error code. */
  outcome: string;
  status: number;
  ip: string;
}
