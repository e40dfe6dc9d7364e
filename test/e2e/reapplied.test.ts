// A command that fails after it has written, through the wire with the default executor
// (workers): the worker's batch runs without child transactions, so the failure throws the
// batch back and it is applied again, each command in a child transaction of its own
// (ledger.ts, Ledger.applyOne). The failed command leaves no trace and the retry is counted.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_PROGRAMME } from "../fixtures.js";
import { line, sale, startTestEnv, type TestEnv } from "./harness.js";

/** Points beyond the business bound for a sku BOOM line of a million units: the rule engine refuses, after the sale enrolled its phone. */
const EXPLOSIVE = { ...BASE_PROGRAMME, rules: [{ kind: "spend", per: 100, points: 1 }, { kind: "sku", sku: "BOOM", pointsPerUnit: 1_000_000_000 }] };

async function reapplied(t: TestEnv): Promise<number> {
  const text = await (await fetch(`${t.http}/metrics`)).text();
  const m = /^loyalty_batch_reapplied_total (\d+)$/m.exec(text);
  expect(m, "loyalty_batch_reapplied_total").not.toBeNull();
  return Number(m![1]);
}

describe("a command that fails after writing (workers)", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv({ executor: "workers", partitions: 1, enrolOnUnknownPhone: true }, [EXPLOSIVE]);
  });
  afterAll(async () => t?.stop());

  it("is refused without a trace, its batch applied again and counted in loyalty_batch_reapplied_total", async () => {
    expect(await reapplied(t)).toBe(0);
    const refused = await t.rpc("accrue", sale("s-over", { card: "C-none" }, [line("1", 1, 700)]));
    expect(refused).toMatchObject({ ok: false, error: { code: "UNKNOWN_CUSTOMER" } });
    // A refusal before any write costs no second pass.
    expect(await reapplied(t)).toBe(0);

    const boom = await t.rpc("accrue", sale("s-boom", { phone: "+48600000001" }, [line("1", 1_000_000, 1, { sku: "BOOM" })]));
    expect(boom).toMatchObject({ ok: false, eventId: "s-boom", error: { code: "VALIDATION" } });
    expect(await reapplied(t)).toBe(1);
    // Its enrolment went with it: the phone is unknown, and the next new customer gets the first id.
    expect(await t.rpc("balance", { customer: { phone: "+48600000001" } })).toMatchObject({ ok: false, error: { code: "UNKNOWN_CUSTOMER" } });
    const next = await t.rpc("accrue", sale("s-next", { phone: "+48600000002" }, [line("1", 1, 700)]));
    expect(next).toMatchObject({ ok: true, earned: 7, customerId: "cu_000001" });
    // A re-send of the refused sale is evaluated afresh (nothing of it was stored), and refused again.
    expect(await t.rpc("accrue", sale("s-boom", { phone: "+48600000001" }, [line("1", 1_000_000, 1, { sku: "BOOM" })]))).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await reapplied(t)).toBe(2);
  });
});
