// Offers (rule kind `offer`, seed 000 "points by offer"): indexed by offer id when the set
// is compiled, marked present per basket as lines and the basket name them. Pure, like the
// rest of rules/: compile.ts and evaluate.ts call these in their passes.
import type { CompiledProgramme, CompiledSet, OfferIndexEntry, Scratch } from "./compile.js";
import type { Programme } from "./programme.js";
import type { BasketLine } from "./types.js";

/** Every offer rule under its offer id, with its slot, kind and window (for one map lookup per named offer). */
export function indexOffers(p: CompiledProgramme, programme: Programme, offerIndex: Map<string, OfferIndexEntry[]>): void {
  let k = 0;
  for (const rule of programme.rules) {
    if (rule.kind !== "offer") continue;
    const slot = p.offerSlots[k++]!;
    const entry: OfferIndexEntry = {
      programme: p.index,
      slot,
      perUnit: rule.pointsPerUnit !== undefined,
      pointsPerUnit: rule.pointsPerUnit ?? 0,
      from: rule.from ?? -Infinity,
      to: rule.to ?? Infinity,
    };
    const list = offerIndex.get(rule.offerId);
    if (list) list.push(entry);
    else offerIndex.set(rule.offerId, [entry]);
  }
}

/**
 * The offer a line names, for each rule on it: in force at `at`, its programme eligible and the
 * line in the programme's line scope (promo or not: the offer is the promotion the promo flag
 * stands for), it marks the offer present; a per-unit rule also earns on the line's units.
 */
export function addLineOffers(set: CompiledSet, s: Scratch, entries: readonly OfferIndexEntry[], line: BasketLine, serial: number, at: number): void {
  for (let k = 0; k < entries.length; k++) {
    const e = entries[k]!;
    const p = e.programme;
    if (s.headerOk[p] === 0 || at < e.from || at >= e.to) continue;
    if (set.lineScoped[p] === 1 && s.lineStamp[p] !== serial) continue;
    s.offerStamp[e.slot] = s.evalSerial;
    if (e.perUnit) s.lineRaw[p] = s.lineRaw[p]! + line.qty * e.pointsPerUnit;
  }
}

/** Offers named for the whole basket mark the per-basket rules on them present (a per-unit rule needs a line). */
export function markBasketOffers(set: CompiledSet, s: Scratch, offerIds: readonly string[], at: number): void {
  for (let i = 0; i < offerIds.length; i++) {
    const entries = set.offerIndex.get(offerIds[i]!);
    if (entries === undefined) continue;
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!;
      if (e.perUnit || s.headerOk[e.programme] === 0 || at < e.from || at >= e.to) continue;
      s.offerStamp[e.slot] = s.evalSerial;
    }
  }
}

/** Whether the basket names one of the programme's offers: then it applies even when no line counts. */
export function offerPresent(prog: CompiledProgramme, s: Scratch): boolean {
  const slots = prog.offerSlots;
  for (let k = 0; k < slots.length; k++) if (s.offerStamp[slots[k]!] === s.evalSerial) return true;
  return false;
}
