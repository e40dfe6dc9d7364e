// The identity directory's subjects and records (pure): every value a customer reference
// may carry becomes exactly one valid subject token and comes back unchanged from it.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { id } from "../../src/codec/primitives.js";
import {
  IDENTITY_KINDS, decodeIdentityRecord, decodeToken, encodeIdentityRecord, encodeToken, identitySubject, isPlain, parseIdentitySubject,
} from "../../src/cluster/identity.js";

/** What NATS takes as one literal subject token: no separator, no whitespace, not a wildcard. */
const TOKEN = /^[A-Za-z0-9_%-]+$/;

const printable = fc
  .array(fc.string({ unit: "grapheme", minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 40 })
  .map((parts) => [...parts.join("")].slice(0, 128).join(""))
  .filter((s) => id.safeParse(s).success);

describe("identity subject tokens", () => {
  it("keeps letters, digits, '_' and '-' and escapes every other printable ASCII character as %XX", () => {
    for (let code = 0x20; code <= 0x7e; code++) {
      const c = String.fromCharCode(code);
      const token = encodeToken(c);
      expect(token, JSON.stringify(c)).toMatch(TOKEN);
      if (/[A-Za-z0-9_-]/.test(c)) {
        expect(isPlain(c)).toBe(true);
        expect(token).toBe(c);
      } else {
        expect(isPlain(c)).toBe(false);
        expect(token).toBe(`%${code.toString(16).toUpperCase().padStart(2, "0")}`);
      }
      expect(decodeToken(token)).toBe(c);
    }
  });

  it("escapes the separators and wildcards inside longer values", () => {
    expect(encodeToken("4111 1111")).toBe("4111%201111");
    expect(encodeToken("a.*.>")).toBe("a%2E%2A%2E%3E");
    expect(encodeToken("zażółć")).toBe("za%C5%BC%C3%B3%C5%82%C4%87");
    expect(identitySubject("card", "a.b c")).toBe("loyalty.identity.card.a%2Eb%20c");
  });

  it("round-trips any value of 1-128 printable characters through one valid token", () => {
    fc.assert(
      fc.property(printable, (v) => {
        const token = encodeToken(v);
        expect(token).toMatch(TOKEN);
        expect(decodeToken(token)).toBe(v);
      }),
      { numRuns: 2000 },
    );
  });

  it("gives two different values two different tokens", () => {
    fc.assert(fc.property(printable, printable, (a, b) => a === b || encodeToken(a) !== encodeToken(b)), { numRuns: 2000 });
    // A value that looks like an escape is not the character it would escape.
    expect(encodeToken("%41")).not.toBe(encodeToken("A"));
  });

  it("encodes the longest value, 128 four-byte characters, in 1,536 characters", () => {
    const v = "😀".repeat(128);
    expect(id.safeParse(v).success).toBe(true);
    expect(encodeToken(v)).toHaveLength(128 * 4 * 3);
    expect(decodeToken(encodeToken(v))).toBe(v);
  });

  it("refuses a token that is not the canonical encoding of a value", () => {
    for (const t of ["", "%41", "%2e", "a.b", "%2", "%ZZ", "%C5", "a b", "%00", "%0A", "__proto__"]) expect(decodeToken(t), t).toBeNull();
    expect(decodeToken(encodeToken("x".repeat(129)))).toBeNull();
  });
});

describe("identity subjects", () => {
  it("name the kind and the value, and nothing else parses", () => {
    for (const kind of IDENTITY_KINDS) expect(parseIdentitySubject(identitySubject(kind, "a.b"))).toEqual({ kind, value: "a.b" });
    for (const s of ["loyalty.identity.card", "loyalty.identity.email.x", "loyalty.other.card.x", "loyalty.identity.card.a.b", "loyalty.identity.card.%2e"]) {
      expect(parseIdentitySubject(s), s).toBeNull();
    }
  });
});

describe("identity records", () => {
  it("read back what was written, a release included", () => {
    for (const r of [
      { op: "claim", owner: "c-1", by: "c-1", at: 1 },
      { op: "release", owner: null, by: "c-1", at: 2 },
      { op: "move", owner: "c-2", by: "c-1", at: 3 },
    ] as const) {
      expect(decodeIdentityRecord(encodeIdentityRecord(r))).toEqual(r);
    }
  });

  it("are unreadable when malformed, rather than read as a free key", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    for (const s of ["", "{", "null", '{"op":"claim","owner":"c","by":"c"}', '{"op":"steal","owner":"c","by":"c","at":1}', '{"op":"claim","owner":"","by":"c","at":1}']) {
      expect(decodeIdentityRecord(enc(s)), s).toBeNull();
    }
  });
});
