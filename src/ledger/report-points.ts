// The points of a sales report: on approval its lines are scored through the rule engine,
// one basket per invoice date, with the groups the participant was in on that date (so
// programmes by product group, distributor group and channel all apply as to a sale);
// on rejection of an approved report, what it credited is taken back like a return.
import { startOfLocalDate } from "../rules/dates.js";
import { evaluate } from "../rules/evaluate.js";
import type { Basket } from "../rules/types.js";
import { loadWallet, peekAccount, post, saveWallet } from "./accounts.js";
import { addLot, consumeLots } from "./expiry.js";
import { groupsOn } from "./groups.js";
import { factsOf } from "./sales.js";
import type { Customer, Report, ReportCredit, ReportLine } from "./store.js";
import type { Tx } from "./tx.js";

/** The store and channel a report's baskets carry: a programme for reports names `channels: ["b2b"]`. */
export const REPORT_CHANNEL = "b2b";

/** The lines of one invoice date as a basket, evaluated at the date's first instant (config timeZone). */
export function reportBasket(report: Pick<Report, "reportId" | "currency">, date: string, lines: { line: ReportLine; index: number }[], timeZone: string): Basket {
  const basketLines = lines.map(({ line, index }) => ({
    lineId: String(index),
    sku: line.sku,
    qty: line.qty,
    unitPrice: Math.round(line.amount / line.qty),
    amount: line.amount,
    category: line.category ?? null,
    promo: false,
  }));
  return {
    eventId: `${report.reportId}@${date}`,
    at: startOfLocalDate(timeZone, date),
    storeId: REPORT_CHANNEL,
    channel: REPORT_CHANNEL,
    terminalId: null,
    currency: report.currency,
    lines: basketLines,
    tenders: [],
    total: basketLines.reduce((s, l) => s + l.amount, 0),
  };
}

/** The report's lines by invoice date, dates in order. */
function byDate(lines: ReportLine[]): [string, { line: ReportLine; index: number }[]][] {
  const dates = new Map<string, { line: ReportLine; index: number }[]>();
  lines.forEach((line, index) => {
    const list = dates.get(line.date) ?? [];
    list.push({ line, index });
    dates.set(line.date, list);
  });
  return [...dates.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
}

/** Credits an approved report's points (entries kind "report", dated now); returns what each date and programme credited. */
export function creditReport(tx: Tx, c: Customer, report: Report): ReportCredit[] {
  const plan = tx.plan();
  const w = loadWallet(tx, c.id);
  const credits: ReportCredit[] = [];
  for (const [date, lines] of byDate(report.lines)) {
    const basket = reportBasket(report, date, lines, tx.options.timeZone);
    const facts = factsOf(tx, { ...c, groups: groupsOn(c, date) }, w, basket.at, plan);
    for (const p of evaluate(plan, basket, facts).programmes) {
      if (p.earned === 0) continue;
      const after = post(tx, w, c.id, {
        at: tx.now,
        account: p.account,
        kind: "report",
        amount: p.earned,
        cause: `report ${report.reportId}, invoices of ${date}`,
        reportId: report.reportId,
        programme: p.programme,
        version: p.version,
      });
      let lot: [number, number] | null = null;
      const lotAmount = Math.min(p.earned, Math.max(0, after.balance));
      if (lotAmount > 0 && p.expiresAt !== null) {
        lot = [p.expiresAt, tx.seq];
        addLot(tx, w, c.id, p.account, p.expiresAt, tx.seq, lotAmount, basket.eventId);
      }
      credits.push({ date, programme: p.programme, version: p.version, account: p.account, amount: p.earned, lot });
    }
  }
  saveWallet(tx, c.id, w);
  return credits;
}

/**
 * Takes back what an approved report credited (entries kind "report.rejected"); with
 * returns.whenSpent = clamp, never below zero. Returns the points taken back.
 */
export function takeBackReport(tx: Tx, c: Customer, report: Report, reason: string): number {
  const w = loadWallet(tx, c.id);
  let total = 0;
  for (const credit of report.credits) {
    const acc = peekAccount(w, credit.account);
    const amount = tx.options.whenSpent === "clamp" ? Math.min(credit.amount, Math.max(0, acc.balance - acc.held)) : credit.amount;
    if (amount <= 0) continue;
    post(tx, w, c.id, {
      at: tx.now,
      account: credit.account,
      kind: "report.rejected",
      amount: -amount,
      cause: `report ${report.reportId} rejected: ${reason}`,
      reportId: report.reportId,
      programme: credit.programme,
      version: credit.version,
    });
    consumeLots(w, credit.account, amount, credit.lot);
    total += amount;
  }
  saveWallet(tx, c.id, w);
  return total;
}
