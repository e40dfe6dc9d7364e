// Programmes -> evaluation Plan, once per programme-set version: rules indexed by sku and
// category, scopes turned into sets, per-account facts resolved, scratch buffers sized,
// so that evaluate() does lookups and arithmetic only.
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import type { Programme, Rule } from "./programme.js";
import { roundingModes } from "./rounding.js";
import { tierLadderOf } from "./tiers.js";
import { indexOffers } from "./offers.js";
import { isTimeZone } from "./time.js";
import { targetsOf } from "./targets.js";
import type { EvaluateOptions } from "./types.js";
import { scopeStrength, type AccountUnit, type CompiledProgramme, type CompiledSet, type ConditionalRule, type IndexEntry, type LineRule, type OfferIndexEntry, type OfferRule, type Plan, type PlanProgramme, type ProductCardEntry, type Redemption, type ScopeKind, type Scratch, type SpendRule, type TenderRule, type ThresholdRule, type VisitRule } from "./plan.js";

export * from "./plan.js";

// ---- compile -----------------------------------------------------------------------------

/** Builds the evaluation plan. Throws VALIDATION on a set that cannot be evaluated. */
export function compile(
  programmes: readonly { programme: Programme; version: number }[],
  options: EvaluateOptions,
  productCard?: ReadonlyMap<string, ProductCardEntry>,
): Plan {
  checkSet(programmes, options);
  const sorted = [...programmes].sort((a, b) => (a.programme.id < b.programme.id ? -1 : a.programme.id > b.programme.id ? 1 : 0));
  const accounts = [...new Set(sorted.map((p) => p.programme.account))].sort();
  const zones = [...new Set(sorted.map((p) => p.programme.timeZone ?? options.timeZone))].sort();
  const slots = { next: 0 };
  const compiled = sorted.map((p, i) => compileProgramme(p.programme, p.version, i, accounts, zones, options, slots));
  const skuIndex = new Map<string, IndexEntry>();
  const categoryIndex = new Map<string, IndexEntry>();
  const offerIndex = new Map<string, OfferIndexEntry[]>();
  for (const p of compiled) indexProgramme(p, skuIndex, categoryIndex);
  for (const p of compiled) indexOffers(p, sorted[p.index]!.programme, offerIndex);
  // One entry per productCard rule: two such rules in a programme add twice, like any rule.
  const productCardProgrammes = Int32Array.from(compiled.flatMap((p) => p.lineRules.filter((r) => r.kind === "productCard").map(() => p.index)));
  if (productCardProgrammes.length > 0 && productCard) indexProductCard(productCard, skuIndex);
  const set: CompiledSet = {
    programmes: compiled,
    accounts,
    zones,
    skuIndex,
    categoryIndex,
    offerIndex,
    productCardProgrammes,
    lineScopedAny: compiled.some((p) => p.lineScoped),
    strengthOrder: Int32Array.from([...compiled].sort((a, b) => b.strength - a.strength || a.index - b.index).map((p) => p.index)),
    promoEarn: Uint8Array.from(compiled.map((p) => (p.promoItemsEarn ? 1 : 0))),
    lineScoped: Uint8Array.from(compiled.map((p) => (p.lineScoped ? 1 : 0))),
    scratch: newScratch(compiled.length, accounts.length, zones.length, slots.next),
  };
  return planOf(sorted.map((p) => p.programme), set, options);
}

function checkSet(programmes: readonly { programme: Programme; version: number }[], options: EvaluateOptions): void {
  if (programmes.length > limits.programmesMax) {
    throw new LoyaltyError("VALIDATION", `at most ${limits.programmesMax} programmes may be installed`, "programmes");
  }
  if (!isTimeZone(options.timeZone)) {
    throw new LoyaltyError("VALIDATION", `timeZone: unknown IANA time zone ${options.timeZone}`, "timeZone");
  }
  const seen = new Set<string>();
  for (const { programme } of programmes) {
    if (seen.has(programme.id)) throw new LoyaltyError("VALIDATION", `programme id ${programme.id} appears twice`, "id");
    seen.add(programme.id);
  }
}

