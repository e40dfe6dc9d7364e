// The verb table is the one place a verb's exposure, routing and idempotency are
// declared; this pins it against the contract, so a verb never silently moves doors.
import { describe, expect, it } from "vitest";
import { VERB_SCHEMAS } from "../src/codec/schema.js";
import { TERMINAL_VERBS, VERB_TABLE } from "../src/verbs.js";

describe("verb table", () => {
  it("exposes exactly the contract's terminal verbs over NATS and HTTP", () => {
    expect([...TERMINAL_VERBS].sort()).toEqual(
      ["accrue", "authorize", "balance", "buyVoucher", "capture", "convert", "customer", "enroll", "quote", "redeemReward", "redeemVoucher", "release", "statement", "submitReport", "targets", "updateCustomer", "vouchers"].sort(),
    );
  });

  it("keeps the admin verbs off the terminal doors, and the sweepers' commands off every door", () => {
    const by = (exposure: string) => Object.entries(VERB_TABLE).filter(([, s]) => s.exposure === exposure).map(([v]) => v).sort();
    expect(by("admin")).toEqual(["adjust", "approveReport", "card", "convertEarned", "eraseCustomer", "mergeCustomers", "rejectReport"]);
    // The sweepers', and a cluster merge's steps across partitions (ledger/merge-steps.ts).
    expect(by("internal")).toEqual(["expireHold", "mergeIn", "mergeOut", "mergeRelease", "mergeReserve", "sweepBirthday", "sweepExpiry", "sweepVoucher"]);
  });

  it("gives every wire verb a schema, and records every state-changing request under its id", () => {
    for (const [verb, spec] of Object.entries(VERB_TABLE)) {
      if (spec.exposure === "internal") continue;
      expect(Object.hasOwn(VERB_SCHEMAS, verb), verb).toBe(true);
    }
    const idempotent = Object.entries(VERB_TABLE).filter(([, s]) => s.idempotency !== null).map(([v]) => v).sort();
    expect(idempotent).toEqual(["accrue", "adjust", "authorize", "buyVoucher", "capture", "card", "convert", "convertEarned", "enroll", "mergeCustomers", "mergeIn", "mergeOut", "redeemReward", "redeemVoucher", "release", "submitReport", "updateCustomer"]);
    expect(VERB_TABLE.accrue.idempotency).toBe("event");
    // Contract v1.1 gives erase no requestId: erasing twice is itself harmless (duplicate: true).
    expect(VERB_TABLE.eraseCustomer.idempotency).toBe(null);
  });
});
