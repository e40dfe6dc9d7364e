// A merge of two customers of different partitions (cluster mode), in steps, each a
// command of one partition's log (cluster/merge.ts drives them):
//   1. mergeReserve, on the survivor's partition: `into` is live and takes no other merge,
//      is merged away by none and erased by none until the merge ends;
//   2. mergeOut, on the merged-away customer's: everything of `from` leaves it as a
//      parcel (ledger/merge.ts mergeOut), with the records of its sales (returns of them
//      are then served by the survivor's partition), and `from` becomes a stub;
//   3. mergeIn, on the survivor's: the parcel, carried in the command itself (a replay
//      needs no other partition), is the survivor's (mergeIn), and the reservation ends;
//   or, when step 2 is refused, mergeRelease ends the reservation.
// mergeOut and mergeIn are idempotent by their own request ids (the merge's with the
// step's name); a reservation is made again and ended again by each sending (the
// driver ends it after mergeIn too). So a merge cut short by a crash is finished by
// sending it again. Between steps 2 and 3 the points are in the parcel (the log and
// mergeOut's idempotency record hold it): in neither customer's balance, never in both.
import { encodeReply } from "../codec/codec.js";
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import { getEvent, putEvent } from "./event-records.js";
import { mergeCause, mergedIds, mergeIn, mergeOut, type MergeParcel } from "./merge.js";
import { ofOtherPartition } from "./scope.js";
import type { Customer, EventRecord } from "./store.js";
import type { Reply, Tx } from "./tx.js";

/** The merge's inputs every step carries: the request as the operator sent it (ids resolved). */
interface Step {
  /** The merge's request id. */
  merge: string;
}

/** A step with an idempotency record. */
interface Recorded extends Step {
  /** The step's own request id: the merge's, a control character and the step's name (cluster/merge.ts stepId). */
  requestId: string;
  /** The content hash of the merge request (an id used again with other content is refused). */
  hash: string;
}

export interface ReserveInput extends Step {
  /** The survivor (its partition applies the step). */
  customerId: string;
  from: string;
}

export interface OutInput extends Recorded {
  /** The merged-away customer (its partition applies the step). */
  customerId: string;
  into: string;
  /** The survivor's partition (the sale records that move name it). */
  intoPartition: number;
  /** This step's partition, the merged-away customer's (the records that move say where they came from). */
  fromPartition: number;
  /** How many ids were merged into the survivor already (mergeReserve's answer). */
  intoMerged: number;
  operator: string;
  reason: string;
}

export interface InInput extends Recorded {
  customerId: string;
  from: string;
  intoPartition: number;
  fromPartition: number;
  operator: string;
  reason: string;
  parcel: ClusterParcel;
}

export type ReleaseInput = Step & { customerId: string };

/** A parcel across partitions: also the records of the merged-away customer's sales, returns and voids. */
export interface ClusterParcel extends MergeParcel {
  moving: string[];
  sales: [string, EventRecord][];
}

export function mergeReserve(tx: Tx, input: ReserveInput): Reply {
  const into = party(tx, input.customerId, "into", input.merge);
  if (into.mergingIn === undefined) tx.store.customers.put(into.id, { ...into, mergingIn: input.merge });
  return { ok: true, customerId: into.id, merged: into.mergedFrom?.length ?? 0 };
}

