// Wallets, entries and balances: a customer's accounts live in one wallet record; every
// change of a balance appends an entry under [customerId, seq] in the same transaction
// (the balance is a cached sum of the entries), and reads are range reads by customer.
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import { assertServedHere, ofOtherPartition } from "./scope.js";
import type { VerbInput } from "../codec/schema.js";
import { expiringOf } from "./expiry.js";
import { requireCustomer } from "./customers.js";
import type { Account, Customer, Entry, EntryGroup, StoredEntry, Wallet } from "./store.js";
import { tierView } from "./tiers.js";
import { NO_TURNOVER } from "./turnover.js";
import { assertInvariant, own, type Reply, type Tx } from "./tx.js";

export function loadWallet(tx: Tx, customerId: string): Wallet {
  if (tx.idScope !== "") assertServedHere(tx, customerId);
  return tx.store.wallets.get(customerId) ?? { accounts: {}, turnover: NO_TURNOVER };
}

export function saveWallet(tx: Tx, customerId: string, w: Wallet): void {
  tx.store.wallets.put(customerId, w);
}

/** An account's state; one the customer does not have yet reads as zero and is not created. */
export function peekAccount(w: Wallet, account: string): Account {
  return own(w.accounts, account) ?? { balance: 0, held: 0 };
}

/** An account's state to change in place (created when missing); the caller saves the wallet. */
export function accountFor(w: Wallet, account: string): Account {
  let acc = own(w.accounts, account);
  if (!acc) {
    acc = { balance: 0, held: 0 };
    w.accounts[account] = acc;
  }
  return acc;
}

/**
 * Moves the cached balance of an account (in the wallet the caller saves) and takes the
 * entry's sequence number. A balance beyond the business bound refuses the command: an
 * operating error, not a crash.
 */
function move(w: Wallet, customerId: string, account: string, amount: number): Account {
  const acc = accountFor(w, account);
  const balance = acc.balance + amount;
  if (Math.abs(balance) > limits.balanceMax) {
    throw new LoyaltyError("LIMIT_EXCEEDED", `the ${account} balance would be ${balance}; the limit is ${limits.balanceMax}`, "amount");
  }
  // Inputs are bounded, so only a corrupted stored balance gets here.
  assertInvariant(Number.isSafeInteger(balance), `the ${account} balance of ${customerId} would be ${balance}`);
  acc.balance = balance;
  return acc;
}

/** Appends an entry and moves the cached balance (in the wallet the caller saves). */
export function post(tx: Tx, w: Wallet, customerId: string, e: Omit<Entry, "seq" | "customerId">): Account {
  const acc = move(w, customerId, e.account, e.amount);
  tx.store.entries.put([customerId, tx.nextSeq()], e);
  return acc;
}

/** What a sale, return or void posts per programme. */
export interface Posting {
  account: string;
  amount: number;
  programme: string;
  version: number;
}

/**
 * The postings of one sale, return or void, written as one record (format 3): one key,
 * one node and one copy of the time, kind and event for all of them. `post` moves the
 * balance at once and gives the posting's sequence number; `write` stores the record.
 */
export class EntryGroupWriter {
  private readonly record: EntryGroup;
  private first = 0;
  constructor(
    private readonly tx: Tx,
    private readonly customerId: string,
    head: Omit<EntryGroup, "p">,
  ) {
    this.record = { ...head, p: [] };
  }
  post(w: Wallet, p: Posting): { acc: Account; seq: number } {
    const acc = move(w, this.customerId, p.account, p.amount);
    const seq = this.tx.nextSeq();
    if (this.record.p.length === 0) this.first = seq;
    // One record holds consecutive numbers only: nothing else posts between a group's postings.
    assertInvariant(seq === this.first + this.record.p.length, `entry group of ${this.customerId} broken at seq ${seq}`);
    this.record.p.push([p.account, p.amount, p.programme, p.version]);
    return { acc, seq };
  }
  write(): void {
    if (this.record.p.length > 0) this.tx.store.entries.put([this.customerId, this.first], this.record);
  }
}

function isGroup(stored: StoredEntry): stored is EntryGroup {
  return (stored as EntryGroup).p !== undefined;
}

/** What a grouped record says its cause is (format 2 stored the same string in each entry). */
function causeOf(g: EntryGroup): string {
  return g.st !== undefined ? `sale ${g.eventId} at ${g.st}` : `${g.kind} ${g.eventId} of sale ${g.o ?? ""}`;
}

/** The entries one record of the table holds, the one under key [customerId, seq] first. */
export function entriesAt(customerId: string, seq: number, stored: StoredEntry): Entry[] {
  if (!isGroup(stored)) return [{ seq, customerId, ...stored }];
  const cause = causeOf(stored);
  return stored.p.map(([account, amount, programme, version], i) => ({
    seq: seq + i,
    customerId,
    at: stored.at,
    account,
    kind: stored.kind,
    amount,
    cause,
    eventId: stored.eventId,
    programme,
    version,
  }));
}

