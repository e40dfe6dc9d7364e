// Customers and their identifiers: lookup by id, card, phone or loyalty id; enrolment
// (also at a sale with an unknown phone or card); card management (link, unlink, block,
// unblock, replace).
import type { CustomerRef, SaleEvent, VerbInput } from "../codec/schema.js";
import { LoyaltyError } from "../errors.js";
import { handedOn, ofOtherPartition, standsFor } from "./scope.js";
import { limits } from "../limits.js";
import { indexBirthday } from "./birthdays.js";
import { consentsGiven, reindexEmail, reindexLoyaltyId, reindexPhone } from "./identity.js";
import { notificationId, notifyCustomer } from "./notifications.js";
import type { Customer, Store } from "./store.js";
import type { Reply, Tx } from "./tx.js";

export function findCustomer(tx: Pick<Tx, "store"> & { readonly idScope?: string }, ref: CustomerRef): Customer | null {
  const { cards, phones } = tx.store;
  if ("customerId" in ref) return live(tx, ref.customerId);
  if ("loyaltyId" in ref) {
    const id = tx.store.loyaltyIds.get(ref.loyaltyId);
    return id ? byIndex(tx, id) : null;
  }
  if ("card" in ref) {
    const card = cards.get(ref.card);
    if (!card) return null;
    if (card.status === "blocked") throw new LoyaltyError("CARD_BLOCKED", `card ${ref.card} is blocked`, "customer.card");
    return byIndex(tx, card.customerId);
  }
  const id = phones.get(ref.phone);
  return id ? byIndex(tx, id) : null;
}

/**
 * The customer an index entry names (ledger/scope.ts standsFor). Cluster mode: one of
 * another partition (a card a merge across partitions handed on, before the directory
 * says so) is UNAVAILABLE, to be retried where it lives, never unknown (a sale would
 * enrol a second customer with it).
 */
function byIndex(tx: Pick<Tx, "store"> & { readonly idScope?: string }, owner: string): Customer | null {
  const id = standsFor(tx, owner);
  return id === null ? null : live(tx, id);
}

/** The customer an id names now: a merged-away id is its survivor (one hop, see ledger/merge.ts); an erased one is nobody. */
function live(tx: Pick<Tx, "store"> & { readonly idScope?: string }, id: string): Customer | null {
  const c = tx.store.customers.get(id);
  // Cluster mode: another partition's customer here is a stale copy, unless merged into one of this partition (its alias says so).
  const foreign = ofOtherPartition(tx, id);
  if (c && c.mergedInto === undefined && !foreign) return c.erasedAt === undefined ? c : null;
  // Merged away (one hop to the survivor: ledger/merge.ts). The alias first: after a merge across a
  // cluster's partitions this ledger may hold the alias but not the record, or a stale record.
  const survivor = tx.store.aliases.get(id) ?? c?.mergedInto;
  if (survivor === undefined) {
    if (foreign) throw new LoyaltyError("UNAVAILABLE", `customer ${id} is served by another partition; retry`);
    return null;
  }
  const s = tx.store.customers.get(survivor);
  // Cluster mode: merged into a customer of another partition (ledger/merge-steps.ts): its partition serves it.
  if (!s || s.mergedInto !== undefined || ofOtherPartition(tx, survivor)) {
    throw new LoyaltyError("UNAVAILABLE", `customer ${id} was merged into ${survivor}, served by another partition; retry`);
  }
  return s.erasedAt === undefined ? s : null;
}

/** A merged-away customer's id -> its survivor's; any other id as it is. Reads the small `aliases` table only. */
export function survivorId(store: Store, id: string): string {
  return store.aliases.get(id) ?? id;
}

