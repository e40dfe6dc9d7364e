// evaluate(): a compiled Plan + a basket + customer facts -> Accrual. Pure and synchronous.
// Pass 1 values every programme with indexed lookups into reused buffers (no allocation);
// selection keeps one programme per account; pass 2 details only the selected ones.
import { LoyaltyError } from "../errors.js";
import type { CompiledProgramme, CompiledSet, ConditionalRule, IndexEntry, LineRule, Plan, Scratch } from "./compile.js";
import { addLineOffers, markBasketOffers, offerPresent } from "./offers.js";
import { largestRemainder, roundWith } from "./rounding.js";
import { localHour, localWeekday, startOfNextYear } from "./time.js";
import type { Accrual, Basket, BasketLine, BreakdownItem, CustomerFacts, ProgrammeAccrual, ProgrammeSelection } from "./types.js";

const dayMs = 86_400_000;
/** A programme value above this is a misconfiguration or a corrupt basket, not a reward (< 2^53). */
export const earnedPerEventMax = 1e15;

/** Evaluates every programme of the plan against the basket at the basket's own time. */
export function evaluate(plan: Plan, basket: Basket, customer: CustomerFacts): Accrual {
  const set = plan.compiled;
  const s = set.scratch;
  s.evalSerial += 1;
  checkHeaders(set, s, basket, customer);
  scanLines(set, s, basket.lines, basket.at);
  if (basket.offerIds !== undefined && basket.offerIds.length > 0) markBasketOffers(set, s, basket.offerIds, basket.at);
  valueAll(set, s, basket, customer, plan.options.selection === "strongestScope");
  selectPerAccount(set, s, plan.options.selection);
  return buildAccrual(set, s, basket, customer);
}

// ---- pass 1 ------------------------------------------------------------------------------

/** Programme-level eligibility: validity window, currency, customer/group/store/channel scope. */
function checkHeaders(set: CompiledSet, s: Scratch, basket: Basket, customer: CustomerFacts): void {
  const programmes = set.programmes;
  for (let p = 0; p < programmes.length; p++) {
    s.headerOk[p] = headerEligible(programmes[p]!, basket, customer) ? 1 : 0;
  }
}

function headerEligible(p: CompiledProgramme, basket: Basket, customer: CustomerFacts): boolean {
  if (basket.at < p.validFrom || basket.at >= p.validTo) return false;
  if (basket.currency !== p.currency) return false;
  if (p.customers !== null && !p.customers.has(customer.customerId)) return false;
  if (p.groups !== null && !inAnyGroup(p.groups, customer.groups)) return false;
  if (p.segments !== null && !inAnySegment(p.segments, customer.segments)) return false;
  if (p.attributes !== null && !attributesHold(p.attributes, customer.attributes)) return false;
  if (p.stores !== null && !p.stores.has(basket.storeId)) return false;
  if (p.channels !== null && !p.channels.has(basket.channel)) return false;
  return true;
}

function attributesHold(scope: NonNullable<CompiledProgramme["attributes"]>, attributes: CustomerFacts["attributes"]): boolean {
  if (!attributes) return false;
  for (const [key, values] of scope) {
    if (!Object.hasOwn(attributes, key) || !values.has(attributes[key]!)) return false;
  }
  return true;
}

function inAnySegment(segments: ReadonlySet<string>, memberOf: ReadonlySet<string> | undefined): boolean {
  if (!memberOf) return false;
  for (const s of segments) if (memberOf.has(s)) return true;
  return false;
}

function inAnyGroup(groups: ReadonlySet<string>, customerGroups: readonly string[]): boolean {
  for (let i = 0; i < customerGroups.length; i++) if (groups.has(customerGroups[i]!)) return true;
  return false;
}

/** One pass over the lines: basket aggregates, line-scope matches, indexed sku/category/card and offer rules. */
function scanLines(set: CompiledSet, s: Scratch, lines: readonly BasketLine[], at: number): void {
  s.lineRaw.fill(0);
  if (set.lineScopedAny) {
    s.eligibleAmount.fill(0);
    s.eligibleQty.fill(0);
    s.eligibleCount.fill(0);
  }
  let allAmount = 0, allQty = 0, plainAmount = 0, plainQty = 0, plainCount = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    allAmount += line.amount;
    allQty += line.qty;
    if (!line.promo) {
      plainAmount += line.amount;
      plainQty += line.qty;
      plainCount += 1;
    }
    const bySku = set.skuIndex.get(line.sku);
    const byCategory = line.category === null ? undefined : set.categoryIndex.get(line.category);
    const byOffer = line.offerId == null ? undefined : set.offerIndex.get(line.offerId);
    if (bySku === undefined && byCategory === undefined && byOffer === undefined) continue;
    const serial = ++s.lineSerial;
    if (bySku !== undefined) markScopes(set, s, bySku.scopes, line, serial);
    if (byCategory !== undefined) markScopes(set, s, byCategory.scopes, line, serial);
    if (bySku !== undefined) addIndexedRules(set, s, bySku, line, serial);
    if (byCategory !== undefined) addIndexedRules(set, s, byCategory, line, serial);
    if (byOffer !== undefined) addLineOffers(set, s, byOffer, line, serial, at);
  }
  s.allAmount = allAmount;
  s.allQty = allQty;
  s.allCount = lines.length;
  s.plainAmount = plainAmount;
  s.plainQty = plainQty;
  s.plainCount = plainCount;
}

