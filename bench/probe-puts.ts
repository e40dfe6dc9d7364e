// Probe: LMDB puts, removes, gets and range reads per table per accrual through the worker's batch path (five-line
// baskets, the bench's programmes, 5,000 customers with history). Run: node dist/bench/probe-puts.js
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../src/ledger/store.js";
import { Ledger } from "../src/ledger/ledger.js";
import { installProgramme } from "../src/admin/programmes.js";
import { processBatch, type RawRequest } from "../src/partition/batch.js";
import { createBasketGenerator, enrolRequests } from "../src/simulator/baskets.js";
import { benchProgrammes } from "./engine.js";
import { LEDGER_OPTIONS } from "./scale.js";
import { machineInfo, machineLine } from "./machine.js";

console.log(machineLine(machineInfo()));
const START = Date.UTC(2025, 0, 1);
let now = START;
const store = openStore(join(mkdtempSync(join(tmpdir(), "probe-puts-")), "ledger"));
const ledger = new Ledger(store, { ...LEDGER_OPTIONS, eventLateMsMax: 400 * 86_400_000 }, () => now, true);
for (const p of benchProgrammes()) await installProgramme(store, p.id, p, START);
const customers = 5000;
const enrol = [...enrolRequests(customers)].map((r): RawRequest => ({ verb: "enroll", bytes: Buffer.from(JSON.stringify(r)), encoding: "json" }));
for (let i = 0; i < enrol.length; i += 250) await (await processBatch(ledger, enrol.slice(i, i + 250))).durable;
const gen = createBasketGenerator({ seed: 3, customers, linesMin: 5, linesMax: 5, clock: () => (now += 1000), rates: { phone: 0 } });
const batch = (n: number): RawRequest[] => Array.from({ length: n }, () => ({ verb: "accrue", bytes: Buffer.from(JSON.stringify(gen.next().event)), encoding: "json" as const }));
for (let i = 0; i < 20; i++) await (await processBatch(ledger, batch(250))).durable; // history
const counts = new Map<string, number>();
for (const [name, db] of Object.entries(store)) {
  if (!db || typeof (db as { put?: unknown }).put !== "function" || name === "env") continue;
  for (const m of ["put", "remove", "get", "getRange", "getKeysCount"] as const) {
    const orig = (db as Record<string, (...a: unknown[]) => unknown>)[m]!.bind(db);
    (db as Record<string, unknown>)[m] = (...a: unknown[]) => {
      counts.set(`${name}.${m}`, (counts.get(`${name}.${m}`) ?? 0) + 1);
      return orig(...a);
    };
  }
}
const N = 2000;
for (let i = 0; i < N; i += 100) await (await processBatch(ledger, batch(100))).durable;
for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`${k.padEnd(28)} ${(v / N).toFixed(2)} per accrual`);
const sum = (re: RegExp) => [...counts].filter(([k]) => re.test(k)).reduce((a, [, v]) => a + v, 0) / N;
console.log(`writes (put, remove) ${sum(/\.(put|remove)$/).toFixed(2)} per accrual, reads (get, getRange, getKeysCount) ${sum(/\.(get|getRange|getKeysCount)$/).toFixed(2)}`);
