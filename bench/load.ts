// Load drivers shared by the raw and engine cases: closed-loop NATS request/reply at a
// fixed concurrency (HDR latency), and autocannon for HTTP routes.
import { createRequire } from "node:module";
import type { NatsConnection } from "nats";
import { latencyHistogram, percentileMs, recordMs } from "../src/simulator/latency.js";
import { decodeReply } from "../src/simulator/wire.js";
import { LoyaltyClientError } from "../src/client/index.js";
import type { Figures } from "./stats.js";

export interface RequestLoadOptions {
  nc: NatsConnection;
  subject: string;
  /** Requests in flight at once; each worker waits for its reply before sending the next. */
  concurrency: number;
  durationMs: number;
  /** Load sent first and not recorded: JIT, connections and caches settle. */
  warmupMs: number;
  /** A fresh payload per request (unique ids for the engine). */
  body: () => Uint8Array;
  /** True: a reply is checked for `ok` and failures are counted by code. False (raw echo): any reply is fine. */
  checkOk: boolean;
  timeoutMs?: number;
  /**
   * The engine's verbs: one call of loyaltyd/client (built without retries) instead of
   * a raw request of `body` on `subject`, which stay for the raw echo. Its work per
   * request is the raw path's: encode, request, decode, look at `ok`.
   */
  call?: () => Promise<unknown>;
}

export interface RequestLoadResult {
  requests: number;
  failures: number;
  failuresByCode: Record<string, number>;
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}

async function drive(o: RequestLoadOptions, untilMs: number, record: boolean, out: RequestLoadResult, h: ReturnType<typeof latencyHistogram>): Promise<void> {
  const worker = async (): Promise<void> => {
    while (performance.now() < untilMs) {
      const t0 = performance.now();
      let code: string | null = null;
      try {
        if (o.call) await o.call();
        else {
          const msg = await o.nc.request(o.subject, o.body(), { timeout: o.timeoutMs ?? 5000 });
          if (o.checkOk) {
            const reply = decodeReply(msg.data);
            if (!reply.ok) code = reply.error.code;
          }
        }
      } catch (err) {
        code = err instanceof LoyaltyClientError ? err.code : `NATS_${String((err as { code?: unknown }).code ?? "ERROR")}`;
      }
      if (!record) continue;
      recordMs(h, performance.now() - t0);
      out.requests++;
      if (code !== null) {
        out.failures++;
        out.failuresByCode[code] = (out.failuresByCode[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
}

export async function requestLoad(o: RequestLoadOptions): Promise<RequestLoadResult> {
  const h = latencyHistogram();
  const out: RequestLoadResult = { requests: 0, failures: 0, failuresByCode: {}, perSec: 0, p50Ms: 0, p99Ms: 0, p999Ms: 0 };
  await drive(o, performance.now() + o.warmupMs, false, out, h);
  const t0 = performance.now();
  await drive(o, t0 + o.durationMs, true, out, h);
  const secs = (performance.now() - t0) / 1000;
  return { ...out, perSec: out.requests / secs, p50Ms: percentileMs(h, 50), p99Ms: percentileMs(h, 99), p999Ms: percentileMs(h, 99.9) };
}

/** Figures of a request load under a name prefix, e.g. "c64.reqPerSec". */
export function requestFigures(prefix: string, r: RequestLoadResult, withThroughput: boolean): Figures {
  const f: Figures = { [`${prefix}.p50Ms`]: r.p50Ms, [`${prefix}.p99Ms`]: r.p99Ms, [`${prefix}.p999Ms`]: r.p999Ms };
  if (withThroughput) f[`${prefix}.reqPerSec`] = r.perSec;
  return f;
}

// ---- HTTP (autocannon ships no types: the slice we use is declared here) ----

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
}

interface AutocannonHistogram {
  average: number;
  p50: number;
  p99: number;
  p99_9: number;
}

interface AutocannonResult {
  requests: AutocannonHistogram & { total: number };
  latency: AutocannonHistogram;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats?: Record<string, { count: number }>;
}

interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  requests: (AutocannonRequest & { setupRequest?: (req: AutocannonRequest) => AutocannonRequest })[];
}

/** The instance is an EventEmitter and, without a callback, a promise of the result. */
interface AutocannonInstance extends PromiseLike<AutocannonResult> {
  on(event: "response", fn: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void): void;
}

type Autocannon = (opts: AutocannonOptions) => AutocannonInstance;

const require = createRequire(import.meta.url);
const autocannon = require("autocannon") as Autocannon;

export interface HttpLoadResult {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
}

/**
 * autocannon POSTs `body()` to url+path on `connections` keep-alive connections, a fresh
 * body per request. Latency comes from its per-response hrtime into our µs HDR histogram:
 * autocannon's own histogram keeps whole milliseconds, too coarse for sub-ms figures.
 */
export async function httpLoad(o: { url: string; path: string; connections: number; durationSec: number; warmupSec: number; body: () => string; headers?: Record<string, string> }): Promise<HttpLoadResult> {
  const requests: AutocannonOptions["requests"] = [
    { method: "POST", path: o.path, headers: { "content-type": "application/json", ...o.headers }, setupRequest: (req) => ({ ...req, body: o.body() }) },
  ];
  if (o.warmupSec > 0) await autocannon({ url: o.url, connections: o.connections, duration: o.warmupSec, requests });
  const h = latencyHistogram();
  const inst = autocannon({ url: o.url, connections: o.connections, duration: o.durationSec, requests });
  inst.on("response", (_client, _status, _bytes, ms) => recordMs(h, ms));
  const r = await inst;
  const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, Number(v.count)]));
  return {
    reqPerSec: r.requests.total / r.duration,
    p50Ms: percentileMs(h, 50),
    p99Ms: percentileMs(h, 99),
    p999Ms: percentileMs(h, 99.9),
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    statusCodes,
  };
}