/** A line inside a programme's sku/category scope counts once, even if both name it. */
function markScopes(set: CompiledSet, s: Scratch, scopes: readonly number[], line: BasketLine, serial: number): void {
  for (let k = 0; k < scopes.length; k++) {
    const p = scopes[k]!;
    if (s.lineStamp[p] === serial) continue;
    s.lineStamp[p] = serial;
    if (s.headerOk[p] === 0 || (line.promo && set.promoEarn[p] === 0)) continue;
    s.eligibleAmount[p] = s.eligibleAmount[p]! + line.amount;
    s.eligibleQty[p] = s.eligibleQty[p]! + line.qty;
    s.eligibleCount[p] = s.eligibleCount[p]! + 1;
  }
}

function lineCounts(set: CompiledSet, s: Scratch, p: number, line: BasketLine, serial: number): boolean {
  if (s.headerOk[p] === 0) return false;
  if (line.promo && set.promoEarn[p] === 0) return false;
  return set.lineScoped[p] === 0 || s.lineStamp[p] === serial;
}

function addIndexedRules(set: CompiledSet, s: Scratch, entry: IndexEntry, line: BasketLine, serial: number): void {
  const rules = entry.rules;
  for (let k = 0; k < rules.length; k++) {
    const r = rules[k]!;
    if (!lineCounts(set, s, r.programme, line, serial)) continue;
    const raw = r.per > 0 ? (line.amount * r.points) / r.per : line.qty * r.pointsPerUnit;
    s.lineRaw[r.programme] = s.lineRaw[r.programme]! + raw;
  }
  if (entry.cardPointsPerUnit > 0) {
    const card = set.productCardProgrammes;
    for (let k = 0; k < card.length; k++) {
      const p = card[k]!;
      if (lineCounts(set, s, p, line, serial)) s.lineRaw[p] = s.lineRaw[p]! + line.qty * entry.cardPointsPerUnit;
    }
  }
}


/**
 * Value, rounding and cap of every eligible programme; earned = -1 marks "does not apply".
 * Under strongestScope a programme is not valued once a stronger one applies on its account:
 * it could not win (programmes are visited strongest first).
 */
function valueAll(set: CompiledSet, s: Scratch, basket: Basket, customer: CustomerFacts, prune: boolean): void {
  const programmes = set.programmes;
  const order = set.strengthOrder;
  s.earned.fill(-1);
  s.strongestByAccount.fill(-1);
  for (let k = 0; k < order.length; k++) {
    const p = order[k]!;
    if (s.headerOk[p] === 0) continue;
    const prog = programmes[p]!;
    if (prune && s.strongestByAccount[prog.accountIndex]! > prog.strength) continue;
    const scoped = set.lineScoped[p] === 1;
    const promoEarn = set.promoEarn[p] === 1;
    const count = scoped ? s.eligibleCount[p]! : promoEarn ? s.allCount : s.plainCount;
    if (count === 0 && !offerPresent(prog, s)) continue;
    const amount = scoped ? s.eligibleAmount[p]! : promoEarn ? s.allAmount : s.plainAmount;
    let lineBase = s.lineRaw[p]!;
    for (let j = 0; j < prog.spend.length; j++) {
      const r = prog.spend[j]!;
      lineBase += (amount * r.points) / r.per;
    }
    let value: number;
    if (prog.lineRulesOnly) value = checkedValue(prog, lineBase);
    else {
      const qty = scoped ? s.eligibleQty[p]! : promoEarn ? s.allQty : s.plainQty;
      value = programmeValue(prog, set, s, lineBase, amount, qty, basket, customer, null, null);
    }
    s.value[p] = value;
    s.earned[p] = Math.min(roundWith(prog.rounding, value), prog.cap);
    if (s.strongestByAccount[prog.accountIndex]! < prog.strength) s.strongestByAccount[prog.accountIndex] = prog.strength;
  }
}

