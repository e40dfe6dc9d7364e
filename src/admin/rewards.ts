// The rewards catalogue: rewards with a points price, optional seasonal prices
// (time-limited windows that replace it), a category and a stock. The ledger prices a
// `redeemReward` from here and takes its stock inside its own write transaction.
import { z } from "zod";
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import { epochMs, id } from "../codec/schema.js";
import { priceAt } from "../ledger/redemption.js";
import type { Reward, Store } from "../ledger/store.js";
import { parseAdminBody, withPathId } from "./parse.js";
import { cellBool, cellInt, cellText } from "./sheets/cells.js";
import type { SheetRow } from "./sheets/read.js";

const pointsPrice = z.number().int().min(1).max(limits.pointsPriceMax);

const seasonalPrice = z
  .object({ from: epochMs, to: epochMs, pointsPrice })
  .strict()
  .refine((s) => s.from < s.to, { message: "from must be before to", path: ["to"] });

export const rewardSchema = z
  .object({
    id,
    name: z.string().min(1).max(200),
    category: id.nullable().default(null),
    account: id.default("points"),
    pointsPrice,
    /** Absent: keep the current stock (unlimited for a new reward). */
    stock: z.number().int().min(0).max(limits.rewardStockMax).nullable().optional(),
    seasonalPrices: z.array(seasonalPrice).max(limits.seasonalPricesMax).default([]),
    active: z.boolean().default(true),
  })
  .strict()
  .superRefine((r, ctx) => {
    const at = overlapping(r.seasonalPrices);
    if (at !== null) ctx.addIssue({ code: "custom", path: ["seasonalPrices", at, "from"], message: "overlaps another seasonal price" });
  });

/** The index of a window that overlaps another (which would make the price in force ambiguous), or null. */
function overlapping(windows: readonly { from: number; to: number }[]): number | null {
  const sorted = windows.map((s, i) => ({ ...s, i })).sort((a, b) => a.from - b.from);
  for (let k = 1; k < sorted.length; k++) if (sorted[k]!.from < sorted[k - 1]!.to) return sorted[k]!.i;
  return null;
}

