// Credentials: per-store terminal API keys and per-operator admin tokens, read once at
// start from files that hold only their SHA-256 digests, and looked up by a presented secret.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { id } from "../codec/schema.js";
import { validationError } from "../errors.js";
import { limits } from "../limits.js";
import { ConfigError, readFile } from "./config.js";

export type Role = "read" | "write" | "money";
export const ROLES: readonly Role[] = ["read", "write", "money"];

/** A terminal key of a keys file: it acts for one store. */
export interface TerminalKey {
  id: string;
  store: string;
}

/** An operator of the operators file (or the legacy adminToken, "admin" with every role). */
export interface Operator {
  name: string;
  roles: readonly Role[];
  /** The shared adminToken: it names no person, so an adjustment's body still names its operator. */
  legacy: boolean;
}

export const LEGACY_OPERATOR = "admin";

// Operator names end up in ledger entries as "<requester> (approved by <approver>)", an id of at most 128.
const operatorName = z.string().regex(/^[A-Za-z0-9._@-]{1,48}$/, "must be 1-48 of A-Z a-z 0-9 . _ @ -");
const digestHex = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits (a SHA-256 digest)")
  .transform((s) => s.toLowerCase());

const keysFileSchema = z
  .object({ keys: z.array(z.object({ id, store: id, keySha256: digestHex }).strict()).max(limits.credentialsMax) })
  .strict();
const operatorsFileSchema = z
  .object({
    operators: z
      .array(z.object({ name: operatorName, tokenSha256: digestHex, roles: z.array(z.enum(["read", "write", "money"])).min(1) }).strict())
      .max(limits.credentialsMax),
  })
  .strict();

/**
 * SHA-256 of a secret, hex. A plain fast hash is enough here: keys and tokens are random
 * and long (`loyaltyd new-token` draws 256 bits), so no dictionary or brute force can
 * invert a digest, and a slow password hash (scrypt, argon2) would only cost every
 * request milliseconds. It still keeps the secrets themselves off disk and out of backups.
 */
export function sha256Hex(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** A new random secret (256 bits, base64url) and its digest, for a keys or operators file. */
export function newToken(): { token: string; sha256: string } {
  const token = randomBytes(32).toString("base64url");
  return { token, sha256: sha256Hex(token) };
}

/** Secrets by digest: what a presented key or token resolves to. */
export class KeyRing<T> {
  private readonly byDigest = new Map<string, { digest: Buffer; value: T }>();

  get size(): number {
    return this.byDigest.size;
  }

  /** Throws on a digest already present: one secret must name one credential. */
  add(digestHex: string, value: T, what: string): void {
    if (this.byDigest.has(digestHex)) throw new Error(`${what}: the same secret is given twice`);
    this.byDigest.set(digestHex, { digest: Buffer.from(digestHex, "hex"), value });
  }

  has(digestHex: string): boolean {
    return this.byDigest.has(digestHex);
  }

  digests(): IterableIterator<string> {
    return this.byDigest.keys();
  }

  /**
   * The credential a secret names, or null. The map is indexed by the secret's digest,
   * so a lookup's timing depends only on the digest of what the caller sent, which
   * tells nothing of any stored secret; the match is then confirmed in constant time.
   */
  find(secret: string): T | null {
    const digest = createHash("sha256").update(secret, "utf8").digest();
    const hit = this.byDigest.get(digest.toString("hex"));
    return hit && timingSafeEqual(hit.digest, digest) ? hit.value : null;
  }
}

function parseOrThrow<S extends z.ZodType>(schema: S, raw: unknown, key: string, file: string): z.infer<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  throw new ConfigError(key, `${file}: ${validationError(r.error.issues, "file").message}`);
}

function unique(values: string[], key: string, file: string, what: string): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) throw new ConfigError(key, `${file}: ${what} ${v} is given twice`);
    seen.add(v);
  }
}

/** `{keys: [{id, store, keySha256}]}` (JSON or YAML) -> a key ring; errors name `key`. */
export function parseTerminalKeys(raw: unknown, file: string, key = "terminalAuth.keysFile"): KeyRing<TerminalKey> {
  const { keys } = parseOrThrow(keysFileSchema, raw, key, file);
  unique(keys.map((k) => k.id), key, file, "key id");
  unique(keys.map((k) => k.keySha256), key, file, "keySha256");
  const ring = new KeyRing<TerminalKey>();
  for (const k of keys) ring.add(k.keySha256, Object.freeze({ id: k.id, store: k.store }), `${file}: key ${k.id}`);
  return ring;
}

/** `{operators: [{name, tokenSha256, roles}]}` -> a key ring; the legacy token joins as "admin" with every role. */
export function parseOperators(raw: unknown | null, file: string, legacyToken: string | null, key = "admin.operatorsFile"): KeyRing<Operator> {
  const operators = raw === null ? [] : parseOrThrow(operatorsFileSchema, raw, key, file).operators;
  const entries = operators.map((o) => ({ name: o.name, digest: o.tokenSha256, roles: [...new Set(o.roles)] as Role[], legacy: false }));
  if (legacyToken !== null) entries.push({ name: LEGACY_OPERATOR, digest: sha256Hex(legacyToken), roles: [...ROLES], legacy: true });
  unique(entries.map((o) => o.name), key, file, legacyToken !== null ? "operator name (\"admin\" is the adminToken's)" : "operator name");
  unique(entries.map((o) => o.digest), key, file, "token (tokenSha256, or the adminToken's digest)");
  const ring = new KeyRing<Operator>();
  for (const o of entries) ring.add(o.digest, Object.freeze({ name: o.name, roles: Object.freeze(o.roles), legacy: o.legacy }), `${file}: operator ${o.name}`);
  return ring;
}

export interface Credentials {
  /** null: terminal routes are open (no terminalAuth.keysFile). */
  terminals: KeyRing<TerminalKey> | null;
  operators: KeyRing<Operator>;
}

/** Reads the configured files. A secret that is both a terminal key and an operator's token is refused: which door would it open? */
export function loadCredentials(cfg: { terminalAuth: { keysFile: string | null }; admin: { operatorsFile: string | null }; adminToken: string | null }): Credentials {
  const keysFile = cfg.terminalAuth.keysFile;
  const operatorsFile = cfg.admin.operatorsFile;
  const terminals = keysFile === null ? null : parseTerminalKeys(readFile(keysFile, "terminalAuth.keysFile"), keysFile);
  const operators = parseOperators(operatorsFile === null ? null : readFile(operatorsFile, "admin.operatorsFile"), operatorsFile ?? "adminToken", cfg.adminToken);
  for (const digest of terminals?.digests() ?? []) {
    if (operators.has(digest)) throw new ConfigError("terminalAuth.keysFile", `${keysFile}: a terminal key is also an operator's token (or the adminToken)`);
  }
  return { terminals, operators };
}
