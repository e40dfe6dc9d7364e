// Conversions of points into stored value (one customer, or a period's net earnings in
// a bulk job) and manual adjustments by an operator.
import type { VerbInput } from "../codec/schema.js";
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import { historyOf, loadWallet, peekAccount, post, saveWallet } from "./accounts.js";
import { requireCustomer } from "./customers.js";
import { consumeLots } from "./expiry.js";
import type { Reply, Tx } from "./tx.js";

/** Points -> stored value at the points account's rate (value = points x pointValue, exact). */
export function convert(tx: Tx, input: VerbInput<"convert">): Reply {
  const c = requireCustomer(tx, input.customer);
  const rate = tx.plan().redemptionFor(input.from);
  if (!rate) throw new LoyaltyError("VALIDATION", `account ${input.from} has no conversion rate`, "from");
  const w = loadWallet(tx, c.id);
  const from = peekAccount(w, input.from);
  if (input.amount > from.balance - from.held) {
    return { ok: true, approved: false, reason: "INSUFFICIENT_BALANCE", customerId: c.id, requested: input.amount, available: from.balance - from.held };
  }
  const value = input.amount * rate.pointValue;
  if (value > limits.balanceMax) throw new LoyaltyError("LIMIT_EXCEEDED", `the conversion is worth ${value}; the limit is ${limits.balanceMax}`, "amount");
  const cause = `conversion ${input.requestId}: ${input.amount} ${input.from} -> ${value} ${rate.currency} ${input.to}`;
  const after = post(tx, w, c.id, { at: tx.now, account: input.from, kind: "conversion", amount: -input.amount, cause });
  const debited = { balance: after.balance, held: after.held };
  const credited = post(tx, w, c.id, { at: tx.now, account: input.to, kind: "conversion", amount: value, cause });
  consumeLots(w, input.from, input.amount, null);
  saveWallet(tx, c.id, w);
  return {
    ok: true,
    approved: true,
    customerId: c.id,
    from: { account: input.from, amount: -input.amount, balance: debited.balance, available: debited.balance - debited.held },
    to: { account: input.to, amount: value, currency: rate.currency, balance: credited.balance, available: credited.balance - credited.held },
  };
}

/**
 * The bulk conversion's step for one customer: the points earned in the window, net
 * of returns and voids of that window, capped at what is available, become prepaid value.
 */
export function convertEarned(tx: Tx, input: VerbInput<"convertEarned">): Reply {
  const c = requireCustomer(tx, input.customer);
  let earned = 0;
  // Merged history included: what a merged-away customer earned in the window moved with its balance.
  for (const e of historyOf(tx, c)) {
    if (e.account !== input.from || e.at < input.earnedFrom || e.at >= input.earnedTo) continue;
    if (e.kind === "accrual" || e.kind === "return" || e.kind === "void") earned += e.amount;
  }
  const from = peekAccount(loadWallet(tx, c.id), input.from);
  const amount = Math.min(earned, from.balance - from.held);
  if (amount <= 0) return { ok: true, approved: false, reason: "NOTHING_TO_CONVERT", customerId: c.id, earned: Math.max(0, earned), available: from.balance - from.held };
  const reply = convert(tx, { requestId: input.requestId, customer: { customerId: c.id }, from: input.from, to: input.to, amount });
  return { ...reply, earned };
}

/** A manual adjustment, or a compensation top-up: the entry keeps its operator and reason as fields, besides its cause. */
export function adjust(tx: Tx, input: VerbInput<"adjust">): Reply {
  const c = requireCustomer(tx, input.customer);
  const w = loadWallet(tx, c.id);
  const kind = input.kind ?? "adjustment";
  const acc = post(tx, w, c.id, {
    at: tx.now,
    account: input.account,
    kind,
    amount: input.amount,
    cause: `${kind} ${input.requestId} by ${input.operator}: ${input.reason}`,
    operator: input.operator,
    reason: input.reason,
  });
  if (input.amount < 0) consumeLots(w, input.account, -input.amount, null);
  saveWallet(tx, c.id, w);
  return { ok: true, customerId: c.id, kind, account: input.account, amount: input.amount, balance: acc.balance, available: acc.balance - acc.held };
}
