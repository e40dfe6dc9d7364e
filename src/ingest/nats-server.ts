// Starts a local `nats-server` child with JetStream on loopback: the embedded default
// when no nats.url is configured, and the real server every test and bench runs against.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { writeEmbeddedAuth, type EmbeddedAuth } from "./nats-auth.js";

const CANDIDATES = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"];

/** Path of the nats-server binary, or null when it is not installed. */
export function findNatsServer(): string | null {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(`${dir}/nats-server`)) return `${dir}/nats-server`;
  }
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface NatsServerHandle {
  url: string;
  port: number;
  child: ChildProcess;
  /** With `auth`: the generated users (the engine's, the simulator's, the local POS's) and files. */
  auth: EmbeddedAuth | null;
  stop(): Promise<void>;
}

export interface NatsServerOptions {
  /** JetStream store directory. */
  storeDir: string;
  /** 0 or absent: any free port. */
  port?: number;
  /** How long to wait for the server to accept connections, ms. */
  startTimeoutMs?: number;
  /**
   * Require credentials: generate users with least-privilege roles and write their
   * files into `dir` (see nats-auth.ts). Absent: anyone on loopback may do anything.
   */
  auth?: { dir: string };
  /** A nats-server configuration file of the caller's (e.g. with authorization), read with -c. */
  configFile?: string;
}

export async function startNatsServer(opts: NatsServerOptions): Promise<NatsServerHandle> {
  const bin = findNatsServer();
  if (!bin) {
    throw new Error(
      "nats-server is not installed. Run `npx loyaltyd setup` (as root it runs `apt-get install -y nats-server`), " +
        "or install Debian's nats-server package yourself, or set nats.url to an existing server.",
    );
  }
  mkdirSync(opts.storeDir, { recursive: true });
  const port = opts.port && opts.port > 0 ? opts.port : await freePort();
  const url = `nats://127.0.0.1:${port}`;
  if (opts.auth && opts.configFile) throw new Error("startNatsServer: give auth or configFile, not both");
  const auth = opts.auth ? writeEmbeddedAuth(opts.auth.dir, url) : null;
  const configFile = auth?.configFile ?? opts.configFile;
  // The command line wins over the file: address, port and JetStream stay ours.
  const args = [...(configFile ? ["-c", configFile] : []), "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", opts.storeDir];
  // The embedded server gets its own process group: a Ctrl-C on the engine's terminal reaches
  // the engine alone, which then stops in order and stops the server last (the server dying
  // first would cut the engine off in the middle of its shutdown).
  const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"], detached: auth !== null });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // Never leave an orphan server behind, whatever way this process ends.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  void exited.then(() => process.off("exit", killOnExit));
  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nats-server exited at start: ${stderr}`);
    if (/Server is ready/.test(stderr)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`nats-server did not become ready: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url,
    port,
    child,
    auth,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
