// Engines in cluster mode in the test's own process (executor inline), on one NATS
// server: for what instances share, where killing a process is not the point.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { startEngine, type Engine } from "../../src/engine.js";
import { startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { createLogger } from "../../src/observe/logger.js";
import { ADMIN_TOKEN, BASE_PROGRAMME, EVENTS_LATE_MS_TESTS, programmesDir, tempDir } from "../e2e/harness.js";
import { settled as settledOf } from "./engines.js";

const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };

/** An instance with its own data directory (pushed on `dirs` for the test to remove). */
export async function inProcessMember(natsUrl: string, id: string, partitions: number, dirs: string[], extra: Record<string, unknown> = {}): Promise<Engine> {
  const dir = tempDir();
  dirs.push(dir);
  const config = loadConfig({
    env: {},
    overrides: {
      "nats.url": natsUrl, dataDir: join(dir, "data"), programmesDir: programmesDir(dir, [BASE_PROGRAMME]), "http.port": 0, adminToken: ADMIN_TOKEN,
      logLevel: "silent", executor: "inline", "events.lateMsMax": EVENTS_LATE_MS_TESTS,
      "cluster.enabled": true, "cluster.instanceId": id, "cluster.partitions": partitions, "cluster.replicas": 1, "cluster.leaseTtlMs": 2000, "cluster.renewMs": 400,
      ...extra,
    },
  });
  return startEngine(config, createLogger("silent"));
}

/** An HTTP call with the admin token: its status and JSON body. */
export async function call(e: Engine, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${e.httpPort}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, body: await res.json() };
}

/** A points balance through an engine (a customer reference: id, card...). */
export async function pointsOf(e: Engine, customer: Record<string, string>): Promise<number> {
  const r = await call(e, "POST", "/v1/balance", { customer });
  expect(r.body.ok, JSON.stringify(r.body)).toBe(true);
  return r.body.accounts.find((a: any) => a.account === "points")?.balance ?? 0;
}

/**
 * For a test file: one NATS server started before its tests, the members it starts
 * (`member`), and everything stopped and removed after them.
 */
export function inProcessCluster(partitions: number, extra: Record<string, unknown> = {}) {
  let nats: NatsServerHandle | null = null;
  const dirs: string[] = [];
  const engines: Engine[] = [];
  const ids = new Map<Engine, string>();
  beforeAll(async () => {
    const dir = tempDir();
    dirs.push(dir);
    nats = await startNatsServer({ storeDir: join(dir, "js") });
  }, 30_000);
  afterAll(async () => {
    for (const e of engines) await e.close().catch(() => undefined);
    await nats?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    engines,
    natsUrl: () => nats!.url,
    async member(id: string): Promise<Engine> {
      const e = await inProcessMember(nats!.url, id, partitions, dirs, extra);
      engines.push(e);
      ids.set(e, id);
      return e;
    },
    /**
     * Until the members own every partition between them in fair shares and each serves
     * what it owns (engines.ts settled): after one joins or leaves, a request meanwhile may
     * wait out a handover (cluster.forwardMsMax) and be refused.
     */
    async settled(timeoutMs = 30_000): Promise<void> {
      await settledOf([...ids].map(([e, id]) => ({ id, httpPort: e.httpPort })), partitions, timeoutMs);
    },
  };
}
