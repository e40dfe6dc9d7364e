// Deterministic generator of POS traffic in the wire contract's shapes (sale, return,
// void events and enrol requests): the load both the demo simulator and the bench publish.
import { buildCatalogue, type Catalogue } from "./catalogue.js";
import { mulberry32, zipfSampler, type Rng } from "./random.js";

// ---- Wire shapes (CONTRACT.md, "Sale, return and void events"); the simulator only
// ---- speaks the contract, so these are declared here rather than imported from the engine.

export type CustomerRef = { card: string } | { phone: string } | { customerId: string };

export interface SaleLine {
  lineId: string;
  sku: string;
  qty: number;
  /** Integer minor units. */
  unitPrice: number;
  category: string;
  promo: boolean;
}

export interface TenderLine {
  type: "card" | "cash" | "giftcard";
  /** Integer minor units. */
  amount: number;
}

export interface SaleEvent {
  type: "sale";
  eventId: string;
  at: number;
  storeId: string;
  channel: "store" | "webshop";
  terminalId: string;
  customer: CustomerRef;
  currency: "EUR";
  lines: SaleLine[];
  tenders: TenderLine[];
  total: number;
}

export interface ReturnEvent {
  type: "return";
  eventId: string;
  originalEventId: string;
  at: number;
  /** Absent: the whole sale is returned. */
  lines?: { lineId: string; qty: number }[];
}

export interface VoidEvent {
  type: "void";
  eventId: string;
  originalEventId: string;
  at: number;
}

export type PosEvent = SaleEvent | ReturnEvent | VoidEvent;

export interface GeneratedEvent {
  /** The store whose subject carries it (a return or void goes where its sale went). */
  storeId: string;
  event: PosEvent;
  /** True when `event` is the very object of an earlier GeneratedEvent, re-sent. */
  duplicate: boolean;
}

export interface EnrolRequest {
  requestId: string;
  profile: { name: string; firstName?: string; lastName?: string; email?: string; birthday?: string; language?: string; timeZone?: string; consents?: Record<string, boolean> };
  card: string;
}

// ---- Options ----

export interface EventRates {
  /** Share of emitted events that re-send an earlier event unchanged. */
  duplicate: number;
  /** Share of emitted events that return (part of) an earlier sale. */
  return: number;
  /** Share of emitted events that void an earlier sale. */
  void: number;
  /** Share of sales that name the customer by phone instead of card. */
  phone: number;
  /** Share of sales made on the webshop. */
  webshop: number;
  /** Share of returns that return some lines, not the whole sale. */
  returnPartial: number;
  /** Share of lines drawn from promo articles. */
  promo: number;
}

export const DEFAULT_RATES: Readonly<EventRates> = Object.freeze({
  duplicate: 0.02,
  return: 0.02,
  void: 0.005,
  phone: 0.05,
  webshop: 0.1,
  returnPartial: 0.5,
  promo: 0.05,
});

export interface BasketGeneratorOptions {
  seed: number;
  /** Card customers C-1..C-<customers>; they must be enrolled (see enrolRequests). */
  customers: number;
  /** Distinct phone numbers in use; unknown ones make the engine enrol a customer. Default customers/10 (≥ 10). */
  phoneCustomers?: number;
  /** Event time source; default a synthetic clock from 2026-01-01T08:00Z, +1 s per event. */
  clock?: () => number;
  /** Prefix of every event id; vary it between runs against one data dir. Default `sim<seed>-`. */
  idPrefix?: string;
  rates?: Partial<EventRates>;
  linesMin?: number;
  linesMax?: number;
  /** Skew of the customer draw (see zipfSampler). Default 0.8. */
  zipfExponent?: number;
  /** A sale is returned or voided only once this many events followed it, so the engine has committed it. */
  returnMinAgeEvents?: number;
}

export interface GeneratorCounts {
  sales: number;
  returns: number;
  voids: number;
  duplicates: number;
}