/** A value outside [0, earnedPerEventMax] (or NaN) is a misconfiguration or a corrupt basket. */
function checkedValue(prog: CompiledProgramme, value: number): number {
  if (!(value >= 0 && value <= earnedPerEventMax)) {
    throw new LoyaltyError("VALIDATION", `programme ${prog.id} would award ${value} for this basket`, "lines");
  }
  return value;
}

/**
 * Adds the basket-level rules to the line base and applies the factors:
 * (lineBase + basketBase) * product of applicable factors. With `ruleRaw`/`ruleFactor` it
 * also records what each rule did, for the breakdown.
 */
function programmeValue(
  prog: CompiledProgramme,
  set: CompiledSet,
  s: Scratch,
  lineBase: number,
  amount: number,
  qty: number,
  basket: Basket,
  customer: CustomerFacts,
  ruleRaw: Float64Array | null,
  ruleFactor: Float64Array | null,
): number {
  let basketBase = 0;
  for (let k = 0; k < prog.visit.length; k++) {
    const r = prog.visit[k]!;
    basketBase += r.points;
    if (ruleRaw !== null) ruleRaw[r.ruleIndex] = r.points;
  }
  for (let k = 0; k < prog.threshold.length; k++) {
    const r = prog.threshold[k]!;
    if (amount < r.minTotal || qty < r.minQty) continue;
    basketBase += r.points;
    if (ruleRaw !== null) ruleRaw[r.ruleIndex] = r.points;
  }
  for (let k = 0; k < prog.offers.length; k++) {
    const r = prog.offers[k]!;
    if (s.offerStamp[r.slot] !== s.evalSerial) continue;
    basketBase += r.points;
    if (ruleRaw !== null) ruleRaw[r.ruleIndex] = r.points;
  }
  for (let k = 0; k < prog.tender.length; k++) {
    const r = prog.tender[k]!;
    // Only the part of the tender that paid for this programme's lines earns.
    const raw = (Math.min(tenderSum(basket, r.tender), amount) * r.points) / r.per;
    basketBase += raw;
    if (ruleRaw !== null) ruleRaw[r.ruleIndex] = raw;
  }
  let factor = 1;
  for (let k = 0; k < prog.conditional.length; k++) {
    const r = prog.conditional[k]!;
    if (r.kind === "period") {
      if (!periodMatches(set, s, prog, r, basket.at)) continue;
      basketBase += r.points;
      if (ruleRaw !== null && r.points > 0) ruleRaw[r.ruleIndex] = r.points;
    }
    const f = r.kind === "tier" ? tierFactor(r, customer) : r.kind === "multiplier" ? (inAnyGroup(r.groups!, customer.groups) ? r.factor : 1) : r.factor;
    factor *= f;
    if (ruleFactor !== null) ruleFactor[r.ruleIndex] = f;
  }
  s.lastLineBase = lineBase;
  s.lastBasketBase = basketBase;
  return checkedValue(prog, (lineBase + basketBase) * factor);
}

function tenderSum(basket: Basket, type: string): number {
  let sum = 0;
  const tenders = basket.tenders;
  for (let i = 0; i < tenders.length; i++) if (tenders[i]!.type === type) sum += tenders[i]!.amount;
  return sum;
}

function periodMatches(set: CompiledSet, s: Scratch, prog: CompiledProgramme, r: ConditionalRule, at: number): boolean {
  if (at < r.from || at >= r.to) return false;
  if (r.weekdayMask === 0 && r.hourStart < 0) return true;
  const z = prog.zoneIndex;
  if (s.zoneStamp[z] !== s.evalSerial) {
    const zone = set.zones[z]!;
    s.zoneWeekday[z] = localWeekday(zone, at);
    s.zoneHour[z] = localHour(zone, at);
    s.zoneStamp[z] = s.evalSerial;
  }
  if (r.weekdayMask !== 0 && (r.weekdayMask & (1 << s.zoneWeekday[z]!)) === 0) return false;
  if (r.hourStart < 0) return true;
  const h = s.zoneHour[z]!;
  return r.hourStart < r.hourEnd ? h >= r.hourStart && h < r.hourEnd : h >= r.hourStart || h < r.hourEnd;
}

/** The highest tier whose minSpend the window's turnover reaches; below every tier: factor 1. */
function tierFactor(r: ConditionalRule, customer: CustomerFacts): number {
  const turnover = customer.turnoverByWindowDays[r.windowDays] ?? 0;
  let f = 1;
  for (let i = 0; i < r.tierMinSpend.length; i++) {
    if (turnover >= r.tierMinSpend[i]!) f = r.tierFactor[i]!;
  }
  return f;
}

