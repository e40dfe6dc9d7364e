// The programme language: a zod schema (strict, so a typo in a programme is an error, not
// a silently ignored field) and parseProgramme(), the one way a programme enters the engine.
import { z } from "zod";
import { fieldPath, validationError } from "../errors.js";
import { limits } from "../limits.js";
import { attributeValue } from "../codec/primitives.js";
import { isTimeZone } from "./time.js";

/** Largest factor a rule may state: bounds how far a typo (20 instead of 2.0) can inflate points. */
export const factorMax = 1000;
/** Largest points figure in one rule; keeps every intermediate product far below 2^53. */
export const rulePointsMax = 1_000_000_000;
const minorUnitsMax = Number.MAX_SAFE_INTEGER;
const epochMsMax = 8_640_000_000_000_000;

const id = z.string().regex(/^[^\x00-\x1F\x7F]{1,128}$/, "must be 1-128 printable characters");
const currency = z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as EUR");
const per = z.number().int("must be an integer").min(1, "must be a positive integer (minor units)").max(minorUnitsMax);
const points = z.number().int("must be an integer").min(0, "must not be negative").max(rulePointsMax);
const minorUnits = z.number().int("must be an integer").min(0, "must not be negative").max(minorUnitsMax);
const factor = z
  .number()
  .positive("must be a positive number")
  .max(factorMax, `must be at most ${factorMax}`)
  .refine(Number.isFinite, "must be finite");
const epochMs = z.number().int("must be an integer (epoch ms)").min(0).max(epochMsMax);
const ids = z.array(id).max(100_000);
const timeZone = z.string().refine(isTimeZone, "must be an IANA time zone such as Europe/Warsaw");

const spendRule = z.strictObject({ kind: z.literal("spend"), per, points });

// sku and category rules earn either per unit or per amount spent on the matching lines.
function unitOrAmount(v: { pointsPerUnit?: number | undefined; per?: number | undefined; points?: number | undefined }, ctx: z.RefinementCtx): void {
  const byUnit = v.pointsPerUnit !== undefined;
  const byAmount = v.per !== undefined || v.points !== undefined;
  if (byUnit && byAmount) ctx.addIssue({ code: "custom", path: ["pointsPerUnit"], message: "give either pointsPerUnit or per+points, not both" });
  else if (!byUnit && !byAmount) ctx.addIssue({ code: "custom", path: ["pointsPerUnit"], message: "give pointsPerUnit or per+points" });
  else if (byAmount && v.per === undefined) ctx.addIssue({ code: "custom", path: ["per"], message: "is required with points" });
  else if (byAmount && v.points === undefined) ctx.addIssue({ code: "custom", path: ["points"], message: "is required with per" });
}

const skuRule = z
  .strictObject({ kind: z.literal("sku"), sku: id, pointsPerUnit: points.optional(), per: per.optional(), points: points.optional() })
  .superRefine(unitOrAmount);

const categoryRule = z
  .strictObject({ kind: z.literal("category"), category: id, pointsPerUnit: points.optional(), per: per.optional(), points: points.optional() })
  .superRefine(unitOrAmount);

const productCardRule = z.strictObject({ kind: z.literal("productCard") });

const visitRule = z.strictObject({ kind: z.literal("visit"), points });

const tenderRule = z.strictObject({ kind: z.literal("tender"), tender: id, per, points });

const thresholdRule = z
  .strictObject({
    kind: z.literal("threshold"),
    minTotal: minorUnits.optional(),
    minQty: z.number().positive("must be positive").max(1_000_000_000).optional(),
    points,
  })
  .superRefine((v, ctx) => {
    if (v.minTotal === undefined && v.minQty === undefined) {
      ctx.addIssue({ code: "custom", path: ["minTotal"], message: "give minTotal and/or minQty" });
    }
  });

const multiplierRule = z.strictObject({ kind: z.literal("multiplier"), groups: z.array(id).min(1, "name at least one group"), factor });

