// A programme draft's quote preview (the operator console's): what a basket would earn if
// the draft were installed, for a real customer as the ledger knows them now, with nothing
// installed or recorded. It runs the `quote` verb itself against a read-only view of the
// ledger whose plan has the draft in place of the installed programme of its id (or beside
// the others when there is none), so the figures are the ones a sale would get.
import { validate } from "../codec/codec.js";
import { LoyaltyError } from "../errors.js";
import { planOf } from "../ledger/programme-plan.js";
import { quote } from "../ledger/sales.js";
import type { Store } from "../ledger/store.js";
import type { LedgerOptions, Notification, Reply, Tx } from "../ledger/tx.js";
import { checkProgramme } from "./programmes.js";

/** What the draft would be installed as: the next version of its id. */
function draftVersion(store: Store, id: string): number {
  return (store.meta.get(`programmeVersion:${id}`) ?? 0) + 1;
}

/** A ledger view that reads and never writes: the quote verb asks no sequence and emits nothing. */
function readOnlyTx(store: Store, options: LedgerOptions, now: number, plan: ReturnType<typeof planOf>): Tx {
  const refuse = (): never => {
    throw new Error("a preview writes nothing");
  };
  return {
    store,
    options,
    now,
    scope: null,
    plan: () => plan,
    seq: 0,
    nextSeq: refuse,
    nextCustomerSeq: refuse,
    nextHoldSeq: refuse,
    idScope: "",
    random: refuse,
    notify: (_n: Notification) => refuse(),
    stockReservation: undefined,
    stockReturned: refuse,
  };
}

/**
 * The quote of `sale` (a `quote` request: a sale event) under the installed programmes with
 * `draft` as programme `id`. Throws the draft's validation error (as PUT would) or the
 * sale's (as quote would). The reply is quote's, plus `draft: {id, version}`.
 */
export function previewDraft(store: Store, options: LedgerOptions, id: string, draft: unknown, sale: unknown, now: number): Reply {
  const programme = checkProgramme(id, draft);
  if (typeof sale !== "object" || sale === null) throw new LoyaltyError("VALIDATION", "sale: a sale event (the quote verb's body) is required", "sale");
  const event = validate("quote", sale);
  // See every commit so far: the main thread's read snapshot may be older.
  store.env.resetReadTxn();
  const version = draftVersion(store, id);
  const plan = planOf(store, options, { programme, version });
  return { ...quote(readOnlyTx(store, options, now, plan), event), draft: { id, version } };
}
