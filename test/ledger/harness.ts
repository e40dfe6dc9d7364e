// Test harness for the ledger: a real LMDB in a fresh temp dir, an injected clock, and
// commands built exactly as src/partition/batch.ts builds them (validate + contentHash).
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import { contentHash, validate } from "../../src/codec/codec.js";
import type { Verb } from "../../src/codec/schema.js";
import { VERB_TABLE } from "../../src/verbs.js";
import { installProgramme } from "../../src/admin/programmes.js";
import { entriesAt } from "../../src/ledger/accounts.js";
import { getEvent } from "../../src/ledger/event-records.js";
import { Ledger, type Command, type LedgerOptions } from "../../src/ledger/ledger.js";
import { closeStore, openStore, type Entry, type Hold, type SaleRecord, type Store } from "../../src/ledger/store.js";
import { BASE_PROGRAMME } from "../fixtures.js";

export type Reply = Record<string, any>;

export const OPTIONS: LedgerOptions = {
  selection: "strongestScope",
  timeZone: "UTC",
  enrolOnUnknownPhone: true,
  enrolOnUnknownCard: false,
  whenSpent: "negative",
  holdTtlMsDefault: 120_000,
  expiryNoticeMs: 7 * 86_400_000,
  eventLateMsMax: 30 * 86_400_000,
  eventFutureMsMax: 5 * 60_000,
  notifyOutbox: true,
};

export { BASE_PROGRAMME };

/** 2026-01-01T00:00:00Z: the fake clock's start and the sales' `at`. */
export const T0 = 1_767_225_600_000;

/** A command exactly as the engine builds it from a raw request (the verb table says which verbs are idempotent). */
export function cmd(verb: Verb, raw: unknown): Command {
  const input = validate(verb, raw);
  return { verb, input, hash: VERB_TABLE[verb].idempotency ? contentHash(verb, input) : "" };
}

export function expireCmd(holdId: string): Command {
  return { verb: "expireHold", input: { holdId }, hash: "" };
}

export interface Harness {
  dir: string;
  store: Store;
  ledger: Ledger;
  clock: { now: number };
  /** Applies one batch and returns the replies. */
  apply(commands: Command[]): Promise<Reply[]>;
  /** Applies one command alone and returns its reply. */
  one(command: Command): Promise<Reply>;
  close(): Promise<void>;
}

/**
 * Where the test LMDBs go: LEDGER_TEST_TMPDIR, else /dev/shm when there is one (every batch
 * waits for its commit to be synced, which on a disk makes the property tests I/O-bound;
 * nothing here tests durability across a crash), else the OS temp dir.
 */
function scratchRoot(): string {
  if (process.env.LEDGER_TEST_TMPDIR) return process.env.LEDGER_TEST_TMPDIR;
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return tmpdir();
  }
}
const SCRATCH = scratchRoot();

/**
 * `commit`: "worker" commits as a partition's worker does (synchronously, a command's
 * child transaction only when it failed after writing), "inline" as the inline executor
 * does (lmdb-js's async transaction, a child transaction per command).
 */
