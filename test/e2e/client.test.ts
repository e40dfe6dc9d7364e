// loyaltyd/client against a real engine: every transport and encoding (NATS JSON, NATS
// MessagePack, HTTP), typed errors by code, and retries that are safe because they carry
// the first attempt's id: an accrue whose reply is lost is applied once. The lost replies
// and refusals are made by a relay between client and engine (a NATS responder or an HTTP
// server) that passes everything else through to the real engine.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, isLoyaltyError, LoyaltyClientError, type ClientOptions, type RetryInfo } from "../../src/client/index.js";
import { line, sale, startTestEnv, type TestEnv } from "./harness.js";

const fast = { sleep: async () => undefined };

describe("loyaltyd/client against a real engine", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv();
  });
  afterAll(async () => {
    await t?.stop();
  });

  const transports: [string, () => ClientOptions][] = [
    ["NATS, JSON", () => ({ nats: t.nc })],
    ["NATS, MessagePack", () => ({ nats: t.nc, encoding: "msgpack" })],
    ["HTTP", () => ({ http: t.http })],
  ];

  describe.each(transports)("over %s", (name, options) => {
    const tag = name.replace(/\W+/g, "");
    it("runs enroll, accrue, balance, authorize and capture, making the request ids", async () => {
      const client = createClient(options());
      const enrolled = await client.enroll({ card: `C-${tag}`, profile: { name: "Ada" } });
      expect(enrolled.customerId).toMatch(/^cu_/);
      const customer = { card: `C-${tag}` };
      const accrued = await client.accrue(sale(`${tag}-s1`, customer, [line("1", 2, 1250)]) as never);
      expect(accrued).toMatchObject({ ok: true, earned: 25, balance: 25, duplicate: false });
      expect((await client.balance({ customer })).accounts[0]).toMatchObject({ account: "points", balance: 25, available: 25 });
      const hold = await client.authorize({ customer, amount: 10 });
      if (!hold.approved) throw new Error("not approved");
      const captured = await client.capture({ holdId: hold.holdId });
      expect(captured).toMatchObject({ captured: 10, balance: 15 });
      // Each call made its own request id: a second authorize is a second hold, not a duplicate.
      const again = await client.authorize({ customer, amount: 1 });
      expect(again.approved && again.holdId !== hold.holdId).toBe(true);
    });

    it("throws typed errors with the engine's code and field", async () => {
      const client = createClient(options());
      const unknown = await client.balance({ customer: { card: "C-NOBODY" } }).catch((e: unknown) => e);
      expect(unknown).toBeInstanceOf(LoyaltyClientError);
      expect(unknown).toMatchObject({ code: "UNKNOWN_CUSTOMER", verb: "balance", attempts: 1, fromEngine: true });
      const invalid = await client.accrue({ ...sale(`${tag}-bad`, { card: `C-${tag}` }, [line("1", 0, 100)]) } as never).catch((e: unknown) => e);
      expect(isLoyaltyError(invalid, "VALIDATION") && invalid.field).toBe("lines[0].qty");
      await client.authorize({ requestId: `${tag}-rq`, customer: { card: `C-${tag}` }, amount: 1 });
      const conflict = await client.authorize({ requestId: `${tag}-rq`, customer: { card: `C-${tag}` }, amount: 2 }).catch((e: unknown) => e);
      expect(conflict).toMatchObject({ code: "IDEMPOTENCY_CONFLICT", idempotencyKey: `${tag}-rq`, attempts: 1 });
    });
  });

  it("names a transport failure by its own code and retries it", async () => {
    const retries: RetryInfo[] = [];
    const client = createClient({ nats: t.nc, subjectPrefix: "nobody.rpc.", onRetry: (r) => retries.push(r), ...fast });
    const err = await client.quote(sale("q-x", { card: "C-x" }, [line("1", 1, 100)]) as never).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "NO_RESPONDERS", attempts: 4, fromEngine: false });
    expect(retries.map((r) => r.code)).toEqual(["NO_RESPONDERS", "NO_RESPONDERS", "NO_RESPONDERS"]);
    const once = await createClient({ http: "http://127.0.0.1:9", retry: false }).balance({ customer: { card: "C-x" } }).catch((e: unknown) => e);
    expect(once).toMatchObject({ code: "CONNECTION", attempts: 1 });
  });

  /**
   * A NATS relay on `relay.rpc.<verb>`: `plan` says, per attempt, what to do with it —
   * "drop" forwards it to the engine and loses the reply, "OVERLOADED"/"UNAVAILABLE"
   * answers that refusal without forwarding, "pass" forwards and answers.
   */
  function natsRelay(plan: string[]) {
    const seen: Record<string, unknown>[] = [];
    const sub = t.nc.subscribe("relay.rpc.>", {
      callback: (_err, msg) => {
        const verb = msg.subject.slice("relay.rpc.".length);
        seen.push(JSON.parse(Buffer.from(msg.data).toString()));
        const step = plan[seen.length - 1] ?? "pass";
        if (step === "OVERLOADED" || step === "UNAVAILABLE") {
          msg.respond(Buffer.from(JSON.stringify({ ok: false, error: { code: step, message: "try later" } })));
          return;
        }
        void t.nc.request(`loyalty.rpc.${verb}`, msg.data, { timeout: 5000 }).then((reply) => {
          if (step !== "drop") msg.respond(reply.data);
        });
      },
    });
    return { seen, stop: () => sub.unsubscribe() };
  }

  it("applies an accrue once when its reply was lost and the retry carried the same event id", async () => {
    await createClient({ nats: t.nc }).enroll({ card: "C-LOST" });
    const relay = natsRelay(["drop", "pass"]);
    try {
      const retries: RetryInfo[] = [];
      const client = createClient({ nats: t.nc, subjectPrefix: "relay.rpc.", timeoutMs: 500, onRetry: (r) => retries.push(r), ...fast });
      const reply = await client.accrue(sale("lost-1", { card: "C-LOST" }, [line("1", 1, 4000)]) as never);
      expect(retries).toEqual([expect.objectContaining({ code: "TIMEOUT", attempt: 1, idempotencyKey: "lost-1" })]);
      // The first attempt was applied; the second got its stored reply.
      expect(reply).toMatchObject({ eventId: "lost-1", earned: 40, balance: 40, duplicate: true });
      expect(relay.seen.map((b) => b.eventId)).toEqual(["lost-1", "lost-1"]);
    } finally {
      relay.stop();
    }
    const direct = createClient({ nats: t.nc });
    expect((await direct.balance({ customer: { card: "C-LOST" } })).accounts[0]?.balance).toBe(40);
    const entries = (await direct.statement({ customer: { card: "C-LOST" } })).entries.filter((e) => e.eventId === "lost-1");
    expect(entries).toHaveLength(1);
  });

  it("retries OVERLOADED and UNAVAILABLE with the request id of the first attempt, and an answer not at all", async () => {
    await createClient({ nats: t.nc }).enroll({ card: "C-BUSY" });
    await createClient({ nats: t.nc }).accrue(sale("busy-s", { card: "C-BUSY" }, [line("1", 1, 5000)]) as never);
    const relay = natsRelay(["OVERLOADED", "UNAVAILABLE", "pass", "pass"]);
    try {
      const retries: RetryInfo[] = [];
      const client = createClient({ nats: t.nc, subjectPrefix: "relay.rpc.", requestIdPrefix: "till7-", onRetry: (r) => retries.push(r), ...fast });
      const hold = await client.authorize({ customer: { card: "C-BUSY" }, amount: 20 });
      expect(hold).toMatchObject({ approved: true, amount: 20, available: 30 });
      expect(retries.map((r) => r.code)).toEqual(["OVERLOADED", "UNAVAILABLE"]);
      const ids = relay.seen.map((b) => b.requestId as string);
      expect(ids[0]).toMatch(/^till7-/);
      expect(new Set(ids).size).toBe(1);
      const unknown = await client.capture({ holdId: "h_nope" }).catch((e: unknown) => e);
      expect(unknown).toMatchObject({ code: "UNKNOWN_HOLD", attempts: 1 });
      expect(relay.seen).toHaveLength(4);
    } finally {
      relay.stop();
    }
  });

  it("applies an authorize once when the HTTP connection was cut before its reply", async () => {
    await createClient({ http: t.http }).enroll({ card: "C-CUT" });
    await createClient({ http: t.http }).accrue(sale("cut-s", { card: "C-CUT" }, [line("1", 1, 5000)]) as never);
    const bodies: Record<string, unknown>[] = [];
    // The first request reaches the engine; its answer is thrown away and the socket cut.
    const relay: Server = createServer((req, res) => {
      let raw = "";
      req.on("data", (d) => (raw += d));
      req.on("end", async () => {
        bodies.push(JSON.parse(raw));
        const answer = await fetch(t.http + req.url, { method: "POST", headers: { "content-type": "application/json" }, body: raw });
        const text = await answer.text();
        if (bodies.length === 1) return req.socket.destroy();
        res.writeHead(answer.status, { "content-type": "application/json" }).end(text);
      });
    });
    await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
    try {
      const client = createClient({ http: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`, ...fast });
      const hold = await client.authorize({ customer: { card: "C-CUT" }, amount: 20 });
      expect(hold).toMatchObject({ approved: true, amount: 20, available: 30, duplicate: true });
      expect(bodies).toHaveLength(2);
      expect(bodies[0]!.requestId).toBe(bodies[1]!.requestId);
    } finally {
      await new Promise((r) => relay.close(r));
    }
    // One hold: 50 earned, 20 held once.
    const balance = await createClient({ http: t.http }).balance({ customer: { card: "C-CUT" } });
    expect(balance.accounts[0]).toMatchObject({ balance: 50, held: 20, available: 30 });
  });
});