export interface BasketGenerator {
  /** The next event of the traffic mix: a sale, return, void or duplicate. */
  next(): GeneratedEvent;
  /** A fresh sale outside the mix (for quotes and request/reply load): never returned or duplicated. */
  sale(): SaleEvent;
  counts(): GeneratorCounts;
}

// ---- Bounds (the generator runs for hours in the demo: its memory must not grow) ----

/** Sales remembered as candidates for returns and voids. */
const RECENT_SALES_MAX = 4096;
/** Events remembered as candidates for duplicates. */
const RECENT_EVENTS_MAX = 256;
const STORES = ["s01", "s02", "s03", "s04", "s05"] as const;
const TERMINALS = ["t1", "t2", "t3", "t4"] as const;
const SYNTHETIC_EPOCH_MS = Date.UTC(2026, 0, 1, 8, 0, 0);

export const cardOf = (n: number): string => `C-${n}`;
/** Polish mobile numbers in E.164 (+48 60x xxx xxx); k < 10^7. */
export const phoneOf = (k: number): string => `+4860${String(k % 10_000_000).padStart(7, "0")}`;

const FIRST_NAMES = ["Anna", "Piotr", "Maria", "Jan", "Katarzyna", "Tomasz", "Eva", "Lukas", "Sofia", "Marek", "Julia", "Paul"] as const;
const LAST_NAMES = ["Nowak", "Kowalski", "Müller", "Schmidt", "Dubois", "Rossi", "Novak", "Weber", "Wójcik", "Garcia", "Lang"] as const;

/** The enrol request of card customer n: deterministic, so a re-run repeats the same request id and gets `duplicate`. */
export function enrolRequest(n: number): EnrolRequest {
  const first = FIRST_NAMES[n % FIRST_NAMES.length]!;
  const last = LAST_NAMES[Math.floor(n / FIRST_NAMES.length) % LAST_NAMES.length]!;
  return { requestId: `sim-enrol-${n}`, profile: { name: `${first} ${last}` }, card: cardOf(n) };
}

export function* enrolRequests(customers: number): Generator<EnrolRequest> {
  for (let n = 1; n <= customers; n++) yield enrolRequest(n);
}

const LANGUAGES = ["pl", "en", "de", "fr", "it"] as const;
/** Some demo customers live elsewhere: their birthday greeting follows their own local date. */
const ZONES = ["Europe/Warsaw", "Europe/London", "America/New_York", "Asia/Tokyo"] as const;

/**
 * The demo's customers: a full profile with an e-mail, a birthday spread over the year
 * (so some are always near), every fourth with a time zone of its own, and consents that differ by channel, for segments and
 * exports to have something to find. (The benches enrol with enrolRequest: their bytes
 * per customer are the minimal record's.)
 */
export function profiledEnrolRequest(n: number): EnrolRequest {
  const base = enrolRequest(n);
  const [firstName, lastName] = base.profile.name.split(" ") as [string, string];
  const month = String((n % 12) + 1).padStart(2, "0");
  const day = String((n % 28) + 1).padStart(2, "0");
  return {
    ...base,
    profile: {
      ...base.profile,
      firstName,
      lastName,
      email: `${firstName.toLowerCase()}.${n}@example.com`,
      birthday: `${1950 + (n % 50)}-${month}-${day}`,
      language: LANGUAGES[n % LANGUAGES.length]!,
      ...(n % 4 === 0 ? { timeZone: ZONES[(n / 4) % ZONES.length]! } : {}),
      // Spread independently of the birthday month (n % 12): some of every month consented.
      consents: { email: (n * 7) % 10 < 6, sms: n % 3 !== 0, post: n % 5 === 0 },
    },
  };
}

export function* profiledEnrolRequests(customers: number): Generator<EnrolRequest> {
  for (let n = 1; n <= customers; n++) yield profiledEnrolRequest(n);
}

// ---- Sales ----

/** 1..20 lines, most baskets small: the square of a uniform leans towards linesMin. */
function lineCount(rng: Rng, min: number, max: number): number {
  const u = rng.next();
  return min + Math.floor(u * u * (max - min + 1));
}

