// Admin merge and erasure of customers. A merge moves everything of one customer to
// another in one transaction: each account's balance as a pair of `merge` entries (so
// each wallet stays the sum of its entries), open holds (same ids), lots (same expiry
// and keys, but the customer), vouchers, cards, turnover and the profile fields the
// survivor lacks, purchase knowledge; the merged-away id then resolves to the survivor. An erasure (GDPR)
// removes a customer's profile and identifiers and keeps its ledger.
import { refOf, type CustomerRef, type VerbInput } from "../codec/schema.js";
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import { accountFor, accountsOf, loadWallet, peekAccount, post, saveWallet } from "./accounts.js";
import { findCustomer } from "./customers.js";
import { consumeLots, setDue } from "./expiry.js";
import { LOT_EXPIRES, LOT_LEFT, LOT_NOTICED, LOT_SEQ, dropLots, lotAccounts, lotCount, lotRecord, lotRows, putLot, setLotRows } from "./lots.js";
import type { Card, Customer, Lot, Voucher, Wallet } from "./store.js";
import { assertInvariant, own, type Reply, type Tx } from "./tx.js";
import { reindexEmail, reindexLoyaltyId, reindexPhone } from "./identity.js";
import { indexBirthday } from "./birthdays.js";
import { settleTier, tierBefore } from "./tiers.js";
import { mergeBooks } from "./purchase-merge.js";
import { ofOtherPartition } from "./scope.js";
import { PURCHASE_BOUNDS } from "./purchases.js";
import { NO_TURNOVER, turnoverDays, turnoverOf, type TurnoverDay } from "./turnover.js";

/**
 * A customer's identifiers besides cards, each moved in its index by identity.ts (a
 * value, its customer, from -> to; null drops it). A merge moves the one the survivor
 * lacks and releases the other's; an erasure removes them all. An identifier indexed
 * later is added here.
 */
interface Identifier {
  name: string;
  of(c: Customer): string | undefined;
  reindex(tx: Tx, customerId: string, from: string | undefined, to: string | null): void;
}

const IDENTIFIERS: readonly Identifier[] = [
  { name: "phone", of: (c) => c.profile.phone, reindex: reindexPhone },
  { name: "email", of: (c) => c.profile.email, reindex: reindexEmail },
  { name: "loyaltyId", of: (c) => c.loyaltyId, reindex: reindexLoyaltyId },
  // Not an identifier, but indexed the same way (for the birthday notification).
  { name: "birthday", of: (c) => c.profile.birthday, reindex: indexBirthday },
];

/**
 * Top-level fields of the customer record merged otherwise than by mergeValues (the
 * survivor's value, the other's where the survivor has none, lists joined). A counter
 * that should add up (purchase statistics) needs its rule here.
 */
const MERGE_RULES: Record<string, (from: unknown, into: unknown) => unknown> = {
  createdAt: (from, into) => Math.min(from as number, into as number),
  origin: (_from, into) => into,
};

// ---- merge ---------------------------------------------------------------------------------

export function mergeCustomers(tx: Tx, input: VerbInput<"mergeCustomers">): Reply {
  const from = partyOf(tx, refOf(input.from), "from");
  const into = partyOf(tx, refOf(input.into), "into");
  if (from.id === into.id) throw new LoyaltyError("VALIDATION", `from and into are both ${into.id}`, "into");
  const mergedFrom = mergedIds(from, into.mergedFrom?.length ?? 0, into.id);
  const cause = mergeCause(input.requestId, from.id, into.id, input.operator, input.reason);
  const parcel = mergeOut(tx, from, into.id, cause);
  return { ok: true, requestId: input.requestId, ...mergeIn(tx, into, parcel, cause, mergedFrom) };
}

export const mergeCause = (requestId: string, from: string, into: string, operator: string, reason: string): string =>
  `merge ${requestId} of ${from} into ${into} by ${operator}: ${reason}`;

/** The survivor's merged ids after the merge (`into` has `intoMerged` already), within the limit. */
export function mergedIds(from: Customer, intoMerged: number, intoId: string): string[] {
  const moving = [from.id, ...(from.mergedFrom ?? [])];
  if (intoMerged + moving.length > limits.mergedIdsMax) {
    throw new LoyaltyError("LIMIT_EXCEEDED", `${intoId} would stand for ${intoMerged + moving.length} merged customers; the limit is ${limits.mergedIdsMax}`, "from");
  }
  return moving;
}