const hour = z.number().int("must be a whole hour").min(0).max(24);
const periodRule = z
  .strictObject({
    kind: z.literal("period"),
    validFrom: epochMs.nullable().optional(),
    validTo: epochMs.nullable().optional(),
    weekdays: z
      .array(z.number().int().min(1, "ISO weekday 1 (Mon) .. 7 (Sun)").max(7, "ISO weekday 1 (Mon) .. 7 (Sun)"))
      .min(1, "name at least one weekday")
      .max(7)
      .optional(),
    hours: z.tuple([hour, hour]).optional(),
    factor: factor.optional(),
    points: points.optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.factor === undefined) === (v.points === undefined)) {
      ctx.addIssue({ code: "custom", path: ["factor"], message: "give exactly one of factor (multiply) or points (bonus)" });
    }
    if (v.validFrom == null && v.validTo == null && v.weekdays === undefined && v.hours === undefined) {
      ctx.addIssue({ code: "custom", path: ["weekdays"], message: "give validFrom/validTo, weekdays and/or hours" });
    }
    if (v.validFrom != null && v.validTo != null && v.validFrom >= v.validTo) {
      ctx.addIssue({ code: "custom", path: ["validTo"], message: "must be after validFrom" });
    }
    if (v.hours && v.hours[0] === v.hours[1]) ctx.addIssue({ code: "custom", path: ["hours"], message: "start and end hour must differ" });
    if (v.hours && v.hours[0] === 24) ctx.addIssue({ code: "custom", path: ["hours", 0], message: "start hour must be 0..23" });
  });

const tierRule = z
  .strictObject({
    kind: z.literal("tier"),
    windowDays: z.number().int().min(1).max(limits.turnoverDaysKept, `must be at most ${limits.turnoverDaysKept} days (turnover kept)`),
    tiers: z
      /** `id`: what `tier.id` reports (default: the tier's position, "0", "1"…). */
      .array(z.strictObject({ id: id.optional(), minSpend: minorUnits, factor, name: id.optional() }))
      .min(1, "name at least one tier")
      .max(100),
  })
  .superRefine((v, ctx) => {
    for (let i = 1; i < v.tiers.length; i++) {
      if (v.tiers[i]!.minSpend <= v.tiers[i - 1]!.minSpend) {
        ctx.addIssue({ code: "custom", path: ["tiers", i, "minSpend"], message: "tiers must be in strictly ascending minSpend order" });
      }
    }
    const ids = v.tiers.map((t, i) => t.id ?? String(i));
    ids.forEach((tierId, i) => {
      if (ids.indexOf(tierId) !== i) ctx.addIssue({ code: "custom", path: ["tiers", i, "id"], message: `tier id ${tierId} appears twice` });
    });
  });

/**
 * Points when a sale names an offer (a coupon, a leaflet promotion): `points` once per basket
 * that names it, or `pointsPerUnit` on each unit of the lines that name it; in force for
 * from <= at < to (either may be left out).
 */
const offerRule = z
  .strictObject({
    kind: z.literal("offer"),
    offerId: id,
    points: points.optional(),
    pointsPerUnit: points.optional(),
    from: epochMs.optional(),
    to: epochMs.optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.points === undefined) === (v.pointsPerUnit === undefined)) {
      ctx.addIssue({ code: "custom", path: ["points"], message: "give exactly one of points (per basket) or pointsPerUnit (per unit of the lines naming the offer)" });
    }
    if (v.from !== undefined && v.to !== undefined && v.from >= v.to) ctx.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
  });

const targetGoal = z.number().positive("must be positive").max(minorUnitsMax).multipleOf(0.001, "at most 3 decimals");
/** Tiers of a target: at most this many. */
const TARGET_TIERS_MAX = 20;

/**
 * A sales target of distributors' reports (docs/b2b.md): once a participant's approved
 * qty or amount of the matching lines (skus or categories; neither: every line) with an
 * invoice date in from <= date < to reaches `goal`, `points` are credited, once; a
 * rejection that takes the total below the goal takes them back. Instead of `goal` and
 * `points`, `tiers` (goals strictly ascending): each tier's points are credited once
 * when the total reaches its goal, and taken back when a rejection drops it below.
 * The basket engine ignores it: the ledger keeps each participant's progress (ledger/targets.ts).
 */
const targetRule = z
  .strictObject({
    kind: z.literal("target"),
    /** The target's id in progress, replies and notifications; default "<programme>#<rule index>". */
    id: id.optional(),
    metric: z.enum(["qty", "amount"]),
    skus: ids.optional(),
    categories: ids.optional(),
    from: epochMs,
    to: epochMs,
    goal: targetGoal.optional(),
    points: points.optional(),
    tiers: z.array(z.strictObject({ goal: targetGoal, points })).min(1).max(TARGET_TIERS_MAX).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.from >= v.to) ctx.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
    if (v.tiers !== undefined) {
      if (v.goal !== undefined || v.points !== undefined) ctx.addIssue({ code: "custom", path: ["tiers"], message: "give either tiers or goal and points, not both" });
      v.tiers.forEach((t, i) => {
        if (i > 0 && t.goal <= v.tiers![i - 1]!.goal) ctx.addIssue({ code: "custom", path: ["tiers", i, "goal"], message: "tier goals must be strictly ascending" });
        if (v.metric === "amount" && !Number.isInteger(t.goal)) ctx.addIssue({ code: "custom", path: ["tiers", i, "goal"], message: "an amount goal is an integer (minor units)" });
      });
      return;
    }
    if (v.goal === undefined) ctx.addIssue({ code: "custom", path: ["goal"], message: "required (or tiers)" });
    if (v.points === undefined) ctx.addIssue({ code: "custom", path: ["points"], message: "required (or tiers)" });
    if (v.metric === "amount" && v.goal !== undefined && !Number.isInteger(v.goal)) ctx.addIssue({ code: "custom", path: ["goal"], message: "an amount goal is an integer (minor units)" });
  });

