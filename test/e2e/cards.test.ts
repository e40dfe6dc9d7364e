// Card management: a family's cards on one account; a lost card blocked and replaced.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, line, sale, send, startTestEnv, type TestEnv } from "./harness.js";

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe("cards", () => {
  let t: TestEnv;
  let customerId: string;
  const card = (body: Record<string, unknown>) => send(t, "POST", "/v1/admin/cards", body, auth);
  beforeAll(async () => {
    t = await startTestEnv();
    customerId = (await t.rpc("enroll", { requestId: "e-fam", card: "FAM-1", profile: { name: "Family" } })).customerId;
  });
  afterAll(async () => t?.stop());

  it("links a second card to the same account: both earn into one balance", async () => {
    expect((await card({ requestId: "l-1", action: "link", card: "FAM-2", customer: { card: "FAM-1" } })).body).toMatchObject({ ok: true, customerId, status: "active" });
    await t.rpc("accrue", sale("c-1", { card: "FAM-1" }, [line("1", 1, 1000)]));
    const r = await t.rpc("accrue", sale("c-2", { card: "FAM-2" }, [line("1", 1, 2000)]));
    expect(r).toMatchObject({ customerId, balance: 30 });
    expect((await card({ requestId: "l-2", action: "link", card: "FAM-2", customer: { card: "FAM-1" } })).body).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "card" } });
  });

  it("blocks a lost card (CARD_BLOCKED on every use) and replaces it, keeping the balance", async () => {
    expect((await card({ requestId: "b-1", action: "block", card: "FAM-2" })).body).toMatchObject({ ok: true, status: "blocked" });
    expect(await t.rpc("accrue", sale("c-3", { card: "FAM-2" }, [line("1", 1, 1000)]))).toMatchObject({ ok: false, error: { code: "CARD_BLOCKED" } });
    expect(await t.rpc("authorize", { requestId: "a-1", customer: { card: "FAM-2" }, amount: 1 })).toMatchObject({ ok: false, error: { code: "CARD_BLOCKED" } });
    const http = await t.post("/v1/balance", { customer: { card: "FAM-2" } });
    expect(http.status).toBe(403);
    expect((await card({ requestId: "r-1", action: "replace", card: "FAM-2", newCard: "FAM-3" })).body).toMatchObject({ ok: true, card: "FAM-3", replaced: "FAM-2" });
    expect((await t.rpc("balance", { customer: { card: "FAM-3" } })).accounts[0].balance).toBe(30);
    expect((await card({ requestId: "u-1", action: "unblock", card: "FAM-2" })).body).toMatchObject({ ok: true, status: "active" });
    expect((await t.rpc("balance", { customer: { card: "FAM-2" } })).customerId).toBe(customerId);
  });

  it("unlinks a card, which then belongs to nobody; card changes need the admin token", async () => {
    expect((await card({ requestId: "x-1", action: "unlink", card: "FAM-2" })).body).toMatchObject({ ok: true, status: "unlinked" });
    expect(await t.rpc("balance", { customer: { card: "FAM-2" } })).toMatchObject({ ok: false, error: { code: "UNKNOWN_CUSTOMER" } });
    expect((await card({ requestId: "x-2", action: "block", card: "NOPE" })).body).toMatchObject({ ok: false, error: { code: "UNKNOWN_CUSTOMER" } });
    expect((await send(t, "POST", "/v1/admin/cards", { requestId: "x-3", action: "block", card: "FAM-1" })).status).toBe(401);
    expect((await card({ requestId: "x-4", action: "melt", card: "FAM-1" })).body).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "action" } });
  });
});
