// Backup under JetStream load from a running engine (the CLI reads the ledger beside
// it), more events after it, then the ledger lost: restore, restart, and the stream's
// tail brings every balance back to what a ledger that never lost anything shows.
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "nats";
import { CONSUMER_RESET_KEY, STREAM_ACK_FLOOR_KEY, type BackupManifest } from "../../src/admin/backup.js";
import { startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { FORMAT_VERSION, closeStore, openStore } from "../../src/ledger/store.js";
import { ROOT, childEngineEnv, line, sale, spawnEngine, tempDir } from "./harness.js";

const CUSTOMERS = 20;
const EVENTS_BEFORE = 1500; // the backup is taken while these are being published
const EVENTS_AFTER = 800;

/** `loyaltyd <args>` as its own process, as an operator runs it. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, "dist/src/cli.js"), ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

describe("backup and restore", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it("backs up a serving engine under stream load; after the ledger is lost and restored, the next start replays the stream's tail and every balance is what a ledger that lost nothing shows", async () => {
    const dir = tempDir("loyaltyd-backup-");
    const nats: NatsServerHandle = await startNatsServer({ storeDir: join(dir, "js") });
    const nc = await connect({ servers: nats.url });
    cleanups.push(async () => {
      await nc.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    const env = childEngineEnv(dir, nats.url, { LOYALTYD_PARTITIONS: "2", LOYALTYD_EXECUTOR: "workers" });
    const data = env.LOYALTYD_DATADIR!;
    let engine = await spawnEngine(env);
    cleanups.push(async () => void engine.child.kill("SIGKILL"));
    const rpc = async (verb: string, body: unknown) =>
      JSON.parse(Buffer.from((await nc.request(`loyalty.rpc.${verb}`, Buffer.from(JSON.stringify(body)), { timeout: 10_000 })).data).toString());
    for (let c = 0; c < CUSTOMERS; c++) expect((await rpc("enroll", { requestId: `e-${c}`, card: `K-${c}` })).ok).toBe(true);

    let results = 0;
    const sub = nc.subscribe("loyalty.results.>", { callback: () => void results++ });
    const js = nc.jetstream();
    const expected = new Map<string, number>();
    const publishing: Promise<unknown>[] = [];
    const publish = async (from: number, to: number, during?: () => void) => {
      for (let i = from; i < to; i++) {
        const card = `K-${i % CUSTOMERS}`;
        const points = 1 + (i % 7);
        expected.set(card, (expected.get(card) ?? 0) + points);
        const ev = sale(`ev-${i}`, { card }, [line("1", 1, points * 100)]);
        publishing.push(js.publish("loyalty.events.s01", Buffer.from(JSON.stringify(ev)), { msgID: ev.eventId }));
        if (i % 100 === 99) {
          await Promise.all(publishing.splice(0));
          await new Promise((r) => setTimeout(r, 10)); // let the engine apply while we publish
          during?.();
        }
      }
      await Promise.all(publishing.splice(0));
    };
    const total = () => [...expected.values()].reduce((a, b) => a + b, 0);
    const sumOfBalances = async () => {
      let sum = 0;
      for (let c = 0; c < CUSTOMERS; c++) sum += (await rpc("balance", { customer: { card: `K-${c}` } })).accounts[0]?.balance ?? 0;
      return sum;
    };
    const waitForAll = async () => {
      const deadline = Date.now() + 60_000;
      let sum = -1;
      while (Date.now() < deadline && (sum = await sumOfBalances()) < total()) await new Promise((r) => setTimeout(r, 250));
      expect(sum).toBe(total());
    };

    // 1. The backup, from another process, while events stream in.
    let backup: ReturnType<typeof cli> | null = null;
    let resultsAtBackup = 0;
    await publish(0, EVENTS_BEFORE, () => {
      if (backup || results < 300) return;
      resultsAtBackup = results;
      backup = cli(["backup", "--to", join(dir, "backup")], env);
    });
    expect(backup).not.toBeNull();
    const taken = await backup!;
    expect(taken.code, taken.stderr).toBe(0);
    const manifest = JSON.parse(taken.stdout) as BackupManifest;
    expect(manifest).toMatchObject({ kind: "loyaltyd-ledger-backup", formatVersion: FORMAT_VERSION, file: "data.mdb" });
    expect(manifest.bytes).toBeGreaterThan(0);
    expect(resultsAtBackup).toBeLessThan(EVENTS_BEFORE); // it ran mid-load

    // 2. More events after the backup; then the truth, from the ledger that lost nothing.
    await publish(EVENTS_BEFORE, EVENTS_BEFORE + EVENTS_AFTER);
    await waitForAll();
    const metrics = await (await fetch(`http://127.0.0.1:${engine.httpPort}/metrics`)).text();
    for (const name of ["loyalty_retention_pruned_total", "loyalty_retention_scanned_total", "loyalty_retention_passes_total", "loyalty_retention_write_duration_seconds"]) {
      expect(metrics, name).toContain(`# TYPE ${name} `);
    }

    // 3. A restore is refused while the engine holds the dataDir.
    const refused = await cli(["restore", "--from", join(dir, "backup")], env);
    expect(refused.code).toBe(78);
    expect(refused.stderr).toContain("in use by another loyaltyd");

    // 4. The ledger is lost.
    await stop(engine.child);
    rmSync(join(data, "ledger"), { recursive: true, force: true });

    // 5. Restore: the copy in place, and the replay point for the next start.
    const restore = await cli(["restore", "--from", join(dir, "backup")], env);
    expect(restore.code, restore.stderr).toBe(0);
    expect(JSON.parse(restore.stdout)).toMatchObject({ manifest, consumerResetTo: manifest.streamSeq + 1, previous: null });
    const restored = openStore(join(data, "ledger"));
    const meta = { resetTo: restored.meta.get(CONSUMER_RESET_KEY), floor: restored.meta.get(STREAM_ACK_FLOOR_KEY) ?? 0 };
    let applied = 0;
    for (const { value } of restored.wallets.getRange()) applied += value.accounts.points?.balance ?? 0;
    await closeStore(restored);
    expect(meta).toEqual({ resetTo: manifest.streamSeq + 1, floor: manifest.streamSeq });
    // The copy holds what was applied when it was taken: some of the load, not all of it.
    expect(applied).toBeGreaterThan(0);
    expect(applied).toBeLessThan(total());

    // 6. Restart: the engine moves its consumer to consumerResetTo and the stream's tail is
    // replayed; what the copy holds meets its idempotency records.
    engine = await spawnEngine(env);
    await waitForAll();
    for (let c = 0; c < CUSTOMERS; c++) {
      const card = `K-${c}`;
      const b = await rpc("balance", { customer: { card } });
      expect(b.accounts[0].balance, card).toBe(expected.get(card));
      const st = await rpc("statement", { customer: { card }, limit: 1000 });
      const ids = st.entries.map((e: { eventId: string }) => e.eventId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBe((EVENTS_BEFORE + EVENTS_AFTER) / CUSTOMERS);
      expect(st.entries.reduce((s: number, e: { amount: number }) => s + e.amount, 0)).toBe(b.accounts[0].balance);
    }
    sub.unsubscribe();
    await stop(engine.child);
    // The engine took the replay point and dropped it: the next start resumes as usual.
    const after = openStore(join(data, "ledger"));
    expect(after.meta.get(CONSUMER_RESET_KEY)).toBeUndefined();
    await closeStore(after);
  }, 180_000);
});
