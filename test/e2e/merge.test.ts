// Admin merge and erasure of customers over HTTP, on a real engine (nats-server, LMDB,
// workers): roles, idempotency, refusals, the audit trail; then, with four partitions,
// a merge of two customers living on different partitions while sales for both stream
// in over JetStream and NATS rpc: every sale is applied once, to the right wallet.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newToken } from "../../src/config/credentials.js";
import { partitionOf } from "../../src/partition/hash.js";
import { ADMIN_TOKEN, line, sale, send, startTestEnv, tempDir, type TestEnv } from "./harness.js";

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
/** Points expire a year after the sale: the sales carry the wall clock's time, so nothing expires during the test. */
const PROGRAMME = { id: "base", name: "Base", account: "points", currency: "EUR", rules: [{ kind: "spend", per: 100, points: 1 }], expiry: { afterDays: 365 }, redemption: { pointValue: 1, currency: "EUR" } };

const pointsOf = (balance: Record<string, any>) => balance.accounts.find((a: { account: string }) => a.account === "points");

describe("admin merge and erase over HTTP", () => {
  const ops = { anna: newToken(), walt: newToken() };
  const as = (o: keyof typeof ops) => ({ authorization: `Bearer ${ops[o].token}` });
  let t: TestEnv;
  beforeAll(async () => {
    const operatorsFile = join(tempDir("loyaltyd-merge-"), "operators.json");
    const roles = { anna: ["read", "money"], walt: ["write"] };
    writeFileSync(operatorsFile, JSON.stringify({ operators: Object.entries(ops).map(([name, o]) => ({ name, tokenSha256: o.sha256, roles: roles[name as keyof typeof roles] })) }));
    t = await startTestEnv({ "admin.operatorsFile": operatorsFile }, [PROGRAMME]);
  });
  afterAll(async () => t?.stop());

  it("merges two customers: balance, card, phone and hold move; the old id and card find the survivor", async () => {
    const a = (await t.rpc("enroll", { requestId: "m1-a", card: "M1-A", profile: { phone: "+48600100001", name: "Ann" } })).customerId;
    const b = (await t.rpc("enroll", { requestId: "m1-b", card: "M1-B" })).customerId;
    expect(await t.rpc("accrue", sale("m1-s1", { card: "M1-A" }, [line("1", 1, 4000)], { at: Date.now() }))).toMatchObject({ ok: true, earned: 40 });
    expect(await t.rpc("accrue", sale("m1-s2", { card: "M1-B" }, [line("1", 1, 1500)], { at: Date.now() }))).toMatchObject({ ok: true, earned: 15 });
    const hold = await t.rpc("authorize", { requestId: "m1-h", customer: { card: "M1-A" }, amount: 10 });
    expect(hold).toMatchObject({ ok: true, approved: true });

    const res = await send(t, "POST", "/v1/admin/customers/merge", { requestId: "m1", from: a, into: { card: "M1-B" }, reason: "same person" }, as("anna"));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, requestId: "m1", from: a, into: b, accounts: [{ account: "points", moved: 40, balance: 55, held: 10, available: 45 }], holds: 1, lots: 1, cards: ["M1-A"], released: [] });

    for (const customer of [{ customerId: a }, { card: "M1-A" }, { phone: "+48600100001" }]) {
      const bal = await t.rpc("balance", { customer });
      expect(bal.customerId, JSON.stringify(customer)).toBe(b);
      expect(pointsOf(bal)).toMatchObject({ balance: 55, held: 10 });
    }
    expect(await t.rpc("capture", { requestId: "m1-c", holdId: hold.holdId })).toMatchObject({ ok: true, customerId: b, captured: 10, balance: 45 });
    const st = await t.rpc("statement", { customer: { customerId: b } });
    expect(st.entries.map((e: Record<string, any>) => [e.kind, e.amount, e.customerId ?? b])).toEqual([
      ["accrual", 40, a],
      ["accrual", 15, b],
      ["hold", 0, a],
      ["merge", -40, a],
      ["merge", 40, b],
      ["redemption", -10, b],
    ]);
    expect(st.entries[3].cause).toBe(`merge m1 of ${a} into ${b} by anna: same person`);
  });

  it("answers a repeat with the first reply (duplicate), other content with 409, and records both ids in the audit trail", async () => {
    const a = (await t.rpc("enroll", { requestId: "m2-a", card: "M2-A" })).customerId;
    const b = (await t.rpc("enroll", { requestId: "m2-b", card: "M2-B" })).customerId;
    const body = { requestId: "m2", from: { card: "M2-A" }, into: { card: "M2-B" }, reason: "duplicate account", operator: "anna" };
    const first = await send(t, "POST", "/v1/admin/customers/merge", body, as("anna"));
    expect(first.body).toMatchObject({ ok: true, from: a, into: b });
    const again = await send(t, "POST", "/v1/admin/customers/merge", body, as("anna"));
    expect(again).toEqual({ status: 200, body: { ...first.body, duplicate: true } });
    const other = await send(t, "POST", "/v1/admin/customers/merge", { ...body, reason: "changed" }, as("anna"));
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe("IDEMPOTENCY_CONFLICT");
    const audit = await fetch(`${t.http}/v1/admin/audit?limit=1000`, { headers: as("anna") });
    const records = ((await audit.json()) as { records: Record<string, any>[] }).records.filter((r) => r.route === "/v1/admin/customers/merge" && r.targets.requestId === "m2");
    expect(records.map((r) => [r.operator, r.role, r.outcome, r.targets.from, r.targets.into])).toEqual([
      ["anna", "money", "ok", a, b],
      ["anna", "money", "ok", a, b],
      ["anna", "money", "IDEMPOTENCY_CONFLICT", { card: "M2-A" }, { card: "M2-B" }],
    ]);
  });

  it("refuses a merge into itself, into a merged-away customer and of an unknown one", async () => {
    const a = (await t.rpc("enroll", { requestId: "m3-a", card: "M3-A" })).customerId;
    const b = (await t.rpc("enroll", { requestId: "m3-b", card: "M3-B" })).customerId;
    const merge = (requestId: string, from: unknown, into: unknown) => send(t, "POST", "/v1/admin/customers/merge", { requestId, from, into, reason: "r", operator: "admin" }, admin);
    const self = await merge("m3-0", a, { card: "M3-A" });
    expect(self.status).toBe(422);
    expect(self.body.error).toMatchObject({ code: "VALIDATION", field: "into" });
    expect((await merge("m3-1", a, b)).body.ok).toBe(true);
    const intoMerged = await merge("m3-2", b, a);
    expect(intoMerged.status).toBe(422);
    expect(intoMerged.body.error).toMatchObject({ code: "VALIDATION", field: "into" });
    const unknown = await merge("m3-3", "cu_nobody", b);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: "UNKNOWN_CUSTOMER", field: "from" });
    const noReason = await send(t, "POST", "/v1/admin/customers/merge", { requestId: "m3-4", from: a, into: b, operator: "admin" }, admin);
    expect(noReason.status).toBe(422);
    expect(noReason.body.error.field).toBe("reason");
  });

  it("needs the money role to merge and the write role to erase", async () => {
    const a = (await t.rpc("enroll", { requestId: "m4-a", card: "M4-A" })).customerId;
    const merge = await send(t, "POST", "/v1/admin/customers/merge", { requestId: "m4", from: a, into: { card: "M1-B" }, reason: "r" }, as("walt"));
    expect(merge.status).toBe(403);
    expect(merge.body.error.code).toBe("FORBIDDEN");
    const erase = await send(t, "POST", `/v1/admin/customers/${a}/erase`, { reason: "r" }, as("anna"));
    expect(erase.status).toBe(403);
    expect((await t.rpc("balance", { customer: { card: "M4-A" } })).ok).toBe(true);
  });

  it("erases a customer: card, phone and id find nobody; the card and phone can be enrolled again; erasing again is a duplicate", async () => {
    const a = (await t.rpc("enroll", { requestId: "m5-a", card: "M5-A", profile: { phone: "+48600100005", name: "Eve", email: "eve@example.com" } })).customerId;
    expect(await t.rpc("accrue", sale("m5-s", { card: "M5-A" }, [line("1", 1, 2000)], { at: Date.now() }))).toMatchObject({ ok: true, earned: 20 });
    const res = await send(t, "POST", `/v1/admin/customers/${a}/erase`, { reason: "GDPR art. 17 request 42" }, as("walt"));
    expect(res).toMatchObject({ status: 200, body: { ok: true, customerId: a, cards: 1, identifiers: ["phone", "email"], duplicate: false } });
    for (const customer of [{ customerId: a }, { card: "M5-A" }, { phone: "+48600100005" }]) {
      const r = await send(t, "POST", "/v1/balance", { customer });
      expect(r.status, JSON.stringify(customer)).toBe(404);
      expect(r.body.error.code).toBe("UNKNOWN_CUSTOMER");
    }
    const again = await send(t, "POST", `/v1/admin/customers/${a}/erase`, { reason: "again" }, as("walt"));
    expect(again.body).toMatchObject({ ok: true, customerId: a, duplicate: true });
    const unknown = await send(t, "POST", "/v1/admin/customers/cu_nobody/erase", { reason: "r" }, as("walt"));
    expect(unknown.status).toBe(404);
    // A sale of the erased customer can still be returned: the ledger is kept.
    expect(await t.rpc("accrue", { type: "return", eventId: "m5-r", originalEventId: "m5-s", at: Date.now() })).toMatchObject({ ok: true, customerId: a, earned: -20 });
    expect(await t.rpc("enroll", { requestId: "m5-new", card: "M5-A", profile: { phone: "+48600100005" } })).toMatchObject({ ok: true });
    const audit = await fetch(`${t.http}/v1/admin/audit?limit=1000`, { headers: as("anna") });
    const records = ((await audit.json()) as { records: Record<string, any>[] }).records.filter((r) => r.route === "/v1/admin/customers/:id/erase" && r.targets.id === a);
    expect(records.map((r) => [r.operator, r.role, r.outcome])).toEqual([["walt", "write", "ok"], ["walt", "write", "ok"]]);
  });
});

