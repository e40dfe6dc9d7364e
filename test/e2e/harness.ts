// Starts a real nats-server on a free port and a real engine over a temp LMDB dir;
// tears both down. Also a child-process engine for the crash test.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect, type NatsConnection } from "nats";
import { Packr, Unpackr } from "msgpackr";
import { loadConfig } from "../../src/config/config.js";
import { startEngine, type Engine, type EngineOptions } from "../../src/engine.js";
import { startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { createLogger } from "../../src/observe/logger.js";
import { BASE_PROGRAMME } from "../fixtures.js";

export const ROOT = resolve(import.meta.dirname, "../..");
export const ADMIN_TOKEN = "test-admin-token";

export interface TestEnv {
  dir: string;
  nats: NatsServerHandle;
  nc: NatsConnection;
  engine: Engine;
  http: string;
  rpc<T = Record<string, any>>(verb: string, body: unknown): Promise<T>;
  rpcPack<T = Record<string, any>>(verb: string, body: unknown): Promise<T>;
  post<T = Record<string, any>>(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

export function tempDir(prefix = "loyaltyd-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes programme files into a fresh directory. */
export function programmesDir(dir: string, programmes: Record<string, unknown>[]): string {
  const p = join(dir, "programmes");
  mkdirSync(p, { recursive: true });
  for (const prog of programmes) writeFileSync(join(p, `${(prog as { id: string }).id}.json`), JSON.stringify(prog));
  return p;
}

export { BASE_PROGRAMME };

/** Ten years: how late the suite's fixed-date events may be. */
export const EVENTS_LATE_MS_TESTS = 3650 * 86_400_000;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export async function startTestEnv(
  overrides: Record<string, unknown> = {},
  programmes: Record<string, unknown>[] = [BASE_PROGRAMME],
  engineOptions: EngineOptions = {},
): Promise<TestEnv> {
  const dir = tempDir();
  const nats = await startNatsServer({ storeDir: join(dir, "js") });
  let engine: Engine;
  try {
    // A configuration the test gets wrong throws here: the server it started goes too.
    const config = loadConfig({
      env: {},
      overrides: {
        "nats.url": nats.url,
        dataDir: join(dir, "data"),
        programmesDir: programmesDir(dir, programmes),
        "http.port": 0,
        adminToken: ADMIN_TOKEN,
        logLevel: "silent",
        // The suite's events are dated January 2026, whatever today is; the window itself
        // is tested with its defaults in test/e2e/bad-input.test.ts.
        "events.lateMsMax": EVENTS_LATE_MS_TESTS,
        // An injected clock reaches only the main thread: worker threads keep wall time.
        ...(engineOptions.now ? { executor: "inline" } : {}),
        ...overrides,
      },
    });
    engine = await startEngine(config, createLogger("silent"), engineOptions);
  } catch (err) {
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const nc = await connect({ servers: nats.url });
  const http = `http://127.0.0.1:${engine.httpPort}`;
  return {
    dir,
    nats,
    nc,
    engine,
    http,
    async rpc(verb, body) {
      const m = await nc.request(`loyalty.rpc.${verb}`, Buffer.from(JSON.stringify(body)), { timeout: 10_000 });
      return JSON.parse(Buffer.from(m.data).toString());
    },
    async rpcPack(verb, body) {
      const m = await nc.request(`loyalty.rpc.${verb}`, packr.pack(body), { timeout: 10_000 });
      return unpackr.unpack(m.data);
    },
    async post(path, body, headers = {}) {
      const res = await fetch(http + path, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    },
    async stop() {
      await nc.close();
      await engine.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function sale(eventId: string, customer: Record<string, string>, lines: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) {
  return {
    type: "sale",
    eventId,
    at: Date.UTC(2026, 0, 5, 12, 0, 0),
    storeId: "s01",
    channel: "store",
    terminalId: "t1",
    customer,
    currency: "EUR",
    lines,
    ...extra,
  };
}

export function line(lineId: string, qty: number, unitPrice: number, extra: Record<string, unknown> = {}) {
  return { lineId, sku: `SKU-${lineId}`, qty, unitPrice, category: "drinks", ...extra };
}

/** The environment of an engine in its own process: the suite's defaults plus `extra`. */
export function childEngineEnv(dir: string, natsUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LOYALTYD_NATS_URL: natsUrl,
    LOYALTYD_DATADIR: join(dir, "data"),
    LOYALTYD_PROGRAMMESDIR: programmesDir(dir, [BASE_PROGRAMME]),
    LOYALTYD_HTTP_PORT: "0",
    LOYALTYD_LOGLEVEL: "info",
    LOYALTYD_EVENTS_LATE_MS_MAX: String(EVENTS_LATE_MS_TESTS),
    ...extra,
  };
}

/** SIGKILL, and wait until the process is gone. */
export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
}

/** Restarts the engine whenever it dies, as systemd or Kubernetes would, until stopped. */
export function supervise(env: Record<string, string>, first: ChildProcess) {
  const state = { child: first, restarts: 0, stopped: false };
  const loop = (async () => {
    while (!state.stopped) {
      if (state.child.exitCode !== null || state.child.signalCode !== null) {
        state.restarts++;
        state.child = (await spawnEngine(env)).child;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    get child() {
      return state.child;
    },
    get restarts() {
      return state.restarts;
    },
    async stop(): Promise<void> {
      state.stopped = true;
      await loop;
    },
  };
}

/**
 * An engine in its own process (for kill -9). Resolves when it logs "ready", with that
 * line and the log lines before it.
 */
export async function spawnEngine(
  env: Record<string, string>,
  command: "serve" | "demo" = "serve",
): Promise<{ child: ChildProcess; httpPort: number; ready: Record<string, any>; logged: Record<string, any>[] }> {
  const child = spawn(process.execPath, [join(ROOT, "dist/src/cli.js"), command], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`engine did not start: ${err}\n${out.slice(-2000)}`));
    }, 20_000);
    let started = false;
    child.stdout!.on("data", (d: Buffer) => {
      if (started) return; // still read, so that the child never blocks on a full pipe
      out += d.toString();
      const lines = out.split("\n");
      // Whole lines only: the last piece may be the start of one.
      const at = lines.findIndex((l, i) => i < lines.length - 1 && l.includes('"msg":"ready"'));
      if (at >= 0) {
        started = true;
        clearTimeout(timer);
        const ready = JSON.parse(lines[at]!);
        const logged = lines.slice(0, at).flatMap((l) => (l.startsWith("{") ? [JSON.parse(l)] : []));
        resolvePromise({ child, httpPort: ready.httpPort, ready, logged });
        return;
      }
      if (out.length > 100_000) out = out.slice(out.indexOf("\n", out.length - 10_000) + 1);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`engine exited with ${code}: ${err}`));
    });
  });
}

/** An HTTP call with a JSON body (admin routes take the bearer token in `headers`). */
export async function send(t: TestEnv, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(t.http + path, {
    method,
    headers: { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** Polls `what` every 50 ms until it holds; throws after `timeoutMs`. */
export async function until(what: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}
