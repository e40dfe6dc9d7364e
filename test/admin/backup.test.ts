// Ledger backup and restore on a real LMDB: what the manifest says, what a restore
// checks before it replaces anything, and what it leaves for the next start.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BackupError, CONSUMER_RESET_KEY, MANIFEST_FILE, STREAM_ACK_FLOOR_KEY, backupLedger, readManifest, restoreLedger } from "../../src/admin/backup.js";
import { installProgramme } from "../../src/admin/programmes.js";
import { DataDirLockedError } from "../../src/config/lock.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { FORMAT_VERSION, closeStore, openStore, type Store } from "../../src/ledger/store.js";
import { BASE_PROGRAMME, OPTIONS, T0, cmd, enrol, entriesOf, sale } from "../ledger/harness.js";

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "loyaltyd-backup-"));
  dirs.push(d);
  return d;
}

/** Opens `<dataDir>/ledger`, applies `sales` sales of 10 points for customer cu_000001, sets the stream floor, closes. */
async function ledgerWith(dataDir: string, sales: number, floor: number | null, from = 0): Promise<void> {
  const store = openStore(join(dataDir, "ledger"));
  try {
    await installProgramme(store, "base", BASE_PROGRAMME, T0);
    const ledger = new Ledger(store, OPTIONS, () => T0);
    if (from === 0) await ledger.applyBatch([enrol("e-1", "C-1")]);
    const commands = Array.from({ length: sales }, (_, i) => cmd("accrue", sale(`s-${from + i}`, { card: "C-1" }, [{ lineId: "1", qty: 1, unitPrice: 1000 }])));
    await ledger.applyBatch(commands);
    if (floor !== null) store.meta.putSync(STREAM_ACK_FLOOR_KEY, floor);
  } finally {
    await closeStore(store);
  }
}

async function readLedger<T>(dataDir: string, read: (store: Store) => T): Promise<T> {
  const store = openStore(join(dataDir, "ledger"));
  try {
    return read(store);
  } finally {
    await closeStore(store);
  }
}

const balanceOf = (store: Store) => store.wallets.get("cu_000001")?.accounts.points?.balance;
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("did not throw");
}

describe("backup", () => {
  it("copies the ledger with a manifest: format, the stream sequence it covers, the copy's size and checksum", async () => {
    const dir = tempDir();
    const data = join(dir, "data");
    await ledgerWith(data, 30, 1234);
    const to = join(dir, "backup");
    const manifest = await backupLedger(data, to, () => Date.UTC(2026, 0, 5));
    expect(manifest).toMatchObject({ kind: "loyaltyd-ledger-backup", manifestVersion: 1, formatVersion: FORMAT_VERSION, createdAt: "2026-01-05T00:00:00.000Z", streamSeq: 1234, file: "data.mdb" });
    expect(readdirSync(to).sort()).toEqual(["data.mdb", MANIFEST_FILE]);
    expect(manifest.bytes).toBe(readFileSync(join(to, "data.mdb")).length);
    expect(manifest.sha256).toBe(sha256(join(to, "data.mdb")));
    expect(readManifest(to)).toEqual(manifest);
    expect(JSON.parse(readFileSync(join(to, MANIFEST_FILE), "utf8"))).toEqual(manifest);
  });

  it("says it covers sequence 0 when the ledger has no stream floor", async () => {
    const dir = tempDir();
    await ledgerWith(join(dir, "data"), 1, null);
    expect((await backupLedger(join(dir, "data"), join(dir, "b"))).streamSeq).toBe(0);
  });

  it("refuses a directory that is not empty, and a dataDir without a ledger", async () => {
    const dir = tempDir();
    await ledgerWith(join(dir, "data"), 1, 5);
    writeFileSync(join(dir, "x"), "");
    expect(await errorOf(backupLedger(join(dir, "data"), dir))).toBeInstanceOf(BackupError);
    expect(await errorOf(backupLedger(join(dir, "nothing"), join(dir, "b")))).toBeInstanceOf(BackupError);
  });
});

