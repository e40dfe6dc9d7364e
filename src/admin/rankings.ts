// Distributors ranked over a period (GET /v1/admin/rankings): the day aggregates that
// approvals and rejections keep (ledger/rankings.ts) added up per distributor, filtered by
// the groups it was in on the period's last day, highest first. Main thread, one read
// snapshot: the days of the period are read, never the entries.
import { z } from "zod";
import { calendarDate } from "../codec/primitives.js";
import { LoyaltyError } from "../errors.js";
import { groupsOn } from "../ledger/groups.js";
import type { RankDay, Store } from "../ledger/store.js";
import { limits } from "../limits.js";
import { addDays } from "../rules/dates.js";
import { parseAdminBody } from "./parse.js";

const querySchema = z
  .object({
    metric: z.enum(["points", "qty", "amount"]),
    from: calendarDate,
    to: calendarDate,
    group: z.string().min(1).max(limits.idLengthMax).optional(),
    limit: z.coerce.number().int().min(1).max(limits.adminListMax).default(100),
  })
  .strict()
  .refine((q) => q.from <= q.to, { message: "must not be before from", path: ["to"] });
export type RankingQuery = z.infer<typeof querySchema>;

export function parseRankingQuery(query: unknown): RankingQuery {
  return parseAdminBody(querySchema, query, "ranking query");
}

export interface Ranked {
  rank: number;
  customerId: string;
  company: string | null;
  /** The metric's value: points, qty (units) or amount (minor units). */
  value: number;
  points: number;
  qty: number;
  amount: number;
}

/** The ranking: competition ranks (equal values share a rank, the next rank skips), ties by customer id. */
export function ranking(store: Store, q: RankingQuery): { rankings: Ranked[]; participants: number } {
  store.env.resetReadTxn();
  const sums = new Map<string, RankDay>();
  let read = 0;
  for (const { key, value } of store.rankDays.getRange({ start: [q.from, ""], end: [addDays(q.to, 1), ""] })) {
    if (++read > limits.rankingScanMax) throw new LoyaltyError("LIMIT_EXCEEDED", `the period holds more than ${limits.rankingScanMax} distributor-days; rank a shorter one`, "from");
    const s = sums.get(key[1]) ?? { points: 0, qty: 0, amount: 0 };
    sums.set(key[1], { points: s.points + value.points, qty: s.qty + value.qty, amount: s.amount + value.amount });
  }
  const rows: Omit<Ranked, "rank">[] = [];
  for (const [customerId, s] of sums) {
    const c = store.customers.get(customerId);
    if (!c || c.erasedAt !== undefined) continue;
    if (q.group !== undefined && !groupsOn(c, q.to).includes(q.group)) continue;
    const value = q.metric === "points" ? s.points : q.metric === "qty" ? s.qty / 1000 : s.amount;
    rows.push({ customerId, company: c.company?.name ?? null, value, points: s.points, qty: s.qty / 1000, amount: s.amount });
  }
  rows.sort((a, b) => b.value - a.value || (a.customerId < b.customerId ? -1 : 1));
  const ranked: Ranked[] = [];
  for (let i = 0; i < Math.min(rows.length, q.limit); i++) {
    const rank = i > 0 && rows[i]!.value === rows[i - 1]!.value ? ranked[i - 1]!.rank : i + 1;
    ranked.push({ rank, ...rows[i]! });
  }
  return { rankings: ranked, participants: rows.length };
}
