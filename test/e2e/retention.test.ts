// Retention through a running engine (inline executor, its clock driven by the test):
// the scan deletes what is past its window, counts it in /metrics, and a re-send of a
// pruned event gets VALIDATION on `at` while a retry of a pruned request is applied again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { line, sale, startTestEnv, type TestEnv } from "./harness.js";

const DAY_MS = 86_400_000;

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("retention in the engine", () => {
  let t: TestEnv;
  let offset = 0;
  const start = Date.UTC(2026, 0, 6);
  const clock = () => start + offset;
  beforeAll(async () => {
    const overrides = { "events.lateMsMax": 30 * DAY_MS, "retention.salesMs": 30 * DAY_MS, "retention.requestsMs": 7 * DAY_MS, "retention.sweepMs": 100 };
    t = await startTestEnv(overrides, undefined, { now: clock });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const pruned = async (kind: string) => {
    const text = await (await fetch(`${t.http}/metrics`)).text();
    return Number(new RegExp(`^loyalty_retention_pruned_total\\{kind="${kind}"\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
  };

  it("prunes a sale past its window and refuses its re-send with VALIDATION on at; a request retried past its window is applied again", async () => {
    expect(await t.rpc("enroll", { requestId: "e-1", card: "C-1" })).toMatchObject({ ok: true });
    const ev = sale("s-1", { card: "C-1" }, [line("1", 1, 1000)], { at: start });
    expect(await t.rpc("accrue", ev)).toMatchObject({ ok: true, earned: 10, duplicate: false });
    const auth = { requestId: "a-1", customer: { card: "C-1" }, amount: 4 };
    const first = await t.rpc("authorize", auth);
    expect(first).toMatchObject({ ok: true, approved: true });

    offset = 8 * DAY_MS; // past the request window, inside the event window
    expect(await until(() => pruned("request"), (n) => n >= 2)).toBe(2); // e-1 and a-1
    expect(await t.rpc("accrue", ev)).toMatchObject({ ok: true, duplicate: true });
    const again = await t.rpc("authorize", auth);
    expect(again).toMatchObject({ ok: true, approved: true });
    expect(again.holdId).not.toBe(first.holdId);

    offset = 30 * DAY_MS + 1;
    expect(await until(() => pruned("event"), (n) => n >= 1)).toBe(1);
    const resent = await t.rpc("accrue", ev);
    expect(resent).toMatchObject({ ok: false, error: { code: "VALIDATION", field: "at" } });
    const b = await t.rpc("balance", { customer: { card: "C-1" } });
    expect(b.accounts[0]).toMatchObject({ balance: 10 });
  });
});
