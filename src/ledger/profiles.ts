// The `customer` verb (one read: profile, consents, groups, attributes, cards, tier and
// purchase figures) and `updateCustomer` (profile, consents, groups, attributes, loyalty
// id), whose changed identifiers are re-indexed in the same transaction.
import { PROFILE_FIELDS, type VerbInput } from "../codec/schema.js";
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import { loadWallet } from "./accounts.js";
import { requireCustomer } from "./customers.js";
import { indexBirthday } from "./birthdays.js";
import { datedGroups } from "./groups.js";
import { localDate } from "../rules/dates.js";
import { consentsGiven, consentsOf, reindexEmail, reindexLoyaltyId, reindexPhone } from "./identity.js";
import { statsOf } from "./stats-view.js";
import type { Customer, Profile } from "./store.js";
import { tierView } from "./tiers.js";
import type { Reply, Tx } from "./tx.js";

export function customer(tx: Tx, input: VerbInput<"customer">): Reply {
  return customerView(tx, requireCustomer(tx, input.customer));
}

/** The `customer` reply of a customer record. */
export function customerView(tx: Tx, c: Customer): Reply {
  const { consents: _legacy, ...profile } = c.profile;
  const cards: Reply[] = [];
  for (const card of c.cards) {
    const found = tx.store.cards.get(card);
    if (found?.customerId === c.id) cards.push({ card, status: found.status });
  }
  return {
    ok: true,
    customerId: c.id,
    ...(c.loyaltyId !== undefined ? { loyaltyId: c.loyaltyId } : {}),
    profile,
    consents: consentsOf(c),
    groups: c.groups,
    ...(c.groupChanges ? { groupChanges: c.groupChanges } : {}),
    ...(c.kind ? { kind: c.kind } : {}),
    // Cluster mode: a merge into this customer from another partition is under way (ledger/merge-steps.ts).
    ...(c.mergingIn !== undefined ? { mergingIn: c.mergingIn } : {}),
    ...(c.company ? { company: c.company } : {}),
    ...(c.users ? { users: c.users } : {}),
    attributes: c.attributes,
    cards,
    tier: tierView(tx, c, loadWallet(tx, c.id)),
    stats: statsOf(tx, c.id),
    createdAt: c.createdAt,
  };
}

export function updateCustomer(tx: Tx, input: VerbInput<"updateCustomer">): Reply {
  const c = requireCustomer(tx, input.customer);
  const next: Customer = { ...c, profile: input.profile ? profileAfter(tx, c, input.profile) : c.profile };
  if (input.consents) {
    next.consents = { ...consentsOf(c), ...consentsGiven(input.consents, tx.now) };
    // The old shape is read only while the customer has no `consents`: drop it once they have.
    if (next.profile.consents) {
      const { consents: _legacy, ...rest } = next.profile;
      next.profile = rest;
    }
  }
  if (input.groups) {
    // Dated once a change names its first day (or the customer has dated changes): see ledger/groups.ts.
    if (input.groups.from !== undefined || c.groupChanges) Object.assign(next, datedGroups(c, input.groups, localDate(tx.options.timeZone, tx.now)));
    else next.groups = idsAfter(c.groups, input.groups, limits.customerGroupsMax, "groups");
  }
  if (input.company !== undefined) {
    if (input.company === null) delete next.company;
    else next.company = input.company;
  }
  if (input.users) next.users = idsAfter(c.users ?? [], input.users, limits.customerUsersMax, "users");
  if (input.attributes) next.attributes = attributesAfter(c.attributes, input.attributes);
  if (input.loyaltyId !== undefined) {
    reindexLoyaltyId(tx, c.id, c.loyaltyId, input.loyaltyId);
    if (input.loyaltyId === null) delete next.loyaltyId;
    else next.loyaltyId = input.loyaltyId;
  }
  tx.store.customers.put(c.id, next);
  return customerView(tx, next);
}

type ProfileChange = NonNullable<VerbInput<"updateCustomer">["profile"]>;

/** The profile with the change applied (null clears a field); a moved phone or e-mail is re-indexed. */
function profileAfter(tx: Tx, c: Customer, change: ProfileChange): Profile {
  // A field the request leaves out (undefined) is not changed, and neither is its index.
  if (change.phone !== undefined) reindexPhone(tx, c.id, c.profile.phone, change.phone);
  if (change.email !== undefined) reindexEmail(tx, c.id, c.profile.email, change.email);
  if (change.birthday !== undefined || change.timeZone !== undefined) {
    const zone = change.timeZone === undefined ? (c.profile.timeZone ?? null) : change.timeZone;
    indexBirthday(tx, c.id, c.profile.birthday, change.birthday === undefined ? c.profile.birthday : change.birthday, zone);
  }
  const next: Record<string, unknown> = { ...c.profile };
  for (const field of PROFILE_FIELDS) {
    const v = change[field];
    if (v === null) delete next[field];
    else if (v !== undefined) next[field] = v;
  }
  return next as Profile;
}

type IdsChange = { add?: string[] | undefined; remove?: string[] | undefined };

/** Existing ids (groups, users) less the removed, then the added ones not yet there, in that order. */
function idsAfter(ids: string[], change: IdsChange, max: number, what: string): string[] {
  const removed = new Set(change.remove ?? []);
  const next = ids.filter((g) => !removed.has(g));
  for (const g of change.add ?? []) if (!next.includes(g)) next.push(g);
  if (next.length > max) {
    throw new LoyaltyError("LIMIT_EXCEEDED", `a customer may have at most ${max} ${what}; this would make ${next.length}`, `${what}.add`);
  }
  return next;
}

/** Attributes with the change applied: a value sets, null removes. */
function attributesAfter(attributes: Customer["attributes"], change: Record<string, string | number | boolean | null>): Customer["attributes"] {
  const next = { ...attributes };
  for (const [k, v] of Object.entries(change)) {
    if (v === null) delete next[k];
    else next[k] = v;
  }
  const count = Object.keys(next).length;
  if (count > limits.customerAttributesMax) {
    throw new LoyaltyError("LIMIT_EXCEEDED", `a customer may have at most ${limits.customerAttributesMax} attributes; this would make ${count}`, "attributes");
  }
  return next;
}