export function requireCustomer(tx: Tx, ref: CustomerRef, field = "customer"): Customer {
  const c = findCustomer(tx, ref);
  if (!c) throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer for ${JSON.stringify(ref)}`, field);
  return c;
}

function newCustomer(tx: Tx, profile: Customer["profile"], origin: string, now: number): Customer {
  const seq = tx.nextCustomerSeq();
  return { id: `cu_${tx.idScope}${seq.toString(36).padStart(6, "0")}`, profile, groups: [], attributes: {}, cards: [], createdAt: now, origin };
}

export function enroll(tx: Tx, input: VerbInput<"enroll">): Reply {
  const { customers, cards } = tx.store;
  if (input.card && cardTaken(tx, input.card)) throw new LoyaltyError("VALIDATION", `card ${input.card} already belongs to a customer`, "card");
  const { consents, ...profile } = input.profile;
  const c = newCustomer(tx, {}, "enroll", tx.now);
  // Each identifier is checked (VALIDATION when taken) and indexed; a refusal rolls back the lot.
  reindexPhone(tx, c.id, undefined, profile.phone);
  reindexEmail(tx, c.id, undefined, profile.email);
  reindexLoyaltyId(tx, c.id, undefined, input.loyaltyId);
  c.profile = profile;
  if (input.loyaltyId) c.loyaltyId = input.loyaltyId;
  if (consents) c.consents = consentsGiven(consents, tx.now);
  const groups = [...new Set([...(input.group ? [input.group] : []), ...(input.groups ?? [])])];
  if (groups.length > limits.customerGroupsMax) throw new LoyaltyError("LIMIT_EXCEEDED", `a customer may be in at most ${limits.customerGroupsMax} groups`, "groups");
  c.groups = groups;
  if (input.kind) c.kind = input.kind;
  if (input.company) c.company = input.company;
  if (input.users) c.users = [...new Set(input.users)];
  if (input.attributes) c.attributes = input.attributes;
  if (input.card) {
    c.cards = [input.card];
    putCard(tx, input.card, c.id);
  }
  customers.put(c.id, c);
  indexBirthday(tx, c.id, undefined, profile.birthday, profile.timeZone ?? null);
  notifyCustomer(tx, "enrolled", notificationId.enrolled(c.id), c.id, c, { via: "enroll", card: input.card ?? null, phone: profile.phone ?? null, at: tx.now });
  return { ok: true, customerId: c.id };
}

/**
 * A sale's customer: known, or enrolled now when it carries an unknown phone or card
 * (each configurable: enrolOnUnknownPhone, enrolOnUnknownCard).
 */
export function saleCustomer(tx: Tx, event: SaleEvent): Customer {
  const found = findCustomer(tx, event.customer);
  if (found) return found;
  const ref = event.customer;
  if ("phone" in ref && tx.options.enrolOnUnknownPhone) {
    const c = newCustomer(tx, { phone: ref.phone }, "phone", event.at);
    reindexPhone(tx, c.id, undefined, ref.phone);
    tx.store.customers.put(c.id, c);
    notifyCustomer(tx, "enrolled", notificationId.enrolled(c.id), c.id, c, { via: "sale", eventId: event.eventId, phone: ref.phone, at: event.at });
    return c;
  }
  if ("card" in ref && tx.options.enrolOnUnknownCard) {
    const c = { ...newCustomer(tx, {}, "card", event.at), cards: [ref.card] };
    putCard(tx, ref.card, c.id);
    tx.store.customers.put(c.id, c);
    notifyCustomer(tx, "enrolled", notificationId.enrolled(c.id), c.id, c, { via: "sale", eventId: event.eventId, card: ref.card, at: event.at });
    return c;
  }
  throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer for ${JSON.stringify(event.customer)}`, "customer");
}

/** A card given to a customer, active (unless a merge across partitions handed it on: ledger/scope.ts). */
function putCard(tx: Tx, card: string, customerId: string): void {
  if (tx.idScope === "" || !handedOn(tx, tx.store.cards.get(card)?.customerId, customerId)) tx.store.cards.put(card, { customerId, status: "active" });
}

/** Whether a card belongs to a customer (of this partition, in cluster mode: ledger/scope.ts). */
function cardTaken(tx: Tx, card: string): boolean {
  const found = tx.store.cards.get(card);
  return found !== undefined && !ofOtherPartition(tx, found.customerId);
}

/** Whether a sale (or quote) naming this unknown reference would enrol a customer. */
export function enrolsAtSale(tx: Tx, ref: CustomerRef): boolean {
  return ("phone" in ref && tx.options.enrolOnUnknownPhone) || ("card" in ref && tx.options.enrolOnUnknownCard);
}

/** Link, unlink, block, unblock or replace a card; the customer keeps every account and entry. */
export function card(tx: Tx, input: VerbInput<"card">): Reply {
  const { cards, customers } = tx.store;
  if (input.action === "link") {
    const c = requireCustomer(tx, input.customer);
    if (cardTaken(tx, input.card)) throw new LoyaltyError("VALIDATION", `card ${input.card} already belongs to a customer`, "card");
    putCard(tx, input.card, c.id);
    customers.put(c.id, { ...c, cards: [...c.cards, input.card] });
    return { ok: true, customerId: c.id, card: input.card, status: "active" };
  }
  const found = cards.get(input.card);
  if (!found) throw new LoyaltyError("UNKNOWN_CUSTOMER", `no card ${input.card}`, "card");
  const owner = customers.get(found.customerId);
  if (!owner) throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer for card ${input.card}`, "card");
  switch (input.action) {
    case "unlink":
      cards.remove(input.card);
      customers.put(owner.id, { ...owner, cards: owner.cards.filter((x) => x !== input.card) });
      return { ok: true, customerId: owner.id, card: input.card, status: "unlinked" };
    case "block":
    case "unblock": {
      const status = input.action === "block" ? "blocked" : "active";
      cards.put(input.card, { ...found, status });
      return { ok: true, customerId: owner.id, card: input.card, status };
    }
    case "replace": {
      if (cardTaken(tx, input.newCard)) throw new LoyaltyError("VALIDATION", `card ${input.newCard} already belongs to a customer`, "newCard");
      cards.put(input.card, { ...found, status: "blocked" });
      putCard(tx, input.newCard, owner.id);
      customers.put(owner.id, { ...owner, cards: [...owner.cards, input.newCard] });
      return { ok: true, customerId: owner.id, card: input.newCard, replaced: input.card, status: "active" };
    }
  }
}