const DAY_MS = 86_400_000;
const SEASON = /^(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*=\s*(\d+)$/;
/** A calendar date's first instant in UTC, or NaN for no such date (2026-02-30). */
function utcDay(date: string): number {
  const t = Date.parse(`${date}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === date ? t : NaN;
}

/**
 * A sheet's `seasonalPrices` cell: windows `FROM..TO=PRICE` separated by `;`, days
 * YYYY-MM-DD in UTC, both included (`2026-12-01..2026-12-24=15` is 1 December 00:00 UTC
 * up to 25 December 00:00 UTC); `none` is no seasonal price.
 */
const seasonalPricesCell = z
  .string()
  .transform((text, ctx) => {
    if (text.trim().toLowerCase() === "none") return [];
    const out: { from: number; to: number; pointsPrice: number }[] = [];
    for (const part of text.split(";").map((x) => x.trim()).filter((x) => x !== "")) {
      const m = SEASON.exec(part);
      const from = m ? utcDay(m[1]!) : NaN;
      const to = m ? utcDay(m[2]!) + DAY_MS : NaN;
      if (!m || Number.isNaN(from) || Number.isNaN(to) || from >= to) {
        ctx.addIssue({ code: "custom", message: `"${part}" is not FROM..TO=PRICE with calendar dates YYYY-MM-DD, FROM not after TO` });
        return z.NEVER;
      }
      out.push({ from, to, pointsPrice: Number(m[3]) });
    }
    if (overlapping(out) !== null) {
      ctx.addIssue({ code: "custom", message: "two seasonal prices overlap" });
      return z.NEVER;
    }
    return out;
  })
  .pipe(z.array(seasonalPrice).max(limits.seasonalPricesMax));

export type RewardView = Reward & { priceNow: number };

export function rewardView(r: Reward, now: number): RewardView {
  return { ...r, priceNow: priceAt(r, now) };
}

/**
 * Adds or replaces a reward. Leaving `stock` out keeps the stock the reward has now, so
 * editing a price never races with redemptions taking units; `stock: null` = unlimited.
 */
export async function putReward(store: Store, rewardId: string, body: unknown, now: number): Promise<RewardView> {
  const parsed = parseAdminBody(rewardSchema, withPathId(body, rewardId, "reward"), "reward");
  return store.env.transaction(() => {
    const existing = store.rewards.get(rewardId);
    if (!existing && store.rewards.getKeysCount() >= limits.rewardsMax) {
      throw new LoyaltyError("VALIDATION", `at most ${limits.rewardsMax} rewards`, "id");
    }
    const stock = parsed.stock !== undefined ? parsed.stock : (existing?.stock ?? null);
    const reward: Reward = { ...parsed, stock, updatedAt: now };
    store.rewards.put(rewardId, reward);
    return rewardView(reward, now);
  });
}

export function getReward(store: Store, rewardId: string, now: number): RewardView {
  store.env.resetReadTxn();
  const r = store.rewards.get(rewardId);
  if (!r) throw new LoyaltyError("UNKNOWN_REWARD", `no reward ${rewardId}`, "id");
  return rewardView(r, now);
}

export function listRewards(store: Store, limit: number, now: number): RewardView[] {
  store.env.resetReadTxn();
  return [...store.rewards.getRange({ limit })].map(({ value }) => rewardView(value, now));
}

/** Open holds on a removed reward can still be captured; their stock is not given back. */
export async function removeReward(store: Store, rewardId: string): Promise<void> {
  const removed = await store.env.transaction(() => {
    if (!store.rewards.get(rewardId)) return false;
    store.rewards.remove(rewardId);
    return true;
  });
  if (!removed) throw new LoyaltyError("UNKNOWN_REWARD", `no reward ${rewardId}`, "id");
}

/**
 * One row of a rewards spreadsheet: the reward's fields as columns. A row defines the
 * reward as PUT does (an absent category is none, account "points", active yes), with
 * two differences a flat sheet imposes: an empty `stock` keeps the stock the reward has
 * (`unlimited` makes it unlimited), and an empty `seasonalPrices` keeps the reward's
 * seasonal prices (a filled one replaces them; `none` removes them).
 */
export const rewardRowSchema = z
  .object({
    id: cellText(id),
    name: cellText(z.string().min(1).max(200)),
    category: cellText(id).optional(),
    account: cellText(id).optional(),
    pointsPrice: cellInt(pointsPrice),
    stock: z
      .preprocess((v: unknown) => (typeof v === "string" && v.toLowerCase() === "unlimited" ? null : v), cellInt(z.number().int().min(0).max(limits.rewardStockMax).nullable()))
      .optional(),
    active: cellBool(z.boolean()).optional(),
    seasonalPrices: cellText(seasonalPricesCell).optional(),
  })
  .strict();

export type RewardRow = z.infer<typeof rewardRowSchema>;

/** Upserts every row by id in one transaction: all of them, or (over rewardsMax) none. */
export async function importRewards(store: Store, rows: SheetRow<RewardRow>[], now: number): Promise<{ imported: number; created: number; updated: number }> {
  return store.env.transaction(() => {
    const fresh = rows.filter((r) => !store.rewards.get(r.value.id)).length;
    const total = store.rewards.getKeysCount() + fresh;
    if (total > limits.rewardsMax) throw new LoyaltyError("LIMIT_EXCEEDED", `the import would make ${total} rewards; at most ${limits.rewardsMax}`, "id");
    for (const { value: r } of rows) {
      const existing = store.rewards.get(r.id);
      const reward: Reward = {
        id: r.id,
        name: r.name,
        category: r.category ?? null,
        account: r.account ?? "points",
        pointsPrice: r.pointsPrice,
        stock: r.stock !== undefined ? r.stock : (existing?.stock ?? null),
        seasonalPrices: r.seasonalPrices ?? existing?.seasonalPrices ?? [],
        active: r.active ?? true,
        updatedAt: now,
      };
      store.rewards.put(r.id, reward);
    }
    return { imported: rows.length, created: fresh, updated: rows.length - fresh };
  });
}
