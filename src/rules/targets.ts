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
  /** qty: thousandths of a unit; amount: minor units (progress is counted in the same). */
  goal: number;
  points: number;
  /** The programme's customer and group scope (null: anyone). */
  customers: ReadonlySet<string> | null;
  groups: ReadonlySet<string> | null;
}

const setOrNull = (xs: readonly string[] | undefined): ReadonlySet<string> | null => (xs && xs.length > 0 ? new Set(xs) : null);

export function targetsOf(programmes: readonly { programme: Programme; version: number }[]): PlanTarget[] {
  const out: PlanTarget[] = [];
  for (const { programme: p, version } of programmes) {
    p.rules.forEach((r, ruleIndex) => {
      if (r.kind !== "target") return;
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
        goal: r.metric === "qty" ? Math.round(r.goal * 1000) : r.goal,
        points: r.points,
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

/** A progress figure in the target's own terms: qty in units (3 decimals), amount in minor units. */
export function targetUnits(t: Pick<PlanTarget, "metric">, value: number): number {
  return t.metric === "qty" ? value / 1000 : value;
}
