// The owner's extra steps around logging a command (cluster/gate.ts): identifiers claimed
// for a request before it is logged, identifiers a customer gave up released after it,
// and reward stock reserved before and given back after. Each wraps the step that logs
// and applies the command.
import { decodeBytes, encodeReply } from "../codec/codec.js";
import { LoyaltyError } from "../errors.js";
import type { Store } from "../ledger/store.js";
import type { Handled, RawRequest } from "../partition/batch.js";
import { customerIdentifiers, type IdentitySync } from "./identities.js";
import type { IdentityKind } from "./identity.js";
import type { ClusterStock } from "./stock.js";

/**
 * Marks a refusal met after the command may have been logged (its append unanswered, or
 * its apply failed): whoever replays the log applies it, so its reservations stand.
 */
export function maybeLogged<E>(err: E): E {
  if (typeof err === "object" && err !== null) (err as { maybeLogged?: boolean }).maybeLogged = true;
  return err;
}

const wasLogged = (err: unknown): boolean => (err as { maybeLogged?: boolean } | null)?.maybeLogged === true;

/** Verbs that take reward stock (redeemReward) or may give it back (a reward hold released, captured, expired). */
export const STOCK_VERBS: ReadonlySet<string> = new Set(["redeemReward", "release", "capture", "expireHold"]);

/** The identifiers the command gives claimed for it first (IdentitySync.preclaim), then handed to its customer or freed. */
export async function preclaimed(ids: IdentitySync, vp: number, req: RawRequest, value: unknown, log: () => Promise<Handled>): Promise<Handled> {
  const pre = await ids.preclaim(req.verb, value, vp).catch((err: unknown) => {
    if (err instanceof LoyaltyError) throw err;
    throw new LoyaltyError("UNAVAILABLE", `the identity directory cannot be written now (${(err as Error).message}); retry later`);
  });
  if (!pre) return log();
  let h: Handled;
  try {
    h = await log();
  } catch (err) {
    // Freed only when the command is surely not in the log; else the repair settles it (IdentitySync.sweep).
    if (!wasLogged(err)) await ids.settle(pre, null);
    throw err;
  }
  let reply: Record<string, unknown> | null = null;
  try {
    reply = decodeBytes(h.bytes, req.encoding) as Record<string, unknown>;
  } catch {
    reply = null;
  }
  await ids.settle(pre, reply);
  return h;
}

/**
 * A command that may take identifiers from its customer (a new phone, an erasure): the
 * customer's identifiers in this (the owner's) ledger before and after it; the directory
 * releases what went, so that another customer may have them.
 */
export async function releasingDropped(store: Store, ids: IdentitySync, value: unknown, applied: Promise<Handled>): Promise<Handled> {
  const customerId = ids.customerOf(value);
  const before = customerId ? identifiersIn(store, customerId) : [];
  const h = await applied;
  if (customerId && before.length > 0 && h.outcome === "ok") await ids.releaseDropped(customerId, before, identifiersIn(store, customerId));
  return h;
}

/** The cards, phone and loyalty id this ledger gives a customer now (none once erased). */
function identifiersIn(store: Store, customerId: string): [IdentityKind, string][] {
store.env.resetReadTxn();
return customerIdentifiers(store.customers.get(customerId));
}

/**
 * A command that takes or gives back reward stock (cluster/stock.ts): a redemption's
 * units are reserved in the cluster's count before it is logged (the log carries the
 * reservation) and given back unless the ledger approves it; the units a release,
 * capture or expiry gave back (the reply's `stockReturned`, stripped here) return to
 * the count. Replays give nothing back: the owner that applied the command first did.
 */
export async function withStock(store: Store, stock: ClusterStock, req: RawRequest, log: (req: RawRequest) => Promise<Handled>): Promise<Handled> {
  const want = req.verb === "redeemReward" ? stockWanted(store, req) : null;
  let reserved = 0;
  if (want) {
    const r = await stock.reserve(want.rewardId, want.qty, want.initial).catch((err: Error) => {
      throw new LoyaltyError("UNAVAILABLE", `the reward stock cannot be counted now (NATS: ${err.message}); retry later`);
    });
    reserved = r.reserved;
    req = { ...req, stock: [r.reserved, r.left] };
  }
  let h: Handled;
  try {
    h = await log(req);
  } catch (err) {
    // Given back only when the command is surely not in the log (a replay applies it with the reservation).
    if (want && reserved > 0 && !wasLogged(err)) await stock.give(want.rewardId, reserved);
    throw err;
  }
  const reply = (() => {
    try {
      return decodeBytes(h.bytes, req.encoding) as Record<string, unknown>;
    } catch {
      return {};
    }
  })();
  // Forwarded: the owner elsewhere counted its own reservation. Not approved, or a repeat: nothing taken.
  if (want && reserved > 0 && (h.forwarded === true || reply.approved !== true || reply.duplicate === true)) await stock.give(want.rewardId, reserved);
  if (Array.isArray(reply.stockReturned)) {
    for (const [rewardId, qty] of reply.stockReturned as [string, number][]) await stock.give(rewardId, qty);
    const { stockReturned: _returned, ...rest } = reply;
    h = { ...h, bytes: encodeReply(rest, req.encoding) };
  }
  return h;
}

/** A redemption of a reward that has a stock in the catalogue: what to reserve. */
function stockWanted(store: Store, req: RawRequest): { rewardId: string; qty: number; initial: number } | null {
  let value: { rewardId?: unknown; qty?: unknown };
  try {
    value = decodeBytes(req.bytes, req.encoding) as { rewardId?: unknown; qty?: unknown };
  } catch {
    return null; // refused by the ledger's validation
  }
  if (typeof value?.rewardId !== "string") return null;
  const qty = value.qty === undefined ? 1 : value.qty;
  if (typeof qty !== "number" || !Number.isSafeInteger(qty) || qty < 1) return null;
  store.env.resetReadTxn();
  const reward = store.rewards.get(value.rewardId);
  if (!reward || reward.stock === null) return null;
  return { rewardId: value.rewardId, qty, initial: reward.stock };
}