// ---- selection ---------------------------------------------------------------------------

/** One programme per account: see docs/rules.md "Selection" for the order. */
function selectPerAccount(set: CompiledSet, s: Scratch, selection: ProgrammeSelection): void {
  s.bestByAccount.fill(-1);
  const programmes = set.programmes;
  for (let p = 0; p < programmes.length; p++) {
    if (s.earned[p]! < 0) continue;
    const a = programmes[p]!.accountIndex;
    const best = s.bestByAccount[a]!;
    if (best < 0 || beats(set, s, selection, p, best)) s.bestByAccount[a] = p;
  }
}

/** Does programme a beat programme b? Index order is id order, so the last tie-break is id ascending. */
function beats(set: CompiledSet, s: Scratch, selection: ProgrammeSelection, a: number, b: number): boolean {
  const sa = set.programmes[a]!.strength;
  const sb = set.programmes[b]!.strength;
  const ea = s.earned[a]!;
  const eb = s.earned[b]!;
  if (selection === "bestForCustomer") {
    if (ea !== eb) return ea > eb;
    if (sa !== sb) return sa > sb;
  } else {
    if (sa !== sb) return sa > sb;
    if (ea !== eb) return ea > eb;
  }
  return a < b;
}

// ---- pass 2: attribution and breakdown of the selected programmes ---------------------------

function buildAccrual(set: CompiledSet, s: Scratch, basket: Basket, customer: CustomerFacts): Accrual {
  const programmes: ProgrammeAccrual[] = [];
  const breakdown: BreakdownItem[] = [];
  let earned = 0;
  for (let a = 0; a < set.accounts.length; a++) {
    const p = s.bestByAccount[a]!;
    if (p < 0 || s.earned[p]! <= 0) continue;
    const accrual = detailProgramme(set, s, set.programmes[p]!, basket, customer, breakdown);
    if (accrual.earned === 0) continue;
    programmes.push(accrual);
    earned += accrual.earned;
  }
  return { earned, programmes, breakdown };
}

function ensureCapacity(s: Scratch, lines: number): void {
  if (s.lineWeight.length > lines) return;
  const size = (lines + 1) * 2;
  s.lineWeight = new Float64Array(size);
  s.lineQuota = new Float64Array(size);
  s.lineOut = new Float64Array(size);
}

/** Whether a line is in the programme's line scope (its skus and categories), promo or not. */
function lineInScope(prog: CompiledProgramme, line: BasketLine): boolean {
  if (!prog.lineScoped) return true;
  return (prog.skus !== null && prog.skus.has(line.sku)) || (prog.categories !== null && line.category !== null && prog.categories.has(line.category));
}

function lineRuleRaw(set: CompiledSet, r: LineRule, line: BasketLine, at: number): number {
  switch (r.kind) {
    case "spend":
      return (line.amount * r.points) / r.per;
    case "productCard":
      return line.qty * (set.skuIndex.get(line.sku)?.cardPointsPerUnit ?? 0);
    case "offer":
      return line.offerId === r.key && at >= r.from && at < r.to ? line.qty * r.pointsPerUnit : 0;
    case "sku":
      if (line.sku !== r.key) return 0;
      break;
    case "category":
      if (line.category !== r.key) return 0;
      break;
  }
  return r.per > 0 ? (line.amount * r.points) / r.per : line.qty * r.pointsPerUnit;
}

/** Re-values one programme rule by rule and line by line, then splits its integer result. */
function detailProgramme(
  set: CompiledSet,
  s: Scratch,
  prog: CompiledProgramme,
  basket: Basket,
  customer: CustomerFacts,
  breakdown: BreakdownItem[],
): ProgrammeAccrual {
  const lines = basket.lines;
  ensureCapacity(s, lines.length);
  s.ruleRaw.fill(0, 0, prog.ruleCount);
  s.ruleFactor.fill(0, 0, prog.ruleCount);
  // The lines each line rule drew points from, for the breakdown.
  const ruleLines: string[][] = prog.lineRules.map(() => []);
  let amount = 0, qty = 0, lineBase = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    s.lineWeight[i] = 0;
    if (!lineInScope(prog, line)) continue;
    // A promo line counts only where promo items earn; the offer it names earns in any case.
    const counts = !line.promo || prog.promoItemsEarn;
    if (counts) {
      amount += line.amount;
      qty += line.qty;
    }
    let weight = 0;
    for (let k = 0; k < prog.lineRules.length; k++) {
      const r = prog.lineRules[k]!;
      if (!counts && r.kind !== "offer") continue;
      const raw = lineRuleRaw(set, r, line, basket.at);
      if (raw <= 0) continue;
      s.ruleRaw[r.ruleIndex] = s.ruleRaw[r.ruleIndex]! + raw;
      weight += raw;
      ruleLines[k]!.push(line.lineId);
    }
    s.lineWeight[i] = weight;
    lineBase += weight;
  }
  const value = programmeValue(prog, set, s, lineBase, amount, qty, basket, customer, s.ruleRaw, s.ruleFactor);
  assertSameValue(prog, value, s.value[prog.index]!);
  const rounded = roundWith(prog.rounding, value);
  const earned = Math.min(rounded, prog.cap);
  const { lineEarned, basketEarned } = attributeLines(s, lines, earned);
  pushBreakdown(s, prog, ruleLines, rounded, earned, breakdown);
  return {
    programme: prog.id,
    version: prog.version,
    account: prog.account,
    earned,
    lineEarned,
    basketEarned,
    expiresAt: expiresAt(prog, basket.at),
  };
}

