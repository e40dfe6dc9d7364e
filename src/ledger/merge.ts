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
import type { Customer, Wallet } from "./store.js";
import { assertInvariant, own, type Reply, type Tx } from "./tx.js";
import { reindexEmail, reindexLoyaltyId, reindexPhone } from "./identity.js";
import { indexBirthday } from "./birthdays.js";
import { settleTier, tierBefore } from "./tiers.js";
import { mergeBooks } from "./purchase-merge.js";
import { PURCHASE_BOUNDS } from "./purchases.js";

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
  const moving = [from.id, ...(from.mergedFrom ?? [])];
  const mergedFrom = [...(into.mergedFrom ?? []), ...moving];
  if (mergedFrom.length > limits.mergedIdsMax) {
    throw new LoyaltyError("LIMIT_EXCEEDED", `${into.id} would stand for ${mergedFrom.length} merged customers; the limit is ${limits.mergedIdsMax}`, "from");
  }
  const wf = loadWallet(tx, from.id);
  const wi = loadWallet(tx, into.id);
  checkSize(tx, wf, from.id);
  const cause = `merge ${input.requestId} of ${from.id} into ${into.id} by ${input.operator}: ${input.reason}`;
  const tier = tierBefore(tx, into.id, wi, tx.now);
  const holds = moveHolds(tx, wf, wi, from.id, into.id);
  const lots = moveLots(tx, wf, wi, from.id, into.id);
  const moved = moveBalances(tx, wf, wi, from.id, into.id, cause);
  trimLots(tx, wi, into.id, moved.map((m) => m.account));
  const vouchers = moveVouchers(tx, from.id, into.id);
  wi.turnover = mergeTurnover(wf.turnover, wi.turnover);
  wf.turnover = [];
  mergePurchases(wf, wi);
  delete wf.tier;
  // The summed turnover may move the survivor's tier (announced as any tier change).
  settleTier(tx, into.id, wi, tier, tx.now);
  saveWallet(tx, from.id, wf);
  saveWallet(tx, into.id, wi);
  const { cards, released } = mergeRecords(tx, from, into, mergedFrom);
  const accounts = moved.map(({ account, amount }) => {
    const state = peekAccount(wi, account);
    return { account, moved: amount, balance: state.balance, held: state.held, available: state.balance - state.held };
  });
  return { ok: true, requestId: input.requestId, from: from.id, into: into.id, accounts, holds, lots, vouchers, cards, released };
}

/** A party to a merge as it is: a merged-away or erased customer is refused, not followed to its survivor. */
function partyOf(tx: Tx, ref: CustomerRef, field: string): Customer {
  const c = "customerId" in ref ? tx.store.customers.get(ref.customerId) : findCustomer(tx, ref);
  if (!c) throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer for ${JSON.stringify(ref)}`, field);
  if (c.erasedAt !== undefined) throw new LoyaltyError("VALIDATION", `customer ${c.id} was erased`, field);
  if (c.mergedInto !== undefined) throw new LoyaltyError("VALIDATION", `customer ${c.id} was merged into ${c.mergedInto}`, field);
  return c;
}

/** One merge is one write transaction: what it moves is bounded, and counted before anything is written. */
function checkSize(tx: Tx, wf: Wallet, fromId: string): void {
  const lots = tx.store.lots.getKeysCount({ start: [fromId, "", 0, 0], end: [fromId, "\uffff", 0, 0] });
  const vouchers = tx.store.vouchersByCustomer.getKeysCount({ start: [fromId, 0, ""], end: [fromId, Number.MAX_SAFE_INTEGER, ""] });
  const n = lots + vouchers + Object.keys(wf.holds ?? {}).length;
  if (n > limits.mergeRecordsMax) {
    throw new LoyaltyError("LIMIT_EXCEEDED", `${fromId} has ${n} lots, open holds and vouchers; a merge moves at most ${limits.mergeRecordsMax}`, "from");
  }
}

/** Open holds keep their ids, amounts and expiry; only their customer changes (a capture then finds the survivor). */
function moveHolds(tx: Tx, wf: Wallet, wi: Wallet, fromId: string, intoId: string): number {
  const open = Object.entries(wf.holds ?? {});
  for (const [holdId, held] of open) {
    const hold = tx.store.holds.get(holdId);
    assertInvariant(hold?.status === "open" && hold.customerId === fromId, `hold ${holdId} in ${fromId}'s wallet is not its open hold`);
    tx.store.holds.put(holdId, { ...hold, customerId: intoId });
    tx.store.holdsByExpiry.put([hold.expiresAt, holdId], intoId);
    const [account, amount] = held;
    accountFor(wf, account).held -= amount;
    accountFor(wi, account).held += amount;
    (wi.holds ??= {})[holdId] = held;
  }
  delete wf.holds;
  for (const { account, state } of accountsOf(wf)) assertInvariant(state.held === 0, `${fromId}'s ${account} holds ${state.held} without an open hold`);
  return open.length;
}

/**
 * Lots keep their expiry and entry seq (a return of a merged-away customer's sale still
 * finds its own lot); the survivor's sweeper key becomes the earlier of the two.
 */
function moveLots(tx: Tx, wf: Wallet, wi: Wallet, fromId: string, intoId: string): number {
  const { lots } = tx.store;
  const range = [...lots.getRange({ start: [fromId, "", 0, 0], end: [fromId, "\uffff", 0, 0] })];
  for (const { key, value } of range) {
    lots.put([intoId, key[1], key[2], key[3]], value);
    lots.remove(key);
  }
  const due = wf.due;
  if (due !== undefined) {
    setDue(tx, wf, fromId, undefined);
    setDue(tx, wi, intoId, wi.due === undefined ? due : Math.min(wi.due, due));
  }
  return range.length;
}

