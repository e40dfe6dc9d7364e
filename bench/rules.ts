// Question: what does evaluating one 20-line basket against 1, 10 and 50 programmes cost
// with a compiled plan? Goal (PERFORMANCE.md): <= 20 us per basket at 50 programmes.
// Run: npx tsc -p . && node dist/bench/rules.js   (BENCH_QUICK=1 for a seconds-long smoke run)
import os from "node:os";
import { pathToFileURL } from "node:url";
import { compile, type Plan, type ProductCardEntry } from "../src/rules/compile.js";
import { evaluate } from "../src/rules/evaluate.js";
import { parseProgramme, type ProgrammeInput } from "../src/rules/programme.js";
import type { Basket, BasketLine, CustomerFacts, ProgrammeSelection } from "../src/rules/types.js";

export interface RulesBenchRow {
  programmes: number;
  /** strongestScope lets evaluate() skip programmes that cannot win; bestForCustomer values all. */
  selection: ProgrammeSelection;
  /** From the median run's wall time. */
  basketsPerSec: number;
  usPerBasket: number;
  /** Fastest and slowest run, us per basket (wall). */
  usPerBasketMin: number;
  usPerBasketMax: number;
  /** Median run's CPU time per basket: steadier than wall time on a shared machine. */
  cpuUsPerBasket: number;
}

const categories = ["drinks", "bakery", "dairy", "produce", "household", "electronics"];
const stores = ["s01", "s02", "s03", "s04", "s05"];
const skuCount = 500;
const linesPerBasket = 20;
const goalUsPerBasket = 20;

/** Small deterministic PRNG (mulberry32) so every run measures the same baskets. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

const skuOf = (i: number): string => `SKU${String(i).padStart(4, "0")}`;
const categoryOf = (i: number): string => categories[i % categories.length]!;

/** A realistic mix: base, store/channel, category and sku promotions, group, customer, cashback. */
function programmeInput(i: number, r: () => number): ProgrammeInput {
  const id = `p${String(i).padStart(3, "0")}`;
  const base = { id, currency: "EUR", rules: [{ kind: "spend", per: 100, points: 1 }] } satisfies ProgrammeInput;
  switch (i % 10) {
    case 0:
      return {
        ...base,
        rules: [
          { kind: "spend", per: 100, points: 1 },
          { kind: "visit", points: 5 },
          { kind: "multiplier", groups: ["VIP"], factor: 2 },
          { kind: "tier", windowDays: 365, tiers: [{ minSpend: 0, factor: 1 }, { minSpend: 100_000, factor: 1.5 }] },
        ],
        expiry: { afterDays: 365 },
      };
    case 1:
      return { ...base, scope: { stores: [pick(r, stores)] }, rules: [...base.rules, { kind: "threshold", minTotal: 10_000, points: 50 }] };
    case 2:
      return { ...base, scope: { categories: [pick(r, categories)] }, rules: [{ kind: "period", weekdays: [6, 7], factor: 3 }, ...base.rules] };
    case 3:
      return { ...base, rules: [{ kind: "category", category: pick(r, categories), per: 100, points: 2 }, { kind: "sku", sku: skuOf(Math.floor(r() * skuCount)), pointsPerUnit: 5 }] };
    case 4:
      return { ...base, scope: { skus: Array.from({ length: 20 }, () => skuOf(Math.floor(r() * skuCount))) }, rules: [{ kind: "productCard" }] };
    case 5:
      return { ...base, scope: { groups: ["VIP"] }, rules: [...base.rules, { kind: "period", hours: [9, 12], points: 10 }] };
    case 6:
      return { ...base, scope: { channels: ["webshop"] }, rules: [...base.rules, { kind: "tender", tender: "giftcard", per: 100, points: 1 }] };
    case 7:
      return { ...base, scope: { customers: [`c${Math.floor(r() * 1000)}`] }, rules: [{ kind: "spend", per: 100, points: 3 }], capPerEvent: 500 };
    case 8:
      return { ...base, account: "cashback", unit: "money", rules: [{ kind: "spend", per: 100, points: 1 }], rounding: "round" };
    default:
      return { ...base, promoItemsEarn: true, rules: [...base.rules, { kind: "threshold", minQty: 10, points: 20 }] };
  }
}

function basketOf(n: number, r: () => number): Basket {
  const lines: BasketLine[] = [];
  for (let i = 0; i < linesPerBasket; i++) {
    const sku = Math.floor(r() * skuCount);
    const qty = 1 + Math.floor(r() * 3);
    const unitPrice = 99 + Math.floor(r() * 5000);
    lines.push({ lineId: String(i + 1), sku: skuOf(sku), qty, unitPrice, amount: qty * unitPrice, category: categoryOf(sku), promo: r() < 0.1 });
  }
  const total = lines.reduce((s, l) => s + l.amount, 0);
  const gift = r() < 0.2 ? Math.floor(total / 2) : 0;
  return {
    eventId: `e${n}`,
    at: Date.UTC(2026, 0, 1) + Math.floor(r() * 365) * 86_400_000 + Math.floor(r() * 86_400_000),
    storeId: pick(r, stores),
    channel: r() < 0.8 ? "store" : "webshop",
    terminalId: null,
    currency: "EUR",
    lines,
    tenders: gift > 0 ? [{ type: "giftcard", amount: gift }, { type: "card", amount: total - gift }] : [{ type: "card", amount: total }],
    total,
  };
}