/**
 * What a merge takes from the merged-away customer, as records: mergeOut leaves `from`
 * with nothing, mergeIn gives it all to the survivor. On one ledger both run in one
 * transaction; across a cluster's partitions, each on its own partition's log with the
 * parcel carried between them (ledger/merge-steps.ts).
 */
export interface MergeParcel {
  /** The merged-away customer's record as it was. */
  customer: Customer;
  /** Each account's balance, moved (-x on `from`, +x on the survivor). */
  accounts: { account: string; amount: number }[];
  /** Open holds: id -> [account, amount, expiresAt] as in the wallet; their records already name the survivor. */
  holds: [string, [string, number, number]][];
  /** Lots: [account, expiresAt, entry seq] -> lot. */
  lots: [[string, number, number], Lot][];
  /** When `from`'s lots next needed the sweeper. */
  due?: number;
  /** Vouchers with their customer index's middle key and whether each sweeper index held them. */
  vouchers: { voucher: Voucher; k: number; expiry: boolean; notice: boolean }[];
  /** Card records of `from`. */
  cards: [string, Card][];
  /** As pairs (the parcel's form before format 7), so that a cluster instance of either format reads it. */
  turnover: TurnoverDay[];
  purchases?: Wallet["purchases"];
}

/** Everything of `from` leaves it (in this partition's ledger); `from` becomes a stub that names the survivor. */
export function mergeOut(tx: Tx, from: Customer, intoId: string, cause: string): MergeParcel {
  const wf = loadWallet(tx, from.id);
  checkSize(tx, wf, from.id);
  const holds = holdsOut(tx, wf, from.id, intoId);
  const { lots, due } = lotsOut(tx, wf, from.id);
  const accounts = accountsOf(wf).map(({ account, state }) => {
    const amount = state.balance;
    if (amount !== 0) post(tx, wf, from.id, { at: tx.now, account, kind: "merge", amount: -amount, cause });
    return { account, amount };
  });
  const vouchers = vouchersOut(tx, from.id);
  const parcel: MergeParcel = { customer: from, accounts, holds, lots, vouchers, cards: cardsOut(tx, from, intoId), turnover: turnoverDays(wf.turnover) };
  if (due !== undefined) parcel.due = due;
  if (wf.purchases) parcel.purchases = wf.purchases;
  wf.turnover = NO_TURNOVER;
  delete wf.purchases;
  delete wf.tier;
  saveWallet(tx, from.id, wf);
  for (const idf of IDENTIFIERS) {
    const value = idf.of(from);
    if (value !== undefined) idf.reindex(tx, from.id, value, null);
  }
  tx.store.customers.put(from.id, { ...skeleton(from), mergedInto: intoId, mergedAt: tx.now });
  tx.store.aliases.put(from.id, intoId);
  for (const id of from.mergedFrom ?? []) {
    tx.store.aliases.put(id, intoId);
    // Cluster mode: one merged into `from` from a third partition is that partition's record (this ledger's copy may be stale): only its alias moves.
    if (ofOtherPartition(tx, id)) continue;
    const earlier = tx.store.customers.get(id);
    assertInvariant(earlier?.mergedInto === from.id, `${id} is listed as merged into ${from.id} but is not`);
    tx.store.customers.put(id, { ...earlier, mergedInto: intoId });
  }
  return parcel;
}

