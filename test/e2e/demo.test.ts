// `loyaltyd demo` as a person runs it: on a real pseudo-terminal (util-linux `script`) it
// shows the live status and three commands, and those exact commands work against it;
// the JSON logs go to <dataDir>/loyaltyd.log. Without a terminal, or with --log json,
// stdout carries JSON log lines.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findNatsServer } from "../../src/ingest/nats-server.js";
import { ROOT, spawnEngine, tempDir } from "./harness.js";

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
const hasCurl = spawnSync("sh", ["-c", "command -v curl"]).status === 0;

function demoEnv(dir: string): Record<string, string> {
  return {
    LOYALTYD_DATADIR: join(dir, "data"),
    LOYALTYD_HTTP_PORT: "0",
    LOYALTYD_SIMULATOR_RATE: "100",
    LOYALTYD_SIMULATOR_CUSTOMERS: "100",
    NO_COLOR: "",
  };
}

/** The demo on a pseudo-terminal of 160 x 50; its output, escapes and all, accumulates in `out`. */
function onTerminal(env: Record<string, string>, args: string[] = []) {
  const cmd = `stty cols 160 rows 50; exec ${process.execPath} dist/src/cli.js demo ${args.join(" ")}`;
  const child = spawn("script", ["-qfec", cmd, "/dev/null"], { cwd: ROOT, env: { ...process.env, ...env, TERM: "xterm-256color" }, stdio: ["pipe", "pipe", "pipe"] });
  const state = { out: "", child };
  child.stdout!.on("data", (d: Buffer) => (state.out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (state.out += d.toString()));
  return state;
}

async function until<T>(what: string, get: () => T | null | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The screen as text: escapes removed, carriage returns as line starts. */
const plain = (s: string): string => s.replace(ANSI, "").replace(/\r\n?/g, "\n");

/** Runs one printed command: as printed with sh when curl is installed, else the same arguments (as sh splits them) through fetch. */
async function run(command: string): Promise<Record<string, any>> {
  if (hasCurl) return JSON.parse(execFileSync("sh", ["-c", command], { encoding: "utf8", timeout: 10_000 }));
  const argv = JSON.parse(execFileSync("sh", ["-c", `node -e 'console.log(JSON.stringify(process.argv.slice(1)))' -- ${command.slice("curl ".length)}`], { encoding: "utf8" })) as string[];
  const [, url, , header, , body] = argv;
  const [name, value] = header!.split(": ");
  return (await fetch(url!, { method: "POST", headers: { [name!]: value! }, body })).json() as Promise<Record<string, any>>;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  return new Promise((r) => child.once("exit", (code) => r(code)));
}

describe.skipIf(findNatsServer() === null)("loyaltyd demo", () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(() => {
    dir = tempDir("loyaltyd-demo-");
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("on a terminal: a live status, three commands that work as printed, the logs in dataDir/loyaltyd.log; Ctrl-C stops it all", async () => {
    const env = demoEnv(join(dir, "tty"));
    const term = onTerminal(env);
    children.push(term.child);
    try {
      await onScreen(term);
    } catch (err) {
      // What the terminal showed last says more than the assertion alone.
      (err as Error).message += `\n--- the terminal's last output ---\n${plain(term.out).slice(-3000)}`;
      throw err;
    }
  }, 120_000);

  async function onScreen(term: ReturnType<typeof onTerminal>): Promise<void> {
    const logFile = join(dir, "tty", "data", "loyaltyd.log");
    // The status once the simulator redeems (an authorize latency and points redeemed) and the
    // first segment counts are in (a segment job of its own, which may finish later).
    const settled = (out: string) => /authorize\s+p50 \d/.test(out) && /[1-9][\d,]* redeemed/.test(out) && /segments\s+birthday soon, e-mail ok: \d+/.test(out);
    await until("a status with authorize figures, redeemed points and segment counts", () => settled(plain(term.out)), 60_000);
    const screen = plain(term.out);
    expect(screen).toMatch(/loyaltyd \d+\.\d+\.\d+ demo: the engine/);
    expect(screen).toContain(`Logs (JSON lines): ${logFile}`);
    expect(screen).toMatch(/events\s+[\d,.]+\/s\s+[\d,]+ answered since start/);
    expect(screen).toMatch(/accrual\s+p50 [\d.]+ m?s\s+p99 [\d.]+ m?s/);
    expect(screen).toMatch(/points\s+[1-9][\d,]* earned/);
    expect(screen).toMatch(/errors\s+[\d.]+\/s/);
    expect(screen).toMatch(/stream lag\s+\d+ messages waiting/);
    expect(screen).toMatch(/segments\s+birthday soon, e-mail ok: \d+/);
    // No JSON log line on the terminal: they are in the file.
    expect(screen).not.toMatch(/^\{"level"/m);
    const logged = readFileSync(logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, any>);
    const ready = logged.find((l) => l.msg === "ready")!;
    expect(ready.httpPort).toBeGreaterThan(0);

    // The three commands, as printed, against the port the engine chose.
    const commands = screen.split("\n").filter((l) => l.startsWith("  curl -s ")).map((l) => l.trim());
    expect(commands).toHaveLength(3);
    for (const c of commands) expect(c).toContain(`http://127.0.0.1:${ready.httpPort}/v1/`);
    const [balance, quote, authorize] = commands as [string, string, string];
    expect(await run(balance)).toMatchObject({ ok: true, customerId: expect.any(String), accounts: expect.any(Array) });
    const q = await run(quote);
    expect(q).toMatchObject({ ok: true, breakdown: expect.any(Array), redeemable: { currency: "EUR" } });
    expect(q.earned).toBeGreaterThan(0);
    const a = await run(authorize);
    expect(a).toMatchObject({ ok: true, approved: expect.any(Boolean) });
    if (a.approved) expect(a).toMatchObject({ holdId: expect.stringMatching(/^h_/), amount: 10 });
    // Sent again: the same reply, as the screen says.
    expect(await run(authorize)).toEqual({ ...a, duplicate: true });

    // The operator console's address and this run's token, as printed: the page is served and the token signs in.
    const signIn = /Operator console: (http:\/\/127\.0\.0\.1:(\d+)\/console)\s+token \(this run only\): (\S+)/.exec(screen);
    expect(signIn, "the console line").not.toBeNull();
    const [, consoleUrl, consolePort, token] = signIn!;
    expect(Number(consolePort)).toBe(ready.httpPort);
    expect((await fetch(consoleUrl!)).headers.get("content-type")).toMatch(/^text\/html/);
    expect((await fetch(`http://127.0.0.1:${ready.httpPort}/v1/admin/programmes`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect(logged.find((l) => l.msg === "operator console")).toMatchObject({ console: consoleUrl, consoleToken: token });

    // The participant portal's line: its page is served, and the sample card's one-time code, asked for
    // as the page asks, is printed on the screen (the demo plays the connector) and signs in.
    const portal = /Participant portal: (http:\/\/127\.0\.0\.1:\d+\/me)\s+sign in with card (\S+);/.exec(screen);
    expect(portal, "the portal line").not.toBeNull();
    const [, portalUrl, card] = portal!;
    expect((await fetch(portalUrl!)).headers.get("content-type")).toMatch(/^text\/html/);
    const customer = { card: card! };
    const asked = await fetch(`http://127.0.0.1:${ready.httpPort}/v1/me/otp`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ customer }) });
    expect(asked.status).toBe(202);
    const code = await until("the code on the screen", () => /one-time code (\d{6}) \(email to /.exec(plain(term.out))?.[1]);
    const session = await fetch(`http://127.0.0.1:${ready.httpPort}/v1/me/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ customer, code }) });
    expect(session.status).toBe(200);
    // Never in the log file.
    expect(readFileSync(logFile, "utf8")).not.toContain(code);

    // Ctrl-C (SIGINT to the engine): it stops in order, leaves a last line, and its nats-server goes too.
    const natsPid = logged.find((l) => l.msg === "started embedded nats-server with JetStream")!.natsPid as number;
    process.kill(ready.pid, "SIGINT");
    expect(await exited(term.child)).toBe(0);
    expect(plain(term.out)).toContain(`stopped. The logs are in ${logFile}.`);
    expect(pidAlive(natsPid)).toBe(false);
    expect(readFileSync(logFile, "utf8")).toContain('"msg":"stopped"');
  }

  it("with --log json on a terminal: JSON log lines on stdout, no status", async () => {
    const env = demoEnv(join(dir, "json"));
    const term = onTerminal(env, ["--log", "json"]);
    children.push(term.child);
    const readyLine = await until("the ready line", () => plain(term.out).split("\n").find((l) => l.includes('"msg":"ready"')));
    const lines = plain(term.out).split("\n").filter((l) => l.trim());
    for (const l of lines.slice(0, lines.indexOf(readyLine) + 1)) expect(() => JSON.parse(l), l).not.toThrow();
    expect(plain(term.out)).not.toContain("curl -s");
    expect(existsSync(join(dir, "json", "data", "loyaltyd.log"))).toBe(false);
    process.kill((JSON.parse(readyLine) as { pid: number }).pid, "SIGINT");
    expect(await exited(term.child)).toBe(0);
  }, 60_000);

  it("with LOYALTYD_SIMULATOR=b2b: distributors submit reports, an approver decides them, in the log", async () => {
    const env = { ...demoEnv(join(dir, "b2b")), LOYALTYD_SIMULATOR: "b2b" };
    const demo = await spawnEngine(env, "demo");
    children.push(demo.child);
    let out = "";
    demo.child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    const flowing = await until("a b2b summary with approved reports", () => out.split("\n").find((l) => /sim b2b: reports [1-9]\d* submitted, [1-9]\d* approved/.test(l)));
    expect(JSON.parse(flowing)).toMatchObject({ simulator: "b2b" });
    expect(out).toContain("12 distributors enrolled");
    demo.child.kill("SIGINT");
    expect(await exited(demo.child)).toBe(0);
  }, 60_000);

  it("without a terminal: JSON log lines on stdout, as before", async () => {
    const env = demoEnv(join(dir, "pipe"));
    // spawnEngine reads stdout as JSON lines until "ready": every line before it parsed.
    const demo = await spawnEngine(env, "demo");
    children.push(demo.child);
    const natsPid = demo.logged.find((l) => l.msg === "started embedded nats-server with JetStream")!.natsPid as number;
    expect(existsSync(join(dir, "pipe", "data", "loyaltyd.log"))).toBe(false);
    // At once, while the simulator enrols: still an orderly stop, the nats-server child included.
    demo.child.kill("SIGINT");
    expect(await exited(demo.child)).toBe(0);
    expect(pidAlive(natsPid)).toBe(false);
  }, 60_000);
});