function makeLines(rng: Rng, catalogue: Catalogue, count: number, promoRate: number): SaleLine[] {
  const lines: SaleLine[] = [];
  for (let i = 1; i <= count; i++) {
    const sku = catalogue.draw(rng, promoRate);
    const qty = rng.chance(0.75) ? 1 : rng.int(1, sku.qtyMax);
    lines.push({ lineId: String(i), sku: sku.sku, qty, unitPrice: sku.unitPrice, category: sku.category, promo: sku.promo });
  }
  return lines;
}

/** Tenders always sum to the total: one tender mostly, a gift card topped up by card sometimes. */
function makeTenders(rng: Rng, total: number, webshop: boolean): TenderLine[] {
  const u = rng.next();
  if (u < 0.12 && total > 100) {
    const giftcard = Math.min(total - 1, rng.int(5, 50) * 100);
    return [{ type: "giftcard", amount: giftcard }, { type: "card", amount: total - giftcard }];
  }
  if (!webshop && u < 0.35) return [{ type: "cash", amount: total }];
  return [{ type: "card", amount: total }];
}

interface SaleContext {
  rng: Rng;
  catalogue: Catalogue;
  rates: EventRates;
  drawCustomer: (rng: Rng) => number;
  drawPhone: (rng: Rng) => number;
  linesMin: number;
  linesMax: number;
}

function makeSale(ctx: SaleContext, eventId: string, at: number, phoneAllowed: boolean): SaleEvent {
  const { rng, rates } = ctx;
  const webshop = rng.chance(rates.webshop);
  const customer: CustomerRef =
    phoneAllowed && rng.chance(rates.phone) ? { phone: phoneOf(ctx.drawPhone(rng)) } : { card: cardOf(ctx.drawCustomer(rng)) };
  const lines = makeLines(rng, ctx.catalogue, lineCount(rng, ctx.linesMin, ctx.linesMax), rates.promo);
  const total = lines.reduce((sum, l) => sum + l.qty * l.unitPrice, 0);
  return {
    type: "sale",
    eventId,
    at,
    storeId: rng.pick(STORES),
    channel: webshop ? "webshop" : "store",
    // The webshop has no till; "web" keeps terminalId a plain string for every event.
    terminalId: webshop ? "web" : rng.pick(TERMINALS),
    customer,
    currency: "EUR",
    lines,
    tenders: makeTenders(rng, total, webshop),
    total,
  };
}

// ---- Returns and voids ----

interface RecentSale {
  sale: SaleEvent;
  /** Index of the event in the emitted sequence, for the minimum-age rule. */
  emittedAt: number;
  /** Quantity of each line not yet returned. */
  remaining: number[];
  /** A sale already partly returned is neither voided nor returned "whole" again. */
  touched: boolean;
}