/** The survivor takes the parcel: balances, holds, lots, vouchers, cards, turnover, purchases and the profile fields it lacks. */
export function mergeIn(tx: Tx, into: Customer, parcel: MergeParcel, cause: string, moving: string[]) {
  const from = parcel.customer;
  const wi = loadWallet(tx, into.id);
  const tier = tierBefore(tx, into.id, wi, tx.now);
  for (const [holdId, held] of parcel.holds) {
    accountFor(wi, held[0]).held += held[1];
    (wi.holds ??= {})[holdId] = held;
  }
  for (const [[account, expiresAt, seq], lot] of parcel.lots) {
    // The seq is the merged-away customer's entry: the lot keeps its event. Entry seqs are
    // per partition in a cluster: two lots may meet at one key, and then add up (same expiry).
    putLot(wi, account, [expiresAt, seq, lot.r, lot.n ? 1 : 0, lot.e]);
  }
  if (parcel.due !== undefined) setDue(tx, wi, into.id, wi.due === undefined ? parcel.due : Math.min(wi.due, parcel.due));
  for (const { account, amount } of parcel.accounts) {
    if (amount !== 0) post(tx, wi, into.id, { at: tx.now, account, kind: "merge", amount, cause });
  }
  trimLots(wi, parcel.accounts.map((m) => m.account));
  vouchersIn(tx, into.id, parcel.vouchers);
  // Summed by day: the tier windows then count both customers' spend.
  wi.turnover = turnoverOf([...parcel.turnover, ...turnoverDays(wi.turnover)]);
  const book = mergeBooks(parcel.purchases ?? null, wi.purchases ?? null, PURCHASE_BOUNDS);
  if (book !== null) wi.purchases = book;
  // The summed turnover may move the survivor's tier (announced as any tier change).
  settleTier(tx, into.id, wi, tier, tx.now);
  saveWallet(tx, into.id, wi);
  const cards: string[] = [];
  for (const [card, record] of parcel.cards) {
    tx.store.cards.put(card, { ...record, customerId: into.id });
    cards.push(card);
  }
  const mergedFrom = [...(into.mergedFrom ?? []), ...moving];
  const survivor = { ...mergeRecord(from, into), cards: [...into.cards, ...cards.filter((c) => !into.cards.includes(c))], mergedFrom };
  const released: string[] = [];
  for (const idf of IDENTIFIERS) {
    const value = idf.of(from);
    if (value === undefined) continue;
    if (idf.of(survivor) === value) idf.reindex(tx, into.id, undefined, value);
    else released.push(idf.name);
  }
  // The survivor's birthday entry takes the merged time zone (its own, else the other's).
  indexBirthday(tx, into.id, survivor.profile.birthday, survivor.profile.birthday, survivor.profile.timeZone ?? null);
  tx.store.customers.put(into.id, survivor);
  for (const id of moving) tx.store.aliases.put(id, into.id);
  const accounts = parcel.accounts.map(({ account, amount }) => {
    const state = peekAccount(wi, account);
    return { account, moved: amount, balance: state.balance, held: state.held, available: state.balance - state.held };
  });
  return { from: from.id, into: into.id, accounts, holds: parcel.holds.length, lots: parcel.lots.length, vouchers: parcel.vouchers.length, cards, released };
}

/** A party to a merge as it is: a merged-away or erased customer is refused, not followed to its survivor. */
function partyOf(tx: Tx, ref: CustomerRef, field: string): Customer {
  const c = "customerId" in ref ? tx.store.customers.get(ref.customerId) : findCustomer(tx, ref);
  if (!c) throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer for ${JSON.stringify(ref)}`, field);
  if (c.erasedAt !== undefined) throw new LoyaltyError("VALIDATION", `customer ${c.id} was erased`, field);
  if (c.mergedInto !== undefined) throw new LoyaltyError("VALIDATION", `customer ${c.id} was merged into ${c.mergedInto}`, field);
  if (c.mergingIn !== undefined) throw new LoyaltyError("VALIDATION", `a merge into ${c.id} is under way (request ${c.mergingIn})`, field);
  return c;
}

/** One merge is one write transaction: what it moves is bounded, and counted before anything is written. */
function checkSize(tx: Tx, wf: Wallet, fromId: string): void {
  const lots = lotCount(wf);
  const vouchers = tx.store.vouchersByCustomer.getKeysCount({ start: [fromId, 0, ""], end: [fromId, Number.MAX_SAFE_INTEGER, ""] });
  const n = lots + vouchers + Object.keys(wf.holds ?? {}).length;
  if (n > limits.mergeRecordsMax) {
    throw new LoyaltyError("LIMIT_EXCEEDED", `${fromId} has ${n} lots, open holds and vouchers; a merge moves at most ${limits.mergeRecordsMax}`, "from");
  }
}

/** Open holds keep their ids, amounts and expiry; their records name the survivor (a capture then finds it). */
function holdsOut(tx: Tx, wf: Wallet, fromId: string, intoId: string): MergeParcel["holds"] {
  const open = Object.entries(wf.holds ?? {});
  for (const [holdId, held] of open) {
    const hold = tx.store.holds.get(holdId);
    assertInvariant(hold?.status === "open" && hold.customerId === fromId, `hold ${holdId} in ${fromId}'s wallet is not its open hold`);
    tx.store.holds.put(holdId, { ...hold, customerId: intoId });
    tx.store.holdsByExpiry.put([hold.expiresAt, holdId], intoId);
    accountFor(wf, held[0]).held -= held[1];
  }
  delete wf.holds;
  for (const { account, state } of accountsOf(wf)) assertInvariant(state.held === 0, `${fromId}'s ${account} holds ${state.held} without an open hold`);
  return open;
}

