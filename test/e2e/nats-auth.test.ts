// NATS with credentials and least privilege, end to end: the shipped
// config/nats/accounts.conf on a real nats-server, a real engine, real POS, connector
// and operator clients; other ways in (token, nkey, TLS); the embedded server's users.
import { spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AckPolicy, connect, credsAuthenticator, ErrorCode, Events, nkeyAuthenticator, nkeys, type ConnectionOptions, type NatsConnection, type NatsError } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { startEngine, type Engine } from "../../src/engine.js";
import { startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { createLogger } from "../../src/observe/logger.js";
import { runConnector } from "../../docs/examples/notify-connector.mjs";
import { BASE_PROGRAMME, EVENTS_LATE_MS_TESTS, line, programmesDir, ROOT, sale, spawnEngine, tempDir, until } from "./harness.js";

const SHIPPED = join(ROOT, "config/nats/accounts.conf");
const USERS = ["loyaltyd", "pos-s01", "pos-s02", "connector", "operator"];

/** The shipped file with a test password in each placeholder's place; not a character else changes. */
function withTestPasswords(text: string, passwords: Record<string, string>): string {
  let replaced = 0;
  const out = text.replace(/\{ user: "([^"]+)",(\s*)password: "\$2a\$11\$REPLACE[^"]*"/g, (_m, user: string, space: string) => {
    replaced++;
    return `{ user: "${user}",${space}password: "${passwords[user]}"`;
  });
  expect(replaced).toBe(Object.keys(passwords).length);
  return out;
}

const decode = (data: Uint8Array) => JSON.parse(new TextDecoder().decode(data));

/** The docs' example connector with these connection options; what it "sends", by id. */
async function connectorRun(nats: ConnectionOptions, durable: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  const c = await runConnector({ nats, durable, send: async (n: { id: string }) => void ids.push(n.id) });
  await until(() => ids.length >= count);
  await new Promise((r) => setTimeout(r, 300));
  await c.close();
  return ids;
}

async function rpc(nc: NatsConnection, verb: string, body: unknown): Promise<Record<string, any>> {
  return decode((await nc.request(`loyalty.rpc.${verb}`, JSON.stringify(body), { timeout: 10_000 })).data);
}

/** The error nats.js hands a subscription the server refused; fails if it is allowed. */
function refusedSubscription(nc: NatsConnection, subject: string, queue?: string): Promise<NatsError> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the subscription to ${subject} was not refused`)), 5000);
    nc.subscribe(subject, {
      ...(queue ? { queue } : {}),
      callback: (err) => {
        clearTimeout(timer);
        if (err) resolve(err);
        else reject(new Error(`a message arrived on ${subject}`));
      },
    });
  });
}

/** The permission error the server answers a plain publish with; fails if none comes. */
async function refusedPublish(nc: NatsConnection, subject: string): Promise<string> {
  const status = nc.status();
  const timer = setTimeout(() => status.stop(), 5000);
  nc.publish(subject, JSON.stringify({ probe: true }));
  for await (const s of status) {
    if (s.type === Events.Error && s.permissionContext?.subject === subject) {
      clearTimeout(timer);
      status.stop();
      return `${s.data} ${s.permissionContext.operation}`;
    }
  }
  throw new Error(`publishing to ${subject} was not refused`);
}

const stopChild = async (child: ChildProcess | undefined) => {
  if (!child || child.exitCode !== null) return;
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
};

const engineEnv = (dir: string): Record<string, string> => ({
  LOYALTYD_DATA_DIR: join(dir, "data"),
  LOYALTYD_HTTP_PORT: "0",
  LOYALTYD_PROGRAMMES_DIR: programmesDir(dir, [BASE_PROGRAMME]),
  LOYALTYD_EVENTS_LATE_MS_MAX: String(EVENTS_LATE_MS_TESTS),
  LOYALTYD_LOG_LEVEL: "info",
});

describe("the shipped config/nats/accounts.conf", () => {
  const pw: Record<string, string> = Object.fromEntries(USERS.map((u) => [u, `pw-${u}-${randomBytes(9).toString("base64url")}`]));
  let dir: string;
  let nats: NatsServerHandle;
  let engine: ChildProcess;
  let ready: Record<string, any>;
  let logged: Record<string, any>[];
  const clients: NatsConnection[] = [];
  const as = async (user: string, extra: Partial<ConnectionOptions> = {}) => {
    const nc = await connect({ servers: nats.url, user, pass: pw[user], inboxPrefix: `_INBOX.${user}`, ...extra });
    clients.push(nc);
    return nc;
  };
  let pos1: NatsConnection;
  let pos2: NatsConnection;
  let operator: NatsConnection;
  const eventsStored = async () => (await (await operator.jetstreamManager()).streams.info("LOYALTY_EVENTS")).state.messages;

  beforeAll(async () => {
    dir = tempDir("loyaltyd-nats-auth-");
    writeFileSync(join(dir, "accounts.conf"), withTestPasswords(readFileSync(SHIPPED, "utf8"), pw));
    writeFileSync(join(dir, "server.conf"), "include ./accounts.conf\n");
    nats = await startNatsServer({ storeDir: join(dir, "js"), configFile: join(dir, "server.conf") });
    const url = `nats://loyaltyd:${encodeURIComponent(pw.loyaltyd!)}@127.0.0.1:${nats.port}`;
    ({ child: engine, ready, logged } = await spawnEngine({ ...engineEnv(dir), LOYALTYD_NATS_URL: url }));
    pos1 = await as("pos-s01");
    pos2 = await as("pos-s02");
    operator = await as("operator");
    expect(await rpc(pos1, "enroll", { requestId: "enr-1", profile: { name: "Ada" }, card: "C-100" })).toMatchObject({ ok: true });
  });
  afterAll(async () => {
    for (const nc of clients) await nc.close();
    await stopChild(engine);
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lets the engine in with the credentials of its URL, and logs the URL without them", () => {
    expect(ready.natsUrl).toBe(`nats://***@127.0.0.1:${nats.port}`);
    expect(JSON.stringify([...logged, ready])).not.toContain(pw.loyaltyd);
  });

  it("lets a POS accrue over rpc", async () => {
    const r = await rpc(pos1, "accrue", sale("rpc-1", { card: "C-100" }, [line("1", 2, 1250)]));
    expect(r).toMatchObject({ ok: true, eventId: "rpc-1", earned: 25, balance: 25 });
  });

  it("lets a POS publish its own store's events to the stream, get the stream's ack on its inbox and read its results", async () => {
    const results = pos1.subscribe("loyalty.results.s01", { max: 1 });
    const ack = await pos1.jetstream().publish("loyalty.events.s01", JSON.stringify(sale("js-1", { card: "C-100" }, [line("1", 1, 1000)])), { msgID: "js-1" });
    expect(ack).toMatchObject({ stream: "LOYALTY_EVENTS", duplicate: false });
    for await (const m of results) expect(decode(m.data)).toMatchObject({ ok: true, eventId: "js-1", earned: 10, balance: 35 });
  });

  it("refuses a POS publishing another store's events: nothing reaches the stream", async () => {
    const before = await eventsStored();
    const elsewhere = sale("js-other", { card: "C-100" }, [line("1", 1, 1000)], { storeId: "s02" });
    await expect(pos1.jetstream().publish("loyalty.events.s02", JSON.stringify(elsewhere), { msgID: "js-other" })).rejects.toMatchObject({ code: ErrorCode.PermissionsViolation });
    expect(await refusedPublish(pos1, "loyalty.events.s02")).toBe(`${ErrorCode.PermissionsViolation} publish`);
    expect(await refusedPublish(pos1, "loyalty.results.s01")).toBe(`${ErrorCode.PermissionsViolation} publish`);
    expect(await eventsStored()).toBe(before);
  });

  it("refuses a POS answering terminals: no rpc subscription, in the engine's queue group or not", async () => {
    expect((await refusedSubscription(pos2, "loyalty.rpc.>", "loyaltyd")).code).toBe(ErrorCode.PermissionsViolation);
    expect((await refusedSubscription(pos2, "loyalty.rpc.balance", "loyaltyd")).code).toBe(ErrorCode.PermissionsViolation);
    expect((await refusedSubscription(pos2, "loyalty.rpc.balance")).code).toBe(ErrorCode.PermissionsViolation);
    for (let i = 0; i < 10; i++) expect(await rpc(pos1, "balance", { customer: { card: "C-100" } })).toMatchObject({ ok: true, accounts: [{ balance: 35 }] });
  });

  it("refuses a POS reading another's replies or another store's results", async () => {
    expect((await refusedSubscription(pos2, "_INBOX.>")).code).toBe(ErrorCode.PermissionsViolation);
    expect((await refusedSubscription(pos2, "_INBOX.pos-s01.>")).code).toBe(ErrorCode.PermissionsViolation);
    expect((await refusedSubscription(pos2, "loyalty.results.s01")).code).toBe(ErrorCode.PermissionsViolation);
  });

  it("refuses a POS the JetStream API: no purge, no delete, the stream and its consumer stay", async () => {
    await expect(pos1.jetstreamManager()).rejects.toMatchObject({ code: ErrorCode.PermissionsViolation });
    const jsm = await pos1.jetstreamManager({ checkAPI: false });
    const before = await eventsStored();
    await expect(jsm.streams.purge("LOYALTY_EVENTS")).rejects.toMatchObject({ code: ErrorCode.PermissionsViolation });
    await expect(jsm.streams.delete("LOYALTY_EVENTS")).rejects.toMatchObject({ code: ErrorCode.PermissionsViolation });
    await expect(jsm.consumers.delete("LOYALTY_EVENTS", "loyaltyd")).rejects.toMatchObject({ code: ErrorCode.PermissionsViolation });
    expect(await eventsStored()).toBe(before);
    expect(before).toBeGreaterThan(0);
    expect((await (await operator.jetstreamManager()).consumers.info("LOYALTY_EVENTS", "loyaltyd")).name).toBe("loyaltyd");
  });

  it("gives the connector the notifications and nothing else; a POS none", async () => {
    expect((await refusedSubscription(pos1, "loyalty.notify.>")).code).toBe(ErrorCode.PermissionsViolation);
    const connector = await as("connector");
    const notes = connector.subscribe("loyalty.notify.earned", { max: 1 });
    await connector.flush();
    expect(await rpc(pos1, "accrue", sale("rpc-notify", { card: "C-100" }, [line("1", 1, 700)]))).toMatchObject({ ok: true, earned: 7 });
    for await (const m of notes) expect(decode(m.data)).toMatchObject({ kind: "earned", eventId: "rpc-notify", earned: 7 });
    expect((await refusedSubscription(connector, "loyalty.results.>")).code).toBe(ErrorCode.PermissionsViolation);
    expect(await refusedPublish(connector, "loyalty.events.s01")).toBe(`${ErrorCode.PermissionsViolation} publish`);
    expect(await refusedPublish(connector, "loyalty.rpc.balance")).toBe(`${ErrorCode.PermissionsViolation} publish`);
  });

  it("lets the connector consume LOYALTY_NOTIFY durably with its own consumer, and no more of JetStream", async () => {
    const opts = { servers: nats.url, user: "connector", pass: pw.connector, inboxPrefix: "_INBOX.connector" };
    const first = await connectorRun(opts, "connector", 4);
    expect(first.sort()).toEqual(["earned:js-1", "earned:rpc-1", "earned:rpc-notify", "enrolled:cu_000001"]);
    // Down while a sale happens; back, it gets that one only.
    expect(await rpc(pos1, "accrue", sale("while-down", { card: "C-100" }, [line("1", 1, 300)]))).toMatchObject({ ok: true, earned: 3 });
    expect(await connectorRun(opts, "connector", 1)).toEqual(["earned:while-down"]);

    const connector = await as("connector");
    const jsm = await connector.jetstreamManager();
    const refused = { code: ErrorCode.PermissionsViolation };
    await expect(jsm.consumers.add("LOYALTY_NOTIFY", { durable_name: "other", ack_policy: AckPolicy.Explicit })).rejects.toMatchObject(refused);
    await expect(jsm.consumers.delete("LOYALTY_NOTIFY", "connector")).rejects.toMatchObject(refused);
    await expect(jsm.streams.purge("LOYALTY_NOTIFY")).rejects.toMatchObject(refused);
    await expect(jsm.streams.delete("LOYALTY_NOTIFY")).rejects.toMatchObject(refused);
    await expect(jsm.streams.info("LOYALTY_EVENTS")).rejects.toMatchObject(refused);
    await expect(jsm.consumers.add("LOYALTY_EVENTS", { durable_name: "connector", ack_policy: AckPolicy.Explicit })).rejects.toMatchObject(refused);
    expect((await jsm.consumers.info("LOYALTY_NOTIFY", "connector")).num_pending).toBe(0);
  });

  it("lets the engine trim a partition's command log, never purge the events, notifications or cluster buckets", async () => {
    const engine = await connect({ servers: nats.url, user: "loyaltyd", pass: pw.loyaltyd });
    try {
      const jsm = await engine.jetstreamManager();
      const js = engine.jetstream();
      await jsm.streams.add({ name: "LOYALTY_CMD_9", subjects: ["loyalty.cmd.9"] });
      for (let i = 0; i < 3; i++) await js.publish("loyalty.cmd.9", new Uint8Array([i]));
      expect((await jsm.streams.purge("LOYALTY_CMD_9", { seq: 3 })).purged).toBe(2);
      for (const stream of ["LOYALTY_EVENTS", "LOYALTY_NOTIFY"]) {
        await expect(jsm.streams.purge(stream), stream).rejects.toMatchObject({ code: ErrorCode.PermissionsViolation });
      }
    } finally {
      await engine.close();
    }
  });

  it("gives the operator JetStream information, read only", async () => {
    const jsm = await operator.jetstreamManager();
    expect((await jsm.streams.info("LOYALTY_EVENTS")).config.subjects).toEqual(["loyalty.events.>"]);
    await expect(jsm.streams.purge("LOYALTY_EVENTS")).rejects.toMatchObject({ code: ErrorCode.PermissionsViolation });
    expect(await refusedPublish(operator, "loyalty.events.s01")).toBe(`${ErrorCode.PermissionsViolation} publish`);
  });

  it("refuses a wrong password, and no password", async () => {
    await expect(connect({ servers: nats.url, user: "pos-s01", pass: "not-the-password" })).rejects.toMatchObject({ code: ErrorCode.AuthorizationViolation });
    await expect(connect({ servers: nats.url })).rejects.toMatchObject({ code: ErrorCode.AuthorizationViolation });
  });

  it("stops an engine that NATS refuses with exit 78 and a message that names the keys and no secret", () => {
    const run = (env: Record<string, string>) =>
      spawnSync(process.execPath, [join(ROOT, "dist/src/cli.js"), "serve"], {
        env: { ...process.env, ...engineEnv(join(dir, `refused-${randomBytes(3).toString("hex")}`)), ...env },
        encoding: "utf8",
        timeout: 30_000,
      });
    const wrong = run({ LOYALTYD_NATS_URL: `nats://loyaltyd:not-the-password@127.0.0.1:${nats.port}` });
    expect(wrong.status).toBe(78);
    expect(wrong.stderr).toContain(`NATS at nats://***@127.0.0.1:${nats.port} refused the engine's credentials`);
    expect(wrong.stderr).toContain("nats.passFile");
    expect(wrong.stderr + wrong.stdout).not.toContain("not-the-password");
    // A POS's (right) password: NATS lets it in, but not into the engine's rpc queue group.
    writeFileSync(join(dir, "pos-pass"), `${pw["pos-s01"]}\n`);
    const pos = run({ LOYALTYD_NATS_URL: nats.url, LOYALTYD_NATS_USER: "pos-s01", LOYALTYD_NATS_PASS_FILE: join(dir, "pos-pass") });
    expect(pos.status).toBe(78);
    expect(pos.stderr).toMatch(/does not let the engine's user .*give it the engine role of config\/nats\/accounts.conf/);
    expect(pos.stderr + pos.stdout).not.toContain(pw["pos-s01"]);
  });
});

