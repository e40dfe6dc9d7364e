// Sales, returns and voids: a sale is evaluated by the rule engine and posted per
// account; its event record keeps the reply (idempotency) and the line-level provenance
// returns need; returns and voids take back what the returned lines earned.
import { ofOtherPartition, scopeOf } from "./scope.js";
import { checkEventTime } from "../codec/codec.js";
import { lineAmountOf, type PosEvent, type SaleEvent } from "../codec/schema.js";
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import type { Plan } from "../rules/compile.js";
import { evaluate } from "../rules/evaluate.js";
import type { Accrual, Basket, CustomerFacts } from "../rules/types.js";
import { EntryGroupWriter, accountsOf, loadWallet, peekAccount, saveWallet } from "./accounts.js";
import { getEvent, putEvent } from "./event-records.js";
import { enrolsAtSale, findCustomer, saleCustomer, survivorId } from "./customers.js";
import { addLot, consumeLots } from "./expiry.js";
import { segmentsOf } from "./segments.js";
import { notificationId, notifyCustomer } from "./notifications.js";
import { addSale, itemsOf, keepsPurchases, takeBackSale, type LineBack } from "./purchases.js";
import type { Customer, SaleRecord, Wallet } from "./store.js";
import { settleTier, tierBefore, windowTurnover } from "./tiers.js";
import { withTurnover } from "./turnover.js";
import { DAY_MS, PRIMARY_ACCOUNT, own, type Reply, type Tx } from "./tx.js";

/** What an accrue command produced: the reply, and for a sale the record returns will need. */
export interface Accrued {
  reply: Reply;
  sale?: SaleRecord;
}

/**
 * A new event (a re-sent one met its idempotency record before getting here, so a
 * duplicate of an old sale is still answered as a duplicate): its `at` must lie in the
 * window around the engine's clock.
 */
export function accrue(tx: Tx, event: PosEvent): Accrued {
  checkEventTime(event.at, tx.now, { lateMsMax: tx.options.eventLateMsMax, futureMsMax: tx.options.eventFutureMsMax });
  return event.type === "sale" ? sale(tx, event) : { reply: reverse(tx, event) };
}

export function basketOf(event: SaleEvent): Basket {
  const lines = event.lines.map((l) => ({
    lineId: l.lineId,
    sku: l.sku,
    qty: l.qty,
    unitPrice: l.unitPrice,
    amount: lineAmountOf(l),
    category: l.category ?? null,
    promo: l.promo,
    offerId: l.offerId ?? null,
  }));
  const total = event.total ?? lines.reduce((s, l) => s + l.amount, 0);
  return {
    eventId: event.eventId,
    at: event.at,
    storeId: event.storeId,
    channel: event.channel,
    terminalId: event.terminalId ?? null,
    currency: event.currency,
    lines,
    tenders: event.tenders,
    total,
    offerIds: event.offerIds ?? [],
  };
}

/** What the rule engine knows of the customer at `at` (exported for sales reports, ledger/report-points.ts). */
export function factsOf(tx: Tx, c: Customer, w: Wallet, at: number, plan: Plan): CustomerFacts {
  const turnoverByWindowDays: Record<number, number> = {};
  for (const win of plan.turnoverWindowsDays) turnoverByWindowDays[win] = windowTurnover(w, at, win);
  const facts: CustomerFacts = { customerId: c.id, groups: c.groups, turnoverByWindowDays, attributes: c.attributes };
  if (plan.segmentIds.length > 0) facts.segments = segmentsOf(tx.store, c, plan.segmentIds, at);
  return facts;
}

/** Daily turnover buckets in the wallet, pruned to the longest window we keep. */
function addTurnover(w: Wallet, at: number, amount: number): void {
  if (amount === 0) return;
  const day = Math.floor(at / DAY_MS);
  w.turnover = withTurnover(w.turnover, day, amount, day - limits.turnoverDaysKept);
}

function sale(tx: Tx, event: SaleEvent): Accrued {
  const customer = saleCustomer(tx, event);
  const plan = tx.plan();
  const basket = basketOf(event);
  const w = loadWallet(tx, customer.id);
  const accrual = evaluate(plan, basket, factsOf(tx, customer, w, event.at, plan));
  const perAccount = new Map<string, number>();
  const lots: ([number, number] | null)[] = [];
  const entries = new EntryGroupWriter(tx, customer.id, { at: event.at, kind: "accrual", eventId: event.eventId, st: event.storeId });
  for (const p of accrual.programmes) {
    lots.push(null);
    if (p.earned === 0) continue;
    const { acc: after, seq } = entries.post(w, { account: p.account, amount: p.earned, programme: p.programme, version: p.version });
    // Points that only pay back a negative balance never expire: the lot holds the rest.
    const lotAmount = Math.min(p.earned, Math.max(0, after.balance));
    if (lotAmount > 0 && p.expiresAt !== null) {
      addLot(tx, w, customer.id, p.account, p.expiresAt, seq, lotAmount);
      lots[lots.length - 1] = [p.expiresAt, seq];
    }
    perAccount.set(p.account, (perAccount.get(p.account) ?? 0) + p.earned);
  }
  entries.write();
  const tier = tierBefore(tx, customer.id, w, event.at);
  addTurnover(w, event.at, basket.total);
  const counted = keepsPurchases(tx);
  if (counted) addSale(tx, customer.id, w, basket);
  settleTier(tx, customer.id, w, tier, event.at);
  saveWallet(tx, customer.id, w);
  if (accrual.earned > 0) {
    notifyCustomer(tx, "earned", notificationId.earned(event.eventId), customer.id, customer, { eventId: event.eventId, earned: accrual.earned, at: event.at });
  }
  return {
    reply: accrualReply(w, event.eventId, "sale", customer.id, accrual.earned, perAccount, accrual.breakdown),
    sale: saleRecord(customer.id, event, basket, accrual, lots, counted),
  };
}