/** Each account's whole balance, as a pair of entries: -x on the merged-away customer, +x on the survivor. */
function moveBalances(tx: Tx, wf: Wallet, wi: Wallet, fromId: string, intoId: string, cause: string): { account: string; amount: number }[] {
  return accountsOf(wf).map(({ account, state }) => {
    const amount = state.balance;
    if (amount !== 0) {
      post(tx, wf, fromId, { at: tx.now, account, kind: "merge", amount: -amount, cause });
      post(tx, wi, intoId, { at: tx.now, account, kind: "merge", amount, cause });
    }
    return { account, amount };
  });
}

/**
 * Expiring points never exceed a positive balance (points that pay back a debt never
 * expire, as at a sale): when one side was below zero, the excess leaves the soonest lots.
 */
function trimLots(tx: Tx, wi: Wallet, intoId: string, accounts: string[]): void {
  for (const account of accounts) {
    let inLots = 0;
    for (const { value } of tx.store.lots.getRange({ start: [intoId, account, 0, 0], end: [intoId, account, Number.MAX_SAFE_INTEGER, 0] })) inLots += value.r;
    const excess = inLots - Math.max(0, peekAccount(wi, account).balance);
    if (excess > 0) consumeLots(tx.store, intoId, account, excess, null);
  }
}

/** Vouchers keep their codes; the customer's index and the sweepers' (which name the customer's partition) follow. */
function moveVouchers(tx: Tx, fromId: string, intoId: string): number {
  const { vouchers, vouchersByCustomer, vouchersByExpiry, voucherNotices } = tx.store;
  const range = [...vouchersByCustomer.getRange({ start: [fromId, 0, ""], end: [fromId, Number.MAX_SAFE_INTEGER, ""] })];
  for (const { key, value: code } of range) {
    vouchersByCustomer.remove(key);
    vouchersByCustomer.put([intoId, key[1], code], code);
    const v = vouchers.get(code);
    if (!v) continue;
    vouchers.put(code, { ...v, customerId: intoId });
    if (vouchersByExpiry.get([v.expiresAt, code]) !== undefined) vouchersByExpiry.put([v.expiresAt, code], intoId);
    if (voucherNotices.get([v.expiresAt, code]) !== undefined) voucherNotices.put([v.expiresAt, code], intoId);
  }
  return range.length;
}

/** Daily turnover buckets, summed by day (tier windows then count both customers' spend). */
function mergeTurnover(a: [number, number][], b: [number, number][]): [number, number][] {
  const byDay = new Map<number, number>();
  for (const [day, amount] of [...a, ...b]) byDay.set(day, (byDay.get(day) ?? 0) + amount);
  return [...byDay].sort((x, y) => x[0] - y[0]);
}

/** The survivor's book counts both customers' sales (ledger/purchase-merge.ts: how bounded lists merge); the other keeps none. */
function mergePurchases(wf: Wallet, wi: Wallet): void {
  const book = mergeBooks(wf.purchases ?? null, wi.purchases ?? null, PURCHASE_BOUNDS);
  if (book !== null) wi.purchases = book;
  delete wf.purchases;
}

/**
 * The survivor's record takes the other's cards and the fields it lacks; the merged-away
 * record keeps nothing personal and points at the survivor, as do the ids merged into it
 * before (so every alias is one hop from its survivor).
 */
function mergeRecords(tx: Tx, from: Customer, into: Customer, mergedFrom: string[]): { cards: string[]; released: string[] } {
  const { customers, cards, aliases } = tx.store;
  const movedCards = from.cards.filter((card) => cards.get(card)?.customerId === from.id);
  for (const card of movedCards) cards.put(card, { ...cards.get(card)!, customerId: into.id });
  const survivor = { ...mergeRecord(from, into), cards: [...into.cards, ...movedCards.filter((c) => !into.cards.includes(c))], mergedFrom };
  const released = moveIdentifiers(tx, from, survivor);
  // The survivor's birthday entry takes the merged time zone (its own, else the other's).
  indexBirthday(tx, into.id, survivor.profile.birthday, survivor.profile.birthday, survivor.profile.timeZone ?? null);
  customers.put(into.id, survivor);
  customers.put(from.id, { ...skeleton(from), mergedInto: into.id, mergedAt: tx.now });
  aliases.put(from.id, into.id);
  for (const id of from.mergedFrom ?? []) {
    const earlier = customers.get(id);
    assertInvariant(earlier?.mergedInto === from.id, `${id} is listed as merged into ${from.id} but is not`);
    customers.put(id, { ...earlier, mergedInto: into.id });
    aliases.put(id, into.id);
  }
  return { cards: movedCards, released };
}

/** The survivor's index entries for identifiers it took over; the names of the other's that it did not (released). */
function moveIdentifiers(tx: Tx, from: Customer, survivor: Customer): string[] {
  const released: string[] = [];
  for (const idf of IDENTIFIERS) {
    const value = idf.of(from);
    if (value === undefined) continue;
    idf.reindex(tx, from.id, value, null);
    if (idf.of(survivor) === value) idf.reindex(tx, survivor.id, undefined, value);
    else released.push(idf.name);
  }
  return released;
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
  const { lots, vouchers, vouchersByCustomer, voucherNotices } = tx.store;
  let due: number | undefined;
  for (const { key, value } of [...lots.getRange({ start: [id, "", 0, 0], end: [id, "\uffff", 0, 0] })]) {
    if (!value.n) lots.put(key, { ...value, n: true });
    due = due === undefined ? key[2] : Math.min(due, key[2]);
  }
  const w = loadWallet(tx, id);
  if (w.due !== due) {
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