function customerOf(n: number, r: () => number): CustomerFacts {
  const groups = r() < 0.2 ? ["VIP"] : r() < 0.1 ? ["staff"] : [];
  return { customerId: `c${n % 1000}`, groups, turnoverByWindowDays: { 365: Math.floor(r() * 300_000) } };
}

function planFor(count: number, selection: ProgrammeSelection): Plan {
  const r = rng(42);
  const programmes = Array.from({ length: count }, (_, i) => ({ programme: parseProgramme(programmeInput(i, r)), version: 1 }));
  const card = new Map<string, ProductCardEntry>();
  for (let i = 0; i < skuCount; i += 3) card.set(skuOf(i), { pointsPerUnit: 1 + (i % 5) });
  return compile(programmes, { selection, timeZone: "Europe/Warsaw" }, card);
}

/** Evaluates `iterations` baskets round-robin; returns wall and CPU ns, and a sink against dead-code elimination. */
function timeRun(plan: Plan, baskets: readonly Basket[], customers: readonly CustomerFacts[], iterations: number): { ns: number; cpuNs: number; sink: number } {
  let sink = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const k = i % baskets.length;
    sink += evaluate(plan, baskets[k]!, customers[k]!).earned;
  }
  const ns = Number(process.hrtime.bigint() - start);
  const used = process.cpuUsage(cpu);
  return { ns, cpuNs: (used.user + used.system) * 1000, sink };
}

const us = (ns: number): number => Math.round(ns) / 1000;

const cases: readonly [number, ProgrammeSelection][] = [
  [1, "strongestScope"],
  [10, "strongestScope"],
  [50, "strongestScope"],
  [1, "bestForCustomer"],
  [10, "bestForCustomer"],
  [50, "bestForCustomer"],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Measures 1, 10 and 50 programmes under both selections: several timed runs after a warm-up, median reported. */
export async function benchRules(opts: { quick: boolean }): Promise<RulesBenchRow[]> {
  const r = rng(7);
  const baskets = Array.from({ length: 1000 }, (_, n) => basketOf(n, r));
  const customers = Array.from({ length: 1000 }, (_, n) => customerOf(n, r));
  const iterations = opts.quick ? 5_000 : 50_000;
  const runs = opts.quick ? 3 : 7;
  const rows: RulesBenchRow[] = [];
  let sink = 0;
  for (const [count, selection] of cases) {
    const plan = planFor(count, selection);
    sink += timeRun(plan, baskets, customers, opts.quick ? 2_000 : 50_000).sink;
    const wallNs: number[] = [];
    const cpuNs: number[] = [];
    for (let run = 0; run < runs; run++) {
      const t = timeRun(plan, baskets, customers, iterations);
      sink += t.sink;
      wallNs.push(t.ns / iterations);
      cpuNs.push(t.cpuNs / iterations);
      await new Promise((resolve) => setImmediate(resolve)); // let the event loop breathe between runs
    }
    const ns = median(wallNs);
    rows.push({
      programmes: count,
      selection,
      basketsPerSec: Math.round(1e9 / ns),
      usPerBasket: us(ns),
      usPerBasketMin: us(Math.min(...wallNs)),
      usPerBasketMax: us(Math.max(...wallNs)),
      cpuUsPerBasket: us(median(cpuNs)),
    });
  }
  if (sink < 0) console.log(sink); // never true; keeps the results observable
  return rows;
}

function machineLine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? "unknown CPU"} x${cpus.length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

async function main(): Promise<void> {
  const quick = process.env.BENCH_QUICK === "1";
  console.log(`rules: evaluate(), ${linesPerBasket}-line baskets, compiled plan${quick ? " (quick)" : ""}`);
  console.log(`machine: ${machineLine()}`);
  const rows = await benchRules({ quick });
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} (wall time suffers on a busy machine; CPU time less so)`);
  console.log("programmes  selection        baskets/s  us/basket (median)  min..max wall  cpu us/basket  vs goal (20 us)");
  for (const row of rows) {
    const ratio = (row.usPerBasket / goalUsPerBasket).toFixed(2);
    const range = `${row.usPerBasketMin.toFixed(2)}..${row.usPerBasketMax.toFixed(2)}`;
    console.log(
      `${String(row.programmes).padStart(10)}  ${row.selection.padEnd(15)}  ${String(row.basketsPerSec).padStart(9)}  ${row.usPerBasket.toFixed(2).padStart(18)}  ${range.padStart(13)}  ${row.cpuUsPerBasket.toFixed(2).padStart(13)}  ${ratio.padStart(15)}`,
    );
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
