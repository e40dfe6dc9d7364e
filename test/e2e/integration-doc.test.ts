// docs/integration.md runs as written: its `ts till` code blocks are put together into
// one module, which imports `loyaltyd/client` through the package's exports (the built
// dist/), and the till flow it shows is driven against a real engine over NATS and HTTP.
// OVERLOADED comes from a NATS relay that refuses; everything else is the real engine.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import ts from "typescript";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import { ROOT, startTestEnv, type TestEnv } from "./harness.js";

/** The code blocks of the doc whose info string is `ts till`, in order. */
function tillBlocks(markdown: string): string {
  const blocks = [...markdown.matchAll(/^```ts till\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  expect(blocks.length).toBeGreaterThanOrEqual(5);
  return blocks.join("\n");
}

describe("docs/integration.md, run as written", () => {
  let t: TestEnv;
  let till: Record<string, any>;
  const file = join(ROOT, "test", "e2e", `.integration-flow-${process.pid}.ts`);

  beforeAll(async () => {
    t = await startTestEnv();
    writeFileSync(file, tillBlocks(readFileSync(join(ROOT, "docs", "integration.md"), "utf8")));
    till = await import(file);
  });
  afterAll(async () => {
    rmSync(file, { force: true });
    await t?.stop();
  });

  const basket = (eventId: string, card: string) => ({
    eventId,
    at: Date.now(),
    storeId: "s01",
    terminalId: "t3",
    card,
    currency: "EUR",
    lines: [
      { lineId: "1", sku: "COFFEE", qty: 2, unitPrice: 1250, category: "drinks" },
      { lineId: "2", sku: "CAKE", qty: 1, unitPrice: 500 },
    ],
  });

  it("type-checks against the client's published declarations", () => {
    // The package's own compiler options, the doc's module alone: loyaltyd/client resolves to dist/src/client/index.d.ts.
    const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
    const program = ts.createProgram([file], { ...config!.options, noEmit: true });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(problems).toEqual([]);
  }, 120_000);

  it("identifies, enrols, quotes, holds, accrues and captures over NATS", async () => {
    const { loyalty, close } = await till.connectTill(t.nats.url, "s01", "t3");
    try {
      expect(await till.identify(loyalty, "C-DOC")).toBeNull();
      const customerId = await till.enrolAtTill(loyalty, "C-DOC", "Ada", "+48601555001");
      expect(await till.identify(loyalty, "C-DOC")).toEqual({ customerId, name: "Ada", tier: null, available: 0 });

      // First visit: 30.00 EUR, nothing to redeem yet; earns 30 points (1 per 1.00).
      const first = await till.checkout(loyalty, basket("doc-s1", "C-DOC"), 1000, async (due: number) => due === 3000);
      expect(first).toEqual({ paid: true, pointsDiscount: 0, earned: 30, balance: 30 });

      // Second visit: pays 10 minor units with points (pointValue 1), earns on the whole basket.
      const paidWith: number[] = [];
      const second = await till.checkout(loyalty, basket("doc-s2", "C-DOC"), 10, async (due: number) => (paidWith.push(due), true));
      expect(paidWith).toEqual([2990]);
      expect(second).toEqual({ paid: true, pointsDiscount: 10, earned: 30, balance: 50 });
      expect((await till.identify(loyalty, "C-DOC")).available).toBe(50);
    } finally {
      await close();
    }
  });

  it("releases the hold when the payment fails, over HTTP", async () => {
    const loyalty = till.connectTillHttp(t.http, undefined, "s01", "t4");
    await till.enrolAtTill(loyalty, "C-DOC2", "Bob", "+48601555002");
    await till.checkout(loyalty, basket("doc-h1", "C-DOC2"), 0, async () => true);
    const declined = await till.checkout(loyalty, basket("doc-h2", "C-DOC2"), 20, async () => false);
    expect(declined).toMatchObject({ paid: false, pointsDiscount: 0 });
    // Nothing held, nothing spent, the declined sale not accrued.
    const balance = await loyalty.balance({ customer: { card: "C-DOC2" } });
    expect(balance.accounts[0]).toMatchObject({ balance: 30, held: 0, available: 30 });
    const statement = await loyalty.statement({ customer: { card: "C-DOC2" } });
    expect(statement.entries.map((e: { kind: string }) => e.kind)).toEqual(["accrual", "hold", "release"]);
  });

  it("parks a paid sale while the engine is OVERLOADED and accrues it once later", async () => {
    const direct = createClient({ nats: t.nc });
    await direct.enroll({ card: "C-DOC3" });
    // A relay that answers every request OVERLOADED, as an engine at capacity does.
    let refused = 0;
    const sub = t.nc.subscribe("busy.rpc.>", {
      callback: (_err, msg) => {
        refused++;
        msg.respond(Buffer.from(JSON.stringify({ ok: false, error: { code: "OVERLOADED", message: "the engine is at capacity; retry later" } })));
      },
    });
    try {
      const busy = createClient({ nats: t.nc, subjectPrefix: "busy.rpc.", retry: { attemptsMax: 3, delayMsBase: 1, delayMsMax: 2 } });
      const b = basket("doc-p1", "C-DOC3");
      const event = { type: "sale", eventId: b.eventId, at: b.at, storeId: "s01", terminalId: "t3", customer: { card: "C-DOC3" }, currency: "EUR", lines: b.lines };
      expect(await till.quoteOrNothing(busy, event)).toBeNull();
      expect(await till.accrueOrPark(busy, event)).toBe(false);
      expect(refused).toBe(6); // the quote's and the accrue's 3 attempts each
      expect(till.parked).toHaveLength(1);
      expect(await till.flushParked(busy)).toBe(0);
      expect(till.parked).toHaveLength(1);
    } finally {
      sub.unsubscribe();
    }
    // The engine is back: the parked sale goes through once; sending it again changes nothing.
    const event = till.parked[0];
    expect(await till.flushParked(direct)).toBe(1);
    expect(till.parked).toHaveLength(0);
    expect(await direct.accrue(event)).toMatchObject({ duplicate: true, earned: 30 });
    expect((await direct.balance({ customer: { card: "C-DOC3" } })).accounts[0]?.balance).toBe(30);
  });
});
