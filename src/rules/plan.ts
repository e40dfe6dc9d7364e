// The evaluation plan's shapes: what compile() builds from programmes and evaluate()
// reads (compiled programmes, rule lists, sku/category indexes, scratch buffers).
import type { Rule } from "./programme.js";
import type { RoundingCode } from "./rounding.js";
import type { TierLadder } from "./tiers.js";
import type { PlanTarget } from "./targets.js";
import type { EvaluateOptions } from "./types.js";

export type ScopeKind = "customer" | "group" | "sku" | "category" | "store" | "channel" | "all";

/** Scope strength, strongest first: the order in which a programme beats another on the same account. */
export const scopeStrength: Readonly<Record<ScopeKind, number>> = {
  customer: 6,
  group: 5,
  sku: 4,
  category: 3,
  store: 2,
  channel: 1,
  all: 0,
};

export interface Redemption {
  /** Minor units of `currency` that one point buys. */
  pointValue: number;
  currency: string;
}

export type AccountUnit = "points" | "money";

/** What the rest of loyaltyd may know about a programme in the plan. */
export interface PlanProgramme {
  id: string;
  version: number;
  account: string;
  unit: AccountUnit;
  currency: string;
  scope: ScopeKind;
}

export interface ProductCardEntry {
  pointsPerUnit?: number;
  pointsPrice?: number;
}

export interface Plan {
  readonly options: Readonly<EvaluateOptions>;
  /** Tier windows (days) the caller must supply turnover for, ascending. */
  readonly turnoverWindowsDays: readonly number[];
  /** Saved segments some programme is scoped to: the customer's membership in each is a fact the caller supplies. */
  readonly segmentIds: readonly string[];
  /** What names a customer's tier (`tier.id`): the first programme's tier rule, by id; null without one. */
  readonly tierLadder: TierLadder | null;
  /** Programmes in evaluation order (id ascending). */
  readonly programmes: readonly PlanProgramme[];
  /** Accounts that any programme credits, ascending. */
  readonly accounts: readonly string[];
  /** Conversion rate of an account: from the first programme (id ascending) on it that states one. */
  redemptionFor(account: string): Redemption | null;
  /** Unit of an account ("points" or stored-value "money"), null when no programme credits it. */
  unitFor(account: string): AccountUnit | null;
  /** The programmes' sales targets (rule kind target), programme id then rule order. */
  readonly targets: readonly PlanTarget[];
  /** Engine internals: only evaluate.ts reads these. */
  readonly compiled: CompiledSet;
}

// ---- internal shapes (read by evaluate.ts) ----------------------------------------------

/** A line-based additive rule: per unit (per === 0) or `points` per `per` minor units. */
export interface LineRule {
  ruleIndex: number;
  kind: "spend" | "sku" | "category" | "productCard" | "offer";
  /** Matching key for sku/category rules, the offer id for offer rules; "" for spend/productCard. */
  key: string;
  per: number;
  points: number;
  pointsPerUnit: number;
  /** offer: in force for from <= at < to; -Infinity / Infinity for the other kinds. */
  from: number;
  to: number;
}

/** One entry of the global sku/category index: which programmes it concerns. */
export interface IndexEntry {
  /** Programmes whose line scope names this sku/category. */
  scopes: number[];
  /** Line rules keyed on this sku/category, tagged with their programme. */
  rules: IndexedRule[];
  /** Product-card points per unit for this sku (0 when none), used by productCard rules. */
  cardPointsPerUnit: number;
}

export interface IndexedRule {
  programme: number;
  per: number;
  points: number;
  pointsPerUnit: number;
}

export interface SpendRule { ruleIndex: number; per: number; points: number }
/** An offer rule with `points`: once per basket naming the offer. `slot`: its mark in Scratch.offerStamp. */
export interface OfferRule { ruleIndex: number; points: number; slot: number }
/** An entry of the offer index: an offer rule of a programme, per unit (pointsPerUnit > 0 or perUnit) or per basket. */
export interface OfferIndexEntry {
  programme: number;
  slot: number;
  perUnit: boolean;
  pointsPerUnit: number;
  from: number;
  to: number;
}
export interface VisitRule { ruleIndex: number; points: number }
export interface TenderRule { ruleIndex: number; tender: string; per: number; points: number }
export interface ThresholdRule { ruleIndex: number; minTotal: number; minQty: number; points: number }

