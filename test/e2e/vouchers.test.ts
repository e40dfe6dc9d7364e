// Vouchers end to end: admin offers, buying with points (oldest lots first, never more
// than available), redeeming once, expiry by time and by the sweeper, the
// voucher.expiring notification, listing a customer's vouchers, idempotent replays.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, BASE_PROGRAMME, line, sale, startTestEnv, type TestEnv, send as sendHttp } from "./harness.js";

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const DAY = 86_400_000;
const CODE = /^[0-9A-HJKMNP-TV-Z]{12}$/;
const NO_CONSENTS = { email: false, sms: false, post: false };

const send = (t: TestEnv, method: string, path: string, body?: unknown, headers: Record<string, string> = auth) =>
  sendHttp(t, method, path, body, headers);

async function until(what: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

const TEN_OFF = { name: "10 EUR off", pointsCost: 50, kind: "amount", value: 1000, currency: "EUR", validDays: 60 };
const DRINKS = { name: "20% off drinks", pointsCost: 30, kind: "percent", percent: 20, category: "drinks", validDays: 10 };

describe("vouchers", () => {
  let t: TestEnv;
  let offset = 0;
  const clock = () => Date.now() + offset;
  const notices: Record<string, any>[] = [];
  let customer: string;

  beforeAll(async () => {
    t = await startTestEnv({ "expiry.sweepMs": 100, "expiry.noticeDays": 30 }, [{ ...BASE_PROGRAMME, expiry: { afterDays: 365 } }], { now: clock });
    t.nc.subscribe("loyalty.notify.voucher.expiring", { callback: (_e, m) => notices.push(JSON.parse(Buffer.from(m.data).toString())) });
    customer = (await t.rpc("enroll", { requestId: "enr-v1", card: "C-V1" })).customerId;
    await t.rpc("enroll", { requestId: "enr-v2", card: "C-V2" });
  });
  afterAll(async () => t?.stop());

  describe("admin offers", () => {
    it("adds, shows, lists and removes voucher offers of both kinds", async () => {
      const a = await send(t, "PUT", "/v1/admin/voucher-offers/TEN", TEN_OFF);
      expect(a.body).toMatchObject({ ok: true, offer: { id: "TEN", account: "points", ...TEN_OFF } });
      const p = await send(t, "PUT", "/v1/admin/voucher-offers/DRINKS", DRINKS);
      expect(p.body).toMatchObject({ ok: true, offer: { id: "DRINKS", ...DRINKS } });
      expect((await send(t, "GET", "/v1/admin/voucher-offers/TEN")).body).toMatchObject({ ok: true, offer: { id: "TEN", value: 1000 } });
      await send(t, "PUT", "/v1/admin/voucher-offers/TMP", { ...TEN_OFF, name: "Temporary" });
      expect((await send(t, "GET", "/v1/admin/voucher-offers")).body.offers.map((o: { id: string }) => o.id)).toEqual(["DRINKS", "TEN", "TMP"]);
      expect((await send(t, "DELETE", "/v1/admin/voucher-offers/TMP")).body).toEqual({ ok: true, id: "TMP", removed: true });
      const gone = await send(t, "GET", "/v1/admin/voucher-offers/TMP");
      expect(gone.status).toBe(404);
      expect(gone.body).toMatchObject({ error: { code: "UNKNOWN_OFFER" } });
      expect((await send(t, "DELETE", "/v1/admin/voucher-offers/TMP")).status).toBe(404);
    });

    it("refuses invalid offers naming the field, and callers without the token", async () => {
      const cases: [unknown, string][] = [
        [{ ...DRINKS, percent: 0 }, "percent"],
        [{ ...DRINKS, percent: 101 }, "percent"],
        [{ ...TEN_OFF, value: 0 }, "value"],
        [{ ...TEN_OFF, currency: "eur" }, "currency"],
        [{ ...TEN_OFF, pointsCost: 0 }, "pointsCost"],
        [{ ...TEN_OFF, validDays: 0 }, "validDays"],
        [{ ...TEN_OFF, category: "drinks" }, "category"],
        [{ ...TEN_OFF, kind: "gift" }, "kind"],
      ];
      for (const [body, field] of cases) {
        const r = await send(t, "PUT", "/v1/admin/voucher-offers/BAD", body);
        expect(r.status, JSON.stringify(body)).toBe(422);
        expect(r.body).toMatchObject({ ok: false, error: { code: "VALIDATION", field } });
      }
      expect((await send(t, "PUT", "/v1/admin/voucher-offers/BAD", TEN_OFF, {})).status).toBe(401);
      expect((await send(t, "GET", "/v1/admin/voucher-offers", undefined, {})).status).toBe(401);
    });
  });

  describe("buyVoucher and redeemVoucher", () => {
    let tenCode: string;

    it("spends the points now, soonest-expiring first, and issues a voucher with a random code", async () => {
      const now = clock();
      await t.rpc("accrue", sale("v-old", { card: "C-V1" }, [line("1", 1, 4000)], { at: now - 100 * DAY }));
      await t.rpc("accrue", sale("v-new", { card: "C-V1" }, [line("1", 1, 8000)], { at: now - 10 * DAY }));
      const r = await t.rpc("buyVoucher", { requestId: "bv-1", customer: { card: "C-V1" }, offerId: "TEN" });
      expect(r).toMatchObject({
        ok: true,
        approved: true,
        customerId: customer,
        offerId: "TEN",
        pointsCost: 50,
        voucher: { offerId: "TEN", name: "10 EUR off", kind: "amount", value: 1000, currency: "EUR", status: "active", daysLeft: 60 },
        balance: 70,
        available: 70,
      });
      expect(r.voucher.code).toMatch(CODE);
      expect(r.voucher.expiresAt - r.voucher.issuedAt).toBe(60 * DAY);
      expect(r.voucher.percent).toBeUndefined();
      tenCode = r.voucher.code;
      // 40 from the older lot, 10 from the newer one.
      const b = await t.rpc("balance", { customer: { card: "C-V1" } });
      expect(b.accounts[0].expiring).toEqual([{ amount: 70, at: now - 10 * DAY + 365 * DAY }]);
      const st = await t.rpc("statement", { customer: { card: "C-V1" } });
      expect(st.entries.at(-1)).toMatchObject({ kind: "voucher", amount: -50, account: "points" });
      expect(st.entries.at(-1).cause).toContain("offer TEN");
    });

    it("answers a repeated purchase with the same voucher and duplicate: true, spending once", async () => {
      const again = await t.rpc("buyVoucher", { requestId: "bv-1", customer: { card: "C-V1" }, offerId: "TEN" });
      expect(again).toMatchObject({ ok: true, approved: true, balance: 70, duplicate: true, voucher: { code: tenCode } });
      expect((await t.rpc("balance", { customer: { card: "C-V1" } })).accounts[0].balance).toBe(70);
      expect(await t.rpc("buyVoucher", { requestId: "bv-1", customer: { card: "C-V1" }, offerId: "DRINKS" })).toMatchObject({
        ok: false,
        error: { code: "IDEMPOTENCY_CONFLICT" },
      });
    });

    it("never spends more than is available (open holds count)", async () => {
      const hold = await t.rpc("authorize", { requestId: "bv-a", customer: { card: "C-V1" }, amount: 30 });
      expect(hold).toMatchObject({ approved: true, available: 40 });
      const denied = await t.rpc("buyVoucher", { requestId: "bv-2", customer: { card: "C-V1" }, offerId: "TEN" });
      expect(denied).toEqual({ ok: true, approved: false, reason: "INSUFFICIENT_BALANCE", customerId: customer, offerId: "TEN", requested: 50, available: 40 });
      await t.rpc("release", { requestId: "bv-r", holdId: hold.holdId });
      expect((await t.rpc("balance", { customer: { card: "C-V1" } })).accounts[0]).toMatchObject({ balance: 70, held: 0 });
      const none = await t.rpc("buyVoucher", { requestId: "bv-3", customer: { card: "C-V2" }, offerId: "DRINKS" });
      expect(none).toMatchObject({ ok: true, approved: false, reason: "INSUFFICIENT_BALANCE", requested: 30, available: 0 });
    });

    it("refuses an unknown offer or customer", async () => {
      const r = await t.post("/v1/buyVoucher", { requestId: "bv-4", customer: { card: "C-V1" }, offerId: "NOPE" });
      expect(r.status).toBe(404);
      expect(r.body).toMatchObject({ ok: false, error: { code: "UNKNOWN_OFFER", field: "offerId" }, requestId: "bv-4" });
      expect(await t.rpc("buyVoucher", { requestId: "bv-5", customer: { card: "C-NONE" }, offerId: "TEN" })).toMatchObject({ error: { code: "UNKNOWN_CUSTOMER" } });
    });

    it("redeems a voucher once: a replay is a duplicate, another request is VOUCHER_USED", async () => {
      const at = clock();
      const r = await t.rpc("redeemVoucher", { requestId: "rv-1", code: tenCode, eventId: "s-pay-1", at });
      expect(r).toMatchObject({ ok: true, customerId: customer, code: tenCode, kind: "amount", value: 1000, currency: "EUR", status: "used", usedAt: at, eventId: "s-pay-1", daysLeft: 0 });
      expect(await t.rpc("redeemVoucher", { requestId: "rv-1", code: tenCode, eventId: "s-pay-1", at })).toMatchObject({ ok: true, status: "used", duplicate: true });
      const twice = await t.post("/v1/redeemVoucher", { requestId: "rv-2", code: tenCode });
      expect(twice.status).toBe(409);
      expect(twice.body).toMatchObject({ ok: false, error: { code: "VOUCHER_USED", field: "code" }, requestId: "rv-2" });
    });

    it("finds a code typed in lower case with dashes, and refuses an unknown code", async () => {
      const bought = await t.rpc("buyVoucher", { requestId: "bv-6", customer: { card: "C-V1" }, offerId: "TEN" });
      const code: string = bought.voucher.code;
      const typed = `${code.slice(0, 4)}-${code.slice(4, 8)}-${code.slice(8)}`.toLowerCase();
      expect(await t.rpc("redeemVoucher", { requestId: "rv-3", code: typed })).toMatchObject({ ok: true, code, status: "used" });
      const unknown = await t.post("/v1/redeemVoucher", { requestId: "rv-4", code: "0000000000ZZ" });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toMatchObject({ ok: false, error: { code: "UNKNOWN_VOUCHER", field: "code" } });
    });

    it("refuses a voucher used at or after its expiry instant with VOUCHER_EXPIRED", async () => {
      await t.post("/v1/admin/adjustments", { requestId: "adj-v", customer: { card: "C-V1" }, amount: 200, reason: "test", operator: "ops" }, auth);
      const v = (await t.rpc("buyVoucher", { requestId: "bv-7", customer: { card: "C-V1" }, offerId: "DRINKS" })).voucher;
      expect(v).toMatchObject({ kind: "percent", percent: 20, category: "drinks", daysLeft: 10 });
      const late = await t.rpc("redeemVoucher", { requestId: "rv-5", code: v.code, at: v.expiresAt });
      expect(late).toMatchObject({ ok: false, error: { code: "VOUCHER_EXPIRED", field: "code" } });
      expect(await t.rpc("redeemVoucher", { requestId: "rv-6", code: v.code, at: v.issuedAt - 1 })).toMatchObject({ error: { code: "VALIDATION", field: "at" } });
      // Still valid one millisecond before.
      expect(await t.rpc("redeemVoucher", { requestId: "rv-7", code: v.code, at: v.expiresAt - 1 })).toMatchObject({ ok: true, status: "used", usedAt: v.expiresAt - 1 });
    });
  });

  describe("expiry and notices", () => {
    it("notifies once when a voucher enters the notice window, and the sweeper expires it after expiresAt", async () => {
      const v = (await t.rpc("buyVoucher", { requestId: "bv-8", customer: { card: "C-V1" }, offerId: "DRINKS" })).voucher;
      const long = (await t.rpc("buyVoucher", { requestId: "bv-9", customer: { card: "C-V1" }, offerId: "TEN" })).voucher;
      // 10 days of validity is inside the 30-day notice window from the start.
      await until(() => notices.some((n) => n.code === v.code));
      await new Promise((r) => setTimeout(r, 400));
      expect(notices.filter((n) => n.code === v.code)).toEqual([
        { id: `voucher.expiring:${v.code}`, kind: "voucher.expiring", customerId: customer, consents: NO_CONSENTS, code: v.code, expiresAt: v.expiresAt, daysLeft: 10 },
      ]);
      expect(notices.some((n) => n.code === long.code)).toBe(false);

      offset += 11 * DAY;
      await until(async () => {
        const list = await t.rpc("vouchers", { customer: { card: "C-V1" }, status: "expired" });
        return list.vouchers.some((x: { code: string }) => x.code === v.code);
      });
      expect(await t.rpc("redeemVoucher", { requestId: "rv-8", code: v.code })).toMatchObject({ ok: false, error: { code: "VOUCHER_EXPIRED" } });
      expect(await t.rpc("redeemVoucher", { requestId: "rv-8", code: v.code })).toMatchObject({ ok: false, error: { code: "VOUCHER_EXPIRED" } });

      // 60 - 11 = 49 days left: not yet. At 31 days in, 29 left: one notice.
      await new Promise((r) => setTimeout(r, 300));
      expect(notices.some((n) => n.code === long.code)).toBe(false);
      offset += 20 * DAY;
      await until(() => notices.some((n) => n.code === long.code));
      await new Promise((r) => setTimeout(r, 400));
      expect(notices.filter((n) => n.code === long.code)).toEqual([
        { id: `voucher.expiring:${long.code}`, kind: "voucher.expiring", customerId: customer, consents: NO_CONSENTS, code: long.code, expiresAt: long.expiresAt, daysLeft: 29 },
      ]);
    });

    it("lists a customer's vouchers newest first, with status and days left", async () => {
      const list = await t.rpc("vouchers", { customer: { card: "C-V1" } });
      expect(list.ok).toBe(true);
      expect(list.customerId).toBe(customer);
      expect(list.vouchers.map((v: { name: string; status: string; daysLeft: number }) => [v.name, v.status, v.daysLeft])).toEqual([
        ["10 EUR off", "active", 29],
        ["20% off drinks", "expired", 0],
        ["20% off drinks", "used", 0],
        ["10 EUR off", "used", 0],
        ["10 EUR off", "used", 0],
      ]);
      const active = await t.rpc("vouchers", { customer: { card: "C-V1" }, status: "active" });
      expect(active.vouchers).toHaveLength(1);
      expect((await t.rpc("vouchers", { customer: { card: "C-V1" }, limit: 2 })).vouchers).toHaveLength(2);
      expect((await t.rpc("vouchers", { customer: { card: "C-V2" } })).vouchers).toEqual([]);
      expect(await t.rpc("vouchers", { customer: { card: "C-NONE" } })).toMatchObject({ error: { code: "UNKNOWN_CUSTOMER" } });
    });

    it("keeps issued vouchers valid when their offer is removed", async () => {
      const v = (await t.rpc("buyVoucher", { requestId: "bv-10", customer: { card: "C-V1" }, offerId: "DRINKS" })).voucher;
      await send(t, "DELETE", "/v1/admin/voucher-offers/DRINKS");
      expect(await t.rpc("redeemVoucher", { requestId: "rv-9", code: v.code })).toMatchObject({ ok: true, status: "used", percent: 20, category: "drinks" });
      expect(await t.rpc("buyVoucher", { requestId: "bv-11", customer: { card: "C-V1" }, offerId: "DRINKS" })).toMatchObject({ error: { code: "UNKNOWN_OFFER" } });
    });
  });
});

describe("vouchers without a running sweeper", () => {
  let t: TestEnv;
  let offset = 0;
  beforeAll(async () => {
    // A sweep interval of a day: nothing sweeps during the test.
    t = await startTestEnv({ "expiry.sweepMs": DAY }, undefined, { now: () => Date.now() + offset });
    await t.rpc("enroll", { requestId: "enr-ns", card: "C-NS" });
    await t.rpc("accrue", sale("s-ns", { card: "C-NS" }, [line("1", 1, 10_000)], { at: Date.now() }));
    await send(t, "PUT", "/v1/admin/voucher-offers/DRINKS", DRINKS);
  });
  afterAll(async () => t?.stop());

  it("refuses a voucher past its time that the sweeper has not reached yet, and shows it expired", async () => {
    const v = (await t.rpc("buyVoucher", { requestId: "ns-1", customer: { card: "C-NS" }, offerId: "DRINKS" })).voucher;
    offset += 10 * DAY;
    expect(await t.rpc("redeemVoucher", { requestId: "ns-2", code: v.code })).toMatchObject({ ok: false, error: { code: "VOUCHER_EXPIRED" }, requestId: "ns-2" });
    // A request refused this way is not recorded: the same id is answered afresh.
    expect(await t.rpc("redeemVoucher", { requestId: "ns-2", code: v.code })).toMatchObject({ ok: false, error: { code: "VOUCHER_EXPIRED" } });
    const list = await t.rpc("vouchers", { customer: { card: "C-NS" } });
    expect(list.vouchers).toEqual([expect.objectContaining({ code: v.code, status: "expired", daysLeft: 0 })]);
    // A till that accepted it before it expired can still redeem it, at that time.
    const at = v.expiresAt - 60_000;
    expect(await t.rpc("redeemVoucher", { requestId: "ns-3", code: v.code, at })).toMatchObject({ ok: true, status: "used", usedAt: at });
  });

  it("refuses an at more than 7 days in the past", async () => {
    const v = (await t.rpc("buyVoucher", { requestId: "ns-4", customer: { card: "C-NS" }, offerId: "DRINKS" })).voucher;
    offset += 8 * DAY;
    const late = await t.rpc("redeemVoucher", { requestId: "ns-5", code: v.code, at: v.issuedAt + 1000 });
    expect(late).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "at" } });
  });
});
