// What notifications cost the hot path, in process, A/B alternating on one nats-server:
// "js" (every notification a JetStream-captured publish, acks on one inbox, unacknowledged
// ones resent from memory: notify.outbox off), "outbox" (the same, plus one outbox write in
// the effect's transaction and batched removals: notify.outbox on) and, when BASE_DIST
// names the dist/ of a build before this change, "plain" (at most once nc.publish; the
// bench creates LOYALTY_NOTIFY for it, so that nats-server stores the same messages).
// Figures: stream drain events/s (prefilled LOYALTY_EVENTS, every sale notifies `earned`)
// and rpc.accrue req/s at a fixed number in flight; medians over rounds, and ratios. Also
// CPU time per stream event, of this process (the engine, its workers and the bench's
// light polling) and of nats-server: less at the mercy of the machine's other load.
//   node dist/bench/notify.js            BENCH_ROUNDS (5), BENCH_EVENTS (20000), BENCH_RPC_MS (4000)
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, headers, nanos, StorageType, type JetStreamManager, type NatsConnection } from "nats";
import { startNatsServer } from "../src/ingest/nats-server.js";
import { machineInfo } from "./machine.js";
import { median } from "./stats.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const RPC_MS = Number(process.env.BENCH_RPC_MS ?? 4000);
const RPC_IN_FLIGHT = 32;
const PHONES = 500;
const AT = Date.UTC(2026, 0, 5, 12);

type Mode = "plain" | "js" | "outbox";
interface EngineModule {
  startEngine(config: unknown, log: unknown): Promise<{ close(): Promise<void> }>;
}
interface ConfigModule {
  loadConfig(opts: { env: Record<string, string>; overrides: Record<string, unknown> }): unknown;
}
interface LoggerModule {
  createLogger(level: string): unknown;
}

const phone = (i: number) => `+4860${String(i % PHONES).padStart(7, "0")}`;
const saleOf = (eventId: string, i: number) =>
  JSON.stringify({
    type: "sale", eventId, at: AT, storeId: "s01", channel: "store", terminalId: "t1", customer: { phone: phone(i) }, currency: "EUR",
    lines: [{ lineId: "1", sku: "A1", qty: 2, unitPrice: 1250, category: "drinks" }, { lineId: "2", sku: "B2", qty: 1, unitPrice: 499, category: "food" }],
  });

async function prefill(nc: NatsConnection): Promise<void> {
  for (let i = 0; i < EVENTS; i++) {
    const h = headers();
    h.set("Nats-Msg-Id", `e-${i}`);
    nc.publish("loyalty.events.s01", saleOf(`e-${i}`, i), { headers: h });
    if (i % 1000 === 999) await nc.flush();
  }
  await nc.flush();
}

