// The ledger's state machine: applies a micro-batch of commands in one LMDB write
// transaction (each command in a child transaction, so a failing command leaves no
// trace), and resolves only once the batch is durable.
import type { VerbInput, Verb, PosEvent, SaleEvent, CustomerRef } from "../codec/schema.js";
import { LoyaltyError, failure, toWireError } from "../errors.js";
import { limits } from "../limits.js";
import { compile, type Plan } from "../rules/compile.js";
import { evaluate } from "../rules/evaluate.js";
import { parseProgramme, type Programme } from "../rules/programme.js";
import type { Basket, CustomerFacts, Accrual } from "../rules/types.js";
import { priceAt, randomVoucherCode, termsOf, voucherView, daysLeft } from "./redemption.js";
import { addLot, consumeLots, dropLot, expiringOf, NOTICED } from "./lots.js";
import type { Account, Customer, Entry, HeldItem, Hold, SaleRecord, Store, Voucher, VoucherOffer } from "./store.js";

export interface LedgerOptions {
  selection: "strongestScope" | "bestForCustomer";
  timeZone: string;
  enrolOnUnknownPhone: boolean;
  whenSpent: "negative" | "clamp";
  holdTtlMsDefault: number;
  /** How long before points (and vouchers) expire the "expiring" notification goes out, ms. */
  expiryNoticeMs: number;
}

export interface Command {
  verb: Verb | "expireHold" | "sweepExpiry" | "sweepVoucher";
  input: unknown;
  /** Content hash for idempotent verbs. */
  hash: string;
}

export interface Notification {
  kind: string;
  payload: Record<string, unknown>;
}

export interface Outcome {
  reply: Record<string, unknown>;
  notifications: Notification[];
}

type Reply = Record<string, unknown>;
type RequestVerb = "card" | "enroll" | "authorize" | "capture" | "release" | "convert" | "convertEarned" | "adjust" | "redeemReward" | "buyVoucher" | "redeemVoucher";
const DAY_MS = 86_400_000;
const PRIMARY_ACCOUNT = "points";

export class Ledger {
  private plan: Plan | null = null;
  private planVersion = -1;
  private seq = 0;
  private customerSeq = 0;
  private holdSeq = 0;
  private notes: Notification[] = [];

  constructor(
    readonly store: Store,
    readonly options: LedgerOptions,
    private readonly now: () => number = Date.now,
    /**
     * Commit with a synchronous write transaction (a worker thread, which may block)
     * rather than lmdb-js's async one (the main thread): one thread hop less per batch.
     */
    private readonly syncCommit = false,
  ) {}

  /**
   * Applies commands in order in one durable transaction; one outcome per command.
   * A broken invariant stops the batch at the command that broke it: that command's
   * child transaction rolls back, the ones before it stay applied and consistent
   * (counters included), and the batch rejects so the caller crashes and restarts
   * from durable state; clients retrying meet their idempotency records.
   */
  async applyBatch(commands: Command[]): Promise<Outcome[]> {
    const { outcomes, durable } = await this.commitBatch(commands);
    await durable;
    return outcomes;
  }

  /**
   * Like applyBatch, but resolves as soon as the batch is committed (visible), with a
   * promise for when it is durable: the caller may start the next batch while this
   * one's fsync runs, and must not reply before `durable` resolves.
   */
  async commitBatch(commands: Command[]): Promise<{ outcomes: Outcome[]; durable: Promise<unknown> }> {
    const outcomes: Outcome[] = new Array(commands.length);
    const { env, meta } = this.store;
    let fatal: unknown = null;
    const apply = () => {
      this.refreshPlan();
      this.seq = meta.get("seq") ?? 0;
      this.customerSeq = meta.get("customerSeq") ?? 0;
      this.holdSeq = meta.get("holdSeq") ?? 0;
      const now = this.now();
      for (let i = 0; i < commands.length && fatal === null; i++) {
        const marks = { seq: this.seq, customerSeq: this.customerSeq, holdSeq: this.holdSeq };
        try {
          outcomes[i] = this.applyOne(commands[i]!, now);
        } catch (err) {
          Object.assign(this, marks);
          fatal = err;
        }
      }
      meta.put("seq", this.seq);
      meta.put("customerSeq", this.customerSeq);
      meta.put("holdSeq", this.holdSeq);
    };
    if (this.syncCommit) env.transactionSync(apply);
    else await env.transaction(apply);
    if (fatal) throw fatal;
    return { outcomes, durable: env.flushed };
  }

  /** One command in its own child transaction: an operating error leaves no trace. Rethrows broken invariants. */
  private applyOne(cmd: Command, now: number): Outcome {
    this.notes = [];
    const marks = { seq: this.seq, customerSeq: this.customerSeq, holdSeq: this.holdSeq };
    try {
      const reply = this.store.env.transactionSync(() => this.dispatch(cmd, now));
      return { reply, notifications: this.notes };
    } catch (err) {
      if ((err as { fatal?: boolean }).fatal) throw err;
      // The child transaction rolled back: so do the counters it advanced.
      Object.assign(this, marks);
      return { reply: { ok: false, error: toWireError(err), ...idOf(cmd) }, notifications: [] };
    }
  }

  /** Verbs whose effect is recorded under their request id (`rq:` namespace). */
  private readonly requestEffects: { [V in RequestVerb]: (input: VerbInput<V>, now: number) => Reply } = {
    enroll: (i, now) => this.enroll(i, now),
    card: (i) => this.card(i),
    authorize: (i, now) => this.authorize(i, now),
    capture: (i, now) => this.capture(i, now),
    release: (i, now) => this.release(i, now),
    convert: (i, now) => this.convert(i, now),
    convertEarned: (i, now) => this.convertEarned(i, now),
    adjust: (i, now) => this.adjust(i, now),
    redeemReward: (i, now) => this.redeemReward(i, now),
    buyVoucher: (i, now) => this.buyVoucher(i, now),
    redeemVoucher: (i, now) => this.redeemVoucher(i, now),
  };

