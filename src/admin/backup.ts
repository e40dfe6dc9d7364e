// Ledger backup and restore. A backup is a compacted LMDB copy of the ledger, taken in a
// read transaction (LMDB lets another process read beside the engine's writers, so the
// engine keeps serving) and described by a manifest; a restore verifies it, puts it in
// place while no engine holds the dataDir, and has the next start replay the event
// stream from just after what the copy covers.
import { createHash } from "node:crypto";
import { closeSync, copyFileSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { open } from "lmdb";
import { z } from "zod";
import { lockDataDir } from "../config/lock.js";
import { FORMAT_VERSION, closeStore, migratesFrom, openStore } from "../ledger/store.js";

export const MANIFEST_FILE = "manifest.json";
const DATA_FILE = "data.mdb";
/** The meta keys of src/ledger/marks.ts: how far the copy covers the stream, where the next start resumes it. */
export { ACK_FLOOR as STREAM_ACK_FLOOR_KEY, RESET_TO as CONSUMER_RESET_KEY } from "../ledger/marks.js";
import { ACK_FLOOR as STREAM_ACK_FLOOR_KEY, RESET_TO as CONSUMER_RESET_KEY } from "../ledger/marks.js";

const manifestSchema = z
  .object({
    kind: z.literal("loyaltyd-ledger-backup"),
    manifestVersion: z.literal(1),
    /** The ledger's format (store.ts FORMAT_VERSION): only a loyaltyd that reads it may restore it. */
    formatVersion: z.number().int().min(1),
    /** When the copy was started (ISO 8601, UTC). */
    createdAt: z.string().datetime(),
    /** The copy's streamAckFloor: every LOYALTY_EVENTS sequence up to it is in the copy (0: none known). */
    streamSeq: z.number().int().min(0),
    file: z.literal(DATA_FILE),
    bytes: z.number().int().min(0),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();

export type BackupManifest = z.infer<typeof manifestSchema>;

/** A backup that cannot be taken or trusted: the message says why. */
export class BackupError extends Error {}

export interface Restored {
  manifest: BackupManifest;
  /** What the restored ledger's meta consumerResetTo says: manifest.streamSeq + 1. */
  consumerResetTo: number;
  /** Where the ledger that was replaced went (null: there was none). */
  previous: string | null;
}

/**
 * Copies `<dataDir>/ledger` into `to` (absent or empty) and writes the manifest last, so a
 * directory with a manifest holds a whole backup. The engine may be running.
 */
export async function backupLedger(dataDir: string, to: string, now: () => number = Date.now): Promise<BackupManifest> {
  const ledger = join(dataDir, "ledger");
  if (!existsSync(join(ledger, DATA_FILE))) throw new BackupError(`no ledger at ${ledger}`);
  if (existsSync(to) && readdirSync(to).length > 0) throw new BackupError(`${to} is not empty: a backup goes into a new or empty directory`);
  mkdirSync(to, { recursive: true });
  const createdAt = new Date(now()).toISOString();
  // Read-only: this process never writes the live ledger, and needs no dataDir lock.
  const env = open({ path: ledger, readOnly: true, maxDbs: 32 });
  try {
    await env.backup(to, true);
  } finally {
    await env.close();
  }
  const { formatVersion, streamSeq } = await readCopy(to);
  rmSync(join(to, "lock.mdb"), { force: true }); // left by reading the copy; not part of it
  const file = join(to, DATA_FILE);
  syncFile(file);
  const manifest: BackupManifest = {
    kind: "loyaltyd-ledger-backup",
    manifestVersion: 1,
    formatVersion,
    createdAt,
    streamSeq,
    file: DATA_FILE,
    bytes: statSync(file).size,
    sha256: await sha256Of(file),
  };
  writeSynced(join(to, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  syncFile(to);
  return manifest;
}

/** What the copy itself says: its format and its stream floor (read from the copy, so exact for it). */
async function readCopy(dir: string): Promise<{ formatVersion: number; streamSeq: number }> {
  const env = open({ path: dir, readOnly: true, maxDbs: 32 });
  try {
    const meta = env.openDB<unknown, string>({ name: "meta" });
    const formatVersion = meta.get("formatVersion");
    const floor = meta.get(STREAM_ACK_FLOOR_KEY) ?? 0;
    if (formatVersion !== FORMAT_VERSION) {
      throw new BackupError(`the ledger is in format ${String(formatVersion)}; this loyaltyd reads format ${FORMAT_VERSION}: back it up with the release that runs it`);
    }
    if (!Number.isSafeInteger(floor) || (floor as number) < 0) throw new BackupError(`the ledger's meta ${STREAM_ACK_FLOOR_KEY} is ${String(floor)}, not a sequence number`);
    return { formatVersion, streamSeq: floor as number };
  } finally {
    await env.close();
  }
}

/** The manifest of the backup in `dir`, checked against its schema and this release's ledger format. */
export function readManifest(dir: string): BackupManifest {
  const path = join(dir, MANIFEST_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new BackupError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new BackupError(`${path} is not a loyaltyd ledger backup manifest: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  // A backup of an earlier format this release migrates is restored as it is: the engine's start migrates it.
  if (parsed.data.formatVersion !== FORMAT_VERSION && !migratesFrom(parsed.data.formatVersion)) {
    throw new BackupError(`the backup in ${dir} is in ledger format ${parsed.data.formatVersion}; this loyaltyd reads format ${FORMAT_VERSION}: restore it with the release that wrote it`);
  }
  return parsed.data;
}

/**
 * Puts the backup in `from` in place of `<dataDir>/ledger`: only with no engine on the
 * dataDir (its lock), only once the copy's size and checksum match the manifest. The
 * replaced ledger is moved aside, not deleted. The restored ledger's meta
 * consumerResetTo (= streamSeq + 1) makes the next start replay the stream's tail;
 * events the copy already holds are answered as duplicates.
 */
export async function restoreLedger(dataDir: string, from: string, now: () => number = Date.now): Promise<Restored> {
  const manifest = readManifest(from);
  mkdirSync(dataDir, { recursive: true });
  // No dot in the name: lmdb-js takes a path with an extension for a file, not a directory.
  const staging = join(dataDir, "ledger-restoring");
  const lock = lockDataDir(dataDir);
  try {
    rmSync(staging, { recursive: true, force: true }); // an interrupted restore's leftovers
    mkdirSync(staging);
    const staged = join(staging, DATA_FILE);
    copyFileSync(join(from, manifest.file), staged);
    syncFile(staged);
    // Checked on the staged copy: what will be opened is what the manifest describes.
    const bytes = statSync(staged).size;
    if (bytes !== manifest.bytes) throw new BackupError(`${join(from, manifest.file)} has ${bytes} bytes; the manifest says ${manifest.bytes}`);
    const sha256 = await sha256Of(staged);
    if (sha256 !== manifest.sha256) throw new BackupError(`${join(from, manifest.file)} does not match the manifest's checksum (sha256 ${sha256}, expected ${manifest.sha256})`);
    const consumerResetTo = manifest.streamSeq + 1;
    const store = openStore(staging);
    try {
      const floor = store.meta.get(STREAM_ACK_FLOOR_KEY) ?? 0;
      if (floor !== manifest.streamSeq) throw new BackupError(`the copy's ${STREAM_ACK_FLOOR_KEY} is ${floor}; the manifest says ${manifest.streamSeq}`);
      store.meta.putSync(CONSUMER_RESET_KEY, consumerResetTo);
    } finally {
      await closeStore(store);
    }
    const ledger = join(dataDir, "ledger");
    let previous: string | null = null;
    if (existsSync(ledger)) {
      previous = join(dataDir, `ledger-before-restore-${new Date(now()).toISOString().replace(/[:.]/g, "")}`);
      renameSync(ledger, previous);
    }
    renameSync(staging, ledger);
    syncFile(dataDir);
    return { manifest, consumerResetTo, previous };
  } finally {
    rmSync(staging, { recursive: true, force: true });
    lock.release();
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** fsync a file or a directory (a directory: so that the names in it are durable too). */
function syncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes through a temporary name, so the file is there whole or not at all. */
function writeSynced(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  syncFile(tmp);
  renameSync(tmp, path);
}
