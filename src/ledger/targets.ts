// Sales targets of distributors (rule kind target): each participant's approved total
// per target, kept as reports are approved and rejected; the bonus credited once when the
// total reaches the goal (each tier's when it reaches that tier), taken back when a rejection takes it below; target.progress at
// the configured milestones and target.reached / target.lost published with the effect.
import type { VerbInput } from "../codec/schema.js";
import { lineContribution, targetAward, targetCounts, targetUnits, type PlanTarget } from "../rules/targets.js";
import { loadWallet, peekAccount, post, saveWallet } from "./accounts.js";
import { requireCustomer } from "./customers.js";
import { consumeLots } from "./expiry.js";
import { groupsOn } from "./groups.js";
import { notifyCustomer } from "./notifications.js";
import type { Customer, Report, TargetProgress } from "./store.js";
import { DAY_MS, REPORT_OPTIONS_DEFAULT, type Reply, type Tx } from "./tx.js";

const NONE: TargetProgress = { achieved: 0, awarded: 0, milestone: 0, goal: 0 };

/** What the report's lines add to each target that counts the participant on their dates. */
function contributions(tx: Tx, c: Customer, report: Report): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of tx.plan().targets) {
    if (t.currency !== report.currency) continue;
    let sum = 0;
    for (const line of report.lines) if (targetCounts(t, c.id, groupsOn(c, line.date))) sum += lineContribution(t, line, tx.options.timeZone);
    if (sum > 0) out[t.id] = sum;
  }
  return out;
}

/** The highest tier goal the total has reached (0: none). */
function reachedGoal(t: PlanTarget, achieved: number): number {
  let goal = 0;
  for (const tier of t.tiers ?? []) if (achieved >= tier.goal) goal = tier.goal;
  return goal;
}

function view(t: PlanTarget, p: TargetProgress, now: number): Reply {
  const achieved = targetUnits(t, p.achieved);
  const goal = targetUnits(t, t.goal);
  return {
    targetId: t.id,
    programme: t.programme,
    metric: t.metric,
    goal,
    achieved,
    remaining: targetUnits(t, Math.max(0, t.goal - p.achieved)),
    reached: p.achieved >= t.goal,
    points: t.points,
    awarded: p.awarded,
    from: t.from,
    to: t.to,
    daysLeft: Math.max(0, Math.ceil((t.to - now) / DAY_MS)),
    ...(t.tiers ? { tiers: t.tiers.map((x) => ({ goal: targetUnits(t, x.goal), points: x.points, reached: p.achieved >= x.goal })) } : {}),
  };
}

function milestonesPct(tx: Tx): readonly number[] {
  return (tx.options.reports ?? REPORT_OPTIONS_DEFAULT).targetMilestonesPct;
}

/** After an approval: adds the report's contributions, credits a goal reached, notifies milestones passed. */
export function addToTargets(tx: Tx, c: Customer, report: Report): void {
  const added = contributions(tx, c, report);
  report.targets = added;
  const byId = new Map(tx.plan().targets.map((t) => [t.id, t]));
  for (const [id, amount] of Object.entries(added)) {
    const t = byId.get(id)!;
    const before = tx.store.targets.get([c.id, id]) ?? NONE;
    const p: TargetProgress = { ...before, achieved: before.achieved + amount, goal: t.goal, ...(t.tiers ? { tiers: t.tiers.map((x) => ({ ...x })) } : {}) };
    const passed = milestonesPct(tx).filter((m) => m > p.milestone && p.achieved * 100 >= t.goal * m && m < 100);
    if (passed.length > 0) {
      p.milestone = passed[passed.length - 1]!;
      notifyCustomer(tx, "target.progress", `target.progress:${c.id}:${id}:${p.milestone}:${report.reportId}`, c.id, c, { ...view(t, p, tx.now), milestonePct: p.milestone, reportId: report.reportId });
    }
    // Each tier (or the one goal) reached and not yet held is credited now, once.
    const due = targetAward(t, p.achieved);
    if (due > p.awarded) {
      const credited = due - p.awarded;
      const w = loadWallet(tx, c.id);
      post(tx, w, c.id, { at: tx.now, account: t.account, kind: "target", amount: credited, cause: t.tiers ? `target ${id}: tiers up to ${targetUnits(t, reachedGoal(t, p.achieved))} reached` : `target ${id} reached`, reportId: report.reportId, programme: t.programme, version: t.version });
      saveWallet(tx, c.id, w);
      p.awarded = due;
      notifyCustomer(tx, "target.reached", `target.reached:${c.id}:${id}:${tx.seq}`, c.id, c, { ...view(t, p, tx.now), credited, reportId: report.reportId });
    }
    tx.store.targets.put([c.id, id], p);
  }
}

/** After a rejection of an approved report: takes off what it added; a goal no longer reached gives its points back. */
export function removeFromTargets(tx: Tx, c: Customer, report: Report): void {
  const byId = new Map(tx.plan().targets.map((t) => [t.id, t]));
  for (const [id, amount] of Object.entries(report.targets ?? {})) {
    const before = tx.store.targets.get([c.id, id]);
    if (!before) continue;
    const p: TargetProgress = { ...before, achieved: Math.max(0, before.achieved - amount) };
    const t = byId.get(id);
    // A target retired since still gives back its bonus when its total falls below the goal (tiers) it had.
    const due = targetAward(t ?? { goal: before.goal, points: before.awarded, tiers: before.tiers ?? null }, p.achieved);
    if (p.awarded > due) {
      const w = loadWallet(tx, c.id);
      const account = t?.account ?? "points";
      const acc = peekAccount(w, account);
      const owed = p.awarded - due;
      const back = tx.options.whenSpent === "clamp" ? Math.min(owed, Math.max(0, acc.balance - acc.held)) : owed;
      if (back > 0) {
        post(tx, w, c.id, { at: tx.now, account, kind: "target.lost", amount: -back, cause: `target ${id} no longer reached: report ${report.reportId} rejected`, reportId: report.reportId, ...(t ? { programme: t.programme, version: t.version } : {}) });
        consumeLots(w, account, back, null);
      }
      saveWallet(tx, c.id, w);
      p.awarded = due;
      if (t) notifyCustomer(tx, "target.lost", `target.lost:${c.id}:${id}:${tx.seq}`, c.id, c, { ...view(t, p, tx.now), takenBack: owed, reportId: report.reportId });
    }
    tx.store.targets.put([c.id, id], p);
  }
}

/** The `targets` verb: every target that counts the participant today, with its progress. */
export function targets(tx: Tx, input: VerbInput<"targets">): Reply {
  const c = requireCustomer(tx, input.customer);
  const out: Reply[] = [];
  for (const t of tx.plan().targets) {
    const p = tx.store.targets.get([c.id, t.id]);
    if (!p && !targetCounts(t, c.id, c.groups)) continue;
    out.push(view(t, p ?? NONE, tx.now));
  }
  return { ok: true, customerId: c.id, targets: out };
}
