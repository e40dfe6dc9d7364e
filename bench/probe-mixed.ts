// Probe: does a stream backlog stand between a till and its answer? rpc.accrue at one
// request in flight, first on an idle engine, then while the engine drains a pre-filled
// stream (bench/engine.ts streamRun): the till's latency beside the drain's rate.
// Run: node dist/bench/probe-mixed.js   PROBE_CUSTOMERS (20000), PROBE_EVENTS (40000), PROBE_RUNS (2)
import { benchClient, runTag, salesGenerator, streamRun, withProbeEngine } from "./engine.js";
import { machineInfo, machineLine } from "./machine.js";
import { latencyHistogram, percentileMs, recordMs } from "../src/simulator/latency.js";

const customers = Number(process.env.PROBE_CUSTOMERS ?? 20000);
const events = Number(process.env.PROBE_EVENTS ?? 40000);
const runs = Number(process.env.PROBE_RUNS ?? 2);

console.log(machineLine(machineInfo()));
await withProbeEngine("loyaltyd-probe-mixed-", customers, async (engine, nc) => {
  const client = benchClient(nc);
  const sales = salesGenerator(4100, customers, `mixed-${runTag()}-`, 0);
  const notes: string[] = [];
  await streamRun(nc, engine, customers, 5000, 1, "warm", notes);
  /** rpc.accrue one at a time until `stop` says so; p50, p99 and max of what it measured. */
  const till = async (stop: () => boolean): Promise<string> => {
    const h = latencyHistogram();
    let n = 0;
    let failed = 0;
    let max = 0;
    while (!stop()) {
      const t0 = performance.now();
      await client.accrue(sales.sale()).catch(() => failed++);
      const ms = performance.now() - t0;
      recordMs(h, ms);
      max = Math.max(max, ms);
      n++;
    }
    return `${n} requests, p50 ${percentileMs(h, 50).toFixed(2)} ms, p99 ${percentileMs(h, 99).toFixed(2)} ms, max ${max.toFixed(1)} ms, failed ${failed}`;
  };
  const idleUntil = performance.now() + 5000;
  console.log(`idle engine: rpc.accrue c1 ${await till(() => performance.now() > idleUntil)}`);
  for (let run = 0; run < runs; run++) {
    let drained = false;
    let tillDone: Promise<string> | null = null;
    const r = await streamRun(nc, engine, customers, events, 20 + run, `mixed${run}`, notes, 0.02, () => {
      tillDone = till(() => drained);
    });
    drained = true;
    console.log(`run ${run}: stream drained at ${r.eventsPerSec.toFixed(0)} events/s; beside it rpc.accrue c1 ${await tillDone!}`);
  }
});
