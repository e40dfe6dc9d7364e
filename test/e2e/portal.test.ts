// The participant portal's routes end to end over real HTTP and NATS, two partitions of
// worker threads: a shopper's balance with expiring lots, statement, purchases, vouchers,
// rewards, profile and consents, conversion to prepaid; a distributor registering a sale
// and following it to approval, its targets and ranking; and every way of reaching another
// customer's data refused.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { B2B_PROGRAMME } from "../fixtures.js";
import { B2B_PRODUCTS, day, line as reportLine, send as admin } from "./b2b-helpers.js";
import { BASE_PROGRAMME, line, sale, send, startTestEnv, type TestEnv } from "./harness.js";
import { OtpInbox, me, signIn } from "./portal-helpers.js";

const PREPAID = { id: "prepaid", account: "prepaid", unit: "money", currency: "EUR", scope: { stores: ["none"] }, rules: [{ kind: "spend", per: 100, points: 1 }], redemption: { pointValue: 1, currency: "EUR" } };
const BASE = { ...BASE_PROGRAMME, expiry: { afterDays: 365 }, redemption: { pointValue: 2, currency: "EUR" } };
const BRUSHES = { kind: "target", id: "brushes", metric: "qty", skus: ["BRUSH"], from: Date.now() - 30 * 86_400_000, to: Date.now() + 30 * 86_400_000, goal: 8, points: 100 };
const NOW_SALE = (eventId: string, customer: Record<string, string>, unitPrice: number) => sale(eventId, customer, [line("1", 1, unitPrice)], { at: Date.now() - 60_000 });