  private dispatch(cmd: Command, now: number): Reply {
    if (Object.hasOwn(this.requestEffects, cmd.verb)) {
      const verb = cmd.verb as RequestVerb;
      const input = cmd.input as VerbInput<RequestVerb>;
      const effect = this.requestEffects[verb] as (input: VerbInput<RequestVerb>, now: number) => Reply;
      return this.idempotent(`rq:${input.requestId}`, cmd.hash, () => effect(input, now));
    }
    switch (cmd.verb) {
      case "accrue":
        return this.idempotent(`ev:${(cmd.input as PosEvent).eventId}`, cmd.hash, () => this.accrue(cmd.input as PosEvent));
      case "quote":
        return this.quote(cmd.input as SaleEvent);
      case "balance":
        return this.balance(cmd.input as VerbInput<"balance">);
      case "statement":
        return this.statement(cmd.input as VerbInput<"statement">);
      case "vouchers":
        return this.vouchers(cmd.input as VerbInput<"vouchers">, now);
      case "expireHold":
        return this.expireHold(cmd.input as { holdId: string }, now);
      case "sweepVoucher":
        return this.sweepVoucher(cmd.input as { code: string }, now);
      case "sweepExpiry":
        return this.sweepExpiry(cmd.input as { customerId: string }, now);
      default:
        throw new LoyaltyError("BAD_REQUEST", `unknown verb ${String(cmd.verb)}`);
    }
  }

  /** Same id + same content -> the first reply with duplicate: true; other content -> IDEMPOTENCY_CONFLICT. */
  private idempotent(key: string, hash: string, effect: () => Reply): Reply {
    const seen = this.store.idem.get(key);
    if (seen) {
      if (seen.h !== hash) throw new LoyaltyError("IDEMPOTENCY_CONFLICT", `${key.slice(3)} was already used with other content`);
      return { ...seen.r, duplicate: true };
    }
    const reply = effect();
    // A refusal that still changed state (a hold found expired) is not the request's effect: a retry re-evaluates it.
    if (reply.ok !== false) this.store.idem.put(key, { h: hash, r: reply });
    return reply;
  }

  // ---- programmes ---------------------------------------------------------------

  /** Recompiles the plan when an admin change bumped the programme-set version (atomic per batch). */
  private refreshPlan(): void {
    const version = this.store.meta.get("programmesVersion") ?? 0;
    if (this.plan && version === this.planVersion) return;
    const list: { programme: Programme; version: number }[] = [];
    for (const { value } of this.store.programmes.getRange()) {
      list.push({ programme: parseProgramme(value.programme), version: value.version });
    }
    const card = new Map<string, { pointsPerUnit?: number; pointsPrice?: number }>();
    for (const { key, value } of this.store.products.getRange()) card.set(key, value);
    this.plan = compile(list, { selection: this.options.selection, timeZone: this.options.timeZone }, card);
    this.planVersion = version;
  }

  private currentPlan(): Plan {
    if (!this.plan) this.refreshPlan();
    return this.plan!;
  }

  // ---- customers ----------------------------------------------------------------

  private findCustomer(ref: CustomerRef): Customer | null {
    const { customers, cards, phones } = this.store;
    if ("customerId" in ref) return customers.get(ref.customerId) ?? null;
    if ("card" in ref) {
      const card = cards.get(ref.card);
      if (!card) return null;
      if (card.status === "blocked") throw new LoyaltyError("CARD_BLOCKED", `card ${ref.card} is blocked`, "customer.card");
      return customers.get(card.customerId) ?? null;
    }
    const id = phones.get(ref.phone);
    return id ? (customers.get(id) ?? null) : null;
  }

