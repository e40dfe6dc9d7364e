// Cluster mode: keeping the identity directory (cluster/directory.ts) in step with the
// partitions' ledgers. A partition's owner knows the cards, phones and loyalty ids of its
// own customers; every other instance routes by the directory. The owner therefore
// refuses a command that would give a customer an identifier the directory says another
// customer holds (before it is logged), and once a command that introduced or dropped
// one has applied, claims or releases it in the directory before the reply goes out.
import { decodeBytes } from "../codec/codec.js";
import { LoyaltyError } from "../errors.js";
import type { Logger } from "../observe/logger.js";
import type { Metrics } from "../observe/metrics.js";
import type { RawRequest } from "../partition/batch.js";
import type { Customer, Store } from "../ledger/store.js";
import { limits } from "../limits.js";
import type { IdentityKind } from "./identity.js";

/** What the sync needs of the directory (cluster/directory.ts IdentityDirectory). */
export interface Directory {
  lookup(kind: IdentityKind, value: string): string | null;
  claim(kind: IdentityKind, value: string, customerId: string, opts?: { id?: string }): Promise<{ ok: true } | { ok: false; owner: string | null }>;
  release(kind: IdentityKind, value: string, customerId: string, opts?: { id?: string }): Promise<{ ok: true } | { ok: false; owner: string | null }>;
  move(kind: IdentityKind, value: string, from: string, to: string, opts?: { id?: string }): Promise<{ ok: true } | { ok: false; owner: string | null }>;
  /** Keys held by a request (PENDING_HOLDER), not yet by a customer. */
  pending?(): [IdentityKind, string, string][];
  sync(): Promise<void>;
}

type Value = Record<string, unknown>;
type Key = [kind: IdentityKind, value: string, field: string];

const obj = (v: unknown): Value => (typeof v === "object" && v !== null ? (v as Value) : {});
const str = (v: unknown): string | null => (typeof v === "string" && v.length > 0 ? v : null);

/** The verbs that may introduce or drop an identifier: only their requests are decoded here. */
export const IDENTITY_VERBS: ReadonlySet<string> = new Set(["enroll", "card", "updateCustomer", "eraseCustomer", "accrue", "buyVoucher", "redeemReward"]);

/**
 * Verbs that may take identifiers away from a customer without naming them (a new phone
 * replaces the old one; an erasure drops them all): the owner compares the customer's
 * identifiers before and after the command and releases what went.
 */
export const DROPPING_VERBS: ReadonlySet<string> = new Set(["updateCustomer", "eraseCustomer"]);

/** Verbs whose reply may carry a voucher issued to the customer (`voucher.code`): its code goes in the directory. */
const VOUCHER_VERBS: ReadonlySet<string> = new Set(["buyVoucher", "redeemReward"]);

/** The identifiers a command gives its customer (claims) and takes away (releases). */
export function identitiesOf(verb: string, value: unknown): { gives: Key[]; drops: Key[] } {
  const v = obj(value);
  const gives: Key[] = [];
  const drops: Key[] = [];
  const add = (kind: IdentityKind, x: unknown, field: string) => {
    const s = str(x);
    if (s) gives.push([kind, s, field]);
  };
  switch (verb) {
    case "enroll":
      add("card", v.card, "card");
      add("loyaltyId", v.loyaltyId, "loyaltyId");
      add("phone", obj(v.profile).phone, "profile.phone");
      break;
    case "updateCustomer":
      add("phone", obj(v.profile).phone, "profile.phone");
      break;
    case "card":
      if (v.action === "link") add("card", v.card, "card");
      if (v.action === "replace") add("card", v.newCard, "newCard");
      if (v.action === "unlink" && str(v.card)) drops.push(["card", v.card as string, "card"]);
      break;
    case "accrue": {
      // A sale by an unknown card or phone may enrol its customer (enrolOnUnknownPhone / Card).
      const c = obj(v.customer);
      if (v.type === "sale" && !str(c.customerId)) {
        add("card", c.card, "customer.card");
        add("phone", c.phone, "customer.phone");
      }
      break;
    }
  }
  return { gives, drops };
}