function planOf(programmes: readonly Programme[], set: CompiledSet, options: EvaluateOptions): Plan {
  const redemptions = new Map<string, Redemption>();
  const units = new Map<string, AccountUnit>();
  for (const p of programmes) {
    if (p.redemption && !redemptions.has(p.account)) redemptions.set(p.account, Object.freeze({ ...p.redemption }));
    if (!units.has(p.account)) units.set(p.account, p.unit);
  }
  const windows = new Set<number>();
  for (const p of programmes) for (const r of p.rules) if (r.kind === "tier") windows.add(r.windowDays);
  const listed: PlanProgramme[] = set.programmes.map((c, i) => ({
    id: c.id,
    version: c.version,
    account: c.account,
    unit: programmes[i]!.unit,
    currency: c.currency,
    scope: scopeKindOf(programmes[i]!),
  }));
  return {
    options: Object.freeze({ ...options }),
    turnoverWindowsDays: Object.freeze([...windows].sort((a, b) => a - b)),
    segmentIds: Object.freeze([...new Set(programmes.flatMap((p) => p.scope.segments))].sort()),
    tierLadder: tierLadderOf(programmes),
    programmes: Object.freeze(listed),
    accounts: set.accounts,
    redemptionFor: (account) => redemptions.get(account) ?? null,
    unitFor: (account) => units.get(account) ?? null,
    targets: targetsOf(set.programmes.map((c, i) => ({ programme: programmes[i]!, version: c.version }))),
    compiled: set,
  };
}

/** The strongest scope dimension a programme restricts. */
export function scopeKindOf(p: Programme): ScopeKind {
  const s = p.scope;
  if (s.customers.length > 0) return "customer";
  if (s.groups.length > 0 || s.segments.length > 0 || Object.keys(s.attributes).length > 0) return "group";
  if (s.skus.length > 0) return "sku";
  if (s.categories.length > 0) return "category";
  if (s.stores.length > 0) return "store";
  if (s.channels.length > 0) return "channel";
  return "all";
}

function attributeScope(attributes: Programme["scope"]["attributes"]): CompiledProgramme["attributes"] {
  const keys = Object.keys(attributes).sort();
  if (keys.length === 0) return null;
  return Object.freeze(keys.map((k) => {
    const v = attributes[k]!;
    return [k, new Set(Array.isArray(v) ? v : [v])] as const;
  }));
}

function setOrNull(values: readonly string[]): ReadonlySet<string> | null {
  return values.length === 0 ? null : new Set(values);
}

/** Rules of one programme sorted by how evaluate() uses them. */
interface RuleLists {
  spend: SpendRule[];
  lineRules: LineRule[];
  visit: VisitRule[];
  tender: TenderRule[];
  threshold: ThresholdRule[];
  conditional: ConditionalRule[];
  offers: OfferRule[];
  offerSlots: number[];
}

function compileProgramme(
  p: Programme,
  version: number,
  index: number,
  accounts: readonly string[],
  zones: readonly string[],
  options: EvaluateOptions,
  slots: { next: number },
): CompiledProgramme {
  const zone = p.timeZone ?? options.timeZone;
  const lists: RuleLists = { spend: [], lineRules: [], visit: [], tender: [], threshold: [], conditional: [], offers: [], offerSlots: [] };
  p.rules.forEach((rule, ruleIndex) => compileRule(lists, rule, ruleIndex, slots));
  return {
    index,
    id: p.id,
    version,
    account: p.account,
    accountIndex: accounts.indexOf(p.account),
    currency: p.currency,
    zone,
    zoneIndex: zones.indexOf(zone),
    strength: scopeStrength[scopeKindOf(p)],
    validFrom: p.validFrom ?? -Infinity,
    validTo: p.validTo ?? Infinity,
    customers: setOrNull(p.scope.customers),
    groups: setOrNull(p.scope.groups),
    segments: setOrNull(p.scope.segments),
    attributes: attributeScope(p.scope.attributes),
    stores: setOrNull(p.scope.stores),
    channels: setOrNull(p.scope.channels),
    skus: setOrNull(p.scope.skus),
    categories: setOrNull(p.scope.categories),
    lineScoped: p.scope.skus.length > 0 || p.scope.categories.length > 0,
    promoItemsEarn: p.promoItemsEarn,
    rounding: roundingModes[p.rounding],
    cap: p.capPerEvent ?? Infinity,
    expiryAfterDays: p.expiry && "afterDays" in p.expiry ? p.expiry.afterDays : 0,
    expiryAtYearEnd: p.expiry !== null && "atYearEnd" in p.expiry,
    ruleCount: p.rules.length,
    ruleKinds: p.rules.map((r) => r.kind),
    ...lists,
    lineRuleSlot: p.rules.map((_, i) => lists.lineRules.findIndex((r) => r.ruleIndex === i)),
    lineRulesOnly: lists.visit.length + lists.threshold.length + lists.tender.length + lists.conditional.length + lists.offers.length === 0,
  };
}