  private requireCustomer(ref: CustomerRef, field = "customer"): Customer {
    const c = this.findCustomer(ref);
    if (!c) throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer for ${JSON.stringify(ref)}`, field);
    return c;
  }

  private newCustomer(profile: Customer["profile"], origin: string, now: number): Customer {
    this.customerSeq += 1;
    const c: Customer = {
      id: `cu_${this.customerSeq.toString(36).padStart(6, "0")}`,
      profile,
      groups: [],
      attributes: {},
      cards: [],
      createdAt: now,
      origin,
    };
    return c;
  }

  private enroll(input: VerbInput<"enroll">, now: number): Reply {
    const { customers, cards, phones } = this.store;
    if (input.card && cards.get(input.card)) throw new LoyaltyError("VALIDATION", `card ${input.card} already belongs to a customer`, "card");
    const phone = input.profile.phone;
    if (phone && phones.get(phone)) throw new LoyaltyError("VALIDATION", `phone ${phone} already belongs to a customer`, "profile.phone");
    const c = this.newCustomer(input.profile, "enroll", now);
    if (input.group) c.groups = [input.group];
    if (input.attributes) c.attributes = input.attributes;
    if (input.card) {
      c.cards = [input.card];
      cards.put(input.card, { customerId: c.id, status: "active" });
    }
    if (phone) phones.put(phone, c.id);
    customers.put(c.id, c);
    this.notify("enrolled", { customerId: c.id, via: "enroll", card: input.card ?? null, phone: phone ?? null, at: now });
    return { ok: true, customerId: c.id };
  }

  /** Link, unlink, block, unblock or replace a card; the customer keeps every account and entry. */
  private card(input: VerbInput<"card">): Reply {
    const { cards, customers } = this.store;
    if (input.action === "link") {
      const c = this.requireCustomer(input.customer);
      if (cards.get(input.card)) throw new LoyaltyError("VALIDATION", `card ${input.card} already belongs to a customer`, "card");
      cards.put(input.card, { customerId: c.id, status: "active" });
      customers.put(c.id, { ...c, cards: [...c.cards, input.card] });
      return { ok: true, customerId: c.id, card: input.card, status: "active" };
    }
    const card = cards.get(input.card);
    if (!card) throw new LoyaltyError("UNKNOWN_CUSTOMER", `no card ${input.card}`, "card");
    const owner = customers.get(card.customerId);
    if (!owner) throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer for card ${input.card}`, "card");
    switch (input.action) {
      case "unlink":
        cards.remove(input.card);
        customers.put(owner.id, { ...owner, cards: owner.cards.filter((x) => x !== input.card) });
        return { ok: true, customerId: owner.id, card: input.card, status: "unlinked" };
      case "block":
      case "unblock": {
        const status = input.action === "block" ? "blocked" : "active";
        cards.put(input.card, { ...card, status });
        return { ok: true, customerId: owner.id, card: input.card, status };
      }
      case "replace": {
        if (cards.get(input.newCard)) throw new LoyaltyError("VALIDATION", `card ${input.newCard} already belongs to a customer`, "newCard");
        cards.put(input.card, { ...card, status: "blocked" });
        cards.put(input.newCard, { customerId: owner.id, status: "active" });
        customers.put(owner.id, { ...owner, cards: [...owner.cards, input.newCard] });
        return { ok: true, customerId: owner.id, card: input.newCard, replaced: input.card, status: "active" };
      }
    }
  }

  /** A sale's customer: known, or enrolled now when it carries an unknown phone (configurable). */
  private saleCustomer(event: SaleEvent): Customer {
    const found = this.findCustomer(event.customer);
    if (found) return found;
    if ("phone" in event.customer && this.options.enrolOnUnknownPhone) {
      const c = this.newCustomer({ phone: event.customer.phone }, "phone", event.at);
      this.store.phones.put(event.customer.phone, c.id);
      this.store.customers.put(c.id, c);
      this.notify("enrolled", { customerId: c.id, via: "sale", eventId: event.eventId, phone: event.customer.phone, at: event.at });
      return c;
    }
    throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer for ${JSON.stringify(event.customer)}`, "customer");
  }

  // ---- accounts and entries -------------------------------------------------------

  private account(customerId: string, account: string): Account {
    return this.store.accounts.get([customerId, account]) ?? { balance: 0, held: 0 };
  }

  /** Appends an entry and moves the cached balance in the same transaction. */
  private post(e: Omit<Entry, "seq">): Account {
    const acc = this.account(e.customerId, e.account);
    acc.balance += e.amount;
    assertSafe(acc.balance);
    this.seq += 1;
    const entry: Entry = { seq: this.seq, ...e };
    this.store.entries.put(this.seq, entry);
    this.store.byCustomer.put([e.customerId, this.seq], this.seq);
    this.saveAccount(e.customerId, e.account, acc);
    return acc;
  }

  /** Every account write goes through here, so the customer's list of accounts stays complete. */
  private saveAccount(customerId: string, account: string, acc: Account): void {
    this.store.accounts.put([customerId, account], acc);
    const names = this.store.accountNames.get(customerId) ?? [];
    if (!names.includes(account)) this.store.accountNames.put(customerId, [...names, account].sort());
  }

  private accountsOf(customerId: string): { account: string; state: Account }[] {
    const names = this.store.accountNames.get(customerId) ?? [];
    return names.map((account) => ({ account, state: this.account(customerId, account) }));
  }

  // ---- accrual ------------------------------------------------------------------

  private accrue(event: PosEvent): Reply {
    if (event.type === "sale") return this.sale(event);
    return this.reverse(event);
  }

  private basketOf(event: SaleEvent): Basket {
    const lines = event.lines.map((l) => ({
      lineId: l.lineId,
      sku: l.sku,
      qty: l.qty,
      unitPrice: l.unitPrice,
      amount: l.amount ?? Math.round(l.qty * l.unitPrice),
      category: l.category ?? null,
      promo: l.promo,
    }));
    const total = event.total ?? lines.reduce((s, l) => s + l.amount, 0);
    return {
      eventId: event.eventId,
      at: event.at,
      storeId: event.storeId,
      channel: event.channel,
      terminalId: event.terminalId ?? null,
      currency: event.currency,
      lines,
      tenders: event.tenders,
      total,
    };
  }

  private factsOf(c: Customer, at: number, plan: Plan): CustomerFacts {
    const turnoverByWindowDays: Record<number, number> = {};
    if (plan.turnoverWindowsDays.length > 0) {
      const days = this.store.turnover.get(c.id) ?? [];
      const today = Math.floor(at / DAY_MS);
      for (const w of plan.turnoverWindowsDays) {
        let sum = 0;
        for (const [day, amount] of days) if (day > today - w && day <= today) sum += amount;
        turnoverByWindowDays[w] = sum;
      }
    }
    return { customerId: c.id, groups: c.groups, turnoverByWindowDays };
  }

  /** Daily turnover buckets, pruned to the longest window we keep. */
  private addTurnover(customerId: string, at: number, amount: number): void {
    if (amount === 0) return;
    const day = Math.floor(at / DAY_MS);
    const days = (this.store.turnover.get(customerId) ?? []).filter(([d]) => d > day - limits.turnoverDaysKept);
    const bucket = days.find(([d]) => d === day);
    if (bucket) bucket[1] += amount;
    else days.push([day, amount]);
    this.store.turnover.put(customerId, days);
  }

  private sale(event: SaleEvent): Reply {
    const customer = this.saleCustomer(event);
    const plan = this.currentPlan();
    const basket = this.basketOf(event);
    const accrual = evaluate(plan, basket, this.factsOf(customer, event.at, plan));
    const perAccount = new Map<string, number>();
    const lots: ([number, number] | null)[] = [];
    for (const p of accrual.programmes) {
      lots.push(null);
      if (p.earned === 0) continue;
      const after = this.post({
        at: event.at,
        customerId: customer.id,
        account: p.account,
        kind: "accrual",
        amount: p.earned,
        cause: `sale ${event.eventId} at ${event.storeId}`,
        eventId: event.eventId,
        programme: p.programme,
        version: p.version,
      });
      // Points that only pay back a negative balance never expire: the lot holds the rest.
      const lotAmount = Math.min(p.earned, Math.max(0, after.balance));
      if (lotAmount > 0 && p.expiresAt !== null) {
        addLot(this.store, customer.id, p.account, p.expiresAt, this.seq, lotAmount, event.eventId);
        lots[lots.length - 1] = [p.expiresAt, this.seq];
      }
      perAccount.set(p.account, (perAccount.get(p.account) ?? 0) + p.earned);
    }
    this.addTurnover(customer.id, event.at, basket.total);
    const record: SaleRecord = {
      customerId: customer.id,
      at: event.at,
      storeId: event.storeId,
      currency: event.currency,
      lines: Object.fromEntries(basket.lines.map((l) => [l.lineId, { qty: l.qty, amount: l.amount }])),
      programmes: accrual.programmes.map((p) => ({
        programme: p.programme,
        version: p.version,
        account: p.account,
        earned: p.earned,
        lineEarned: p.lineEarned,
        basketEarned: p.basketEarned,
      })),
      lots,
      returnedQty: {},
      taken: accrual.programmes.map(() => ({})),
      voided: false,
    };
    this.store.sales.put(event.eventId, record);
    if (accrual.earned > 0) {
      this.notify("earned", { customerId: customer.id, eventId: event.eventId, earned: accrual.earned, at: event.at });
    }
    return this.accrualReply(event.eventId, "sale", customer.id, accrual.earned, perAccount, accrual.breakdown);
  }

  private accrualReply(
    eventId: string,
    type: string,
    customerId: string,
    earned: number,
    perAccount: Map<string, number>,
    breakdown: unknown[],
  ): Reply {
    const accounts = this.accountsOf(customerId).map(({ account, state }) => ({
      account,
      earned: perAccount.get(account) ?? 0,
      balance: state.balance,
      available: state.balance - state.held,
    }));
    const primary = accounts.find((a) => a.account === PRIMARY_ACCOUNT) ?? accounts[0] ?? { balance: 0, available: 0 };
    return { ok: true, type, eventId, customerId, earned, balance: primary.balance, available: primary.available, accounts, breakdown, duplicate: false };
  }

  /** Returns and voids take back what the returned lines earned, never more than the sale earned. */
  private reverse(event: Extract<PosEvent, { type: "return" | "void" }>): Reply {
    const sale = this.store.sales.get(event.originalEventId);
    if (!sale) throw new LoyaltyError("UNKNOWN_EVENT", `no sale ${event.originalEventId}`, "originalEventId");
    if (sale.voided) throw new LoyaltyError("RETURN_EXCEEDS_SALE", `sale ${event.originalEventId} was voided`, "originalEventId");
    const returning: Record<string, number> = {};
    if (event.type === "return" && event.lines) {
      event.lines.forEach((l, i) => {
        const sold = own(sale.lines, l.lineId);
        if (!sold) throw new LoyaltyError("VALIDATION", `sale ${event.originalEventId} has no line ${l.lineId}`, `lines[${i}].lineId`);
        const left = sold.qty - (own(sale.returnedQty, l.lineId) ?? 0) - (own(returning, l.lineId) ?? 0);
        if (l.qty > left + 1e-9) {
          throw new LoyaltyError("RETURN_EXCEEDS_SALE", `line ${l.lineId}: returning ${l.qty}, ${left} left to return`, `lines[${i}].qty`);
        }
        returning[l.lineId] = (own(returning, l.lineId) ?? 0) + l.qty;
      });
    } else {
      for (const [lineId, sold] of Object.entries(sale.lines)) {
        const left = sold.qty - (own(sale.returnedQty, lineId) ?? 0);
        if (left > 1e-9) returning[lineId] = left;
      }
      if (event.type === "return" && Object.keys(returning).length === 0) {
        throw new LoyaltyError("RETURN_EXCEEDS_SALE", `sale ${event.originalEventId} was already returned in full`, "originalEventId");
      }
    }
    let turnoverBack = 0;
    for (const [lineId, q] of Object.entries(returning)) {
      const sold = own(sale.lines, lineId)!;
      const before = own(sale.returnedQty, lineId) ?? 0;
      sale.returnedQty[lineId] = before + q;
      turnoverBack += share(sold.amount, sale.returnedQty[lineId]!, sold.qty) - share(sold.amount, before, sold.qty);
    }
    const fullyReturned = Object.entries(sale.lines).every(([id, l]) => (own(sale.returnedQty, id) ?? 0) >= l.qty - 1e-9);
    const perAccount = new Map<string, number>();
    let takenTotal = 0;
    sale.programmes.forEach((p, i) => {
      const taken = sale.taken[i]!;
      let amount = 0;
      for (const lineId of Object.keys(returning)) {
        const target = share(own(p.lineEarned, lineId) ?? 0, own(sale.returnedQty, lineId)!, own(sale.lines, lineId)!.qty);
        amount += target - (own(taken, lineId) ?? 0);
        taken[lineId] = target;
      }
      if (fullyReturned || event.type === "void") {
        amount += p.basketEarned - (own(taken, "") ?? 0);
        taken[""] = p.basketEarned;
      }
      if (amount === 0) return;
      const acc = this.account(sale.customerId, p.account);
      const takeBack = this.options.whenSpent === "clamp" ? Math.min(amount, Math.max(0, acc.balance - acc.held)) : amount;
      if (takeBack > 0) {
        this.post({
          at: event.at,
          customerId: sale.customerId,
          account: p.account,
          kind: event.type,
          amount: -takeBack,
          cause: `${event.type} ${event.eventId} of sale ${event.originalEventId}`,
          eventId: event.eventId,
          programme: p.programme,
          version: p.version,
        });
        consumeLots(this.store, sale.customerId, p.account, takeBack, sale.lots?.[i] ?? null);
      }
      perAccount.set(p.account, (perAccount.get(p.account) ?? 0) - takeBack);
      takenTotal += takeBack;
    });
    if (event.type === "void") sale.voided = true;
    this.addTurnover(sale.customerId, event.at, -turnoverBack);
    this.store.sales.put(event.originalEventId, sale);
    const reply = this.accrualReply(event.eventId, event.type, sale.customerId, takenTotal === 0 ? 0 : -takenTotal, perAccount, []);
    return { ...reply, originalEventId: event.originalEventId };
  }

  // ---- reads ----------------------------------------------------------------------

  private quote(event: SaleEvent): Reply {
    const plan = this.currentPlan();
    const customer = this.findCustomer(event.customer);
    const facts: CustomerFacts = customer
      ? this.factsOf(customer, event.at, plan)
      : { customerId: "", groups: [], turnoverByWindowDays: Object.fromEntries(plan.turnoverWindowsDays.map((w) => [w, 0])) };
    if (!customer && !("phone" in event.customer && this.options.enrolOnUnknownPhone)) {
      throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer for ${JSON.stringify(event.customer)}`, "customer");
    }
    const accrual: Accrual = evaluate(plan, this.basketOf(event), facts);
    const acc = customer ? this.account(customer.id, PRIMARY_ACCOUNT) : { balance: 0, held: 0 };
    const available = acc.balance - acc.held;
    const rate = plan.redemptionFor(PRIMARY_ACCOUNT);
    return {
      ok: true,
      customerId: customer?.id ?? null,
      earned: accrual.earned,
      breakdown: accrual.breakdown,
      balance: acc.balance,
      available,
      redeemable: { points: Math.max(0, available), value: rate ? Math.max(0, available) * rate.pointValue : 0, currency: rate?.currency ?? null },
    };
  }

  private balance(input: VerbInput<"balance">): Reply {
    const c = this.requireCustomer(input.customer);
    const accounts = this.accountsOf(c.id).map(({ account, state }) => {
      const balance = input.asOf === undefined ? state.balance : this.balanceAsOf(c.id, account, input.asOf);
      const held = input.asOf === undefined ? state.held : 0;
      const unit = this.currentPlan().unitFor(account) ?? "points";
      return { account, unit, balance, held, available: balance - held, expiring: expiringOf(this.store, c.id, account, input.asOf) };
    });
    return { ok: true, customerId: c.id, groups: c.groups, accounts };
  }

  private balanceAsOf(customerId: string, account: string, asOf: number): number {
    let sum = 0;
    for (const { value: seq } of this.store.byCustomer.getRange({ start: [customerId, 0], end: [customerId, Number.MAX_SAFE_INTEGER] })) {
      const e = this.store.entries.get(seq);
      if (e && e.account === account && e.at <= asOf) sum += e.amount;
    }
    return sum;
  }

  private statement(input: VerbInput<"statement">): Reply {
    const c = this.requireCustomer(input.customer);
    const entries: Reply[] = [];
    for (const { value: seq } of this.store.byCustomer.getRange({ start: [c.id, 0], end: [c.id, Number.MAX_SAFE_INTEGER] })) {
      const e = this.store.entries.get(seq);
      if (!e || (input.from !== undefined && e.at < input.from) || (input.to !== undefined && e.at > input.to)) continue;
      entries.push(entryView(e));
      if (entries.length >= input.limit) break;
    }
    return { ok: true, customerId: c.id, entries };
  }

  // ---- holds ----------------------------------------------------------------------

  private authorize(input: VerbInput<"authorize">, now: number): Reply {
    const c = this.requireCustomer(input.customer);
    let amount = input.amount;
    let value: number | null = null;
    if (amount === undefined) {
      const rate = this.currentPlan().redemptionFor(input.account);
      if (!rate) throw new LoyaltyError("VALIDATION", `account ${input.account} has no conversion rate`, "value");
      if (input.currency && input.currency !== rate.currency) {
        throw new LoyaltyError("VALIDATION", `account ${input.account} redeems in ${rate.currency}`, "currency");
      }
      value = input.value!;
      // Points needed to cover the value, rounded up so the hold never covers less than asked.
      amount = Math.ceil(value / rate.pointValue);
    }
    const acc = this.account(c.id, input.account);
    const available = acc.balance - acc.held;
    if (amount > available) {
      return { ok: true, approved: false, reason: "INSUFFICIENT_BALANCE", customerId: c.id, requested: amount, available };
    }
    const { hold, available: left } = this.placeHold(c.id, input.account, amount, value, input.ttlMs, now, undefined);
    return {
      ok: true,
      approved: true,
      holdId: hold.holdId,
      customerId: c.id,
      account: input.account,
      amount,
      value,
      available: left,
      expiresAt: hold.expiresAt,
    };
  }

  /** Opens a hold of `amount` on the account (the caller checked it is available). */
  private placeHold(
    customerId: string,
    account: string,
    amount: number,
    value: number | null,
    ttlMs: number | undefined,
    now: number,
    item: HeldItem | undefined,
  ): { hold: Hold; available: number } {
    this.holdSeq += 1;
    const hold: Hold = {
      holdId: `h_${this.holdSeq.toString(36).padStart(6, "0")}`,
      customerId,
      account,
      amount,
      value,
      status: "open",
      captured: 0,
      createdAt: now,
      expiresAt: now + (ttlMs ?? this.options.holdTtlMsDefault),
    };
    if (item) hold.item = item;
    const acc = this.account(customerId, account);
    acc.held += amount;
    this.saveAccount(customerId, account, acc);
    this.store.holds.put(hold.holdId, hold);
    this.store.holdsByExpiry.put([hold.expiresAt, hold.holdId], customerId);
    return { hold, available: acc.balance - acc.held };
  }

  /**
   * The hold, if it is still open. A hold past its time is expired here and now (its
   * points come back) and the refusal is returned rather than thrown, so that expiry
   * is committed even though the request fails.
   */
  private openHold(holdId: string, now: number): Hold | Reply {
    const hold = this.store.holds.get(holdId);
    if (!hold) throw new LoyaltyError("UNKNOWN_HOLD", `no hold ${holdId}`, "holdId");
    if (hold.status === "open" && now >= hold.expiresAt) {
      this.closeHold(hold, "expired");
      return failure(new LoyaltyError("HOLD_EXPIRED", `hold ${holdId} expired at ${hold.expiresAt}`, "holdId").toWire());
    }
    if (hold.status === "expired") throw new LoyaltyError("HOLD_EXPIRED", `hold ${holdId} expired at ${hold.expiresAt}`, "holdId");
    if (hold.status !== "open") throw new LoyaltyError("HOLD_CLOSED", `hold ${holdId} is ${hold.status}`, "holdId");
    return hold;
  }

  /** Frees the held amount (and, unless captured, a reward's stock); the caller posts any captured part. */
  private closeHold(hold: Hold, status: Hold["status"]): Account {
    const acc = this.account(hold.customerId, hold.account);
    acc.held -= hold.amount;
    assertInvariant(acc.held >= 0, `held went negative for ${hold.customerId}`);
    if (status !== "captured" && hold.item) this.returnStock(hold.item);
    hold.status = status;
    this.saveAccount(hold.customerId, hold.account, acc);
    this.store.holds.put(hold.holdId, hold);
    this.store.holdsByExpiry.remove([hold.expiresAt, hold.holdId]);
    return acc;
  }

  private capture(input: VerbInput<"capture">, now: number): Reply {
    const hold = this.openHold(input.holdId, now);
    if (!isHold(hold)) return { ...hold, requestId: input.requestId };
    const captured = input.amount ?? hold.amount;
    if (captured > hold.amount) {
      throw new LoyaltyError("CAPTURE_EXCEEDS_HOLD", `capture ${captured} exceeds the held ${hold.amount}`, "amount");
    }
    this.closeHold(hold, "captured");
    hold.captured = captured;
    this.store.holds.put(hold.holdId, hold);
    const acc = this.post({
      at: now,
      customerId: hold.customerId,
      account: hold.account,
      kind: "redemption",
      amount: -captured,
      cause: `${hold.item ? `${itemLabel(hold.item)}: ` : ""}capture ${input.requestId} of hold ${hold.holdId}`,
      holdId: hold.holdId,
    });
    consumeLots(this.store, hold.customerId, hold.account, captured, null);
    const reply: Reply = { ok: true, holdId: hold.holdId, customerId: hold.customerId, captured, released: hold.amount - captured, balance: acc.balance, available: acc.balance - acc.held };
    return hold.item ? { ...reply, ...itemRef(hold.item), qty: hold.item.qty } : reply;
  }

  private release(input: VerbInput<"release">, now: number): Reply {
    const hold = this.openHold(input.holdId, now);
    if (!isHold(hold)) return { ...hold, requestId: input.requestId };
    const acc = this.closeHold(hold, "released");
    return { ok: true, holdId: hold.holdId, customerId: hold.customerId, released: hold.amount, balance: acc.balance, available: acc.balance - acc.held };
  }

  /** The sweeper's command: expire one hold if it is still open and past its time. */
  private expireHold(input: { holdId: string }, now: number): Reply {
    const hold = this.store.holds.get(input.holdId);
    if (!hold || hold.status !== "open" || now < hold.expiresAt) return { ok: true, expired: false };
    this.closeHold(hold, "expired");
    return { ok: true, expired: true, holdId: hold.holdId };
  }

  // ---- expiry lots (tables in lots.ts) ----------------------------------------------

  /**
   * The expiry sweeper's command for one customer: expires lots past their time (never
   * below what open holds need) and sends one "expiring" notice per lot entering the
   * notice window. Idempotent: expired lots are gone, noticed lots are marked.
   */
  private sweepExpiry(input: { customerId: string }, now: number): Reply {
    const { customerId } = input;
    let expired = 0;
    const notices = new Map<string, { amount: number; at: number }>();
    const lots = [...this.store.lots.getRange({ start: [customerId, "", 0, 0], end: [customerId, "\uffff", 0, 0] })];
    for (const { key, value } of lots) {
      const [, account, expiresAt, seq] = key;
      if (expiresAt <= now) {
        const acc = this.account(customerId, account);
        // Open holds keep their points: what they cover stays in the lot and expires
        // at a later sweep, once the hold is captured (spent), released or expired.
        const amount = Math.min(value.r, Math.max(0, acc.balance - acc.held));
        if (amount > 0) {
          this.post({
            at: expiresAt,
            customerId,
            account,
            kind: "expiry",
            amount: -amount,
            cause: `expiry of points earned by ${value.e}`,
            eventId: value.e,
          });
        }
        if (amount === value.r || acc.balance <= 0) dropLot(this.store, customerId, account, expiresAt, seq);
        else this.store.lots.put(key, { ...value, r: value.r - amount });
        expired += amount;
      } else if (!value.n && expiresAt <= now + this.options.expiryNoticeMs) {
        const n = notices.get(account) ?? { amount: 0, at: expiresAt };
        n.amount += value.r;
        n.at = Math.min(n.at, expiresAt);
        notices.set(account, n);
        this.store.lots.put(key, { ...value, n: true });
        this.store.lotsByExpiry.put([expiresAt, customerId, account, seq], NOTICED);
      }
    }
    for (const [account, n] of notices) this.notify("expiring", { customerId, account, amount: n.amount, expiresAt: n.at });
    return { ok: true, customerId, expired };
  }

  // ---- rewards catalogue ---------------------------------------------------------------

  /**
   * A hold like `authorize`, priced from the catalogue at the engine's clock, that also
   * takes the units from the reward's stock in the same transaction. Stock is read in
   * this write transaction, and LMDB serialises write transactions across partitions
   * (threads included), so concurrent redemptions never take more than there is.
   */
  private redeemReward(input: VerbInput<"redeemReward">, now: number): Reply {
    const c = this.requireCustomer(input.customer);
    const item = this.catalogueItem(input, now);
    const amount = item.price * input.qty;
    assertSafe(amount);
    const acc = this.account(c.id, item.account);
    const available = acc.balance - acc.held;
    const base = { customerId: c.id, account: item.account, ...item.ref, qty: input.qty, price: item.price };
    const refusal = (reason: string, extra: Reply = {}): Reply => ({ ok: true, approved: false, reason, ...base, ...extra, available });
    if (!item.active) return refusal("REWARD_INACTIVE");
    if (item.stock !== null && item.stock < input.qty) return refusal("OUT_OF_STOCK", { stock: item.stock });
    if (amount > available) return refusal("INSUFFICIENT_BALANCE", { requested: amount });
    const stockTaken = this.takeStock(input.rewardId, item.stock, input.qty);
    const held: HeldItem = { ...item.ref, qty: input.qty, price: item.price, stockTaken };
    const { hold, available: left } = this.placeHold(c.id, item.account, amount, null, input.ttlMs, now, held);
    return { ok: true, approved: true, holdId: hold.holdId, ...base, amount, available: left, expiresAt: hold.expiresAt };
  }

  /** The reward (or product) asked for, with its price in force now. */
  private catalogueItem(
    input: VerbInput<"redeemReward">,
    now: number,
  ): { ref: { rewardId: string } | { sku: string }; account: string; price: number; stock: number | null; active: boolean } {
    if (input.rewardId !== undefined) {
      const r = this.store.rewards.get(input.rewardId);
      if (!r) throw new LoyaltyError("UNKNOWN_REWARD", `no reward ${input.rewardId}`, "rewardId");
      return { ref: { rewardId: r.id }, account: r.account, price: priceAt(r, now), stock: r.stock, active: r.active };
    }
    const p = this.store.products.get(input.sku!);
    if (!p?.pointsPrice) throw new LoyaltyError("UNKNOWN_REWARD", `product ${input.sku} has no points price`, "sku");
    return { ref: { sku: p.sku }, account: PRIMARY_ACCOUNT, price: p.pointsPrice, stock: null, active: true };
  }

  /** Units taken from a reward's stock (0 when unlimited). */
  private takeStock(rewardId: string | undefined, stock: number | null, qty: number): number {
    if (rewardId === undefined || stock === null) return 0;
    const reward = this.store.rewards.get(rewardId)!;
    assertInvariant(stock - qty >= 0, `stock of ${rewardId} would go below zero`);
    this.store.rewards.put(rewardId, { ...reward, stock: stock - qty });
    return qty;
  }

  /** A released or expired reward hold gives its units back (unless the reward went or became unlimited). */
  private returnStock(item: HeldItem): void {
    if (item.rewardId === undefined || !item.stockTaken) return;
    const reward = this.store.rewards.get(item.rewardId);
    if (!reward || reward.stock === null) return;
    this.store.rewards.put(item.rewardId, { ...reward, stock: reward.stock + item.stockTaken });
  }

  // ---- vouchers -------------------------------------------------------------------------

  /** Spends the offer's points now (oldest lots first) and issues a voucher with a random code. */
  private buyVoucher(input: VerbInput<"buyVoucher">, now: number): Reply {
    const c = this.requireCustomer(input.customer);
    const offer = this.store.voucherOffers.get(input.offerId);
    if (!offer) throw new LoyaltyError("UNKNOWN_OFFER", `no voucher offer ${input.offerId}`, "offerId");
    const acc = this.account(c.id, offer.account);
    const available = acc.balance - acc.held;
    if (offer.pointsCost > available) {
      return { ok: true, approved: false, reason: "INSUFFICIENT_BALANCE", customerId: c.id, offerId: offer.id, requested: offer.pointsCost, available };
    }
    const voucher = this.issueVoucher(c.id, offer, now);
    const after = this.post({
      at: now,
      customerId: c.id,
      account: offer.account,
      kind: "voucher",
      amount: -offer.pointsCost,
      cause: `voucher ${voucher.code} of offer ${offer.id}, bought by ${input.requestId}`,
    });
    consumeLots(this.store, c.id, offer.account, offer.pointsCost, null);
    return {
      ok: true,
      approved: true,
      customerId: c.id,
      offerId: offer.id,
      pointsCost: offer.pointsCost,
      voucher: voucherView(voucher, now),
      balance: after.balance,
      available: after.balance - after.held,
    };
  }

  private issueVoucher(customerId: string, offer: VoucherOffer, now: number): Voucher {
    const voucher: Voucher = {
      ...termsOf(offer),
      code: this.freshVoucherCode(),
      customerId,
      offerId: offer.id,
      name: offer.name,
      account: offer.account,
      pointsCost: offer.pointsCost,
      issuedAt: now,
      expiresAt: now + offer.validDays * DAY_MS,
      status: "active",
      noticed: false,
    };
    const { vouchers, vouchersByCustomer, vouchersByExpiry, voucherNotices } = this.store;
    vouchers.put(voucher.code, voucher);
    vouchersByCustomer.put([customerId, now, voucher.code], voucher.code);
    vouchersByExpiry.put([voucher.expiresAt, voucher.code], customerId);
    voucherNotices.put([voucher.expiresAt, voucher.code], customerId);
    return voucher;
  }

  private freshVoucherCode(): string {
    for (let i = 0; i < limits.voucherCodeAttemptsMax; i++) {
      const code = randomVoucherCode();
      if (!this.store.vouchers.get(code)) return code;
    }
    // 60 random bits colliding this often means the random source is broken.
    assertInvariant(false, `no fresh voucher code in ${limits.voucherCodeAttemptsMax} attempts`);
  }

  /**
   * Marks a voucher used, once. Validity is judged at `at` (the sale's time), so a till
   * that was offline can still redeem a voucher it accepted before it expired.
   */
  private redeemVoucher(input: VerbInput<"redeemVoucher">, now: number): Reply {
    const v = this.store.vouchers.get(input.code);
    if (!v) throw new LoyaltyError("UNKNOWN_VOUCHER", `no voucher ${input.code}`, "code");
    if (v.status === "used") throw new LoyaltyError("VOUCHER_USED", `voucher ${v.code} was used at ${v.usedAt}`, "code");
    const at = input.at ?? now;
    if (at < v.issuedAt) throw new LoyaltyError("VALIDATION", `voucher ${v.code} was issued at ${v.issuedAt}`, "at");
    if (at < now - limits.voucherUseLateMsMax) throw new LoyaltyError("VALIDATION", `at is more than ${limits.voucherUseLateMsMax} ms in the past`, "at");
    if (at >= v.expiresAt) {
      const expired = new LoyaltyError("VOUCHER_EXPIRED", `voucher ${v.code} expired at ${v.expiresAt}`, "code");
      if (v.status !== "active" || now < v.expiresAt) throw expired;
      // Past its time and not yet swept: expire it now, and commit that although the request fails.
      this.closeVoucher(v, "expired");
      return { ...failure(expired.toWire()), requestId: input.requestId };
    }
    v.usedAt = at;
    if (input.eventId !== undefined) v.usedEventId = input.eventId;
    this.closeVoucher(v, "used");
    return { ok: true, customerId: v.customerId, ...voucherView(v, now) };
  }

  /** A voucher leaves the sweeper's indexes once used or expired. */
  private closeVoucher(v: Voucher, status: "used" | "expired"): void {
    v.status = status;
    this.store.vouchers.put(v.code, v);
    this.store.vouchersByExpiry.remove([v.expiresAt, v.code]);
    this.store.voucherNotices.remove([v.expiresAt, v.code]);
  }

  /** A customer's vouchers, newest first. */
  private vouchers(input: VerbInput<"vouchers">, now: number): Reply {
    const c = this.requireCustomer(input.customer);
    const list: Reply[] = [];
    const range = this.store.vouchersByCustomer.getRange({ start: [c.id, Number.MAX_SAFE_INTEGER, ""], end: [c.id, 0, ""], reverse: true });
    for (const { value: code } of range) {
      const v = this.store.vouchers.get(code);
      if (!v) continue;
      const view = voucherView(v, now);
      if (input.status !== undefined && view.status !== input.status) continue;
      list.push(view);
      if (list.length >= input.limit) break;
    }
    return { ok: true, customerId: c.id, vouchers: list };
  }

  /**
   * The voucher sweeper's command for one voucher: expires it past its time, or sends its
   * one "voucher.expiring" notice when it is within the notice window. Idempotent.
   */
  private sweepVoucher(input: { code: string }, now: number): Reply {
    const v = this.store.vouchers.get(input.code);
    if (!v || v.status !== "active") return { ok: true, expired: false, noticed: false };
    if (now >= v.expiresAt) {
      this.closeVoucher(v, "expired");
      return { ok: true, expired: true, noticed: false };
    }
    if (v.noticed || v.expiresAt > now + this.options.expiryNoticeMs) return { ok: true, expired: false, noticed: false };
    v.noticed = true;
    this.store.vouchers.put(v.code, v);
    this.store.voucherNotices.remove([v.expiresAt, v.code]);
    this.notify("voucher.expiring", { customerId: v.customerId, code: v.code, expiresAt: v.expiresAt, daysLeft: daysLeft(v.expiresAt, now) });
    return { ok: true, expired: false, noticed: true };
  }

  // ---- conversions and adjustments ------------------------------------------------------

  /** Points -> stored value at the points account's rate (value = points x pointValue, exact). */
  private convert(input: VerbInput<"convert">, now: number): Reply {
    const c = this.requireCustomer(input.customer);
    const rate = this.currentPlan().redemptionFor(input.from);
    if (!rate) throw new LoyaltyError("VALIDATION", `account ${input.from} has no conversion rate`, "from");
    const from = this.account(c.id, input.from);
    if (input.amount > from.balance - from.held) {
      return { ok: true, approved: false, reason: "INSUFFICIENT_BALANCE", customerId: c.id, requested: input.amount, available: from.balance - from.held };
    }
    const value = input.amount * rate.pointValue;
    assertSafe(value);
    const cause = `conversion ${input.requestId}: ${input.amount} ${input.from} -> ${value} ${rate.currency} ${input.to}`;
    const after = this.post({ at: now, customerId: c.id, account: input.from, kind: "conversion", amount: -input.amount, cause });
    consumeLots(this.store, c.id, input.from, input.amount, null);
    const credited = this.post({ at: now, customerId: c.id, account: input.to, kind: "conversion", amount: value, cause });
    return {
      ok: true,
      approved: true,
      customerId: c.id,
      from: { account: input.from, amount: -input.amount, balance: after.balance, available: after.balance - after.held },
      to: { account: input.to, amount: value, currency: rate.currency, balance: credited.balance, available: credited.balance - credited.held },
    };
  }

  /**
   * The bulk conversion's step for one customer: the points earned in the window, net
   * of returns and voids of that window, capped at what is available, become prepaid value.
   */
  private convertEarned(input: VerbInput<"convertEarned">, now: number): Reply {
    const c = this.requireCustomer(input.customer);
    let earned = 0;
    for (const { value: seq } of this.store.byCustomer.getRange({ start: [c.id, 0], end: [c.id, Number.MAX_SAFE_INTEGER] })) {
      const e = this.store.entries.get(seq);
      if (!e || e.account !== input.from || e.at < input.earnedFrom || e.at >= input.earnedTo) continue;
      if (e.kind === "accrual" || e.kind === "return" || e.kind === "void") earned += e.amount;
    }
    const from = this.account(c.id, input.from);
    const amount = Math.min(earned, from.balance - from.held);
    if (amount <= 0) return { ok: true, approved: false, reason: "NOTHING_TO_CONVERT", customerId: c.id, earned: Math.max(0, earned), available: from.balance - from.held };
    const reply = this.convert({ requestId: input.requestId, customer: { customerId: c.id }, from: input.from, to: input.to, amount }, now);
    return { ...reply, earned };
  }

  private adjust(input: VerbInput<"adjust">, now: number): Reply {
    const c = this.requireCustomer(input.customer);
    const acc = this.post({
      at: now,
      customerId: c.id,
      account: input.account,
      kind: "adjustment",
      amount: input.amount,
      cause: `adjustment ${input.requestId} by ${input.operator}: ${input.reason}`,
    });
    if (input.amount < 0) consumeLots(this.store, c.id, input.account, -input.amount, null);
    return { ok: true, customerId: c.id, account: input.account, amount: input.amount, balance: acc.balance, available: acc.balance - acc.held };
  }

  private notify(kind: string, payload: Record<string, unknown>): void {
    this.notes.push({ kind, payload });
  }
}

