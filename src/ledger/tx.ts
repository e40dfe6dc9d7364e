// What a domain module sees of the ledger while it applies one command: the store (in
// the batch's write transaction), the options, the batch's clock, the compiled plan,
// the id sequences and the notifications the command emits.
import type { Plan } from "../rules/compile.js";
import type { Store } from "./store.js";

export interface LedgerOptions {
  selection: "strongestScope" | "bestForCustomer";
  timeZone: string;
  enrolOnUnknownPhone: boolean;
  whenSpent: "negative" | "clamp";
  holdTtlMsDefault: number;
  /** How long before points (and vouchers) expire the "expiring" notification goes out, ms. */
  expiryNoticeMs: number;
  /** How old (ms before the engine's clock) an event's `at` may be: late and offline tills. */
  eventLateMsMax: number;
  /** How far ahead of the engine's clock an event's `at` may be: clock skew. */
  eventFutureMsMax: number;
  /**
   * Whether sales, returns and voids keep purchase knowledge (the wallet's `purchases`);
   * absent means on. Off only to measure what it costs (bench/purchases.ts): sales made
   * while it is off are never counted, so switching it on later gives partial figures.
   */
  purchaseStats?: boolean;
}

export interface Notification {
  kind: string;
  payload: Record<string, unknown>;
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
  notify(kind: string, payload: Record<string, unknown>): void;
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