const ALWAYS = { from: -Infinity, to: Infinity } as const;

function compileRule(out: RuleLists, rule: Rule, ruleIndex: number, slots: { next: number }): void {
  switch (rule.kind) {
    case "spend":
      out.spend.push({ ruleIndex, per: rule.per, points: rule.points });
      out.lineRules.push({ ruleIndex, kind: "spend", key: "", per: rule.per, points: rule.points, pointsPerUnit: 0, ...ALWAYS });
      return;
    case "sku":
      out.lineRules.push({ ruleIndex, kind: "sku", key: rule.sku, ...unitOrAmount(rule), ...ALWAYS });
      return;
    case "category":
      out.lineRules.push({ ruleIndex, kind: "category", key: rule.category, ...unitOrAmount(rule), ...ALWAYS });
      return;
    case "productCard":
      out.lineRules.push({ ruleIndex, kind: "productCard", key: "", per: 0, points: 0, pointsPerUnit: 0, ...ALWAYS });
      return;
    case "offer": {
      const slot = slots.next++;
      out.offerSlots.push(slot);
      const window = { from: rule.from ?? -Infinity, to: rule.to ?? Infinity };
      if (rule.pointsPerUnit !== undefined) {
        out.lineRules.push({ ruleIndex, kind: "offer", key: rule.offerId, per: 0, points: 0, pointsPerUnit: rule.pointsPerUnit, ...window });
      } else out.offers.push({ ruleIndex, points: rule.points!, slot });
      return;
    }
    case "visit":
      out.visit.push({ ruleIndex, points: rule.points });
      return;
    case "tender":
      out.tender.push({ ruleIndex, tender: rule.tender, per: rule.per, points: rule.points });
      return;
    case "threshold":
      out.threshold.push({ ruleIndex, minTotal: rule.minTotal ?? 0, minQty: rule.minQty ?? 0, points: rule.points });
      return;
    case "multiplier":
      out.conditional.push({ ...noCondition(ruleIndex, "multiplier"), groups: new Set(rule.groups), factor: rule.factor });
      return;
    case "period":
      out.conditional.push(compilePeriod(rule, ruleIndex));
      return;
    case "target":
      // Not a basket's: the ledger keeps each participant's progress (plan.targets).
      return;
    case "tier":
      out.conditional.push({
        ...noCondition(ruleIndex, "tier"),
        windowDays: rule.windowDays,
        tierMinSpend: rule.tiers.map((t) => t.minSpend),
        tierFactor: rule.tiers.map((t) => t.factor),
      });
      return;
  }
}

function unitOrAmount(rule: { pointsPerUnit?: number | undefined; per?: number | undefined; points?: number | undefined }): {
  per: number;
  points: number;
  pointsPerUnit: number;
} {
  return rule.pointsPerUnit !== undefined
    ? { per: 0, points: 0, pointsPerUnit: rule.pointsPerUnit }
    : { per: rule.per!, points: rule.points!, pointsPerUnit: 0 };
}

