// POST /v1/<verb> answered before the web framework (http/terminal.ts installTerminalFastPath):
// the same status, Content-Type and bytes as the fastify route, for answers, refusals and
// thrown errors, and with terminal keys and rate limits for their refusals too; fastify
// still serves everything the fast path leaves to it. A real
// web server on loopback; the handler behind it is a recording stand-in (the wire tests in
// test/e2e drive the real one through this path).
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { KeyRing, type Operator, type TerminalKey } from "../../src/config/credentials.js";
import { failure } from "../../src/errors.js";
import { createApp } from "../../src/ingest/http.js";
import { installTerminalFastPath, registerTerminalRoutes, type TerminalDeps } from "../../src/ingest/http/terminal.js";
import type { Handler } from "../../src/ingest/handler.js";
import { createLogger } from "../../src/observe/logger.js";
import { createMetrics } from "../../src/observe/metrics.js";
import type { Handled } from "../../src/partition/batch.js";
import { RateLimiter } from "../../src/ingest/ratelimit.js";

interface Answer {
  status: number;
  type: string | undefined;
  body: string;
  retryAfter?: string | undefined;
}

/** One POST: with Content-Length (one write), or chunked (two writes, no length); `extra` headers added (undefined removes one). */
function post(port: number, path: string, body: string, chunked: boolean, extra: Record<string, string | undefined> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { "content-type": "application/json" };
    for (const [name, value] of Object.entries(extra)) {
      if (value === undefined) delete headers[name];
      else headers[name] = value;
    }
    if (chunked) headers["transfer-encoding"] = "chunked";
    else headers["content-length"] = Buffer.byteLength(body);
    const req = request({ host: "127.0.0.1", port, path, method: "POST", headers }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => {
        const answer: Answer = { status: res.statusCode!, type: res.headers["content-type"], body: Buffer.concat(parts).toString("utf8") };
        if (res.headers["retry-after"] !== undefined) answer.retryAfter = res.headers["retry-after"];
        resolve(answer);
      });
    });
    req.on("error", reject);
    if (chunked) {
      req.write(body.slice(0, 5));
      req.end(body.slice(5));
    } else req.end(body);
  });
}