/** Pass 1 and pass 2 compute the same sum in different orders; more than float noise is a bug. */
function assertSameValue(prog: CompiledProgramme, detailed: number, indexed: number): void {
  if (Math.abs(detailed - indexed) > 1e-6 * Math.max(1, Math.abs(indexed))) {
    throw new Error(`rule engine invariant: programme ${prog.id} valued ${indexed} by index and ${detailed} in detail`);
  }
}

/** Largest-remainder split of `earned` over the lines' raw contributions, basket rules last. */
function attributeLines(s: Scratch, lines: readonly BasketLine[], earned: number): { lineEarned: Record<string, number>; basketEarned: number } {
  const n = lines.length;
  // The factor multiplies every contribution alike, so raw shares are the factored shares.
  const total = s.lastLineBase + s.lastBasketBase;
  const scale = total > 0 ? earned / total : 0;
  for (let i = 0; i < n; i++) s.lineQuota[i] = s.lineWeight[i]! * scale;
  s.lineQuota[n] = total > 0 ? s.lastBasketBase * scale : earned;
  largestRemainder(earned, s.lineQuota, n + 1, s.lineOut);
  // A prototype-less object: a third of the cost of a plain one for 20 line-id keys (measured),
  // and no inherited keys to collide with a line id such as "constructor".
  const lineEarned: Record<string, number> = Object.create(null) as Record<string, number>;
  for (let i = 0; i < n; i++) {
    const share = s.lineOut[i]!;
    if (share === 0) continue;
    const id = lines[i]!.lineId;
    const before = lineEarned[id];
    lineEarned[id] = before === undefined ? share : before + share;
  }
  return { lineEarned, basketEarned: s.lineOut[n]! };
}

/**
 * Breakdown of one programme: additive rules at their raw value, each applied factor as the
 * uplift it adds (in rule order), split to integers summing to the rounded value; then a
 * "cap" item for what the cap removed.
 */
function pushBreakdown(
  s: Scratch,
  prog: CompiledProgramme,
  ruleLines: readonly string[][],
  rounded: number,
  earned: number,
  out: BreakdownItem[],
): void {
  const rules: number[] = [];
  let running = s.lastLineBase + s.lastBasketBase;
  for (let r = 0; r < prog.ruleCount; r++) {
    const raw = s.ruleRaw[r]!;
    const f = s.ruleFactor[r]!;
    if (raw > 0) {
      s.itemQuota[rules.length] = raw;
      rules.push(r);
    }
    if (f > 0 && f !== 1) {
      s.itemQuota[rules.length] = running * (f - 1);
      running *= f;
      rules.push(r);
    }
  }
  largestRemainder(rounded, s.itemQuota, rules.length, s.itemOut);
  for (let k = 0; k < rules.length; k++) {
    const r = rules[k]!;
    const kind = prog.ruleKinds[r]!;
    const item: BreakdownItem = { programme: prog.id, version: prog.version, rule: kind, ruleIndex: r, amount: s.itemOut[k]! };
    const slot = prog.lineRuleSlot[r]!;
    if (slot >= 0) item.lines = ruleLines[slot]!;
    out.push(item);
  }
  if (earned !== rounded) out.push({ programme: prog.id, version: prog.version, rule: "cap", amount: earned - rounded });
}

function expiresAt(prog: CompiledProgramme, at: number): number | null {
  if (prog.expiryAfterDays > 0) return at + prog.expiryAfterDays * dayMs;
  if (prog.expiryAtYearEnd) return startOfNextYear(prog.zone, at);
  return null;
}