/** A counted sale's record keeps its channel and its lines' sku and category hashes: what a return takes back from purchase knowledge. */
function saleRecord(customerId: string, event: SaleEvent, basket: Basket, accrual: Accrual, lots: ([number, number] | null)[], counted: boolean): SaleRecord {
  const lines = Object.fromEntries(basket.lines.map((l) => [l.lineId, { qty: l.qty, amount: l.amount }]));
  return {
    customerId,
    at: event.at,
    storeId: event.storeId,
    currency: event.currency,
    ...(counted ? { channel: event.channel, items: itemsOf(lines, basket.lines) } : {}),
    lines,
    programmes: accrual.programmes.map((p) => ({
      programme: p.programme,
      version: p.version,
      account: p.account,
      earned: p.earned,
      lineEarned: p.lineEarned,
      basketEarned: p.basketEarned,
    })),
    lots,
    returnedQty: {},
    taken: accrual.programmes.map(() => ({})),
    voided: false,
  };
}

function accrualReply(w: Wallet, eventId: string, type: string, customerId: string, earned: number, perAccount: Map<string, number>, breakdown: unknown[]): Reply {
  const accounts = accountsOf(w).map(({ account, state }) => ({
    account,
    earned: perAccount.get(account) ?? 0,
    balance: state.balance,
    available: state.balance - state.held,
  }));
  const primary = accounts.find((a) => a.account === PRIMARY_ACCOUNT) ?? accounts[0] ?? { balance: 0, available: 0 };
  return { ok: true, type, eventId, customerId, earned, balance: primary.balance, available: primary.available, accounts, breakdown, duplicate: false };
}

/** Cumulative proportional share, floored: the sum over partial returns never exceeds the whole. */
function share(whole: number, part: number, of: number): number {
  if (part >= of - 1e-9) return whole;
  return Math.floor((whole * part) / of + 1e-9);
}

/** Quantity returned now per line (validated against what is left to return). */
function returningOf(event: Extract<PosEvent, { type: "return" | "void" }>, sale: SaleRecord): Record<string, number> {
  const returning: Record<string, number> = {};
  if (event.type === "return" && event.lines) {
    event.lines.forEach((l, i) => {
      const sold = own(sale.lines, l.lineId);
      if (!sold) throw new LoyaltyError("VALIDATION", `sale ${event.originalEventId} has no line ${l.lineId}`, `lines[${i}].lineId`);
      const left = sold.qty - (own(sale.returnedQty, l.lineId) ?? 0) - (own(returning, l.lineId) ?? 0);
      if (l.qty > left + 1e-9) {
        throw new LoyaltyError("RETURN_EXCEEDS_SALE", `line ${l.lineId}: returning ${l.qty}, ${left} left to return`, `lines[${i}].qty`);
      }
      returning[l.lineId] = (own(returning, l.lineId) ?? 0) + l.qty;
    });
    return returning;
  }
  for (const [lineId, sold] of Object.entries(sale.lines)) {
    const left = sold.qty - (own(sale.returnedQty, lineId) ?? 0);
    if (left > 1e-9) returning[lineId] = left;
  }
  if (event.type === "return" && Object.keys(returning).length === 0) {
    throw new LoyaltyError("RETURN_EXCEEDS_SALE", `sale ${event.originalEventId} was already returned in full`, "originalEventId");
  }
  return returning;
}