it("ships placeholders that admit nobody, not even with the placeholder as the password", async () => {
  const dir = tempDir("loyaltyd-nats-placeholders-");
  const nats = await startNatsServer({ storeDir: join(dir, "js"), configFile: SHIPPED });
  try {
    const placeholder = /password: "([^"]+)"/.exec(readFileSync(SHIPPED, "utf8"))![1]!;
    for (const user of USERS) {
      await expect(connect({ servers: nats.url, user, pass: placeholder })).rejects.toMatchObject({ code: ErrorCode.AuthorizationViolation });
    }
  } finally {
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** An engine in this process on a NATS that wants other credentials. */
async function engineOn(dir: string, nats: NatsServerHandle, keys: Record<string, unknown>): Promise<Engine> {
  const config = loadConfig({
    env: {},
    overrides: {
      "nats.url": nats.url,
      dataDir: join(dir, "data"),
      programmesDir: programmesDir(dir, [BASE_PROGRAMME]),
      "http.port": 0,
      logLevel: "silent",
      ...keys,
    },
  });
  return startEngine(config, createLogger("silent"));
}

type KeyPair = ReturnType<typeof nkeys.createUser>;
const UNLIMITED = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };

/** A NATS JWT signed by `signer`, as nsc would write it: enough for a server in operator mode. */
function natsJwt(signer: KeyPair, subject: KeyPair, name: string, nats: Record<string, unknown>): string {
  const b64 = (x: unknown) => Buffer.from(JSON.stringify(x)).toString("base64url");
  const claims: Record<string, unknown> = { iat: Math.floor(Date.now() / 1000), iss: signer.getPublicKey(), name, sub: subject.getPublicKey(), nats: { ...nats, version: 2 } };
  claims.jti = createHash("sha256").update(JSON.stringify(claims)).digest("base64url");
  const signed = `${b64({ typ: "JWT", alg: "ed25519-nkey" })}.${b64(claims)}`;
  return `${signed}.${Buffer.from(signer.sign(Buffer.from(signed))).toString("base64url")}`;
}