export function mergeOutStep(tx: Tx, input: OutInput): Reply {
  const from = party(tx, input.customerId, "from", null);
  const open = Object.keys(tx.store.wallets.get(from.id)?.holds ?? {}).length;
  if (open > 0) {
    throw new LoyaltyError("VALIDATION", `${from.id} has ${open} open holds: capture or release them before a merge into a customer of another partition`, "from");
  }
  // Reports (and their invoices) stay with their partition: a distributor with reports is merged within its partition only.
  const reports = tx.store.reportsByCustomer.getKeysCount({ start: [from.id, 0, ""], end: [from.id, Number.MAX_SAFE_INTEGER, ""] });
  if (reports > 0) throw new LoyaltyError("VALIDATION", `${from.id} has ${reports} sales reports: a merge into a customer of another partition moves none`, "from");
  const moving = mergedIds(from, input.intoMerged, input.into);
  const events = eventsOf(tx, moving);
  const parcel: ClusterParcel = { ...mergeOut(tx, from, input.into, mergeCause(input.merge, from.id, input.into, input.operator, input.reason)), moving, sales: events };
  const bytes = encodeReply(parcel, "msgpack").length;
  if (bytes > limits.mergeParcelBytesMax) {
    throw new LoyaltyError("LIMIT_EXCEEDED", `${from.id}'s records are ${bytes} bytes; a merge across partitions moves at most ${limits.mergeParcelBytesMax}`, "from");
  }
  // Its events are the survivor's partition's now: the copies here name that partition (a retry that reaches this one is refused, to be retried there).
  for (const [eventId, record] of events) putEvent(tx.store, eventId, { ...record, v: input.intoPartition, m: input.fromPartition });
  return { ok: true, customerId: from.id, parcel };
}

export function mergeInStep(tx: Tx, input: InInput): Reply {
  const { mergingIn: _reserved, ...into } = party(tx, input.customerId, "into", input.merge);
  const { parcel } = input;
  for (const [eventId, record] of parcel.sales) putEvent(tx.store, eventId, { ...record, v: input.intoPartition, m: input.fromPartition });
  const cause = mergeCause(input.merge, input.from, into.id, input.operator, input.reason);
  const reply = { ok: true, requestId: input.merge, ...mergeIn(tx, into, parcel, cause, parcel.moving) };
  // The merge's own record too, as a merge within one partition keeps it: the request sent again by card or
  // phone (both now the survivor's, so one partition) is answered duplicate; its id used for another merge, IDEMPOTENCY_CONFLICT.
  if (!tx.store.requests.get(input.merge)) tx.store.requests.put(input.merge, { h: input.hash, r: reply, t: tx.now, v: input.intoPartition });
  return reply;
}

export function mergeRelease(tx: Tx, input: ReleaseInput): Reply {
  const c = tx.store.customers.get(input.customerId);
  if (c?.mergingIn === input.merge) {
    const { mergingIn: _reserved, ...rest } = c;
    tx.store.customers.put(c.id, rest);
  }
  return { ok: true, customerId: input.customerId };
}

/** A live party; one reserved for a merge is refused unless it is this merge's survivor (`merge`). */
function party(tx: Tx, id: string, field: string, merge: string | null): Customer {
  const c = tx.store.customers.get(id);
  if (!c) throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer ${id}`, field);
  if (c.erasedAt !== undefined) throw new LoyaltyError("VALIDATION", `customer ${c.id} was erased`, field);
  if (c.mergedInto !== undefined) throw new LoyaltyError("VALIDATION", `customer ${c.id} was merged into ${c.mergedInto}`, field);
  if (c.mergingIn !== undefined && c.mergingIn !== merge) throw new LoyaltyError("VALIDATION", `a merge into ${c.id} is under way (request ${c.mergingIn})`, field);
  return c;
}

/**
 * The records of the sales, returns and voids of customers `ids` of this partition (their
 * entries name them): a retry of one after the merge is a duplicate on the survivor's
 * partition, and a return of a sale is served there. Events that moved no points wrote
 * no entry and stay behind.
 */
function eventsOf(tx: Tx, ids: string[]): [string, EventRecord][] {
  const out: [string, EventRecord][] = [];
  for (const id of ids) {
    if (ofOtherPartition(tx, id)) continue;
    for (const { value } of tx.store.entries.getRange({ start: [id, 0], end: [id, Number.MAX_SAFE_INTEGER] })) {
      const group = value as { kind?: string; eventId?: string; p?: unknown };
      if (group.p === undefined || group.eventId === undefined || !EVENT_KINDS.has(group.kind ?? "")) continue;
      const record = getEvent(tx.store, group.eventId);
      if (record) out.push([group.eventId, record]);
    }
  }
  return out;
}

const EVENT_KINDS: ReadonlySet<string> = new Set(["accrual", "return", "void"]);
