// The store's format: a new store is stamped with this code's format; a ledger written
// by the previous format (fixture written by that release's code) is refused with what to do.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { closeStore, FORMAT_VERSION, openStore, StoreFormatError } from "../../src/ledger/store.js";

const FIXTURE_V1 = join(import.meta.dirname, "..", "fixtures", "ledger-v1");
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
    expect(() => openStore(dir)).toThrow(/format 1; this loyaltyd reads format 2.*empty dataDir/);
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
    expect(run.stderr).toMatch(/is in format 1; this loyaltyd reads format 2/);
  });
});

