// The pure parts of the portal: where a code goes, the sign-in request schemas, the
// request ids the portal scopes to its customer, and the purchase history's grouping.
import { describe, expect, it } from "vitest";
import { salesOf, scopedRequestId } from "../../src/ingest/http/me-routes.js";
import { destinationOf, otpRequestSchema, sessionRequestSchema, type OtpChannel, type SignInRef } from "../../src/portal/signin.js";

const both = { profile: { phone: "+48601000001", email: "ada@example.com" } };
const phoneOnly = { profile: { phone: "+48601000001" } };
const emailOnly = { profile: { email: "ada@example.com" } };
const neither = { profile: {} };

describe("destinationOf", () => {
  const sms = { channel: "sms", to: "+48601000001" };
  const email = { channel: "email", to: "ada@example.com" };
  const rows: [string, { profile: Record<string, string> }, SignInRef, OtpChannel | undefined, unknown][] = [
    ["a card: SMS first", both, { card: "C" }, undefined, sms],
    ["a card, e-mail asked for", both, { card: "C" }, "email", email],
    ["a phone: SMS", both, { phone: "+48601000001" }, undefined, sms],
    ["an e-mail: e-mail", both, { email: "ADA@example.com" }, undefined, email],
    ["an e-mail, SMS asked for", both, { email: "ada@example.com" }, "sms", sms],
    ["no phone: e-mail", emailOnly, { customerId: "cu_1" }, undefined, email],
    ["SMS asked for, no phone: e-mail", emailOnly, { card: "C" }, "sms", email],
    ["e-mail asked for, no e-mail: SMS", phoneOnly, { card: "C" }, "email", sms],
    ["neither: nowhere", neither, { card: "C" }, undefined, null],
    ["neither, a channel asked for: nowhere", neither, { loyaltyId: "L" }, "email", null],
  ];
  for (const [name, customer, ref, wanted, expected] of rows) {
    it(name, () => expect(destinationOf(customer, ref, wanted)).toEqual(expected));
  }

  it("sends to the customer's own address, never to one the request brings", () => {
    expect(destinationOf(emailOnly, { email: "attacker@example.com" }, undefined)).toEqual({ channel: "email", to: "ada@example.com" });
  });
});

describe("sign-in request schemas", () => {
  it("takes the terminal verbs' references and an e-mail", () => {
    for (const customer of [{ customerId: "cu_1" }, { card: "C-1" }, { phone: "+48601000001" }, { loyaltyId: "L-1" }, { email: "a@example.com" }]) {
      expect(otpRequestSchema.safeParse({ customer }).success, JSON.stringify(customer)).toBe(true);
    }
    for (const body of [{}, { customer: { card: "C", phone: "+48601000001" } }, { customer: { email: "not-an-address" } }, { customer: { card: "C" }, channel: "post" }, { customer: { card: "C" }, extra: 1 }]) {
      expect(otpRequestSchema.safeParse(body).success, JSON.stringify(body)).toBe(false);
    }
  });

  it("takes exactly six digits as the code", () => {
    for (const code of ["000000", "123456", "999999"]) expect(sessionRequestSchema.safeParse({ customer: { card: "C" }, code }).success).toBe(true);
    for (const code of ["12345", "1234567", "12345a", " 123456", 123456]) expect(sessionRequestSchema.safeParse({ customer: { card: "C" }, code }).success).toBe(false);
  });
});

describe("scopedRequestId", () => {
  it("scopes the client's id to the customer, so two customers' ids never meet", () => {
    expect(scopedRequestId("cu_1", "r-1")).toBe("me:cu_1:r-1");
    expect(scopedRequestId("cu_2", "r-1")).not.toBe(scopedRequestId("cu_1", "r-1"));
    expect(scopedRequestId("cu_1", "r-1", ":hold")).toBe("me:cu_1:r-1:hold");
  });

  it("makes a fresh id when the client gives none", () => {
    const a = scopedRequestId("cu_1", undefined);
    expect(a).toMatch(/^me:cu_1:[0-9a-f-]{36}$/);
    expect(scopedRequestId("cu_1", undefined)).not.toBe(a);
  });

  it("stays within the 128 characters of an id for the longest client id", () => {
    expect(scopedRequestId(`cu_${"z".repeat(12)}`, "x".repeat(64), ":capture").length).toBeLessThanOrEqual(128);
  });
});

describe("salesOf", () => {
  it("groups a statement's sale, return and void entries per event and account, leaving the rest out", () => {
    const entries = [
      { kind: "accrual", eventId: "s-1", at: 1, amount: 10, account: "points", cause: "sale s-1 at s01" },
      { kind: "accrual", eventId: "s-1", at: 1, amount: 3, account: "points", cause: "sale s-1 at s01" },
      { kind: "accrual", eventId: "s-1", at: 1, amount: 5, account: "stamps", cause: "sale s-1 at s01" },
      { kind: "redemption", at: 2, amount: -4, account: "points", cause: "capture" },
      { kind: "return", eventId: "r-1", at: 3, amount: -3, account: "points", cause: "return r-1 of sale s-1" },
      { kind: "void", eventId: "v-1", at: 4, amount: -13, account: "points", cause: "void v-1 of sale s-2" },
    ];
    expect(salesOf(entries)).toEqual([
      { eventId: "s-1", kind: "sale", at: 1, cause: "sale s-1 at s01", points: { points: 13, stamps: 5 } },
      { eventId: "r-1", kind: "return", at: 3, cause: "return r-1 of sale s-1", points: { points: -3 } },
      { eventId: "v-1", kind: "void", at: 4, cause: "void v-1 of sale s-2", points: { points: -13 } },
    ]);
    expect(salesOf([])).toEqual([]);
  });
});
