// The portal's credentials, in memory: one-time codes (one per customer, kept as an HMAC
// under a key that never leaves the process) and sessions (kept as the SHA-256 of their
// token). Nothing here reaches the disk, a backup or NATS: a restart signs everybody out
// and voids the codes in flight, which costs a participant one more code; a stolen disk
// or backup holds no code and no session. Both tables are bounded (limits.ts) and every
// entry has the same lifetime, so insertion order is expiry order: the oldest go first.
import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from "node:crypto";

/** Six decimal digits, uniformly drawn from a CSPRNG. */
export function randomCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, "0");
}

/** An opaque bearer token: 256 random bits, base64url. */
export function randomToken(): string {
  return randomBytes(32).toString("base64url");
}

/** What a stored session is found by: the token's SHA-256 (a 256-bit secret needs no salt). */
export function tokenDigest(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

/** Why a code was refused (the caller hears only "wrong or expired"; metrics and logs hear this). */
export type CodeRefusal = "none" | "expired" | "wrong" | "locked";

interface PendingCode {
  digest: Buffer;
  expiresAt: number;
  /** Wrong tries left; at 0 the code is locked until it expires or a new one replaces it. */
  triesLeft: number;
}

export interface CodeOptions {
  ttlMs: number;
  attemptsMax: number;
  /** Codes kept at once (over every customer). */
  max: number;
}

/** One live code per customer: issuing another replaces it, using it consumes it. */
export class OneTimeCodes {
  private readonly codes = new Map<string, PendingCode>();
  /** The HMAC key: random per process, so a code's digest is worthless outside it. */
  private readonly key = randomBytes(32);

  constructor(private readonly options: CodeOptions) {}

  get size(): number {
    return this.codes.size;
  }

  private digest(customerId: string, code: string): Buffer {
    return createHmac("sha256", this.key).update(`${customerId}\n${code}`).digest();
  }

  /** A new code for the customer (any earlier one stops working), and when it expires. */
  issue(customerId: string, now: number, code: string = randomCode()): { code: string; expiresAt: number } {
    this.codes.delete(customerId);
    this.prune(now);
    if (this.codes.size >= this.options.max) this.codes.delete(this.codes.keys().next().value as string);
    const expiresAt = now + this.options.ttlMs;
    this.codes.set(customerId, { digest: this.digest(customerId, code), expiresAt, triesLeft: this.options.attemptsMax });
    return { code, expiresAt };
  }

  /** null: the code was right (and is used up); otherwise why it was refused. A wrong code costs a try. */
  use(customerId: string, code: string, now: number): CodeRefusal | null {
    const pending = this.codes.get(customerId);
    if (!pending) return "none";
    if (pending.expiresAt <= now) {
      this.codes.delete(customerId);
      return "expired";
    }
    if (pending.triesLeft <= 0) return "locked";
    if (timingSafeEqual(pending.digest, this.digest(customerId, code))) {
      this.codes.delete(customerId);
      return null;
    }
    pending.triesLeft--;
    return pending.triesLeft === 0 ? "locked" : "wrong";
  }

  /** Drops the expired codes at the front (the oldest): they are in expiry order. */
  private prune(now: number): void {
    for (const [id, c] of this.codes) {
      if (c.expiresAt > now) break;
      this.codes.delete(id);
    }
  }
}

export interface Session {
  customerId: string;
  createdAt: number;
  expiresAt: number;
}

export interface SessionOptions {
  ttlMs: number;
  /** Sessions kept at once. */
  max: number;
  /** Sessions one customer has at once. */
  perCustomerMax: number;
}

/** Signed-in sessions by token digest; a customer's own in sign-in order. */
export class Sessions {
  private readonly byDigest = new Map<string, Session>();
  private readonly byCustomer = new Map<string, string[]>();

  constructor(private readonly options: SessionOptions) {}

  get size(): number {
    return this.byDigest.size;
  }

  /** A new session for the customer: its token (shown once, never stored) and the session. */
  open(customerId: string, now: number, token: string = randomToken()): { token: string; session: Session } {
    this.prune(now);
    // drop() replaces the customer's list: read it again after each.
    for (let own = this.byCustomer.get(customerId) ?? []; own.length >= this.options.perCustomerMax; own = this.byCustomer.get(customerId) ?? []) this.drop(own[0]!);
    if (this.byDigest.size >= this.options.max) this.drop(this.byDigest.keys().next().value as string);
    const session: Session = { customerId, createdAt: now, expiresAt: now + this.options.ttlMs };
    const digest = tokenDigest(token);
    this.byDigest.set(digest, session);
    this.byCustomer.set(customerId, [...(this.byCustomer.get(customerId) ?? []), digest]);
    return { token, session };
  }

  /** The live session of a token, or null (unknown, ended or expired: an expired one is dropped). */
  find(token: string, now: number): Session | null {
    const digest = tokenDigest(token);
    const s = this.byDigest.get(digest);
    if (!s) return null;
    if (s.expiresAt <= now) {
      this.drop(digest);
      return null;
    }
    return s;
  }

  /** Ends the token's session; false when there was none. */
  close(token: string): boolean {
    return this.drop(tokenDigest(token));
  }

  /** Ends every session of the customer (an erased customer); how many there were. */
  closeAll(customerId: string): number {
    const own = [...(this.byCustomer.get(customerId) ?? [])];
    for (const d of own) this.drop(d);
    return own.length;
  }

  private drop(digest: string): boolean {
    const s = this.byDigest.get(digest);
    if (!s) return false;
    this.byDigest.delete(digest);
    const rest = (this.byCustomer.get(s.customerId) ?? []).filter((d) => d !== digest);
    if (rest.length) this.byCustomer.set(s.customerId, rest);
    else this.byCustomer.delete(s.customerId);
    return true;
  }

  private prune(now: number): void {
    for (const [digest, s] of this.byDigest) {
      if (s.expiresAt > now) break;
      this.drop(digest);
    }
  }
}
