// Command -> partition, for more than one partition (with one, everything goes to
// partition 0 and the main thread never decodes a request). Commands are keyed by
// customer; a card, phone, loyalty id, hold, voucher code or original sale is resolved
// to its customer from LMDB. Commands still in flight that will create such a mapping
// (a sale, an enrolment at an unknown phone or card) are remembered until they commit,
// so a return right behind its sale, or two sales at a new phone, land in the same
// partition in order.
// The value routed is decoded but not yet validated (the worker validates it): every
// field is read defensively, and what cannot be read routes somewhere stable.
import { normalizeVoucherCode } from "../codec/schema.js";
import { limits } from "../limits.js";
import { survivorId } from "../ledger/customers.js";
import { scopedPartition } from "../ledger/scope.js";
import type { Store } from "../ledger/store.js";
import { VERB_TABLE, type CommandVerb } from "../verbs.js";
import { partitionOf } from "./hash.js";

type Value = Record<string, unknown>;

/** A string that can be an id (longer ones are refused by validation, and are no LMDB key). */
function str(v: unknown): string | null {
  return typeof v === "string" && v.length > 0 && v.length <= limits.idLengthMax ? v : null;
}

function obj(v: unknown): Value {
  return typeof v === "object" && v !== null ? (v as Value) : {};
}

// The id format is the ledger's (ledger/scope.ts); the cluster's modules read it from here too.
export { scopedPartition };

export class Router {
  private readonly pending = new Map<string, { partition: number; count: number }>();

  constructor(
    private readonly store: Store,
    readonly partitions: number,
    /** Workers commit in other threads: renew the main thread's read snapshot before routing. */
    private readonly renewReads: boolean,
    /**
     * Cluster mode: the identity directory, for the cards, phones and loyalty ids of
     * customers whose partitions other instances serve (this ledger may not know them).
     */
    private readonly directory: { lookup(kind: "card" | "phone" | "loyaltyId" | "voucher" | "customer", value: string): string | null } | null = null,
  ) {}

  /** The partition and the in-flight keys to release once the command has committed. */
  /**
   * Cluster mode: the last route() met a card, phone or loyalty id that neither the
   * directory nor this ledger knows. It may be new, or the directory's cache may be a few
   * milliseconds behind a claim made on another instance: the caller syncs and routes again.
   */
  missed = false;
  /**
   * Cluster mode: the record the last route() went by (a return's original sale, a
   * report), when this ledger does not hold it (the partition serving it may be another
   * instance's): the caller asks the cluster where it lives (cluster/locator.ts).
   */
  missedRecord: { kind: "sale" | "report"; id: string } | null = null;

  route(verb: CommandVerb, value: unknown): { partition: number; keys: string[] } {
    this.missed = false;
    this.missedRecord = null;
    if (this.partitions === 1) return { partition: 0, keys: [] };
    if (this.renewReads) this.store.env.resetReadTxn();
    const input = obj(value);
    switch (VERB_TABLE[verb].route) {
      case "event":
        return this.routeEvent(input);
      case "customer":
        return this.to(this.customerKey(input.customer));
      case "hold": {
        const holdId = str(input.holdId) ?? "";
        const hold = holdId ? this.store.holds.get(holdId) : undefined;
        // A cluster's hold id names its partition: the hold may live in another instance's ledger.
        return this.to(hold ? hold.customerId : scopedPartition(holdId) !== null ? holdId : `hold:${holdId}`);
      }
      case "voucher": {
        const code = normalizeVoucherCode(str(input.code) ?? "");
        const owner = code ? (this.directory?.lookup("voucher", code) ?? this.store.vouchers.get(code)?.customerId) : undefined;
        return this.to(owner ?? (code ? this.miss(`voucher:${code}`) : "voucher:"));
      }
      case "report": {
        const reportId = str(input.reportId) ?? "";
        const report = reportId ? this.store.reports.get(reportId) : undefined;
        if (!report && reportId && this.directory) this.missedRecord = { kind: "report", id: reportId };
        return this.to(report ? survivorId(this.store, report.customerId) : `report:${reportId}`);
      }
      case "card":
        // The card's owner, or for a link, the customer it joins.
        return this.to(this.customerKey(input.customer ?? { card: input.card }));
      case "merge":
        return this.routeMerge(input);
      case "enroll":
        // Keyed as a reference to the new card (or loyalty id) reads until the enrolment commits.
        if (str(input.card)) return this.to(`card:${input.card as string}`);
        return this.to(str(input.loyaltyId) ? `loyalty:${input.loyaltyId as string}` : `req:${str(input.requestId) ?? ""}`);
      case "internal":
        return this.to(str(input.customerId) ?? "");
    }
  }

  release(keys: string[]): void {
    for (const k of keys) {
      const p = this.pending.get(k);
      if (p && --p.count === 0) this.pending.delete(k);
    }
  }

  private to(key: string): { partition: number; keys: string[] } {
    return { partition: this.ofKey(key), keys: [] };
  }