/**
 * The holder of identifiers claimed before the command that gives them is logged (see
 * IdentitySync.preclaim): named after the request, so that a retry finds its own claim.
 * Routing treats such a key as not held yet.
 */
export const PENDING_HOLDER = "pending:";
export const isPendingHolder = (holder: string | null): boolean => holder !== null && holder.startsWith(PENDING_HOLDER);
/** The holder of what request `requestId` of virtual partition `vp` claims: its partition's owner sweeps it (sweep). */
export const pendingHolder = (vp: number, requestId: string): string => `${PENDING_HOLDER}${vp}:${requestId}`;
const PENDING = /^pending:(\d+):(.+)$/s;


/** Identifiers claimed for a request before it was logged, to hand to its customer (or free) once it applied. */
export interface Preclaim {
  holder: string;
  keys: [IdentityKind, string][];
}

/** The cards, phone and loyalty id a ledger gives a customer (none once erased). */
export function customerIdentifiers(c: Customer | undefined): [IdentityKind, string][] {
  if (!c || c.erasedAt !== undefined) return [];
  const out: [IdentityKind, string][] = c.cards.map((card) => ["card", card]);
  if (c.profile.phone) out.push(["phone", c.profile.phone]);
  if (c.loyaltyId) out.push(["loyaltyId", c.loyaltyId]);
  return out;
}

