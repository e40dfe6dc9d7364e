// Random and adversarial payloads through NATS (JSON and MessagePack) and HTTP against a
// live engine with worker partitions: every reply is a success or a contract error, the
// engine stays up and keeps serving, and every balance is still the sum of its entries.
import fc from "fast-check";
import { Packr } from "msgpackr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/errors.js";
import { TERMINAL_VERBS } from "../../src/verbs.js";
import { line, sale, startTestEnv, type TestEnv } from "./harness.js";

// INTERNAL is a contract code, but bad input answered with it is a bug: it is not accepted here.
const CODES = new Set(Object.keys(ERROR_CODES).filter((c) => c !== "INTERNAL"));
// msgpackr's own extensions (records, structures, typed arrays, dates) are not plain MessagePack.
const recordsPackr = new Packr({ useRecords: true, structuredClone: true });
const plainPackr = new Packr({ useRecords: false });

/** Adversarial bodies: random JSON, near-valid requests with extreme values, raw bytes, extensions, deep nesting. */
const extreme = fc.oneof(
  fc.constant(Number.MAX_SAFE_INTEGER), fc.constant(2 ** 53 + 2), fc.constant(-(2 ** 63)), fc.constant(1e308), fc.constant(-0),
  fc.constant(Number.MIN_VALUE), fc.double(), fc.integer(), fc.string(), fc.constant("__proto__"), fc.constant("constructor"), fc.constant(null),
);
const nearValid = fc.record({
  type: fc.constantFrom("sale", "return", "void", "other"),
  eventId: fc.oneof(fc.string({ maxLength: 200 }), extreme),
  requestId: fc.oneof(fc.string({ maxLength: 200 }), extreme),
  at: fc.oneof(fc.constant(Date.now()), extreme),
  storeId: fc.oneof(fc.constant("s01"), extreme),
  customer: fc.oneof(fc.constant({ card: "F-1" }), fc.record({ card: extreme }), fc.dictionary(fc.string(), extreme)),
  currency: fc.constantFrom("EUR", "eur", ""),
  lines: fc.array(fc.record({ lineId: fc.oneof(fc.string(), extreme), sku: fc.string(), qty: extreme, unitPrice: extreme, amount: extreme }), { maxLength: 4 }),
  amount: extreme,
  value: extreme,
  holdId: extreme,
  code: extreme,
}, { requiredKeys: [] });
const deep = fc.integer({ min: 1, max: 5000 }).map((n) => "[".repeat(n) + "]".repeat(n));
const body = fc.oneof(
  fc.jsonValue().map((v) => ({ kind: "json" as const, bytes: Buffer.from(JSON.stringify(v) ?? "null") })),
  nearValid.map((v) => ({ kind: "json" as const, bytes: Buffer.from(JSON.stringify(v)) })),
  nearValid.map((v) => ({ kind: "msgpack" as const, bytes: plainPackr.pack(v) })),
  nearValid.map((v) => ({ kind: "msgpack" as const, bytes: recordsPackr.pack({ ...v, when: new Date(), blob: new Uint8Array(3) }) })),
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => ({ kind: "raw" as const, bytes: Buffer.from(b) })),
  deep.map((s) => ({ kind: "json" as const, bytes: Buffer.from(`{"deep":${s}}`) })),
  // A MessagePack str32 / array32 header that declares far more than follows.
  fc.constantFrom(Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xf0, 0x61]), Buffer.from([0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01]), Buffer.from([0xc6, 0xff, 0xff, 0xff, 0xff])).map((b) => ({ kind: "raw" as const, bytes: b })),
);

describe("fuzz: adversarial payloads against a live engine (workers, 2 partitions)", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv({ executor: "workers", partitions: 2 });
    expect((await t.rpc("enroll", { requestId: "f-e1", card: "F-1" })).ok).toBe(true);
    expect((await t.rpc("accrue", sale("f-s1", { card: "F-1" }, [line("1", 1, 5000)]))).ok).toBe(true);
  });
  afterAll(async () => t?.stop());

  const decode = (bytes: Uint8Array): Record<string, any> =>
    bytes[0] === 0x7b ? JSON.parse(Buffer.from(bytes).toString()) : (new Packr({ useRecords: false, mapsAsObjects: true }).unpack(bytes) as Record<string, any>);

  function expectContractReply(reply: Record<string, any>, where: string): void {
    expect(typeof reply.ok, where).toBe("boolean");
    if (reply.ok === false) expect(CODES.has(reply.error?.code), `${where}: ${JSON.stringify(reply.error)}`).toBe(true);
  }

  it("answers every payload with a success or a contract error, over NATS and HTTP, and keeps serving", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...TERMINAL_VERBS), body, fc.boolean(), async (verb, b, overHttp) => {
        if (overHttp) {
          const res = await fetch(`${t.http}/v1/${verb}`, { method: "POST", headers: { "content-type": "application/json" }, body: b.bytes });
          expectContractReply((await res.json()) as Record<string, any>, `http ${verb} ${b.kind}`);
          return;
        }
        const m = await t.nc.request(`loyalty.rpc.${verb}`, b.bytes, { timeout: 10_000 });
        expectContractReply(decode(m.data), `rpc ${verb} ${b.kind}`);
      }),
      { numRuns: 400, seed: 20261130 },
    );
    // Still up, still right: a normal sale applies, and the balance is the sum of the entries.
    expect(await t.rpc("accrue", sale("f-s2", { card: "F-1" }, [line("1", 1, 1000)]))).toMatchObject({ ok: true, earned: 10 });
    const balance = await t.rpc("balance", { customer: { card: "F-1" } });
    const statement = await t.rpc("statement", { customer: { card: "F-1" }, limit: 1000 });
    for (const acc of balance.accounts) {
      const sum = statement.entries.filter((e: any) => e.account === acc.account).reduce((s: number, e: any) => s + e.amount, 0);
      expect(acc.balance, acc.account).toBe(sum);
    }
    expect((await fetch(`${t.http}/readyz`)).status).toBe(200);
  });
});