/** A .creds file: the user's JWT and its nkey seed. */
function credsFor(account: KeyPair, name: string): string {
  const user = nkeys.createUser();
  const jwt = natsJwt(account, user, name, { type: "user", pub: {}, sub: {}, subs: -1, data: -1, payload: -1 });
  const seed = new TextDecoder().decode(user.getSeed());
  return `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`;
}

describe("other ways in: a token file, an nkey seed file, a creds file, TLS with a client certificate", () => {
  let dir: string;
  const servers: NatsServerHandle[] = [];
  const engines: Engine[] = [];
  const clients: NatsConnection[] = [];
  beforeAll(() => {
    dir = tempDir("loyaltyd-nats-ways-");
  });
  afterAll(async () => {
    for (const nc of clients) await nc.close();
    for (const e of engines) await e.close();
    for (const s of servers) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const serverWith = async (name: string, conf: string) => {
    writeFileSync(join(dir, `${name}.conf`), conf);
    const s = await startNatsServer({ storeDir: join(dir, name, "js"), configFile: join(dir, `${name}.conf`) });
    servers.push(s);
    return s;
  };
  const answersBalance = async (opts: ConnectionOptions) => {
    const nc = await connect(opts);
    clients.push(nc);
    expect(await rpc(nc, "balance", { customer: { card: "C-nobody" } })).toMatchObject({ ok: false, error: { code: "UNKNOWN_CUSTOMER" } });
  };

  it("connects with a token read from nats.tokenFile", async () => {
    const token = randomBytes(18).toString("base64url");
    const nats = await serverWith("token", `authorization { token: "${token}" }\n`);
    writeFileSync(join(dir, "token.txt"), `${token}\n`);
    engines.push(await engineOn(join(dir, "token"), nats, { "nats.tokenFile": join(dir, "token.txt") }));
    await answersBalance({ servers: nats.url, token });
    await expect(connect({ servers: nats.url, token: "wrong" })).rejects.toMatchObject({ code: ErrorCode.AuthorizationViolation });
  });

  it("connects with an nkey seed read from nats.nkeySeedFile", async () => {
    const engineKey = nkeys.createUser();
    const clientKey = nkeys.createUser();
    const nats = await serverWith("nkey", `authorization { users = [ { nkey: "${engineKey.getPublicKey()}" }, { nkey: "${clientKey.getPublicKey()}" } ] }\n`);
    writeFileSync(join(dir, "engine.nk"), `${new TextDecoder().decode(engineKey.getSeed())}\n`);
    engines.push(await engineOn(join(dir, "nkey"), nats, { "nats.nkeySeedFile": join(dir, "engine.nk") }));
    await answersBalance({ servers: nats.url, authenticator: nkeyAuthenticator(clientKey.getSeed()) });
    await expect(connect({ servers: nats.url, authenticator: nkeyAuthenticator(nkeys.createUser().getSeed()) })).rejects.toMatchObject({ code: ErrorCode.AuthorizationViolation });
  });

  it("connects with a user JWT and seed read from nats.credsFile (operator mode)", async () => {
    const operator = nkeys.createOperator();
    const account = nkeys.createAccount();
    const system = nkeys.createAccount();
    const accountJwt = natsJwt(operator, account, "LOYALTY", { type: "account", limits: { ...UNLIMITED, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } });
    const systemJwt = natsJwt(operator, system, "SYS", { type: "account", limits: UNLIMITED });
    const nats = await serverWith(
      "creds",
      `operator: "${natsJwt(operator, operator, "test", { type: "operator" })}"\nresolver: MEMORY\nsystem_account: ${system.getPublicKey()}\n` +
        `resolver_preload: { ${account.getPublicKey()}: "${accountJwt}", ${system.getPublicKey()}: "${systemJwt}" }\n`,
    );
    writeFileSync(join(dir, "engine.creds"), credsFor(account, "loyaltyd"));
    engines.push(await engineOn(join(dir, "creds"), nats, { "nats.credsFile": join(dir, "engine.creds") }));
    await answersBalance({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(credsFor(account, "pos"))) });
    await expect(connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(credsFor(nkeys.createAccount(), "stranger"))) })).rejects.toMatchObject({
      code: ErrorCode.AuthorizationViolation,
    });
  });

  it.skipIf(spawnSync("openssl", ["version"]).status !== 0)("connects over TLS with nats.tls.ca, nats.tls.cert and nats.tls.key, and a password", async () => {
    const pki = join(dir, "pki");
    const openssl = (...args: string[]) => {
      const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
    };
    spawnSync("mkdir", ["-p", pki]);
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl("req", "-x509", ...ec, "-keyout", `${pki}/ca.key`, "-out", `${pki}/ca.pem`, "-days", "1", "-subj", "/CN=loyaltyd test CA");
    for (const [name, ext] of [
      // nats.js upgrades the plain socket without a host name for an IP: Node then checks "localhost".
      ["server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"],
      ["engine", "extendedKeyUsage=clientAuth\n"],
      ["client", "extendedKeyUsage=clientAuth\n"],
    ] as const) {
      writeFileSync(`${pki}/${name}.ext`, ext);
      openssl("req", ...ec, "-keyout", `${pki}/${name}.key`, "-out", `${pki}/${name}.csr`, "-subj", `/CN=${name}`);
      openssl("x509", "-req", "-in", `${pki}/${name}.csr`, "-CA", `${pki}/ca.pem`, "-CAkey", `${pki}/ca.key`, "-CAcreateserial", "-out", `${pki}/${name}.pem`, "-days", "1", "-extfile", `${pki}/${name}.ext`);
    }
    const pass = randomBytes(12).toString("base64url");
    const nats = await serverWith(
      "tls",
      `tls { cert_file: "${pki}/server.pem", key_file: "${pki}/server.key", ca_file: "${pki}/ca.pem", verify: true }\n` +
        `authorization { users = [ { user: "loyaltyd", password: "${pass}" }, { user: "client", password: "${pass}" } ] }\n`,
    );
    engines.push(
      await engineOn(join(dir, "tls"), nats, {
        "nats.user": "loyaltyd",
        "nats.pass": pass,
        "nats.tls.ca": `${pki}/ca.pem`,
        "nats.tls.cert": `${pki}/engine.pem`,
        "nats.tls.key": `${pki}/engine.key`,
      }),
    );
    await answersBalance({ servers: nats.url, user: "client", pass, tls: { caFile: `${pki}/ca.pem`, certFile: `${pki}/client.pem`, keyFile: `${pki}/client.key` } });
    // The same user without a client certificate: the server's verify drops the connection.
    await expect(connect({ servers: nats.url, user: "client", pass, tls: { caFile: `${pki}/ca.pem` }, reconnect: false })).rejects.toThrow(/ECONNRESET|certificate/);
  });
});

