// The demo's customer changes (pure, seeded): each one a valid updateCustomer request as
// the engine's codec reads it, every kind drawn, the same seed giving the same changes.
import { describe, expect, it } from "vitest";
import { validate } from "../../src/codec/codec.js";
import { profiledEnrolRequests } from "../../src/simulator/baskets.js";
import { profileUpdate, type UpdateKind } from "../../src/simulator/profiles.js";
import { mulberry32 } from "../../src/simulator/random.js";

const draw = (seed: number, n: number, customers = 40) => {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => profileUpdate(rng, customers, "run1-", i + 1));
};

describe("profile updates", () => {
  it("are valid updateCustomer requests for card customers 1..customers, with unique request ids", () => {
    const all = draw(3, 2000);
    for (const { request } of all) {
      expect(() => validate("updateCustomer", request), JSON.stringify(request)).not.toThrow();
      const n = Number(request.customer.card.slice(2));
      expect(n >= 1 && n <= 40).toBe(true);
    }
    expect(new Set(all.map((u) => u.request.requestId)).size).toBe(2000);
    expect(all[0]!.request.requestId).toBe("run1-upd-1");
  });

  it("withdraw and give consents, move house, join and leave groups, consents most often", () => {
    const counts = new Map<UpdateKind, number>();
    for (const { kind, request } of draw(9, 3000)) {
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
      if (kind === "consentWithdrawn") expect(Object.values(request.consents!)).toEqual([false]);
      if (kind === "consentGiven") expect(Object.values(request.consents!)).toEqual([true]);
      if (kind === "address") expect(request.profile!.address.city.length).toBeGreaterThan(0);
      if (kind === "groupAdded") expect(request.groups!.add).toHaveLength(1);
      if (kind === "groupRemoved") expect(request.groups!.remove).toHaveLength(1);
    }
    // Weights 3:3:2:2:1 of 11.
    expect(counts.get("consentWithdrawn")! / 3000).toBeGreaterThan(0.22);
    expect(counts.get("groupRemoved")! / 3000).toBeGreaterThan(0.05);
    expect(counts.get("groupRemoved")!).toBeLessThan(counts.get("address")!);
    expect(counts.size).toBe(5);
  });

  it("replays the same changes for the same seed, and others for another", () => {
    expect(JSON.stringify(draw(5, 300))).toBe(JSON.stringify(draw(5, 300)));
    expect(JSON.stringify(draw(5, 300))).not.toBe(JSON.stringify(draw(6, 300)));
  });

  it("enrols every fourth demo customer with a time zone of its own, valid for the codec", () => {
    const all = [...profiledEnrolRequests(40)];
    expect(all.filter((r) => r.profile.timeZone !== undefined)).toHaveLength(10);
    for (const r of all) expect(() => validate("enroll", r)).not.toThrow();
  });
});