/** Returns and voids take back what the returned lines earned, never more than the sale earned. */
function reverse(tx: Tx, event: Extract<PosEvent, { type: "return" | "void" }>): Reply {
  const record = getEvent(tx.store, event.originalEventId);
  const sale = record?.s;
  if (!record || !sale) throw new LoyaltyError("UNKNOWN_EVENT", `no sale ${event.originalEventId}`, "originalEventId");
  if (sale.voided) throw new LoyaltyError("RETURN_EXCEEDS_SALE", `sale ${event.originalEventId} was voided`, "originalEventId");
  const returning = returningOf(event, sale);
  // What each line gives back of its amount: its cumulative share, floored (the last return takes the rest).
  const back: LineBack[] = [];
  let turnoverBack = 0;
  for (const [lineId, q] of Object.entries(returning)) {
    const sold = own(sale.lines, lineId)!;
    const before = own(sale.returnedQty, lineId) ?? 0;
    sale.returnedQty[lineId] = before + q;
    const amount = share(sold.amount, sale.returnedQty[lineId]!, sold.qty) - share(sold.amount, before, sold.qty);
    back.push({ lineId, qtyMilli: Math.round(q * 1000), amount });
    turnoverBack += amount;
  }
  const fullyReturned = Object.entries(sale.lines).every(([id, l]) => (own(sale.returnedQty, id) ?? 0) >= l.qty - 1e-9);
  // A sale of a customer merged away since: its points (and the sale's lots, same keys) are the survivor's now.
  // Cluster mode: a sale of another partition (a merge across partitions moved it there) is returned there: retried, it goes there.
  if (tx.idScope !== "" && record.v !== undefined && tx.idScope !== scopeOf(record.v)) {
    throw new LoyaltyError("UNAVAILABLE", `sale ${event.originalEventId} is served by partition ${record.v}; retry`, "originalEventId");
  }
  const customerId = survivorId(tx.store, sale.customerId);
  if (customerId !== sale.customerId && ofOtherPartition(tx, customerId)) {
    // A sale a second merge across partitions did not carry on (it moves the events of its own partition's customers only).
    throw new LoyaltyError("VALIDATION", `sale ${event.originalEventId} was made by ${sale.customerId}, merged since into ${customerId} of another partition; it cannot be returned`, "originalEventId");
  }
  const w = loadWallet(tx, customerId);
  const perAccount = new Map<string, number>();
  let takenTotal = 0;
  const entries = new EntryGroupWriter(tx, customerId, { at: event.at, kind: event.type, eventId: event.eventId, o: event.originalEventId });
  sale.programmes.forEach((p, i) => {
    const taken = sale.taken[i]!;
    let amount = 0;
    for (const lineId of Object.keys(returning)) {
      const target = share(own(p.lineEarned, lineId) ?? 0, own(sale.returnedQty, lineId)!, own(sale.lines, lineId)!.qty);
      amount += target - (own(taken, lineId) ?? 0);
      taken[lineId] = target;
    }
    if (fullyReturned || event.type === "void") {
      amount += p.basketEarned - (own(taken, "") ?? 0);
      taken[""] = p.basketEarned;
    }
    if (amount === 0) return;
    const acc = peekAccount(w, p.account);
    const takeBack = tx.options.whenSpent === "clamp" ? Math.min(amount, Math.max(0, acc.balance - acc.held)) : amount;
    if (takeBack > 0) {
      entries.post(w, { account: p.account, amount: -takeBack, programme: p.programme, version: p.version });
      consumeLots(w, p.account, takeBack, sale.lots?.[i] ?? null);
    }
    perAccount.set(p.account, (perAccount.get(p.account) ?? 0) - takeBack);
    takenTotal += takeBack;
  });
  entries.write();
  if (event.type === "void") sale.voided = true;
  const tier = tierBefore(tx, customerId, w, event.at);
  addTurnover(w, event.at, -turnoverBack);
  if (keepsPurchases(tx)) takeBackSale(tx, w, sale, back, event.type === "void");
  settleTier(tx, customerId, w, tier, event.at);
  saveWallet(tx, customerId, w);
  putEvent(tx.store, event.originalEventId, { ...record, s: sale });
  const reply = accrualReply(w, event.eventId, event.type, customerId, takenTotal === 0 ? 0 : -takenTotal, perAccount, []);
  return { ...reply, originalEventId: event.originalEventId };
}

/** What a basket would earn now; commits nothing. */
export function quote(tx: Tx, event: SaleEvent): Reply {
  const plan = tx.plan();
  const customer = findCustomer(tx, event.customer);
  if (!customer && !enrolsAtSale(tx, event.customer)) {
    throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer for ${JSON.stringify(event.customer)}`, "customer");
  }
  const w = customer ? loadWallet(tx, customer.id) : null;
  const facts: CustomerFacts =
    customer && w
      ? factsOf(tx, customer, w, event.at, plan)
      : { customerId: "", groups: [], turnoverByWindowDays: Object.fromEntries(plan.turnoverWindowsDays.map((d) => [d, 0])) };
  const accrual: Accrual = evaluate(plan, basketOf(event), facts);
  const acc = w ? peekAccount(w, PRIMARY_ACCOUNT) : { balance: 0, held: 0 };
  const available = acc.balance - acc.held;
  const rate = plan.redemptionFor(PRIMARY_ACCOUNT);
  return {
    ok: true,
    customerId: customer?.id ?? null,
    earned: accrual.earned,
    breakdown: accrual.breakdown,
    balance: acc.balance,
    available,
    redeemable: { points: Math.max(0, available), value: rate ? Math.max(0, available) * rate.pointValue : 0, currency: rate?.currency ?? null },
  };
}