export async function openHarness(
  options: Partial<LedgerOptions> = {},
  programmes: Record<string, unknown>[] = [BASE_PROGRAMME],
  commit: "worker" | "inline" = "worker",
): Promise<Harness> {
  const dir = mkdtempSync(join(SCRATCH, "loyaltyd-ledger-"));
  const store = openStore(join(dir, "data"));
  for (const p of programmes) await installProgramme(store, p.id as string, p, T0);
  const clock = { now: T0 };
  const ledger = new Ledger(store, { ...OPTIONS, ...options }, () => clock.now, commit === "worker");
  const apply = async (commands: Command[]): Promise<Reply[]> => {
    const outcomes = await ledger.applyBatch(commands);
    store.env.resetReadTxn();
    return outcomes.map((o) => o.reply as Reply);
  };
  return {
    dir,
    store,
    ledger,
    clock,
    apply,
    one: async (c) => (await apply([c]))[0]!,
    async close() {
      await closeStore(store);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * For a test file: a function that opens harnesses, each closed (and its directory
 * removed) after the test that opened it.
 */
export function harnessPerTest(): (...args: Parameters<typeof openHarness>) => Promise<Harness> {
  let open: Harness[] = [];
  afterEach(async () => {
    for (const h of open) await h.close();
    open = [];
  });
  return async (...args) => {
    const h = await openHarness(...args);
    open.push(h);
    return h;
  };
}

// ---- direct reads of the tables (the ground truth the verbs are checked against) ------------

export function entriesOf(store: Store, customerId: string): Entry[] {
  const out: Entry[] = [];
  for (const { key, value } of store.entries.getRange({ start: [customerId, 0], end: [customerId, Number.MAX_SAFE_INTEGER] })) {
    out.push(...entriesAt(customerId, key[1], value));
  }
  return out;
}

/** Every entry, in sequence order. */
export function allEntries(store: Store): Entry[] {
  return [...store.entries.getRange()].flatMap(({ key, value }) => entriesAt(key[0], key[1], value)).sort((a, b) => a.seq - b.seq);
}

export function allHolds(store: Store): Hold[] {
  return [...store.holds.getRange()].map(({ value }) => value);
}

export function accountState(store: Store, customerId: string, account: string): { balance: number; held: number } {
  return store.wallets.get(customerId)?.accounts[account] ?? { balance: 0, held: 0 };
}

/** Every account of every wallet: [[customerId, account], state]. */
export function allAccounts(store: Store): { key: [string, string]; value: { balance: number; held: number } }[] {
  return [...store.wallets.getRange()].flatMap(({ key, value }) =>
    Object.keys(value.accounts).sort().map((account) => ({ key: [key as string, account] as [string, string], value: value.accounts[account]! })),
  );
}

/** The sale record kept with a sale's event record. */
export function saleRecord(store: Store, eventId: string): SaleRecord | undefined {
  return getEvent(store, eventId)?.s;
}

export function customerIds(store: Store): string[] {
  return [...store.customers.getKeys()] as string[];
}

/** A snapshot of every table that a command may write, for "left no trace" checks. */
export function snapshot(store: Store): string {
  const tables = ["customers", "cards", "phones", "loyaltyIds", "emails", "wallets", "entries", "events", "requests", "holds", "holdsByExpiry", "lots", "expiryDue", "meta", "notifyOutbox", "birthdays"];
  const out: Record<string, unknown> = {};
  for (const t of tables) {
    const db = (store as unknown as Record<string, { getRange(): Iterable<{ key: unknown; value: unknown }> } | undefined>)[t];
    if (db) out[t] = [...db.getRange()].map(({ key, value }) => [key, value]);
  }
  return JSON.stringify(out);
}

// ---- raw requests ---------------------------------------------------------------------------

export interface LineSpec {
  lineId: string;
  qty: number;
  unitPrice: number;
  amount?: number;
  category?: string;
  sku?: string;
}

export function sale(eventId: string, customer: Record<string, string>, lines: LineSpec[], at = T0): Record<string, unknown> {
  return {
    type: "sale",
    eventId,
    at,
    storeId: "s01",
    customer,
    currency: "EUR",
    lines: lines.map((l) => ({ sku: l.sku ?? `sku-${l.lineId}`, ...l })),
  };
}

export function ret(eventId: string, originalEventId: string, lines?: { lineId: string; qty: number }[], at = T0): Record<string, unknown> {
  return lines ? { type: "return", eventId, originalEventId, at, lines } : { type: "return", eventId, originalEventId, at };
}

export function voidOf(eventId: string, originalEventId: string, at = T0): Record<string, unknown> {
  return { type: "void", eventId, originalEventId, at };
}

export function enrol(requestId: string, card: string, extra: Record<string, unknown> = {}): Command {
  return cmd("enroll", { requestId, card, profile: { name: `n-${card}` }, ...extra });
}

export function balanceCmd(customerId: string): Command {
  return cmd("balance", { customer: { customerId } });
}

export function statementCmd(customerId: string): Command {
  return cmd("statement", { customer: { customerId }, limit: 1000 });
}

/** points account of a balance reply. */
export function pointsOf(balanceReply: Reply, account = "points"): { balance: number; held: number; available: number } {
  const a = (balanceReply.accounts as Reply[]).find((x) => x.account === account);
  return a ? { balance: a.balance, held: a.held, available: a.available } : { balance: 0, held: 0, available: 0 };
}
