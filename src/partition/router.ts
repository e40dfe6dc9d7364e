// Command -> partition. Commands are keyed by customer; a card, phone, hold, voucher code or original
// sale is resolved to its customer from LMDB on the main thread. Commands still in
// flight that will create such a mapping (a sale, an enrolment at an unknown phone)
// are remembered until they commit, so a return right behind its sale, or two sales at
// a new phone, land in the same partition and apply in order.
import type { CustomerRef, PosEvent, Verb } from "../codec/schema.js";
import type { Store } from "../ledger/store.js";
import { partitionOf } from "./hash.js";

export class Router {
  private readonly pending = new Map<string, { partition: number; count: number }>();

  constructor(
    private readonly store: Store,
    readonly partitions: number,
    /** Workers commit in other threads: renew the main thread's read snapshot before routing. */
    private readonly renewReads: boolean,
  ) {}

  /** The partition and the in-flight keys to release once the command has committed. */
  route(verb: Verb, input: Record<string, unknown>): { partition: number; keys: string[] } {
    if (this.renewReads) this.store.env.resetReadTxn();
    switch (verb) {
      case "accrue":
        return this.routeEvent(input as PosEvent);
      case "quote":
      case "balance":
      case "statement":
      case "authorize":
      case "convert":
      case "convertEarned":
      case "adjust":
      case "redeemReward":
      case "buyVoucher":
      case "vouchers":
        return { partition: this.ofKey(this.customerKey(input.customer as CustomerRef)), keys: [] };
      case "capture":
      case "release": {
        const hold = this.store.holds.get(input.holdId as string);
        return { partition: this.ofKey(hold ? hold.customerId : `hold:${input.holdId}`), keys: [] };
      }
      case "redeemVoucher": {
        const voucher = this.store.vouchers.get(input.code as string);
        return { partition: this.ofKey(voucher ? voucher.customerId : `voucher:${input.code}`), keys: [] };
      }
      case "card": {
        // The card's owner, or for a link, the customer it joins.
        const ref = (input.customer as CustomerRef | undefined) ?? { card: input.card as string };
        return { partition: this.ofKey(this.customerKey(ref)), keys: [] };
      }
      case "enroll": {
        const key = (input.card as string | undefined) ? `card:${input.card}` : `req:${input.requestId}`;
        return { partition: this.ofKey(key), keys: [] };
      }
    }
  }

  release(keys: string[]): void {
    for (const k of keys) {
      const p = this.pending.get(k);
      if (p && --p.count === 0) this.pending.delete(k);
    }
  }

  private routeEvent(event: PosEvent): { partition: number; keys: string[] } {
    if (event.type === "sale") {
      const key = this.customerKey(event.customer);
      const partition = this.ofKey(key);
      const keys = [`sale:${event.eventId}`];
      if (key.startsWith("phone:")) keys.push(key);
      for (const k of keys) this.hold(k, partition);
      return { partition, keys };
    }
    const inFlight = this.pending.get(`sale:${event.originalEventId}`);
    if (inFlight) return { partition: inFlight.partition, keys: [] };
    const sale = this.store.events.get(event.originalEventId)?.s;
    return { partition: this.ofKey(sale ? sale.customerId : `sale:${event.originalEventId}`), keys: [] };
  }

  /** The customer id when known, else a stable stand-in for the reference. */
  private customerKey(ref: CustomerRef): string {
    if ("customerId" in ref) return ref.customerId;
    if ("card" in ref) return this.store.cards.get(ref.card)?.customerId ?? `card:${ref.card}`;
    return this.store.phones.get(ref.phone) ?? `phone:${ref.phone}`;
  }

  private ofKey(key: string): number {
    const inFlight = this.pending.get(key);
    return inFlight ? inFlight.partition : partitionOf(key, this.partitions);
  }

  private hold(key: string, partition: number): void {
    const p = this.pending.get(key);
    if (p) p.count++;
    else this.pending.set(key, { partition, count: 1 });
  }
}
