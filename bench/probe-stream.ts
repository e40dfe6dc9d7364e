// Probe: drains a pre-filled stream once and prints per-thread CPU of the engine during the
// drain (from /proc), to find the serial stage. Run: node dist/bench/probe-stream.js
// PROBE_CUSTOMERS (20000), PROBE_EVENTS (30000), LOYALTYD_PARTITIONS passes through.
import { streamRun, withProbeEngine } from "./engine.js";
import { machineInfo, machineLine } from "./machine.js";
import { cpuIdle, natsTicks, threadSeconds, threadTimes } from "./threads.js";

const customers = Number(process.env.PROBE_CUSTOMERS ?? 20000);
const events = Number(process.env.PROBE_EVENTS ?? 30000);
console.log(machineLine(machineInfo()));
await withProbeEngine("loyaltyd-probe-", customers, async (engine, nc) => {
  const notes: string[] = [];
  await streamRun(nc, engine, customers, 5000, 1, "warm", notes);
  for (let run = 0; run < Number(process.env.PROBE_RUNS ?? 2); run++) {
    const before = threadTimes(engine.child.pid!);
    const idle0 = cpuIdle();
    const nats0 = natsTicks();
    const t0 = performance.now();
    const r = await streamRun(nc, engine, customers, events, 10 + run, `run${run}`, notes);
    const wall = (performance.now() - t0) / 1000;
    const after = threadTimes(engine.child.pid!);
    const idle1 = cpuIdle();
    console.log(`  machine idle ${(((idle1[0] - idle0[0]) / (idle1[1] - idle0[1])) * 100).toFixed(0)} % (incl. prefill), nats-server ${((natsTicks() - nats0) / 100).toFixed(2)} s cpu`);
    const text = await (await fetch(`http://127.0.0.1:${engine.httpPort}/metrics`)).text();
    for (const line of text.split("\n")) if (/^loyalty_(batch_size|commit_duration_seconds|worker_busy)[a-z_]*(_sum|_count)?\b/.test(line) && !line.includes("_bucket")) console.log("  " + line);
    console.log(`run ${run}: ${r.eventsPerSec.toFixed(0)} ev/s (wall incl. prefill ${wall.toFixed(1)} s)`);
    const rows = threadSeconds(before, after);
    for (const [k, s] of rows) console.log(`  ${k.padEnd(28)} ${s.toFixed(2)} s cpu`);
  }
  console.log(notes.join("\n"));
});
