// POST /v1/<verb> answered before the web framework (http/terminal.ts installTerminalFastPath):
// the same status, Content-Type and bytes as the fastify route, for answers, refusals and
// thrown errors; fastify still serves everything the fast path leaves to it. A real
// web server on loopback; the handler behind it is a recording stand-in (the wire tests in
// test/e2e drive the real one through this path).
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyRing, type Operator } from "../../src/config/credentials.js";
import { failure } from "../../src/errors.js";
import { createApp } from "../../src/ingest/http.js";
import { installTerminalFastPath, registerTerminalRoutes, type TerminalDeps } from "../../src/ingest/http/terminal.js";
import type { Handler } from "../../src/ingest/handler.js";
import { createLogger } from "../../src/observe/logger.js";
import { createMetrics } from "../../src/observe/metrics.js";
import type { Handled } from "../../src/partition/batch.js";

interface Answer {
  status: number;
  type: string | undefined;
  body: string;
}

/** One POST: with Content-Length (one write), or chunked (two writes, no length). */
function post(port: number, path: string, body: string, chunked: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { "content-type": "application/json" };
    if (chunked) headers["transfer-encoding"] = "chunked";
    else headers["content-length"] = Buffer.byteLength(body);
    const req = request({ host: "127.0.0.1", port, path, method: "POST", headers }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, type: res.headers["content-type"], body: Buffer.concat(parts).toString("utf8") }));
    });
    req.on("error", reject);
    if (chunked) {
      req.write(body.slice(0, 5));
      req.end(body.slice(5));
    } else req.end(body);
  });
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
  let app: FastifyInstance;
  let port: number;
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

  it("answers a declared body itself, exactly as the fastify route answers the same request", async () => {
    const bodies = [JSON.stringify({ requestId: "a-1", customer: { card: "C-1" }, amount: 5 }), JSON.stringify({ refuse: true }), JSON.stringify({ throw: true }), '{"é":"ünïcode ✓"}'];
    for (const body of bodies) {
      const before = framework;
      const fast = await post(port, "/v1/authorize", body, false);
      expect(framework, body).toBe(before);
      const routed = await post(port, "/v1/authorize", body, true);
      expect(framework, body).toBe(before + 1);
      expect(fast, body).toEqual(routed);
    }
    expect((await post(port, "/v1/authorize", bodies[0]!, false)).status).toBe(200);
    expect((await post(port, "/v1/authorize", bodies[1]!, false)).status).toBe(404);
    const thrown = await post(port, "/v1/authorize", bodies[2]!, false);
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
      const before = framework;
      const answer = await post(port, path, body, false);
      expect(framework, path).toBe(before + 1);
      expect(answer.status, `${path} ${body.length}`).toBe(status);
      expect(JSON.parse(answer.body)).toHaveProperty("ok");
    }
    const before = framework;
    const got = await fetch(`http://127.0.0.1:${port}/healthz`);
    // Not registered here: fastify's not-found handler answered, with the envelope.
    expect(got.status).toBe(400);
    expect(await got.json()).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    expect(framework).toBe(before + 1);
  });
});