/**
 * Lots keep their expiry and entry seq (a return of a merged-away customer's sale still
 * finds its own lot); the survivor's sweeper key becomes the earlier of the two.
 */
function lotsOut(tx: Tx, wf: Wallet, fromId: string): { lots: MergeParcel["lots"]; due: number | undefined } {
  const lots: MergeParcel["lots"] = lotAccounts(wf).flatMap((account) =>
    lotRows(wf, account).map((row): MergeParcel["lots"][number] => [[account, row[LOT_EXPIRES], row[LOT_SEQ]], lotRecord(tx.store, fromId, row)]),
  );
  dropLots(wf);
  const due = wf.due;
  setDue(tx, wf, fromId, undefined);
  return { lots, due };
}

/** Vouchers keep their codes; the customer's index and the sweepers' (which name the customer) follow. */
function vouchersOut(tx: Tx, fromId: string): MergeParcel["vouchers"] {
  const { vouchers, vouchersByCustomer, vouchersByExpiry, voucherNotices } = tx.store;
  const range = [...vouchersByCustomer.getRange({ start: [fromId, 0, ""], end: [fromId, Number.MAX_SAFE_INTEGER, ""] })];
  const out: MergeParcel["vouchers"] = [];
  for (const { key, value: code } of range) {
    vouchersByCustomer.remove(key);
    const v = vouchers.get(code);
    if (!v) continue;
    const sweep: [number, string] = [v.expiresAt, code];
    out.push({ voucher: v, k: key[1], expiry: vouchersByExpiry.get(sweep) !== undefined, notice: voucherNotices.get(sweep) !== undefined });
    vouchers.remove(code);
    vouchersByExpiry.remove(sweep);
    voucherNotices.remove(sweep);
  }
  return out;
}

function vouchersIn(tx: Tx, intoId: string, moved: MergeParcel["vouchers"]): void {
  const { vouchers, vouchersByCustomer, vouchersByExpiry, voucherNotices } = tx.store;
  for (const { voucher, k, expiry, notice } of moved) {
    vouchers.put(voucher.code, { ...voucher, customerId: intoId });
    vouchersByCustomer.put([intoId, k, voucher.code], voucher.code);
    if (expiry) vouchersByExpiry.put([voucher.expiresAt, voucher.code], intoId);
    if (notice) voucherNotices.put([voucher.expiresAt, voucher.code], intoId);
  }
}

/** The card records that are `from`'s (a card listed but since given to another customer stays theirs). */
function cardsOut(tx: Tx, from: Customer, intoId: string): [string, Card][] {
  const out: [string, Card][] = [];
  for (const card of from.cards) {
    const record = tx.store.cards.get(card);
    if (record?.customerId !== from.id) continue;
    out.push([card, record]);
    // Here too the card names the survivor: on a cluster partition the record then belongs to the survivor's (mergeIn writes the same).
    tx.store.cards.put(card, { ...record, customerId: intoId });
  }
  return out;
}

/**
 * Expiring points never exceed a positive balance (points that pay back a debt never
 * expire, as at a sale): when one side was below zero, the excess leaves the soonest lots.
 */
function trimLots(wi: Wallet, accounts: string[]): void {
  for (const account of accounts) {
    const inLots = lotRows(wi, account).reduce((sum, row) => sum + row[LOT_LEFT], 0);
    const excess = inLots - Math.max(0, peekAccount(wi, account).balance);
    if (excess > 0) consumeLots(wi, account, excess, null);
  }
}

function mergeRecord(from: Customer, into: Customer): Customer {
  const f = from as unknown as Record<string, unknown>;
  const i = into as unknown as Record<string, unknown>;
  const keys = new Set([...Object.keys(i), ...Object.keys(f)]);
  const merged = [...keys].map((k) => [k, (own(MERGE_RULES, k) ?? mergeValues)(own(f, k), own(i, k))]);
  return { ...(Object.fromEntries(merged) as Customer), id: into.id };
}

