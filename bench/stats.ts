// Repetition and summary: every case runs several times and reports median, min and max,
// because one run on a shared, noisy machine proves little.
export type Figures = Record<string, number>;

export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarise(values: readonly number[]): Summary {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: [...values] };
}

/** How many times each case runs: 5 in full mode, 1 in quick mode (BENCH_RUNS overrides). */
export function runsFor(quick: boolean): number {
  const override = Number(process.env.BENCH_RUNS);
  if (Number.isInteger(override) && override > 0) return override;
  return quick ? 1 : 5;
}

/**
 * Runs a case `runs` times; each run returns named figures; the result summarises each
 * figure over the runs. A figure missing from a run (e.g. skipped) is summarised over the rest.
 * With `budgetMs`, no new run starts once another one would likely end past the budget
 * (at least one run always happens): long cases keep the whole bench within minutes.
 */
export async function repeat(runs: number, runOnce: (run: number) => Promise<Figures>, budgetMs = Infinity): Promise<Record<string, Summary>> {
  const collected = new Map<string, number[]>();
  const t0 = performance.now();
  for (let run = 0; run < runs; run++) {
    const elapsed = performance.now() - t0;
    if (run > 0 && elapsed + elapsed / run > budgetMs) break;
    const figures = await runOnce(run);
    for (const [name, value] of Object.entries(figures)) {
      if (!Number.isFinite(value)) continue;
      const list = collected.get(name) ?? [];
      list.push(value);
      collected.set(name, list);
    }
    (globalThis as { gc?: () => void }).gc?.(); // between runs, so one run's garbage does not tax the next
  }
  return Object.fromEntries([...collected].map(([name, values]) => [name, summarise(values)]));
}

/** One run's figures as summaries, for cases too long to repeat; non-finite figures are left out, as in `repeat`. */
export function once(figures: Figures): Record<string, Summary> {
  return Object.fromEntries(Object.entries(figures).flatMap(([name, value]) => (Number.isFinite(value) ? [[name, summarise([value])]] : [])));
}
