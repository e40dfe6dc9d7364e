// The router across partitions: a loyalty id is resolved to its customer's partition
// like a card or phone, and the references that a command in flight will create (an
// enrolment's loyalty id, a sale's unknown card) route with it until it commits.
import { afterEach, describe, expect, it } from "vitest";
import { Router } from "../../src/partition/router.js";
import { partitionOf } from "../../src/partition/hash.js";
import { cmd, openHarness, type Harness } from "../ledger/harness.js";

const PARTITIONS = 16;
let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

describe("router", () => {
  it("sends a loyalty id, a card and a phone of one customer to that customer's partition", async () => {
    h = await openHarness();
    const e = await h.one(cmd("enroll", { requestId: "e-1", card: "C-1", loyaltyId: "LOY-1", profile: { phone: "+48601000001" } }));
    const router = new Router(h.store, PARTITIONS, false);
    const home = partitionOf(e.customerId, PARTITIONS);
    for (const customer of [{ customerId: e.customerId }, { card: "C-1" }, { phone: "+48601000001" }, { loyaltyId: "LOY-1" }]) {
      expect(router.route("balance", { customer }).partition, JSON.stringify(customer)).toBe(home);
      expect(router.route("customer", { customer }).partition).toBe(home);
      expect(router.route("updateCustomer", { requestId: "u", customer }).partition).toBe(home);
    }
    expect(router.route("accrue", { type: "sale", eventId: "s-1", customer: { loyaltyId: "LOY-1" } }).partition).toBe(home);
  });

  it("routes reads of a loyalty id still being enrolled to the enrolment's partition", async () => {
    h = await openHarness();
    const router = new Router(h.store, PARTITIONS, false);
    const enrolling = router.route("enroll", { requestId: "e-1", loyaltyId: "LOY-NEW" }).partition;
    expect(enrolling).toBe(partitionOf("loyalty:LOY-NEW", PARTITIONS));
    expect(router.route("balance", { customer: { loyaltyId: "LOY-NEW" } }).partition).toBe(enrolling);
  });

  it("keeps a second sale at an unknown card with the first until it commits (enrolOnUnknownCard)", async () => {
    h = await openHarness();
    const router = new Router(h.store, PARTITIONS, false);
    const first = router.route("accrue", { type: "sale", eventId: "s-1", customer: { card: "C-new" } });
    expect(first.keys).toContain("card:C-new");
    const second = router.route("accrue", { type: "sale", eventId: "s-2", customer: { card: "C-new" } });
    expect(second.partition).toBe(first.partition);
    router.release(first.keys);
    router.release(second.keys);
  });
});
