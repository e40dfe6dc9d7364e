// The simulator against a real nats-server and a stub engine that speaks the contract:
// it enrols, paces publishes, times results by eventId, probes request/reply, and changes
// customers (updateCustomer) now and then.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AckPolicy, connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findNatsServer, startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import type { PosEvent } from "../../src/simulator/baskets.js";
import { startSimulator } from "../../src/simulator/simulator.js";
import { encodeJson } from "../../src/simulator/wire.js";
import { validate } from "../../src/codec/codec.js";

const decoder = new TextDecoder();

/** Answers the verbs the simulator uses and turns each stream event into a result; voids fail, to exercise the error path. */
async function startStubEngine(nc: NatsConnection): Promise<{ enrolled: Set<string>; updates: unknown[]; stop(): Promise<void> }> {
  const enrolled = new Set<string>();
  const updates: unknown[] = [];
  // Every fifth customer change is refused, to exercise the error path.
  nc.subscribe("loyalty.rpc.updateCustomer", {
    callback: (_e, m) => {
      updates.push(JSON.parse(decoder.decode(m.data)));
      const refused = updates.length % 5 === 0;
      m.respond(encodeJson(refused ? { ok: false, error: { code: "UNKNOWN_CUSTOMER", message: "stub" } } : { ok: true }));
    },
  });
  nc.subscribe("loyalty.rpc.enroll", {
    callback: (_e, m) => {
      const req = JSON.parse(decoder.decode(m.data)) as { card: string };
      enrolled.add(req.card);
      m.respond(encodeJson({ ok: true, customerId: `cust-${req.card}` }));
    },
  });
  for (const verb of ["balance", "quote"]) {
    nc.subscribe(`loyalty.rpc.${verb}`, { callback: (_e, m) => m.respond(encodeJson({ ok: true, earned: 0, accounts: [] })) });
  }
  // Approves even amounts, denies odd ones; captures and releases any hold it gave.
  const holds = new Set<string>();
  nc.subscribe("loyalty.rpc.authorize", {
    callback: (_e, m) => {
      const req = JSON.parse(decoder.decode(m.data)) as { requestId: string; amount: number; customer: { card?: string } };
      if (!req.customer.card?.startsWith("C-")) return m.respond(encodeJson({ ok: false, error: { code: "VALIDATION" } }));
      if (req.amount % 2 === 1) return m.respond(encodeJson({ ok: true, approved: false, reason: "INSUFFICIENT_BALANCE" }));
      const holdId = `h_${req.requestId}`;
      holds.add(holdId);
      m.respond(encodeJson({ ok: true, approved: true, holdId, amount: req.amount }));
    },
  });
  for (const verb of ["capture", "release"]) {
    nc.subscribe(`loyalty.rpc.${verb}`, {
      callback: (_e, m) => {
        const { holdId } = JSON.parse(decoder.decode(m.data)) as { holdId: string };
        m.respond(encodeJson(holds.delete(holdId) ? { ok: true, holdId } : { ok: false, error: { code: "UNKNOWN_HOLD" } }));
      },
    });
  }
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: "LOYALTY_EVENTS", subjects: ["loyalty.events.>"] });
  await jsm.consumers.add("LOYALTY_EVENTS", { durable_name: "stub", ack_policy: AckPolicy.Explicit });
  const consumer = await nc.jetstream().consumers.get("LOYALTY_EVENTS", "stub");
  const messages = await consumer.consume({
    callback: (m) => {
      const ev = JSON.parse(decoder.decode(m.data)) as PosEvent;
      const store = m.subject.slice("loyalty.events.".length);
      const result =
        ev.type === "void"
          ? { ok: false, error: { code: "UNKNOWN_EVENT", message: "stub" }, eventId: ev.eventId }
          : { ok: true, eventId: ev.eventId, customerId: "x", earned: 3, duplicate: false };
      nc.publish(`loyalty.results.${store}`, encodeJson(result));
      m.ack();
    },
  });
  return { enrolled, updates, stop: async () => void (await messages.close()) };
}