/** Cumulative proportional share, floored: the sum over partial returns never exceeds the whole. */
export function share(whole: number, part: number, of: number): number {
  if (part >= of - 1e-9) return whole;
  return Math.floor((whole * part) / of + 1e-9);
}

function itemRef(item: HeldItem): { rewardId: string } | { sku: string } {
  return item.rewardId !== undefined ? { rewardId: item.rewardId } : { sku: item.sku! };
}

function itemLabel(item: HeldItem): string {
  return `${item.rewardId !== undefined ? `reward ${item.rewardId}` : `product ${item.sku}`} x${item.qty} at ${item.price}`;
}

function isHold(h: Hold | Reply): h is Hold {
  return typeof (h as Hold).holdId === "string" && (h as Hold).status !== undefined;
}

/** Own properties only: keys come from clients, and "constructor" must not find Object's. */
function own<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function entryView(e: Entry): Reply {
  const v: Reply = { seq: e.seq, at: e.at, kind: e.kind, amount: e.amount, account: e.account, cause: e.cause };
  if (e.eventId) v.eventId = e.eventId;
  if (e.holdId) v.holdId = e.holdId;
  if (e.programme) v.programme = e.programme;
  if (e.version !== undefined) v.version = e.version;
  return v;
}

function idOf(cmd: Command): Reply {
  const input = cmd.input as { eventId?: string; requestId?: string };
  if (input?.eventId) return { eventId: input.eventId };
  if (input?.requestId) return { requestId: input.requestId };
  return {};
}

function assertSafe(n: number): void {
  assertInvariant(Number.isSafeInteger(n), `amount ${n} is not a safe integer`);
}

/** A broken invariant is not an operating error: crash, let the supervisor restart from durable state. */
function assertInvariant(cond: boolean, what: string): asserts cond {
  if (!cond) {
    const err = new Error(`invariant broken: ${what}`);
    (err as Error & { fatal: boolean }).fatal = true;
    throw err;
  }
}
