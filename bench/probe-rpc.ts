// Probe: request/reply through the wire contract (rpc.accrue, rpc.authorize at 1 and 64 in
// flight; http.accrue, http.authorize: autocannon, 64 connections), several short rounds on one engine, with the engine's CPU per thread, the
// machine's idle share and nats-server's CPU in each round: which stage limits a request
// path, and whether a change moved it. Run: node dist/bench/probe-rpc.js
// PROBE_CUSTOMERS (2000), PROBE_ROUNDS (3), PROBE_MS (5000 per round), PROBE_CASES
// (accrue.c1,accrue.c64,authorize.c64; also http.accrue, http.authorize); LOYALTYD_* settings pass through to the engine.
// PROBE_HTTP_KEY: a terminal key the HTTP cases send (X-Api-Key), with LOYALTYD_TERMINALAUTH_KEYSFILE naming a keys
// file that holds its digest (authorize only: a key acts for one store, and the sales name five).
import { authorizeBody, benchClient, runTag, salesGenerator, withProbeEngine } from "./engine.js";
import { httpLoad, requestLoad } from "./load.js";
import { machineInfo, machineLine } from "./machine.js";
import { cpuIdle, natsTicks, threadSeconds, threadTimes, deviceWrittenBytes, writtenBytes } from "./threads.js";

const customers = Number(process.env.PROBE_CUSTOMERS ?? 2000);
const rounds = Number(process.env.PROBE_ROUNDS ?? 3);
const durationMs = Number(process.env.PROBE_MS ?? 5000);
const httpKey = process.env.PROBE_HTTP_KEY;
const cases = (process.env.PROBE_CASES ?? "accrue.c1,accrue.c64,authorize.c64").split(",").map((c) => c.trim());

/** The engine's batch figures from /metrics: batches and commands, commits and their seconds, partition busy seconds. */
async function batchMetrics(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const sum = (re: RegExp) => text.split("\n").filter((l) => re.test(l)).reduce((a, l) => a + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  return {
    batches: sum(/^loyalty_batch_size_count\b/),
    commands: sum(/^loyalty_batch_size_sum\b/),
    commits: sum(/^loyalty_lmdb_commit_duration_seconds_count\b/),
    commitSec: sum(/^loyalty_lmdb_commit_duration_seconds_sum\b/),
    busySec: sum(/^loyalty_partition_busy_seconds_total\b/),
  };
}

function diffMetrics(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(b).map((k) => [k, b[k]! - (a[k] ?? 0)]));
}

console.log(machineLine(machineInfo()));
await withProbeEngine("loyaltyd-probe-rpc-", customers, async (engine, nc) => {
  const client = benchClient(nc);
  const sales = salesGenerator(4000, customers, `probe-${runTag()}-`, 0);
  const holds = authorizeBody(customers, `probe-az-${runTag()}-`, 6000);
  const calls: Record<string, () => Promise<unknown>> = { accrue: () => client.accrue(sales.sale()), authorize: () => client.authorize(holds()) };
  const bodies: Record<string, () => string> = { accrue: () => JSON.stringify(sales.sale()), authorize: () => JSON.stringify(holds()) };
  const load = async (name: string): Promise<{ perSec: number; p50Ms: number; p99Ms: number; failures: number; requests: number; failuresByCode?: Record<string, number> }> => {
    const [verb, c] = name.split(".") as [string, string];
    if (verb === "http") {
      const r = await httpLoad({ url: `http://127.0.0.1:${engine.httpPort}`, path: `/v1/${c}`, connections: 64, durationSec: durationMs / 1000, warmupSec: 0.5, body: bodies[c]!, ...(httpKey ? { headers: { "x-api-key": httpKey } } : {}) });
      return { perSec: r.reqPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms, failures: r.non2xx + r.errors, requests: r.requests };
    }
    const call = calls[verb];
    if (!call) throw new Error(`unknown case ${name}`);
    return requestLoad({ nc, subject: `loyalty.rpc.${verb}`, concurrency: Number(c.slice(1)), durationMs, warmupMs: 500, body: () => new Uint8Array(), call, checkOk: true });
  };
  for (const name of cases) {
    for (let round = 0; round < rounds; round++) {
      const before = threadTimes(engine.child.pid!);
      const idle0 = cpuIdle();
      const nats0 = natsTicks();
      const written0 = writtenBytes(engine.child.pid!);
      const device0 = deviceWrittenBytes(engine.dataDir);
      const metrics0 = await batchMetrics(engine.httpPort);
      const r = await load(name);
      const m = diffMetrics(metrics0, await batchMetrics(engine.httpPort));
      const written = writtenBytes(engine.child.pid!) - written0;
      const device = device0 === null ? null : deviceWrittenBytes(engine.dataDir)! - device0;
      const idle1 = cpuIdle();
      const threads = threadSeconds(before, threadTimes(engine.child.pid!));
      const perReq = (s: number) => ((s / r.requests) * 1e6).toFixed(0);
      console.log(
        `${name} round ${round}: ${r.perSec.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, failed ${r.failures}${r.failures > 0 && r.failuresByCode ? ` ${JSON.stringify(r.failuresByCode)}` : ""}; ` +
          `idle ${(((idle1[0] - idle0[0]) / (idle1[1] - idle0[1])) * 100).toFixed(0)} %, nats-server ${perReq((natsTicks() - nats0) / 100)} us/req, ` +
          `threads (us/req) ${threads.map(([k, s]) => `${k.startsWith(`${engine.child.pid}:`) ? "main" : k.split(":")[1]}=${perReq(s)}`).join(" ")}, dirtied ${(written / r.requests / 1024).toFixed(1)} KiB/req, device ${device === null ? "n/a" : (device / r.requests / 1024).toFixed(1)} KiB/req; ` +
          `batches ${m.batches}, mean ${(m.commands / m.batches).toFixed(1)} commands, commit mean ${((m.commitSec / m.commits) * 1000).toFixed(2)} ms, partition busy ${((m.busySec / (durationMs / 1000)) * 100).toFixed(0)} %`,
      );
    }
  }
});