function noCondition(ruleIndex: number, kind: ConditionalRule["kind"]): ConditionalRule {
  return {
    ruleIndex,
    kind,
    groups: null,
    from: -Infinity,
    to: Infinity,
    weekdayMask: 0,
    hourStart: -1,
    hourEnd: -1,
    factor: 1,
    points: 0,
    windowDays: 0,
    tierMinSpend: [],
    tierFactor: [],
  };
}

function compilePeriod(rule: Extract<Rule, { kind: "period" }>, ruleIndex: number): ConditionalRule {
  let weekdayMask = 0;
  for (const d of rule.weekdays ?? []) weekdayMask |= 1 << d;
  return {
    ...noCondition(ruleIndex, "period"),
    from: rule.validFrom ?? -Infinity,
    to: rule.validTo ?? Infinity,
    weekdayMask,
    hourStart: rule.hours ? rule.hours[0] : -1,
    hourEnd: rule.hours ? rule.hours[1] : -1,
    factor: rule.factor ?? 1,
    points: rule.points ?? 0,
  };
}

function entryOf(index: Map<string, IndexEntry>, key: string): IndexEntry {
  let e = index.get(key);
  if (e === undefined) {
    e = { scopes: [], rules: [], cardPointsPerUnit: 0 };
    index.set(key, e);
  }
  return e;
}

function indexProgramme(p: CompiledProgramme, skuIndex: Map<string, IndexEntry>, categoryIndex: Map<string, IndexEntry>): void {
  for (const sku of p.skus ?? []) entryOf(skuIndex, sku).scopes.push(p.index);
  for (const category of p.categories ?? []) entryOf(categoryIndex, category).scopes.push(p.index);
  for (const r of p.lineRules) {
    if (r.kind !== "sku" && r.kind !== "category") continue;
    const index = r.kind === "sku" ? skuIndex : categoryIndex;
    entryOf(index, r.key).rules.push({ programme: p.index, per: r.per, points: r.points, pointsPerUnit: r.pointsPerUnit });
  }
}


function indexProductCard(card: ReadonlyMap<string, ProductCardEntry>, skuIndex: Map<string, IndexEntry>): void {
  for (const [sku, entry] of card) {
    const ppu = entry.pointsPerUnit;
    // The card is admin data validated at import; a missing or non-positive figure earns nothing.
    if (ppu === undefined || !Number.isFinite(ppu) || ppu <= 0) continue;
    entryOf(skuIndex, sku).cardPointsPerUnit = ppu;
  }
}

function newScratch(programmes: number, accounts: number, zones: number, offerRules: number): Scratch {
  return {
    headerOk: new Uint8Array(programmes),
    lineRaw: new Float64Array(programmes),
    eligibleAmount: new Float64Array(programmes),
    eligibleQty: new Float64Array(programmes),
    eligibleCount: new Float64Array(programmes),
    lineStamp: new Float64Array(programmes),
    lineSerial: 0,
    earned: new Float64Array(programmes),
    value: new Float64Array(programmes),
    bestByAccount: new Int32Array(accounts),
    strongestByAccount: new Int8Array(accounts),
    zoneStamp: new Float64Array(zones),
    zoneWeekday: new Int8Array(zones),
    zoneHour: new Int8Array(zones),
    evalSerial: 0,
    lastLineBase: 0,
    lastBasketBase: 0,
    allAmount: 0,
    allQty: 0,
    allCount: 0,
    plainAmount: 0,
    plainQty: 0,
    plainCount: 0,
    offerStamp: new Float64Array(offerRules),
    ruleRaw: new Float64Array(limits.rulesPerProgrammeMax),
    ruleFactor: new Float64Array(limits.rulesPerProgrammeMax),
    itemQuota: new Float64Array(limits.rulesPerProgrammeMax),
    itemOut: new Float64Array(limits.rulesPerProgrammeMax),
    lineWeight: new Float64Array(limits.basketLinesMax + 1),
    lineQuota: new Float64Array(limits.basketLinesMax + 1),
    lineOut: new Float64Array(limits.basketLinesMax + 1),
  };
}
