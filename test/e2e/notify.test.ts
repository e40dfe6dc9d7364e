// Notifications a connector can rely on, end to end on a real nats-server and a real
// engine: the stream LOYALTY_NOTIFY captures every notification with Nats-Msg-Id = its
// id; the example connector of the docs (docs/examples/notify-connector.mjs) consumes it
// durably, also what was published while it was down; the outbox sends again what
// JetStream did not store, and what a crashed engine committed but never sent.
import type { ChildProcess } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect, nanos, type JetStreamManager, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runConnector } from "../../docs/examples/notify-connector.mjs";
import { startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { childEngineEnv, killHard, line, ROOT, sale, spawnEngine, startTestEnv, tempDir, until, type TestEnv } from "./harness.js";

const STREAM = "LOYALTY_NOTIFY";
type Note = Record<string, any>;

const pad2 = (n: number) => String(n).padStart(2, "0");
/** Today in UTC (the suite's timeZone), as an index day "MM-DD", and its year. */
function today(): { day: string; year: number } {
  const d = new Date();
  return { day: `${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`, year: d.getUTCFullYear() };
}
/** Another day than today. */
function notToday(): string {
  const d = new Date(Date.now() + 40 * 86_400_000);
  return `${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
}

const stored = async (jsm: JetStreamManager) => (await jsm.streams.info(STREAM)).state.messages;

/** The example connector, collecting what it "sends". */
async function connector(natsUrl: string, durable: string) {
  const sent: Note[] = [];
  const c = await runConnector({ nats: { servers: natsUrl }, durable, send: async (n: Note) => void sent.push(n) });
  return { sent, close: () => c.close() as Promise<void> };
}

/** Waits for `count` sends, then a little longer so that an extra one would show. */
async function settle(sent: Note[], count: number): Promise<void> {
  await until(() => sent.length >= count);
  await new Promise((r) => setTimeout(r, 300));
}

async function metric(t: TestEnv, name: string): Promise<number> {
  const text = await (await fetch(`${t.http}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}]/g, "\\$&")}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