  /**
   * A merge applies on the survivor's partition, in one LMDB write transaction that also
   * writes the merged-away customer's records (LMDB has one writer: a command of that
   * customer on its own partition commits wholly before or wholly after it). Its routing
   * key is held there until the merge commits, so that what arrives for it meanwhile
   * queues behind the merge; afterwards `aliases` sends it to the survivor's partition.
   */
  private routeMerge(input: Value): { partition: number; keys: string[] } {
    const ref = (v: unknown) => (typeof v === "string" ? { customerId: v } : v);
    const into = this.customerKey(ref(input.into));
    const from = this.customerKey(ref(input.from));
    const partition = this.ofKey(into);
    const keys = [...new Set([from, into])].filter((k) => k !== "");
    for (const k of keys) this.hold(k, partition);
    return { partition, keys };
  }

  /**
   * Cluster mode: a merge's two customers when they are on different partitions (merged
   * in steps, cluster/merge.ts), else null (one partition merges them, or the ledger
   * refuses a party it does not know); "unscoped" when an id does not name its partition.
   */
  mergeParties(value: unknown): { from: string; into: string } | "unscoped" | null {
    if (this.partitions === 1) return null;
    const input = obj(value);
    // An id as it is (not its survivor: the ledger refuses a merged-away party, and a repeat of this merge finds its steps' records).
    const key = (v: unknown) => (typeof v === "string" ? v : (str(obj(v).customerId) ?? this.customerKey(v)));
    const into = key(input.into);
    const from = key(input.from);
    // Where each lives (not where a command of it in flight was sent: route() holds both keys on into's partition).
    if (into === "" || from === "" || this.homeOf(into) === this.homeOf(from)) return null;
    if (from.includes(":") || into.includes(":")) return null;
    return scopedPartition(from) === null || scopedPartition(into) === null ? "unscoped" : { from, into };
  }

  private routeEvent(event: Value): { partition: number; keys: string[] } {
    if (event.type === "sale") {
      const key = this.customerKey(event.customer);
      const partition = this.ofKey(key);
      const keys = [`sale:${str(event.eventId) ?? ""}`];
      // An unknown phone or card that the sale may enrol: its next sales follow it until it commits.
      if (key.startsWith("phone:") || key.startsWith("card:")) keys.push(key);
      for (const k of keys) this.hold(k, partition);
      return { partition, keys };
    }
    const original = str(event.originalEventId) ?? "";
    const inFlight = this.pending.get(`sale:${original}`);
    if (inFlight) return { partition: inFlight.partition, keys: [] };
    const sale = original ? this.store.events.get(original)?.s : undefined;
    if (!sale && original && this.directory) this.missedRecord = { kind: "sale", id: original };
    return this.to(sale ? this.survivorOf(sale.customerId) : `sale:${original}`);
  }

  /** The customer id when known, else a stable stand-in for the reference. */
  private customerKey(ref: unknown): string {
    const r = obj(ref);
    const customerId = str(r.customerId);
    if (customerId) return this.survivorOf(customerId);
    // Cluster mode asks the directory first: this ledger's copy of partitions served elsewhere may be stale.
    const card = str(r.card);
    if (card) return this.held("card", card) ?? this.store.cards.get(card)?.customerId ?? this.miss(`card:${card}`);
    const phone = str(r.phone);
    if (phone) return this.held("phone", phone) ?? this.store.phones.get(phone) ?? this.miss(`phone:${phone}`);
    const loyaltyId = str(r.loyaltyId);
    if (loyaltyId) return this.held("loyaltyId", loyaltyId) ?? this.store.loyaltyIds.get(loyaltyId) ?? this.miss(`loyalty:${loyaltyId}`);
    return "";
  }

  /** The directory's holder of an identifier; none while only a request in flight claimed it (cluster/identities.ts PENDING_HOLDER). */
  private held(kind: "card" | "phone" | "loyaltyId", value: string): string | null {
    const holder = this.directory?.lookup(kind, value) ?? null;
    return holder === null || holder.startsWith("pending:") ? null : holder;
  }

  private miss(key: string): string {
    if (this.directory) this.missed = true;
    return key;
  }

  /** A customer id's survivor: in cluster mode, merged into one of another partition (cluster/merge.ts), the directory names it. */
  private survivorOf(customerId: string): string {
    return this.directory?.lookup("customer", customerId) ?? survivorId(this.store, customerId);
  }

  private ofKey(key: string): number {
    const inFlight = this.pending.get(key);
    return inFlight ? inFlight.partition : this.homeOf(key);
  }

  /** Where a key lives: the partition its id names, else its hash. */
  private homeOf(key: string): number {
    const scoped = scopedPartition(key);
    return scoped !== null && scoped < this.partitions ? scoped : partitionOf(key, this.partitions);
  }

  private hold(key: string, partition: number): void {
    const p = this.pending.get(key);
    if (p) p.count++;
    else this.pending.set(key, { partition, count: 1 });
  }
}
