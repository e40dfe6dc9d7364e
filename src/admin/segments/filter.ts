// The segment filter language (contract v1.1): `{all: [f…]}`, `{any: [f…]}`, `{not: f}`,
// or an object of conditions that must all hold. Validated once, compiled to a predicate
// over a customer's facts, which load lazily: a filter on balances never reads purchases.
// Pure: no I/O here; the facts come from src/admin/segments/facts.ts.
import { z } from "zod";
import { limits } from "../../limits.js";

const DAY_MS = 86_400_000;
const epochMs = z.number().int().min(0).max(8.64e15);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const amount = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
const id = z.string().min(1).max(limits.idLengthMax);
const ids = z.array(id).min(1).max(limits.segmentListMax);
const range = z.object({ gte: amount.optional(), lte: amount.optional() });
const period = z.object({ from: epochMs.optional(), to: epochMs.optional(), gte: count.optional(), lte: count.optional() }).strict();

const conditions = z
  .object({
    balance: range.extend({ account: id.optional() }).strict().optional(),
    available: range.extend({ account: id.optional() }).strict().optional(),
    tier: ids.optional(),
    groups: ids.optional(),
    attributes: z.record(id, z.union([z.string().max(limits.idLengthMax), z.number(), z.boolean()])).optional(),
    expiring: z.object({ account: id.optional(), withinDays: z.number().int().min(0).max(3660), gte: amount.optional() }).strict().optional(),
    bought: z
      .object({
        skus: ids.optional(),
        categories: ids.optional(),
        from: epochMs.optional(),
        to: epochMs.optional(),
        minCount: count.optional(),
        minAmount: count.optional(),
      })
      .strict()
      .optional(),
    stores: ids.optional(),
    channels: ids.optional(),
    lastVisit: z.object({ before: epochMs.optional(), after: epochMs.optional() }).strict().optional(),
    enrolled: z.object({ from: epochMs.optional(), to: epochMs.optional() }).strict().optional(),
    birthdayWithinDays: z.number().int().min(0).max(366).optional(),
    consent: z.enum(["email", "sms", "post"]).optional(),
    spend: period.optional(),
    visits: period.optional(),
  })
  .strict();

export type Conditions = z.infer<typeof conditions>;
export type Filter = Conditions | { all: Filter[] } | { any: Filter[] } | { not: Filter };

export const filterSchema: z.ZodType<Filter> = z.lazy(() =>
  z.union([
    z.object({ all: z.array(filterSchema).max(limits.segmentListMax) }).strict(),
    z.object({ any: z.array(filterSchema).max(limits.segmentListMax) }).strict(),
    z.object({ not: filterSchema }).strict(),
    conditions,
  ]),
);

/** What a customer bought in a window: how many units and for how much (minor units). */
export interface Bought {
  count: number;
  amount: number;
}

/** A customer as a filter sees it. Methods load what they need on first use. */
export interface SegmentFacts {
  readonly customerId: string;
  readonly createdAt: number;
  readonly groups: readonly string[];
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  /** "YYYY-MM-DD" or "MM-DD", or null. */
  readonly birthday: string | null;
  consented(channel: "email" | "sms" | "post"): boolean;
  tier(): string | null;
  account(name: string): { balance: number; held: number };
  /** Points of the account expiring at or before `until`. */
  expiring(name: string, until: number): number;
  lastVisitAt(): number | null;
  visitedStore(storeId: string): boolean;
  usedChannel(channel: string): boolean;
  /** Units and amount bought of the SKUs or categories in [from, to]. */
  bought(what: { skus?: readonly string[]; categories?: readonly string[] }, from: number, to: number): Bought;
  /** Spend (minor units) and visits in [from, to]. */
  spendIn(from: number, to: number): number;
  visitsIn(from: number, to: number): number;
}

export type Predicate = (facts: SegmentFacts) => boolean;

const PRIMARY = "points";

/** A filter validated and compiled, against the clock at `now` (for `expiring` and birthdays). */
export function compileFilter(filter: Filter, now: number): Predicate {
  if ("all" in filter) {
    const parts = filter.all.map((f) => compileFilter(f, now));
    return (c) => parts.every((p) => p(c));
  }
  if ("any" in filter) {
    const parts = filter.any.map((f) => compileFilter(f, now));
    return (c) => parts.some((p) => p(c));
  }
  if ("not" in filter) {
    const inner = compileFilter(filter.not, now);
    return (c) => !inner(c);
  }
  return compileConditions(filter, now);
}