async function loadModules(dist: string): Promise<{ engine: EngineModule; config: ConfigModule; logger: LoggerModule }> {
  return {
    engine: (await import(join(dist, "src/engine.js"))) as EngineModule,
    config: (await import(join(dist, "src/config/config.js"))) as ConfigModule,
    logger: (await import(join(dist, "src/observe/logger.js"))) as LoggerModule,
  };
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * The stream drain: from 10 % of the events acknowledged to all of them (start-up left
 * out): events/s, and CPU µs per event of this process and of nats-server over that span.
 */
async function drain(jsm: JetStreamManager, natsPid: number): Promise<{ rate: number; ownUs: number; natsUs: number }> {
  let t10 = 0;
  let own0 = 0;
  let nats0 = 0;
  for (;;) {
    const info = await jsm.consumers.info("LOYALTY_EVENTS", "loyaltyd").catch(() => null);
    const floor = info?.ack_floor.stream_seq ?? 0;
    if (!t10 && floor >= EVENTS / 10) {
      t10 = performance.now();
      own0 = ownCpuSeconds();
      nats0 = cpuSecondsOf(natsPid);
    }
    if (floor >= EVENTS) {
      const n = EVENTS * 0.9;
      return { rate: n / ((performance.now() - t10) / 1000), ownUs: ((ownCpuSeconds() - own0) * 1e6) / n, natsUs: ((cpuSecondsOf(natsPid) - nats0) * 1e6) / n };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** rpc.accrue, RPC_IN_FLIGHT callers in a closed loop for RPC_MS: req/s. */
async function rpcRate(nc: NatsConnection, tag: string): Promise<number> {
  let done = 0;
  const end = performance.now() + RPC_MS;
  const caller = async (k: number) => {
    for (let i = 0; performance.now() < end; i++) {
      await nc.request("loyalty.rpc.accrue", saleOf(`${tag}-${k}-${i}`, k * 7919 + i), { timeout: 10_000 });
      done++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: RPC_IN_FLIGHT }, (_, k) => caller(k)));
  return done / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const info = machineInfo();
  console.log(`machine: ${info.cpuModel} x${info.cores}, ${info.memoryGiB} GiB, node ${info.node}, ${info.natsServer}, commit ${info.commit}`);
  const dir = mkdtempSync(join(tmpdir(), "loyaltyd-bench-notify-"));
  const programmes = join(dir, "programmes");
  mkdirSync(programmes);
  writeFileSync(join(programmes, "base.json"), JSON.stringify({ id: "base", name: "Base", account: "points", currency: "EUR", rules: [{ kind: "spend", per: 100, points: 1 }, { kind: "visit", points: 5 }], expiry: { afterDays: 365 } }));
  const nats = await startNatsServer({ storeDir: join(dir, "js") });
  const nc = await connect({ servers: nats.url });
  const jsm = await nc.jetstreamManager();
  const here = await loadModules(join(import.meta.dirname, ".."));
  const base = process.env.BASE_DIST ? await loadModules(process.env.BASE_DIST) : null;
  const modes: Mode[] = base ? ["plain", "js", "outbox"] : ["js", "outbox"];
  const figures: Record<string, number[]> = {};
  const record = (name: string, v: number) => (figures[name] ??= []).push(v);
  let run = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order too, so no mode always runs first or last.
      for (const mode of round % 2 ? [...modes].reverse() : modes) {
        const m = mode === "plain" ? base! : here;
        await jsm.consumers.delete("LOYALTY_EVENTS", "loyaltyd").catch(() => undefined);
        await jsm.streams.delete("LOYALTY_NOTIFY").catch(() => undefined);
        // Before this change nothing created the stream: create it, so that "plain" pays nats-server the same capture.
        if (mode === "plain") await jsm.streams.add({ name: "LOYALTY_NOTIFY", subjects: ["loyalty.notify.>"], storage: StorageType.File, max_age: nanos(7 * 86_400_000), duplicate_window: nanos(600_000) });
        if (run === 0) {
          await m.engine.startEngine(configFor(m, mode, dir, run, nats.url, programmes), m.logger.createLogger("silent")).then((e) => e.close());
          await jsm.consumers.delete("LOYALTY_EVENTS", "loyaltyd");
          await prefill(nc);
        }
        const engine = await m.engine.startEngine(configFor(m, mode, dir, ++run, nats.url, programmes), m.logger.createLogger("silent"));
        const { rate: stream, ownUs, natsUs } = await drain(jsm, nats.child.pid!);
        const rpc = await rpcRate(nc, `r${run}`);
        await engine.close();
        const notified = (await jsm.streams.info("LOYALTY_NOTIFY")).state.messages;
        record(`${mode}.stream`, stream);
        record(`${mode}.rpc`, rpc);
        record(`${mode}.engineCpu`, ownUs);
        record(`${mode}.natsCpu`, natsUs);
        console.log(
          `round ${round} ${mode.padEnd(6)} stream ${stream.toFixed(0)} events/s (CPU per event: engine ${ownUs.toFixed(1)} µs, nats-server ${natsUs.toFixed(1)} µs), ` +
            `rpc c${RPC_IN_FLIGHT} ${rpc.toFixed(0)} req/s, LOYALTY_NOTIFY ${notified} messages`,
        );
        rmSync(join(dir, `data-${run}`), { recursive: true, force: true });
      }
    }
  } finally {
    await nc.close();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const med = (k: string) => median(figures[k] ?? []);
  // Ratios of medians, and medians of the per-round ratios (a round's modes ran back to back).
  const ratio = (what: string, a: Mode, b: Mode) => {
    const paired = median((figures[`${a}.${what}`] ?? []).map((v, i) => v / figures[`${b}.${what}`]![i]!));
    return `${a}/${b} ${(med(`${a}.${what}`) / med(`${b}.${what}`)).toFixed(3)} (paired ${paired.toFixed(3)})`;
  };
  for (const what of ["stream", "rpc", "engineCpu", "natsCpu"]) {
    const line = modes.map((mode) => `${mode} ${med(`${mode}.${what}`).toFixed(0)}`).join(", ");
    const ratios = [ratio(what, "outbox", "js"), ...(base ? [ratio(what, "js", "plain"), ratio(what, "outbox", "plain")] : [])].join(", ");
    console.log(`median ${what}: ${line}; ${ratios}`);
  }
}

function configFor(m: { config: ConfigModule }, mode: Mode, dir: string, run: number, natsUrl: string, programmesDir: string): unknown {
  return m.config.loadConfig({
    env: {},
    overrides: {
      "nats.url": natsUrl,
      dataDir: join(dir, `data-${run}`),
      programmesDir,
      "http.port": 0,
      logLevel: "silent",
      "events.lateMsMax": 3650 * 86_400_000,
      ...(mode === "plain" ? {} : { "notify.outbox": mode === "outbox" }),
    },
  });
}

await main();