/** A real web server on loopback with the terminal routes and their fast path, for the describe block it is called in. */
function serveTerminals(deps: TerminalDeps): { port: () => number; framework: () => number } {
  let app: FastifyInstance;
  let port = 0;
  /** Requests fastify itself saw. */
  let framework = 0;
  beforeAll(async () => {
    app = createApp({ headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 5_000, connectionTimeoutMs: 60_000, connectionsMax: 100 }, createLogger("silent"));
    registerTerminalRoutes(app, deps);
    expect(installTerminalFastPath(app, deps)).toBe(true);
    app.addHook("onRequest", async () => void framework++);
    await app.listen({ host: "127.0.0.1", port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await app.close();
  });
  return { port: () => port, framework: () => framework };
}

describe("the terminal routes' fast path", () => {
  const metrics = createMetrics();
  const calls: { verb: string; body: string }[] = [];
  /** Answers by the body: empty or "refuse" an error envelope, "throw" throws, anything else an echo. */
  const handler = {
    async handle(_source: string, verb: string, bytes: Uint8Array): Promise<Handled> {
      const body = Buffer.from(bytes).toString("utf8");
      calls.push({ verb, body });
      const json = (v: unknown) => Buffer.from(JSON.stringify(v));
      if (body.includes('"throw"')) throw new Error("the handler failed");
      if (body === "") return { bytes: json(failure({ code: "BAD_REQUEST", message: "empty payload" })), outcome: "BAD_REQUEST", label: verb, notifications: [], refusal: null, points: 0 };
      if (body.includes('"refuse"')) {
        return { bytes: json(failure({ code: "UNKNOWN_CUSTOMER", message: "no such customer" })), outcome: "UNKNOWN_CUSTOMER", label: verb, notifications: [], refusal: null, points: 0 };
      }
      return { bytes: json({ ok: true, verb, got: JSON.parse(body) as unknown }), outcome: "ok", label: verb, notifications: [], refusal: null, points: 0 };
    },
  } as unknown as Handler;
  const deps: TerminalDeps = { handler, metrics, log: createLogger("silent"), terminals: null, operators: new KeyRing<Operator>(), rateLimiter: null };
  const server = serveTerminals(deps);

  it("answers a declared body itself, exactly as the fastify route answers the same request", async () => {
    const bodies = [JSON.stringify({ requestId: "a-1", customer: { card: "C-1" }, amount: 5 }), JSON.stringify({ refuse: true }), JSON.stringify({ throw: true }), '{"é":"ünïcode ✓"}'];
    for (const body of bodies) {
      const before = server.framework();
      const fast = await post(server.port(), "/v1/authorize", body, false);
      expect(server.framework(), body).toBe(before);
      const routed = await post(server.port(), "/v1/authorize", body, true);
      expect(server.framework(), body).toBe(before + 1);
      expect(fast, body).toEqual(routed);
    }
    expect((await post(server.port(), "/v1/authorize", bodies[0]!, false)).status).toBe(200);
    expect((await post(server.port(), "/v1/authorize", bodies[1]!, false)).status).toBe(404);
    const thrown = await post(server.port(), "/v1/authorize", bodies[2]!, false);
    expect(thrown.status).toBe(500);
    expect(JSON.parse(thrown.body)).toMatchObject({ ok: false, error: { code: "INTERNAL" } });
    expect(thrown.body).not.toContain("the handler failed");
    // The handler got the same bytes both ways, and each request was timed once.
    for (let i = 0; i < bodies.length; i++) expect(calls[2 * i]).toEqual(calls[2 * i + 1]);
    const timed = (await metrics.requestDuration.get()).values.find((v) => v.metricName === "loyalty_request_duration_seconds_count" && v.labels.verb === "authorize");
    expect(timed?.value).toBe(2 * 2 + 2 + 2);
  });

  it("leaves to fastify what it does not serve: an unknown verb, a query string, an empty or oversized body, other methods", async () => {
    const cases: [string, string, number][] = [
      ["/v1/nope", "{}", 400],
      ["/v1/authorize?x=1", JSON.stringify({ requestId: "q" }), 200],
      ["/v1/authorize", "", 400],
      ["/v1/authorize", JSON.stringify({ pad: "x".repeat(70_000) }), 413],
    ];
    for (const [path, body, status] of cases) {
      const before = server.framework();
      const answer = await post(server.port(), path, body, false);
      expect(server.framework(), path).toBe(before + 1);
      expect(answer.status, `${path} ${body.length}`).toBe(status);
      expect(JSON.parse(answer.body)).toHaveProperty("ok");
    }
    const before = server.framework();
    const got = await fetch(`http://127.0.0.1:${server.port()}/healthz`);
    // Not registered here: fastify's not-found handler answered, with the envelope.
    expect(got.status).toBe(400);
    expect(await got.json()).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    expect(server.framework()).toBe(before + 1);
  });
});

describe("the fast path with terminal keys and rate limits", () => {
  const metrics = createMetrics();
  const seen: { verb: string; store: string | null }[] = [];
  const handler = {
    async handle(_source: string, verb: string, bytes: Uint8Array, _codec: string, _reply: unknown, store: string | null): Promise<Handled> {
      seen.push({ verb, store });
      const body = Buffer.from(JSON.stringify({ ok: true, verb, store, got: JSON.parse(Buffer.from(bytes).toString("utf8")) as unknown }));
      return { bytes: body, outcome: "ok", label: verb, notifications: [], refusal: null, points: 0 };
    },
  } as unknown as Handler;
  const digest = (secret: string) => createHash("sha256").update(secret, "utf8").digest("hex");
  const terminals = new KeyRing<TerminalKey>();
  terminals.add(digest("key-of-s1"), { id: "k1", store: "S1" }, "test");
  terminals.add(digest("key-of-s2"), { id: "k2", store: "S2" }, "test");
  const operators = new KeyRing<Operator>();
  operators.add(digest("an-operator"), { name: "ops", roles: [], legacy: false }, "test");
  // Lookups (accrue, authorize...): 4 at once per key, then one a minute; loopback is exempt from the per-address bucket.
  const rates = { lookupsPerMinute: 1, lookupBurst: 4, enrolmentsPerMinute: 60, enrolmentBurst: 30 };
  const deps: TerminalDeps = { handler, metrics, log: createLogger("silent"), terminals, operators, rateLimiter: new RateLimiter({ exemptLoopback: true, credential: rates, ip: rates }) };
  const server = serveTerminals(deps);

  /** The same request through the fast path (declared length) and the fastify route (chunked): both answers. */
  const both = async (body: string, headers: Record<string, string | undefined>): Promise<[Answer, Answer]> => {
    const before = server.framework();
    const fast = await post(server.port(), "/v1/accrue", body, false, headers);
    expect(server.framework()).toBe(before);
    const routed = await post(server.port(), "/v1/accrue", body, true, headers);
    expect(server.framework()).toBe(before + 1);
    return [fast, routed];
  };

  it("acts for the key's store, and refuses a missing, unknown or operator's key and a body not declared JSON as the route does", async () => {
    const body = JSON.stringify({ eventId: "e-1" });
    const [fast, routed] = await both(body, { authorization: "Bearer key-of-s1" });
    expect(fast).toEqual(routed);
    expect(fast.status).toBe(200);
    expect(JSON.parse(fast.body)).toMatchObject({ store: "S1" });
    expect(seen.slice(-2)).toEqual([{ verb: "accrue", store: "S1" }, { verb: "accrue", store: "S1" }]);
    const [viaHeader] = await both(body, { "x-api-key": "key-of-s2" });
    expect(JSON.parse(viaHeader.body)).toMatchObject({ store: "S2" });

    const refused: [Record<string, string | undefined>, number, string][] = [
      [{}, 401, "UNAUTHORIZED"],
      [{ authorization: "Bearer nobody's" }, 401, "UNAUTHORIZED"],
      [{ authorization: "Bearer an-operator" }, 403, "FORBIDDEN"],
      [{ authorization: "Bearer key-of-s1", "content-type": "text/plain" }, 415, "UNSUPPORTED_MEDIA_TYPE"],
      [{ authorization: "Bearer key-of-s1", "content-type": undefined }, 415, "UNSUPPORTED_MEDIA_TYPE"],
    ];
    const handled = seen.length;
    for (const [headers, status, code] of refused) {
      const [f, r] = await both(body, headers);
      expect(f, JSON.stringify(headers)).toEqual(r);
      expect(f.status).toBe(status);
      expect(JSON.parse(f.body)).toMatchObject({ ok: false, error: { code } });
    }
    // No refused request reached the handler, and each was counted.
    expect(seen.length).toBe(handled);
    const rejected = (await metrics.rejected.get()).values.filter((v) => v.labels.source === "http");
    expect(rejected.reduce((a, v) => a + v.value, 0)).toBe(2 * refused.length);
  });

  it("draws from the same rate-limit bucket as the route, and refuses with Retry-After once it is empty", async () => {
    // S2's key: 4 lookups at once; the test above took 2.
    const body = JSON.stringify({ eventId: "e-2" });
    const [first, second] = await both(body, { "x-api-key": "key-of-s2" });
    expect([first.status, second.status]).toEqual([200, 200]);
    const handled = seen.length;
    const [fast, routed] = await both(body, { "x-api-key": "key-of-s2" });
    // The messages say how many ms to wait, which moves between the two requests.
    const worded = (a: Answer) => ({ ...a, body: a.body.replace(/\d+ ms/, "N ms") });
    expect(worded(fast)).toEqual(worded(routed));
    expect(fast.status).toBe(429);
    expect(Number(fast.retryAfter)).toBeGreaterThanOrEqual(59);
    expect(JSON.parse(fast.body)).toMatchObject({ ok: false, error: { code: "RATE_LIMITED" } });
    expect(seen.length).toBe(handled);
    // Another store's key has its own bucket.
    const [other] = await both(body, { authorization: "Bearer key-of-s1" });
    expect(other.status).toBe(200);
  });
});
