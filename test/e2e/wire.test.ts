// The wire contract end to end: real nats-server, real LMDB in a temp dir, real engine.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headers as natsHeaders } from "nats";
import { ADMIN_TOKEN, line, sale, startTestEnv, type TestEnv } from "./harness.js";

describe.each([
  ["inline", { executor: "inline", partitions: 2 }],
  ["workers", { executor: "workers", partitions: 2 }],
])("wire contract (%s executor)", (_name, overrides) => {
  let t: TestEnv;
  let cardCustomer: string;
  beforeAll(async () => {
    t = await startTestEnv(overrides);
    const r = await t.rpc("enroll", { requestId: "enr-1", profile: { name: "Ada", email: "ada@example.com" }, card: "C-100" });
    expect(r.ok).toBe(true);
    cardCustomer = r.customerId;
  });
  afterAll(async () => t?.stop());

  it("accrues a sale over NATS JSON and replies after commit with the balance", async () => {
    const r = await t.rpc("accrue", sale("s-1", { card: "C-100" }, [line("1", 2, 1250)]));
    expect(r).toMatchObject({ ok: true, eventId: "s-1", customerId: cardCustomer, earned: 25, balance: 25, available: 25, duplicate: false });
    expect(r.breakdown).toEqual(expect.arrayContaining([expect.objectContaining({ programme: "base", rule: "spend", amount: 25 })]));
  });

  it("answers a re-sent sale with the first reply and duplicate: true, earning nothing twice", async () => {
    const r = await t.rpc("accrue", sale("s-1", { card: "C-100" }, [line("1", 2, 1250)]));
    expect(r).toMatchObject({ ok: true, earned: 25, balance: 25, duplicate: true });
    const b = await t.rpc("balance", { customer: { card: "C-100" } });
    expect(b.accounts[0]).toMatchObject({ account: "points", balance: 25, held: 0, available: 25 });
  });

  it("refuses the same event id with other content as IDEMPOTENCY_CONFLICT", async () => {
    const r = await t.rpc("accrue", sale("s-1", { card: "C-100" }, [line("1", 3, 1250)]));
    expect(r).toMatchObject({ ok: false, error: { code: "IDEMPOTENCY_CONFLICT" }, eventId: "s-1" });
  });

  it("speaks plain MessagePack and replies in MessagePack", async () => {
    const r = await t.rpcPack("accrue", sale("s-mp", { customerId: cardCustomer }, [line("1", 1, 1000)]));
    expect(r).toMatchObject({ ok: true, earned: 10, balance: 35 });
  });

  it("serves the same verbs over HTTP", async () => {
    const r = await t.post("/v1/accrue", sale("s-http", { card: "C-100" }, [line("1", 1, 500)]));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, earned: 5, balance: 40 });
    const bad = await t.post("/v1/accrue", sale("s-http2", { card: "C-nope" }, [line("1", 1, 500)]));
    expect(bad.status).toBe(404);
    expect(bad.body).toMatchObject({ ok: false, error: { code: "UNKNOWN_CUSTOMER" } });
  });

  it("quotes without committing anything", async () => {
    const q = await t.rpc("quote", sale("q-1", { card: "C-100" }, [line("1", 10, 1000)]));
    expect(q).toMatchObject({ ok: true, earned: 100, balance: 40, available: 40, redeemable: { points: 40, value: 40 } });
    const b = await t.rpc("balance", { customer: { card: "C-100" } });
    expect(b.accounts[0].balance).toBe(40);
  });

  it("refuses bad input with typed errors and keeps working", async () => {
    const nc = t.nc;
    const raw = async (bytes: Uint8Array) => JSON.parse(Buffer.from((await nc.request("loyalty.rpc.accrue", bytes, { timeout: 5000 })).data).toString());
    expect(await raw(Buffer.from("{not json"))).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    const neg = await t.rpc("accrue", sale("s-neg", { card: "C-100" }, [line("1", -2, 100)]));
    expect(neg).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "lines[0].qty" } });
    const unknownField = await t.rpc("accrue", { ...sale("s-uf", { card: "C-100" }, [line("1", 1, 100)]), colour: "red" });
    expect(unknownField).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "colour" } });
    const huge = sale("s-big", { card: "C-100" }, [line("1", 1, 100, { sku: "x".repeat(100) })]);
    (huge as Record<string, unknown>).pad = "y".repeat(70_000);
    expect(await t.rpc("accrue", huge)).toMatchObject({ ok: false, error: { code: "PAYLOAD_TOO_LARGE" } });
    expect((await t.rpc("accrue", sale("s-ok", { card: "C-100" }, [line("1", 1, 100)]))).ok).toBe(true);
  });

  it("enrols a customer at the first sale with an unknown phone and notifies", async () => {
    const sub = t.nc.subscribe("loyalty.notify.enrolled", { max: 1 });
    const got = (async () => {
      for await (const m of sub) return JSON.parse(Buffer.from(m.data).toString());
    })();
    const r = await t.rpc("accrue", sale("s-phone", { phone: "+48601234567" }, [line("1", 1, 300)]));
    expect(r).toMatchObject({ ok: true, earned: 3 });
    const n = await got;
    expect(n).toMatchObject({ kind: "enrolled", customerId: r.customerId, phone: "+48601234567" });
    const again = await t.rpc("accrue", sale("s-phone2", { phone: "+48601234567" }, [line("1", 1, 300)]));
    expect(again.customerId).toBe(r.customerId);
    expect(again.balance).toBe(6);
  });

  it("takes back points on returns, proportionally, and never more than the sale earned", async () => {
    await t.rpc("enroll", { requestId: "enr-ret", card: "C-RET" });
    const s = await t.rpc("accrue", sale("s-ret", { card: "C-RET" }, [line("1", 3, 1000), line("2", 1, 500)]));
    expect(s.earned).toBe(35);
    const r1 = await t.rpc("accrue", { type: "return", eventId: "r-1", originalEventId: "s-ret", at: Date.UTC(2026, 0, 6), lines: [{ lineId: "1", qty: 1 }] });
    expect(r1).toMatchObject({ ok: true, earned: -10, balance: 25 });
    const over = await t.rpc("accrue", { type: "return", eventId: "r-2", originalEventId: "s-ret", at: Date.UTC(2026, 0, 6), lines: [{ lineId: "1", qty: 3 }] });
    expect(over).toMatchObject({ ok: false, error: { code: "RETURN_EXCEEDS_SALE", field: "lines[0].qty" } });
    const v = await t.rpc("accrue", { type: "void", eventId: "v-1", originalEventId: "s-ret", at: Date.UTC(2026, 0, 6) });
    expect(v).toMatchObject({ ok: true, earned: -25, balance: 0 });
    const unknown = await t.rpc("accrue", { type: "void", eventId: "v-2", originalEventId: "nope", at: Date.UTC(2026, 0, 6) });
    expect(unknown).toMatchObject({ ok: false, error: { code: "UNKNOWN_EVENT" } });
    const st = await t.rpc("statement", { customer: { card: "C-RET" } });
    expect(st.entries.map((e: { kind: string; amount: number }) => [e.kind, e.amount])).toEqual([["accrual", 35], ["return", -10], ["void", -25]]);
    expect(st.entries[0].cause).toContain("s-ret");
  });

  it("processes events published to JetStream and publishes their results", async () => {
    const sub = t.nc.subscribe("loyalty.results.s02", { max: 2 });
    const results: Record<string, any>[] = [];
    const done = (async () => {
      for await (const m of sub) results.push(JSON.parse(Buffer.from(m.data).toString()));
    })();
    const js = t.nc.jetstream();
    const ev = sale("js-1", { card: "C-100" }, [line("1", 1, 700)], { storeId: "s02" });
    const h = natsHeaders();
    h.set("Nats-Msg-Id", "js-1");
    await js.publish("loyalty.events.s02", Buffer.from(JSON.stringify(ev)), { headers: h });
    await js.publish("loyalty.events.s02", Buffer.from(JSON.stringify({ ...ev, eventId: "js-bad", lines: [] })), { msgID: "js-bad" });
    await done;
    expect(results.find((r) => r.eventId === "js-1")).toMatchObject({ ok: true, earned: 7 });
    expect(results.find((r) => r.eventId === "js-bad")).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "lines" } });
  });

  it("authorises, captures and releases holds against the available balance", async () => {
    await t.rpc("enroll", { requestId: "enr-h", card: "C-H" });
    await t.rpc("accrue", sale("s-h", { card: "C-H" }, [line("1", 1, 10_000)]));
    const a = await t.rpc("authorize", { requestId: "a-1", customer: { card: "C-H" }, amount: 60 });
    expect(a).toMatchObject({ ok: true, approved: true, amount: 60, available: 40 });
    const denied = await t.rpc("authorize", { requestId: "a-2", customer: { card: "C-H" }, amount: 41 });
    expect(denied).toMatchObject({ ok: true, approved: false, available: 40 });
    const tooMuch = await t.rpc("capture", { requestId: "c-0", holdId: a.holdId, amount: 61 });
    expect(tooMuch).toMatchObject({ ok: false, error: { code: "CAPTURE_EXCEEDS_HOLD" } });
    const c = await t.rpc("capture", { requestId: "c-1", holdId: a.holdId, amount: 50 });
    expect(c).toMatchObject({ ok: true, captured: 50, balance: 50, available: 50 });
    expect(await t.rpc("capture", { requestId: "c-1", holdId: a.holdId, amount: 50 })).toMatchObject({ ok: true, duplicate: true });
    expect(await t.rpc("capture", { requestId: "c-2", holdId: a.holdId })).toMatchObject({ ok: false, error: { code: "HOLD_CLOSED" } });
    const a2 = await t.rpc("authorize", { requestId: "a-3", customer: { card: "C-H" }, value: 20 });
    expect(a2).toMatchObject({ approved: true, amount: 20, value: 20 });
    expect(await t.rpc("release", { requestId: "rl-1", holdId: a2.holdId })).toMatchObject({ ok: true, released: 20, available: 50 });
    expect(await t.rpc("release", { requestId: "rl-2", holdId: "h_nope" })).toMatchObject({ ok: false, error: { code: "UNKNOWN_HOLD" } });
  });

  it("never approves more than the balance when many authorisations race", async () => {
    await t.rpc("enroll", { requestId: "enr-race", card: "C-RACE" });
    await t.rpc("accrue", sale("s-race", { card: "C-RACE" }, [line("1", 1, 10_000)]));
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) => t.rpc("authorize", { requestId: `race-${i}`, customer: { card: "C-RACE" }, amount: 7 })),
    );
    const approved = replies.filter((r) => r.approved);
    expect(approved.length).toBe(14);
    const b = await t.rpc("balance", { customer: { card: "C-RACE" } });
    expect(b.accounts[0]).toMatchObject({ balance: 100, held: 98, available: 2 });
  });

  it("installs a programme through the admin API without a restart", async () => {
    const prog = { id: "double", name: "Double", account: "points", currency: "EUR", scope: { stores: ["s09"] }, rules: [{ kind: "spend", per: 100, points: 2 }] };
    const denied = await fetch(`${t.http}/v1/admin/programmes/double`, { method: "PUT", body: JSON.stringify(prog), headers: { "content-type": "application/json" } });
    expect(denied.status).toBe(401);
    expect(await denied.json()).toMatchObject({ ok: false, error: { code: "UNAUTHORIZED" } });
    const bad = await fetch(`${t.http}/v1/admin/programmes/double`, {
      method: "PUT",
      body: JSON.stringify({ ...prog, rules: [{ kind: "spend", per: -1, points: 2 }] }),
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(bad.status).toBe(422);
    expect(await bad.json()).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "rules[0].per" } });
    const ok = await fetch(`${t.http}/v1/admin/programmes/double`, {
      method: "PUT",
      body: JSON.stringify(prog),
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(await ok.json()).toMatchObject({ ok: true, id: "double", version: 1 });
    const r = await t.rpc("accrue", sale("s-store9", { card: "C-100" }, [line("1", 1, 1000)], { storeId: "s09" }));
    expect(r.earned).toBe(20);
    expect(r.breakdown[0]).toMatchObject({ programme: "double", version: 1 });
  });

  it("exposes metrics, health and readiness", async () => {
    const m = await (await fetch(`${t.http}/metrics`)).text();
    expect(m).toMatch(/loyalty_events_total\{source="rpc",type="sale",outcome="ok"\} \d+/);
    expect(m).toMatch(/loyalty_events_total\{source="rpc",type="sale",outcome="IDEMPOTENCY_CONFLICT"\} 1/);
    expect(m).toContain("loyalty_lmdb_commit_duration_seconds_bucket");
    expect((await fetch(`${t.http}/healthz`)).status).toBe(200);
    const ready = await fetch(`${t.http}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ok: true, checks: { nats: true, stream: true, lmdb: true, programmes: true } });
  });
});