export const ruleSchema = z.discriminatedUnion("kind", [
  spendRule,
  skuRule,
  categoryRule,
  productCardRule,
  visitRule,
  tenderRule,
  thresholdRule,
  multiplierRule,
  periodRule,
  tierRule,
  offerRule,
  targetRule,
]);

const scopeSchema = z.strictObject({
  customers: ids.default([]),
  groups: ids.default([]),
  skus: ids.default([]),
  categories: ids.default([]),
  stores: ids.default([]),
  channels: ids.default([]),
  /** Saved segments (admin): the customer must be a member of one, at the event's time. */
  segments: ids.default([]),
  /**
   * Customer attributes (the CRM's facts, set by enroll/updateCustomer): every key named
   * must hold one of the values given (a value or a list of them), compared with ===.
   */
  attributes: z
    .record(z.string().min(1).max(limits.attributeKeyLengthMax), z.union([attributeValue, z.array(attributeValue).min(1).max(100)]))
    .refine((r) => Object.keys(r).length <= 20, "at most 20 attributes")
    .default({}),
});

const expirySchema = z.union([
  z.strictObject({ afterDays: z.number().int().min(1, "must be at least 1 day").max(36_500) }),
  z.strictObject({ atYearEnd: z.literal(true) }),
], { error: 'must be {"afterDays": N}, {"atYearEnd": true} or null' });

const redemptionSchema = z.strictObject({
  /** Minor units of `currency` that one point buys (integer; 1 = one cent per point). */
  pointValue: z.number().int("must be an integer (minor units per point)").min(1, "must be a positive integer").max(1_000_000),
  currency,
});

export const programmeSchema = z
  .strictObject({
    id,
    name: z.string().max(200).optional(),
    account: id.default("points"),
    /** "points" (default) or "money": a stored-value account whose amounts are minor units of `currency`. */
    unit: z.enum(["points", "money"]).default("points"),
    currency,
    timeZone: timeZone.nullable().default(null),
    scope: scopeSchema.default({ customers: [], groups: [], skus: [], categories: [], stores: [], channels: [], segments: [], attributes: {} }),
    validFrom: epochMs.nullable().default(null),
    validTo: epochMs.nullable().default(null),
    promoItemsEarn: z.boolean().default(false),
    rules: z.array(ruleSchema).min(1, "give at least one rule").max(limits.rulesPerProgrammeMax),
    rounding: z.enum(["floor", "round", "ceil"]).default("floor"),
    capPerEvent: z.number().int("must be an integer").min(0, "must not be negative").max(Number.MAX_SAFE_INTEGER).nullable().default(null),
    expiry: expirySchema.nullable().default(null),
    redemption: redemptionSchema.nullable().default(null),
  })
  .superRefine((p, ctx) => {
    if (p.validFrom !== null && p.validTo !== null && p.validFrom >= p.validTo) {
      ctx.addIssue({ code: "custom", path: ["validTo"], message: "must be after validFrom" });
    }
    if (p.redemption && p.redemption.currency !== p.currency) {
      ctx.addIssue({ code: "custom", path: ["redemption", "currency"], message: `must be the programme currency ${p.currency}` });
    }
  });

/** A validated programme, defaults filled in. */
export type Programme = z.output<typeof programmeSchema>;
/** A programme as an administrator writes it (defaults may be omitted). */
export type ProgrammeInput = z.input<typeof programmeSchema>;
export type Rule = Programme["rules"][number];
export type RuleKind = Rule["kind"];
export type Rounding = Programme["rounding"];

export { fieldPath };

/** Unknown value -> validated Programme, or a VALIDATION error naming the first bad field (unknown fields first). */
export function parseProgramme(input: unknown): Programme {
  const result = programmeSchema.safeParse(input);
  if (result.success) return result.data;
  throw validationError(result.error.issues, "programme");
}
