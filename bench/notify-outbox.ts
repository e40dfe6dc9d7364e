// The outbox's cost where it is paid, in process: one partition's ledger applying durable
// batches of sales (each notifies `earned`) with notify.outbox off and on, alternating
// round by round on two ledgers on disk; "on" also removes the acknowledged records the way
// the publisher does (one write transaction per removal pass, here awaited in line, so its
// whole time counts against "on"). Medians over rounds, and the median of paired ratios.
//   node dist/bench/notify-outbox.js      BENCH_ROUNDS (12), BENCH_BATCHES (40 per round), BENCH_BATCH (256), BENCH_REMOVE_EVERY (batches per removal pass, 1)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installProgramme } from "../src/admin/programmes.js";
import { contentHash, validate } from "../src/codec/codec.js";
import { Ledger, type Command } from "../src/ledger/ledger.js";
import { outboxRemove } from "../src/ledger/notifications.js";
import { closeStore, openStore, type Store } from "../src/ledger/store.js";
import { machineInfo } from "./machine.js";
import { LEDGER_OPTIONS } from "./scale.js";
import { median } from "./stats.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 40);
const BATCH = Number(process.env.BENCH_BATCH ?? 256);
const REMOVE_EVERY = Number(process.env.BENCH_REMOVE_EVERY ?? 1);
const CUSTOMERS = 2000;
const AT = Date.now() - 3_600_000;

interface Side {
  name: "off" | "on";
  store: Store;
  ledger: Ledger;
  acked: Set<number>;
  rates: number[];
  /** CPU µs per sale (this thread does all the work: apply, commit, removal). */
  cpu: number[];
}

const command = (verb: "accrue" | "enroll", raw: unknown): Command => {
  const input = validate(verb, raw);
  return { verb, input, hash: contentHash(verb, input) };
};

const saleCmd = (eventId: string, i: number) =>
  command("accrue", {
    type: "sale", eventId, at: AT, storeId: "s01", customer: { card: `C-${i % CUSTOMERS}` }, currency: "EUR",
    lines: [{ lineId: "1", sku: "A1", qty: 2, unitPrice: 1250, category: "drinks" }, { lineId: "2", sku: "B2", qty: 1, unitPrice: 499, category: "food" }],
  });

async function openSide(name: Side["name"], dir: string): Promise<Side> {
  const store = openStore(join(dir, name));
  await installProgramme(store, "base", { id: "base", name: "Base", account: "points", currency: "EUR", rules: [{ kind: "spend", per: 100, points: 1 }, { kind: "visit", points: 5 }], expiry: { afterDays: 365 } }, AT);
  const ledger = new Ledger(store, { ...LEDGER_OPTIONS, notifyOutbox: name === "on" }, Date.now, true);
  for (let i = 0; i < CUSTOMERS; i += 500) {
    await ledger.applyBatch(Array.from({ length: 500 }, (_, k) => command("enroll", { requestId: `e-${i + k}`, card: `C-${i + k}` })));
  }
  if (name === "on") await outboxRemove(store, [...store.notifyOutbox.getKeys()]);
  return { name, store, ledger, acked: new Set(), rates: [], cpu: [] };
}

/** BATCHES durable batches of BATCH sales; sales/s. */
async function round(side: Side, r: number): Promise<number> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let b = 0; b < BATCHES; b++) {
    const batch = Array.from({ length: BATCH }, (_, k) => saleCmd(`s-${r}-${b}-${k}`, b * BATCH + k));
    const outcomes = await side.ledger.applyBatch(batch);
    if (side.name !== "on") continue;
    for (const o of outcomes) for (const n of o.notifications) if (n.outbox) side.acked.add(n.outbox.key);
    if ((b + 1) % REMOVE_EVERY === 0) {
      await outboxRemove(side.store, [...side.acked]);
      side.acked.clear();
    }
  }
  const c = process.cpuUsage(c0);
  side.cpu.push((c.user + c.system) / (BATCHES * BATCH));
  return (BATCHES * BATCH) / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const info = machineInfo();
  console.log(`machine: ${info.cpuModel} x${info.cores}, node ${info.node}, commit ${info.commit}; batch ${BATCH}, removal every ${REMOVE_EVERY} batch(es)`);
  const dir = mkdtempSync(join(tmpdir(), "loyaltyd-bench-outbox-"));
  const sides = [await openSide("off", dir), await openSide("on", dir)];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const side of r % 2 ? [...sides].reverse() : sides) side.rates.push(await round(side, r));
      console.log(`round ${r}: off ${sides[0]!.rates[r]!.toFixed(0)}/s ${sides[0]!.cpu[r]!.toFixed(1)} µs CPU/sale, on ${sides[1]!.rates[r]!.toFixed(0)}/s ${sides[1]!.cpu[r]!.toFixed(1)} µs CPU/sale`);
    }
  } finally {
    for (const s of sides) await closeStore(s.store);
    rmSync(dir, { recursive: true, force: true });
  }
  const [off, on] = sides.map((s) => median(s.rates));
  // Per-round ratios, paired: the rounds ran back to back, so they share the machine's mood.
  const paired = median(sides[1]!.rates.map((v, i) => v / sides[0]!.rates[i]!));
  console.log(`median sales/s: off ${off!.toFixed(0)}, on ${on!.toFixed(0)}; on/off ${(on! / off!).toFixed(3)}, paired median on/off ${paired.toFixed(3)}`);
  const [cpuOff, cpuOn] = sides.map((s) => median(s.cpu));
  const cpuPaired = median(sides[1]!.cpu.map((v, i) => v / sides[0]!.cpu[i]!));
  console.log(`median CPU µs per sale: off ${cpuOff!.toFixed(1)}, on ${cpuOn!.toFixed(1)}; on/off ${(cpuOn! / cpuOff!).toFixed(3)}, paired ${cpuPaired.toFixed(3)}`);
}

await main();
