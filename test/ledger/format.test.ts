// The store's format: a new store is stamped with this code's format; a ledger of format 2
// (fixture written by that release's code) is migrated at open and reads as it did; one of
// format 1 is refused with what to do.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Ledger } from "../../src/ledger/ledger.js";
import { closeStore, FORMAT_VERSION, openStore, StoreFormatError } from "../../src/ledger/store.js";
import { cmd, OPTIONS, T0, type Reply } from "./harness.js";

const FIXTURE_V1 = join(import.meta.dirname, "..", "fixtures", "ledger-v1");
/** Written by 9eb041f's code with test/fixtures/ledger-v2.make.mjs, with what that code read back. */
const FIXTURE_V2 = join(import.meta.dirname, "..", "fixtures", "ledger-v2");
const EXPECTED_V2 = JSON.parse(readFileSync(join(import.meta.dirname, "..", "fixtures", "ledger-v2.expected.json"), "utf8")) as { statement: Reply; balance: Reply; holdId: string };
let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), "loyaltyd-format-"));
  dirs.push(d);
  return d;
}

describe("store format", () => {
  it("stamps a new store with the current format, and opens it again", async () => {
    const dir = scratch();
    const store = openStore(dir);
    expect(store.meta.get("formatVersion")).toBe(FORMAT_VERSION);
    await closeStore(store);
    const again = openStore(dir);
    expect(again.meta.get("formatVersion")).toBe(FORMAT_VERSION);
    await closeStore(again);
  });

  it("refuses a ledger written in format 1, saying what to do", () => {
    const dir = scratch();
    cpSync(FIXTURE_V1, dir, { recursive: true });
    expect(() => openStore(dir)).toThrow(StoreFormatError);
    expect(() => openStore(dir)).toThrow(/format 1; this loyaltyd reads format 3.*empty dataDir/);
  });

  it("migrates a format-2 ledger at open: it reads as its own release read it, and takes new events", async () => {
    const dir = scratch();
    cpSync(FIXTURE_V2, dir, { recursive: true });
    const store = openStore(dir);
    try {
      expect(store.meta.get("formatVersion")).toBe(3);
      const clock = { now: T0 + 10_000 };
      const ledger = new Ledger(store, { ...OPTIONS, notifyOutbox: false }, () => clock.now);
      const one = async (c: ReturnType<typeof cmd>): Promise<Reply> => {
        const [o] = await ledger.applyBatch([c]);
        store.env.resetReadTxn();
        return o!.reply as Reply;
      };
      expect(await one(cmd("statement", { customer: { card: "C-1" } }))).toEqual(EXPECTED_V2.statement);
      expect(await one(cmd("balance", { customer: { card: "C-1" }, asOf: T0 + 5000 }))).toEqual(EXPECTED_V2.balance);
      // New events over old records: a void of a format-2 sale, a return of the rest of another.
      expect((await one(cmd("accrue", { type: "void", eventId: "v-2", originalEventId: "s-2", at: T0 + 9000 }))).ok).toBe(true);
      expect((await one(cmd("accrue", { type: "return", eventId: "r-2", originalEventId: "s-1", at: T0 + 9500 }))).ok).toBe(true);
      const st = await one(cmd("statement", { customer: { card: "C-1" } }));
      const old = EXPECTED_V2.statement.entries as Reply[];
      expect(st.entries.slice(0, old.length)).toEqual(old);
      const added = st.entries.slice(old.length) as Reply[];
      expect(added.map((e) => [e.kind, e.eventId, e.cause])).toEqual([
        ["void", "v-2", "void v-2 of sale s-2"],
        ["void", "v-2", "void v-2 of sale s-2"],
        ["return", "r-2", "return r-2 of sale s-1"],
        ["return", "r-2", "return r-2 of sale s-1"],
      ]);
      const bal = await one(cmd("balance", { customer: { card: "C-1" } }));
      for (const a of bal.accounts as Reply[]) {
        expect(a.balance, a.account).toBe((st.entries as Reply[]).filter((e) => e.account === a.account).reduce((s, e) => s + e.amount, 0));
      }
    } finally {
      await closeStore(store);
    }
  });

  it("makes `loyaltyd serve` on a format-1 dataDir exit 78 with the message, starting nothing", () => {
    const dir = scratch();
    mkdirSync(join(dir, "data"));
    cpSync(FIXTURE_V1, join(dir, "data", "ledger"), { recursive: true });
    const root = join(import.meta.dirname, "..", "..");
    const run = spawnSync(process.execPath, [join(root, "dist/src/cli.js"), "serve"], {
      env: { ...process.env, LOYALTYD_DATA_DIR: join(dir, "data"), LOYALTYD_HTTP_PORT: "0", LOYALTYD_PROGRAMMES_DIR: join(root, "config", "programmes") },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(run.status).toBe(78);
    expect(run.stderr).toMatch(/is in format 1; this loyaltyd reads format 3/);
  });
});

