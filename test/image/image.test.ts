// The Dockerfile, built and run for real with podman (no Docker daemon needed; as root,
// buildah's chroot isolation, vfs storage unless STORAGE_DRIVER says otherwise): the
// image serves /healthz and /readyz against a real nats-server, runs as the unprivileged
// node user, passes its own HEALTHCHECK, keeps its ledger on the /data volume (a second
// container on the same volume sees the first one's points) and holds no build toolchain.
// `npm run test:image` (minutes: not in .ci/run). Without a reachable registry, the base
// image comes from test/image/standin-base.sh.
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { EVENTS_LATE_MS_TESTS, line, ROOT, sale, tempDir } from "../e2e/harness.js";

const IMAGE = "localhost/loyaltyd:test";
const BASE = "docker.io/library/node:20-bookworm-slim";
const run = Date.now().toString(36);
const VOLUME = `loyaltyd-image-test-${run}`;
const env = { ...process.env, STORAGE_DRIVER: process.env.STORAGE_DRIVER ?? "vfs" };

function podman(args: string[], timeoutMs = 120_000): SpawnSyncReturns<string> {
  return spawnSync("podman", args, { env, encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
}
function ok(args: string[], timeoutMs?: number): string {
  const r = podman(args, timeoutMs);
  if (r.status !== 0) throw new Error(`podman ${args.join(" ")} -> ${r.status ?? r.signal}: ${r.stderr || r.error}`.slice(0, 4000));
  return r.stdout.trim();
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** podman without blocking this process (a build takes minutes; vitest's worker must keep answering). */
function podmanAsync(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("podman", args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`podman ${args.join(" ")} -> ${code}: ${stderr}`))));
  });
}

/**
 * How containers run here: podman's defaults first; where they fail (a sandbox that
 * refuses crun's setrlimit to the default RLIMIT_NOFILE and RLIMIT_NPROC, and crun's
 * hybrid cgroups), runc with this process's own open-files limit and a bounded process count.
 */
function runtimeArgs(): { global: string[]; run: string[] } {
  const plain = { global: [], run: [] };
  if (podman(["run", "--rm", "--network", "host", IMAGE, "--version"]).status === 0) return plain;
  const nofile = spawnSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).stdout.trim();
  const sandbox = { global: ["--runtime", "runc"], run: ["--ulimit", `nofile=${nofile}:${nofile}`, "--ulimit", "nproc=4096:4096"] };
  const r = podman([...sandbox.global, "run", "--rm", "--network", "host", ...sandbox.run, IMAGE, "--version"]);
  if (r.status !== 0) throw new Error(`podman cannot run a container here: ${r.stderr}`);
  console.warn(`image test: podman's default runtime cannot run containers here; using ${[...sandbox.global, ...sandbox.run].join(" ")}`);
  return sandbox;
}

/** The base image: already here, pulled, or (no registry reachable) the stand-in built here. */
function ensureBase(): void {
  if (podman(["image", "exists", BASE]).status === 0) return;
  const pulled = podman(["pull", BASE], 600_000);
  if (pulled.status === 0) return;
  console.warn(`image test: cannot pull ${BASE} (${pulled.stderr.trim().split("\n").at(-1)}); building the stand-in`);
  const standin = spawnSync(join(ROOT, "test/image/standin-base.sh"), { env, encoding: "utf8", timeout: 900_000 });
  if (standin.status !== 0) throw new Error(`test/image/standin-base.sh failed: ${standin.stderr.slice(-3000)}`);
}