describe("merge across partitions while sales stream in (workers, 4 partitions)", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv({ executor: "workers", partitions: 4 }, [PROGRAMME]);
  });
  afterAll(async () => t?.stop());

  it("applies every sale of both customers exactly once, before or after the merge, and ends with one wallet holding them all", { timeout: 120_000 }, async () => {
    // Two customers whose ids hash to different partitions.
    const enrolled: string[] = [];
    for (let i = 0; i < 8; i++) enrolled.push((await t.rpc("enroll", { requestId: `x-e${i}`, card: `X-${i}` })).customerId);
    const fromIdx = 0;
    const intoIdx = enrolled.findIndex((id) => partitionOf(id, 4) !== partitionOf(enrolled[0]!, 4));
    const [from, into] = [enrolled[fromIdx]!, enrolled[intoIdx]!];
    expect(partitionOf(from, 4)).not.toBe(partitionOf(into, 4));
    const fromCard = `X-${fromIdx}`;
    const intoCard = `X-${intoIdx}`;
    expect(await t.rpc("accrue", sale("x-seed", { card: fromCard }, [line("1", 1, 500)], { at: Date.now() }))).toMatchObject({ ok: true, earned: 5 });
    const held = await t.rpc("authorize", { requestId: "x-h2", customer: { customerId: from }, amount: 5 });
    expect(held).toMatchObject({ ok: true, approved: true });

    // Results of the stream's events, by event id.
    const results = new Map<string, Record<string, any>>();
    const sub = t.nc.subscribe("loyalty.results.x01", {
      callback: (_err, m) => {
        const r = JSON.parse(Buffer.from(m.data).toString());
        results.set(r.eventId, r);
      },
    });
    const js = t.nc.jetstream();
    const PER = 150;
    const streamed: string[] = [];
    const rpcSales: { id: string; ref: Record<string, string> }[] = [];
    for (let i = 0; i < PER; i++) {
      streamed.push(`x-js-f${i}`, `x-js-i${i}`);
      rpcSales.push({ id: `x-rpc-f${i}`, ref: i % 2 ? { card: fromCard } : { customerId: from } }, { id: `x-rpc-i${i}`, ref: i % 2 ? { card: intoCard } : { customerId: into } });
    }
    // Each sale's body is made once: a re-send must carry the same content to be a duplicate.
    const bodies = new Map<string, Record<string, unknown>>();
    const saleOf = (id: string, ref: Record<string, string>) => {
      if (!bodies.has(id)) bodies.set(id, { ...sale(id, ref, [line("1", 1, 1000)], { at: Date.now() }), storeId: "x01" });
      return bodies.get(id)!;
    };
    const publishing = (async () => {
      for (let i = 0; i < PER; i++) {
        await js.publish("loyalty.events.x01", Buffer.from(JSON.stringify(saleOf(`x-js-f${i}`, { card: fromCard }))), { msgID: `x-js-f${i}` });
        await js.publish("loyalty.events.x01", Buffer.from(JSON.stringify(saleOf(`x-js-i${i}`, { card: intoCard }))), { msgID: `x-js-i${i}` });
      }
    })();
    // rpc sales 8 at a time; the merge goes out once a third of them are answered.
    const replies = new Map<string, Record<string, any>>();
    let merged: Promise<{ status: number; body: Record<string, any> }> | null = null;
    let next = 0;
    const lane = async () => {
      while (next < rpcSales.length) {
        const s = rpcSales[next++]!;
        replies.set(s.id, await t.rpc("accrue", saleOf(s.id, s.ref)));
        if (merged === null && replies.size >= rpcSales.length / 3) {
          merged = send(t, "POST", "/v1/admin/customers/merge", { requestId: "x-m", from, into, reason: "two cards, one person", operator: "admin" }, admin);
        }
      }
    };
    await Promise.all([publishing, ...Array.from({ length: 8 }, lane)]);
    const merge = await merged!;
    expect(merge).toMatchObject({ status: 200, body: { ok: true, from, into, holds: 1 } });
    const deadline = Date.now() + 30_000;
    while (results.size < streamed.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    sub.unsubscribe();

    // Every sale acknowledged once, each with its 10 points, on whichever customer held it then.
    expect(results.size).toBe(streamed.length);
    const all = [...streamed.map((id) => results.get(id)!), ...rpcSales.map((s) => replies.get(s.id)!)];
    for (const r of all) expect(r, JSON.stringify(r)).toMatchObject({ ok: true, earned: 10, duplicate: false });
    // The merge landed mid-stream: sales naming the merged-away customer went to it before, to the survivor after.
    const fromRefs = [...streamed.filter((id) => id.startsWith("x-js-f")).map((id) => results.get(id)!), ...rpcSales.filter((s) => s.id.startsWith("x-rpc-f")).map((s) => replies.get(s.id)!)];
    const landed = { before: fromRefs.filter((r) => r.customerId === from).length, after: fromRefs.filter((r) => r.customerId === into).length };
    expect(landed.before, JSON.stringify(landed)).toBeGreaterThan(0);
    expect(landed.after, JSON.stringify(landed)).toBeGreaterThan(0);
    const sales = all.length + 1;

    // The survivor holds them all (the seed's 5 too, less nothing: the hold is still open).
    const balance = await t.rpc("balance", { customer: { customerId: into } });
    expect(pointsOf(balance)).toMatchObject({ balance: 10 * all.length + 5, held: 5 });
    const st = await t.rpc("statement", { customer: { customerId: into }, limit: 1000 });
    const accruals = st.entries.filter((e: Record<string, any>) => e.kind === "accrual");
    expect(accruals).toHaveLength(sales);
    expect(new Set(accruals.map((e: Record<string, any>) => e.eventId)).size).toBe(sales);
    expect(st.entries.reduce((s: number, e: Record<string, any>) => s + e.amount, 0)).toBe(10 * all.length + 5);
    // The merged-away customer's own entries add up to zero: its wallet moved whole.
    const mine = st.entries.filter((e: Record<string, any>) => e.customerId === from);
    expect(mine.reduce((s: number, e: Record<string, any>) => s + e.amount, 0)).toBe(0);
    expect(mine.filter((e: Record<string, any>) => e.kind === "merge")).toHaveLength(1);

    // After the merge, the merged-away id and card route to the survivor; re-sent sales are duplicates.
    const after = await t.rpc("accrue", saleOf("x-after", { customerId: from }));
    expect(after).toMatchObject({ ok: true, customerId: into, earned: 10 });
    const resent = await Promise.all(rpcSales.slice(0, 40).map((s) => t.rpc("accrue", saleOf(s.id, s.ref))));
    for (const r of resent) expect(r.duplicate).toBe(true);
    expect(await t.rpc("capture", { requestId: "x-c", holdId: held.holdId })).toMatchObject({ ok: true, customerId: into, captured: 5 });
    expect(pointsOf(await t.rpc("balance", { customer: { card: fromCard } }))).toMatchObject({ balance: 10 * all.length + 10, held: 0 });
  });
});