function readEnvFile(file: string): Record<string, string> {
  const entries = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]);
  return Object.fromEntries(entries);
}

describe("the embedded nats-server", () => {
  let dir: string;
  let engine: ChildProcess | undefined;
  const clients: NatsConnection[] = [];
  beforeAll(() => {
    dir = tempDir("loyaltyd-nats-embedded-");
  });
  afterAll(async () => {
    for (const nc of clients) await nc.close();
    await stopChild(engine);
    rmSync(dir, { recursive: true, force: true });
  });

  it("requires credentials; the local POS user's are in dataDir/nats-pos.env (0600), named in the log, and give a terminal's rights", async () => {
    const started = await spawnEngine(engineEnv(dir));
    engine = started.child;
    const line0 = started.logged.find((l) => l.msg === "started embedded nats-server with JetStream")!;
    const posFile = join(dir, "data", "nats-pos.env");
    expect(line0.posCredentialsFile).toBe(posFile);
    expect(statSync(posFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "data", "nats-server.conf")).mode & 0o777).toBe(0o600);
    const env = readEnvFile(posFile);
    expect(env).toMatchObject({ NATS_URL: started.ready.natsUrl, NATS_USER: "pos-local", NATS_INBOX_PREFIX: "_INBOX.pos-local" });
    expect(JSON.stringify([...started.logged, started.ready])).not.toContain(env.NATS_PASSWORD);

    await expect(connect({ servers: env.NATS_URL })).rejects.toMatchObject({ code: ErrorCode.AuthorizationViolation });
    const pos = await connect({ servers: env.NATS_URL, user: env.NATS_USER, pass: env.NATS_PASSWORD, inboxPrefix: env.NATS_INBOX_PREFIX });
    clients.push(pos);
    expect(await rpc(pos, "enroll", { requestId: "enr-local", profile: { name: "Bo" }, card: "C-7" })).toMatchObject({ ok: true });
    expect(await rpc(pos, "accrue", sale("local-1", { card: "C-7" }, [line("1", 1, 1000)]))).toMatchObject({ ok: true, earned: 10 });
    const results = pos.subscribe("loyalty.results.s07", { max: 1 });
    await pos.jetstream().publish("loyalty.events.s07", JSON.stringify(sale("local-2", { card: "C-7" }, [line("1", 1, 500)], { storeId: "s07" })), { msgID: "local-2" });
    for await (const m of results) expect(decode(m.data)).toMatchObject({ ok: true, eventId: "local-2", balance: 15 });
    expect((await refusedSubscription(pos, "loyalty.rpc.>", "loyaltyd")).code).toBe(ErrorCode.PermissionsViolation);
    expect((await refusedSubscription(pos, "_INBOX.>")).code).toBe(ErrorCode.PermissionsViolation);
    await expect(pos.jetstreamManager()).rejects.toMatchObject({ code: ErrorCode.PermissionsViolation });
  });

  it("writes the local connector's credentials to dataDir/nats-connector.env (0600); with them it consumes LOYALTY_NOTIFY durably", async () => {
    const file = join(dir, "data", "nats-connector.env");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const env = readEnvFile(file);
    expect(env).toMatchObject({ NATS_USER: "connector", NATS_INBOX_PREFIX: "_INBOX.connector", NATS_DURABLE: "connector" });
    const opts = { servers: env.NATS_URL, user: env.NATS_USER, pass: env.NATS_PASSWORD, inboxPrefix: env.NATS_INBOX_PREFIX };
    expect((await connectorRun(opts, env.NATS_DURABLE!, 3)).sort()).toEqual(["earned:local-1", "earned:local-2", "enrolled:cu_000001"]);
  });

  it("runs the demo: the simulator, a terminal with its own user, enrols, publishes, changes customers and gets its results", async () => {
    await stopChild(engine);
    const env = { ...engineEnv(join(dir, "demo")), LOYALTYD_SIMULATOR_RATE: "50", LOYALTYD_SIMULATOR_CUSTOMERS: "50" };
    const demo = await spawnEngine(env, "demo");
    engine = demo.child;
    const summary = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no simulator summary within 20 s")), 20_000);
      let out = "";
      demo.child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const l = out.split("\n").find((x) => x.includes("sim: published"));
        if (l) {
          clearTimeout(timer);
          resolve(JSON.parse(l).msg);
        }
      });
    });
    expect(summary).toMatch(/results [1-9]\d*\/s/);
    expect(summary).toContain("errors none");
    // The simulator also changes customers (updateCustomer over its terminal user): all taken.
    expect(summary).toMatch(/customer updates [1-9]\d* ok 0 failed/);
  });
});
