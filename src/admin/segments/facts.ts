// A customer's facts for the segment filter, read from the ledger inside the caller's read
// transaction. Each part loads on first use: the customer record always, the wallet for
// balances, the lots for expiry, the purchase record for what was bought where and when.
import { consentGiven } from "../../ledger/consents.js";
import { LOT_EXPIRES, LOT_LEFT, lotRows } from "../../ledger/lots.js";
import type { Customer, Store, Wallet } from "../../ledger/store.js";
import type { Bought, SegmentFacts } from "./filter.js";

/** The purchase knowledge a filter reads; see purchasesOf. */
export interface PurchaseView {
  lastVisitAt: number | null;
  stores: ReadonlySet<string>;
  channels: ReadonlySet<string>;
  bought(what: { skus?: readonly string[]; categories?: readonly string[] }, from: number, to: number): Bought;
  spendIn(from: number, to: number): number;
  visitsIn(from: number, to: number): number;
}

const NO_PURCHASES: PurchaseView = {
  lastVisitAt: null,
  stores: new Set(),
  channels: new Set(),
  bought: () => ({ count: 0, amount: 0 }),
  spendIn: () => 0,
  visitsIn: () => 0,
};

export interface FactsSources {
  /** The customer's purchase knowledge, or null when there is none. */
  purchasesOf(store: Store, customerId: string): PurchaseView | null;
  /** The customer's current tier id, or null. */
  tierOf(store: Store, customer: Customer, wallet: Wallet | undefined): string | null;
}

/**
 * Methods on the prototype, and one object per scan (at), re-pointed at each customer: a
 * scan of a million customers allocates next to nothing for its facts. The filter is
 * synchronous, so a customer's facts are never read once the next one's are set.
 */
class CustomerFacts implements SegmentFacts {
  private wallet: Wallet | undefined | null = null;
  private purchases: PurchaseView | null = null;
  constructor(
    private readonly store: Store,
    private c: Customer,
    private readonly sources: FactsSources,
  ) {}
  /** This object, now the facts of `c`. */
  at(c: Customer): this {
    this.c = c;
    this.wallet = null;
    this.purchases = null;
    return this;
  }
  get customerId(): string {
    return this.c.id;
  }
  get createdAt(): number {
    return this.c.createdAt;
  }
  get groups(): readonly string[] {
    return this.c.groups;
  }
  get attributes(): Readonly<Record<string, string | number | boolean>> {
    return this.c.attributes;
  }
  get birthday(): string | null {
    return (this.c.profile as { birthday?: string }).birthday ?? null;
  }
  private walletOf(): Wallet | undefined {
    if (this.wallet === null) this.wallet = this.store.wallets.get(this.c.id);
    return this.wallet;
  }
  private purchasesOf(): PurchaseView {
    return (this.purchases ??= this.sources.purchasesOf(this.store, this.c.id) ?? NO_PURCHASES);
  }
  consented(channel: "email" | "sms" | "post"): boolean {
    return consentGiven(this.c, channel);
  }
  tier(): string | null {
    return this.sources.tierOf(this.store, this.c, this.walletOf());
  }
  account(name: string): { balance: number; held: number } {
    const a = this.walletOf()?.accounts[name];
    return a ? { balance: a.balance, held: a.held } : { balance: 0, held: 0 };
  }
  expiring(name: string, until: number): number {
    let sum = 0;
    const w = this.walletOf();
    if (!w) return 0;
    for (const row of lotRows(w, name)) {
      if (row[LOT_EXPIRES] > until) break;
      sum += row[LOT_LEFT];
    }
    return sum;
  }
  lastVisitAt(): number | null {
    return this.purchasesOf().lastVisitAt;
  }
  visitedStore(storeId: string): boolean {
    return this.purchasesOf().stores.has(storeId);
  }
  usedChannel(channel: string): boolean {
    return this.purchasesOf().channels.has(channel);
  }
  bought(what: { skus?: readonly string[]; categories?: readonly string[] }, from: number, to: number): Bought {
    return this.purchasesOf().bought(what, from, to);
  }
  spendIn(from: number, to: number): number {
    return this.purchasesOf().spendIn(from, to);
  }
  visitsIn(from: number, to: number): number {
    return this.purchasesOf().visitsIn(from, to);
  }
}

export function factsOf(store: Store, c: Customer, sources: FactsSources): SegmentFacts {
  return new CustomerFacts(store, c, sources);
}

/** For a scan: facts(c) gives the facts of c, valid until the next call (one object re-pointed). */
export function factsReader(store: Store, sources: FactsSources): (c: Customer) => SegmentFacts {
  let facts: CustomerFacts | null = null;
  return (c) => (facts === null ? (facts = new CustomerFacts(store, c, sources)) : facts.at(c));
}
