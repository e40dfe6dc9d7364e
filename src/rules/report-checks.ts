// The verification of a distributor's sales report, before any point is credited: each
// line is checked against what the ledger knows (invoices already reported, the product
// catalogue, the participant's own history) and the configured window and tolerances.
// Pure: the ledger gathers the facts, this says what is wrong, line by line.
import { addDays } from "./dates.js";

/** Every reason code a check can give (docs/b2b.md): the code is the API. */
export const REPORT_CHECK_CODES = [
  "DUPLICATE_INVOICE",
  "UNKNOWN_PRODUCT",
  "INACTIVE_PRODUCT",
  "QTY_IMPLAUSIBLE",
  "AMOUNT_IMPLAUSIBLE",
  "DATE_OUT_OF_WINDOW",
  "PRICE_MISMATCH",
] as const;
export type ReportCheckCode = (typeof REPORT_CHECK_CODES)[number];

export interface CheckedLine {
  invoice: string;
  date: string;
  sku: string;
  qty: number;
  amount: number;
}

export interface ProductFacts {
  active: boolean;
  /** Per unit, minor units; null: none set (no price check). */
  listPrice: number | null;
}

export interface ReportCheckSettings {
  /** How many days before today an invoice may be dated. */
  windowDaysBack: number;
  /** How many days after today (clock skew, time zones). */
  windowDaysAhead: number;
  /** A line above the history's 99th percentile times this is implausible. */
  plausibilityFactor: number;
  /** Lines of history needed before the plausibility checks apply. */
  plausibilityHistoryMin: number;
  /** How far a line's amount may be from qty × listPrice, percent of the latter. */
  priceTolerancePct: number;
}

export interface ReportFacts {
  /** The local date the report is checked on. */
  today: string;
  /** The products the lines name (absent: unknown). */
  products: ReadonlyMap<string, ProductFacts>;
  /** Invoices of this participant already claimed by another report: invoice -> reportId. */
  invoicesTaken: ReadonlyMap<string, string>;
  /** The participant's recent approved lines. */
  history: { qty: readonly number[]; amount: readonly number[] };
  settings: ReportCheckSettings;
}

export interface Finding {
  code: ReportCheckCode;
  line: number;
  message: string;
}

/**
 * The 99th percentile by nearest rank (the smallest value at or above 99 % of the
 * values), or null when there are fewer than `min` values.
 */
export function percentile99(values: readonly number[], min: number): number | null {
  if (values.length === 0 || values.length < min) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(0.99 * sorted.length) - 1]!;
}

/** qty × price per unit, rounded half up, in minor units (qty has at most 3 decimals). */
export function expectedAmount(qty: number, listPrice: number): number {
  return Math.floor((Math.round(qty * 1000) * listPrice + 500) / 1000);
}

function productFindings(line: CheckedLine, i: number, facts: ReportFacts): Finding[] {
  const product = facts.products.get(line.sku);
  if (!product) return [{ code: "UNKNOWN_PRODUCT", line: i, message: `no product ${line.sku} in the catalogue` }];
  if (!product.active) return [{ code: "INACTIVE_PRODUCT", line: i, message: `product ${line.sku} is inactive` }];
  if (product.listPrice === null) return [];
  const expected = expectedAmount(line.qty, product.listPrice);
  // Tolerance in hundredths of a percent, compared in integers: no rounding at the edge.
  const allowed = expected * facts.settings.priceTolerancePct;
  if (Math.abs(line.amount - expected) * 100 > allowed) {
    return [{ code: "PRICE_MISMATCH", line: i, message: `amount ${line.amount} is not within ${facts.settings.priceTolerancePct} % of ${line.qty} × ${product.listPrice} = ${expected}` }];
  }
  return [];
}

function dateFinding(line: CheckedLine, i: number, facts: ReportFacts): Finding[] {
  const { windowDaysBack, windowDaysAhead } = facts.settings;
  const first = addDays(facts.today, -windowDaysBack);
  const last = addDays(facts.today, windowDaysAhead);
  if (line.date >= first && line.date <= last) return [];
  return [{ code: "DATE_OUT_OF_WINDOW", line: i, message: `invoice date ${line.date} is outside ${first}..${last}` }];
}

/** Every finding on the report's lines, in line order; none: every check passed. */
export function checkReport(lines: readonly CheckedLine[], facts: ReportFacts): Finding[] {
  const { plausibilityFactor: factor, plausibilityHistoryMin: min } = facts.settings;
  const qtyMax = percentile99(facts.history.qty, min);
  const amountMax = percentile99(facts.history.amount, min);
  const out: Finding[] = [];
  lines.forEach((line, i) => {
    const taken = facts.invoicesTaken.get(line.invoice);
    if (taken !== undefined) out.push({ code: "DUPLICATE_INVOICE", line: i, message: `invoice ${line.invoice} was already reported in ${taken}` });
    out.push(...productFindings(line, i, facts));
    if (qtyMax !== null && line.qty > qtyMax * factor) {
      out.push({ code: "QTY_IMPLAUSIBLE", line: i, message: `qty ${line.qty} is above ${factor} × the 99th percentile of this participant's lines (${qtyMax})` });
    }
    if (amountMax !== null && line.amount > amountMax * factor) {
      out.push({ code: "AMOUNT_IMPLAUSIBLE", line: i, message: `amount ${line.amount} is above ${factor} × the 99th percentile of this participant's lines (${amountMax})` });
    }
    out.push(...dateFinding(line, i, facts));
  });
  return out;
}
