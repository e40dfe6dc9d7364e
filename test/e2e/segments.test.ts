// Segments end to end: a query counts the members and pages through them by cursor;
// saved segments; the CSV export streams only the members who consented to the channel,
// with a header row, optionally a byte order mark; every refusal in the envelope.
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, line, sale, send, startTestEnv, type TestEnv } from "./harness.js";

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const N = 60;

describe("segments", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv();
    for (let i = 0; i < N; i++) {
      const profile = {
        name: `Customer ${i}`,
        email: `c${i}@example.com`,
        phone: `+4850000${String(i).padStart(4, "0")}`,
        consents: { email: i % 2 === 0, sms: i % 3 === 0 },
      };
      expect((await t.rpc("enroll", { requestId: `e-${i}`, card: `S-${i}`, profile, group: i % 4 === 0 ? "VIP" : "regular" })).ok).toBe(true);
      // Customer i earns i points.
      if (i > 0) expect((await t.rpc("accrue", sale(`s-${i}`, { card: `S-${i}` }, [line("1", 1, i * 100)]))).ok).toBe(true);
    }
  });
  afterAll(async () => t?.stop());

  const query = (body: unknown) => send(t, "POST", "/v1/admin/segments/query", body, auth);

  it("counts the members and pages through them with the cursor", async () => {
    const filter = { balance: { gte: 30 } }; // customers 30..59
    const first = await query({ filter, limit: 20 });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ ok: true, count: 30 });
    expect(first.body.customers).toHaveLength(20);
    expect(first.body.customers[0]).toMatchObject({ customerId: expect.any(String), name: expect.stringMatching(/^Customer /), email: expect.any(String), balance: expect.any(Number) });
    const second = await query({ filter, limit: 20, cursor: first.body.next });
    expect(second.body.count).toBe(30);
    expect(second.body.customers).toHaveLength(10);
    expect(second.body.next).toBeNull();
    const all = [...first.body.customers, ...second.body.customers];
    expect(new Set(all.map((c: { customerId: string }) => c.customerId)).size).toBe(30);
    expect(all.every((c: { balance: number }) => c.balance >= 30)).toBe(true);
  });

  it("combines conditions: VIPs with at least 20 points who consented to e-mail", async () => {
    const r = await query({ filter: { all: [{ groups: ["VIP"] }, { balance: { gte: 20 } }, { consent: "email" }] }, limit: 100 });
    // i % 4 === 0 (VIP, and even: e-mail consent) and i >= 20: 20, 24, ..., 56
    expect(r.body.count).toBe(10);
    const none = await query({ filter: { not: {} } });
    expect(none.body).toMatchObject({ ok: true, count: 0, customers: [], next: null });
  });

  it("filters on purchase knowledge: what was bought, where, through which channel, spend and visits", async () => {
    const count = async (filter: unknown) => (await query({ filter, limit: 1 })).body.count as number;
    // Customers 1..59 each bought one SKU-1 (category drinks) for i.00 at s01, in store.
    expect(await count({ bought: { skus: ["SKU-1"] } })).toBe(59);
    expect(await count({ bought: { categories: ["drinks"], minAmount: 3000 } })).toBe(30);
    expect(await count({ bought: { skus: ["SKU-9"] } })).toBe(0);
    expect(await count({ bought: { skus: ["SKU-1"], to: Date.UTC(2025, 0, 1) } })).toBe(0);
    expect(await count({ stores: ["s01"] })).toBe(59);
    expect(await count({ stores: ["s99"] })).toBe(0);
    expect(await count({ channels: ["store"] })).toBe(59);
    expect(await count({ spend: { gte: 3000 } })).toBe(30);
    expect(await count({ visits: { gte: 1 }, spend: { from: Date.UTC(2026, 0, 1), to: Date.UTC(2026, 0, 31), lte: 999 } })).toBe(9);
    expect(await count({ lastVisit: { after: Date.UTC(2026, 0, 1) } })).toBe(59);
    expect(await count({ not: { visits: { gte: 1 } } })).toBe(1);
  });

  it("saves, reads, lists and deletes segments; an unknown one is UNKNOWN_SEGMENT", async () => {
    const put = await send(t, "PUT", "/v1/admin/segments/rich", { name: "Rich", filter: { balance: { gte: 50 } } }, auth);
    expect(put.status).toBe(200);
    expect(put.body.segment).toMatchObject({ id: "rich", name: "Rich", filter: { balance: { gte: 50 } } });
    expect((await send(t, "GET", "/v1/admin/segments/rich", undefined, auth)).body.segment.name).toBe("Rich");
    expect((await send(t, "GET", "/v1/admin/segments", undefined, auth)).body.segments.map((s: { id: string }) => s.id)).toContain("rich");
    const bad = await send(t, "PUT", "/v1/admin/segments/bad", { name: "Bad", filter: { colour: "red" } }, auth);
    expect(bad.status).toBe(422);
    expect(bad.body).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    const unknown = await send(t, "GET", "/v1/admin/segments/nope", undefined, auth);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("UNKNOWN_SEGMENT");
    expect((await send(t, "DELETE", "/v1/admin/segments/rich", undefined, auth)).body).toMatchObject({ ok: true, removed: true });
    expect((await send(t, "GET", "/v1/admin/segments/rich", undefined, auth)).status).toBe(404);
    expect((await send(t, "POST", "/v1/admin/segments/query", { filter: {} })).status).toBe(401);
  });

  it("exports the members who consented to the channel as CSV, header first", async () => {
    await send(t, "PUT", "/v1/admin/segments/vip", { name: "VIP", filter: { groups: ["VIP"] } }, auth);
    const res = await fetch(`${t.http}/v1/admin/segments/vip/export.csv?consent=sms`, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(res.headers.get("content-disposition")).toContain("vip-sms.csv");
    const rows = parse(await res.text(), { columns: true }) as Record<string, string>[];
    // VIP: i % 4 === 0; sms consent: i % 3 === 0 -> i % 12 === 0: 0, 12, 24, 36, 48
    expect(rows.map((r) => r.name).sort()).toEqual(["Customer 0", "Customer 12", "Customer 24", "Customer 36", "Customer 48"]);
    expect(rows[0]).toHaveProperty("customerId");
    expect(rows.find((r) => r.name === "Customer 24")).toMatchObject({ email: "c24@example.com", balance: "24", groups: "VIP" });
    const bom = await fetch(`${t.http}/v1/admin/segments/vip/export.csv?consent=email&bom=1`, { headers: auth });
    const bytes = new Uint8Array(await bom.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const noChannel = await send(t, "GET", "/v1/admin/segments/vip/export.csv?consent=fax", undefined, auth);
    expect(noChannel.status).toBe(422);
    expect(noChannel.body.error).toMatchObject({ code: "VALIDATION", field: "consent" });
  });

  it("scopes a programme to a saved segment: members earn it, others do not, and a changed segment applies at once", async () => {
    await send(t, "PUT", "/v1/admin/segments/big", { name: "Big", filter: { balance: { gte: 50 } } }, auth);
    const installed = await send(t, "PUT", "/v1/admin/programmes/big-bonus", { id: "big-bonus", currency: "EUR", scope: { segments: ["big"] }, rules: [{ kind: "visit", points: 100 }] }, auth);
    expect(installed.status).toBe(200);
    const bonusOf = (reply: Record<string, any>) =>
      (reply.breakdown as { programme: string; amount: number }[]).filter((b) => b.programme === "big-bonus").reduce((s, b) => s + b.amount, 0);
    // Customer 55 has 55 points (member), customer 5 has 5 (not).
    expect(bonusOf(await t.rpc("accrue", sale("b-55", { card: "S-55" }, [line("1", 1, 100)])))).toBe(100);
    expect(bonusOf(await t.rpc("accrue", sale("b-5", { card: "S-5" }, [line("1", 1, 100)])))).toBe(0);
    // The segment is re-read at each event: lower the bar and customer 5 is in.
    await send(t, "PUT", "/v1/admin/segments/big", { name: "Big", filter: { balance: { gte: 1 } } }, auth);
    expect(bonusOf(await t.rpc("accrue", sale("b-5b", { card: "S-5" }, [line("1", 1, 100)])))).toBe(100);
    await send(t, "DELETE", "/v1/admin/segments/big", undefined, auth);
    expect(bonusOf(await t.rpc("accrue", sale("b-55b", { card: "S-55" }, [line("1", 1, 100)])))).toBe(0);
    await send(t, "DELETE", "/v1/admin/programmes/big-bonus", undefined, auth);
  });
});
