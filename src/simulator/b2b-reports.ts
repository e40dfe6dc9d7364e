// The demo's small B2B programme (docs/b2b.md) and the sales reports its simulated
// distributors submit: a few products with list prices, two distributor groups, a sales
// target, and now and then a report that one of the verification checks should catch.
// Pure: every draw comes from the Rng given, the clock from the caller.
import type { ClientInput } from "../client/index.js";
import type { ReportLineInput } from "../codec/b2b.js";
import type { Rng } from "./random.js";

const DAY_MS = 86_400_000;

export const B2B_DEMO_PROGRAMME_ID = "b2b-demo";
export const B2B_DEMO_TARGET_ID = "brushes-30d";

/** The demo's product card: list prices per unit in minor units; one withdrawn product. */
export const B2B_DEMO_PRODUCTS: Record<string, { category: string; listPrice?: number; active?: boolean }> = {
  "PAINT-10L": { category: "paint", listPrice: 10_000 },
  "PAINT-3L": { category: "paint", listPrice: 3_500 },
  BRUSH: { category: "tools", listPrice: 2_000 },
  ROLLER: { category: "tools", listPrice: 1_500 },
  "OLD-PRIMER": { category: "paint", active: false },
};
/** The products a clean report draws from. */
const ACTIVE_SKUS = Object.keys(B2B_DEMO_PRODUCTS).filter((s) => B2B_DEMO_PRODUCTS[s]!.active !== false);

/** The two distributor groups: every third distributor is gold (double points). */
export const B2B_DEMO_GROUPS = ["standard", "gold"] as const;

/**
 * The programme: on the `b2b` channel only, 1 point per unit of paint, 1 per 10.00 of
 * anything, double for gold; a 30-day target from `now` in two tiers: 20 brushes earn 200
 * points, 40 brushes 300 more.
 */
export function b2bDemoProgramme(now: number, currency: string): Record<string, unknown> {
  return {
    id: B2B_DEMO_PROGRAMME_ID,
    name: "Distributors (demo): 1 point per unit of paint, 1 per 10.00, double for gold; 20 brushes in 30 days earn 200, 40 earn 300 more",
    account: "points",
    currency,
    scope: { channels: ["b2b"] },
    rules: [
      { kind: "category", category: "paint", pointsPerUnit: 1 },
      { kind: "spend", per: 1000, points: 1 },
      { kind: "multiplier", groups: ["gold"], factor: 2 },
      { kind: "target", id: B2B_DEMO_TARGET_ID, metric: "qty", skus: ["BRUSH"], from: now - DAY_MS, to: now + 30 * DAY_MS, tiers: [{ goal: 20, points: 200 }, { goal: 40, points: 300 }] },
    ],
  };
}

/** The enrol request of distributor `i` (1-based); its requestId is fixed, so enrolling again is idempotent. */
export function b2bDistributorEnrol(i: number): ClientInput<"enroll"> {
  const gold = i % 3 === 0;
  return {
    requestId: `sim-b2b-enrol-${i}`,
    kind: "distributor",
    company: { name: `Hurtownia ${i}`, taxId: `PL${String(5_260_000_000 + i)}` },
    groups: [gold ? "gold" : "standard"],
    users: [`user-${i}`],
  };
}

/** What a faulty report is made to trip (the check codes it should be caught by). */
export type ReportFault = "duplicateInvoice" | "unknownProduct" | "inactiveProduct" | "priceMismatch" | "dateOutOfWindow";
export const REPORT_FAULTS: readonly ReportFault[] = ["duplicateInvoice", "unknownProduct", "inactiveProduct", "priceMismatch", "dateOutOfWindow"];
export const FAULT_CHECK: Record<ReportFault, string> = {
  duplicateInvoice: "DUPLICATE_INVOICE",
  unknownProduct: "UNKNOWN_PRODUCT",
  inactiveProduct: "INACTIVE_PRODUCT",
  priceMismatch: "PRICE_MISMATCH",
  dateOutOfWindow: "DATE_OUT_OF_WINDOW",
};

/** An invoice line as `submitReport` takes it (the wire's shape). */
export type ReportLine = ReportLineInput;

export interface GeneratedReport {
  /** Index into the distributors (0-based). */
  distributor: number;
  reportId: string;
  lines: ReportLine[];
  fault: ReportFault | null;
}

export interface ReportGenerator {
  next(): GeneratedReport;
}

const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * Reports for `distributors` participants; `faultRate` of them (0–1) carry one fault on
 * their first line. Invoice and report ids start with `idPrefix` (unique per run).
 */
export function createReportGenerator(opts: { rng: Rng; distributors: number; faultRate: number; idPrefix: string; clock: () => number }): ReportGenerator {
  const { rng } = opts;
  if (opts.distributors < 1) throw new Error("b2b simulator: at least one distributor");
  /** Each distributor's last invoice of a clean report (approved, so it stays claimed), for a duplicate. */
  const lastInvoice = new Map<number, string>();
  let n = 0;
  const cleanLine = (invoice: string, now: number): ReportLine => {
    const sku = rng.pick(ACTIVE_SKUS);
    const qty = rng.int(1, 10);
    return { invoice, date: isoDay(now - rng.int(0, 5) * DAY_MS), sku, qty, amount: qty * B2B_DEMO_PRODUCTS[sku]!.listPrice! };
  };
  return {
    next(): GeneratedReport {
      n++;
      const now = opts.clock();
      const distributor = rng.int(0, opts.distributors - 1);
      const invoice = `${opts.idPrefix}F-${n}`;
      const lines = Array.from({ length: rng.int(1, 3) }, () => cleanLine(invoice, now));
      const previous = lastInvoice.get(distributor);
      let fault: ReportFault | null = rng.chance(opts.faultRate) ? rng.pick(REPORT_FAULTS) : null;
      if (fault === "duplicateInvoice" && previous === undefined) fault = null;
      const first = lines[0]!;
      if (fault === "duplicateInvoice") first.invoice = previous!;
      if (fault === "unknownProduct") first.sku = "GHOST-1";
      if (fault === "inactiveProduct") first.sku = "OLD-PRIMER";
      if (fault === "priceMismatch") first.amount = Math.round(first.amount * 1.5);
      if (fault === "dateOutOfWindow") first.date = isoDay(now - 200 * DAY_MS);
      if (fault === null) lastInvoice.set(distributor, invoice);
      return { distributor, reportId: `${opts.idPrefix}R-${n}`, lines, fault };
    },
  };
}
