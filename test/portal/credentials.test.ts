// The portal's one-time codes and sessions, driven by an explicit clock: issue, use once,
// expiry, the attempts lock, replacement, the bounds, and what is (not) kept.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OneTimeCodes, Sessions, randomCode, randomToken, tokenDigest } from "../../src/portal/credentials.js";

const codes = (over: Partial<{ ttlMs: number; attemptsMax: number; max: number }> = {}) => new OneTimeCodes({ ttlMs: 1000, attemptsMax: 3, max: 100, ...over });
const sessions = (over: Partial<{ ttlMs: number; max: number; perCustomerMax: number }> = {}) => new Sessions({ ttlMs: 1000, max: 100, perCustomerMax: 3, ...over });

describe("randomCode and randomToken", () => {
  it("draws six digits, every digit position varying", () => {
    const drawn = Array.from({ length: 2000 }, randomCode);
    for (const c of drawn) expect(c).toMatch(/^\d{6}$/);
    for (let i = 0; i < 6; i++) expect(new Set(drawn.map((c) => c[i])).size).toBe(10);
    expect(new Set(drawn).size).toBeGreaterThan(1990);
  });

  it("makes 256-bit base64url tokens and digests them without keeping them", () => {
    const t = randomToken();
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken()).not.toBe(t);
    expect(tokenDigest(t)).toBe(tokenDigest(t));
    expect(tokenDigest(t)).not.toContain(t);
  });
});

describe("OneTimeCodes", () => {
  it("takes the right code once, before it expires", () => {
    const c = codes();
    const { code, expiresAt } = c.issue("cu_1", 0, "123456");
    expect({ code, expiresAt }).toEqual({ code: "123456", expiresAt: 1000 });
    expect(c.use("cu_1", "123456", 999)).toBeNull();
    expect(c.use("cu_1", "123456", 999)).toBe("none");
  });

  it("refuses an expired code and forgets it", () => {
    const c = codes();
    c.issue("cu_1", 0, "123456");
    expect(c.use("cu_1", "123456", 1000)).toBe("expired");
    expect(c.size).toBe(0);
  });

  it("binds a code to its customer", () => {
    const c = codes();
    c.issue("cu_1", 0, "123456");
    expect(c.use("cu_2", "123456", 1)).toBe("none");
    expect(c.use("cu_1", "123456", 1)).toBeNull();
  });

  it("locks after attemptsMax wrong codes, even for the right one, until a new code replaces it", () => {
    const c = codes();
    c.issue("cu_1", 0, "123456");
    expect(c.use("cu_1", "000000", 1)).toBe("wrong");
    expect(c.use("cu_1", "000001", 1)).toBe("wrong");
    expect(c.use("cu_1", "000002", 1)).toBe("locked");
    expect(c.use("cu_1", "123456", 1)).toBe("locked");
    c.issue("cu_1", 2, "654321");
    expect(c.use("cu_1", "123456", 3)).toBe("wrong");
    expect(c.use("cu_1", "654321", 3)).toBeNull();
  });

  it("keeps at most `max` codes, dropping expired ones first, then the oldest", () => {
    const c = codes({ max: 2 });
    c.issue("a", 0, "111111");
    c.issue("b", 500, "222222");
    c.issue("c", 1200, "333333"); // a has expired: it goes, b stays
    expect(c.size).toBe(2);
    expect(c.use("b", "222222", 1201)).toBeNull();
    c.issue("d", 1300, "444444");
    c.issue("e", 1400, "555555"); // full of live codes: the oldest (c) goes
    expect(c.use("c", "333333", 1401)).toBe("none");
    expect(c.use("d", "444444", 1401)).toBeNull();
  });

  it("never accepts a code other than the one issued (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999 }), fc.integer({ min: 0, max: 999_999 }), (issued, tried) => {
        const c = codes({ attemptsMax: 1 });
        const code = String(issued).padStart(6, "0");
        const guess = String(tried).padStart(6, "0");
        c.issue("cu_1", 0, code);
        return (c.use("cu_1", guess, 1) === null) === (code === guess);
      }),
    );
  });
});

describe("Sessions", () => {
  it("finds a session by its token until it expires", () => {
    const s = sessions();
    const { token, session } = s.open("cu_1", 0);
    expect(session).toEqual({ customerId: "cu_1", createdAt: 0, expiresAt: 1000 });
    expect(s.find(token, 999)).toEqual(session);
    expect(s.find(token, 1000)).toBeNull();
    expect(s.size).toBe(0);
  });

  it("ends a session at logout, and every session of a customer at once", () => {
    const s = sessions();
    const a = s.open("cu_1", 0).token;
    const b = s.open("cu_1", 0).token;
    const c = s.open("cu_2", 0).token;
    expect(s.close(a)).toBe(true);
    expect(s.close(a)).toBe(false);
    expect(s.find(a, 1)).toBeNull();
    expect(s.find(b, 1)).not.toBeNull();
    expect(s.closeAll("cu_1")).toBe(1);
    expect(s.find(b, 1)).toBeNull();
    expect(s.find(c, 1)?.customerId).toBe("cu_2");
  });

  it("keeps at most perCustomerMax sessions per customer (the oldest ends) and max in all", () => {
    const s = sessions({ perCustomerMax: 2, max: 3 });
    const t1 = s.open("cu_1", 0).token;
    const t2 = s.open("cu_1", 1).token;
    const t3 = s.open("cu_1", 2).token;
    expect([s.find(t1, 3), s.find(t2, 3) !== null, s.find(t3, 3) !== null]).toEqual([null, true, true]);
    const u1 = s.open("cu_2", 3).token;
    const u2 = s.open("cu_3", 4).token; // four would be one too many: t2, the oldest, ends
    expect(s.size).toBe(3);
    expect(s.find(t2, 5)).toBeNull();
    expect([s.find(t3, 5), s.find(u1, 5), s.find(u2, 5)].every((x) => x !== null)).toBe(true);
  });

  it("does not know a token it did not issue", () => {
    const s = sessions();
    s.open("cu_1", 0);
    expect(s.find(randomToken(), 1)).toBeNull();
    expect(s.find("", 1)).toBeNull();
  });
});
