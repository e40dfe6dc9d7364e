// A merge of two customers whose partitions differ (cluster mode, cluster/merge.ts and
// ledger/merge-steps.ts), through two instances on one NATS server: the survivor has
// both balances, the merged-away customer's id, card and phone find the survivor through
// either instance, a return of its earlier sale takes back from the survivor, a repeat
// answers duplicate, and a merge that cannot take a customer out leaves both as they were.
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/engine.js";
import { scopedPartition } from "../../src/partition/router.js";
import { line, sale } from "../e2e/harness.js";
import { call, inProcessCluster, pointsOf } from "./in-process.js";

const cluster = inProcessCluster(6);
const engines = cluster.engines;
const points = pointsOf;

/** Enrols customers (card and phone) until two of them are on different partitions. */
async function pair(e: Engine, tag: string): Promise<[string, string]> {
  const ids: string[] = [];
  for (let i = 0; ; i++) {
    const r = await call(e, "POST", "/v1/enroll", { requestId: `${tag}-e${i}`, card: `${tag}-C${i}`, profile: { phone: `+48600${tag.length}${String(i).padStart(4, "0")}${tag.charCodeAt(0) % 10}` } });
    expect(r.body.ok, JSON.stringify(r.body)).toBe(true);
    ids.push(r.body.customerId);
    const other = ids.find((id) => scopedPartition(id) !== scopedPartition(r.body.customerId));
    if (other) return [other, r.body.customerId];
  }
}

beforeAll(async () => {
  for (const id of ["m1", "m2"]) await cluster.member(id);
  await cluster.settled();
}, 40_000);

describe("cluster mode: a merge across partitions", () => {
  it("moves everything to the survivor, and every reference follows it through any instance", async () => {
    const [e1, e2] = engines as [Engine, Engine];
    const [from, into] = await pair(e1, "A");
    const fromRec = (await call(e2, "POST", "/v1/customer", { customer: { customerId: from } })).body;
    const sold = await call(e2, "POST", "/v1/accrue", sale("mx-s1", { customerId: from }, [line("1", 2, 1000), line("2", 1, 700)]));
    expect(sold.body.ok, JSON.stringify(sold.body)).toBe(true);
    expect((await call(e1, "POST", "/v1/accrue", sale("mx-s2", { customerId: into }, [line("1", 1, 1500)]))).body.ok).toBe(true);
    const [a, b] = [await points(e1, { customerId: from }), await points(e2, { customerId: into })];
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);

    const body = { requestId: "mx-1", from, into, reason: "same person", operator: "olga" };
    const merged = await call(e2, "POST", "/v1/admin/customers/merge", body);
    expect(merged.body, JSON.stringify(merged.body)).toMatchObject({ ok: true, requestId: "mx-1", from, into, cards: [fromRec.cards[0].card] });
    expect(merged.body.accounts.find((x: any) => x.account === "points")).toMatchObject({ moved: a, balance: a + b });
    expect(merged.body.released).toEqual(["phone"]);

    for (const e of [e1, e2]) {
      expect(await points(e, { customerId: into })).toBe(a + b);
      // The merged-away id and card find the survivor (the directory's alias and card).
      expect(await points(e, { customerId: from })).toBe(a + b);
      expect(await points(e, { card: fromRec.cards[0].card })).toBe(a + b);
    }
    // A sale at its card earns for the survivor; a return of its earlier sale takes back from the survivor.
    const more = await call(e1, "POST", "/v1/accrue", sale("mx-s3", { card: fromRec.cards[0].card }, [line("1", 1, 1000)]));
    expect(more.body, JSON.stringify(more.body)).toMatchObject({ ok: true, customerId: into });
    const afterSale = await points(e2, { customerId: into });
    expect(afterSale).toBeGreaterThan(a + b);
    const ret = await call(e1, "POST", "/v1/accrue", { type: "return", eventId: "mx-r1", originalEventId: "mx-s1", at: Date.UTC(2026, 0, 5, 13), lines: [{ lineId: "1", qty: 1 }] });
    expect(ret.body.ok, JSON.stringify(ret.body)).toBe(true);
    expect(await points(e1, { customerId: into })).toBeLessThan(afterSale);
    // The earlier sale sent again: a duplicate wherever it comes through.
    expect((await call(e2, "POST", "/v1/accrue", sale("mx-s1", { customerId: from }, [line("1", 2, 1000), line("2", 1, 700)]))).body).toMatchObject({ ok: true, duplicate: true });

    // Sent again (through the other instance): the same reply, nothing moves twice. Its id with another body
    // (from by its card, now the survivor's): IDEMPOTENCY_CONFLICT, as for a merge within one partition.
    const before = await points(e1, { customerId: into });
    const again = await call(e1, "POST", "/v1/admin/customers/merge", body);
    expect(again.body, JSON.stringify(again.body)).toMatchObject({ ok: true, duplicate: true, from, into });
    const byCard = await call(e2, "POST", "/v1/admin/customers/merge", { ...body, from: { card: fromRec.cards[0].card } });
    expect(byCard.body.error?.code, JSON.stringify(byCard.body)).toBe("IDEMPOTENCY_CONFLICT");
    expect(await points(e2, { customerId: into })).toBe(before);
    // The statement shows the move; the survivor takes merges and erasure again (no reservation left).
    const st = await call(e2, "POST", "/v1/statement", { customer: { customerId: into } });
    expect(st.body.entries.some((x: any) => x.kind === "merge" && x.amount === a)).toBe(true);
    const c = (await call(e1, "POST", "/v1/customer", { customer: { customerId: into } })).body;
    expect(c.cards.map((x: any) => x.card)).toContain(fromRec.cards[0].card);
  }, 60_000);

  it("refuses a merged-away customer with an open hold, and leaves both as they were", async () => {
    const [e1, e2] = engines as [Engine, Engine];
    const [from, into] = await pair(e2, "B");
    expect((await call(e1, "POST", "/v1/admin/adjustments", { requestId: "mh-adj", customer: { customerId: from }, account: "points", amount: 50, reason: "welcome", operator: "olga" })).body.ok).toBe(true);
    const hold = await call(e1, "POST", "/v1/authorize", { requestId: "mh-h", customer: { customerId: from }, amount: 10 });
    expect(hold.body.ok, JSON.stringify(hold.body)).toBe(true);
    const body = { requestId: "mh-1", from, into, reason: "same person", operator: "olga" };
    const refused = await call(e1, "POST", "/v1/admin/customers/merge", body);
    expect(refused.body, JSON.stringify(refused.body)).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "from" }, requestId: "mh-1" });
    expect(await points(e2, { customerId: from })).toBe(50);
    // Once the hold is released, the same request merges.
    expect((await call(e2, "POST", "/v1/release", { requestId: "mh-rel", holdId: hold.body.holdId })).body.ok).toBe(true);
    const merged = await call(e2, "POST", "/v1/admin/customers/merge", body);
    expect(merged.body, JSON.stringify(merged.body)).toMatchObject({ ok: true, from, into });
    expect(await points(e1, { customerId: into })).toBe(50);
    // The merged-away customer cannot be merged or erased again; the survivor can be erased.
    const twice = await call(e1, "POST", "/v1/admin/customers/merge", { ...body, requestId: "mh-2" });
    expect(twice.body.error?.code, JSON.stringify(twice.body)).toBe("VALIDATION");
    const erased = await call(e1, "POST", `/v1/admin/customers/${into}/erase`, { reason: "asked to be forgotten", operator: "olga" });
    expect(erased.body, JSON.stringify(erased.body)).toMatchObject({ ok: true, customerId: into });
  }, 60_000);
});
