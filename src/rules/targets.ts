// Sales targets (rule kind target) as the plan lists them, and what a report's lines
// contribute to one. Pure: the ledger keeps each participant's progress.
import { startOfLocalDate } from "./dates.js";
import type { Programme } from "./programme.js";

export interface PlanTarget {
  /** The rule's id, else "<programme>#<rule index>". */
  id: string;
  programme: string;
  version: number;
  ruleIndex: number;
  account: string;
  currency: string;
  /** The programme's time zone (null: the deployment's): an invoice date's first instant is in it. */
  timeZone: string | null;
  metric: "qty" | "amount";
  skus: ReadonlySet<string> | null;
  categories: ReadonlySet<string> | null;
  from: number;
  to: number;
  /** qty: thousandths of a unit; amount: minor units (progress is counted in the same). The highest tier's goal with tiers. */
  goal: number;
  /** The bonus; with tiers, all tiers' points together. */
  points: number;
  /** The rule's tiers, goals ascending in the same units as `goal`; null: one goal and its points. */
  tiers: readonly TargetTier[] | null;
  /** The programme's customer and group scope (null: anyone). */
  customers: ReadonlySet<string> | null;
  groups: ReadonlySet<string> | null;
}

export interface TargetTier {
  goal: number;
  points: number;
}

const setOrNull = (xs: readonly string[] | undefined): ReadonlySet<string> | null => (xs && xs.length > 0 ? new Set(xs) : null);

export function targetsOf(programmes: readonly { programme: Programme; version: number }[]): PlanTarget[] {
  const out: PlanTarget[] = [];
  for (const { programme: p, version } of programmes) {
    p.rules.forEach((r, ruleIndex) => {
      if (r.kind !== "target") return;
      const units = (goal: number) => (r.metric === "qty" ? Math.round(goal * 1000) : goal);
      const tiers = r.tiers?.map((t) => ({ goal: units(t.goal), points: t.points })) ?? null;
      out.push({
        id: r.id ?? `${p.id}#${ruleIndex}`,
        programme: p.id,
        version,
        ruleIndex,
        account: p.account,
        currency: p.currency,
        timeZone: p.timeZone,
        metric: r.metric,
        skus: setOrNull(r.skus),
        categories: setOrNull(r.categories),
        from: r.from,
        to: r.to,
        goal: tiers ? tiers[tiers.length - 1]!.goal : units(r.goal!),
        points: tiers ? tiers.reduce((sum, t) => sum + t.points, 0) : r.points!,
        tiers,
        customers: setOrNull(p.scope.customers),
        groups: setOrNull(p.scope.groups),
      });
    });
  }
  return out;
}

export interface TargetLine {
  date: string;
  sku: string;
  category?: string | undefined;
  qty: number;
  amount: number;
}

/** Whether the target counts a participant with these groups (its programme's customer and group scope). */
export function targetCounts(t: PlanTarget, customerId: string, groups: readonly string[]): boolean {
  if (t.customers !== null && !t.customers.has(customerId)) return false;
  return t.groups === null || groups.some((g) => t.groups!.has(g));
}

/** What one line adds to the target's total (0 when it does not match), in the target's units. */
export function lineContribution(t: PlanTarget, line: TargetLine, timeZone: string): number {
  if (t.skus !== null || t.categories !== null) {
    const matches = t.skus?.has(line.sku) === true || (line.category !== undefined && t.categories?.has(line.category) === true);
    if (!matches) return 0;
  }
  const at = startOfLocalDate(t.timeZone ?? timeZone, line.date);
  if (at < t.from || at >= t.to) return 0;
  return t.metric === "qty" ? Math.round(line.qty * 1000) : line.amount;
}

/**
 * The bonus a participant holds at this total: the points of every tier whose goal the
 * total has reached (a target without tiers: its points once the goal is reached).
 * `tiers` as the target has them (a progress record keeps them for a target retired since).
 */
export function targetAward(t: Pick<PlanTarget, "goal" | "points" | "tiers">, achieved: number): number {
  if (t.tiers === null) return achieved >= t.goal ? t.points : 0;
  let sum = 0;
  for (const tier of t.tiers) if (achieved >= tier.goal) sum += tier.points;
  return sum;
}

/** A progress figure in the target's own terms: qty in units (3 decimals), amount in minor units. */
export function targetUnits(t: Pick<PlanTarget, "metric">, value: number): number {
  return t.metric === "qty" ? value / 1000 : value;
}