/** Sales old enough to be returned: recent[] is in emission order, so they form a prefix. */
function eligibleCount(recent: readonly RecentSale[], emitted: number, minAge: number): number {
  let lo = 0;
  let hi = recent.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (recent[mid]!.emittedAt <= emitted - minAge) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function partialReturnLines(rng: Rng, r: RecentSale): { lineId: string; qty: number }[] {
  const open = r.remaining.map((qty, i) => ({ i, qty })).filter((x) => x.qty > 0);
  const take = rng.int(1, Math.min(3, open.length));
  const lines: { lineId: string; qty: number }[] = [];
  for (let k = 0; k < take; k++) {
    const j = rng.int(k, open.length - 1);
    [open[k], open[j]] = [open[j]!, open[k]!];
    const { i, qty } = open[k]!;
    const back = rng.int(1, qty);
    r.remaining[i] = qty - back;
    lines.push({ lineId: r.sale.lines[i]!.lineId, qty: back });
  }
  // Line order of the original keeps the event readable.
  return lines.sort((a, b) => Number(a.lineId) - Number(b.lineId));
}

// ---- The generator ----

export function createBasketGenerator(opts: BasketGeneratorOptions): BasketGenerator {
  const rates: EventRates = { ...DEFAULT_RATES, ...opts.rates };
  const rng = mulberry32(opts.seed);
  // A separate stream for sale(): asking for a quote must not change the traffic mix.
  const sideRng = mulberry32((opts.seed ^ 0x9e3779b9) >>> 0);
  const prefix = opts.idPrefix ?? `sim${opts.seed}-`;
  let syntheticMs = SYNTHETIC_EPOCH_MS;
  const clock = opts.clock ?? (() => (syntheticMs += 1000));
  // sale() reads the time without moving the synthetic clock, so quotes leave next() unchanged.
  const now = opts.clock ?? (() => syntheticMs);
  const skew = opts.zipfExponent ?? 0.8;
  const ctx: SaleContext = {
    rng,
    catalogue: buildCatalogue(),
    rates,
    drawCustomer: zipfSampler(opts.customers, skew),
    drawPhone: zipfSampler(opts.phoneCustomers ?? Math.max(10, Math.floor(opts.customers / 10)), skew),
    linesMin: opts.linesMin ?? 1,
    linesMax: opts.linesMax ?? 20,
  };
  const minAge = opts.returnMinAgeEvents ?? 200;
  const recentSales: RecentSale[] = [];
  const recentEvents: GeneratedEvent[] = [];
  const counts: GeneratorCounts = { sales: 0, returns: 0, voids: 0, duplicates: 0 };
  let emitted = 0;
  let seq = 0;
  let sideSeq = 0;

  const remember = (g: GeneratedEvent): GeneratedEvent => {
    recentEvents.push(g);
    if (recentEvents.length > RECENT_EVENTS_MAX) recentEvents.shift();
    emitted++;
    return g;
  };

  const nextSale = (): GeneratedEvent => {
    const sale = makeSale(ctx, `${prefix}s${++seq}`, clock(), true);
    recentSales.push({ sale, emittedAt: emitted, remaining: sale.lines.map((l) => l.qty), touched: false });
    if (recentSales.length > RECENT_SALES_MAX) recentSales.shift();
    counts.sales++;
    return remember({ storeId: sale.storeId, event: sale, duplicate: false });
  };

  const nextReturn = (index: number): GeneratedEvent => {
    const r = recentSales[index]!;
    const whole = !r.touched && !rng.chance(rates.returnPartial);
    const lines = whole ? undefined : partialReturnLines(rng, r);
    r.touched = true;
    if (whole || r.remaining.every((q) => q === 0)) recentSales.splice(index, 1);
    const ev: ReturnEvent = { type: "return", eventId: `${prefix}r${++seq}`, originalEventId: r.sale.eventId, at: clock() };
    if (lines) ev.lines = lines;
    counts.returns++;
    return remember({ storeId: r.sale.storeId, event: ev, duplicate: false });
  };

  const nextVoid = (index: number): GeneratedEvent => {
    const r = recentSales[index]!;
    recentSales.splice(index, 1);
    const ev: VoidEvent = { type: "void", eventId: `${prefix}v${++seq}`, originalEventId: r.sale.eventId, at: clock() };
    counts.voids++;
    return remember({ storeId: r.sale.storeId, event: ev, duplicate: false });
  };

  const next = (): GeneratedEvent => {
    const u = rng.next();
    if (u < rates.duplicate && recentEvents.length > 0) {
      counts.duplicates++;
      emitted++;
      return { ...rng.pick(recentEvents), duplicate: true };
    }
    const eligible = eligibleCount(recentSales, emitted, minAge);
    if (eligible > 0 && u < rates.duplicate + rates.return) return nextReturn(rng.int(0, eligible - 1));
    if (eligible > 0 && u < rates.duplicate + rates.return + rates.void) {
      // Void only untouched sales: voiding a partly returned sale has no clear meaning at a till.
      const index = rng.int(0, eligible - 1);
      if (!recentSales[index]!.touched) return nextVoid(index);
    }
    return nextSale();
  };

  const sale = (): SaleEvent => {
    const side: SaleContext = { ...ctx, rng: sideRng };
    return makeSale(side, `${prefix}q${++sideSeq}`, now(), false);
  };

  return { next, sale, counts: () => ({ ...counts }) };
}