/** The customer's accounts, in name order. */
export function accountsOf(w: Wallet): { account: string; state: Account }[] {
  return Object.keys(w.accounts)
    .sort()
    .map((account) => ({ account, state: w.accounts[account]! }));
}

/** A customer's entries in order (a range read of the customer's keys). */
export function* entriesOf(tx: Pick<Tx, "store">, customerId: string): Generator<Entry> {
  for (const { key, value } of tx.store.entries.getRange({ start: [customerId, 0], end: [customerId, Number.MAX_SAFE_INTEGER] })) {
    yield* entriesAt(customerId, key[1], value);
  }
}

/**
 * A customer's entries and those of the customers merged into it (`mergedFrom`), in
 * sequence order: the history a statement shows once two customers became one. Cluster
 * mode: those merged in from another partition keep their history there (this ledger
 * may hold a stale copy of it); the survivor's shows their `merge` entries only.
 */
export function* historyOf(tx: Pick<Tx, "store"> & { readonly idScope?: string }, c: Customer): Generator<Entry> {
  const merged = (c.mergedFrom ?? []).filter((id) => !ofOtherPartition(tx, id));
  if (merged.length === 0) return yield* entriesOf(tx, c.id);
  const heads = [c.id, ...merged].map((id) => {
    const it = entriesOf(tx, id);
    return { it, next: it.next() };
  });
  for (;;) {
    let min: (typeof heads)[number] | null = null;
    for (const h of heads) if (!h.next.done && (min === null || h.next.value.seq < (min.next.value as Entry).seq)) min = h;
    if (min === null) return;
    yield min.next.value as Entry;
    min.next = min.it.next();
  }
}

/**
 * Balances now; as of a past instant, the sum of the entries up to it; as of a future
 * instant, a projection (contract v1.1): without the points of lots that expire by then,
 * and without the holds that will have expired.
 */
export function balance(tx: Tx, input: VerbInput<"balance">): Reply {
  const c = requireCustomer(tx, input.customer);
  const w = loadWallet(tx, c.id);
  const { asOf } = input;
  const accounts = accountsOf(w).map(({ account, state }) => {
    const unit = tx.plan().unitFor(account) ?? "points";
    const { balance, held } = asOf === undefined ? state : asOf > tx.now ? projected(w, account, asOf) : { balance: balanceAsOf(tx, c, account, asOf), held: 0 };
    const expiringFrom = asOf !== undefined && asOf > tx.now ? asOf + 1 : asOf;
    return { account, unit, balance, held, available: balance - held, expiring: expiringOf(w, account, expiringFrom) };
  });
  // The tier as it stands now, whatever asOf says (it is kept, not historical).
  return { ok: true, customerId: c.id, groups: c.groups, accounts, tier: tierView(tx, c, w) };
}

function projected(w: Wallet, account: string, asOf: number): { balance: number; held: number } {
  const state = peekAccount(w, account);
  let expiring = 0;
  for (const { amount, at } of expiringOf(w, account, 0, Number.MAX_SAFE_INTEGER)) if (at <= asOf) expiring += amount;
  let held = 0;
  for (const [holdAccount, amount, expiresAt] of Object.values(w.holds ?? {})) if (holdAccount === account && expiresAt > asOf) held += amount;
  return { balance: state.balance - expiring, held };
}

/** Over the merged history: before a merge, the two customers' sum; the merge's entries cancel out. */
function balanceAsOf(tx: Tx, c: Customer, account: string, asOf: number): number {
  let sum = 0;
  for (const e of historyOf(tx, c)) if (e.account === account && e.at <= asOf) sum += e.amount;
  return sum;
}

export function statement(tx: Tx, input: VerbInput<"statement">): Reply {
  const c = requireCustomer(tx, input.customer);
  const entries: Reply[] = [];
  // A read holds its partition's thread: a window over a long history stops after
  // statementScanMax entries and says so, instead of reading it all.
  let scanned = 0;
  for (const e of historyOf(tx, c)) {
    if (++scanned > limits.statementScanMax) return { ok: true, customerId: c.id, entries, truncated: true };
    if ((input.from !== undefined && e.at < input.from) || (input.to !== undefined && e.at > input.to)) continue;
    entries.push(entryView(e, c.id));
    if (entries.length >= input.limit) break;
  }
  return { ok: true, customerId: c.id, entries };
}

/** An entry of a customer merged into `customerId` says whose it was. */
function entryView(e: Entry, customerId: string): Reply {
  const v: Reply = { seq: e.seq, at: e.at, kind: e.kind, amount: e.amount, account: e.account, cause: e.cause };
  if (e.customerId !== customerId) v.customerId = e.customerId;
  if (e.eventId) v.eventId = e.eventId;
  if (e.holdId) v.holdId = e.holdId;
  if (e.reportId) v.reportId = e.reportId;
  if (e.held !== undefined) v.held = e.held;
  if (e.programme) v.programme = e.programme;
  if (e.version !== undefined) v.version = e.version;
  if (e.operator !== undefined) v.operator = e.operator;
  if (e.reason !== undefined) v.reason = e.reason;
  return v;
}