/** multiplier / period / tier: everything that either multiplies or adds a time-based bonus. */
export interface ConditionalRule {
  ruleIndex: number;
  kind: "multiplier" | "period" | "tier";
  /** multiplier: the customer must be in one of these. */
  groups: ReadonlySet<string> | null;
  /** period: [from, to) epoch ms. */
  from: number;
  to: number;
  /** period: bit (1 << isoWeekday) per allowed weekday; 0 = any day. */
  weekdayMask: number;
  /** period: local hours [hourStart, hourEnd), wrapping past midnight when start > end; -1 = any hour. */
  hourStart: number;
  hourEnd: number;
  /** multiplier / period-with-factor: the factor; 1 for a bonus period. */
  factor: number;
  /** period-with-points: the bonus; 0 otherwise. */
  points: number;
  /** tier */
  windowDays: number;
  tierMinSpend: readonly number[];
  tierFactor: readonly number[];
}

export interface CompiledProgramme {
  index: number;
  id: string;
  version: number;
  account: string;
  accountIndex: number;
  currency: string;
  zone: string;
  zoneIndex: number;
  strength: number;
  validFrom: number;
  validTo: number;
  customers: ReadonlySet<string> | null;
  groups: ReadonlySet<string> | null;
  segments: ReadonlySet<string> | null;
  /** scope.attributes: per key, the values one of which the customer's attribute must equal. */
  attributes: readonly (readonly [string, ReadonlySet<string | number | boolean>])[] | null;
  stores: ReadonlySet<string> | null;
  channels: ReadonlySet<string> | null;
  skus: ReadonlySet<string> | null;
  categories: ReadonlySet<string> | null;
  lineScoped: boolean;
  promoItemsEarn: boolean;
  rounding: RoundingCode;
  cap: number;
  expiryAfterDays: number;
  expiryAtYearEnd: boolean;
  ruleCount: number;
  ruleKinds: readonly Rule["kind"][];
  spend: readonly SpendRule[];
  /** spend / sku / category / productCard rules, for the per-line attribution pass. */
  lineRules: readonly LineRule[];
  /** ruleIndex -> position in lineRules, or -1 for a basket-level rule. */
  lineRuleSlot: readonly number[];
  visit: readonly VisitRule[];
  tender: readonly TenderRule[];
  threshold: readonly ThresholdRule[];
  /** In rule order: factors multiply in this order, bonuses add. */
  conditional: readonly ConditionalRule[];
  /** Offer rules with `points` (per basket). */
  offers: readonly OfferRule[];
  /** The offer marks of all its offer rules: the programme applies when one is set, even if no line counts. */
  offerSlots: readonly number[];
  /** No visit/threshold/tender/multiplier/period/tier/per-basket offer rule: the value is the line base alone. */
  lineRulesOnly: boolean;
}

/** Reusable buffers: evaluate() is synchronous, so one set per plan (per worker thread) is safe. */
export interface Scratch {
  headerOk: Uint8Array;
  lineRaw: Float64Array;
  eligibleAmount: Float64Array;
  eligibleQty: Float64Array;
  eligibleCount: Float64Array;
  lineStamp: Float64Array;
  lineSerial: number;
  earned: Float64Array;
  value: Float64Array;
  bestByAccount: Int32Array;
  /** Strength of the strongest programme found to apply so far, per account (strongestScope pruning). */
  strongestByAccount: Int8Array;
  zoneStamp: Float64Array;
  zoneWeekday: Int8Array;
  zoneHour: Int8Array;
  evalSerial: number;
  /** Set by programmeValue(): the parts of the last programme's value. */
  lastLineBase: number;
  lastBasketBase: number;
  /** Basket aggregates of the current evaluation: all lines, and lines that are not promo. */
  allAmount: number;
  allQty: number;
  allCount: number;
  plainAmount: number;
  plainQty: number;
  plainCount: number;
  /** Per offer rule (its slot): evalSerial when the basket names the offer and the rule may earn on it. */
  offerStamp: Float64Array;
  /** Attribution buffers (per rule, per line); grown when a basket is larger. */
  ruleRaw: Float64Array;
  ruleFactor: Float64Array;
  itemQuota: Float64Array;
  itemOut: Float64Array;
  lineWeight: Float64Array;
  lineQuota: Float64Array;
  lineOut: Float64Array;
}

export interface CompiledSet {
  programmes: readonly CompiledProgramme[];
  accounts: readonly string[];
  zones: readonly string[];
  skuIndex: ReadonlyMap<string, IndexEntry>;
  categoryIndex: ReadonlyMap<string, IndexEntry>;
  /** offerId -> the offer rules that name it, over all programmes. */
  offerIndex: ReadonlyMap<string, readonly OfferIndexEntry[]>;
  /** Programme index once per productCard rule (card points are looked up per line). */
  productCardProgrammes: Int32Array;
  lineScopedAny: boolean;
  /** Programme indices, strongest scope first (then id): the order pass 1 values them in. */
  strengthOrder: Int32Array;
  promoEarn: Uint8Array;
  lineScoped: Uint8Array;
  scratch: Scratch;
}
