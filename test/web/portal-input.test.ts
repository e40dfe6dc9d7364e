// The portal's reading of what a participant types: the sign-in reference, an invoice amount in
// minor units, and how a refused code is worded.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { minorUnits, referenceOf, refusalOf, TRIES_BEFORE_LOCK } from "../../web/portal/src/input.js";

describe("referenceOf", () => {
  it("reads an e-mail, a phone with its country code, or a card", () => {
    expect(referenceOf(" Ada@Example.com ")).toEqual({ email: "Ada@Example.com" });
    expect(referenceOf("+48 601-000 001")).toEqual({ phone: "+48601000001" });
    expect(referenceOf("+48 (601) 000.001")).toEqual({ phone: "+48601000001" });
    expect(referenceOf("C-100")).toEqual({ card: "C-100" });
    expect(referenceOf("4000123412341234")).toEqual({ card: "4000123412341234" });
  });
  it("refuses what is none of them", () => {
    for (const s of ["", "   ", "+48", "+48 abc", "a@", "@b", "a b@c", "C 100", "+1234567890123456"]) expect(referenceOf(s), s).toBeNull();
  });
  it("never changes a card it accepts", () => {
    fc.assert(fc.property(fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9_.:-]{0,30}$/), (card) => {
      expect(referenceOf(card)).toEqual({ card });
    }));
  });
});

describe("minorUnits", () => {
  it("reads whole units, one or two decimals, a dot or a comma", () => {
    expect(minorUnits("300")).toBe(30_000);
    expect(minorUnits("300.5")).toBe(30_050);
    expect(minorUnits("300,05")).toBe(30_005);
    expect(minorUnits(" 0.01 ")).toBe(1);
  });
  it("refuses three decimals, signs, letters and empties", () => {
    for (const s of ["", "1.234", "-5", "+5", "5e3", "1,000.00", "abc", ".5", "5."]) expect(minorUnits(s), s).toBeNull();
  });
  it("is exact for every amount written with two decimals (no float rounding)", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 99_999_999_999 }), (minor) => {
      const written = `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, "0")}`;
      expect(minorUnits(written)).toBe(minor);
      expect(minorUnits(written.replace(".", ","))).toBe(minor);
    }));
  });
});

describe("refusalOf", () => {
  it("is expired from the expiry on, whatever the tries; locked from the last allowed try; else wrong", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e12 }), fc.integer({ min: -1e6, max: 1e6 }), fc.nat(20), (expiresAt, offset, tries) => {
      const now = expiresAt + offset;
      const want = now >= expiresAt ? "expired" : tries >= TRIES_BEFORE_LOCK ? "locked" : "wrong";
      expect(refusalOf(expiresAt, tries, now)).toBe(want);
    }));
    expect(refusalOf(1000, 1, 999)).toBe("wrong");
    expect(refusalOf(1000, TRIES_BEFORE_LOCK, 999)).toBe("locked");
    expect(refusalOf(1000, 0, 1000)).toBe("expired");
  });
});