describe("participant portal routes", () => {
  let t: TestEnv;
  let inbox: OtpInbox;
  let ada: string;
  let bob: string;
  let north: string;
  let south: string;
  let adaToken: string;
  let bobToken: string;
  let northToken: string;
  let southToken: string;

  beforeAll(async () => {
    t = await startTestEnv({ partitions: 2, "reports.currency": "PLN", "reports.windowDaysBack": 30, "reports.autoApprove": false }, [BASE, PREPAID, { ...B2B_PROGRAMME, rules: [...B2B_PROGRAMME.rules, BRUSHES] }]);
    inbox = new OtpInbox(t);
    for (const [sku, body] of Object.entries(B2B_PRODUCTS)) expect((await admin(t, "PUT", `/v1/admin/products/${sku}`, body)).status).toBe(200);
    expect((await admin(t, "PUT", "/v1/admin/rewards/MUG", { name: "Mug", pointsPrice: 40, stock: 10 })).status).toBe(200);
    expect((await admin(t, "PUT", "/v1/admin/rewards/BIKE", { name: "Bike", pointsPrice: 5000 })).status).toBe(200);
    expect((await admin(t, "PUT", "/v1/admin/voucher-offers/TEN", { name: "10 EUR off", pointsCost: 50, kind: "amount", value: 1000, currency: "EUR", validDays: 60 })).status).toBe(200);
    ada = (await t.rpc("enroll", { requestId: "e-ada", card: "C-ADA", profile: { name: "Ada", phone: "+48601000001" } })).customerId;
    bob = (await t.rpc("enroll", { requestId: "e-bob", card: "C-BOB", profile: { name: "Bob", phone: "+48601000002" } })).customerId;
    const company = (name: string) => ({ name, taxId: `PL${name.length}0001246` });
    north = (await t.rpc("enroll", { requestId: "e-n", kind: "distributor", company: company("Farby Północ"), users: ["anna"], profile: { phone: "+48601000003" } })).customerId;
    south = (await t.rpc("enroll", { requestId: "e-s", kind: "distributor", company: company("Farby Południe"), profile: { phone: "+48601000004" } })).customerId;
    expect((await t.rpc("accrue", NOW_SALE("s-1", { card: "C-ADA" }, 20_000))).ok).toBe(true);
    expect((await t.rpc("accrue", NOW_SALE("s-2", { card: "C-ADA" }, 5_000))).ok).toBe(true);
    expect((await t.rpc("accrue", { type: "return", eventId: "r-1", originalEventId: "s-2", at: Date.now() - 30_000 })).ok).toBe(true);
    expect((await t.rpc("accrue", NOW_SALE("s-3", { card: "C-BOB" }, 1_000))).ok).toBe(true);
    adaToken = await signIn(t, inbox, { card: "C-ADA" }, ada);
    bobToken = await signIn(t, inbox, { phone: "+48601000002" }, bob);
    northToken = await signIn(t, inbox, { customerId: north }, north);
    southToken = await signIn(t, inbox, { phone: "+48601000004" }, south);
  });
  afterAll(async () => {
    inbox?.close();
    await t?.stop();
  });

  it("shows the signed-in customer with balances and tier", async () => {
    const r = await me(t, adaToken, "GET", "/v1/me");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, customerId: ada, profile: { name: "Ada", phone: "+48601000001" }, cards: [{ card: "C-ADA", status: "active" }], tier: null, stats: { visits: 2 } });
    expect(r.body.accounts).toEqual([expect.objectContaining({ account: "points", balance: 200, available: 200 })]);
    expect((await me(t, bobToken, "GET", "/v1/me")).body).toMatchObject({ customerId: bob, profile: { name: "Bob" } });
  });

  it("shows the balance with what expires when, and the statement with causes", async () => {
    const b = await me(t, adaToken, "GET", "/v1/me/balance");
    expect(b.body).toMatchObject({ ok: true, customerId: ada, accounts: [{ account: "points", balance: 200, expiring: [expect.objectContaining({ amount: 200 })] }] });
    const s = await me(t, adaToken, "GET", "/v1/me/statement?limit=2");
    expect(s.body.entries.map((e: { kind: string; amount: number }) => `${e.kind}:${e.amount}`)).toEqual(["accrual:200", "accrual:50"]);
    expect(s.body.entries[0].cause).toContain("s-1");
    expect((await me(t, adaToken, "GET", "/v1/me/statement?limit=0")).body.error).toMatchObject({ code: "VALIDATION", field: "limit" });
  });

  it("shows the purchase history: the sales and returns that moved points, and the month's figures", async () => {
    const p = await me(t, adaToken, "GET", "/v1/me/purchases");
    expect(p.body.sales).toEqual([
      expect.objectContaining({ eventId: "s-1", kind: "sale", points: { points: 200 } }),
      expect.objectContaining({ eventId: "s-2", kind: "sale", points: { points: 50 } }),
      expect.objectContaining({ eventId: "r-1", kind: "return", points: { points: -50 } }),
    ]);
    expect(p.body.stats).toMatchObject({ visits: 2, spend: 20_000 });
    expect(p.body.stats.months).toHaveLength(1);
  });

  it("lists the rewards, marking what the balance affords, and redeems one (hold and capture)", async () => {
    const all = await me(t, adaToken, "GET", "/v1/me/rewards");
    expect(all.body.rewards.map((r: { rewardId: string; affordable: boolean }) => `${r.rewardId}:${r.affordable}`).sort()).toEqual(["BIKE:false", "MUG:true"]);
    expect((await me(t, adaToken, "GET", "/v1/me/rewards?affordable=true")).body.rewards.map((r: { rewardId: string }) => r.rewardId)).toEqual(["MUG"]);
    const r = await me(t, adaToken, "POST", "/v1/me/rewards/MUG/redeem", { requestId: "mug-1", qty: 2 });
    expect(r.body).toMatchObject({ ok: true, customerId: ada, rewardId: "MUG", qty: 2, price: 40, spent: 80, balance: 120 });
    // A retry with the same requestId spends nothing more.
    expect((await me(t, adaToken, "POST", "/v1/me/rewards/MUG/redeem", { requestId: "mug-1", qty: 2 })).body).toMatchObject({ ok: true, spent: 80, balance: 120 });
    expect((await me(t, adaToken, "POST", "/v1/me/rewards/BIKE/redeem", { requestId: "bike-1" })).body).toMatchObject({ ok: true, approved: false });
    expect((await me(t, adaToken, "POST", "/v1/me/rewards/NOPE/redeem", {})).body.error.code).toBe("UNKNOWN_REWARD");
    expect((await admin(t, "GET", "/v1/admin/rewards/MUG")).body.reward.stock).toBe(8);
  });

  it("buys a voucher and lists it with its days left", async () => {
    expect((await me(t, adaToken, "GET", "/v1/me/voucher-offers")).body.offers).toEqual([expect.objectContaining({ id: "TEN", pointsCost: 50 })]);
    const bought = await me(t, adaToken, "POST", "/v1/me/vouchers", { requestId: "v-1", offerId: "TEN" });
    expect(bought.body).toMatchObject({ ok: true, customerId: ada });
    const list = await me(t, adaToken, "GET", "/v1/me/vouchers?status=active");
    expect(list.body.vouchers).toEqual([expect.objectContaining({ offerId: "TEN", status: "active", daysLeft: 60 })]);
    expect((await me(t, bobToken, "GET", "/v1/me/vouchers")).body.vouchers).toEqual([]);
  });

  it("changes the profile and consents through updateCustomer; a retry is a duplicate", async () => {
    const body = { requestId: "p-1", profile: { firstName: "Ada", email: "ada@example.com" }, consents: { email: true, sms: false } };
    const r = await me(t, adaToken, "PATCH", "/v1/me/profile", body);
    expect(r.body).toMatchObject({ ok: true, customerId: ada, profile: { firstName: "Ada", email: "ada@example.com" }, consents: { email: { granted: true }, sms: { granted: false } } });
    expect((await me(t, adaToken, "PATCH", "/v1/me/profile", body)).body).toMatchObject({ ok: true, duplicate: true });
    // Groups, attributes and the loyalty id are the retailer's: not the participant's to set.
    expect((await me(t, adaToken, "PATCH", "/v1/me/profile", { groups: { add: ["VIP"] } })).body.error).toMatchObject({ code: "VALIDATION" });
    expect((await me(t, adaToken, "PATCH", "/v1/me/profile", { profile: { phone: "+48601000002" } })).body.error).toMatchObject({ code: "VALIDATION", field: "profile.phone" });
    expect((await me(t, adaToken, "PATCH", "/v1/me/profile", {})).body.error).toMatchObject({ code: "VALIDATION", field: "profile" });
  });

  it("converts points to prepaid", async () => {
    const r = await me(t, adaToken, "POST", "/v1/me/convert", { requestId: "cv-1", amount: 20 });
    expect(r.body).toMatchObject({ ok: true, approved: true, customerId: ada, to: { account: "prepaid", amount: 40 } });
    expect((await me(t, adaToken, "GET", "/v1/me/balance")).body.accounts.map((a: { account: string; balance: number }) => `${a.account}:${a.balance}`)).toEqual(["points:50", "prepaid:40"]);
  });

  it("refuses every way to another customer's data", async () => {
    // A body or query naming a customer.
    expect(await me(t, adaToken, "PATCH", "/v1/me/profile", { customer: { customerId: bob }, profile: { name: "X" } })).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN", field: "customer" } } });
    expect((await me(t, adaToken, "GET", `/v1/me/statement?customer=${bob}`)).body.error.code).toBe("FORBIDDEN");
    expect((await me(t, bobToken, "GET", "/v1/me")).body.profile.name).toBe("Bob");
    // Another distributor's report.
    await me(t, northToken, "POST", "/v1/me/reports", { requestId: "n-secret", lines: [reportLine("F-S", "BRUSH", 1, 2_000)] });
    const reportId = `me:${north}:n-secret`;
    expect((await me(t, southToken, "GET", `/v1/me/reports/${encodeURIComponent(reportId)}`)).body.error).toMatchObject({ code: "FORBIDDEN", field: "reportId" });
    expect((await me(t, adaToken, "GET", `/v1/me/reports/${encodeURIComponent(reportId)}`)).body.error.code).toBe("FORBIDDEN");
    // A shopper has no distributor routes.
    for (const path of ["/v1/me/reports", "/v1/me/targets", `/v1/me/ranking?from=${day(-1)}&to=${day(0)}`]) expect((await me(t, adaToken, "GET", path)).status, path).toBe(403);
    // A body past the payload limit is refused as it arrives; without a session, before it is read.
    const big = { profile: { name: "x".repeat(70_000) } };
    expect((await me(t, adaToken, "PATCH", "/v1/me/profile", big)).body.error.code).toBe("PAYLOAD_TOO_LARGE");
    expect((await send(t, "PATCH", "/v1/me/profile", big)).body.error.code).toBe("UNAUTHORIZED");
    // No token, or a stranger's.
    expect((await send(t, "GET", "/v1/me/balance")).status).toBe(401);
    expect((await me(t, "not-a-session", "GET", "/v1/me/balance")).status).toBe(401);
  });

  it("lets a distributor register a sale, follow it to approval, and see its targets and ranking", async () => {
    const submitted = await me(t, northToken, "POST", "/v1/me/reports", { requestId: "n-1", user: "anna", lines: [reportLine("F-1", "PAINT-10L", 3, 30_000), reportLine("F-1", "BRUSH", 5, 10_000)] });
    expect(submitted.body).toMatchObject({ ok: true, reportId: `me:${north}:n-1`, customerId: north, status: "pending", checks: [], user: "anna" });
    // The same verification as submitReport and the import: a duplicate invoice, an unknown product.
    const checked = await me(t, northToken, "POST", "/v1/me/reports", { requestId: "n-2", lines: [reportLine("F-1", "BRUSH", 1, 2_000), reportLine("F-2", "GHOST", 1, 100)] });
    expect(checked.body.checks.map((c: { line: number; code: string }) => `${c.line}:${c.code}`)).toEqual(["0:DUPLICATE_INVOICE", "1:UNKNOWN_PRODUCT"]);
    expect((await me(t, northToken, "POST", "/v1/me/reports", { requestId: "n-3", user: "mallory", lines: [reportLine("F-3", "BRUSH", 1, 2_000)] })).body.error.code).toBe("FORBIDDEN");
    expect((await me(t, northToken, "POST", "/v1/me/reports", { requestId: "n-4", lines: [] })).body.error).toMatchObject({ code: "VALIDATION", field: "lines" });

    const listed = await me(t, northToken, "GET", "/v1/me/reports");
    expect(listed.body.reports.map((r: { reportId: string; status: string }) => `${r.reportId}:${r.status}`)).toEqual([`me:${north}:n-secret:pending`, `me:${north}:n-1:pending`, `me:${north}:n-2:pending`]);
    expect((await admin(t, "POST", `/v1/admin/reports/${encodeURIComponent(`me:${north}:n-1`)}/approve`, { operator: "admin" })).body).toMatchObject({ ok: true, status: "approved" });
    const one = await me(t, northToken, "GET", `/v1/me/reports/${encodeURIComponent(`me:${north}:n-1`)}`);
    expect(one.body).toMatchObject({ ok: true, reportId: `me:${north}:n-1`, status: "approved", lines: [expect.objectContaining({ sku: "PAINT-10L" }), expect.objectContaining({ sku: "BRUSH" })] });
    expect(one.body.points).toBeGreaterThan(0);
    expect(one.body.decidedBy).toBeUndefined();
    expect((await me(t, northToken, "GET", "/v1/me/reports/NOPE")).body.error.code).toBe("UNKNOWN_REPORT");

    const targets = await me(t, northToken, "GET", "/v1/me/targets");
    expect(targets.body.targets).toEqual([expect.objectContaining({ targetId: "brushes", achieved: 5, remaining: 3, reached: false })]);
    const ranked = await me(t, northToken, "GET", `/v1/me/ranking?metric=points&from=${day(-30)}&to=${day(1)}`);
    expect(ranked.body).toMatchObject({ ok: true, customerId: north, metric: "points", participants: 1, position: { rank: 1, points: one.body.points } });
    expect((await me(t, southToken, "GET", `/v1/me/ranking?from=${day(-30)}&to=${day(1)}`)).body).toMatchObject({ participants: 1, position: null });
    expect((await me(t, southToken, "GET", "/v1/me/ranking")).body.error.code).toBe("VALIDATION");
    const balance = await me(t, northToken, "GET", "/v1/me/balance");
    expect(balance.body.accounts[0]).toMatchObject({ account: "points", balance: one.body.points });
  });

  it("acts for the survivor when the session's customer is merged into another", async () => {
    const merged = await admin(t, "POST", "/v1/admin/customers/merge", { requestId: "m-1", from: { customerId: bob }, into: { customerId: ada }, reason: "same person", operator: "admin" });
    expect(merged.body).toMatchObject({ ok: true });
    const r = await me(t, bobToken, "GET", "/v1/me");
    expect(r.body).toMatchObject({ ok: true, customerId: ada });
    expect(r.body.cards.map((c: { card: string }) => c.card).sort()).toEqual(["C-ADA", "C-BOB"]);
  });
});
