// Customers and their identifiers: lookup by id, card or phone; enrolment (also at a
// sale with an unknown phone); card management (link, unlink, block, unblock, replace).
import type { CustomerRef, SaleEvent, VerbInput } from "../codec/schema.js";
import { LoyaltyError } from "../errors.js";
import { indexBirthday } from "./birthdays.js";
import { notificationId, notifyCustomer } from "./notifications.js";
import type { Customer } from "./store.js";
import type { Reply, Tx } from "./tx.js";

export function findCustomer(tx: Tx, ref: CustomerRef): Customer | null {
  const { customers, cards, phones } = tx.store;
  if ("customerId" in ref) return customers.get(ref.customerId) ?? null;
  if ("card" in ref) {
    const card = cards.get(ref.card);
    if (!card) return null;
    if (card.status === "blocked") throw new LoyaltyError("CARD_BLOCKED", `card ${ref.card} is blocked`, "customer.card");
    return customers.get(card.customerId) ?? null;
  }
  const id = phones.get(ref.phone);
  return id ? (customers.get(id) ?? null) : null;
}

export function requireCustomer(tx: Tx, ref: CustomerRef, field = "customer"): Customer {
  const c = findCustomer(tx, ref);
  if (!c) throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer for ${JSON.stringify(ref)}`, field);
  return c;
}

function newCustomer(tx: Tx, profile: Customer["profile"], origin: string, now: number): Customer {
  const seq = tx.nextCustomerSeq();
  return { id: `cu_${seq.toString(36).padStart(6, "0")}`, profile, groups: [], attributes: {}, cards: [], createdAt: now, origin };
}

export function enroll(tx: Tx, input: VerbInput<"enroll">): Reply {
  const { customers, cards, phones } = tx.store;
  if (input.card && cards.get(input.card)) throw new LoyaltyError("VALIDATION", `card ${input.card} already belongs to a customer`, "card");
  const phone = input.profile.phone;
  if (phone && phones.get(phone)) throw new LoyaltyError("VALIDATION", `phone ${phone} already belongs to a customer`, "profile.phone");
  const c = newCustomer(tx, input.profile, "enroll", tx.now);
  if (input.group) c.groups = [input.group];
  if (input.attributes) c.attributes = input.attributes;
  if (input.card) {
    c.cards = [input.card];
    cards.put(input.card, { customerId: c.id, status: "active" });
  }
  if (phone) phones.put(phone, c.id);
  customers.put(c.id, c);
  indexBirthday(tx, c.id, undefined, input.profile.birthday);
  notifyCustomer(tx, "enrolled", notificationId.enrolled(c.id), c.id, c, { via: "enroll", card: input.card ?? null, phone: phone ?? null, at: tx.now });
  return { ok: true, customerId: c.id };
}

/** A sale's customer: known, or enrolled now when it carries an unknown phone (configurable). */
export function saleCustomer(tx: Tx, event: SaleEvent): Customer {
  const found = findCustomer(tx, event.customer);
  if (found) return found;
  if ("phone" in event.customer && tx.options.enrolOnUnknownPhone) {
    const c = newCustomer(tx, { phone: event.customer.phone }, "phone", event.at);
    tx.store.phones.put(event.customer.phone, c.id);
    tx.store.customers.put(c.id, c);
    notifyCustomer(tx, "enrolled", notificationId.enrolled(c.id), c.id, c, { via: "sale", eventId: event.eventId, phone: event.customer.phone, at: event.at });
    return c;
  }
  throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer for ${JSON.stringify(event.customer)}`, "customer");
}

/** Link, unlink, block, unblock or replace a card; the customer keeps every account and entry. */
export function card(tx: Tx, input: VerbInput<"card">): Reply {
  const { cards, customers } = tx.store;
  if (input.action === "link") {
    const c = requireCustomer(tx, input.customer);
    if (cards.get(input.card)) throw new LoyaltyError("VALIDATION", `card ${input.card} already belongs to a customer`, "card");
    cards.put(input.card, { customerId: c.id, status: "active" });
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
      if (cards.get(input.newCard)) throw new LoyaltyError("VALIDATION", `card ${input.newCard} already belongs to a customer`, "newCard");
      cards.put(input.card, { ...found, status: "blocked" });
      cards.put(input.newCard, { customerId: owner.id, status: "active" });
      customers.put(owner.id, { ...owner, cards: [...owner.cards, input.newCard] });
      return { ok: true, customerId: owner.id, card: input.newCard, replaced: input.card, status: "active" };
    }
  }
}