/** The survivor's value wins; the other fills what it lacks; lists are joined; objects merge key by key. */
function mergeValues(from: unknown, into: unknown): unknown {
  if (into === undefined) return from;
  if (from === undefined) return into;
  if (Array.isArray(from) && Array.isArray(into)) {
    const seen = new Set(into.map((x) => JSON.stringify(x)));
    return [...into, ...from.filter((x) => !seen.has(JSON.stringify(x)))];
  }
  if (isRecord(from) && isRecord(into)) {
    const keys = new Set([...Object.keys(into), ...Object.keys(from)]);
    return Object.fromEntries([...keys].map((k) => [k, mergeValues(own(from, k), own(into, k))]));
  }
  return into;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** What a merged-away or erased customer keeps: its id, and when and how it came to be; nothing personal. */
function skeleton(c: Customer): Customer {
  return { id: c.id, profile: {}, groups: [], attributes: {}, cards: [], createdAt: c.createdAt, origin: c.origin };
}

// ---- erasure -------------------------------------------------------------------------------

/**
 * Erases a customer's profile and identifiers (GDPR): cards, phone and e-mail find nobody
 * afterwards, nor does the id; the wallet, entries, lots, holds and sale records stay, so
 * the ledger still adds up and its causes still read. Erasing again is a no-op.
 */
export function eraseCustomer(tx: Tx, input: VerbInput<"eraseCustomer">): Reply {
  const id = input.customer.customerId;
  const c = tx.store.customers.get(id);
  if (!c) throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer ${id}`, "customerId");
  if (c.mergedInto !== undefined) throw new LoyaltyError("VALIDATION", `customer ${id} was merged into ${c.mergedInto}: erase that one`, "customerId");
  if (c.erasedAt !== undefined) return { ok: true, customerId: id, erasedAt: c.erasedAt, cards: 0, identifiers: [], duplicate: true };
  if (c.mergingIn !== undefined) throw new LoyaltyError("VALIDATION", `a merge into ${id} is under way (request ${c.mergingIn}): erase it once it ends`, "customerId");
  const identifiers: string[] = [];
  for (const idf of IDENTIFIERS) {
    const value = idf.of(c);
    if (value === undefined) continue;
    idf.reindex(tx, id, value, null);
    identifiers.push(idf.name);
  }
  let cards = 0;
  for (const card of c.cards) {
    if (tx.store.cards.get(card)?.customerId !== id) continue;
    tx.store.cards.remove(card);
    cards++;
  }
  silence(tx, id);
  const erased: Customer = { ...skeleton(c), erasedAt: tx.now, erasure: { operator: input.operator, reason: input.reason } };
  if (c.mergedFrom) erased.mergedFrom = c.mergedFrom;
  tx.store.customers.put(id, erased);
  return { ok: true, customerId: id, erasedAt: tx.now, cards, identifiers, duplicate: false };
}

/**
 * No notice goes to an erased customer: its lots count as noticed (they still expire on
 * time, so the ledger runs on as before) and its vouchers leave the notice index.
 */
function silence(tx: Tx, id: string): void {
  const { vouchers, vouchersByCustomer, voucherNotices } = tx.store;
  let due: number | undefined;
  const w = loadWallet(tx, id);
  let changed = false;
  for (const account of lotAccounts(w)) {
    const rows = lotRows(w, account);
    for (const row of rows) {
      if (!row[LOT_NOTICED]) {
        row[LOT_NOTICED] = 1;
        changed = true;
      }
      due = due === undefined ? row[LOT_EXPIRES] : Math.min(due, row[LOT_EXPIRES]);
    }
    setLotRows(w, account, rows);
  }
  if (w.due !== due || changed) {
    setDue(tx, w, id, due);
    saveWallet(tx, id, w);
  }
  for (const { value: code } of vouchersByCustomer.getRange({ start: [id, 0, ""], end: [id, Number.MAX_SAFE_INTEGER, ""] })) {
    const v = vouchers.get(code);
    if (!v || v.noticed) continue;
    voucherNotices.remove([v.expiresAt, code]);
    vouchers.put(code, { ...v, noticed: true });
  }
}