describe("restore", () => {
  it("puts the copy in place of the ledger, moves the old one aside, and writes consumerResetTo = streamSeq + 1", async () => {
    const dir = tempDir();
    const data = join(dir, "data");
    await ledgerWith(data, 3, 41);
    const manifest = await backupLedger(data, join(dir, "b"));
    await ledgerWith(data, 2, 57, 3); // work done after the backup
    expect(await readLedger(data, balanceOf)).toBe(50);

    const restored = await restoreLedger(data, join(dir, "b"));
    expect(restored).toMatchObject({ manifest, consumerResetTo: 42 });
    expect(restored.previous).not.toBeNull();
    expect(existsSync(join(restored.previous!, "data.mdb"))).toBe(true);
    expect(readdirSync(data).filter((n) => n.startsWith("ledger")).length).toBe(2);
    const state = await readLedger(data, (s) => ({
      balance: balanceOf(s),
      entries: entriesOf(s, "cu_000001").length,
      floor: s.meta.get(STREAM_ACK_FLOOR_KEY),
      resetTo: s.meta.get(CONSUMER_RESET_KEY),
      after: s.events.get("s-3"),
    }));
    expect(state).toEqual({ balance: 30, entries: 3, floor: 41, resetTo: 42, after: undefined });
    expect(existsSync(join(data, "loyaltyd.lock"))).toBe(false);
  });

  it("restores into a dataDir that has no ledger (a new host)", async () => {
    const dir = tempDir();
    await ledgerWith(join(dir, "old"), 2, 7);
    await backupLedger(join(dir, "old"), join(dir, "b"));
    const restored = await restoreLedger(join(dir, "new"), join(dir, "b"));
    expect(restored).toMatchObject({ consumerResetTo: 8, previous: null });
    expect(await readLedger(join(dir, "new"), balanceOf)).toBe(20);
  });

  it("refuses a copy that does not match its manifest's checksum, leaving the ledger as it was", async () => {
    const dir = tempDir();
    const data = join(dir, "data");
    await ledgerWith(data, 3, 9);
    await backupLedger(data, join(dir, "b"));
    await ledgerWith(data, 1, 10, 3);
    const file = join(dir, "b", "data.mdb");
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(file, bytes);

    const err = await errorOf(restoreLedger(data, join(dir, "b")));
    expect(err).toBeInstanceOf(BackupError);
    expect(err.message).toContain("checksum");
    expect(readdirSync(data).sort()).toEqual(["ledger"]);
    expect(await readLedger(data, (s) => [balanceOf(s), s.meta.get(CONSUMER_RESET_KEY)])).toEqual([40, undefined]);
  });

  it("refuses a manifest of another ledger format or kind", async () => {
    const dir = tempDir();
    await ledgerWith(join(dir, "data"), 1, 1);
    const manifest = await backupLedger(join(dir, "data"), join(dir, "b"));
    writeFileSync(join(dir, "b", MANIFEST_FILE), JSON.stringify({ ...manifest, formatVersion: FORMAT_VERSION + 1 }));
    expect((await errorOf(restoreLedger(join(dir, "data"), join(dir, "b")))).message).toContain(`format ${FORMAT_VERSION + 1}`);
    writeFileSync(join(dir, "b", MANIFEST_FILE), JSON.stringify({ ...manifest, kind: "something else" }));
    expect(await errorOf(restoreLedger(join(dir, "data"), join(dir, "b")))).toBeInstanceOf(BackupError);
  });

  it("accepts a manifest of format 2, which the engine's start migrates", async () => {
    const dir = tempDir();
    await ledgerWith(join(dir, "data"), 1, 1);
    const manifest = await backupLedger(join(dir, "data"), join(dir, "b"));
    writeFileSync(join(dir, "b", MANIFEST_FILE), JSON.stringify({ ...manifest, formatVersion: 2 }));
    expect(readManifest(join(dir, "b")).formatVersion).toBe(2);
    writeFileSync(join(dir, "b", MANIFEST_FILE), JSON.stringify({ ...manifest, formatVersion: 1 }));
    expect(() => readManifest(join(dir, "b"))).toThrow(/format 1/);
  });

  it("refuses while an engine holds the dataDir", async () => {
    const dir = tempDir();
    const data = join(dir, "data");
    await ledgerWith(data, 1, 1);
    await backupLedger(data, join(dir, "b"));
    // A live process other than this one holds the lock.
    writeFileSync(join(data, "loyaltyd.lock"), `${process.ppid}\n`);
    expect(await errorOf(restoreLedger(data, join(dir, "b")))).toBeInstanceOf(DataDirLockedError);
    expect(readdirSync(data).sort()).toEqual(["ledger", "loyaltyd.lock"]);
    expect(await readLedger(data, (s) => s.meta.get(CONSUMER_RESET_KEY))).toBeUndefined();
  });
});