function within(v: number, r: { gte?: number; lte?: number }): boolean {
  return (r.gte === undefined || v >= r.gte) && (r.lte === undefined || v <= r.lte);
}

function compileConditions(f: Conditions, now: number): Predicate {
  // Cheapest checks first: the record's own fields, then balances, then purchases.
  const checks: Predicate[] = [];
  if (f.enrolled) {
    const { from = 0, to = Number.MAX_SAFE_INTEGER } = f.enrolled;
    checks.push((c) => c.createdAt >= from && c.createdAt <= to);
  }
  if (f.groups) {
    const wanted = new Set(f.groups);
    checks.push((c) => c.groups.some((g) => wanted.has(g)));
  }
  if (f.attributes) {
    const pairs = Object.entries(f.attributes);
    checks.push((c) => pairs.every(([k, v]) => Object.hasOwn(c.attributes, k) && c.attributes[k] === v));
  }
  if (f.consent) {
    const channel = f.consent;
    checks.push((c) => c.consented(channel));
  }
  if (f.birthdayWithinDays !== undefined) {
    const days = f.birthdayWithinDays;
    checks.push((c) => c.birthday !== null && daysToBirthday(c.birthday, now) <= days);
  }
  if (f.tier) {
    const tiers = new Set(f.tier);
    checks.push((c) => {
      const t = c.tier();
      return t !== null && tiers.has(t);
    });
  }
  if (f.balance) {
    const r = f.balance;
    checks.push((c) => within(c.account(r.account ?? PRIMARY).balance, r));
  }
  if (f.available) {
    const r = f.available;
    checks.push((c) => {
      const a = c.account(r.account ?? PRIMARY);
      return within(a.balance - a.held, r);
    });
  }
  if (f.expiring) {
    const { account = PRIMARY, withinDays, gte = 1 } = f.expiring;
    const until = now + withinDays * DAY_MS;
    checks.push((c) => c.expiring(account, until) >= gte);
  }
  if (f.lastVisit) {
    const { before = Number.MAX_SAFE_INTEGER, after = -1 } = f.lastVisit;
    checks.push((c) => {
      const t = c.lastVisitAt();
      return t !== null && t < before && t > after;
    });
  }
  if (f.stores) {
    const stores = f.stores;
    checks.push((c) => stores.some((s) => c.visitedStore(s)));
  }
  if (f.channels) {
    const channels = f.channels;
    checks.push((c) => channels.some((ch) => c.usedChannel(ch)));
  }
  if (f.bought) {
    const { skus, categories, from = 0, to = Number.MAX_SAFE_INTEGER, minCount = 1, minAmount = 0 } = f.bought;
    const what = { ...(skus ? { skus } : {}), ...(categories ? { categories } : {}) };
    checks.push((c) => {
      const b = c.bought(what, from, to);
      return b.count >= minCount && b.amount >= minAmount;
    });
  }
  if (f.spend) {
    const { from = 0, to = Number.MAX_SAFE_INTEGER } = f.spend;
    const r = f.spend;
    checks.push((c) => within(c.spendIn(from, to), r));
  }
  if (f.visits) {
    const { from = 0, to = Number.MAX_SAFE_INTEGER } = f.visits;
    const r = f.visits;
    checks.push((c) => within(c.visitsIn(from, to), r));
  }
  return (c) => checks.every((p) => p(c));
}

/**
 * Whole days from `now` (UTC) to the next birthday, 0 on the day itself. "MM-DD" or
 * "YYYY-MM-DD"; 29 February counts as 28 February in other years.
 */
export function daysToBirthday(birthday: string, now: number): number {
  const m = /^(?:\d{4}-)?(\d{2})-(\d{2})$/.exec(birthday);
  if (!m) return Number.POSITIVE_INFINITY;
  const month = Number(m[1]) - 1;
  const day = Number(m[2]);
  const today = new Date(now);
  const y = today.getUTCFullYear();
  const start = Date.UTC(y, today.getUTCMonth(), today.getUTCDate());
  const on = (year: number) => {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return Date.UTC(year, month, month === 1 && day === 29 && !leap ? 28 : day);
  };
  const next = on(y) >= start ? on(y) : on(y + 1);
  return Math.round((next - start) / DAY_MS);
}
