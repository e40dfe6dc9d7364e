// What a domain module sees of the ledger while it applies one command: the store (in
// the batch's write transaction), the options, the batch's clock, the compiled plan,
// the id sequences and the notifications the command emits.
import type { Plan } from "../rules/compile.js";
import type { ReportCheckSettings } from "../rules/report-checks.js";
import type { Store } from "./store.js";

export interface LedgerOptions {
  selection: "strongestScope" | "bestForCustomer";
  timeZone: string;
  enrolOnUnknownPhone: boolean;
  /** Enrol a customer at a sale that names an unknown card (off by default: a mistyped card number would enrol someone). */
  enrolOnUnknownCard: boolean;
  whenSpent: "negative" | "clamp";
  holdTtlMsDefault: number;
  /** How long before points (and vouchers) expire the "expiring" notification goes out, ms. */
  expiryNoticeMs: number;
  /** How old (ms before the engine's clock) an event's `at` may be: late and offline tills. */
  eventLateMsMax: number;
  /** How far ahead of the engine's clock an event's `at` may be: clock skew. */
  eventFutureMsMax: number;
  /** Write a batch's notifications to the outbox table in the batch's transaction (config notify.outbox). */
  notifyOutbox: boolean;
  /**
   * Whether sales, returns and voids keep purchase knowledge (the wallet's `purchases`);
   * absent means on. Off only to measure what it costs (bench/purchases.ts): sales made
   * while it is off are never counted, so switching it on later gives partial figures.
   */
  purchaseStats?: boolean;
  /** Distributors' sales reports (config reports.*); absent: REPORT_OPTIONS_DEFAULT. */
  reports?: ReportOptions;
}

/** How sales reports are verified and approved (docs/b2b.md). */
export interface ReportOptions extends ReportCheckSettings {
  /** A report whose checks all pass is approved on submission. */
  autoApprove: boolean;
  /** The currency of a report that names none. */
  currency: string;
  /** Percentages of a target's goal at which target.progress is published, ascending. */
  targetMilestonesPct: readonly number[];
}

export const REPORT_OPTIONS_DEFAULT: ReportOptions = {
  autoApprove: false,
  currency: "EUR",
  windowDaysBack: 90,
  windowDaysAhead: 1,
  plausibilityFactor: 3,
  plausibilityHistoryMin: 20,
  priceTolerancePct: 5,
  targetMilestonesPct: [50, 80],
};

/** One notification: `payload` is the message as published (it carries `id` and `kind` too). */
export interface Notification {
  /** Deterministic: the same logical notification always has the same id (its Nats-Msg-Id). */
  id: string;
  kind: string;
  payload: Record<string, unknown>;
  /** Set when the batch wrote it to the outbox: that record's key and how many notifications it holds. */
  outbox?: { key: number; size: number };
}

export type Reply = Record<string, unknown>;

export interface Tx {
  readonly store: Store;
  readonly options: LedgerOptions;
  /** The engine's clock at the start of the batch. */
  readonly now: number;
  /** The store of the terminal key the current command came with (HTTP with terminalAuth); null otherwise. */
  readonly scope: string | null;
  plan(): Plan;
  /** The entry sequence number the last post took. */
  readonly seq: number;
  nextSeq(): number;
  nextCustomerSeq(): number;
  nextHoldSeq(): number;
  /**
   * What new customer and hold ids start with after their kind: "" on a single node; in
   * cluster mode "v<partition, base 36>_", so that the id names its virtual partition
   * (routing needs no lookup) and ids made on different partitions never collide.
   */
  readonly idScope: string;
  /**
   * `n` unpredictable bytes (voucher codes). A logged command's come from its log
   * message's random seed, so that a replay makes the same codes; others' from the OS.
   */
  random(n: number): Uint8Array;
  /** Emits a notification with the command's outcome (the batch writes it to the outbox with its effect). */
  notify(n: Notification): void;
  /**
   * Where reward stock is counted. undefined: here, in `rewards` (single-node mode). In
   * cluster mode, by the cluster (cluster/stock.ts): the command's reservation as its
   * log carries it, [units reserved, units left when reserved], or null (none made).
   */
  readonly stockReservation: [reserved: number, left: number] | null | undefined;
  /** Cluster mode: units of a reward given back (a reward hold released or expired); the owner returns them to the cluster's count. */
  stockReturned(rewardId: string, qty: number): void;
}

export const DAY_MS = 86_400_000;
export const PRIMARY_ACCOUNT = "points";

/** Own properties only: keys come from clients, and "constructor" must not find Object's. */
export function own<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** A broken invariant is not an operating error: crash, let the supervisor restart from durable state. */
export function assertInvariant(cond: boolean, what: string): asserts cond {
  if (!cond) {
    const err = new Error(`invariant broken: ${what}`);
    (err as Error & { fatal: boolean }).fatal = true;
    throw err;
  }
}
