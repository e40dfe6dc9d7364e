// The tier ladder: the customer's tier is named by the first tier rule of the installed
// programmes (by programme id), as the highest tier whose minSpend the customer's
// turnover over the rule's window reaches. Pure: the caller supplies the turnover.
import type { Programme } from "./programme.js";

export interface TierLadder {
  /** The programme whose tier rule it is. */
  programme: string;
  windowDays: number;
  /** Ascending minSpend; `id` as the programme gives it, else the tier's position. */
  tiers: readonly { id: string; minSpend: number }[];
}

/** The ladder of the first programme (in the order given: id ascending) that has a tier rule; null without one. */
export function tierLadderOf(programmes: readonly Programme[]): TierLadder | null {
  for (const p of programmes) {
    for (const r of p.rules) {
      if (r.kind !== "tier") continue;
      const tiers = r.tiers.map((t, i) => Object.freeze({ id: t.id ?? String(i), minSpend: t.minSpend }));
      return Object.freeze({ programme: p.id, windowDays: r.windowDays, tiers: Object.freeze(tiers) });
    }
  }
  return null;
}

/** The highest tier whose minSpend `turnover` reaches; null below every tier. */
export function tierIdFor(ladder: TierLadder, turnover: number): string | null {
  let id: string | null = null;
  for (const t of ladder.tiers) if (turnover >= t.minSpend) id = t.id;
  return id;
}
