// The disk under the ledger fills up: writes are refused with UNAVAILABLE (HTTP 503),
// readiness goes false, reads still answer, stream events wait in the stream, the process
// stays up, and once space returns the engine is ready again by itself and applies
// everything exactly once. Needs root for a small tmpfs (CI runs as root).
import { execFileSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { childEngineEnv, line, sale, spawnEngine, tempDir } from "./harness.js";

const dir = tempDir("loyaltyd-diskfull-");
const mnt = join(dir, "mnt");

function mountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    mkdirSync(mnt, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const mounted = mountTmpfs();
if (!mounted) console.warn("disk-full test skipped: mounting a tmpfs needs root");

/** Fills the filesystem until it refuses more. */
function fill(file: string): void {
  const fd = openSync(file, "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch {
    // ENOSPC: full
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(!mounted)("disk full", () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let child: ChildProcess;
  let http: string;
  beforeAll(async () => {
    nats = await startNatsServer({ storeDir: join(dir, "js") });
    const engine = await spawnEngine(childEngineEnv(dir, nats.url, { LOYALTYD_DATADIR: join(mnt, "data") }));
    child = engine.child;
    http = `http://127.0.0.1:${engine.httpPort}`;
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    child?.kill("SIGKILL");
    await nc?.close();
    await nats?.stop();
    try {
      execFileSync("umount", ["-l", mnt], { stdio: "ignore" });
    } catch {
      // not mounted
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const post = async (verb: string, body: unknown) => {
    const res = await fetch(`${http}/v1/${verb}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const ready = async () => (await fetch(`${http}/readyz`)).json() as Promise<{ ok: boolean; checks: Record<string, boolean> }>;
  // Big baskets: each accrual writes a few kilobytes.
  const basket = (i: number) => sale(`big-${i}`, { card: "D-1" }, Array.from({ length: 40 }, (_, k) => line(`${k}`, 1, 100, { sku: `SKU-${i}-${k}-${"x".repeat(60)}` })));

  it("refuses writes with UNAVAILABLE while full, stays up, and recovers by itself", async () => {
    expect((await post("enroll", { requestId: "e-1", card: "D-1" })).body.ok).toBe(true);
    fill(join(mnt, "filler"));
    const refused: number[] = [];
    const applied: number[] = [];
    for (let i = 0; i < 400 && refused.length < 3; i++) {
      const r = await post("accrue", basket(i));
      if (r.status === 503) {
        expect(r.body).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
        refused.push(i);
      } else {
        expect(r.body.ok).toBe(true);
        applied.push(i);
      }
    }
    expect(refused.length).toBeGreaterThan(0);
    const notReady = await ready();
    expect(notReady.ok).toBe(false);
    expect(notReady.checks.storage).toBe(false);
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(metrics).toMatch(/^loyalty_storage_available 0$/m);
    expect(metrics).toMatch(/^loyalty_disk_free_bytes \d+/m);
    // Reads still answer.
    const before = await post("balance", { customer: { card: "D-1" } });
    expect(before.body.ok).toBe(true);
    // A stream event published now waits in the stream.
    const results: Record<string, any>[] = [];
    nc.subscribe("loyalty.results.>", { callback: (_e, m) => results.push(JSON.parse(Buffer.from(m.data).toString())) });
    await nc.jetstream().publish("loyalty.events.s01", JSON.stringify(basket(1000)), { msgID: "big-1000" });
    await new Promise((r) => setTimeout(r, 1500));
    expect(results.filter((r) => r.ok)).toEqual([]);
    expect(child.exitCode).toBeNull();

    rmSync(join(mnt, "filler"));
    const deadline = Date.now() + 15_000;
    while (!(await ready()).ok && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect((await ready()).ok).toBe(true);
    expect((await (await fetch(`${http}/metrics`)).text())).toMatch(/^loyalty_storage_available 1$/m);
    // The refused ones were never applied: retried, they apply now (not as duplicates).
    for (const i of refused) {
      const r = await post("accrue", basket(i));
      expect(r.body).toMatchObject({ ok: true });
      expect(r.body.duplicate).not.toBe(true);
    }
    while (!results.some((r) => r.eventId === "big-1000") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(results.find((r) => r.eventId === "big-1000")).toMatchObject({ ok: true });
    const each = 40; // 40 lines of 1.00 under the base programme (1 point per 1.00)
    const balance = await post("balance", { customer: { card: "D-1" } });
    expect(balance.body.accounts[0].balance).toBe((applied.length + refused.length + 1) * each);
    const st = await post("statement", { customer: { card: "D-1" }, limit: 1000 });
    expect(st.body.entries.reduce((s: number, e: { amount: number }) => s + e.amount, 0)).toBe(balance.body.accounts[0].balance);
    expect(child.exitCode).toBeNull();
  });
});
