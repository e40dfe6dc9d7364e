// Which identifiers a command gives its customer or takes away (cluster/identities.ts): what
// the partition's owner claims in, or releases from, the identity directory once it applied.
import { describe, expect, it } from "vitest";
import { identitiesOf } from "../../src/cluster/identities.js";

describe("identitiesOf", () => {
  it("reads an enrolment's card, loyalty id and phone", () => {
    expect(identitiesOf("enroll", { requestId: "r", card: "C1", loyaltyId: "L1", profile: { phone: "+48600000001", name: "A" } })).toEqual({
      gives: [
        ["card", "C1", "card"],
        ["loyaltyId", "L1", "loyaltyId"],
        ["phone", "+48600000001", "profile.phone"],
      ],
      drops: [],
    });
    expect(identitiesOf("enroll", { requestId: "r", profile: {} })).toEqual({ gives: [], drops: [] });
  });

  it("reads a card link, a replacement's new card and an unlink; block and unblock change nothing", () => {
    expect(identitiesOf("card", { action: "link", card: "C2", customer: { customerId: "cu_v1_000001" } }).gives).toEqual([["card", "C2", "card"]]);
    expect(identitiesOf("card", { action: "replace", card: "C2", newCard: "C3" }).gives).toEqual([["card", "C3", "newCard"]]);
    expect(identitiesOf("card", { action: "unlink", card: "C2" })).toEqual({ gives: [], drops: [["card", "C2", "card"]] });
    for (const action of ["block", "unblock"]) expect(identitiesOf("card", { action, card: "C2" })).toEqual({ gives: [], drops: [] });
  });

  it("reads a profile's new phone, and a sale's card or phone only when it names no customer id", () => {
    expect(identitiesOf("updateCustomer", { customer: { customerId: "x" }, profile: { phone: "+48600000002" } }).gives).toEqual([["phone", "+48600000002", "profile.phone"]]);
    expect(identitiesOf("updateCustomer", { customer: { customerId: "x" }, profile: { phone: null } }).gives).toEqual([]);
    expect(identitiesOf("accrue", { type: "sale", customer: { phone: "+48600000003" } }).gives).toEqual([["phone", "+48600000003", "customer.phone"]]);
    expect(identitiesOf("accrue", { type: "sale", customer: { card: "C4" } }).gives).toEqual([["card", "C4", "customer.card"]]);
    expect(identitiesOf("accrue", { type: "sale", customer: { customerId: "x", card: "C4" } }).gives).toEqual([]);
    expect(identitiesOf("accrue", { type: "return", customer: { card: "C4" } }).gives).toEqual([]);
  });

  it("reads nothing from other verbs and from values that are not objects", () => {
    expect(identitiesOf("authorize", { customer: { card: "C5" } })).toEqual({ gives: [], drops: [] });
    for (const v of [null, undefined, 42, "x", []]) expect(identitiesOf("enroll", v)).toEqual({ gives: [], drops: [] });
    expect(identitiesOf("enroll", { card: "", profile: { phone: 7 } }).gives).toEqual([]);
  });
});
