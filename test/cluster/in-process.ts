// Engines in cluster mode in the test's own process (executor inline), on one NATS
// server: for what instances share, where killing a process is not the point.
import { join } from "node:path";
import { loadConfig } from "../../src/config/config.js";
import { startEngine, type Engine } from "../../src/engine.js";
import { createLogger } from "../../src/observe/logger.js";
import { ADMIN_TOKEN, BASE_PROGRAMME, EVENTS_LATE_MS_TESTS, programmesDir, tempDir } from "../e2e/harness.js";

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