describe("notifications through LOYALTY_NOTIFY", () => {
  let t: TestEnv;
  let jsm: JetStreamManager;
  const customers: Record<string, string> = {};
  const earnedIds: string[] = [];

  beforeAll(async () => {
    t = await startTestEnv({ "notify.birthdayHour": 0, "notify.birthdaySweepMs": 200 });
    jsm = await t.nc.jetstreamManager();
  });
  afterAll(async () => t?.stop());

  it("creates the stream at start: file storage, loyalty.notify.>, 7 days, a 10-minute duplicate window", async () => {
    const { config } = await jsm.streams.info(STREAM);
    expect(config).toMatchObject({ subjects: ["loyalty.notify.>"], storage: "file", max_age: nanos(7 * 86_400_000), duplicate_window: nanos(600_000), max_bytes: -1 });
  });

  it("keeps what is published while no connector runs; a connector started later gets each earned once, with enrolled and birthday", async () => {
    const { day, year } = today();
    const profiles = {
      "C-1": { name: "Ada", birthday: `1990-${day}`, consents: { sms: true, email: true } },
      "C-2": { name: "Bo" },
      "C-3": { name: "Cy", birthday: notToday(), consents: { post: true } },
    };
    for (const [card, profile] of Object.entries(profiles)) {
      customers[card] = (await t.rpc("enroll", { requestId: `enr-${card}`, card, profile })).customerId;
    }
    for (let i = 0; i < 12; i++) {
      const id = `rpc-${i}`;
      expect(await t.rpc("accrue", sale(id, { card: i % 2 ? "C-1" : "C-2" }, [line("1", 1, 1000 + i * 100)]))).toMatchObject({ ok: true, duplicate: false });
      earnedIds.push(id);
    }
    for (let i = 0; i < 8; i++) {
      const id = `js-${i}`;
      await t.nc.jetstream().publish("loyalty.events.s01", JSON.stringify(sale(id, { card: "C-3" }, [line("1", 2, 500)])), { msgID: id });
      earnedIds.push(id);
    }
    // Re-sent sales are duplicates: no second notification.
    for (let i = 0; i < 4; i++) expect(await t.rpc("accrue", sale(`rpc-${i}`, { card: i % 2 ? "C-1" : "C-2" }, [line("1", 1, 1000 + i * 100)]))).toMatchObject({ duplicate: true });
    const phone = await t.rpc("accrue", sale("ph-1", { phone: "+48601000001" }, [line("1", 1, 300)]));
    customers.phone = phone.customerId;
    earnedIds.push("ph-1");
    // 4 enrolled, 21 earned, 1 birthday: all in the stream before any connector exists.
    await until(() => stored(jsm).then((n) => n >= 26));

    const c = await connector(t.nats.url, "mailer");
    await settle(c.sent, 26);
    await c.close();
    expect(c.sent).toHaveLength(26);
    const ids = c.sent.map((n) => n.id);
    expect(new Set(ids).size).toBe(26);
    expect(ids.filter((id) => id.startsWith("earned:")).sort()).toEqual(earnedIds.map((e) => `earned:${e}`).sort());
    expect(ids.filter((id) => id.startsWith("enrolled:")).sort()).toEqual(Object.values(customers).map((id) => `enrolled:${id}`).sort());
    expect(c.sent.find((n) => n.id === "earned:rpc-1")).toEqual({
      id: "earned:rpc-1",
      kind: "earned",
      customerId: customers["C-1"],
      consents: { email: true, sms: true, post: false },
      eventId: "rpc-1",
      earned: 11,
      at: Date.UTC(2026, 0, 5, 12, 0, 0),
    });
    expect(c.sent.find((n) => n.id === "earned:js-0")).toMatchObject({ customerId: customers["C-3"], consents: { email: false, sms: false, post: true }, earned: 10 });
    expect(c.sent.find((n) => n.id === "earned:ph-1")).toMatchObject({ customerId: customers.phone, consents: { email: false, sms: false, post: false } });
    expect(c.sent.filter((n) => n.kind === "birthday")).toEqual([
      expect.objectContaining({
        id: `birthday:${customers["C-1"]}:${year}`,
        customerId: customers["C-1"],
        consents: { email: true, sms: true, post: false },
        birthday: `1990-${day}`,
        year,
        age: year - 1990,
      }),
    ]);
    expect(c.sent.find((n) => n.id === `enrolled:${customers["C-1"]}`)).toMatchObject({ kind: "enrolled", via: "enroll", card: "C-1" });
  });

  it("resumes a connector that stopped where it acknowledged: only what came meanwhile, once", async () => {
    const first = await connector(t.nats.url, "sms");
    await settle(first.sent, 26);
    await first.close();
    for (let i = 0; i < 5; i++) await t.rpc("accrue", sale(`later-${i}`, { card: "C-2" }, [line("1", 1, 700)]));
    const again = await connector(t.nats.url, "sms");
    await settle(again.sent, 5);
    await again.close();
    expect(again.sent.map((n) => n.id)).toEqual([0, 1, 2, 3, 4].map((i) => `earned:later-${i}`));
  });

  it("sends again, from the outbox, what JetStream did not store", async () => {
    const { config } = await jsm.streams.info(STREAM);
    await jsm.streams.delete(STREAM);
    for (let i = 0; i < 3; i++) expect(await t.rpc("accrue", sale(`gap-${i}`, { card: "C-2" }, [line("1", 1, 900)]))).toMatchObject({ ok: true });
    await until(async () => (await metric(t, "loyalty_notify_publish_failures_total")) >= 3);
    await until(async () => (await metric(t, "loyalty_notify_pending")) >= 3, 5000);
    await jsm.streams.add(config);
    await until(() => stored(jsm).then((n) => n === 3));
    await until(async () => (await metric(t, "loyalty_notify_pending")) === 0, 5000);
    await until(async () => (await metric(t, "loyalty_notify_outbox_records")) === 0, 5000);
    const c = await connector(t.nats.url, "after-gap");
    await settle(c.sent, 3);
    await c.close();
    expect(c.sent.map((n) => n.id).sort()).toEqual(["earned:gap-0", "earned:gap-1", "earned:gap-2"]);
    expect(await metric(t, "loyalty_notify_resent_total")).toBeGreaterThanOrEqual(3);
  });

  it("reports the notification metrics the docs name", async () => {
    const text = await (await fetch(`${t.http}/metrics`)).text();
    for (const name of ["loyalty_notifications_total", "loyalty_notify_acked_total", "loyalty_notify_publish_failures_total", "loyalty_notify_resent_total", "loyalty_notify_pending", "loyalty_notify_outbox_records", "loyalty_notify_dropped_total"]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(await metric(t, 'loyalty_notify_acked_total{outcome="stored"}')).toBeGreaterThanOrEqual(34);
  });
});

describe("birthdays in the customer's time zone", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv({ "notify.birthdayHour": 0, "notify.birthdaySweepMs": 200 });
  });
  afterAll(async () => t?.stop());

  it("greets a customer on its own local date, which is not the deployment's (UTC) today, and not one without a zone", async () => {
    // At any UTC hour one of these is on another date than UTC: +14 from 10:00 UTC on, -11 before 11:00.
    const zone = new Date().getUTCHours() >= 10 ? "Pacific/Kiritimati" : "Pacific/Pago_Pago";
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(new Date()).map((p) => [p.type, p.value]));
    const day = `${parts.month}-${parts.day}`;
    expect(day).not.toBe(today().day);
    const away = (await t.rpc("enroll", { requestId: "enr-tz", card: "C-tz", profile: { name: "Away", birthday: `1990-${day}`, timeZone: zone, consents: { sms: true } } })).customerId;
    const home = (await t.rpc("enroll", { requestId: "enr-utc", card: "C-utc", profile: { name: "Home", birthday: `1990-${day}` } })).customerId;
    expect((await t.rpc("customer", { customer: { card: "C-tz" } })).profile).toMatchObject({ timeZone: zone });
    const c = await connector(t.nats.url, "greeter");
    await until(() => c.sent.some((n) => n.kind === "birthday"));
    // A few more sweeps: the customer without a zone has no birthday today in UTC.
    await new Promise((r) => setTimeout(r, 1000));
    await c.close();
    expect(c.sent.filter((n) => n.kind === "birthday")).toEqual([
      expect.objectContaining({ id: `birthday:${away}:${parts.year}`, customerId: away, year: Number(parts.year), consents: { email: false, sms: true, post: false } }),
    ]);
    expect(c.sent.some((n) => n.customerId === home && n.kind === "birthday")).toBe(false);
  });
});