describe.runIf(spawnSync("podman", ["--version"]).status === 0)("the image built from the Dockerfile", () => {
  let nats: NatsServerHandle;
  let dir: string | undefined;
  let nc: NatsConnection;
  const containers: string[] = [];
  let rt: { global: string[]; run: string[] } = { global: [], run: [] };
  /** The balances the first container's sale left: the second one must see them. */
  let accounts: Array<{ account: string; balance: number }> = [];

  /** A container of the image on the host's network, its ledger on VOLUME; resolves once /healthz answers. */
  async function start(): Promise<{ id: string; http: string }> {
    const port = await freePort();
    const id = ok([...rt.global, "run", "-d", "--network", "host", ...rt.run, "-e", `LOYALTYD_NATS_URL=${nats.url}`, "-e", `LOYALTYD_HTTP_PORT=${port}`, "-e", "LOYALTYD_HTTP_HOST=127.0.0.1", "-e", `LOYALTYD_EVENTS_LATE_MS_MAX=${EVENTS_LATE_MS_TESTS}`, "-v", `${VOLUME}:/data`, IMAGE]);
    containers.push(id);
    const http = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    while (!(await fetch(`${http}/healthz`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline) throw new Error(`the container did not answer /healthz: ${podman([...rt.global, "logs", id]).stdout.slice(-3000)}`);
      await sleep(250);
    }
    return { id, http };
  }

  beforeAll(async () => {
    ensureBase();
    // The docker format keeps HEALTHCHECK (the OCI format has no field for it).
    await podmanAsync(["build", "--format", "docker", "--isolation", "chroot", "--pull=never", "-t", IMAGE, "-f", join(ROOT, "Dockerfile"), ROOT]);
    rt = runtimeArgs();
    dir = tempDir("loyaltyd-image-");
    nats = await startNatsServer({ storeDir: join(dir, "js") });
    nc = await connect({ servers: nats.url });
  }, 1_900_000);

  afterAll(async () => {
    for (const id of containers) podman(["rm", "-f", "-t", "0", id]);
    podman(["volume", "rm", "-f", VOLUME]);
    await nc?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("declares the non-root user, the /data volume, the port, the health check and the entry point", () => {
    const [config] = JSON.parse(ok(["image", "inspect", IMAGE])) as Array<{ Config: Record<string, any>; Healthcheck?: { Test: string[] } }>;
    expect(config!.Config.User).toBe("node");
    expect(Object.keys(config!.Config.Volumes ?? {})).toEqual(["/data"]);
    expect(Object.keys(config!.Config.ExposedPorts ?? {})).toEqual(["8080/tcp"]);
    expect(config!.Config.Entrypoint).toEqual(["node", "dist/src/cli.js"]);
    expect(config!.Config.Cmd).toEqual(["serve"]);
    expect(config!.Healthcheck?.Test.join(" ")).toContain("/healthz");
  });

  it("serves the engine as the node user, ready against a real nats-server, and applies a sale", async () => {
    const { id, http } = await start();
    expect(ok([...rt.global, "exec", id, "id", "-un"])).toBe("node");
    expect(ok([...rt.global, "exec", id, "id", "-u"])).not.toBe("0");
    // Nothing under /app is writable by it; /data is its own.
    expect(podman([...rt.global, "exec", id, "touch", "/app/x"]).status).not.toBe(0);
    expect(ok([...rt.global, "exec", id, "stat", "-c", "%U", "/data"])).toBe("node");
    // No toolchain in the runtime stage.
    for (const tool of ["tsc", "g++", "make", "python3"]) expect(podman([...rt.global, "exec", id, "sh", "-c", `command -v ${tool} || ls node_modules/.bin/${tool}`]).status, tool).not.toBe(0);
    const deadline = Date.now() + 60_000;
    while ((await fetch(`${http}/readyz`)).status !== 200) {
      if (Date.now() > deadline) throw new Error(`not ready: ${await (await fetch(`${http}/readyz`)).text()}`);
      await sleep(250);
    }
    // The image's own HEALTHCHECK command, run in the container.
    const [inspected] = JSON.parse(ok(["image", "inspect", IMAGE])) as Array<{ Healthcheck: { Test: string[] } }>;
    const test = inspected!.Healthcheck.Test;
    expect(test[0]).toBe("CMD");
    expect(podman([...rt.global, "exec", "-e", `LOYALTYD_HTTP_PORT=${new URL(http).port}`, id, ...test.slice(1)]).status).toBe(0);
    const reply = await (await fetch(`${http}/v1/accrue`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(sale(`img-${run}`, { phone: "+48600111222" }, [line("1", 2, 1500)])) })).json();
    expect(reply).toMatchObject({ ok: true });
    expect(reply.earned).toBeGreaterThan(0);
    accounts = reply.accounts.map((a: { account: string; balance: number }) => ({ account: a.account, balance: a.balance }));
    ok([...rt.global, "stop", "-t", "10", id]);
  }, 180_000);

  it("keeps the ledger on the volume: a new container on it sees the points", async () => {
    for (const id of containers) podman([...rt.global, "stop", "-t", "10", id]);
    const { http } = await start();
    const balance = await (await fetch(`${http}/v1/balance`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ customer: { phone: "+48600111222" } }) })).json();
    expect(balance.ok).toBe(true);
    expect(accounts.length).toBeGreaterThan(0);
    for (const a of accounts) expect(balance.accounts.find((b: { account: string }) => b.account === a.account)?.balance, a.account).toBe(a.balance);
  }, 180_000);
});