export class IdentitySync {
  constructor(
    private readonly directory: Directory,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Resolves once the directory's cache holds every claim made anywhere before the call. */
  sync(): Promise<void> {
    return this.directory.sync();
  }

  /** The request's decoded value when its verb may touch identifiers (else null: nothing to do). */
  valueOf(req: RawRequest): unknown {
    if (!IDENTITY_VERBS.has(req.verb)) return null;
    try {
      return decodeBytes(req.bytes, req.encoding);
    } catch {
      return null; // the partition refuses it anyway
    }
  }

  /**
   * Refuses (VALIDATION, as the ledger would on one node) an enrolment or card change
   * that gives an identifier the directory says another customer holds. Not race-free
   * alone: afterApply's claim catches what two partitions let through at once.
   */
  refusal(verb: string, value: unknown, vp: number): LoyaltyError | null {
    if (verb !== "enroll" && verb !== "card" && verb !== "updateCustomer") return null;
    const target = str(obj(obj(value).customer).customerId);
    const own = pendingHolder(vp, str(obj(value).requestId) ?? "");
    for (const [kind, v, field] of identitiesOf(verb, value).gives) {
      const holder = this.directory.lookup(kind, v);
      if (holder !== null && holder !== target && holder !== own) return new LoyaltyError("VALIDATION", `${kind} ${v} already belongs to a customer`, field);
    }
    return null;
  }

  /**
   * Whether afterApply may have something to do: an identifier the command gives that the
   * directory does not hold yet, or one it drops (a sale by a known card has nothing).
   */
  pending(verb: string, value: unknown): boolean {
    if (VOUCHER_VERBS.has(verb)) return true;
    const { gives, drops } = identitiesOf(verb, value);
    return drops.length > 0 || gives.some(([kind, v]) => this.directory.lookup(kind, v) === null);
  }

  /**
   * Claims, before the command is logged, the identifiers an enrolment, a card link or
   * replacement, or a new phone gives that the directory does not hold yet: for the
   * customer a link or a new phone names, or, for an enrolment (whose customer has no id
   * yet), for the request (pendingHolder): of two partitions giving one card to two
   * customers at once, one claim lands and the other command is refused (VALIDATION)
   * before it is logged. An enrolment's own card (or loyalty id without a card) is not
   * claimed first: it is the enrolment's routing key, so every command giving it goes to
   * one partition, in order (its claim follows the apply, as before). Resolves null when
   * there is nothing to claim. An owner that died between a request's claim and the
   * apply leaves the claim: sweep settles it.
   */
  async preclaim(verb: string, value: unknown, vp: number): Promise<Preclaim | null> {
    if (verb !== "enroll" && verb !== "card" && verb !== "updateCustomer") return null;
    const requestId = str(obj(value).requestId);
    if (requestId === null) return null;
    const target = verb === "enroll" ? null : this.customerOf(value);
    const holder = target ?? pendingHolder(vp, requestId);
    const v0 = obj(value);
    const routing = verb !== "enroll" ? null : str(v0.card) ? `card:${str(v0.card)}` : str(v0.loyaltyId) ? `loyaltyId:${str(v0.loyaltyId)}` : null;
    const keys: [IdentityKind, string][] = [];
    for (const [kind, v, field] of identitiesOf(verb, value).gives) {
      if (`${kind}:${v}` === routing) continue;
      const now = this.directory.lookup(kind, v);
      if (now !== null && now !== holder) continue; // the customer's own already, or refused by refusal()
      const r = await this.directory.claim(kind, v, holder);
      if (!r.ok) {
        await this.settle({ holder, keys }, null);
        throw new LoyaltyError("VALIDATION", `${kind} ${v} already belongs to a customer`, field);
      }
      if (now === null) keys.push([kind, v]);
    }
    return keys.length > 0 ? { holder, keys } : null;
  }

  /**
   * After the command applied: what a request claimed goes to its customer; what a
   * customer's command claimed stays. Refused or failed, the claims are freed.
   */
  async settle(pre: Preclaim, reply: Value | null): Promise<void> {
    const customerId = reply && reply.ok === true ? str(reply.customerId) : null;
    if (customerId !== null && customerId === pre.holder) return;
    for (const [kind, v] of pre.keys) {
      const r = await (customerId && isPendingHolder(pre.holder) ? this.directory.move(kind, v, pre.holder, customerId) : this.directory.release(kind, v, pre.holder)).catch((err: Error) => {
        this.log.warn({ err: err.message, kind, holder: pre.holder }, "could not settle an identifier claimed for a command");
        return null;
      });
      if (r && !r.ok) this.log.warn({ kind, value: v, holder: pre.holder, owner: r.owner }, "an identifier claimed for a command was no longer its own");
    }
  }

  /**
   * One round of the directory's repair, for the partitions this instance serves (its
   * ledger is theirs). Claims held by a request (a crash between the claim and the apply)
   * go to the customer the ledger gave the identifier, or are freed when the request was
   * refused, or has not applied `staleMs` after a round first saw it (well past the
   * longest a command may take to be logged and applied). Then up to
   * `batch` customers further on (a cursor through the ledger) get the identifiers they
   * hold and the directory lacks (a crash between the apply and the claim).
   */
  async sweep(store: Store, serves: (vp: number) => boolean, vpOf: (customerId: string) => number, batch: number, staleMs: number): Promise<{ moved: number; released: number; claimed: number }> {
    const out = { moved: 0, released: 0, claimed: 0 };
    store.env.resetReadTxn();
    const stillPending = new Map<string, number>();
    const now = Date.now();
    for (const [kind, v, holder] of this.directory.pending?.() ?? []) {
      const m = PENDING.exec(holder);
      if (!m || !serves(Number(m[1]))) continue;
      const holds = kind === "card" ? store.cards.get(v)?.customerId : kind === "phone" ? store.phones.get(v) : kind === "loyaltyId" ? store.loyaltyIds.get(v) : undefined;
      const key = `${kind}\u0000${v}\u0000${holder}`;
      if (holds !== undefined && vpOf(holds) === Number(m[1])) {
        if ((await this.directory.move(kind, v, holder, holds).catch(() => null))?.ok) out.moved++;
      } else if (store.requests.get(m[2]!) !== undefined || now - (this.pendingSeen.get(key) ?? now) >= staleMs) {
        if ((await this.directory.release(kind, v, holder).catch(() => null))?.ok) out.released++;
      } else stillPending.set(key, this.pendingSeen.get(key) ?? now);
    }
    this.pendingSeen = stillPending;
    let n = 0;
    for (const { key: id, value: c } of store.customers.getRange({ start: this.cursor, snapshot: false })) {
      if (n++ >= batch) {
        this.cursor = id;
        return out;
      }
      if (!serves(vpOf(id)) || c.mergedInto !== undefined) continue;
      for (const [kind, v] of customerIdentifiers(c)) {
        if (this.directory.lookup(kind, v) !== null) continue;
        if (!(await this.directory.claim(kind, v, id).catch(() => null))?.ok) continue;
        // A command that took it away may have applied meanwhile (and found nothing to release).
        store.env.resetReadTxn();
        if (customerIdentifiers(store.customers.get(id)).some(([k, x]) => k === kind && x === v)) out.claimed++;
        else await this.directory.release(kind, v, id).catch(() => null);
      }
    }
    this.cursor = "";
    return out;
  }

  /**
   * Runs sweep every `everyMs` over the partitions `serves` says are served here; a
   * request's claim is stale well past the longest its command may take to be logged and
   * applied (twice a forward's bound, `forwardMsMax`, or two rounds).
   */
  startSweep(
    store: Store,
    serves: (vp: number) => boolean,
    vpOf: (customerId: string) => number,
    everyMs: number,
    forwardMsMax: number = limits.clusterForwardMsMax,
    batch: number = limits.identitySweepBatch,
  ): void {
    if (this.sweepTimer) return;
    let running = false;
    const staleMs = Math.max(2 * forwardMsMax, 2 * everyMs);
    this.sweepTimer = setInterval(() => {
      if (running) return;
      running = true;
      this.sweep(store, serves, vpOf, batch, staleMs)
        .then((r) => {
          if (r.moved + r.released + r.claimed > 0) this.log.info(r, "identity directory repaired");
        })
        .catch((err: unknown) => this.log.warn({ err }, "identity directory sweep failed; tried again next round"))
        .finally(() => (running = false));
    }, everyMs);
    this.sweepTimer.unref();
  }

  stopSweep(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  private sweepTimer: NodeJS.Timeout | null = null;

  /** Where the next sweep's walk through the customers starts. */
  private cursor = "";
  /** Keys held by a request whose request had not applied, with when a sweep first saw them. */
  private pendingSeen = new Map<string, number>();

  /** The customer a request names: its id, or the holder of the card, phone or loyalty id it gives. */
  customerOf(value: unknown): string | null {
    const ref = obj(obj(value).customer);
    const id = str(ref.customerId);
    if (id) return id;
    for (const kind of ["card", "phone", "loyaltyId"] as const) {
      const v = str(ref[kind]);
      if (v) {
        const holder = this.directory.lookup(kind, v);
        return isPendingHolder(holder) ? null : holder;
      }
    }
    return null;
  }

  /** Releases the identifiers `customerId` held before a command and no longer holds after it. */
  async releaseDropped(customerId: string, before: [IdentityKind, string][], after: [IdentityKind, string][]): Promise<void> {
    const kept = new Set(after.map(([kind, v]) => `${kind}:${v}`));
    for (const [kind, v] of before) {
      if (kept.has(`${kind}:${v}`) || this.directory.lookup(kind, v) !== customerId) continue;
      await this.directory.release(kind, v, customerId).catch((err: Error) => this.log.warn({ err: err.message, kind, customerId }, "could not release an identifier in the identity directory"));
    }
  }

  /** After the command applied with `reply`: the directory learns what it gave and dropped. */
  async afterApply(verb: string, value: unknown, reply: Value): Promise<void> {
    const customerId = str(reply.customerId);
    if (reply.ok !== true || reply.duplicate === true || customerId === null) return;
    const { gives, drops } = identitiesOf(verb, value);
    const code = VOUCHER_VERBS.has(verb) ? str(obj(reply.voucher).code) : null;
    if (code) gives.push(["voucher", code, "voucher.code"]);
    for (const [kind, v] of gives) {
      if (this.directory.lookup(kind, v) === customerId) continue;
      const r = await this.directory.claim(kind, v, customerId).catch((err: Error) => {
        this.log.warn({ err: err.message, kind, customerId }, "could not record an identifier in the identity directory; only its partition's owner finds it");
        return null;
      });
      if (r && !r.ok) {
        this.metrics.clusterIdentityConflicts.inc();
        this.log.error({ kind, value: v, customerId, holder: r.owner }, "identifier given to two customers on different partitions; the directory keeps the first");
      }
    }
    for (const [kind, v] of drops) {
      await this.directory.release(kind, v, customerId).catch((err: Error) => this.log.warn({ err: err.message, kind, customerId }, "could not release an identifier in the identity directory"));
    }
  }
}
