// The participant portal's sign-in end to end over real HTTP and NATS: a code asked for,
// read from loyalty.notify.otp as the SMS / e-mail connector reads it, exchanged for a
// session; expiry, the attempts lock, the rate limits, logout and session expiry, on the
// engine's injected clock.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, send, startTestEnv, until, type TestEnv } from "./harness.js";
import { OtpInbox, bearer, gauge, me, signIn } from "./portal-helpers.js";

const HOUR = 3600_000;
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe("participant portal: sign-in by one-time code", () => {
  let t: TestEnv;
  let inbox: OtpInbox;
  let offset = 0;
  let ada: string;
  let bob: string;
  const quiet = () => new Promise((r) => setTimeout(r, 300));

  beforeAll(async () => {
    t = await startTestEnv(
      { "portal.otpPerHourPerCustomer": 4, "portal.otpPerHourPerIp": 40, "portal.signInPerHourPerIp": 40, "portal.otpAttemptsMax": 3 },
      undefined,
      { now: () => Date.now() + offset },
    );
    inbox = new OtpInbox(t);
    ada = (await t.rpc("enroll", { requestId: "e-ada", card: "C-ADA", profile: { name: "Ada", phone: "+48601000001", email: "ada@example.com", language: "pl", consents: { sms: true } } })).customerId;
    bob = (await t.rpc("enroll", { requestId: "e-bob", card: "C-BOB", profile: { email: "bob@example.com" } })).customerId;
    // Two customers sharing an e-mail address (a family): the address signs neither in.
    await t.rpc("enroll", { requestId: "e-f1", profile: { email: "family@example.com", phone: "+48601000011" } });
    await t.rpc("enroll", { requestId: "e-f2", profile: { email: "family@example.com", phone: "+48601000012" } });
    await t.rpc("enroll", { requestId: "e-none", card: "C-NONE" });
  });
  afterAll(async () => {
    inbox?.close();
    await t?.stop();
  });

  it("sends a code as loyalty.notify.otp, through LOYALTY_NOTIFY, and signs in with it once", async () => {
    const since = inbox.messages.length;
    const asked = await send(t, "POST", "/v1/me/otp", { customer: { card: "C-ADA" } });
    expect(asked).toEqual({ status: 202, body: { ok: true, expiresInMs: 300_000 } });
    const { msgId, payload } = await inbox.next(ada, since);
    expect(payload).toMatchObject({ kind: "otp", customerId: ada, channel: "sms", to: "+48601000001", language: "pl", consents: { sms: true, email: false } });
    expect(payload.code).toMatch(/^\d{6}$/);
    expect(payload.expiresAt - payload.at).toBe(300_000);
    expect(msgId).toBe(payload.id);
    // The stream the connectors consume holds it too.
    const jsm = await t.nc.jetstreamManager();
    const stored = await jsm.streams.getMessage("LOYALTY_NOTIFY", { last_by_subj: "loyalty.notify.otp" });
    expect(stored.json<{ id: string }>().id).toBe(payload.id);

    const session = await send(t, "POST", "/v1/me/session", { customer: { phone: "+48601000001" }, code: payload.code });
    expect(session.status).toBe(200);
    expect(session.body).toMatchObject({ ok: true, customerId: ada });
    expect(session.body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.body.expiresAt).toBeGreaterThan(Date.now() + offset + HOUR - 5000);
    expect((await me(t, session.body.token, "GET", "/v1/me")).body).toMatchObject({ ok: true, customerId: ada, profile: { name: "Ada" } });
    // Used up.
    const again = await send(t, "POST", "/v1/me/session", { customer: { card: "C-ADA" }, code: payload.code });
    expect(again).toMatchObject({ status: 401, body: { ok: false, error: { code: "UNAUTHORIZED", field: "code" } } });
  });

  it("sends to the e-mail address when named by it, or when there is no phone", async () => {
    let since = inbox.messages.length;
    await send(t, "POST", "/v1/me/otp", { customer: { email: "ADA@example.com" } });
    expect((await inbox.next(ada, since)).payload).toMatchObject({ channel: "email", to: "ada@example.com" });
    since = inbox.messages.length;
    await send(t, "POST", "/v1/me/otp", { customer: { card: "C-ADA" }, channel: "email" });
    expect((await inbox.next(ada, since)).payload).toMatchObject({ channel: "email", to: "ada@example.com" });
    since = inbox.messages.length;
    await send(t, "POST", "/v1/me/otp", { customer: { customerId: bob } });
    expect((await inbox.next(bob, since)).payload).toMatchObject({ channel: "email", to: "bob@example.com" });
  });

  it("answers 202 alike for nobody, a shared e-mail, a customer without phone or e-mail, and a blocked card, and sends nothing", async () => {
    await send(t, "POST", "/v1/admin/cards", { requestId: "blk", action: "block", card: "C-BOB" }, auth);
    const since = inbox.messages.length;
    for (const customer of [{ card: "NO-SUCH" }, { phone: "+48609999999" }, { email: "family@example.com" }, { email: "nobody@example.com" }, { card: "C-NONE" }, { card: "C-BOB" }]) {
      expect(await send(t, "POST", "/v1/me/otp", { customer })).toEqual({ status: 202, body: { ok: true, expiresInMs: 300_000 } });
    }
    await quiet();
    expect(inbox.messages.slice(since)).toEqual([]);
    // A sign-in for nobody is refused in the same words as a wrong code.
    const nobody = await send(t, "POST", "/v1/me/session", { customer: { card: "NO-SUCH" }, code: "123456" });
    expect(nobody).toMatchObject({ status: 401, body: { error: { code: "UNAUTHORIZED", message: "the code is wrong, expired or used up; ask for a new one" } } });
  });

  it("keeps a code out of the outbox, in memory, and sends it again until LOYALTY_NOTIFY stores it", async () => {
    offset += HOUR; // fresh buckets
    const jsm = await t.nc.jetstreamManager();
    const { config } = await jsm.streams.info("LOYALTY_NOTIFY");
    await jsm.streams.delete("LOYALTY_NOTIFY");
    const failures = await gauge(t, "loyalty_notify_publish_failures_total");
    const since = inbox.messages.length;
    expect((await send(t, "POST", "/v1/me/otp", { customer: { card: "C-ADA" } })).status).toBe(202);
    const { payload } = await inbox.next(ada, since);
    await until(async () => (await gauge(t, "loyalty_notify_publish_failures_total")) > failures);
    await until(async () => (await gauge(t, "loyalty_notify_pending")) >= 1);
    expect(await gauge(t, "loyalty_notify_outbox_records")).toBe(0);
    await jsm.streams.add(config);
    await until(async () => {
      const stored = await jsm.streams.getMessage("LOYALTY_NOTIFY", { last_by_subj: "loyalty.notify.otp" }).catch(() => null);
      return stored?.json<{ id: string }>().id === payload.id;
    }, 20_000);
    await until(async () => (await gauge(t, "loyalty_notify_pending")) === 0, 20_000);
    // The code still signs in (it was issued once; only its message was sent again).
    expect((await send(t, "POST", "/v1/me/session", { customer: { card: "C-ADA" }, code: payload.code })).status).toBe(200);
  });

  it("refuses malformed requests with VALIDATION", async () => {
    expect((await send(t, "POST", "/v1/me/otp", { customer: { card: "C-ADA" }, channel: "pigeon" })).body.error).toMatchObject({ code: "VALIDATION", field: "channel" });
    expect((await send(t, "POST", "/v1/me/otp", {})).body.error).toMatchObject({ code: "VALIDATION", field: "customer" });
    expect((await send(t, "POST", "/v1/me/session", { customer: { card: "C-ADA" }, code: "12345" })).body.error).toMatchObject({ code: "VALIDATION", field: "code" });
    expect((await t.post("/v1/me/otp", "{not json")).body.error.code).toBe("BAD_REQUEST");
  });

  it("locks a code after otpAttemptsMax wrong tries; a new code replaces it", async () => {
    offset += HOUR; // fresh buckets
    const since = inbox.messages.length;
    await send(t, "POST", "/v1/me/otp", { customer: { card: "C-ADA" } });
    const { code } = (await inbox.next(ada, since)).payload;
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, "0");
    for (let i = 0; i < 3; i++) expect((await send(t, "POST", "/v1/me/session", { customer: { card: "C-ADA" }, code: wrong })).status).toBe(401);
    expect((await send(t, "POST", "/v1/me/session", { customer: { card: "C-ADA" }, code })).status).toBe(401);
    // A new code works (and the old one does not).
    const token = await signIn(t, inbox, { card: "C-ADA" }, ada);
    expect((await me(t, token, "GET", "/v1/me/balance")).status).toBe(200);
    expect((await send(t, "POST", "/v1/me/session", { customer: { card: "C-ADA" }, code })).status).toBe(401);
  });

  it("refuses a code past portal.otpTtlMs", async () => {
    offset += HOUR;
    const since = inbox.messages.length;
    await send(t, "POST", "/v1/me/otp", { customer: { card: "C-ADA" } });
    const { code } = (await inbox.next(ada, since)).payload;
    offset += 300_001;
    expect((await send(t, "POST", "/v1/me/session", { customer: { card: "C-ADA" }, code })).status).toBe(401);
  });

  it("limits codes per customer (whatever reference names them) and per address, with Retry-After; the buckets refill", async () => {
    offset += HOUR;
    const refs = [{ card: "C-ADA" }, { phone: "+48601000001" }, { customerId: ada }, { email: "ada@example.com" }];
    for (const customer of refs) expect((await send(t, "POST", "/v1/me/otp", { customer })).status).toBe(202);
    const res = await fetch(`${t.http}/v1/me/otp`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ customer: { card: "C-ADA" } }) });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("RATE_LIMITED");
    // Nobody is limited the same way: a refusal tells nothing of who exists.
    for (let i = 0; i < 4; i++) expect((await send(t, "POST", "/v1/me/otp", { customer: { card: "GHOST" } })).status).toBe(202);
    expect((await send(t, "POST", "/v1/me/otp", { customer: { card: "GHOST" } })).status).toBe(429);
    // Per address: 40 an hour, whoever is named (10 spent above).
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++) statuses.push((await send(t, "POST", "/v1/me/otp", { customer: { card: `X-${i}` } })).status);
    expect(statuses.slice(0, 30).every((s) => s === 202)).toBe(true);
    expect(statuses[30]).toBe(429);
    // Refused before its body is read: a limited address gets 429 whatever it sends.
    expect((await t.post("/v1/me/otp", "{not json")).status).toBe(429);
    offset += HOUR;
    expect((await send(t, "POST", "/v1/me/otp", { customer: { card: "C-ADA" } })).status).toBe(202);
  });

  it("limits sign-in attempts per address", async () => {
    offset += HOUR;
    const statuses: number[] = [];
    for (let i = 0; i < 41; i++) statuses.push((await send(t, "POST", "/v1/me/session", { customer: { card: `X-${i}` }, code: "000000" })).status);
    expect(statuses.slice(0, 40).every((s) => s === 401)).toBe(true);
    expect(statuses[40]).toBe(429);
    offset += HOUR;
  });

  it("ends a session at logout and at portal.sessionTtlMs; a token is needed and must be a session's", async () => {
    offset += HOUR;
    const token = await signIn(t, inbox, { card: "C-ADA" }, ada);
    const other = await signIn(t, inbox, { card: "C-ADA" }, ada);
    expect(await send(t, "POST", "/v1/me/logout", undefined, bearer(token))).toEqual({ status: 200, body: { ok: true, ended: true } });
    expect((await me(t, token, "GET", "/v1/me")).body.error).toMatchObject({ code: "UNAUTHORIZED" });
    expect((await send(t, "POST", "/v1/me/logout", undefined, bearer(token))).body).toEqual({ ok: true, ended: false });
    // The other device's session lives on, until its hour is up.
    expect((await me(t, other, "GET", "/v1/me")).status).toBe(200);
    offset += HOUR;
    expect((await me(t, other, "GET", "/v1/me")).status).toBe(401);
    expect((await send(t, "GET", "/v1/me")).body.error.code).toBe("UNAUTHORIZED");
    expect((await send(t, "GET", "/v1/me", undefined, auth)).body.error.code).toBe("UNAUTHORIZED");
    expect((await send(t, "POST", "/v1/me/logout")).status).toBe(401);
  });

  it("counts the codes sent and the refusals in the metrics operations.md names", async () => {
    const text = await (await fetch(`${t.http}/metrics`)).text();
    const sample = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
    expect(sample('loyalty_notifications_total{kind="otp"}')).toBeGreaterThan(10);
    for (const code of ["UNAUTHORIZED", "RATE_LIMITED", "VALIDATION"]) expect(sample(`loyalty_rejected_total{source="http",code="${code}"}`), code).toBeGreaterThan(0);
  });

  it("ends the sessions of an erased customer", async () => {
    offset += HOUR;
    const cara = (await t.rpc("enroll", { requestId: "e-cara", card: "C-CARA", profile: { phone: "+48601000021" } })).customerId;
    const token = await signIn(t, inbox, { card: "C-CARA" }, cara);
    expect((await send(t, "POST", `/v1/admin/customers/${cara}/erase`, { reason: "GDPR request", operator: "admin" }, auth)).status).toBe(200);
    expect((await me(t, token, "GET", "/v1/me")).body.error).toMatchObject({ code: "UNAUTHORIZED", message: "the session's customer no longer exists" });
  });
});
