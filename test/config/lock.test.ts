// One engine per dataDir: the lock file refuses a second owner that is alive, and takes
// over a lock left by a process that is gone (kill -9) or by this very pid (a container's
// pid 1 restarted).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DataDirLockedError, lockDataDir } from "../../src/config/lock.js";
import { spawnEngine } from "../e2e/harness.js";

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), "loyaltyd-lock-"));
  dirs.push(d);
  return d;
}

describe("dataDir lock", () => {
  it("refuses while the owner runs, takes over once it is gone, and releases", async () => {
    const dir = scratch();
    const owner = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
    writeFileSync(join(dir, "loyaltyd.lock"), `${owner.pid}\n`);
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
    expect(() => lockDataDir(dir)).toThrow(new RegExp(`in use by another loyaltyd \\(pid ${owner.pid}\\)`));
    owner.kill("SIGKILL");
    await new Promise((r) => owner.once("exit", r));
    const lock = lockDataDir(dir);
    expect(existsSync(join(dir, "loyaltyd.lock"))).toBe(true);
    lock.release();
    expect(existsSync(join(dir, "loyaltyd.lock"))).toBe(false);
  });

  it("takes over a lock that names this very process (a restarted container's pid)", () => {
    const dir = scratch();
    writeFileSync(join(dir, "loyaltyd.lock"), `${process.pid}\n`);
    lockDataDir(dir).release();
  });

  it("makes a second `loyaltyd serve` on a running engine's dataDir exit 78 with the message", async () => {
    const dir = scratch();
    const root = join(import.meta.dirname, "..", "..");
    const env = { LOYALTYD_DATA_DIR: join(dir, "data"), LOYALTYD_HTTP_PORT: "0", LOYALTYD_PROGRAMMES_DIR: join(root, "config", "programmes") };
    const first = await spawnEngine(env);
    try {
      const second = spawnSync(process.execPath, [join(root, "dist/src/cli.js"), "serve"], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 30_000 });
      expect(second.status).toBe(78);
      expect(second.stderr).toMatch(new RegExp(`in use by another loyaltyd \\(pid ${first.child.pid}\\)`));
    } finally {
      first.child.kill("SIGTERM");
      await new Promise((r) => first.child.once("exit", r));
    }
    expect(existsSync(join(dir, "data", "loyaltyd.lock"))).toBe(false);
  });
});
