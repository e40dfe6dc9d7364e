// loyaltyd engines in cluster mode, each in its own process (for kill -9 and restarts),
// on a real NATS cluster: start one, wait until the live ones share the partitions,
// call its HTTP routes, read a customer's balance.
import { execFile, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { expect } from "vitest";
import { ADMIN_TOKEN, BASE_PROGRAMME, EVENTS_LATE_MS_TESTS, ROOT, childEngineEnv, programmesDir, spawnEngine, tempDir } from "../e2e/harness.js";
import type { NatsCluster } from "./harness.js";

export const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

export interface EngineProcess {
  id: string;
  dir: string;
  child: ChildProcess;
  httpPort: number;
}

/** An engine of the cluster: `dir` again to restart one on its own data directory. */
export async function startClusterEngine(cluster: NatsCluster, id: string, partitions: number, dir = tempDir(), extra: Record<string, string> = {}): Promise<EngineProcess> {
  const env = childEngineEnv(dir, cluster.url, {
    LOYALTYD_ADMINTOKEN: ADMIN_TOKEN,
    LOYALTYD_CLUSTER_ENABLED: "true",
    LOYALTYD_CLUSTER_INSTANCEID: id,
    LOYALTYD_CLUSTER_PARTITIONS: String(partitions),
    LOYALTYD_CLUSTER_LEASETTLMS: "2000",
    LOYALTYD_CLUSTER_RENEWMS: "400",
    ...extra,
  });
  const { child, httpPort } = await spawnEngine(env);
  return { id, dir, child, httpPort };
}

export async function post(m: EngineProcess, path: string, body: unknown): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${m.httpPort}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...auth },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  return res.json();
}

/** What the cluster helpers need of an instance: its id and HTTP port (an engine process, or one in the test's own process). */
export type Instance = Pick<EngineProcess, "id" | "httpPort">;

export async function clusterOf(m: Instance): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${m.httpPort}/v1/admin/cluster`, { headers: auth, signal: AbortSignal.timeout(5000) });
  return res.json();
}

/**
 * Until the live engines own every partition between them in fair shares (± 1), and
 * each serves what it owns (its log replayed: loyalty_cluster_partitions_serving).
 */
export async function settled(live: Instance[], partitions: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const ids = new Set(live.map((m) => m.id));
  let last: unknown = null;
  for (;;) {
    const s = await clusterOf(live[0]!).catch(() => null);
    last = s;
    const owners: string[] = s?.partitions?.map((p: any) => p.owner) ?? [];
    const counts = live.map((m) => owners.filter((o) => o === m.id).length);
    const fair = Math.floor(partitions / ids.size);
    if (owners.length === partitions && owners.every((o) => ids.has(o)) && counts.every((c) => c >= fair && c <= fair + 1)) {
      const serving = await Promise.all(live.map((m) => gauge(m, "loyalty_cluster_partitions_serving").catch(() => -1)));
      if (serving.every((n, i) => n === counts[i])) return;
    }
    if (Date.now() > deadline) throw new Error(`partitions not shared and served by ${[...ids]}: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function gauge(m: Instance, name: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${m.httpPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  const line = (await res.text()).split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

/** The sum of a metric's series on an engine, of those whose labels contain `labels` (e.g. 'outcome="ok"'). */
export async function metricSum(m: EngineProcess, name: string, labels = ""): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${m.httpPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  return (await res.text())
    .split("\n")
    .filter((l) => (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

export async function balanceOf(m: EngineProcess, customerId: string): Promise<number> {
  const r = await post(m, "/v1/balance", { customer: { customerId } });
  expect(r.ok, JSON.stringify(r)).toBe(true);
  return r.accounts.find((a: any) => a.account === "points")?.balance ?? 0;
}

/** `loyaltyd <args>` from the build, with `env` added to this process's environment. */
export function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, "dist/src/cli.js"), ...args], { env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The environment of `loyaltyd rebuild` into `dir` (an empty data directory under it) from the cluster's logs and snapshots. */
export function rebuildEnv(cluster: NatsCluster, dir: string, partitions: number): Record<string, string> {
  return {
    LOYALTYD_NATS_URL: cluster.url,
    LOYALTYD_DATADIR: join(dir, "data"),
    LOYALTYD_PROGRAMMESDIR: programmesDir(dir, [BASE_PROGRAMME]),
    LOYALTYD_CLUSTER_ENABLED: "true",
    LOYALTYD_CLUSTER_INSTANCEID: "rebuild",
    LOYALTYD_CLUSTER_PARTITIONS: String(partitions),
    LOYALTYD_EVENTS_LATE_MS_MAX: String(EVENTS_LATE_MS_TESTS),
  };
}
