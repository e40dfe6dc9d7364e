// The rule engine's inputs and outputs. Pure data: no I/O, no clocks. The ledger builds
// a Basket and CustomerFacts, the engine returns an Accrual, the ledger writes it.

/** One basket line as the engine sees it (already validated by the codec). */
export interface BasketLine {
  lineId: string;
  sku: string;
  /** Quantity, > 0 (may be fractional for weighed goods, at most 3 decimals). */
  qty: number;
  /** Unit price, integer minor units. */
  unitPrice: number;
  /** Line amount actually paid, integer minor units (the codec fills it: line.amount ?? round(qty*unitPrice)). */
  amount: number;
  category: string | null;
  promo: boolean;
  /** The offer the line was sold under (offer rules); absent or null: none. */
  offerId?: string | null;
}

export interface Tender {
  type: string;
  /** Integer minor units. */
  amount: number;
}

export interface Basket {
  eventId: string;
  /** Epoch ms UTC: every time-based rule is evaluated at this instant, never at wall time. */
  at: number;
  storeId: string;
  channel: string;
  terminalId: string | null;
  /** ISO 4217. */
  currency: string;
  lines: BasketLine[];
  tenders: Tender[];
  /** Basket total, integer minor units (the codec fills it: event.total ?? sum of line amounts). */
  total: number;
  /** Offers named for the whole basket (offer rules with `points`); absent: none. */
  offerIds?: readonly string[];
}

export interface CustomerFacts {
  customerId: string;
  /** Customer groups, e.g. ["VIP"], ["staff"], ["distributor-north"]. */
  groups: string[];
  /**
   * Turnover (integer minor units, returns deducted) over each rolling window the plan
   * asks for (plan.turnoverWindowsDays), ending at basket.at, keyed by window length in days.
   */
  turnoverByWindowDays: Record<number, number>;
  /** The saved segments of plan.segmentIds the customer is a member of at the basket's time (absent: none). */
  segments?: ReadonlySet<string>;
  /** The customer's attributes (enroll / updateCustomer), for scope.attributes (absent: none). */
  attributes?: Readonly<Record<string, string | number | boolean>>;
}

export interface BreakdownItem {
  programme: string;
  /** The programme version that earned it. */
  version: number;
  /**
   * Rule kind: "spend", "sku", "category", "productCard", "visit", "tender", "threshold",
   * "multiplier", "period", "tier", "offer", or "cap" (what capPerEvent removed, negative). A factor
   * rule's amount is the uplift it adds; a factor below 1 gives a negative amount.
   * ("rounding" is reserved: rounding differences are split over the rule items instead.)
   */
  rule: string;
  /** Index of the rule in the programme's rules[] (absent for "cap"/"rounding"). */
  ruleIndex?: number;
  /** Integer points (or minor units for a stored-value account) this item contributed. */
  amount: number;
  /** The lines that contributed, when the rule is line based. */
  lines?: string[];
}

/** What one programme earned on one account. */
export interface ProgrammeAccrual {
  programme: string;
  version: number;
  account: string;
  /** Integer, after multipliers, rounding and cap. */
  earned: number;
  /** Integer share of `earned` attributed to each line (sum of lineEarned + basketEarned === earned). */
  lineEarned: Record<string, number>;
  /** The part of `earned` not attributable to a line (visit, threshold, tender...). */
  basketEarned: number;
  /** When these points expire (epoch ms), from the programme's `expiry`; null = never. */
  expiresAt: number | null;
}

export interface Accrual {
  /** Total earned over all accounts: for display; ledger uses `programmes`. */
  earned: number;
  /** One per selected programme (at most one per account, see selection). */
  programmes: ProgrammeAccrual[];
  breakdown: BreakdownItem[];
}

export type ProgrammeSelection = "strongestScope" | "bestForCustomer";

export interface EvaluateOptions {
  selection: ProgrammeSelection;
  /** IANA time zone used by period rules when a programme names none, e.g. "Europe/Warsaw". */
  timeZone: string;
}