describe.skipIf(findNatsServer() === null)("simulator", () => {
  let tmp: string;
  let server: NatsServerHandle;
  let engineNc: NatsConnection;
  let simNc: NatsConnection;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "loyaltyd-sim-"));
    server = await startNatsServer({ storeDir: join(tmp, "nats") });
    engineNc = await connect({ servers: server.url });
    simNc = await connect({ servers: server.url });
  });

  afterAll(async () => {
    await simNc?.close();
    await engineNc?.close();
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("enrols the card customers, publishes at the rate and times every result", async () => {
    const engine = await startStubEngine(engineNc);
    const lines: string[] = [];
    const sim = await startSimulator({
      nc: simNc,
      ratePerSec: 400,
      customers: 30,
      seed: 5,
      summaryEveryMs: 250,
      log: (l) => lines.push(l),
      rates: { void: 0.05 },
      updateEveryMs: 50,
    });
    await new Promise((r) => setTimeout(r, 1500));
    await sim.stop();
    await new Promise((r) => setTimeout(r, 100));
    const s = sim.stats();
    await engine.stop();

    expect(engine.enrolled.size).toBe(30);
    expect(s.enrolled).toBe(30);
    // 1.5 s at 400/s, give or take a tick and the shutdown.
    expect(s.published).toBeGreaterThan(450);
    expect(s.published).toBeLessThan(700);
    expect(s.publishFailed).toBe(0);
    expect(s.results).toBeGreaterThan(0.8 * (s.published - s.duplicatesSent));
    expect(s.earned).toBe(3 * s.resultsOk);
    expect(s.latencyP50Ms).toBeGreaterThan(0);
    expect(s.latencyP99Ms).toBeGreaterThanOrEqual(s.latencyP50Ms);
    expect(s.duplicatesDeduped).toBe(s.duplicatesSent);
    expect(s.errorsByCode.UNKNOWN_EVENT ?? 0).toBeGreaterThan(0);
    expect(s.rpcOk).toBeGreaterThan(0);
    expect(s.rpcFailed).toBe(0);
    // Customer changes over request/reply, about one per 50 ms, each a valid updateCustomer request.
    expect(engine.updates.length).toBeGreaterThan(10);
    expect(s.updatesOk + s.updatesFailed).toBe(engine.updates.length);
    expect(s.updatesFailed).toBe(Math.floor(engine.updates.length / 5));
    expect(s.errorsByCode["update:UNKNOWN_CUSTOMER"]).toBe(s.updatesFailed);
    for (const u of engine.updates) expect(() => validate("updateCustomer", u)).not.toThrow();
    expect(lines[0]).toMatch(/enrolled 30\/30/);
    expect(lines.some((l) => /published \d+\/s, results \d+\/s, latency p50 [\d.]+ ms p99 [\d.]+ ms, earned \d+ pts/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/customer updates \d+ ok \d+ failed/);
  }, 20_000);

  it("with redeem: authorizes points beside each probe, then captures most holds and releases the others", async () => {
    const engine = await startStubEngine(engineNc);
    const sim = await startSimulator({ nc: simNc, ratePerSec: 50, customers: 30, seed: 9, log: () => undefined, redeem: true, enrol: false });
    await new Promise((r) => setTimeout(r, 2500));
    await sim.stop();
    await new Promise((r) => setTimeout(r, 100));
    const { redemptions: d, rpcFailed } = sim.stats();
    await engine.stop();
    expect(rpcFailed).toBe(0);
    expect(d.failed).toEqual({});
    expect(d.authorized).toBeGreaterThan(5);
    expect(d.denied).toBeGreaterThan(0);
    // Every approved hold settled one way or the other (the last may still be in flight at stop).
    expect(d.authorized - (d.captured + d.released)).toBeLessThanOrEqual(1);
    expect(d.captured).toBeGreaterThan(d.released);
  }, 20_000);

  it("without redeem: no authorisation at all", async () => {
    const engine = await startStubEngine(engineNc);
    const sim = await startSimulator({ nc: simNc, ratePerSec: 50, customers: 30, seed: 9, log: () => undefined, enrol: false });
    await new Promise((r) => setTimeout(r, 600));
    await sim.stop();
    await engine.stop();
    expect(sim.stats().redemptions).toEqual({ authorized: 0, denied: 0, captured: 0, released: 0, failed: {} });
    expect(sim.stats().rpcOk).toBeGreaterThan(0);
  }, 20_000);
});