describe("notifications with notify.outbox off", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv({ "notify.outbox": "off" });
  });
  afterAll(async () => t?.stop());

  it("still captures every notification in LOYALTY_NOTIFY, and keeps no outbox", async () => {
    await t.rpc("enroll", { requestId: "enr-1", card: "C-1", profile: { consents: { email: true } } });
    for (let i = 0; i < 5; i++) await t.rpc("accrue", sale(`s-${i}`, { card: "C-1" }, [line("1", 1, 1000)]));
    const c = await connector(t.nats.url, "mailer");
    await settle(c.sent, 6);
    await c.close();
    expect(c.sent.map((n) => n.id)).toEqual(["enrolled:cu_000001", ...[0, 1, 2, 3, 4].map((i) => `earned:s-${i}`)]);
    await until(async () => (await metric(t, "loyalty_notify_pending")) === 0, 5000);
  });
});

describe("an engine that dies between the commit and the publish", () => {
  let dir: string;
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let engine: ChildProcess | undefined;

  beforeAll(async () => {
    dir = tempDir("loyaltyd-notify-crash-");
    nats = await startNatsServer({ storeDir: join(dir, "js") });
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    if (engine) await killHard(engine);
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const rpc = async (verb: string, body: unknown, timeout = 10_000) =>
    JSON.parse(Buffer.from((await nc.request(`loyalty.rpc.${verb}`, JSON.stringify(body), { timeout })).data).toString());

  it("publishes it after the restart, from the outbox, once; a retried sale does not notify again", async () => {
    const env = childEngineEnv(dir, nats.url);
    engine = (await spawnEngine({ ...env, LOYALTYD_FAILPOINT_NOTIFY_CRASH_PREFIX: "earned:crash-" })).child;
    const exited = new Promise((r) => engine!.once("exit", r));
    const { customerId } = await rpc("enroll", { requestId: "enr-1", card: "C-1", profile: { consents: { sms: true } } });
    // The reply goes out first (written to the socket in the same turn), the notifications after it: the engine dies publishing them.
    expect(await rpc("accrue", sale("crash-1", { card: "C-1" }, [line("1", 1, 1000)]), 3000)).toMatchObject({ ok: true, duplicate: false, earned: 10 });
    await exited;
    const jsm = await nc.jetstreamManager();
    expect(await stored(jsm)).toBe(1); // the enrolment only

    // Restarted without the failpoint, and with other stream limits.
    engine = (await spawnEngine({ ...env, LOYALTYD_NOTIFY_STREAM_MAX_AGE_MS: String(86_400_000) })).child;
    await until(() => stored(jsm).then((n) => n === 2));
    expect((await jsm.streams.info(STREAM)).config.max_age).toBe(nanos(86_400_000));
    expect(await rpc("accrue", sale("crash-1", { card: "C-1" }, [line("1", 1, 1000)]))).toMatchObject({ ok: true, duplicate: true, earned: 10 });
    const c = await connector(nats.url, "mailer");
    await settle(c.sent, 2);
    await c.close();
    expect(c.sent).toEqual([
      expect.objectContaining({ id: `enrolled:${customerId}` }),
      expect.objectContaining({ id: "earned:crash-1", customerId, consents: { email: false, sms: true, post: false }, earned: 10 }),
    ]);
    expect(await stored(jsm)).toBe(2);
  });
});

describe("the example connector of docs/protocol.md", () => {
  it("is the file the tests run, word for word", () => {
    const example = readFileSync(join(ROOT, "docs/examples/notify-connector.mjs"), "utf8");
    expect(readFileSync(join(ROOT, "docs/protocol.md"), "utf8")).toContain("```js\n" + example + "```");
  });
});
