// Bad input over the wire, against the engine's default limits: a typed error with the
// field named, counted, and the engine keeps serving (also across partitions, where the
// main thread routes requests it has not validated).
import { headers as natsHeaders } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { line, sale, startTestEnv, type TestEnv } from "./harness.js";

const DAY_MS = 86_400_000;

describe.each([
  ["workers, 1 partition", { executor: "workers", partitions: 1 }],
  ["workers, 2 partitions", { executor: "workers", partitions: 2 }],
  ["inline, 3 partitions", { executor: "inline", partitions: 3 }],
])("bad input (%s)", (_name, overrides) => {
  let t: TestEnv;
  beforeAll(async () => {
    // The default window for `at` (30 days late, 5 minutes early), not the suite's wide one.
    t = await startTestEnv({ ...overrides, "events.lateMsMax": 30 * DAY_MS });
    await t.rpc("enroll", { requestId: "e-1", card: "C-1" });
  });
  afterAll(async () => t?.stop());

  const now = () => Date.now();

  it("refuses an event dated outside the window around now, naming at", async () => {
    const late = await t.rpc("accrue", sale("s-late", { card: "C-1" }, [line("1", 1, 1000)], { at: now() - 31 * DAY_MS }));
    expect(late).toMatchObject({ ok: false, eventId: "s-late", error: { code: "VALIDATION", field: "at" } });
    const future = await t.rpc("accrue", sale("s-future", { card: "C-1" }, [line("1", 1, 1000)], { at: now() + 10 * 60_000 }));
    expect(future).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "at" } });
    const largest = await t.rpc("accrue", sale("s-max", { card: "C-1" }, [line("1", 1, 1000)], { at: 8_640_000_000_000_000 }));
    expect(largest).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "at" } });
    const ok = await t.rpc("accrue", sale("s-now", { card: "C-1" }, [line("1", 1, 1000)], { at: now() - 29 * DAY_MS }));
    expect(ok).toMatchObject({ ok: true, earned: 10 });
  });

  it("refuses amounts beyond the business bounds with LIMIT_EXCEEDED, and inconsistent money with VALIDATION", async () => {
    const huge = await t.rpc("accrue", sale("s-huge", { card: "C-1" }, [line("1", 100, 999_999_999_999_990)], { at: now() }));
    expect(huge).toMatchObject({ ok: false, error: { code: "LIMIT_EXCEEDED" } });
    const inflated = await t.rpc("quote", sale("q-1", { card: "C-1" }, [line("1", 1, 1, { amount: 1_000_000_000 })], { at: now() }));
    expect(inflated).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "lines[0].amount" } });
    const adjust = await t.post("/v1/admin/adjustments", { requestId: "adj-big", customer: { card: "C-1" }, amount: 2 ** 53 - 1, reason: "x", operator: "op" }, { authorization: "Bearer test-admin-token" });
    expect(adjust.body).toMatchObject({ ok: false, error: { code: "LIMIT_EXCEEDED" } });
    const balance = await t.rpc("balance", { customer: { card: "C-1" } });
    expect(balance).toMatchObject({ ok: true, accounts: [{ account: "points", balance: 10 }] });
  });

  it("refuses a stream event whose storeId differs from its subject's store", async () => {
    const sub = t.nc.subscribe("loyalty.results.s09", { max: 1 });
    const got = (async () => {
      for await (const m of sub) return JSON.parse(Buffer.from(m.data).toString());
    })();
    const h = natsHeaders();
    h.set("Nats-Msg-Id", "js-other-store");
    const ev = sale("js-other-store", { card: "C-1" }, [line("1", 1, 700)], { storeId: "s01", at: now() });
    await t.nc.jetstream().publish("loyalty.events.s09", Buffer.from(JSON.stringify(ev)), { headers: h });
    expect(await got).toMatchObject({ ok: false, eventId: "js-other-store", error: { code: "VALIDATION", field: "storeId" } });
  });

  it("answers garbage, wrong shapes and oversized ids with typed errors and keeps serving", async () => {
    const raw = async (verb: string, body: Uint8Array) => {
      const m = await t.nc.request(`loyalty.rpc.${verb}`, body, { timeout: 10_000 });
      return m.data[0] === 0x7b ? JSON.parse(Buffer.from(m.data).toString()) : m.data;
    };
    expect(await raw("accrue", Buffer.from("{not json"))).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    // A sale the schema refuses is counted as a sale (its type read from what it decoded to), not as "unknown".
    const refusedSales = async () => {
      const m = /loyalty_events_total\{source="rpc",type="sale",outcome="VALIDATION"\} (\d+)/.exec(await (await fetch(`${t.http}/metrics`)).text());
      return m ? Number(m[1]) : 0;
    };
    const before = await refusedSales();
    expect(await t.rpc("accrue", { type: "sale", customer: { card: "x".repeat(5000) } })).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await refusedSales()).toBe(before + 1);
    expect(await t.rpc("capture", { requestId: "c-x", holdId: { nested: [1, 2, 3] } })).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await t.rpc("accrue", { type: 5, lines: "many" })).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    const ok = await t.rpc("accrue", sale("s-after-garbage", { card: "C-1" }, [line("1", 1, 500)], { at: now() }));
    expect(ok).toMatchObject({ ok: true, earned: 5 });
    const metrics = await (await fetch(`${t.http}/metrics`)).text();
    expect(metrics).toMatch(/loyalty_rejected_total\{source="rpc",code="LIMIT_EXCEEDED"\} [1-9]/);
  });
});
